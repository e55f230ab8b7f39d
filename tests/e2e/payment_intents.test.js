// PaymentIntents through the official stripe client against the real kassa binary: every
// endpoint (create, retrieve, update, confirm, capture, cancel, list), metadata, expand[],
// Stripe-Version, auth, and each documented error case with its status/type/code/param.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, stripeError, Stripe, newStripe } = require('./harness');

describe('payment intents', () => {
  let k;
  let stripe;
  before(async () => {
    k = await startKassa({ name: 'payment_intents' });
    stripe = k.stripe;
  });
  after(async () => {
    if (k) await k.stop();
  });

  const base = () => ({ amount: 2500, currency: 'eur', payment_method_types: ['klarna'] });

  it('create returns a whole payment_intent', async () => {
    const before_s = Math.floor(Date.now() / 1000) - 5;
    const pi = await stripe.paymentIntents.create({
      ...base(),
      description: 'Order #1002',
      metadata: { order_id: '1002', 'note key': 'a&b=c' },
    });
    assert.match(pi.id, /^pi_/);
    assert.equal(pi.object, 'payment_intent');
    assert.equal(pi.amount, 2500);
    assert.equal(pi.currency, 'eur');
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.capture_method, 'automatic');
    assert.equal(pi.amount_capturable, 0);
    assert.equal(pi.amount_received, 0);
    assert.ok(pi.client_secret.startsWith(`${pi.id}_secret_`), pi.client_secret);
    assert.equal(pi.livemode, false);
    assert.equal(typeof pi.created, 'number');
    assert.ok(pi.created >= before_s && pi.created <= Math.floor(Date.now() / 1000) + 5, `created ${pi.created}`);
    assert.deepEqual(pi.metadata, { order_id: '1002', 'note key': 'a&b=c' });
    assert.equal(pi.description, 'Order #1002');
    assert.deepEqual(pi.payment_method_types, ['klarna']);
    assert.equal(pi.next_action, null);
    assert.equal(pi.last_payment_error, null);
    assert.equal(pi.payment_method, null);
    assert.equal(pi.canceled_at, null);
  });

  it('create without metadata has metadata {} and capture_method manual is kept', async () => {
    const pi = await stripe.paymentIntents.create({ ...base(), capture_method: 'manual' });
    assert.deepEqual(pi.metadata, {});
    assert.equal(pi.capture_method, 'manual');
    assert.equal(pi.status, 'requires_payment_method');
  });

  it('retrieve returns the same object; expand[] is accepted', async () => {
    const pi = await stripe.paymentIntents.create({ ...base(), metadata: { a: '1' } });
    const got = await stripe.paymentIntents.retrieve(pi.id);
    assert.deepEqual(got, pi);
    const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    assert.equal(expanded.id, pi.id);
    assert.equal(expanded.amount, 2500);
  });

  it('any Stripe-Version is accepted, and none at all', async () => {
    const old = new Stripe(k.secretKey, {
      host: '127.0.0.1', port: Number(new URL(k.url).port), protocol: 'http', maxNetworkRetries: 0,
      apiVersion: '2020-08-27',
    });
    const pi = await old.paymentIntents.create(base());
    assert.equal(pi.status, 'requires_payment_method');
    const r = await k.http('GET', `/v1/payment_intents/${pi.id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, pi.id);
  });

  it('HTTP Basic auth with the key as user works', async () => {
    const pi = await stripe.paymentIntents.create(base());
    const basic = Buffer.from(`${k.secretKey}:`).toString('base64');
    const r = await k.http('GET', `/v1/payment_intents/${pi.id}`, { auth: null, headers: { Authorization: `Basic ${basic}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, pi.id);
  });

  it('update: metadata set, change, unset with empty string; description; amount', async () => {
    const pi = await stripe.paymentIntents.create({ ...base(), metadata: { keep: 'k', change: 'old', drop: 'x' } });
    const u1 = await stripe.paymentIntents.update(pi.id, {
      metadata: { change: 'new', drop: '', added: 'yes' },
      description: 'updated description',
      amount: 3100,
    });
    assert.equal(u1.id, pi.id);
    assert.deepEqual(u1.metadata, { keep: 'k', change: 'new', added: 'yes' });
    assert.equal(u1.description, 'updated description');
    assert.equal(u1.amount, 3100);
    const got = await stripe.paymentIntents.retrieve(pi.id);
    assert.deepEqual(got.metadata, { keep: 'k', change: 'new', added: 'yes' });
    assert.equal(got.amount, 3100);
    assert.equal(got.description, 'updated description');
    // Unsetting the whole metadata object with '' clears it.
    const u2 = await stripe.paymentIntents.update(pi.id, { metadata: '' });
    assert.deepEqual(u2.metadata, {});
  });

  it('confirm with klarna answers requires_action with a redirect to the simulator', async () => {
    const pi = await stripe.paymentIntents.create(base());
    const c = await stripe.paymentIntents.confirm(pi.id, {
      payment_method_data: {
        type: 'klarna',
        billing_details: { email: 'customer@email.de', address: { country: 'DE' } },
      },
      return_url: 'http://127.0.0.1:9/return',
    });
    assert.equal(c.id, pi.id);
    assert.equal(c.status, 'requires_action');
    assert.equal(c.next_action.type, 'redirect_to_url');
    const url = new URL(c.next_action.redirect_to_url.url);
    const sim = new URL(k.simUrl);
    assert.equal(url.protocol, 'http:');
    assert.equal(url.host, sim.host, `redirect ${url} should be on the simulator ${k.simUrl}`);
    assert.equal(c.next_action.redirect_to_url.return_url, 'http://127.0.0.1:9/return');
    assert.ok(c.payment_method, 'payment_method set after confirm');
    const got = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(got.status, 'requires_action');
    const page = await fetch(url, { redirect: 'manual' });
    assert.ok(page.status < 400, `simulator page answered ${page.status}`);
  });

  it('cancel: requires_payment_method -> canceled; a second cancel is an unexpected state', async () => {
    const pi = await stripe.paymentIntents.create(base());
    const c = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' });
    assert.equal(c.status, 'canceled');
    assert.equal(c.cancellation_reason, 'requested_by_customer');
    assert.equal(typeof c.canceled_at, 'number');
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'canceled');
    const e = await stripeError(stripe.paymentIntents.cancel(pi.id));
    assert.equal(e.statusCode, 400);
    assert.equal(e.type, 'StripeInvalidRequestError');
    assert.equal(e.code, 'payment_intent_unexpected_state');
  });

  it('cancel of a requires_action intent works', async () => {
    const pi = await stripe.paymentIntents.create(base());
    await stripe.paymentIntents.confirm(pi.id, {
      payment_method_data: { type: 'klarna', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
      return_url: 'http://127.0.0.1:9/return',
    });
    const c = await stripe.paymentIntents.cancel(pi.id);
    assert.equal(c.status, 'canceled');
    assert.equal(c.next_action, null);
  });

  it('capture of a requires_payment_method intent -> 400 payment_intent_unexpected_state', async () => {
    const pi = await stripe.paymentIntents.create({ ...base(), capture_method: 'manual' });
    const e = await stripeError(stripe.paymentIntents.capture(pi.id));
    assert.equal(e.statusCode, 400);
    assert.equal(e.type, 'StripeInvalidRequestError');
    assert.equal(e.rawType, 'invalid_request_error');
    assert.equal(e.code, 'payment_intent_unexpected_state');
  });

  it('refund of an intent without a charge -> 400 payment_intent_unexpected_state', async () => {
    const pi = await stripe.paymentIntents.create(base());
    const e = await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 500 }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.rawType, 'invalid_request_error');
    assert.equal(e.code, 'payment_intent_unexpected_state');
  });

  it('list: newest first, limit, has_more, url', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await stripe.paymentIntents.create(base())).id);
    const page = await stripe.paymentIntents.list({ limit: 3 });
    assert.equal(page.object, 'list');
    assert.equal(page.url, '/v1/payment_intents');
    assert.equal(page.has_more, true);
    assert.deepEqual(page.data.map((p) => p.id), ids.slice(1).reverse());
    const dflt = await stripe.paymentIntents.list();
    assert.ok(dflt.data.length <= 10 && dflt.data.length >= 4);
    assert.equal(dflt.data[0].id, ids[3]);
    for (const bad of [0, 101]) {
      const e = await stripeError(stripe.paymentIntents.list({ limit: bad }));
      assert.equal(e.statusCode, 400, `limit=${bad}`);
      assert.equal(e.param, 'limit');
    }
  });

  describe('errors', () => {
    async function createErr(params) {
      return stripeError(stripe.paymentIntents.create(params));
    }
    function assert400(e, code, param) {
      assert.equal(e.statusCode, 400, e.message);
      assert.equal(e.type, 'StripeInvalidRequestError');
      assert.equal(e.rawType, 'invalid_request_error');
      assert.equal(e.code, code, e.message);
      if (param !== undefined) assert.equal(e.param, param, e.message);
      assert.equal(typeof e.message, 'string');
      assert.ok(e.message.length > 0);
    }

    it('missing amount / currency -> parameter_missing', async () => {
      assert400(await createErr({ currency: 'eur', payment_method_types: ['klarna'] }), 'parameter_missing', 'amount');
      assert400(await createErr({ amount: 100, payment_method_types: ['klarna'] }), 'parameter_missing', 'currency');
    });

    it('unknown parameter -> parameter_unknown', async () => {
      const e = await createErr({ ...base(), frobnicate: 'yes' });
      assert400(e, 'parameter_unknown', 'frobnicate');
      assert.equal(e.message, 'Received unknown parameter: frobnicate');
    });

    it('non-integer amount -> parameter_invalid_integer', async () => {
      for (const amount of ['abc', '12.5', '1e3', '10abc']) {
        assert400(await createErr({ ...base(), amount }), 'parameter_invalid_integer', 'amount');
      }
    });

    it('amount <= 0 -> amount_too_small; above 99999999 -> amount_too_large', async () => {
      assert400(await createErr({ ...base(), amount: 0 }), 'amount_too_small', 'amount');
      assert400(await createErr({ ...base(), amount: -5 }), 'amount_too_small', 'amount');
      assert400(await createErr({ ...base(), amount: 100000000 }), 'amount_too_large', 'amount');
      const ok = await stripe.paymentIntents.create({ ...base(), amount: 99999999 });
      assert.equal(ok.amount, 99999999);
      assert400(await stripeError(stripe.paymentIntents.update(ok.id, { amount: 0 })), 'amount_too_small', 'amount');
    });

    it('unsupported currency -> 400 param currency', async () => {
      const e = await createErr({ ...base(), currency: 'xyz' });
      assert.equal(e.statusCode, 400);
      assert.equal(e.rawType, 'invalid_request_error');
      assert.equal(e.param, 'currency');
    });

    it('bad key -> 401 StripeAuthenticationError; no key -> 401', async () => {
      const bad = newStripe('sk_test_not_a_real_key', k.url);
      const e = await stripeError(bad.paymentIntents.list());
      assert.equal(e.statusCode, 401);
      assert.equal(e.type, 'StripeAuthenticationError');
      const r = await k.http('GET', '/v1/payment_intents', { auth: null });
      assert.equal(r.status, 401);
      assert.equal(typeof r.json.error.message, 'string');
    });

    it('unknown id -> 404 resource_missing param id on every endpoint', async () => {
      const id = 'pi_doesnotexist000000';
      const calls = [
        () => stripe.paymentIntents.retrieve(id),
        () => stripe.paymentIntents.update(id, { description: 'x' }),
        () => stripe.paymentIntents.confirm(id, { payment_method_data: { type: 'klarna' }, return_url: 'http://127.0.0.1:9/r' }),
        () => stripe.paymentIntents.capture(id),
        () => stripe.paymentIntents.cancel(id),
      ];
      for (const call of calls) {
        const e = await stripeError(call());
        assert.equal(e.statusCode, 404, e.message);
        assert.equal(e.type, 'StripeInvalidRequestError');
        assert.equal(e.code, 'resource_missing');
        assert.equal(e.param, 'id');
      }
    });

    it("another merchant's intent is not found", async () => {
      const pi = await stripe.paymentIntents.create(base());
      const other = await k.createMerchant('other shop');
      const s2 = k.stripeFor(other.secret_key);
      const e = await stripeError(s2.paymentIntents.retrieve(pi.id));
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, 'resource_missing');
      const list = await s2.paymentIntents.list({ limit: 100 });
      assert.equal(list.data.length, 0);
    });

    it('error body has the Stripe shape', async () => {
      const r = await k.http('POST', '/v1/payment_intents', { body: 'currency=eur' });
      assert.equal(r.status, 400);
      assert.match(r.headers.get('content-type') || '', /application\/json/);
      assert.ok(r.json && r.json.error, r.text);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.code, 'parameter_missing');
      assert.equal(r.json.error.param, 'amount');
      assert.equal(typeof r.json.error.message, 'string');
    });

    it('malformed body -> 400', async () => {
      for (const body of ['amount=%ZZ&currency=eur', 'amount=100&currency=eur&metadata[a=1', 'metadata[a][b][c][d][e][f][g][h][i][j]=1&amount=1&currency=eur']) {
        const r = await k.http('POST', '/v1/payment_intents', { body });
        assert.equal(r.status, 400, `${body} -> ${r.status} ${r.text}`);
        assert.ok(r.json && r.json.error, r.text);
      }
    });

    it('body over 256 KiB -> 413', async () => {
      const body = `amount=100&currency=eur&description=${'x'.repeat(300 * 1024)}`;
      const r = await k.http('POST', '/v1/payment_intents', { body });
      assert.equal(r.status, 413, r.text.slice(0, 300));
    });

    it('curl-style [] arrays and + as space are accepted', async () => {
      const r = await k.http('POST', '/v1/payment_intents', {
        body: 'amount=700&currency=eur&payment_method_types[]=klarna&description=two+words&metadata%5Bk%5D=v',
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.payment_method_types, ['klarna']);
      assert.equal(r.json.description, 'two words');
      assert.deepEqual(r.json.metadata, { k: 'v' });
    });
  });
});
