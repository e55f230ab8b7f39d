// List pagination on /v1/payment_intents with 300 intents: limit, starting_after,
// ending_before and has_more in both directions (no duplicates, no gaps), and stripe-node's
// autoPagingToArray walking every page.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, stripeError } = require('./harness');

const N = 300;

describe('pagination', () => {
  let k;
  let stripe;
  const ids = []; // oldest first
  before(async () => {
    k = await startKassa({ name: 'pagination' });
    stripe = k.stripe;
    for (let i = 0; i < N; i++) {
      const pi = await stripe.paymentIntents.create({
        amount: 100 + i, currency: 'eur', payment_method_types: ['klarna'], metadata: { n: String(i) },
      });
      ids.push(pi.id);
    }
    assert.equal(new Set(ids).size, N, 'ids are unique');
  });
  after(async () => {
    if (k) await k.stop();
  });

  const newestFirst = () => ids.slice().reverse();

  it('forward walk with starting_after, limit 100 and limit 7', async () => {
    for (const limit of [100, 7]) {
      const seen = [];
      let after_id;
      let pages = 0;
      for (;;) {
        const page = await stripe.paymentIntents.list({ limit, ...(after_id ? { starting_after: after_id } : {}) });
        pages++;
        assert.equal(page.object, 'list');
        assert.equal(page.url, '/v1/payment_intents');
        assert.ok(page.data.length <= limit);
        seen.push(...page.data.map((p) => p.id));
        if (!page.has_more) break;
        assert.equal(page.data.length, limit, 'a page with has_more is full');
        after_id = page.data[page.data.length - 1].id;
        assert.ok(pages < 1000, 'pagination terminates');
      }
      assert.equal(pages, Math.ceil(N / limit), `pages for limit ${limit}`);
      assert.deepEqual(seen, newestFirst(), `limit ${limit}: no duplicates, no gaps, newest first`);
    }
  });

  it('backward walk with ending_before from the oldest', async () => {
    const limit = 13;
    let before_id = ids[0];
    const pages = [];
    for (;;) {
      const page = await stripe.paymentIntents.list({ limit, ending_before: before_id });
      assert.ok(page.data.length <= limit);
      if (page.data.length) pages.push(page.data.map((p) => p.id));
      if (!page.has_more) break;
      assert.equal(page.data.length, limit, 'a page with has_more is full');
      before_id = page.data[0].id; // the newest of the page
      assert.ok(pages.length < 1000, 'pagination terminates');
    }
    // Each page is newest first; pages come oldest first.
    const seen = pages.reverse().flat();
    assert.deepEqual(seen, newestFirst().slice(0, N - 1));
    // The first backward page holds the `limit` intents just newer than ids[0].
    const first = await stripe.paymentIntents.list({ limit, ending_before: ids[0] });
    assert.deepEqual(first.data.map((p) => p.id), ids.slice(1, 1 + limit).reverse());
    assert.equal(first.has_more, true);
  });

  it('pages at the ends are empty with has_more false', async () => {
    const past = await stripe.paymentIntents.list({ limit: 10, starting_after: ids[0] });
    assert.deepEqual(past.data, []);
    assert.equal(past.has_more, false);
    const future = await stripe.paymentIntents.list({ limit: 10, ending_before: ids[N - 1] });
    assert.deepEqual(future.data, []);
    assert.equal(future.has_more, false);
    const last = await stripe.paymentIntents.list({ limit: 100, starting_after: ids[100] });
    assert.deepEqual(last.data.map((p) => p.id), ids.slice(0, 100).reverse());
    assert.equal(last.has_more, false);
  });

  it('the middle of the list, both directions', async () => {
    const mid = ids[150];
    const older = await stripe.paymentIntents.list({ limit: 5, starting_after: mid });
    assert.deepEqual(older.data.map((p) => p.id), ids.slice(145, 150).reverse());
    assert.equal(older.has_more, true);
    const newer = await stripe.paymentIntents.list({ limit: 5, ending_before: mid });
    assert.deepEqual(newer.data.map((p) => p.id), ids.slice(151, 156).reverse());
    assert.equal(newer.has_more, true);
  });

  it('default limit is 10; objects are whole', async () => {
    const page = await stripe.paymentIntents.list();
    assert.equal(page.data.length, 10);
    assert.equal(page.has_more, true);
    assert.deepEqual(page.data.map((p) => p.id), newestFirst().slice(0, 10));
    const top = page.data[0];
    assert.equal(top.object, 'payment_intent');
    assert.equal(top.amount, 100 + N - 1);
    assert.deepEqual(top.metadata, { n: String(N - 1) });
  });

  it('starting_after and ending_before together -> 400', async () => {
    const e = await stripeError(stripe.paymentIntents.list({ starting_after: ids[5], ending_before: ids[1] }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.rawType, 'invalid_request_error');
  });

  it('autoPagingToArray walks every page', async () => {
    const all = await stripe.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    assert.deepEqual(all.map((p) => p.id), newestFirst());
    const small = await stripe.paymentIntents.list({ limit: 3 }).autoPagingToArray({ limit: 1000 });
    assert.equal(small.length, N);
    assert.equal(new Set(small.map((p) => p.id)).size, N);
  });

  it('for await over the list sees every intent once', async () => {
    const seen = new Set();
    for await (const pi of stripe.paymentIntents.list({ limit: 50 })) {
      assert.ok(!seen.has(pi.id), `duplicate ${pi.id}`);
      seen.add(pi.id);
    }
    assert.equal(seen.size, N);
  });
});
