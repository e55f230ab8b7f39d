// Klarna Pay Now end to end, through the official stripe client against the real binary and
// the Klarna simulator's pages walked over HTTP: the happy path with partial and full
// refunds and their signed webhooks; every failure path with its Stripe code (customer
// cancels, three wrong logins, three wrong TANs, a bank error, 48 hours of nothing on the
// test clock); a failed attempt followed by a new, successful one; the method rules
// (currency, country, amount limits) refused before any provider call; the decoupled bank
// login; and fault-injected runs (5xx, 429, a timeout, duplicate and late callbacks) that
// end with exactly one Klarna order per payment.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startKassa, startReceiver, stripeError, waitUntil, sleep } = require('./harness');
const { payKlarna, sim, simOrders, confirmKlarna } = require('./klarna');

const RETURN_URL = 'http://127.0.0.1:9/return';

describe('Klarna Pay Now', () => {
  let k;
  let stripe;
  let hook;
  let we;
  before(async () => {
    k = await startKassa({ name: 'paynow' });
    stripe = k.stripe;
    hook = await startReceiver();
    we = await stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
  });
  after(async () => {
    if (hook) await hook.close();
    if (k) await k.stop();
  });

  async function payNowIntent(amount, extra = {}) {
    return stripe.paymentIntents.create({ amount, currency: 'eur', payment_method_types: ['klarna_pay_now'], ...extra });
  }
  async function confirmed(pi, opts = {}) {
    const c = await confirmKlarna(stripe, pi.id, { type: 'klarna_pay_now', ...opts });
    assert.equal(c.status, 'requires_action');
    assert.equal(c.next_action.type, 'redirect_to_url');
    assert.ok(c.next_action.redirect_to_url.url.startsWith(`${k.simUrl}/klarna/hpp/pay/`), c.next_action.redirect_to_url.url);
    assert.equal(c.next_action.redirect_to_url.return_url, RETURN_URL);
    return c;
  }
  /** Orders at the simulator made for this intent's attempts (by HPP session). */
  async function ordersOf(sessions) {
    return (await simOrders(k.simUrl)).filter((o) => sessions.includes(o.hpp_session_id));
  }
  function hppSession(intent) {
    return new URL(intent.next_action.redirect_to_url.url).pathname.split('/').pop();
  }
  async function journal(id) {
    return (await stripe.rawRequest('GET', `/v1/payment_intents/${id}/journal`, {})).data;
  }
  async function expectFailed(pi, c, opts, code) {
    const { returnUrl, intent } = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, ...opts });
    const u = new URL(returnUrl);
    assert.equal(`${u.origin}${u.pathname}`, RETURN_URL);
    assert.equal(u.searchParams.get('payment_intent'), pi.id);
    assert.equal(u.searchParams.get('redirect_status'), 'failed');
    assert.equal(intent.status, 'requires_payment_method');
    assert.ok(intent.last_payment_error, 'last_payment_error set');
    assert.equal(intent.last_payment_error.code, code);
    assert.equal(intent.last_payment_error.payment_method_type, 'klarna_pay_now');
    assert.ok(intent.last_payment_error.message.length > 0);
    assert.equal(intent.next_action, null);
    assert.equal(intent.amount_received, 0);
    assert.equal(intent.latest_charge, null);
    assert.deepEqual(await ordersOf([hppSession(c)]), [], 'no order at Klarna for a failed attempt');
    const failRow = (await journal(pi.id)).filter((r) => r.kind === 'fail');
    assert.equal(failRow.length, 1);
    assert.equal(failRow[0].code, code);
    return intent;
  }

  it('pays: create, confirm, bank steps, succeeded; partial then full refund with signed webhooks', async () => {
    const pi = await payNowIntent(4990, { description: 'Order 1001', metadata: { order: '1001' } });
    assert.equal(pi.status, 'requires_payment_method');
    assert.deepEqual(pi.payment_method_types, ['klarna_pay_now']);
    const c = await confirmed(pi);
    const trace = [];
    const { returnUrl, intent } = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, trace });
    assert.deepEqual(trace.map((t) => t.step), ['bank', 'login', 'account', 'tan'], 'Pay Now alone skips the method choice');
    const u = new URL(returnUrl);
    assert.equal(u.searchParams.get('payment_intent'), pi.id);
    assert.equal(u.searchParams.get('payment_intent_client_secret'), pi.client_secret);
    assert.equal(u.searchParams.get('redirect_status'), 'succeeded');
    assert.equal(intent.status, 'succeeded');
    assert.equal(intent.amount_received, 4990);
    assert.equal(intent.amount_capturable, 0);
    assert.equal(intent.last_payment_error, null);
    assert.equal(intent.kassa.payment_method_detail, 'pay_now');
    const orders = await ordersOf([hppSession(c)]);
    assert.equal(orders.length, 1, 'exactly one Klarna order');
    assert.equal(orders[0].status, 'CAPTURED');
    assert.equal(orders[0].captured_amount, 4990);
    assert.equal(intent.kassa.provider_order, orders[0].order_id);

    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    assert.equal(r1.amount, 1000);
    const r1done = await waitUntil(async () => {
      const r = await stripe.refunds.retrieve(r1.id);
      return r.status === 'pending' ? null : r;
    }, { what: 'refund 1 to settle' });
    assert.equal(r1done.status, 'succeeded');
    const over = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 3991 }));
    assert.equal(over.statusCode, 400);
    assert.equal(over.code, 'amount_too_large');
    assert.equal(over.param, 'amount');
    const r2 = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(r2.amount, 3990, 'the rest');
    await waitUntil(async () => (await stripe.refunds.retrieve(r2.id)).status === 'succeeded', { what: 'refund 2' });
    const after = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(after.kassa.amount_refunded, 4990);
    const order = await sim(k.simUrl, 'GET', `orders/${orders[0].order_id}`);
    assert.equal(order.refunded_amount, 4990);
    assert.equal(order.refunds.length, 2);
    const gone = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
    assert.equal(gone.statusCode, 400);

    const mine = (q) => {
      const e = JSON.parse(q.body);
      const o = e.data.object;
      return o.id === pi.id || o.payment_intent === pi.id;
    };
    await hook.waitFor((h) => {
      const types = h.accepted().filter(mine).map((q) => JSON.parse(q.body).type);
      return types.filter((t) => t === 'refund.created').length === 2
        && types.filter((t) => t === 'refund.updated').length === 2
        && types.filter((t) => t === 'charge.refunded').length === 2
        && types.includes('payment_intent.succeeded');
    }, 15000, '2 refund.created, 2 refund.updated, 2 charge.refunded, payment_intent.succeeded');
    const evs = hook.accepted().filter(mine).map((q) => stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], we.secret));
    const updated = evs.filter((e) => e.type === 'refund.updated').map((e) => e.data.object);
    assert.deepEqual(updated.map((r) => r.id).sort(), [r1.id, r2.id].sort());
    assert.ok(updated.every((r) => r.status === 'succeeded'));
    const charges = evs.filter((e) => e.type === 'charge.refunded').map((e) => e.data.object);
    assert.ok(charges.every((ch) => ch.object === 'charge' && ch.payment_intent === pi.id));
    assert.deepEqual(charges.map((ch) => ch.amount_refunded).sort((a, b) => a - b), [1000, 4990]);
    assert.ok(charges.some((ch) => ch.refunded === true));
    assert.throws(() => stripe.webhooks.constructEvent(hook.accepted()[0].body, hook.accepted()[0].headers['stripe-signature'], 'whsec_wrong'));
  });

  it('customer cancels -> payment_method_customer_decline; a new attempt then succeeds', async () => {
    const pi = await payNowIntent(2500);
    const c1 = await confirmed(pi);
    const failed = await expectFailed(pi, c1, { cancelAt: 'login' }, 'payment_method_customer_decline');
    assert.equal(failed.last_payment_error.type, 'card_error');
    await hook.waitFor((h) => h.events().some((e) => e.type === 'payment_intent.payment_failed' && e.data.object.id === pi.id),
      15000, 'payment_intent.payment_failed');

    const c2 = await confirmed(failed);
    assert.notEqual(hppSession(c2), hppSession(c1), 'a new Klarna session');
    assert.notEqual(c2.payment_method, c1.payment_method, 'a new attempt');
    const { intent } = await payKlarna(stripe, c2, k.simUrl, { kassaUrl: k.url });
    assert.equal(intent.status, 'succeeded');
    assert.equal(intent.amount_received, 2500);
    assert.equal(intent.last_payment_error, null, 'the error is cleared by the success');
    assert.equal((await ordersOf([hppSession(c1), hppSession(c2)])).length, 1);
    const kinds = (await journal(pi.id)).map((r) => r.kind);
    assert.deepEqual(kinds.filter((x) => ['action', 'fail', 'sale'].includes(x)), ['action', 'fail', 'action', 'sale']);
  });

  it('three wrong logins -> payment_method_provider_decline', async () => {
    const pi = await payNowIntent(1200);
    const c = await confirmed(pi);
    const trace = [];
    await expectFailed(pi, c, { logins: ['wrong', 'wrong', 'wrong'], trace }, 'payment_method_provider_decline');
    assert.deepEqual(trace.map((t) => t.step), ['bank', 'login', 'login', 'login', 'final']);
  });

  it('three wrong TANs -> payment_method_provider_decline', async () => {
    const pi = await payNowIntent(1300);
    const c = await confirmed(pi);
    const trace = [];
    await expectFailed(pi, c, { tans: ['11111', '22222', '33333'], trace }, 'payment_method_provider_decline');
    assert.deepEqual(trace.map((t) => t.step), ['bank', 'login', 'account', 'tan', 'tan', 'tan', 'final']);
  });

  it('playground e-mail customer+denied@email.<cc> is refused for Pay Now too (seed 001)', async () => {
    const pi = await payNowIntent(1250);
    const c = await confirmed(pi, { email: 'customer+denied@email.de' });
    const trace = [];
    await expectFailed(pi, c, { trace }, 'payment_method_provider_decline');
    assert.deepEqual(trace.map((t) => t.step), ['final'], 'refused before any bank step');
    assert.match(trace[0].html, /can not be accepted/);
    // The Klarna entry with every category: choosing Pay Now is refused the same way.
    const all = await stripe.paymentIntents.create({ amount: 1260, currency: 'eur', payment_method_types: ['klarna'] });
    const c2 = await confirmKlarna(stripe, all.id, { type: 'klarna', email: 'customer+denied@email.at', country: 'AT' });
    const t2 = [];
    const { intent } = await payKlarna(stripe, c2, k.simUrl, { kassaUrl: k.url, category: 'pay_now', trace: t2 });
    assert.equal(intent.status, 'requires_payment_method');
    assert.equal(intent.last_payment_error.code, 'payment_method_provider_decline');
    assert.deepEqual(t2.map((t) => t.step), ['method', 'final']);
    // customer@email.<cc> is approved as before.
    const ok = await payNowIntent(1270);
    const { intent: paid } = await payKlarna(stripe, await confirmed(ok, { email: 'customer@email.de' }), k.simUrl, { kassaUrl: k.url });
    assert.equal(paid.status, 'succeeded');
  });

  it('a technical error at the bank -> payment_method_not_available', async () => {
    const pi = await payNowIntent(1400);
    const c = await confirmed(pi);
    await expectFailed(pi, c, { username: 'technical' }, 'payment_method_not_available');
  });

  it('the decoupled bank login completes by itself', async () => {
    const pi = await payNowIntent(1500);
    const c = await confirmed(pi);
    const trace = [];
    const { intent } = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, username: 'decoupled', trace });
    assert.ok(trace.some((t) => t.step === 'decoupled'), 'the decoupled page was shown');
    assert.equal(intent.status, 'succeeded');
    assert.equal(intent.amount_received, 1500);
  });

  it('method rules: currency, country and amount limits refused with the param named, before any provider call', async () => {
    const before = (await simOrders(k.simUrl)).length;
    // A trap: the next Klarna session call answers 400. Only a call that reaches Klarna uses it up.
    await sim(k.simUrl, 'POST', 'faults', { path: '/payments/v1/sessions', status: 400, count: 1 });
    const usd = await stripeError(payNowIntent(1000, { currency: 'usd' }));
    assert.equal(usd.statusCode, 400);
    assert.equal(usd.param, 'currency');
    assert.equal(usd.code, 'payment_method_not_available');
    assert.match(usd.message, /USD/);
    const sek = await stripeError(payNowIntent(1000, { currency: 'sek' }));
    assert.equal(sek.statusCode, 400);
    assert.equal(sek.param, 'currency');

    const countryParam = 'payment_method_data[billing_details][address][country]';
    const cases = [
      { amount: 1000, country: 'US', param: countryParam, code: 'payment_method_not_available' },
      { amount: 1000, country: 'SE', param: countryParam, code: 'payment_method_not_available' },
      { amount: 99, country: 'DE', param: 'amount', code: 'amount_too_small' },
      { amount: 500001, country: 'DE', param: 'amount', code: 'amount_too_large' },
    ];
    for (const cs of cases) {
      const pi = await payNowIntent(cs.amount);
      const e = await stripeError(confirmKlarna(stripe, pi.id, { type: 'klarna_pay_now', country: cs.country }));
      assert.equal(e.statusCode, 400, JSON.stringify(cs));
      assert.equal(e.rawType, 'invalid_request_error');
      assert.equal(e.param, cs.param, JSON.stringify(cs));
      if (cs.code) assert.equal(e.code, cs.code);
      assert.ok(e.message.length > 10, e.message);
      const still = await stripe.paymentIntents.retrieve(pi.id);
      assert.equal(still.status, 'requires_payment_method', 'the intent is unchanged');
      assert.equal(still.payment_method, null, 'no attempt was started');
      assert.equal(still.next_action, null);
      assert.deepEqual((await journal(pi.id)).map((r) => r.kind), ['create'], 'nothing but the creation journaled');
    }
    // The trap is still armed: none of the refused confirmations called Klarna.
    const probe = await payNowIntent(1000);
    const trapped = await stripeError(confirmKlarna(stripe, probe.id, { type: 'klarna_pay_now' }));
    assert.equal(trapped.statusCode, 402);
    assert.equal(trapped.code, 'payment_method_not_available');
    assert.equal(trapped.raw.payment_intent.status, 'requires_payment_method');
    assert.equal((await confirmKlarna(stripe, probe.id, { type: 'klarna_pay_now' })).status, 'requires_action', 'and a retry works');
    await stripe.paymentIntents.cancel(probe.id);
    // The limits are in EUR: exactly 1.00 and 5,000.00 EUR pass, as do GBP in GB and PLN in PL.
    for (const [amount, currency, country] of [[100, 'eur', 'DE'], [500000, 'eur', 'AT'], [2000, 'gbp', 'GB'], [5000, 'pln', 'PL']]) {
      const pi = await payNowIntent(amount, { currency });
      const c = await confirmKlarna(stripe, pi.id, { type: 'klarna_pay_now', country });
      assert.equal(c.status, 'requires_action', `${amount} ${currency} ${country}`);
      await stripe.paymentIntents.cancel(pi.id);
    }
    assert.equal((await simOrders(k.simUrl)).length, before, 'no order was made at the simulator');
  });

  it('5xx and 429 on sessions and create-order, duplicate callbacks: one order, one charge', async () => {
    await sim(k.simUrl, 'POST', 'faults', { path: '/payments/v1/sessions', status: 500, count: 2 });
    await sim(k.simUrl, 'POST', 'faults', { path: '/hpp/v1/sessions', status: 429, count: 2 });
    await sim(k.simUrl, 'POST', 'faults', { path: '/payments/v1/authorizations', status: 500, count: 1 });
    await sim(k.simUrl, 'POST', 'faults', { path: '/payments/v1/authorizations/', status: 503, count: 1, after: true });
    await sim(k.simUrl, 'POST', 'callbacks', { mode: 'duplicate' });
    const retries = () => {
      const log = fs.readFileSync(k.logPath, 'utf8');
      return ['sessions\' answered 500', 'sessions\' answered 429', '/order\' answered 500', '/order\' answered 503']
        .map((m) => log.split(m).length - 1);
    };
    const before = retries();
    try {
      const pi = await payNowIntent(3300);
      const c = await confirmed(pi);
      const { intent } = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url });
      assert.equal(intent.status, 'succeeded');
      assert.equal(intent.amount_received, 3300);
      await sleep(600); // let the duplicated callbacks arrive and be handled
      const orders = await ordersOf([hppSession(c)]);
      assert.equal(orders.length, 1, `exactly one order: ${JSON.stringify(orders)}`);
      assert.equal(orders[0].captured_amount, 3300);
      const again = await stripe.rawRequest('POST', `/v1/payment_intents/${pi.id}/sync`, {});
      assert.equal(again.status, 'succeeded');
      assert.equal(again.amount_received, 3300);
      const kinds = (await journal(pi.id)).map((r) => r.kind);
      assert.equal(kinds.filter((x) => x === 'sale').length, 1, `one sale in ${kinds}`);
      const succeeded = (await stripe.events.list({ type: 'payment_intent.succeeded', limit: 100 })).data
        .filter((e) => e.data.object.id === pi.id);
      assert.equal(succeeded.length, 1, 'one payment_intent.succeeded');
      const seen = retries().map((n, i) => n - before[i]);
      assert.deepEqual(seen, [2, 2, 1, 1], 'every armed fault was met and retried (kassa\'s log)');
    } finally {
      await sim(k.simUrl, 'POST', 'callbacks', { mode: 'normal' });
    }
  });

  it('a create-order that times out is retried with the same key; late callbacks change nothing', async () => {
    await sim(k.simUrl, 'POST', 'faults', { path: '/payments/v1/authorizations', delay_ms: 16000, count: 1 });
    await sim(k.simUrl, 'POST', 'callbacks', { mode: 'late', delay_ms: 1500 });
    try {
      const pi = await payNowIntent(4400);
      const c = await confirmed(pi);
      const t0 = Date.now();
      const { intent } = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url });
      assert.ok(Date.now() - t0 > 14000, 'the create-order was held past kassa\'s 15 s timeout');
      assert.equal(intent.status, 'succeeded');
      assert.equal(intent.amount_received, 4400);
      // Kassa gave up on the held create-order after 15 s (so the walk took at least that);
      // the simulator handles it at 16 s, and the late callbacks arrive 1.5 s after they were
      // due: 2 s more covers both.
      await sleep(2000);
      const orders = await ordersOf([hppSession(c)]);
      assert.equal(orders.length, 1, `exactly one order: ${JSON.stringify(orders)}`);
      assert.equal(orders[0].captured_amount, 4400);
      const now = await stripe.paymentIntents.retrieve(pi.id);
      assert.equal(now.status, 'succeeded');
      assert.equal(now.amount_received, 4400);
      assert.equal((await journal(pi.id)).filter((r) => r.kind === 'sale').length, 1);
    } finally {
      await sim(k.simUrl, 'POST', 'callbacks', { mode: 'normal' });
    }
  });

  // Last: it moves the shared test clock 48 hours forward.
  it('nothing done for 48 hours -> payment_intent_payment_attempt_expired; then paid', async () => {
    const pi = await payNowIntent(1600);
    const c = await confirmed(pi);
    await fetch(c.next_action.redirect_to_url.url); // the customer opened the page, then left
    await k.advanceClock(47 * 3600);
    await sleep(300);
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'requires_action', 'not yet at 47 h');
    await k.advanceClock(3600 + 60);
    const expired = await waitUntil(async () => {
      const p = await stripe.paymentIntents.retrieve(pi.id);
      return p.status === 'requires_action' ? null : p;
    }, { what: 'the attempt to expire' });
    assert.equal(expired.status, 'requires_payment_method');
    assert.equal(expired.last_payment_error.code, 'payment_intent_payment_attempt_expired');
    assert.equal(expired.next_action, null);
    await hook.waitFor((h) => h.events().some((e) => e.type === 'payment_intent.payment_failed' && e.data.object.id === pi.id
      && e.data.object.last_payment_error.code === 'payment_intent_payment_attempt_expired'), 15000, 'payment_failed (expired)');
    const c2 = await confirmed(expired);
    const { intent } = await payKlarna(stripe, c2, k.simUrl, { kassaUrl: k.url });
    assert.equal(intent.status, 'succeeded');
    assert.equal((await ordersOf([hppSession(c), hppSession(c2)])).length, 1);
  });
});
