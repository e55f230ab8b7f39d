// Load for the failover soak (scripts/soak-failover.sh): WORKERS loops create PaymentIntents
// through the Kassa nodes in turn, each with its own Idempotency-Key. An answer 200 is an
// acknowledged write (recorded in ACKED, one id per line). A 5xx or a lost connection is retried
// with the same key (and the same node, then the next) until it is answered, up to 120 s; the
// retry's outcome is counted. Runs until the file STOP exists, then prints one JSON line.
//   node tests/soak/load.js SECRET_KEY ACKED STOP URL1 [URL2 ...]
'use strict';

const fs = require('node:fs');

const [secret, ackedPath, stopPath, ...urls] = process.argv.slice(2);
const WORKERS = Number(process.env.SOAK_WORKERS || 8);
const RETRY_FOR_MS = 120000;
const auth = `Basic ${Buffer.from(`${secret}:`).toString('base64')}`;
const acked = fs.createWriteStream(ackedPath, { flags: 'w' });

const stats = {
  acknowledged: 0, answers_5xx: 0, connection_errors: 0, other_4xx: 0,
  retried_requests: 0, retried_then_succeeded: 0, retried_gave_up: 0, replayed_on_retry: 0,
  longest_gap_ms: 0, gap_from: null, gap_to: null,
};
let lastOk = Date.now();

function noteOk() {
  const now = Date.now();
  if (now - lastOk > stats.longest_gap_ms) {
    stats.longest_gap_ms = now - lastOk;
    stats.gap_from = new Date(lastOk).toISOString();
    stats.gap_to = new Date(now).toISOString();
  }
  lastOk = now;
}

async function once(url, key, body) {
  try {
    const res = await fetch(`${url}/v1/payment_intents`, {
      method: 'POST',
      headers: { Authorization: auth, 'Idempotency-Key': key, 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(30000),
    });
    const text = await res.text();
    return { status: res.status, text, replayed: res.headers.get('idempotent-replayed') === 'true' };
  } catch (e) {
    return { status: 0, text: String(e.cause || e) };
  }
}

async function worker(w) {
  for (let n = 0; !fs.existsSync(stopPath); n++) {
    const key = `soak-${process.pid}-${w}-${n}`;
    const body = `amount=${1000 + (n % 500)}&currency=eur&payment_method_types[]=klarna&metadata[soak]=${key}`;
    let node = (w + n) % urls.length;
    let r = await once(urls[node], key, body);
    const started = Date.now();
    let retried = false;
    while (r.status === 0 || r.status >= 500 || r.status === 409) {
      if (r.status === 0) stats.connection_errors++;
      else if (r.status >= 500) stats.answers_5xx++;
      if (!retried) {
        retried = true;
        stats.retried_requests++;
      }
      if (Date.now() - started > RETRY_FOR_MS) break;
      await new Promise((res) => setTimeout(res, 250));
      if (r.status === 0) node = (node + 1) % urls.length; // a dead node: the other one
      r = await once(urls[node], key, body);
    }
    if (r.status === 200) {
      const id = JSON.parse(r.text).id;
      acked.write(`${id}\n`);
      stats.acknowledged++;
      if (retried) stats.retried_then_succeeded++;
      if (retried && r.replayed) stats.replayed_on_retry++;
      noteOk();
    } else if (retried) {
      stats.retried_gave_up++;
    } else {
      stats.other_4xx++;
    }
  }
}

(async () => {
  await Promise.all([...Array(WORKERS).keys()].map(worker));
  await new Promise((res) => acked.end(res));
  process.stdout.write(`${JSON.stringify(stats)}\n`);
})();
