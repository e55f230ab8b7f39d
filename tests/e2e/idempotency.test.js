// Idempotency-Key on mutating calls: replays return the identical body with
// `Idempotent-Replayed: true`, other params with the same key are an idempotency_error,
// concurrent duplicates create exactly one object, and keys are scoped per merchant.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, stripeError } = require('./harness');

describe('idempotency', () => {
  let k;
  let stripe;
  before(async () => {
    k = await startKassa({ name: 'idempotency' });
    stripe = k.stripe;
  });
  after(async () => {
    if (k) await k.stop();
  });

  async function countByMarker(s, marker) {
    const all = await s.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 10000 });
    return all.filter((p) => p.metadata && p.metadata.marker === marker);
  }

  it('a replay returns the identical body with Idempotent-Replayed: true', async () => {
    const params = { amount: 1234, currency: 'eur', payment_method_types: ['klarna'], metadata: { marker: 'replay' } };
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'replay-key-1' });
    assert.notEqual(first.lastResponse.headers['idempotent-replayed'], 'true');
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: 'replay-key-1' });
    assert.deepEqual(second, first);
    assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal((await countByMarker(stripe, 'replay')).length, 1);
  });

  it('replayed bytes are identical (raw HTTP)', async () => {
    const body = 'amount=555&currency=eur&payment_method_types[0]=klarna&metadata[marker]=raw';
    const h = { 'Idempotency-Key': 'raw-key-1' };
    const a = await k.http('POST', '/v1/payment_intents', { body, headers: h });
    assert.equal(a.status, 200, a.text);
    const b = await k.http('POST', '/v1/payment_intents', { body, headers: h });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.text, a.text);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal((await countByMarker(stripe, 'raw')).length, 1);
  });

  it('replays work on other mutating endpoints (cancel)', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 100, currency: 'eur', payment_method_types: ['klarna'] });
    const c1 = await stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: `cancel-${pi.id}` });
    assert.equal(c1.status, 'canceled');
    const c2 = await stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: `cancel-${pi.id}` });
    assert.deepEqual(c2, c1);
    assert.equal(c2.lastResponse.headers['idempotent-replayed'], 'true');
  });

  it('same key with other params -> 400 idempotency_error', async () => {
    const params = { amount: 1000, currency: 'eur', payment_method_types: ['klarna'], metadata: { marker: 'mismatch' } };
    await stripe.paymentIntents.create(params, { idempotencyKey: 'mismatch-key' });
    const e = await stripeError(stripe.paymentIntents.create({ ...params, amount: 2000 }, { idempotencyKey: 'mismatch-key' }));
    assert.equal(e.type, 'StripeIdempotencyError');
    assert.equal(e.rawType, 'idempotency_error');
    assert.equal(e.statusCode, 400);
    // the same key on another endpoint is a mismatch too
    const pi = (await countByMarker(stripe, 'mismatch'))[0];
    const e2 = await stripeError(stripe.paymentIntents.update(pi.id, { description: 'x' }, { idempotencyKey: 'mismatch-key' }));
    assert.equal(e2.rawType, 'idempotency_error');
    const still = await countByMarker(stripe, 'mismatch');
    assert.equal(still.length, 1);
    assert.equal(still[0].amount, 1000);
    assert.equal(still[0].description, null);
  });

  it('20 concurrent identical requests with one key create exactly one intent', async () => {
    const body = 'amount=4200&currency=eur&payment_method_types[0]=klarna&metadata[marker]=concurrent';
    const h = { 'Idempotency-Key': 'concurrent-key-1' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => k.http('POST', '/v1/payment_intents', { body, headers: h })));
    const ok = answers.filter((r) => r.status === 200);
    const busy = answers.filter((r) => r.status === 409);
    assert.equal(ok.length + busy.length, 20, `statuses: ${answers.map((r) => r.status).join(',')}`);
    assert.ok(ok.length >= 1, 'at least one request succeeded');
    for (const r of ok) assert.equal(r.text, ok[0].text, 'every 200 answer is the same body');
    const fresh = ok.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
    assert.ok(fresh.length <= 1, `${fresh.length} answers claim to be first`);
    for (const r of busy) {
      assert.equal(r.json.error.code, 'idempotency_key_in_use', r.text);
    }
    const created = await countByMarker(stripe, 'concurrent');
    assert.equal(created.length, 1);
    assert.equal(created[0].id, ok[0].json.id);
    // after the dust settles, a retry is a replay
    const again = await k.http('POST', '/v1/payment_intents', { body, headers: h });
    assert.equal(again.status, 200);
    assert.equal(again.text, ok[0].text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
  });

  it('keys are per merchant', async () => {
    const other = await k.createMerchant('second shop');
    const s2 = k.stripeFor(other.secret_key);
    const a = await stripe.paymentIntents.create({ amount: 100, currency: 'eur', payment_method_types: ['klarna'], metadata: { marker: 'per-merchant' } },
      { idempotencyKey: 'shared-key' });
    const b = await s2.paymentIntents.create({ amount: 999, currency: 'eur', payment_method_types: ['klarna'], metadata: { marker: 'per-merchant' } },
      { idempotencyKey: 'shared-key' });
    assert.notEqual(b.id, a.id);
    assert.equal(b.amount, 999);
    assert.notEqual(b.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal((await countByMarker(s2, 'per-merchant')).length, 1);
    assert.equal((await countByMarker(stripe, 'per-merchant')).length, 1);
  });

  it('requests without a key are not deduplicated', async () => {
    const body = 'amount=77&currency=eur&payment_method_types[0]=klarna&metadata[marker]=nokey';
    for (let i = 0; i < 3; i++) {
      const r = await k.http('POST', '/v1/payment_intents', { body });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal((await countByMarker(stripe, 'nokey')).length, 3);
  });
});
