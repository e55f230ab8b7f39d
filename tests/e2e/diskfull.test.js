// A full disk: Kassa's database lives on a small tmpfs that fills up under load. Every create
// that cannot be stored is answered 503 with Retry-After (nothing half-written, never a 500),
// every 2xx is still there afterwards, and once space is freed Kassa goes on without a restart.
// Needs root (mount); skipped with the reason otherwise.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startKassa, KASSA_RELEASE_BIN } = require('./harness');

const SIZE = '8m';

function canMount() {
  if (process.getuid && process.getuid() !== 0) return 'not root: cannot mount a tmpfs';
  return null;
}

describe('full disk', { skip: canMount() || false }, () => {
  let dir;
  let k;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-diskfull-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE}`, 'tmpfs', dir]);
  });
  after(async () => {
    if (k) await k.stop().catch(() => {});
    try { execFileSync('umount', [dir]); } catch (e) { /* already gone */ }
  });

  it('answers 503 with Retry-After when the disk is full, loses no 2xx, and recovers', async () => {
    const ballast = path.join(dir, 'ballast');
    k = await startKassa({ name: 'diskfull', bin: KASSA_RELEASE_BIN, dbPath: path.join(dir, 'kassa.db') });
    const stripe = k.stripe;
    const acked = [];
    const statuses = {};
    const pad = 'x'.repeat(400);
    let full = 0;
    // Fill the rest of the tmpfs, leaving a little, then create until the disk refuses.
    const free = Number(execFileSync('df', ['--output=avail', '-B1', dir]).toString().split('\n')[1]);
    fs.writeFileSync(ballast, Buffer.alloc(Math.max(0, free - 1024 * 1024)));
    for (let n = 0; n < 5000 && full < 20; n++) {
      const res = await fetch(`${k.url}/v1/payment_intents`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${k.secretKey}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Idempotency-Key': `df-${n}` },
        body: new URLSearchParams({ amount: String(1000 + n), currency: 'eur', 'payment_method_types[]': 'klarna', 'metadata[pad]': pad }).toString(),
      });
      statuses[res.status] = (statuses[res.status] || 0) + 1;
      const body = await res.json();
      if (res.status === 200) {
        acked.push(body.id);
      } else {
        assert.equal(res.status, 503, `a full disk answers 503, not ${res.status}: ${JSON.stringify(body)}`);
        assert.ok(res.headers.get('retry-after'), 'with Retry-After');
        assert.equal(body.error.type, 'api_error');
        full++;
      }
    }
    console.log(`full disk: ${JSON.stringify(statuses)}; ${acked.length} acknowledged before it filled`);
    assert.ok(full > 0, 'the disk filled up');
    assert.ok(acked.length > 0, 'some creates fitted');
    // Space again: Kassa goes on without a restart, and every acknowledged create is whole.
    fs.unlinkSync(ballast);
    const after1 = await stripe.paymentIntents.create({ amount: 4242, currency: 'eur', payment_method_types: ['klarna'] });
    assert.equal(after1.amount, 4242);
    for (const id of acked) {
      const pi = await stripe.paymentIntents.retrieve(id);
      assert.equal(pi.id, id);
    }
    await k.stop();
    k = null;
  });
});
