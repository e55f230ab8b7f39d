// A capture or refund in flight at Klarna when Kassa dies (kill -9 of the release binary while
// the simulator holds the call) is never done twice and never left pending: the retry with the
// same Idempotency-Key carries the begun operation on, and without a retry the scheduler asks
// Klarna again and settles it. The simulator runs as its own process (`kassa sim`), so what
// Klarna paid out survives the crash and is compared with what Kassa recorded.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { startKassa, waitUntil, sleep, KASSA_RELEASE_BIN, Stripe } = require('./harness');
const { payKlarna, sim } = require('./klarna');

const HOLD_MS = 1500; // the simulator holds the capture or refund call this long
const KILL_AT_MS = 700; // Kassa is killed this long after sending it
const LEASE_S = 120; // LIMIT_IDEMPOTENCY_LEASE_S: a dead request's claim is taken over after it

function startSim() {
  return new Promise((resolve, reject) => {
    const proc = spawn(KASSA_RELEASE_BIN, ['sim', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('kassa sim did not print its ready line')), 15000);
    proc.stdout.on('data', (c) => {
      out += c.toString('utf8');
      const m = out.match(/^kassa sim ready (\{.*\})$/m);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: JSON.parse(m[1]).url });
      }
    });
    proc.stderr.on('data', () => {});
    proc.on('error', reject);
  });
}

describe('crash during a provider call', () => {
  let simProc;
  let simUrl;
  let k;
  let stripe;
  before(async () => {
    ({ proc: simProc, url: simUrl } = await startSim());
    k = await startKassa({ name: 'crash-provider', bin: KASSA_RELEASE_BIN, args: ['--sim-listen', 'off', '--sim-url', simUrl] });
    stripe = k.stripe;
  });
  after(async () => {
    if (k) await k.stop();
    if (simProc) simProc.kill('SIGTERM');
  });

  async function authorised(amount) {
    const pi = await stripe.paymentIntents.create({
      amount, currency: 'eur', payment_method_types: ['klarna'], capture_method: 'manual',
    });
    const confirmed = await stripe.paymentIntents.confirm(pi.id, {
      payment_method_data: { type: 'klarna', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
      return_url: 'http://127.0.0.1:9/return',
    });
    const { intent } = await payKlarna(stripe, confirmed, simUrl, { kassaUrl: k.url, category: 'pay_later' });
    assert.equal(intent.status, 'requires_capture');
    return intent;
  }
  const order = (pi) => sim(simUrl, 'GET', `orders/${pi.kassa.provider_order}`);
  const hold = (pi, what) => sim(simUrl, 'POST', 'faults',
    { path: `/ordermanagement/v1/orders/${pi.kassa.provider_order}/${what}`, delay_ms: HOLD_MS, count: 1 });

  // Sends `call` (a promise factory), kills Kassa while the simulator holds it, restarts.
  let clockAtKill = 0; // Kassa's clock when it was killed (a restart forgets the test clock)
  async function killDuring(call) {
    clockAtKill = await k.advanceClock(0);
    const sent = call().then((v) => ({ v }), (e) => ({ e }));
    await sleep(KILL_AT_MS);
    await k.kill9();
    const r = await sent;
    assert.ok(r.e instanceof Stripe.errors.StripeConnectionError, `the call died with Kassa: ${r.e || JSON.stringify(r.v)}`);
    await sleep(HOLD_MS); // the simulator finishes the held call: Klarna did it
    await k.restart();
    stripe = k.stripe;
  }

  // Moves the restarted Kassa's clock past the dead request's lease.
  async function pastLease() {
    const now = await k.advanceClock(0);
    await k.advanceClock(Math.max(1, clockAtKill + LEASE_S + 5 - now));
  }

  // The retry with the same key, once the dead request's claim has lapsed (test clock).
  async function retryAfterLease(call) {
    await pastLease();
    return waitUntil(async () => {
      try {
        return await call();
      } catch (e) {
        if (e.statusCode === 409) return null; // still claimed: retry, as Stripe's clients do
        throw e;
      }
    }, { timeoutMs: 15000, what: 'the retried request to be answered' });
  }

  it('a refund in flight when Kassa dies is refunded once: the retry carries it on', async () => {
    const pi = await authorised(10000);
    await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 6000 });
    await hold(pi, 'refunds');
    const key = `crash-refund-${Date.now()}`;
    const refund = () => stripe.refunds.create({ payment_intent: pi.id, amount: 1000 }, { idempotencyKey: key });
    await killDuring(refund);
    const again = await retryAfterLease(refund);
    assert.equal(again.amount, 1000);
    const settled = await waitUntil(async () => {
      const r = await stripe.refunds.retrieve(again.id);
      return r.status === 'pending' ? null : r;
    }, { what: 'the refund to settle' });
    assert.equal(settled.status, 'succeeded');
    const list = await stripe.refunds.list({ payment_intent: pi.id });
    assert.equal(list.data.length, 1, `one refund in Kassa: ${list.data.map((r) => `${r.id} ${r.status} ${r.amount}`)}`);
    const o = await order(pi);
    assert.equal(o.refunded_amount, 1000, 'Klarna refunded once');
    const third = await refund(); // answered from the stored result now
    assert.equal(third.id, again.id);
    console.log(`crash during refund: Kassa refunded ${list.data[0].amount}, Klarna ${o.refunded_amount}`);
  });

  it('a refund in flight when Kassa dies and nobody retries is settled by the scheduler', async () => {
    const pi = await authorised(5000);
    await stripe.paymentIntents.capture(pi.id);
    await hold(pi, 'refunds');
    await killDuring(() => stripe.refunds.create({ payment_intent: pi.id, amount: 2000 }, { idempotencyKey: `lonely-${Date.now()}` }));
    await pastLease();
    const r = await waitUntil(async () => {
      const l = await stripe.refunds.list({ payment_intent: pi.id });
      return l.data.length === 1 && l.data[0].status !== 'pending' ? l.data[0] : null;
    }, { what: 'the scheduler to settle the refund' });
    assert.equal(r.status, 'succeeded');
    assert.equal(r.amount, 2000);
    assert.equal((await order(pi)).refunded_amount, 2000);
  });

  it('a capture in flight when Kassa dies is captured once: the retry carries it on', async () => {
    const pi = await authorised(8000);
    await hold(pi, 'captures');
    const key = `crash-capture-${Date.now()}`;
    const capture = () => stripe.paymentIntents.capture(pi.id, { amount_to_capture: 3000, final_capture: false }, { idempotencyKey: key });
    await killDuring(capture);
    const after1 = await retryAfterLease(capture);
    assert.equal(after1.amount_received, 3000);
    assert.equal(after1.amount_capturable, 5000);
    const o = await order(pi);
    assert.equal(o.captured_amount, 3000, 'Klarna captured once');
    assert.equal(o.captures.length, 1);
    // Nothing is left reserved: the rest can be captured.
    const done = await stripe.paymentIntents.capture(pi.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.amount_received, 8000);
    assert.equal((await order(pi)).captured_amount, 8000);
  });

  it('a capture in flight when Kassa dies and nobody retries is settled by the scheduler', async () => {
    const pi = await authorised(4000);
    await hold(pi, 'captures');
    await killDuring(() => stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1500, final_capture: false }, { idempotencyKey: `lone-cap-${Date.now()}` }));
    await pastLease();
    const p = await waitUntil(async () => {
      const x = await stripe.paymentIntents.retrieve(pi.id);
      return x.amount_received === 1500 ? x : null;
    }, { what: 'the scheduler to settle the capture' });
    assert.equal(p.amount_capturable, 2500);
    assert.equal((await order(pi)).captured_amount, 1500);
    const c = await stripe.paymentIntents.cancel(pi.id); // no capture is left in progress
    assert.equal(c.status, 'succeeded');
  });
});
