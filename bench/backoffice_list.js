// bench/backoffice_list.js - how long the back office's payments list takes with many payments:
// starts the release binary on a fresh SQLite file (or PostgreSQL with KASSA_E2E_PG_URL), creates
// N payments through the Stripe API (32 at a time), signs a staff user in over HTTP (password and
// a TOTP code computed here), then times the list's first page, a page deep in the keyset, a
// search by id, the filters on search terms (customer e-mail, metadata key:value: one index,
// payment_terms) and currency + amount range, each answered 20 times; prints the median and the
// slowest in ms. Every payment carries metadata order_id=O-<n>.
//   node bench/backoffice_list.js [N=10000]      (KASSA_BIN defaults to build/kassa here)
'use strict';

process.env.KASSA_BIN = process.env.KASSA_BIN || 'build/kassa';
const crypto = require('node:crypto');
const { startKassa, runCli } = require('../tests/e2e/harness');

const N = Number(process.argv[2] || 10000);

function totp(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let acc = 0;
  const key = [];
  for (const ch of secret) {
    acc = (acc << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) { key.push((acc >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', Buffer.from(key)).update(msg).digest();
  const off = mac[19] & 0x0f;
  return String((((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3]) % 1000000).padStart(6, '0');
}

async function signIn(url, u) {
  const form = (o) => ({ method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: url }, body: new URLSearchParams(o) });
  const t0 = performance.now();
  const r1 = await fetch(`${url}/dashboard/signin`, form({ email: u.email, password: u.password }));
  const pwMs = performance.now() - t0;
  const pending = /kassa_pending=([0-9a-f]{64})/.exec(r1.headers.get('set-cookie'))[1];
  const r2 = await fetch(`${url}/dashboard/signin/code`, { ...form({ code: totp(u.totp_secret, Math.floor(Date.now() / 30000)) }), headers: { ...form({}).headers, Cookie: `kassa_pending=${pending}` } });
  const token = /kassa_staff=([0-9a-f]{64})/.exec(r2.headers.get('set-cookie'))[1];
  return { cookie: `kassa_staff=${token}`, pwMs };
}

async function time(url, cookie, path, runs = 20) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await fetch(url + path, { headers: { Cookie: cookie } });
    await r.text();
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(runs / 2)].toFixed(1), max: ms[runs - 1].toFixed(1) };
}

(async () => {
  const k = await startKassa({ name: 'bench-backoffice' });
  try {
    const t0 = Date.now();
    let made = 0;
    const ids = [];
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (made < N) {
        made++;
        const pi = await k.stripe.paymentIntents.create({ amount: 100 + (made % 5000), currency: made % 3 ? 'eur' : 'sek', payment_method_types: ['klarna'], metadata: { order_id: `O-${made}` } });
        ids.push(pi.id);
      }
    }));
    console.log(`created ${ids.length} payments in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const r = await runCli(['user', 'create', '--email', 'bench@shop.test', '--role', 'admin', '--db', k.dbUrl], { bin: process.env.KASSA_BIN });
    const u = JSON.parse(r.stdout);
    const { cookie, pwMs } = await signIn(k.url, u);
    console.log(`sign-in password step (argon2id verify): ${pwMs.toFixed(0)} ms`);
    const list = await (await fetch(`${k.url}/dashboard/payments`, { headers: { Cookie: cookie } })).text();
    const seqs = [...list.matchAll(/data-seq="(\d+)"/g)].map((m) => Number(m[1]));
    const deep = Math.max(1, Math.floor(seqs[seqs.length - 1] / 10));
    const rows = [
      ['first page (50 rows + totals)', '/dashboard/payments'],
      [`page deep in the keyset (before=${deep})`, `/dashboard/payments?before=${deep}`],
      ['search by id', `/dashboard/payments?q=${ids[Math.floor(ids.length / 2)]}`],
      ['filter: customer e-mail (search terms index)', '/dashboard/payments?email=nobody%40example.com'],
      ['filter: metadata key:value (search terms index)', `/dashboard/payments?meta=order_id%3AO-${Math.floor(N / 2)}`],
      ['filter: currency + amount range', '/dashboard/payments?currency=SEK&amount_min=10.00&amount_max=20.00'],
    ];
    for (const [what, path] of rows) {
      const t = await time(k.url, cookie, path);
      console.log(`${what}: median ${t.median} ms, max ${t.max} ms`);
    }
  } finally {
    await k.stop();
  }
})().catch((e) => { console.error(e); process.exit(1); });
