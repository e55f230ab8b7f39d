// Durability under kill -9 (release binary): 32 concurrent clients create intents with
// Idempotency-Keys; the server is killed after ~100 acknowledgements and restarted on the
// same database. Every acknowledged intent must be there and whole, nothing half-written may
// appear, and retrying the unanswered requests with their keys must never duplicate.
'use strict';

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, KASSA_RELEASE_BIN, Stripe } = require('./harness');

const TOTAL = 300;
const CLIENTS = 32;
const KILL_AFTER = 100;

describe('crash safety', () => {
  let k;
  after(async () => {
    if (k) await k.stop();
  });

  it('kill -9 loses no acknowledged intent and retries never duplicate', async () => {
    k = await startKassa({ name: 'crash', bin: KASSA_RELEASE_BIN });
    const stripe = k.stripe;
    const run = `${process.pid}-${Date.now()}`;
    const params = (n) => ({
      amount: 1000 + n, currency: 'eur', payment_method_types: ['klarna'],
      description: `crash order ${n}`, metadata: { n: String(n), run, pad: 'x'.repeat(64) },
    });
    const keyOf = (n) => `crash-${run}-${n}`;

    const acked = new Map(); // n -> intent as answered
    const unanswered = new Set(); // n sent, no answer (connection died)
    const otherErrors = [];
    let next = 0;
    let killed = false;
    let killPromise = null;

    async function client() {
      while (!killed && next < TOTAL) {
        const n = next++;
        try {
          const pi = await stripe.paymentIntents.create(params(n), { idempotencyKey: keyOf(n) });
          acked.set(n, pi);
          if (acked.size >= KILL_AFTER && !killed) {
            killed = true;
            killPromise = k.kill9();
          }
        } catch (e) {
          if (e instanceof Stripe.errors.StripeConnectionError) {
            unanswered.add(n);
          } else {
            otherErrors.push(`${n}: ${e.type} ${e.statusCode} ${e.message}`);
          }
        }
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, client));
    assert.ok(killPromise, 'the server was killed');
    await killPromise;
    assert.deepEqual(otherErrors, [], 'no request failed other than by the kill');
    assert.ok(acked.size >= KILL_AFTER, `acked ${acked.size}`);
    for (const n of acked.keys()) assert.ok(!unanswered.has(n));

    await k.restart();
    const s = k.stripe;

    // Every acknowledged intent retrieves, identical.
    for (const [n, pi] of acked) {
      const got = await s.paymentIntents.retrieve(pi.id);
      assert.equal(got.amount, 1000 + n);
      assert.deepEqual(got.metadata, pi.metadata);
      assert.equal(got.status, 'requires_payment_method');
      assert.equal(got.description, `crash order ${n}`);
    }

    // What is there: acknowledged + some of the unanswered, each whole, none twice.
    const all = await s.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 10000 });
    const byN = new Map();
    for (const p of all) {
      assert.equal(p.metadata.run, run, `intent ${p.id} belongs to this run`);
      const n = Number(p.metadata.n);
      assert.ok(!byN.has(n), `intent n=${n} exists twice`);
      byN.set(n, p);
      assert.ok(acked.has(n) || unanswered.has(n), `intent n=${n} was neither acknowledged nor in flight`);
      const got = await s.paymentIntents.retrieve(p.id);
      assert.equal(got.status, 'requires_payment_method');
      assert.deepEqual(got.metadata, params(n).metadata, `metadata of n=${n} complete`);
      assert.equal(got.amount, 1000 + n);
    }
    const completedUnanswered = [...unanswered].filter((n) => byN.has(n)).length;
    assert.equal(all.length, acked.size + completedUnanswered);
    for (const n of acked.keys()) assert.ok(byN.has(n), `acknowledged n=${n} present`);

    // Retrying the unanswered requests with the same keys never duplicates.
    for (const n of unanswered) {
      const pi = await s.paymentIntents.create(params(n), { idempotencyKey: keyOf(n) });
      if (byN.has(n)) {
        assert.equal(pi.id, byN.get(n).id, `retry of committed n=${n} returns the same intent`);
      }
      assert.equal(pi.amount, 1000 + n);
    }
    const after_ = await s.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 10000 });
    const counts = new Map();
    for (const p of after_) counts.set(p.metadata.n, (counts.get(p.metadata.n) || 0) + 1);
    for (const [n, c] of counts) assert.equal(c, 1, `n=${n} appears ${c} times`);
    assert.equal(after_.length, acked.size + unanswered.size);
    // and acknowledged ones replay too
    const [n0, pi0] = acked.entries().next().value;
    const replay = await s.paymentIntents.create(params(n0), { idempotencyKey: keyOf(n0) });
    assert.equal(replay.id, pi0.id);
  });
});
