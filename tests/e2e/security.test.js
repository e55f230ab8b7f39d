// Security limits against the real binary (issue 16, points 5, 6, 8): the SSRF guard (every
// odd URL form refused when stored, a name that resolves to loopback refused at connect and
// nothing read back), deleted webhook endpoints not counting toward the 16, per-merchant
// rate limits (429 + Retry-After in the Stripe and ECommPay shapes), the failed-authentication
// limit per address, and slow clients (1,100 connections trickling their heads from one
// address while 3 legitimate calls from another are answered). Each prints its figure.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const dns = require('node:dns/promises');
const os = require('node:os');
const { startKassa, startReceiver, sleep, waitUntil } = require('./harness');
const { signer } = require('ecommpay');

const ODD_URLS = [
  'http://127.0.0.1/', 'http://2130706433/', 'http://0x7f000001/', 'http://127.1/',
  'http://0177.0.0.1/', 'http://017700000001/', 'http://0/', 'http://0.0.0.0/', 'http://[::1]/',
  'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[fe80::1%25lo]/', 'http://[fc00::1]/',
  'http://[fd00::1]/', 'http://10.1.2.3/', 'http://172.16.0.1/', 'http://192.168.1.1/',
  'http://100.64.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://localhost/',
  'http://localhost./', 'http://a.localhost/', 'http://user@127.0.0.1/', 'http://u:p@example.com/',
  'http://example.com@127.0.0.1/', 'http://', 'http:///x', 'ftp://example.com/', 'javascript:alert(1)',
  'file:///etc/passwd',
];

describe('SSRF guard (no development switch)', () => {
  let k;
  before(async () => {
    k = await startKassa({ name: 'security-ssrf', env: { KASSA_DEV_ALLOW_LOOPBACK: '0' } });
  });
  after(async () => { if (k) await k.stop(); });

  it('webhook endpoint URLs: every odd form refused at creation, naming the parameter', async () => {
    let refused = 0;
    for (const url of ODD_URLS) {
      const r = await k.http('POST', '/v1/webhook_endpoints', {
        body: `url=${encodeURIComponent(url)}&enabled_events[0]=*`,
      });
      assert.equal(r.status, 400, `${url}: ${r.text}`);
      assert.equal(r.json.error.param, 'url', r.text);
      refused++;
    }
    const list = await k.stripe.webhookEndpoints.list({ limit: 100 });
    assert.equal(list.data.length, 0, 'nothing stored');
    console.log(`# ssrf: ${refused} of ${ODD_URLS.length} webhook URL forms refused at creation`);
  });

  it('ECommPay callback_url setting, merchant_callback_url and Data API delivery_url refused', async () => {
    const project = k.merchant.ecp_project_id;
    const secret = k.merchant.ecp_secret;
    let refused = 0;
    for (const url of ['http://2130706433/', 'http://[::ffff:127.0.0.1]/', 'http://169.254.169.254/']) {
      const s = await k.http('POST', '/v1/kassa/ecommpay/settings', { body: `callback_url=${encodeURIComponent(url)}` });
      assert.equal(s.status, 400, s.text);
      assert.equal(s.json.error.param, 'callback_url');
      const sale = {
        general: { project_id: project, payment_id: `SSRF-${refused}`, merchant_callback_url: url },
        customer: { id: 'c1', email: 'customer@email.de', country: 'DE', first_name: 'T', last_name: 'P' },
        payment: { amount: 1000, currency: 'EUR' },
      };
      sale.general.signature = signer(JSON.parse(JSON.stringify(sale)), secret);
      const g = await fetch(`${k.url}/v2/payment/online-banking/sofort/sale`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sale),
      });
      const gj = await g.json();
      assert.equal(g.status, 400, JSON.stringify(gj));
      assert.match(gj.message, /merchant_callback_url/);
      const body = { project_id: project, interval: { from: '2000-01-01 00:00:00', to: '2100-01-01 00:00:00' }, delivery_url: url };
      body.signature = signer(body, secret);
      const d = await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(body) });
      const dj = await d.json();
      assert.equal(d.status, 400, JSON.stringify(dj));
      assert.match(dj.message, /delivery_url/);
      assert.equal(dj.delivery_status, undefined, 'no port-scanner answer');
      refused += 3;
    }
    console.log(`# ssrf: ${refused} ECommPay URLs refused at creation`);
  });

  it('a host name that resolves to a non-public address is refused at connect; nothing read back', async () => {
    const name = os.hostname();
    const addrs = await dns.lookup(name, { all: true });
    const isPrivate = (a) => /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$|fe80:|fc|fd)/.test(a.address);
    assert.ok(addrs.length > 0 && addrs.every(isPrivate), `host name ${name} must resolve to a non-public address here: ${JSON.stringify(addrs)}`);
    const rx = await startReceiver();
    const port = new URL(rx.url).port;
    const we = await k.stripe.webhookEndpoints.create({ url: `http://${name}:${port}/hook`, enabled_events: ['*'] });
    const pi = await k.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna'] });
    await k.stripe.paymentIntents.cancel(pi.id);
    const evs = await k.stripe.events.list({ limit: 10 });
    const ev = evs.data.find((e) => e.data.object.id === pi.id);
    assert.ok(ev, 'an event was emitted');
    let d;
    await waitUntil(async () => {
      const res = await k.stripe.rawRequest('GET', `/v1/events/${ev.id}/deliveries`);
      d = (Array.isArray(res) ? res : res.data).find((x) => x.endpoint === we.id);
      return d && d.attempts >= 1;
    }, { timeoutMs: 15000, what: 'a refused delivery attempt' });
    await sleep(500);
    assert.equal(rx.requests.length, 0, 'the receiver on loopback was never reached');
    const log = JSON.stringify(d);
    assert.ok(!log.includes('test receiver'), `no answer read back: ${log}`);
    assert.match(log, /not a public address/, log);
    await rx.close();
    await k.stripe.webhookEndpoints.del(we.id);
    console.log(`# ssrf: ${name} (${addrs.map((a) => a.address).join(', ')}) refused at connect, 0 requests reached the receiver`);
  });

  it('unknown event types and url=http:// refused; deleted endpoints do not count toward 16', async () => {
    const bad = await k.http('POST', '/v1/webhook_endpoints', { body: 'url=https://example.com/h&enabled_events[0]=payment_intent.nope' });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.param, 'enabled_events');
    const empty = await k.http('POST', '/v1/webhook_endpoints', { body: 'url=http://&enabled_events[0]=*' });
    assert.equal(empty.status, 400, empty.text);
    for (let round = 0; round < 2; round++) {
      const ids = [];
      for (let i = 0; i < 16; i++) {
        ids.push((await k.stripe.webhookEndpoints.create({ url: `https://example.com/h${round}-${i}`, enabled_events: ['*'] })).id);
      }
      const over = await k.http('POST', '/v1/webhook_endpoints', { body: 'url=https://example.com/over&enabled_events[0]=*' });
      assert.equal(over.status, 400, 'the 17th live endpoint is refused');
      for (const id of ids) await k.stripe.webhookEndpoints.del(id);
    }
    const again = await k.stripe.webhookEndpoints.create({ url: 'https://example.com/again', enabled_events: ['*'] });
    assert.match(again.id, /^we_/);
  });
});

describe('rate limits', () => {
  let k;
  before(async () => {
    k = await startKassa({
      name: 'security-rate',
      env: { KASSA_RATE_LIMIT_PER_S: '1', KASSA_RATE_LIMIT_BURST: '10', KASSA_AUTH_FAIL_BURST: '5', KASSA_AUTH_FAIL_PER_MIN: '6' },
    });
  });
  after(async () => { if (k) await k.stop(); });

  it('one merchant past its rate gets 429 rate_limit with Retry-After; another merchant does not', async () => {
    const codes = {};
    let retryAfter = null;
    let errBody = null;
    await Promise.all(Array.from({ length: 30 }, async () => {
      const r = await k.http('GET', '/v1/payment_intents?limit=1');
      codes[r.status] = (codes[r.status] || 0) + 1;
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        errBody = r.json;
      }
    }));
    assert.ok(codes[429] >= 15, `most of 30 requests over a burst of 10 are refused: ${JSON.stringify(codes)}`);
    assert.ok(codes[200] >= 10, JSON.stringify(codes));
    assert.deepEqual(Object.keys(codes).sort(), ['200', '429']);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    assert.equal(errBody.error.code, 'rate_limit');
    assert.equal(errBody.error.type, 'invalid_request_error');
    // the official client maps it to StripeRateLimitError (a token may have come back meanwhile)
    let e = null;
    for (let i = 0; i < 5 && !e; i++) e = await k.stripe.paymentIntents.list({ limit: 1 }).then(() => null, (x) => x);
    assert.ok(e && e.type === 'StripeRateLimitError', `stripe-node error: ${e && e.type}`);
    const other = await k.createMerchant('other shop');
    const o = await k.http('GET', '/v1/payment_intents?limit=1', { auth: other.secret_key });
    assert.equal(o.status, 200, 'another merchant has its own bucket');
    await sleep(2200); // 1/s refills
    assert.equal((await k.http('GET', '/v1/payment_intents?limit=1')).status, 200, 'allowed again after the wait');
    console.log(`# rate limit: of 30 concurrent requests (rate 1/s, burst 10): ${codes[200]} answered, ${codes[429]} got 429 (Retry-After ${retryAfter})`);
  });

  it('ECommPay Gate requests count toward the merchant and get ECommPay\'s error shape', async () => {
    await sleep(2200);
    const project = k.merchant.ecp_project_id;
    const secret = k.merchant.ecp_secret;
    const statuses = {};
    let shape = null;
    await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const body = { general: { project_id: project, payment_id: `RL-${i}` } };
      body.general.signature = signer(JSON.parse(JSON.stringify(body)), secret);
      const r = await fetch(`${k.url}/v2/payment/status`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const j = await r.json();
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 429) shape = { j, retry: r.headers.get('retry-after') };
    }));
    assert.ok(statuses[429] >= 15, JSON.stringify(statuses));
    assert.equal(shape.j.status, 'error');
    assert.equal(typeof shape.j.code, 'string');
    assert.equal(shape.j.project_id, project);
    assert.ok(Number(shape.retry) >= 1);
    console.log(`# rate limit (ECommPay): ${JSON.stringify(statuses)}`);
  });

  it('failed authentications: after the burst an address gets 429, even with a right key', async () => {
    const seen = [];
    for (let i = 0; i < 12; i++) {
      const r = await k.http('GET', '/v1/payment_intents', { auth: `sk_test_wrong${i}` });
      seen.push(r.status);
    }
    assert.deepEqual(seen.slice(0, 5), [401, 401, 401, 401, 401]);
    // one more try comes back every 10 s: on a slow machine one of the last 7 may be a 401
    assert.ok(seen.slice(5).filter((s) => s === 429).length >= 6, JSON.stringify(seen));
    assert.ok(seen.every((s) => s === 401 || s === 429), JSON.stringify(seen));
    assert.equal(seen[seen.length - 1], 429, JSON.stringify(seen));
    const right = await k.http('GET', '/v1/payment_intents', {});
    assert.equal(right.status, 429, 'a locked-out address does not learn that a key is right');
    assert.ok(Number(right.headers.get('retry-after')) >= 1);
    await sleep(10500); // 6 a minute: one more try after 10 s
    assert.equal((await k.http('GET', '/v1/payment_intents?limit=1', {})).status, 200);
    console.log(`# auth failures: ${seen.filter((s) => s === 401).length} x 401, then ${seen.filter((s) => s === 429).length} x 429 of 12 wrong keys`);
  });
});

describe('forged ECommPay signatures', () => {
  let k;
  before(async () => {
    k = await startKassa({ name: 'security-forgery', env: { KASSA_AUTH_FAIL_BURST: '3', KASSA_AUTH_FAIL_PER_MIN: '6' } });
  });
  after(async () => { if (k) await k.stop(); });

  it('forged ECommPay signatures: none accepted, and they count toward the address\'s failures', async () => {
    const project = k.merchant.ecp_project_id;
    const secret = k.merchant.ecp_secret;
    const tried = [];
    for (let i = 0; i < 8; i++) {
      const body = { general: { project_id: project, payment_id: `FORGE-${i}` }, payment: { amount: 100, currency: 'EUR' } };
      const good = signer(JSON.parse(JSON.stringify(body)), secret);
      // tampered: a valid signature of other content, a wrong key, a truncated one
      body.general.signature = [good.slice(0, -4) + 'AAA=', signer(JSON.parse(JSON.stringify(body)), 'guess'), good.slice(1)][i % 3];
      body.payment.amount = 100 + i; // what the signature was made for no longer holds
      const r = await fetch(`${k.url}/v2/payment/online-banking/sofort/sale`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      tried.push(r.status);
    }
    assert.ok(tried.every((st) => st === 400 || st === 429), JSON.stringify(tried));
    assert.ok(tried.includes(429), `forgeries lock the address out: ${JSON.stringify(tried)}`);
    console.log(`# forgeries: ${tried.length} tried, 0 accepted (${tried.filter((x) => x === 400).length} x 400 3261, ${tried.filter((x) => x === 429).length} x 429)`);
  });

});

describe('slow clients', () => {
  let k;
  before(async () => {
    k = await startKassa({ name: 'security-slow', env: { KASSA_HEAD_DEADLINE_S: '3', KASSA_CONNECTIONS_PER_IP: '64' } });
  });
  after(async () => { if (k) await k.stop(); });

  it('a head trickled one byte a second is cut at the deadline (the idle timeout never fires)', async () => {
    const { hostname, port } = new URL(k.url);
    const s = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.3' });
    await new Promise((resolve, reject) => { s.on('connect', resolve); s.on('error', reject); });
    const t0 = Date.now();
    s.write('GET /healthz HTTP/1.1\r\n');
    const trickle = setInterval(() => { if (!s.destroyed) s.write('X'); }, 500);
    const closedAt = await new Promise((resolve) => s.on('close', () => resolve(Date.now())));
    clearInterval(trickle);
    const ms = closedAt - t0;
    assert.ok(ms >= 2500 && ms < 6000, `closed after ${ms} ms with a 3 s head deadline`);
    console.log(`# slow clients: a trickled head was cut after ${ms} ms (deadline 3 s)`);
  });

  it('1,100 connections trickling header bytes from one address; 3 legitimate calls answered', async () => {
    const { hostname, port } = new URL(k.url);
    const socks = [];
    let closedByServer = 0;
    let opened = 0;
    await Promise.all(Array.from({ length: 1100 }, () => new Promise((resolve) => {
      const s = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.2' });
      s.on('connect', () => { opened++; s.write('GET /v1/payment_intents HTTP/1.1\r\nHost: x\r\n'); resolve(); });
      s.on('error', () => resolve());
      s.on('close', () => { closedByServer++; resolve(); });
      socks.push(s);
    })));
    const trickle = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write('X'); }, 1000);
    try {
      await sleep(500);
      const t0 = Date.now();
      const answers = await Promise.all([1, 2, 3].map(() => k.http('GET', '/v1/payment_intents?limit=1')));
      const ms = Date.now() - t0;
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
      // the head deadline closes the trickling connections that got in
      await waitUntil(() => socks.every((s) => s.destroyed || s.closed), { timeoutMs: 15000, what: 'every trickling connection closed' });
      console.log(`# slow clients: 1100 trickling connections (${opened} connected), 3 of 3 legitimate calls answered in ${ms} ms; all 1100 closed by the server (${closedByServer} close events)`);
    } finally {
      clearInterval(trickle);
      for (const s of socks) s.destroy();
    }
  });
});

/** One raw HTTP/1.1 exchange (for requests no client library sends); returns the status line's code. */
function rawRequest(url, text) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: hostname, port: Number(port) });
    let got = '';
    s.on('connect', () => s.write(text));
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', reject);
    s.on('close', () => resolve({ status: Number((/^HTTP\/1\.[01] (\d{3})/.exec(got) || [])[1] || 0), text: got }));
    setTimeout(() => s.end(), 3000);
  });
}

describe('what the probe found (point 8f)', () => {
  let k;
  before(async () => { k = await startKassa({ name: 'security-8f' }); });
  after(async () => { if (k) await k.stop(); });

  it('conflicting Content-Length (or with Transfer-Encoding), a foreign Content-Type and a duplicated amount are refused', async () => {
    const host = new URL(k.url).host;
    const body = 'amount=100&currency=eur&payment_method_types[]=klarna';
    const two = await rawRequest(k.url, `POST /v1/payment_intents HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${k.secretKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n${body}`);
    assert.equal(two.status, 400, two.text);
    const te = await rawRequest(k.url, `POST /v1/payment_intents HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${k.secretKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`);
    assert.equal(te.status, 400, te.text);
    const txt = await k.http('POST', '/v1/payment_intents', { body, headers: { 'Content-Type': 'text/plain' } });
    assert.equal(txt.status, 415, txt.text);
    assert.match(txt.json.error.message, /Content-Type/);
    const dup = await k.http('POST', '/v1/payment_intents', { body: `${body}&amount=99999` });
    assert.equal(dup.status, 400, dup.text);
    assert.equal(dup.json.error.param, 'amount');
    const list = await k.stripe.paymentIntents.list({ limit: 10 });
    assert.equal(list.data.length, 0, 'none of them created anything');
  });

  it('javascript: success_url/cancel_url refused; pages carry Cross-Origin-Opener-Policy', async () => {
    for (const param of ['success_url', 'cancel_url']) {
      const other = param === 'success_url' ? 'cancel_url' : 'success_url';
      const r = await k.http('POST', '/v1/checkout/sessions', {
        body: `mode=payment&${param}=javascript:alert(1)&${other}=https://shop.example/x&line_items[0][price_data][currency]=eur&line_items[0][price_data][product_data][name]=T&line_items[0][price_data][unit_amount]=1000&line_items[0][quantity]=1`,
      });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.param, param);
    }
    const cs = await k.stripe.checkout.sessions.create({
      mode: 'payment', success_url: 'https://shop.example/ok', cancel_url: 'https://shop.example/no',
      line_items: [{ price_data: { currency: 'eur', product_data: { name: 'T' }, unit_amount: 1000 }, quantity: 1 }],
    });
    const page = await fetch(cs.url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('strict-transport-security'), null, 'no HSTS on a plain http public URL');
  });

  it('POST /c/pay/:id refuses cross-site submissions', async () => {
    const cs = await k.stripe.checkout.sessions.create({
      mode: 'payment', success_url: 'https://shop.example/ok', cancel_url: 'https://shop.example/no',
      line_items: [{ price_data: { currency: 'eur', product_data: { name: 'T' }, unit_amount: 1000 }, quantity: 1 }],
    });
    const path = new URL(cs.url).pathname;
    const post = (headers) => fetch(k.url + path, {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: 'method=klarna_pay_now',
    });
    assert.equal((await post({ Origin: 'https://evil.example' })).status, 403);
    assert.equal((await post({ 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.equal((await post({ Origin: 'null', 'Sec-Fetch-Site': 'same-site' })).status, 403, 'another port (the simulator) is another origin');
    const same = await post({ Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }); // what Chromium sends under no-referrer
    assert.notEqual(same.status, 403, 'the page\'s own form is accepted');
    assert.notEqual((await post({ Origin: new URL(k.url).origin })).status, 403);
  });

  it('HSTS behind an https public URL', async () => {
    const { spawn } = require('node:child_process');
    const fs = require('node:fs');
    const path = require('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-hsts-'));
    const proc = spawn(k.bin, ['serve', '--listen', '127.0.0.1:0', '--sim-listen', 'off', '--db', path.join(dir, 'h.db'), '--public-url', 'https://pay.example'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    try {
      await waitUntil(() => /listening on 127\.0\.0\.1 port (\d+)/.test(err), { timeoutMs: 15000, what: 'listening line' });
      const port = /listening on 127\.0\.0\.1 port (\d+)/.exec(err)[1];
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(r.headers.get('strict-transport-security'), 'max-age=31536000');
    } finally {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.on('exit', resolve));
    }
  });
});

describe('secrets at rest (point 7)', () => {
  let k;
  const { execFileSync } = require('node:child_process');
  const crypto = require('node:crypto');
  const fs = require('node:fs');
  const path = require('node:path');
  const sql = (dbPath, q) => execFileSync('sqlite3', [dbPath, q], { encoding: 'utf8' }).trim();
  before(async () => { k = await startKassa({ name: 'security-secrets' }); });
  after(async () => { if (k) await k.stop(); });

  it('database and key file are 0600; keys are stored as a keyed hash, not SHA-256', async () => {
    assert.equal(fs.statSync(k.dbPath).mode & 0o777, 0o600);
    const keyFile = path.join(path.dirname(k.dbPath), 'kassa.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const stored = sql(k.dbPath, `SELECT secret_key_hash FROM merchants WHERE id='${k.merchant.id}'`);
    const plain = crypto.createHash('sha256').update(k.secretKey).digest('hex');
    assert.match(stored, /^[0-9a-f]{64}$/);
    assert.notEqual(stored, plain, 'not unsalted SHA-256');
    assert.equal(sql(k.dbPath, `SELECT key_hash FROM api_keys WHERE merchant_id='${k.merchant.id}'`), stored);
    // the ECommPay project secret and webhook signing secrets are sealed
    const ecp = sql(k.dbPath, `SELECT ecp_secret FROM merchants WHERE id='${k.merchant.id}'`);
    assert.match(ecp, /^enc1:/);
    assert.ok(!ecp.includes(k.merchant.ecp_secret));
    const we = await k.stripe.webhookEndpoints.create({ url: 'https://example.com/sealed', enabled_events: ['*'] });
    const body = sql(k.dbPath, `SELECT body FROM objects WHERE id='${we.id}'`);
    assert.match(body, /"secret":"enc1:/);
    assert.ok(!body.includes(we.secret), 'no whsec_ in the row');
    const dump = execFileSync('sqlite3', [k.dbPath, '.dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    for (const [what, v] of [['ecp_secret', k.merchant.ecp_secret], ['whsec', we.secret], ['sk', k.secretKey]]) {
      assert.ok(!dump.includes(v), `${what} nowhere in the database`);
    }
    await k.stripe.webhookEndpoints.del(we.id);
  });

  it('a row hashed the old way (SHA-256) still authenticates and is upgraded', async () => {
    const plain = crypto.createHash('sha256').update(k.secretKey).digest('hex');
    await k.stop();
    // the key rows of api_keys (several keys per merchant) are what authenticates
    sql(k.dbPath, `UPDATE api_keys SET key_hash='${plain}' WHERE merchant_id='${k.merchant.id}'`);
    await k.restart();
    const r = await k.http('GET', '/v1/payment_intents?limit=1');
    assert.equal(r.status, 200, r.text);
    const stored = sql(k.dbPath, `SELECT key_hash FROM api_keys WHERE merchant_id='${k.merchant.id}'`);
    assert.notEqual(stored, plain, 'upgraded to the keyed hash');
  });

  it('sk_, pk_, client_secret carry no timestamp prefix: >= 128 random bits', async () => {
    const secrets = [];
    for (let i = 0; i < 12; i++) {
      const pi = await k.stripe.paymentIntents.create({ amount: 1000 + i, currency: 'eur', payment_method_types: ['klarna'] });
      secrets.push(pi.client_secret.split('_secret_')[1]);
    }
    const heads = new Set(secrets.map((s) => s.slice(0, 3)));
    assert.ok(heads.size >= 10, `client secrets made within a second share no time prefix: ${[...heads]}`);
    for (const s of secrets) assert.ok(s.length >= 22, `${s.length} base62 characters = ${Math.floor(s.length * 5.954)} bits`);
    const m2 = await k.createMerchant('second');
    const m3 = await k.createMerchant('third');
    const sks = [k.secretKey, m2.secret_key, m3.secret_key].map((s) => s.slice('sk_test_'.length));
    assert.ok(new Set(sks.map((s) => s.slice(0, 4))).size === 3, `sk_ prefixes differ: ${sks}`);
    for (const s of sks) assert.ok(s.length >= 22);
    console.log(`# secrets: ${secrets.length} client secrets, ${heads.size} distinct 3-character heads; secret length ${secrets[0].length} base62 (${Math.floor(secrets[0].length * 5.954)} bits)`);
  });

  it('canaries: no secret or customer datum in any log line or error body', async () => {
    const email = 'canary.person+x7q@example.org';
    const name = 'Zyxcanaryname';
    const we = await k.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/canary', enabled_events: ['*'] });
    const errors = [];
    const pi = await k.stripe.paymentIntents.create({
      amount: 1000, currency: 'eur', payment_method_types: ['klarna'], receipt_email: email,
      metadata: { customer_name: name },
    }).catch(async () => k.stripe.paymentIntents.create({ amount: 1000, currency: 'eur', payment_method_types: ['klarna'], metadata: { customer_name: name, email } }));
    // errors of many kinds, each carrying a secret or the customer's data somewhere in the request
    errors.push(await k.http('POST', `/v1/payment_intents/${pi.id}/capture`, { body: `amount_to_capture=abc&metadata[x]=${encodeURIComponent(email)}` }));
    errors.push(await k.http('POST', '/v1/payment_intents', { body: `amount=-1&currency=eur&description=${name}` }));
    errors.push(await k.http('GET', '/v1/payment_intents', { auth: `${k.secretKey}x` }));
    errors.push(await k.http('GET', `/v1/payment_intents/${pi.id}x?client_secret=${pi.client_secret}`));
    errors.push(await k.http('POST', `/v1/payment_intents/${pi.id}/confirm`, { body: `client_secret=${pi.client_secret}&return_url=javascript:x&payment_method_data[billing_details][email]=${encodeURIComponent(email)}` }));
    errors.push(await k.http('POST', '/v1/webhook_endpoints', { body: `url=${encodeURIComponent(`http://user:${we.secret}@example.com/`)}&enabled_events[0]=*` }));
    errors.push(await k.http('POST', '/v1/refunds', { body: `payment_intent=${pi.id}&amount=99999999&metadata[email]=${encodeURIComponent(email)}` }));
    const project = k.merchant.ecp_project_id;
    const gate = { general: { project_id: project, payment_id: 'CANARY' }, customer: { email, first_name: name }, payment: { amount: 5, currency: 'EUR' } };
    gate.general.signature = signer(JSON.parse(JSON.stringify(gate)), 'wrong');
    errors.push(await k.http('POST', '/v2/payment/online-banking/sofort/sale', { body: JSON.stringify(gate), headers: { 'Content-Type': 'application/json' }, auth: null }));
    await sleep(300);
    await k.stop();
    const log = fs.readFileSync(k.logPath, 'utf8');
    await k.restart();
    const canaries = {
      secret_key: k.secretKey, webhook_secret: we.secret, ecp_secret: k.merchant.ecp_secret,
      client_secret: pi.client_secret, email, name,
    };
    let lines = 0;
    const found = [];
    for (const line of log.split('\n')) {
      lines++;
      for (const [what, v] of Object.entries(canaries)) if (line.includes(v)) found.push(`${what} in log: ${line.slice(0, 200)}`);
    }
    for (const e of errors) {
      assert.ok(e.status >= 400, `an error: ${e.status} ${e.text.slice(0, 100)}`);
      for (const [what, v] of Object.entries(canaries)) if (e.text.includes(v)) found.push(`${what} in a ${e.status} body: ${e.text.slice(0, 200)}`);
    }
    assert.deepEqual(found, []);
    console.log(`# canaries: ${Object.keys(canaries).length} planted, ${lines} log lines and ${errors.length} error bodies searched, 0 found`);
  });
});
