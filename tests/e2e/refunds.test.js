// Refunds and manual capture on payments made through the Klarna simulator's pages:
// partial and full refunds, refund limits, refunds list/retrieve, capture (partial, twice),
// cancel of an authorisation, and the webhooks these emit.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, startReceiver, stripeError, waitUntil } = require('./harness');
const { payKlarna } = require('./klarna');

describe('refunds and capture', () => {
  let k;
  let stripe;
  let hook;
  let we;
  before(async () => {
    k = await startKassa({ name: 'refunds' });
    stripe = k.stripe;
    hook = await startReceiver();
    we = await stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
  });
  after(async () => {
    if (hook) await hook.close();
    if (k) await k.stop();
  });

  async function paid(amount, { manual = false, category } = {}) {
    const pi = await stripe.paymentIntents.create({
      amount, currency: 'eur', payment_method_types: ['klarna'], ...(manual ? { capture_method: 'manual' } : {}),
    });
    const confirmed = await stripe.paymentIntents.confirm(pi.id, {
      payment_method_data: { type: 'klarna', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
      return_url: 'http://127.0.0.1:9/return',
    });
    assert.equal(confirmed.status, 'requires_action');
    const { returnUrl, intent } = await payKlarna(stripe, confirmed, k.simUrl,
      { kassaUrl: k.url, category: category || (manual ? 'pay_later' : 'pay_now') });
    assert.ok(returnUrl.startsWith('http://127.0.0.1:9/return'), `sent back to return_url: ${returnUrl}`);
    assert.equal(new URL(returnUrl).searchParams.get('payment_intent'), pi.id);
    return intent;
  }
  async function settledRefund(id) {
    return waitUntil(async () => {
      const r = await stripe.refunds.retrieve(id);
      return r.status === 'pending' ? null : r;
    }, { timeoutMs: 15000, what: `refund ${id} to settle` });
  }

  it('a paid intent refunds partially, then the rest; limits hold', async () => {
    const pi = await paid(3000);
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount_received, 3000);
    assert.ok(pi.latest_charge, 'latest_charge set');

    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000, reason: 'requested_by_customer', metadata: { rma: '7' } });
    assert.match(r1.id, /^re_/);
    assert.equal(r1.object, 'refund');
    assert.equal(r1.amount, 1000);
    assert.equal(r1.currency, 'eur');
    assert.equal(r1.payment_intent, pi.id);
    assert.equal(r1.reason, 'requested_by_customer');
    assert.deepEqual(r1.metadata, { rma: '7' });
    assert.ok(['pending', 'succeeded'].includes(r1.status), r1.status);
    assert.equal((await settledRefund(r1.id)).status, 'succeeded');

    const tooMuch = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 2001 }));
    assert.equal(tooMuch.statusCode, 400);
    assert.equal(tooMuch.rawType, 'invalid_request_error');
    assert.equal(tooMuch.code, 'amount_too_large');
    assert.equal(tooMuch.param, 'amount');

    const r2 = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(r2.amount, 2000, 'default refund is what is left');
    assert.equal((await settledRefund(r2.id)).status, 'succeeded');

    const none = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
    assert.equal(none.statusCode, 400);

    const list = await stripe.refunds.list({ payment_intent: pi.id });
    assert.equal(list.object, 'list');
    assert.deepEqual(list.data.map((r) => r.id), [r2.id, r1.id]);
    const got = await stripe.refunds.retrieve(r1.id);
    assert.equal(got.amount, 1000);
    const e404 = await stripeError(stripe.refunds.retrieve('re_doesnotexist'));
    assert.equal(e404.statusCode, 404);
    assert.equal(e404.code, 'resource_missing');

    await hook.waitFor(() => {
      const types = hook.events().filter((e) => JSON.stringify(e.data.object).includes(pi.id)).map((e) => e.type);
      return types.includes('payment_intent.succeeded') && types.filter((t) => t === 'refund.created').length === 2
        && types.includes('charge.refunded');
    }, 15000, 'payment_intent.succeeded, 2 refund.created and charge.refunded');
    for (const q of hook.accepted()) stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], we.secret);
  });

  it('refund validation: amount, unknown intent', async () => {
    const pi = await paid(1500);
    for (const amount of [0, -1]) {
      const e = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount }));
      assert.equal(e.statusCode, 400);
      assert.equal(e.param, 'amount');
    }
    const e2 = await stripeError(stripe.refunds.create({ payment_intent: 'pi_doesnotexist' }));
    assert.equal(e2.statusCode, 404);
    assert.equal(e2.code, 'resource_missing');
    const e3 = await stripeError(stripe.refunds.create({}));
    assert.equal(e3.statusCode, 400);
    assert.equal(e3.code, 'parameter_missing');
  });

  it('manual capture: authorise, capture part, the rest is released', async () => {
    const pi = await paid(5000, { manual: true });
    assert.equal(pi.status, 'requires_capture');
    assert.equal(pi.amount_capturable, 5000);
    assert.equal(pi.amount_received, 0);
    const tooMuch = await stripeError(stripe.paymentIntents.capture(pi.id, { amount_to_capture: 5001 }));
    assert.equal(tooMuch.statusCode, 400);
    const c = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 4000 });
    const done = c.status === 'succeeded' ? c : await waitUntil(async () => {
      const p = await stripe.paymentIntents.retrieve(pi.id);
      return p.status === 'succeeded' ? p : null;
    }, { timeoutMs: 15000, what: 'capture to succeed' });
    assert.equal(done.amount_received, 4000);
    assert.equal(done.amount_capturable, 0);
    const again = await stripeError(stripe.paymentIntents.capture(pi.id));
    assert.equal(again.statusCode, 400);
    assert.equal(again.code, 'payment_intent_unexpected_state');
    const over = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 4001 }));
    assert.equal(over.code, 'amount_too_large');
    const r = await stripe.refunds.create({ payment_intent: pi.id, amount: 4000 });
    assert.equal(r.amount, 4000);
  });

  it('manual capture: cancel releases the authorisation', async () => {
    const pi = await paid(2000, { manual: true });
    assert.equal(pi.status, 'requires_capture');
    const c = await stripe.paymentIntents.cancel(pi.id);
    assert.equal(c.status, 'canceled');
    assert.equal(c.amount_capturable, 0);
    const e = await stripeError(stripe.refunds.create({ payment_intent: pi.id }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, 'payment_intent_unexpected_state');
  });
});
