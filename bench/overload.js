// Overload benchmark (issue 16, point 5): finds the create rate Kassa sustains, then sends
// creates open-loop at half and at twice that rate and reports what came back. The claim to
// check: under twice the sustainable load only 2xx, 429 and 503 come back (no timeouts, no
// resets), and accepted requests' p99 stays within 3x of the half-load p99. Prints one JSON
// line per phase and a verdict; it is a benchmark, never a timed test.
//   node bench/overload.js [--bin build/kassa] [--seconds 10] [--queue-max 64]
// One load generator is one client address: the per-address connection cap is raised for it.
'use strict';

const http = require('node:http');
const { startKassa } = require('../tests/e2e/harness');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const BIN = require('node:path').resolve(arg('bin', process.env.KASSA_RELEASE_BIN || 'build/kassa'));
const SECONDS = Number(arg('seconds', '10'));
const QUEUE_MAX = arg('queue-max', '64');
const TIMEOUT_MS = 10000;

function p(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null;
}

function create(agent, url, key) {
  const body = 'amount=1500&currency=eur&payment_method_types[]=klarna';
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(`${url}/v1/payment_intents`, {
      method: 'POST', agent, timeout: TIMEOUT_MS,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6, retryAfter: res.headers['retry-after'] }));
    });
    req.on('timeout', () => { req.destroy(); resolve({ status: 'timeout' }); });
    req.on('error', (e) => resolve({ status: e.code || 'error' }));
    req.end(body);
  });
}

// Closed loop with `conc` clients for `secs`: the rate the server sustains.
async function closedLoop(url, key, conc, secs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const end = Date.now() + secs * 1000;
  let ok = 0;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (Date.now() < end) if ((await create(agent, url, key)).status === 200) ok++;
  }));
  agent.destroy();
  return ok / secs;
}

// Open loop at `rate` requests/s for `secs`: requests start on schedule whatever the answers do.
async function openLoop(url, key, rate, secs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 900 });
  const codes = {};
  const okMs = [];
  const pending = [];
  const t0 = Date.now();
  const n = Math.round(rate * secs);
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(create(agent, url, key).then((r) => {
      codes[r.status] = (codes[r.status] || 0) + 1;
      if (r.status === 200) okMs.push(r.ms);
    }));
  }
  await Promise.all(pending);
  agent.destroy();
  okMs.sort((a, b) => a - b);
  return { rate, sent: n, codes, p50_ms: p(okMs, 0.5), p99_ms: p(okMs, 0.99) };
}

(async () => {
  const k = await startKassa({ name: 'bench-overload', bin: BIN, env: { KASSA_QUEUE_MAX: QUEUE_MAX, KASSA_RATE_LIMIT_PER_S: '0', KASSA_CONNECTIONS_PER_IP: '1024' } });
  try {
    await closedLoop(k.url, k.secretKey, 16, 2); // warm up
    const sustainable = await closedLoop(k.url, k.secretKey, 64, SECONDS);
    console.log(JSON.stringify({ phase: 'sustainable', creates_per_s: Math.round(sustainable) }));
    const half = await openLoop(k.url, k.secretKey, sustainable / 2, SECONDS);
    console.log(JSON.stringify({ phase: 'half', ...half }));
    const twice = await openLoop(k.url, k.secretKey, sustainable * 2, SECONDS);
    console.log(JSON.stringify({ phase: 'twice', ...twice }));
    const onlyOk = Object.keys(twice.codes).every((c) => ['200', '429', '503'].includes(c));
    const ratio = half.p99_ms ? twice.p99_ms / half.p99_ms : null;
    console.log(JSON.stringify({ verdict: { only_2xx_429_503: onlyOk, p99_ratio: ratio && Number(ratio.toFixed(2)), within_3x: ratio !== null && ratio <= 3 } }));
  } finally {
    await k.stop();
  }
})().catch((e) => { console.error(e); process.exit(1); });
