// Klarna Pay Later end to end (capture_method manual), through the official stripe client
// against the real binary and the Klarna simulator: approve, deny, the failing one-time code,
// pending fraud review (accepted by notification, rejected by the admin endpoint); partial
// captures (multicapture) then a final capture releasing the rest; captured order lines with
// the whole shipping fee on the first capture; cancel before and after a partial capture;
// order edits (decrease accepted, refused increase changes nothing); resend; status sync
// after a change in Klarna's portal; refunds; SEK in Sweden with its exchange rate; the
// generic `klarna` method letting the customer choose; 50 concurrent captures and refunds
// whose journal adds up; on the test clock: extensions up to 180 days, the expiry warning and
// the expiry. Last, a Pay Later Checkout Session in Chromium (playwright-core).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startKassa, startReceiver, stripeError, waitUntil } = require('./harness');
const { payKlarna, sim, simOrders, confirmKlarna } = require('./klarna');

const DAY = 86400;
const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const LINES = [
  { name: 'Wanderschuh', quantity: 2, unit_price: 4000, tax_rate: 1900, total_amount: 8000, type: 'physical', reference: 'SKU-1' },
  { name: 'Socken', quantity: 1, unit_price: 1500, tax_rate: 1900, total_amount: 1500, type: 'physical', reference: 'SKU-2' },
  { name: 'Versand', quantity: 1, unit_price: 500, tax_rate: 1900, total_amount: 500, type: 'shipping_fee', reference: 'SHIP' },
];
const LINES_TOTAL = 10000;

/** Helpers bound to one running kassa. */
function tools(k) {
  const stripe = k.stripe;
  const h = {
    async authorised(amount, { types = ['klarna_pay_later'], email = 'customer@email.de', country = 'DE', currency = 'eur', lines, walk = {}, type } = {}) {
      const pi = await stripe.paymentIntents.create({
        amount, currency, payment_method_types: types, capture_method: 'manual', ...(lines ? { order_lines: lines } : {}),
      });
      const c = await confirmKlarna(stripe, pi.id, { type: type || types[0], email, country });
      assert.equal(c.status, 'requires_action');
      const res = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, category: 'pay_later', email, ...walk });
      return { ...res, confirmed: c, created: pi };
    },
    async journal(id) {
      return (await stripe.rawRequest('GET', `/v1/payment_intents/${id}/journal`, {})).data;
    },
    post(id, what, params = {}) {
      return stripe.rawRequest('POST', `/v1/payment_intents/${id}/${what}`, params);
    },
    async order(pi) {
      assert.ok(pi.kassa.provider_order, `${pi.id} has a Klarna order`);
      return sim(k.simUrl, 'GET', `orders/${pi.kassa.provider_order}`);
    },
    async state(id, status, what) {
      return waitUntil(async () => {
        const p = await stripe.paymentIntents.retrieve(id);
        return p.status === status ? p : null;
      }, { timeoutMs: 15000, what: what || `${id} to be ${status}` });
    },
  };
  return h;
}

/** The journal's sums must equal the intent's snapshot. */
function assertJournalAddsUp(pi, rows) {
  const sum = (kind, status = 'succeeded') => rows.filter((r) => r.kind === kind && r.status === status).reduce((s, r) => s + r.amount, 0);
  assert.equal(sum('capture'), pi.amount_received, 'captures in the journal = amount_received');
  assert.equal(sum('refund_settle'), pi.kassa.amount_refunded, 'settled refunds in the journal = amount_refunded');
  assert.ok(pi.kassa.amount_refunded <= pi.amount_received, 'never refunded more than captured');
  assert.ok(pi.amount_received <= pi.amount, 'never captured more than authorised');
  assert.equal(pi.amount_received + pi.amount_capturable + pi.kassa.amount_released, pi.amount,
    'captured + capturable + released = amount');
}

describe('Klarna Pay Later', () => {
  let k;
  let stripe;
  let hook;
  let we;
  let t;
  before(async () => {
    k = await startKassa({ name: 'paylater' });
    stripe = k.stripe;
    t = tools(k);
    hook = await startReceiver();
    we = await stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
  });
  after(async () => {
    if (hook) await hook.close();
    if (k) await k.stop();
  });

  it('approve: authorised for 28 days, nothing captured yet', async () => {
    const { intent, created } = await t.authorised(LINES_TOTAL, { lines: LINES });
    assert.equal(created.capture_method, 'manual');
    assert.equal(intent.status, 'requires_capture');
    assert.equal(intent.amount_capturable, LINES_TOTAL);
    assert.equal(intent.amount_received, 0);
    assert.equal(intent.kassa.payment_method_detail, 'pay_later');
    const exp = intent.kassa.authorization_expires_at;
    assert.ok(Math.abs(exp - (intent.created + 28 * DAY)) < 120, `expires 28 days after creation: ${exp - intent.created}`);
    const o = await t.order(intent);
    assert.equal(o.status, 'AUTHORIZED');
    assert.equal(o.fraud_status, 'ACCEPTED');
    assert.equal(o.order_amount, LINES_TOTAL);
    assert.equal(o.initial_payment_method.type, 'invoice');
    assert.deepEqual(o.order_lines.map((l) => l.name), LINES.map((l) => l.name));
    await hook.waitFor((r) => r.events().some((e) => e.type === 'payment_intent.amount_capturable_updated' && e.data.object.id === intent.id),
      15000, 'payment_intent.amount_capturable_updated');
  });

  it('deny (customer+denied) and the failing code 999999 -> payment_method_provider_decline', async () => {
    for (const walk of [{ email: 'customer+denied@email.de' }, { code: '999999' }]) {
      const { intent, returnUrl, confirmed } = await t.authorised(2000, { email: walk.email, walk });
      assert.equal(new URL(returnUrl).searchParams.get('redirect_status'), 'failed');
      assert.equal(intent.status, 'requires_payment_method', JSON.stringify(walk));
      assert.equal(intent.last_payment_error.code, 'payment_method_provider_decline');
      assert.equal(intent.amount_capturable, 0);
      const sid = new URL(confirmed.next_action.redirect_to_url.url).pathname.split('/').pop();
      assert.equal((await simOrders(k.simUrl)).filter((o) => o.hpp_session_id === sid).length, 0);
    }
  });

  it('pending review: processing, then requires_capture after FRAUD_RISK_ACCEPTED', async () => {
    const { intent } = await t.authorised(3000, { email: 'customer+pending@email.de', walk: { waitPast: ['requires_action'] } });
    assert.equal(intent.status, 'processing');
    assert.equal(intent.amount_capturable, 0);
    const o = await t.order(intent);
    assert.equal(o.fraud_status, 'PENDING');
    const done = await t.state(intent.id, 'requires_capture', 'the FRAUD_RISK_ACCEPTED notification');
    assert.equal(done.amount_capturable, 3000);
    assert.equal((await t.order(done)).fraud_status, 'ACCEPTED');
    const types = hook.events().filter((e) => e.data.object.id === intent.id).map((e) => e.type);
    assert.ok(types.includes('payment_intent.processing'), types.join());
  });

  it('pending review rejected at Klarna -> payment_failed', async () => {
    const { intent } = await t.authorised(3100, { email: 'customer+pending@email.de', walk: { waitPast: ['requires_action'] } });
    assert.equal(intent.status, 'processing');
    await sim(k.simUrl, 'POST', `orders/${intent.kassa.provider_order}/fraud`, { decision: 'REJECTED' });
    const failed = await t.state(intent.id, 'requires_payment_method', 'the FRAUD_RISK_REJECTED notification');
    assert.equal(failed.last_payment_error.code, 'payment_method_provider_decline');
    assert.equal(failed.amount_capturable, 0);
    await hook.waitFor((r) => r.events().some((e) => e.type === 'payment_intent.payment_failed' && e.data.object.id === intent.id),
      15000, 'payment_intent.payment_failed');
  });

  it('multicapture: partial captures with final_capture=false, then a final capture releases the rest', async () => {
    const { intent } = await t.authorised(10000);
    const c1 = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 3000, final_capture: false });
    assert.equal(c1.status, 'requires_capture');
    assert.equal(c1.amount_received, 3000);
    assert.equal(c1.amount_capturable, 7000);
    const c2 = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 2000, final_capture: false });
    assert.equal(c2.amount_received, 5000);
    assert.equal(c2.amount_capturable, 5000);
    const tooMuch = await stripeError(stripe.paymentIntents.capture(intent.id, { amount_to_capture: 5001, final_capture: false }));
    assert.equal(tooMuch.statusCode, 400);
    assert.equal(tooMuch.param, 'amount_to_capture');
    const c3 = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 1000 });
    assert.equal(c3.status, 'succeeded');
    assert.equal(c3.amount_received, 6000);
    assert.equal(c3.amount_capturable, 0);
    assert.equal(c3.kassa.amount_released, 4000);
    const rows = await t.journal(intent.id);
    assert.deepEqual(rows.filter((r) => r.kind === 'capture').map((r) => r.amount), [3000, 2000, 1000]);
    const rel = rows.filter((r) => r.kind === 'release');
    assert.equal(rel.length, 1);
    assert.equal(rel[0].amount, 4000);
    assertJournalAddsUp(c3, rows);
    const o = await t.order(c3);
    assert.equal(o.captured_amount, 6000);
    assert.equal(o.captures.length, 3);
    assert.equal(o.status, 'CAPTURED', 'the remaining authorisation was released at Klarna');
    const again = await stripeError(stripe.paymentIntents.capture(intent.id, { amount_to_capture: 1 }));
    assert.equal(again.code, 'payment_intent_unexpected_state');
  });

  it('captured order lines: the whole shipping fee goes with the first capture', async () => {
    const { intent } = await t.authorised(LINES_TOTAL, { lines: LINES });
    const first = await stripe.paymentIntents.capture(intent.id, { order_lines: [LINES[1]], final_capture: false });
    assert.equal(first.amount_received, 1500 + 500, 'socks and the shipping fee');
    assert.equal(first.status, 'requires_capture');
    const second = await stripe.paymentIntents.capture(intent.id, { order_lines: [LINES[0]] });
    assert.equal(second.amount_received, 10000, 'shoes only: no second shipping fee');
    assert.equal(second.status, 'succeeded');
    assert.equal(second.amount_capturable, 0);
    const caps = (await t.journal(intent.id)).filter((r) => r.kind === 'capture').map((r) => r.amount);
    assert.deepEqual(caps, [2000, 8000]);
    assert.deepEqual((await t.order(second)).captures.map((c) => c.captured_amount), [2000, 8000]);
  });

  it('cancel before any capture: canceled, the order cancelled at Klarna', async () => {
    const { intent } = await t.authorised(2500);
    const c = await stripe.paymentIntents.cancel(intent.id, { cancellation_reason: 'requested_by_customer' });
    assert.equal(c.status, 'canceled');
    assert.equal(c.amount_capturable, 0);
    assert.equal(c.cancellation_reason, 'requested_by_customer');
    assert.ok(c.canceled_at > 0);
    assert.equal((await t.order(c)).status, 'CANCELLED');
    const cap = await stripeError(stripe.paymentIntents.capture(intent.id));
    assert.equal(cap.code, 'payment_intent_unexpected_state');
  });

  it('cancel after a partial capture: succeeded, the remainder released', async () => {
    const { intent } = await t.authorised(4000);
    await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 1500, final_capture: false });
    const c = await stripe.paymentIntents.cancel(intent.id);
    assert.equal(c.status, 'succeeded');
    assert.equal(c.amount_received, 1500);
    assert.equal(c.amount_capturable, 0);
    assert.equal(c.kassa.amount_released, 2500);
    const o = await t.order(c);
    assert.equal(o.status, 'CAPTURED');
    assert.equal(o.captured_amount, 1500);
    assertJournalAddsUp(c, await t.journal(intent.id));
  });

  it('order edits: a decrease is accepted, a refused increase (402) changes nothing', async () => {
    const { intent } = await t.authorised(LINES_TOTAL, { lines: LINES });
    const smaller = [{ ...LINES[0], quantity: 1, total_amount: 4000 }, LINES[2]];
    const dec = await t.post(intent.id, 'order', { order_lines: smaller });
    assert.equal(dec.amount, 4500);
    assert.equal(dec.amount_capturable, 4500);
    assert.equal(dec.status, 'requires_capture');
    assert.deepEqual(dec.kassa.order_lines.map((l) => l.total_amount), [4000, 500]);
    let o = await t.order(dec);
    assert.equal(o.order_amount, 4500);
    assert.deepEqual(o.order_lines.map((l) => l.total_amount), [4000, 500]);

    const bigger = [{ ...LINES[0], quantity: 3, total_amount: 12000 }, LINES[1], LINES[2]]; // +40 %: refused
    const e = await stripeError(t.post(intent.id, 'order', { order_lines: bigger }));
    assert.equal(e.statusCode, 402);
    assert.match(e.message, /NOT_ALLOWED/);
    const same = await stripe.paymentIntents.retrieve(intent.id);
    assert.equal(same.amount, 4500);
    assert.equal(same.amount_capturable, 4500);
    assert.deepEqual(same.kassa.order_lines.map((l) => l.total_amount), [4000, 500]);
    o = await t.order(same);
    assert.equal(o.order_amount, 4500);
    const adjust = (await t.journal(intent.id)).filter((r) => r.kind === 'adjust');
    assert.deepEqual(adjust.map((r) => r.amount), [4500], 'only the accepted edit is journaled');
  });

  it('resend instructions: refused before any capture, accepted after one', async () => {
    const { intent } = await t.authorised(2200);
    const e = await stripeError(t.post(intent.id, 'resend_instructions'));
    assert.equal(e.statusCode, 402);
    await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 2200 });
    const ok = await t.post(intent.id, 'resend_instructions');
    assert.equal(ok.id, intent.id);
    assert.equal(ok.status, 'succeeded');
  });

  it('status sync: an amount changed in Klarna\'s portal is applied by sync, with a webhook', async () => {
    const { intent } = await t.authorised(5000);
    await sim(k.simUrl, 'POST', `orders/${intent.kassa.provider_order}/amount`, { order_amount: 4200 });
    const before = hook.events().filter((e) => e.data.object.id === intent.id).length;
    const s = await t.post(intent.id, 'sync');
    assert.equal(s.amount, 4200);
    assert.equal(s.amount_capturable, 4200);
    assert.equal(s.status, 'requires_capture');
    await hook.waitFor((r) => r.events().filter((e) => e.data.object.id === intent.id).slice(before)
      .some((e) => e.type === 'payment_intent.amount_capturable_updated' && e.data.object.amount === 4200), 15000, 'a webhook with the new amount');
    const adj = (await t.journal(intent.id)).filter((r) => r.kind === 'adjust');
    assert.equal(adj.length, 1);
    assert.equal(adj[0].amount, 4200);
    const again = await t.post(intent.id, 'sync');
    assert.equal(again.amount, 4200);
    assert.equal((await t.journal(intent.id)).filter((r) => r.kind === 'adjust').length, 1, 'a second sync changes nothing');
  });

  it('refunds: partial, several, full; never above what was captured', async () => {
    const { intent } = await t.authorised(6000);
    const none = await stripeError(stripe.refunds.create({ payment_intent: intent.id, amount: 100 }));
    assert.equal(none.statusCode, 400, 'nothing captured yet');
    await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 4000, final_capture: false });
    const over = await stripeError(stripe.refunds.create({ payment_intent: intent.id, amount: 4001 }));
    assert.equal(over.code, 'amount_too_large');
    for (const amount of [500, 700, 800]) {
      const r = await stripe.refunds.create({ payment_intent: intent.id, amount });
      assert.equal(r.amount, amount);
    }
    await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 2000 });
    const rest = await stripe.refunds.create({ payment_intent: intent.id });
    assert.equal(rest.amount, 6000 - 2000, 'the default is all that is left');
    const done = await waitUntil(async () => {
      const p = await stripe.paymentIntents.retrieve(intent.id);
      return p.kassa.amount_refunded === 6000 ? p : null;
    }, { what: 'refunds to settle' });
    assert.equal((await stripeError(stripe.refunds.create({ payment_intent: intent.id, amount: 1 }))).statusCode, 400);
    const o = await t.order(done);
    assert.equal(o.refunded_amount, 6000);
    assert.equal(o.refunds.length, 4);
    assertJournalAddsUp(done, await t.journal(intent.id));
  });

  it('Sweden: SE with EUR refused, SE with SEK accepted with its exchange rate recorded', async () => {
    const eur = await stripe.paymentIntents.create({ amount: 5000, currency: 'eur', payment_method_types: ['klarna_pay_later'], capture_method: 'manual' });
    const before = (await simOrders(k.simUrl)).length;
    const e = await stripeError(confirmKlarna(stripe, eur.id, { type: 'klarna_pay_later', country: 'SE', email: 'customer@email.se' }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.param, 'currency');
    assert.equal(e.code, 'payment_method_not_available');
    assert.match(e.message, /SE.*SEK/);
    assert.equal((await stripe.paymentIntents.retrieve(eur.id)).payment_method, null, 'no attempt started');
    const { intent } = await t.authorised(50000, { currency: 'sek', country: 'SE', email: 'customer@email.se' });
    assert.equal(intent.status, 'requires_capture');
    assert.equal(intent.currency, 'sek');
    assert.equal(intent.kassa.exchange_rate_to_eur, '0.088');
    const o = await t.order(intent);
    assert.equal(o.purchase_currency, 'SEK');
    assert.equal(o.purchase_country, 'SE');
    assert.equal((await simOrders(k.simUrl)).length, before + 1);
  });

  it('generic klarna: the customer chooses Pay Later or Pay Now on Klarna\'s page', async () => {
    const trace = [];
    const later = await t.authorised(3500, { types: ['klarna'], walk: { trace } });
    assert.equal(trace[0].step, 'method');
    assert.deepEqual(trace[0].radios.category, ['pay_now', 'pay_later', 'pay_over_time']);
    assert.equal(later.intent.status, 'requires_capture');
    assert.equal(later.intent.kassa.payment_method_detail, 'pay_later');
    assert.equal((await t.order(later.intent)).initial_payment_method.type, 'invoice');

    const pi = await stripe.paymentIntents.create({ amount: 3600, currency: 'eur', payment_method_types: ['klarna'] });
    const c = await confirmKlarna(stripe, pi.id, { type: 'klarna' });
    const now = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, category: 'pay_now' });
    assert.equal(now.intent.status, 'succeeded');
    assert.equal(now.intent.kassa.payment_method_detail, 'pay_now');
    assert.equal((await t.order(now.intent)).initial_payment_method.type, 'direct_bank_transfer');
  });

  it('concurrency: 50 simultaneous partial captures and refunds never exceed authorised or captured', async () => {
    const { intent } = await t.authorised(10000);
    const ops = [];
    for (let i = 0; i < 50; i++) {
      ops.push(i % 5 < 3
        ? stripe.paymentIntents.capture(intent.id, { amount_to_capture: 500, final_capture: false }).then(() => ['capture', 500])
        : stripe.refunds.create({ payment_intent: intent.id, amount: 400 }).then(() => ['refund', 400]));
    }
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === 'rejected') {
        assert.ok(r.reason && r.reason.statusCode === 400
          && ['amount_too_large', 'payment_intent_unexpected_state', 'charge_already_refunded'].includes(r.reason.code),
        `an orderly refusal: ${r.reason && r.reason.statusCode} ${r.reason && r.reason.code} ${r.reason && r.reason.message}`);
      }
    }
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const captured = ok.filter(([kind]) => kind === 'capture').reduce((s, [, a]) => s + a, 0);
    const refunded = ok.filter(([kind]) => kind === 'refund').reduce((s, [, a]) => s + a, 0);
    // 30 captures of 5.00 against 100.00: exactly 20 fit, the other 10 are refused.
    assert.equal(captured, 10000, `captured ${captured}`);
    assert.equal(ok.filter(([kind]) => kind === 'capture').length, 20);
    const p = await waitUntil(async () => {
      const x = await stripe.paymentIntents.retrieve(intent.id);
      const rs = (await stripe.refunds.list({ payment_intent: intent.id, limit: 100 })).data;
      return rs.every((r) => r.status !== 'pending') ? x : null;
    }, { what: 'refunds to settle' });
    assert.equal(p.amount_received, captured, 'every answered capture is in amount_received');
    assert.ok(p.kassa.amount_refunded <= p.amount_received);
    assert.ok(refunded >= p.kassa.amount_refunded);
    assertJournalAddsUp(p, await t.journal(intent.id));
    const o = await t.order(p);
    assert.equal(o.captured_amount, p.amount_received, 'Klarna captured what Kassa says');
    assert.equal(o.refunded_amount, p.kassa.amount_refunded, 'Klarna refunded what Kassa says');
    assert.ok(o.captured_amount <= o.order_amount);
  });

  it('webhooks of this file are all signed with the endpoint secret', () => {
    assert.ok(hook.accepted().length > 10);
    for (const q of hook.accepted()) stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], we.secret);
  });
});

describe('Klarna Pay Later on the test clock', () => {
  let k;
  let stripe;
  let hook;
  let t;
  before(async () => {
    k = await startKassa({ name: 'paylater-clock' });
    stripe = k.stripe;
    t = tools(k);
    hook = await startReceiver();
    await stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
  });
  after(async () => {
    if (hook) await hook.close();
    if (k) await k.stop();
  });

  it('extension: the expiry moves, never beyond 180 days after creation; refused after expiry', async () => {
    const { intent } = await t.authorised(2000);
    const created = intent.created;
    const late = await t.authorised(2100); // expires while the first one is extended
    let exp = intent.kassa.authorization_expires_at;
    let now = await k.advanceClock(10 * DAY);
    let p = await t.post(intent.id, 'extend_authorization');
    assert.ok(p.kassa.authorization_expires_at > exp, 'the expiry moved');
    assert.ok(Math.abs(p.kassa.authorization_expires_at - (now + 28 * DAY)) < 120, 'now + 28 days');
    assert.equal((await t.order(p)).expires_at.slice(0, 10), new Date(p.kassa.authorization_expires_at * 1000).toISOString().slice(0, 10));
    await hook.waitFor((r) => r.events().some((e) => e.type === 'payment_intent.authorization_extended' && e.data.object.id === intent.id),
      15000, 'payment_intent.authorization_extended');
    exp = p.kassa.authorization_expires_at;
    for (let i = 0; i < 6; i++) {
      now = await k.advanceClock(27 * DAY);
      p = await t.post(intent.id, 'extend_authorization');
      assert.equal(p.status, 'requires_capture');
      assert.ok(p.kassa.authorization_expires_at > exp, `extension ${i + 2} moved the expiry`);
      assert.ok(p.kassa.authorization_expires_at <= created + 180 * DAY, 'never beyond 180 days after creation');
      exp = p.kassa.authorization_expires_at;
    }
    assert.ok(exp > created + 179 * DAY, `the last extension reached the ceiling: ${(exp - created) / DAY} days`);
    const e = await stripeError(t.post(intent.id, 'extend_authorization'));
    assert.equal(e.statusCode, 400);
    assert.equal((await stripe.paymentIntents.retrieve(intent.id)).kassa.authorization_expires_at, exp, 'unchanged');
    const ext = (await t.journal(intent.id)).filter((r) => r.kind === 'extend');
    assert.equal(ext.length, 7);

    const expired = await stripe.paymentIntents.retrieve(late.intent.id);
    assert.equal(expired.status, 'canceled', 'the other authorisation expired meanwhile');
    const refused = await stripeError(t.post(late.intent.id, 'extend_authorization'));
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.code, 'payment_intent_unexpected_state');
    // Captured within the extended authorisation, still works at day ~172.
    const cap = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 2000 });
    assert.equal(cap.status, 'succeeded');
  });

  it('expiry by the clock: the warning webhook first, then canceled with payment_intent.canceled', async () => {
    const { intent } = await t.authorised(2700);
    const exp = intent.kassa.authorization_expires_at;
    const now0 = await k.advanceClock(0);
    await k.advanceClock(exp - now0 - 3 * DAY + 3600); // inside the 3-day warning window
    const warned = await hook.waitFor((r) => r.events().find((e) => e.type === 'payment_intent.authorization_expiring' && e.data.object.id === intent.id),
      15000, 'payment_intent.authorization_expiring');
    assert.equal(warned.data.object.status, 'requires_capture');
    assert.equal(warned.data.object.kassa.authorization_expires_at, exp);
    assert.equal((await stripe.paymentIntents.retrieve(intent.id)).status, 'requires_capture', 'still capturable when warned');
    assert.ok(!hook.events().some((e) => e.type === 'payment_intent.canceled' && e.data.object.id === intent.id));
    await k.advanceClock(3 * DAY);
    const c = await t.state(intent.id, 'canceled', 'the authorisation to expire');
    assert.equal(c.amount_capturable, 0);
    assert.equal(c.cancellation_reason, 'automatic');
    await hook.waitFor((r) => r.events().some((e) => e.type === 'payment_intent.canceled' && e.data.object.id === intent.id),
      15000, 'payment_intent.canceled');
    const types = hook.events().filter((e) => e.data.object.id === intent.id).map((e) => e.type);
    assert.ok(types.indexOf('payment_intent.authorization_expiring') < types.indexOf('payment_intent.canceled'), types.join());
    assert.equal(types.filter((x) => x === 'payment_intent.authorization_expiring').length, 1, 'warned once');
    const rows = await t.journal(intent.id);
    assert.deepEqual(rows.filter((r) => r.kind === 'expire').map((r) => r.amount), [2700]);
    assert.equal((await t.order(c)).status, 'EXPIRED');
  });
});

describe('Pay Later Checkout Session in Chromium', () => {
  let k;
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    k = await startKassa({ name: 'paylater-checkout' });
  });
  after(async () => {
    if (k) await k.stop();
  });

  it('hosted page -> Klarna e-mail -> code -> back -> result page; authorised, not captured', async () => {
    const { chromium } = require('playwright-core');
    const s = await k.stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'eur', unit_amount: 2990, product_data: { name: 'Regenjacke' } }, quantity: 1 }],
      success_url: 'http://127.0.0.1:9/shop/thanks?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://127.0.0.1:9/shop/cart',
      payment_method_types: ['klarna_pay_later'],
      payment_intent_data: { capture_method: 'manual' },
      customer_email: 'customer@email.de',
      client_reference_id: 'order-2002',
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, locale: 'en-GB' });
    const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `paylater-${name}.png`), fullPage: true });
    try {
      const page = ctx.pages()[0] || await ctx.newPage();
      page.setDefaultTimeout(15000);
      const res = await page.goto(s.url);
      assert.equal(res.status(), 200);
      await page.getByLabel('Country').selectOption('DE');
      await page.getByLabel('Klarna — Pay later').check();
      await shot(page, '1-hosted-page');
      await page.getByRole('button', { name: 'Pay €29.90' }).click();
      await page.getByRole('heading', { name: 'When do you want to pay?' }).waitFor();
      await shot(page, '2-klarna-option');
      await page.getByLabel('Pay in 30 days').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Your e-mail address' }).waitFor();
      await page.getByLabel('E-mail').fill('customer@email.de');
      await shot(page, '3-klarna-email');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Enter the code we sent you' }).waitFor();
      await page.getByLabel('6-digit code').fill('123456');
      await shot(page, '4-klarna-code');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await page.waitForURL(/\/c\/done\/cs_/);
      await page.getByRole('heading', { name: 'Payment received' }).waitFor({ timeout: 20000 });
      const done = await page.textContent('main');
      assert.match(done, /29\.90/);
      assert.match(done, /order-2002/);
      await shot(page, '5-result');
      const cs = await k.stripe.checkout.sessions.retrieve(s.id);
      assert.equal(cs.status, 'complete');
      const pi = await k.stripe.paymentIntents.retrieve(cs.payment_intent);
      assert.equal(pi.status, 'requires_capture');
      assert.equal(pi.capture_method, 'manual');
      assert.equal(pi.amount_capturable, 2990);
      assert.equal(pi.kassa.payment_method_type, 'klarna_pay_later');
      const cap = await k.stripe.paymentIntents.capture(pi.id);
      assert.equal(cap.status, 'succeeded');
      assert.equal(cap.amount_received, 2990);
    } finally {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
