// Webhooks are retried for three days, as Stripe promises: a receiver that refuses every
// delivery for 60 hours of test-clock time still gets every event once it answers again.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, startReceiver, sleep } = require('./harness');

const EVENTS = 5;

describe('webhook retry horizon', () => {
  let k;
  let r;
  before(async () => {
    k = await startKassa({ name: 'webhooks-horizon' });
    r = await startReceiver({ refuseFirst: 1e9, refuseStatus: 503 });
  });
  after(async () => {
    if (r) await r.close();
    if (k) await k.stop();
  });

  it('a receiver down for 60 hours gets every event when it is back', async () => {
    const stripe = k.stripe;
    const we = await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['payment_intent.canceled'] });
    const ids = [];
    for (let i = 0; i < EVENTS; i++) {
      const pi = await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'eur', payment_method_types: ['klarna'] });
      await stripe.paymentIntents.cancel(pi.id);
      ids.push(pi.id);
    }
    await r.waitFor(() => r.requests.length >= EVENTS, 10000, 'first attempts');
    const evs = (await stripe.events.list({ limit: 100, type: 'payment_intent.canceled' })).data
      .filter((e) => ids.includes(e.data.object.id));
    assert.equal(evs.length, EVENTS);
    async function deliveries() {
      const out = [];
      for (const ev of evs) {
        const res = await stripe.rawRequest('GET', `/v1/events/${ev.id}/deliveries`);
        out.push((Array.isArray(res) ? res : res.data).find((d) => d.endpoint === we.id));
      }
      return out;
    }
    // Follow the retry schedule attempt by attempt: jump the clock to the latest
    // next_attempt of the pending deliveries and wait until each has been tried.
    const start = await k.advanceClock(0);
    async function followSchedule(untilS) {
      for (let step = 0; step < 100; step++) {
        const ds = await deliveries();
        const pending = ds.filter((d) => d.state === 'pending');
        if (pending.length === 0) return ds;
        const now = await k.advanceClock(0);
        if (now >= untilS) return ds;
        const target = Math.min(untilS, Math.max(...pending.map((d) => d.next_attempt)));
        await k.advanceClock(Math.max(1, target - now));
        const tried = pending.map((d) => d.attempts);
        const deadline = Date.now() + 3000;
        for (;;) {
          const now2 = await deliveries();
          const moved = pending.every((d, i) => {
            const d2 = now2.find((x) => x.id === d.id);
            return d2.attempts > tried[i] || d2.next_attempt > target || d2.state !== 'pending';
          });
          if (moved || Date.now() > deadline) break;
          await sleep(50);
        }
      }
      return deliveries();
    }
    let ds = await followSchedule(start + 60 * 3600);
    const refused = r.requests.length;
    assert.equal(r.accepted().length, 0, 'nothing accepted while down');
    for (const d of ds) assert.equal(d.state, 'pending', `still retried after 60 h: ${JSON.stringify({ state: d.state, attempts: d.attempts })}`);
    // Back up: the next attempts deliver everything before the 72 h horizon.
    r.refuseFirst = 0;
    ds = await followSchedule(start + 72 * 3600 + 60);
    const got = new Set(r.events().map((e) => e.data.object.id));
    console.log(`webhook horizon: ${refused} refused attempts over 60 h, then ${got.size} of ${EVENTS} events delivered`);
    for (const id of ids) assert.ok(got.has(id), `event for ${id} delivered after 60 h down`);
    for (const q of r.accepted()) {
      const ev = stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], we.secret);
      assert.equal(ev.type, 'payment_intent.canceled');
    }
  });
});
