// Crash at every step: one Klarna Pay Later life (create, confirm, the customer's pages and
// Klarna's callback, partial capture, extension, refund, cancel of the rest, a second refund,
// the webhooks of all of it) is run once for every crash point Kassa has
// (src/base/crashpoint.h). At that point the release binary dies as kill -9 would; the test
// restarts it on the same port and database, retries every unanswered request with its
// Idempotency-Key, and checks what must hold whatever the crash:
//   - every step that was acknowledged is in the final state, and the final state is the one a
//     life without a crash reaches (nothing lost, nothing done twice);
//   - Klarna's totals (the simulator runs as its own process and outlives Kassa) equal Kassa's;
//   - no refund is left pending and nothing is left reserved (the rest can be cancelled);
//   - every event Kassa lists was delivered to the shop's endpoint.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startKassa, startReceiver, waitUntil, sleep, KASSA_RELEASE_BIN, Stripe, freePort, startSim } = require('./harness');
const { payKlarna, sim } = require('./klarna');

const POINTS = [
  'confirm.begun', 'confirm.answered', 'notice.received', 'notice.applied',
  'capture.begun', 'capture.answered', 'extend.answered', 'refund.begun', 'refund.answered',
  'cancel.answered', 'webhook.claimed', 'webhook.answered',
  // A commit is durable and nobody has been told yet. The count puts it mid-life: Kassa
  // itself commits a few times at start (the scheduler), then the shop's calls do.
  'store.committed:12', 'store.committed:20',
];
const LEASE_S = 120; // LIMIT_IDEMPOTENCY_LEASE_S



describe('crash at every step of a payment', () => {
  let simProc;
  let simUrl;
  const figures = [];
  before(async () => {
    ({ proc: simProc, url: simUrl } = await startSim());
  });
  after(() => {
    if (simProc) simProc.kill('SIGTERM');
    console.log(`crash points: ${figures.length} of ${POINTS.length} covered; ${figures.map((f) => `${f.point}: ${f.crashed ? 'died' : 'not reached'}, ${f.retries} retried`).join('; ')}`);
  });

  for (const point of POINTS) {
    it(`dies at ${point}, restarts, and the payment ends as it would have`, async () => {
      const [name, count] = point.split(':');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-crashpt-'));
      const armFile = path.join(dir, 'crash_at');
      fs.writeFileSync(armFile, `${name} ${count || 1}\n`);
      const port = await freePort();
      const k = await startKassa({
        name: `crashpt-${point.replace(/[.:]/g, '-')}`, bin: KASSA_RELEASE_BIN,
        args: ['--listen', `127.0.0.1:${port}`, '--sim-listen', 'off', '--sim-url', simUrl],
        env: { KASSA_CRASH_AT_FILE: armFile },
      });
      const hook = await startReceiver();
      let crashed = false;
      let retries = 0;
      let clockAtCrash = 0;
      let stripe = k.stripe;
      try {
        // Restarts Kassa once it died and moves its clock past any dead request's lease.
        async function recover() {
          await waitUntil(dead, { timeoutMs: 10000, what: 'kassa to be dead' });
          assert.ok(!fs.existsSync(armFile), 'the crash point fired');
          crashed = true;
          k.proc = null; // it died by itself: nothing to stop
          await k.restart();
          stripe = k.stripe;
          const now = await k.advanceClock(0);
          await k.advanceClock(Math.max(1, clockAtCrash + LEASE_S + 5 - now));
        }
        const dead = () => k.proc === null || k.proc.exitCode !== null || k.proc.signalCode !== null;
        // Moves the test clock; a Kassa that died meanwhile is restarted first.
        async function clock(seconds) {
          try {
            return await k.advanceClock(seconds);
          } catch (e) {
            await sleep(200);
            if (!dead()) throw e;
            await recover();
            return k.advanceClock(seconds);
          }
        }
        // One merchant request: retried with its key until answered, as a shop would.
        async function step(fn) {
          for (let tries = 0; tries < 20; tries++) {
            if (!dead()) clockAtCrash = await k.advanceClock(0).catch(() => clockAtCrash);
            try {
              return await fn(stripe);
            } catch (e) {
              if (e instanceof Stripe.errors.StripeConnectionError) {
                retries++;
                await recover();
              } else if (e.statusCode === 409 && e.code === 'idempotency_key_in_use') {
                retries++;
                await clock(LEASE_S + 5);
                await sleep(100);
              } else {
                throw e;
              }
            }
          }
          throw new Error('a request was never answered');
        }
        await step((s) => s.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] },
          { idempotencyKey: `${point}-${Date.now()}-endpoint` }));
        const run = `${point}-${Date.now()}`;
        const key = (n) => `${run}-${n}`;

        const pi = await step((s) => s.paymentIntents.create({
          amount: 10000, currency: 'eur', payment_method_types: ['klarna'], capture_method: 'manual',
        }, { idempotencyKey: key('create') }));
        const confirmed = await step((s) => s.paymentIntents.confirm(pi.id, {
          payment_method_data: { type: 'klarna', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
          return_url: 'http://127.0.0.1:9/return',
        }, { idempotencyKey: key('confirm') }));
        // The customer's pages. If Kassa dies under them, the customer is back at the shop,
        // which asks Kassa for the payment's status (the sync extension) after the restart.
        let authorised = null;
        if (confirmed.status === 'requires_action') {
          try {
            authorised = (await payKlarna(stripe, confirmed, simUrl, { kassaUrl: k.url, category: 'pay_later' })).intent;
          } catch (e) {
            retries++;
            await sleep(200);
            if (dead()) await recover();
          }
        }
        authorised = await waitUntil(async () => {
          const p = await step((s) => s.rawRequest('POST', `/v1/payment_intents/${pi.id}/sync`, {}));
          return p.status === 'requires_capture' ? p : null;
        }, { timeoutMs: 20000, what: `${pi.id} to be authorised` });
        assert.equal(authorised.amount_capturable, 10000);

        const cap = await step((s) => s.paymentIntents.capture(pi.id, { amount_to_capture: 4000, final_capture: false },
          { idempotencyKey: key('capture') }));
        assert.equal(cap.amount_received, 4000);
        await step((s) => s.rawRequest('POST', `/v1/payment_intents/${pi.id}/extend_authorization`, {},
          { idempotencyKey: key('extend') }));
        const r1 = await step((s) => s.refunds.create({ payment_intent: pi.id, amount: 1500 }, { idempotencyKey: key('refund1') }));
        assert.equal(r1.amount, 1500);
        const canceled = await step((s) => s.paymentIntents.cancel(pi.id, {}, { idempotencyKey: key('cancel') }));
        assert.equal(canceled.status, 'succeeded', 'cancel after a partial capture releases the rest');
        const r2 = await step((s) => s.refunds.create({ payment_intent: pi.id, amount: 500 }, { idempotencyKey: key('refund2') }));
        assert.equal(r2.amount, 500);

        // Whatever was begun settles: refunds leave pending (the scheduler asks Klarna again).
        await clock(LEASE_S + 5);
        const refunds = await waitUntil(async () => {
          const l = (await step((s) => s.refunds.list({ payment_intent: pi.id }))).data;
          return l.every((r) => r.status !== 'pending') ? l : null;
        }, { timeoutMs: 20000, what: 'every refund to settle' });
        assert.deepEqual(refunds.map((r) => [r.amount, r.status]).sort(), [[1500, 'succeeded'], [500, 'succeeded']]);

        const final = await step((s) => s.paymentIntents.retrieve(pi.id));
        assert.equal(final.status, 'succeeded');
        assert.equal(final.amount_received, 4000);
        assert.equal(final.amount_capturable, 0);
        const o = await sim(simUrl, 'GET', `orders/${final.kassa.provider_order}`);
        assert.equal(o.captured_amount, 4000, 'Klarna captured what Kassa says');
        assert.equal(o.captures.length, 1, 'one capture at Klarna');
        assert.equal(o.refunded_amount, 2000, 'Klarna refunded what Kassa says');
        assert.equal(o.refunds.length, 2, 'two refunds at Klarna');

        // Every event Kassa lists reaches the endpoint (retries come due on the test clock).
        const events = (await step((s) => s.events.list({ limit: 100 }))).data.map((e) => e.id);
        for (let h = 0; h < 12; h++) {
          const got = new Set(hook.events().map((e) => e.id));
          if (events.every((id) => got.has(id))) break;
          await clock(3600);
          await sleep(300);
        }
        const got = new Set(hook.events().map((e) => e.id));
        const missing = events.filter((id) => !got.has(id));
        assert.deepEqual(missing, [], 'every event delivered');
        figures.push({ point, crashed, retries });
      } finally {
        await hook.close();
        await k.stop();
      }
      assert.ok(crashed, `the life passed ${point}`);
    });
  }
});
