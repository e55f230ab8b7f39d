// Webhook endpoints and event delivery: endpoint CRUD (secret only on create), signed
// deliveries verified with stripe.webhooks.constructEvent, retries driven by the test clock,
// the delivery log and resend extensions, events list/retrieve, disabled endpoints and
// per-type subscriptions.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startKassa, startReceiver, stripeError, sleep } = require('./harness');

const SETTLE_MS = 1500; // time given to kassa to (wrongly) deliver something more

describe('webhooks', () => {
  let k;
  let stripe;
  const receivers = [];
  before(async () => {
    k = await startKassa({ name: 'webhooks' });
    stripe = k.stripe;
  });
  after(async () => {
    for (const r of receivers) await r.close();
    if (k) await k.stop();
  });

  async function receiver(opts) {
    const r = await startReceiver(opts);
    receivers.push(r);
    return r;
  }
  function createPi(extra = {}) {
    return stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna'], ...extra });
  }
  function eventsFor(r, piId, type) {
    return r.events().filter((e) => e.data.object.id === piId && (!type || e.type === type));
  }
  function deliveriesOf(res) {
    return Array.isArray(res) ? res : res.data;
  }
  // Advance kassa's clock an hour at a time until pred(r) holds (at most 3 days).
  async function advanceUntil(r, pred, what) {
    for (let hours = 0; hours <= 72; hours++) {
      if (pred(r)) return hours;
      await k.advanceClock(3600);
      try {
        await r.waitFor(pred, 3000, what);
        return hours + 1;
      } catch (e) { /* not yet: advance again */ }
    }
    assert.fail(`not delivered within 3 days of test-clock time: ${what}`);
    return -1;
  }

  it('endpoint CRUD; the secret is shown only on create', async () => {
    const we = await stripe.webhookEndpoints.create({
      url: 'http://127.0.0.1:9/crud', enabled_events: ['payment_intent.succeeded', 'payment_intent.canceled'],
      description: 'crud test', metadata: { team: 'e2e' },
    });
    assert.match(we.id, /^we_/);
    assert.equal(we.object, 'webhook_endpoint');
    assert.equal(we.url, 'http://127.0.0.1:9/crud');
    assert.deepEqual(we.enabled_events, ['payment_intent.succeeded', 'payment_intent.canceled']);
    assert.equal(we.status, 'enabled');
    assert.match(we.secret, /^whsec_./);

    const got = await stripe.webhookEndpoints.retrieve(we.id);
    assert.equal(got.id, we.id);
    assert.equal(got.url, we.url);
    assert.ok(got.secret === undefined || got.secret === null, `secret must not be shown again: ${got.secret}`);

    const upd = await stripe.webhookEndpoints.update(we.id, { url: 'http://127.0.0.1:9/crud2', enabled_events: ['*'], disabled: true });
    assert.equal(upd.url, 'http://127.0.0.1:9/crud2');
    assert.deepEqual(upd.enabled_events, ['*']);
    assert.equal(upd.status, 'disabled');
    assert.ok(upd.secret === undefined || upd.secret === null);
    const re = await stripe.webhookEndpoints.update(we.id, { disabled: false });
    assert.equal(re.status, 'enabled');

    const list = await stripe.webhookEndpoints.list({ limit: 100 });
    assert.equal(list.object, 'list');
    assert.ok(list.data.some((e) => e.id === we.id));
    for (const e of list.data) assert.ok(e.secret === undefined || e.secret === null);

    const del = await stripe.webhookEndpoints.del(we.id);
    assert.equal(del.id, we.id);
    assert.equal(del.deleted, true);
    const e = await stripeError(stripe.webhookEndpoints.retrieve(we.id));
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, 'resource_missing');
    const list2 = await stripe.webhookEndpoints.list({ limit: 100 });
    assert.ok(!list2.data.some((x) => x.id === we.id));
  });

  it('endpoint create validates url and enabled_events', async () => {
    const e1 = await stripeError(stripe.webhookEndpoints.create({ enabled_events: ['*'] }));
    assert.equal(e1.statusCode, 400);
    assert.equal(e1.param, 'url');
    const e2 = await stripeError(stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/x' }));
    assert.equal(e2.statusCode, 400);
    assert.equal(e2.param, 'enabled_events');
  });

  it('deliveries are signed and verify with stripe.webhooks.constructEvent', async () => {
    const r = await receiver();
    const we = await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['*'] });
    const pi = await createPi({ metadata: { case: 'signed' } });
    await r.waitFor(() => eventsFor(r, pi.id, 'payment_intent.created').length >= 1, 10000, 'payment_intent.created');
    const req = r.accepted().find((q) => JSON.parse(q.body).data.object.id === pi.id);
    assert.equal(req.method, 'POST');
    assert.match(req.headers['content-type'] || '', /application\/json/);
    const sig = req.headers['stripe-signature'];
    assert.match(sig, /^t=\d+,v1=[0-9a-f]{64}/);
    const ev = stripe.webhooks.constructEvent(req.body, sig, we.secret);
    assert.match(ev.id, /^evt_/);
    assert.equal(ev.object, 'event');
    assert.equal(ev.type, 'payment_intent.created');
    assert.equal(ev.livemode, false);
    assert.equal(typeof ev.created, 'number');
    assert.equal(ev.data.object.id, pi.id);
    assert.equal(ev.data.object.object, 'payment_intent');
    assert.equal(ev.data.object.status, 'requires_payment_method');
    assert.deepEqual(ev.data.object.metadata, { case: 'signed' });
    // request.id names the API request that caused the event (its Request-Id header)
    assert.match(ev.request.id, /^req_/);
    assert.equal(ev.request.id, pi.lastResponse.requestId);
    // a wrong secret or a re-serialised body does not verify
    assert.throws(() => stripe.webhooks.constructEvent(req.body, sig, 'whsec_wrong'), /No signatures found/);
    assert.throws(() => stripe.webhooks.constructEvent(JSON.stringify(JSON.parse(req.body), null, 1), sig, we.secret));

    // the event is the one the API serves
    const got = await stripe.events.retrieve(ev.id);
    assert.equal(got.id, ev.id);
    assert.equal(got.type, 'payment_intent.created');
    assert.equal(got.data.object.id, pi.id);

    // confirm and cancel produce their events, each delivered once
    await stripe.paymentIntents.confirm(pi.id, {
      payment_method_data: { type: 'klarna', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
      return_url: 'http://127.0.0.1:9/return',
    });
    await stripe.paymentIntents.cancel(pi.id);
    await r.waitFor(() => eventsFor(r, pi.id, 'payment_intent.canceled').length >= 1, 10000, 'payment_intent.canceled');
    await r.waitFor(() => eventsFor(r, pi.id, 'payment_intent.requires_action').length >= 1, 10000, 'payment_intent.requires_action');
    await sleep(SETTLE_MS);
    const mine = eventsFor(r, pi.id);
    const ids = mine.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'each event delivered once and event ids unique');
    assert.deepEqual(mine.map((e) => e.type).sort(),
      ['payment_intent.canceled', 'payment_intent.created', 'payment_intent.requires_action']);
    for (const q of r.accepted()) stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], we.secret);
    await stripe.webhookEndpoints.del(we.id);
  });

  it('a receiver refusing the first 2 attempts gets the event after clock advances, once', async () => {
    const r = await receiver({ refuseFirst: 2 });
    const we = await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['payment_intent.canceled'] });
    const pi = await createPi();
    await stripe.paymentIntents.cancel(pi.id);
    await r.waitFor(() => r.requests.length >= 1, 10000, 'first attempt');
    assert.equal(r.requests[0].status, 500);
    await advanceUntil(r, () => r.accepted().length >= 1, 'successful retry');
    assert.equal(r.requests.length, 3, 'two refused attempts, then one success');
    const bodies = new Set(r.requests.map((q) => JSON.parse(q.body).id));
    assert.equal(bodies.size, 1, 'every attempt carries the same event id');
    const ev = stripe.webhooks.constructEvent(r.accepted()[0].body, r.accepted()[0].headers['stripe-signature'], we.secret);
    assert.equal(ev.type, 'payment_intent.canceled');
    assert.equal(ev.data.object.id, pi.id);

    // once delivered, no more attempts however much time passes
    for (let i = 0; i < 4; i++) await k.advanceClock(6 * 3600);
    await sleep(SETTLE_MS);
    assert.equal(r.accepted().length, 1, 'exactly one successful delivery');
    assert.equal(r.requests.length, 3);

    // the delivery log shows the attempts
    const res = await stripe.rawRequest('GET', `/v1/events/${ev.id}/deliveries`);
    const list = deliveriesOf(res);
    assert.ok(Array.isArray(list), `deliveries: ${JSON.stringify(res)}`);
    const d = list.find((x) => x.endpoint === we.id);
    assert.ok(d, `a delivery to ${we.id}: ${JSON.stringify(list)}`);
    assert.equal(d.attempts, 3);
    assert.equal(d.last_status, 200);
    assert.equal(typeof d.state, 'string');
    assert.equal(d.attempts_log.length, 3);
    assert.deepEqual(d.attempts_log.map((a) => a.http_status), [500, 500, 200]);
    for (const a of d.attempts_log) {
      assert.equal(typeof a.at, 'number');
      assert.equal(typeof a.latency_ms, 'number');
    }
    assert.ok(d.attempts_log[1].at > d.attempts_log[0].at, 'retries happen later in kassa time');
    assert.match(String(d.attempts_log[0].response_head), /refused by test receiver/);

    // resend delivers again now, signed
    await stripe.rawRequest('POST', `/v1/events/${ev.id}/resend`, {});
    await r.waitFor(() => r.accepted().length >= 2, 10000, 'resent event');
    const again = r.accepted()[1];
    const ev2 = stripe.webhooks.constructEvent(again.body, again.headers['stripe-signature'], we.secret);
    assert.equal(ev2.id, ev.id);
    await stripe.webhookEndpoints.del(we.id);
  });

  it('a receiver that is down gets the event once it comes back', async () => {
    const r = await receiver();
    const url = r.url;
    await r.close(); // connection refused from now on
    const we = await stripe.webhookEndpoints.create({ url, enabled_events: ['payment_intent.canceled'] });
    const pi = await createPi();
    await stripe.paymentIntents.cancel(pi.id);
    await sleep(SETTLE_MS);
    const evs = await stripe.events.list({ limit: 10 });
    const ev = evs.data.find((e) => e.type === 'payment_intent.canceled' && e.data.object.id === pi.id);
    assert.ok(ev, 'payment_intent.canceled event listed');
    const log = deliveriesOf(await stripe.rawRequest('GET', `/v1/events/${ev.id}/deliveries`)).find((x) => x.endpoint === we.id);
    assert.ok(log && log.attempts >= 1, `a failed attempt is logged: ${JSON.stringify(log)}`);
    assert.equal(typeof log.attempts_log[0].error, 'string');
    assert.ok(log.attempts_log[0].error.length > 0, 'connection error recorded');
    // bring a receiver up on the same port
    const port = Number(new URL(url).port);
    const got = [];
    const srv = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => { b += c; });
      req.on('end', () => { got.push({ body: b, sig: req.headers['stripe-signature'] }); res.end('ok'); });
    });
    await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(port, '127.0.0.1', resolve); });
    try {
      for (let h = 0; h <= 72 && got.length === 0; h++) {
        await k.advanceClock(3600);
        const deadline = Date.now() + 3000;
        while (Date.now() < deadline && got.length === 0) await sleep(50);
      }
      assert.equal(got.length, 1);
      const ev2 = stripe.webhooks.constructEvent(got[0].body, got[0].sig, we.secret);
      assert.equal(ev2.id, ev.id);
    } finally {
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
      await stripe.webhookEndpoints.del(we.id);
    }
  });

  it('a disabled endpoint gets nothing; a one-type endpoint gets only that type', async () => {
    const all = await receiver();
    const off = await receiver();
    const one = await receiver();
    const weAll = await stripe.webhookEndpoints.create({ url: all.url, enabled_events: ['*'] });
    const weOff = await stripe.webhookEndpoints.create({ url: off.url, enabled_events: ['*'] });
    await stripe.webhookEndpoints.update(weOff.id, { disabled: true });
    const weOne = await stripe.webhookEndpoints.create({ url: one.url, enabled_events: ['payment_intent.canceled'] });
    const pi = await createPi();
    await stripe.paymentIntents.cancel(pi.id);
    await all.waitFor(() => eventsFor(all, pi.id, 'payment_intent.canceled').length === 1
      && eventsFor(all, pi.id, 'payment_intent.created').length === 1, 10000, 'control endpoint events');
    await one.waitFor(() => one.requests.length >= 1, 10000, 'one-type endpoint');
    await sleep(SETTLE_MS);
    assert.equal(off.requests.length, 0, 'disabled endpoint received nothing');
    assert.deepEqual(one.events().map((e) => e.type), ['payment_intent.canceled']);
    assert.equal(one.events()[0].data.object.id, pi.id);
    stripe.webhooks.constructEvent(one.accepted()[0].body, one.accepted()[0].headers['stripe-signature'], weOne.secret);
    // events created while disabled are not sent after re-enabling
    await stripe.webhookEndpoints.update(weOff.id, { disabled: false });
    await k.advanceClock(3600);
    await sleep(SETTLE_MS);
    assert.equal(off.requests.length, 0);
    for (const we of [weAll, weOff, weOne]) await stripe.webhookEndpoints.del(we.id);
  });

  it('events list and retrieve; event ids are unique', async () => {
    const pi = await createPi();
    await stripe.paymentIntents.cancel(pi.id);
    const events = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10000 });
    assert.ok(events.length >= 2);
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'event ids unique');
    for (const e of events) {
      assert.match(e.id, /^evt_/);
      assert.equal(e.object, 'event');
      assert.equal(typeof e.type, 'string');
    }
    const mine = events.filter((e) => e.data.object.id === pi.id);
    assert.deepEqual(mine.map((e) => e.type), ['payment_intent.canceled', 'payment_intent.created'], 'newest first');
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1].created >= events[i].created, 'newest first');
    const canceled = await stripe.events.retrieve(mine[0].id);
    assert.equal(canceled.data.object.status, 'canceled');
    const page = await stripe.events.list({ limit: 1 });
    assert.equal(page.data.length, 1);
    assert.equal(page.has_more, true);
    const e404 = await stripeError(stripe.events.retrieve('evt_doesnotexist'));
    assert.equal(e404.statusCode, 404);
    assert.equal(e404.code, 'resource_missing');
    const other = await k.createMerchant('events other shop');
    const s2 = k.stripeFor(other.secret_key);
    const e2 = await stripeError(s2.events.retrieve(canceled.id));
    assert.equal(e2.statusCode, 404, "another merchant's event is not found");
  });
});
