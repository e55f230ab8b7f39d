// bench/request_log.js - what the API key lookup and the request log cost an API request: starts
// the release binary on a fresh SQLite file, then answers GET /v1/payment_intents/:id and
// POST /v1/payment_intents (8 clients in a closed loop, SECONDS each) and prints requests/s and
// the median and p99 latency in ms, then how many request_log rows were written. Run it against
// two binaries to compare (KASSA_BIN=... node bench/request_log.js).
//   node bench/request_log.js [SECONDS=5]      (KASSA_BIN defaults to build/kassa here)
'use strict';

process.env.KASSA_BIN = process.env.KASSA_BIN || 'build/kassa';
const { execFileSync } = require('node:child_process');
const { startKassa } = require('../tests/e2e/harness');

const SECONDS = Number(process.argv[2] || 5);

async function loop(k, what, fn) {
  const lat = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint();
      const res = await fn();
      if (res.status !== 200) throw new Error(`${what}: ${res.status}`);
      await res.arrayBuffer();
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }));
  lat.sort((a, b) => a - b);
  const at = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(2);
  console.log(`${what}: ${(lat.length / SECONDS).toFixed(0)}/s, median ${at(0.5)} ms, p99 ${at(0.99)} ms`);
}

(async () => {
  const k = await startKassa({ name: 'bench-request-log' });
  try {
    const auth = { Authorization: `Bearer ${k.secretKey}` };
    const pi = await k.stripe.paymentIntents.create({ amount: 1000, currency: 'eur', payment_method_types: ['klarna'] });
    await loop(k, 'GET  /v1/payment_intents/:id', () => fetch(`${k.url}/v1/payment_intents/${pi.id}`, { headers: auth }));
    await loop(k, 'POST /v1/payment_intents', () => fetch(`${k.url}/v1/payment_intents`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'amount=1000&currency=eur&payment_method_types[]=klarna',
    }));
    await new Promise((r) => setTimeout(r, 1500)); // one scheduler tick
    try {
      const n = execFileSync('sqlite3', [k.dbPath, 'SELECT count(*) FROM request_log'], { encoding: 'utf8' }).trim();
      console.log(`request_log rows: ${n}`);
    } catch {
      console.log('request_log rows: (no such table: this binary has no request log)');
    }
  } finally {
    await k.stop();
  }
})().catch((e) => { console.error(e); process.exit(1); });
