// Seeded fault runs: each seed decides, through one PRNG, a history of Klarna Pay Later payments
// (partial and final captures, refunds, extensions, cancels, jumps of the test clock) and the
// faults around each call (Klarna answers 500, an answer lost after the call took effect, a call
// held while Kassa is killed with kill -9). The shop's side retries every unanswered request
// with its Idempotency-Key, as the official clients do. After the history, with every begun
// operation given time to settle, the seed's own model of what was acknowledged, Kassa, and
// Klarna (the simulator, in its own process) must agree to the cent, nothing may be pending and
// every event must have reached the shop.
//
// The choices a seed makes are exact; the threads inside Kassa are not under the seed's control,
// so a failing seed replays the same history and faults, not the same interleaving. Replay one:
//   KASSA_SEEDS=1234 node --test tests/e2e/seeds.test.js
// More seeds (make soak): KASSA_SEED_COUNT=200 node --test tests/e2e/seeds.test.js
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, startReceiver, waitUntil, sleep, KASSA_RELEASE_BIN, Stripe, freePort, startSim } = require('./harness');
const { payKlarna, sim } = require('./klarna');

// Seeds that once found a defect stay here for good; a few more run on every CI.
// 4571007, 4571031: a cancel killed mid-call, read back by the scheduler, then retried with its key
// answered 400 (fixed: cancel, extend and edit claim their key like captures and refunds).
const REGRESSIONS = [4571007, 4571031];
const CI_SEEDS = [1, 2, 3, 4, 5, 6];
const LEASE_S = 120;
const HOLD_MS = 1500;

function seedsToRun() {
  if (process.env.KASSA_SEEDS) return process.env.KASSA_SEEDS.split(',').map(Number);
  const extra = Number(process.env.KASSA_SEED_COUNT || 0);
  const base = Date.now() % 1000000;
  return [...REGRESSIONS, ...CI_SEEDS, ...Array.from({ length: extra }, (_, i) => base * 1000 + i)];
}

function prng(seed) { // mulberry32
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}



describe('seeded fault runs', () => {
  let simProc;
  let simUrl;
  const totals = { seeds: 0, ops: 0, faults: 0, kills: 0, retries: 0 };
  before(async () => {
    ({ proc: simProc, url: simUrl } = await startSim());
  });
  after(() => {
    if (simProc) simProc.kill('SIGTERM');
    console.log(`seeded runs: ${totals.seeds} seeds, ${totals.ops} operations, ${totals.faults} provider faults, ${totals.kills} kills, ${totals.retries} retried requests; all agreed`);
  });

  for (const seed of seedsToRun()) {
    it(`seed ${seed}: Kassa, Klarna and the acknowledged answers agree`, async () => {
      const rnd = prng(seed);
      const port = await freePort();
      const k = await startKassa({
        name: `seed-${seed}`, bin: KASSA_RELEASE_BIN,
        args: ['--listen', `127.0.0.1:${port}`, '--sim-listen', 'off', '--sim-url', simUrl],
      });
      const hook = await startReceiver();
      let stripe = k.stripe;
      let clockAtKill = 0;
      const dead = () => k.proc === null || k.proc.exitCode !== null || k.proc.signalCode !== null;
      const fail = (msg) => assert.fail(`seed ${seed}: ${msg} (replay: KASSA_SEEDS=${seed} node --test tests/e2e/seeds.test.js)`);
      try {
        await stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
        async function recover() {
          await waitUntil(dead, { timeoutMs: 10000, what: 'kassa to be dead' });
          k.proc = null;
          await sleep(HOLD_MS); // the held call finishes at Klarna
          await k.restart();
          stripe = k.stripe;
          const now = await k.advanceClock(0);
          await k.advanceClock(Math.max(1, clockAtKill + LEASE_S + 5 - now));
        }
        // A shop's request: retried with its key until it has an answer.
        async function request(fn) {
          for (let tries = 0; tries < 10; tries++) {
            try {
              return await fn(stripe);
            } catch (e) {
              if (e instanceof Stripe.errors.StripeConnectionError) {
                totals.retries++;
                if (dead()) await recover();
                else await sleep(200);
              } else if (e.statusCode === 409 && e.code === 'idempotency_key_in_use') {
                totals.retries++;
                await k.advanceClock(LEASE_S + 5);
              } else if (e.statusCode === 502 && e.code === 'provider_unavailable') {
                totals.retries++; // Klarna did not answer: same key again
              } else {
                throw e;
              }
            }
          }
          return fail('a request was never answered');
        }
        // Arms a fault for the next call to `path` at Klarna; the kind is the seed's choice.
        async function fault(path, killable) {
          const kind = rnd.pick(['none', 'none', 'none', 'status500', 'lost', ...(killable ? ['kill'] : [])]);
          if (kind === 'none') return null;
          totals.faults++;
          if (kind === 'status500') await sim(simUrl, 'POST', 'faults', { path, status: 500, count: rnd.int(1, 2) });
          if (kind === 'lost') await sim(simUrl, 'POST', 'faults', { path, status: 503, count: 1, after: true });
          if (kind === 'kill') await sim(simUrl, 'POST', 'faults', { path, delay_ms: HOLD_MS, count: 1 });
          return kind;
        }
        // Runs one mutating call under its fault; a 'kill' fault kills Kassa mid-call.
        async function op(kind, fn) {
          totals.ops++;
          if (kind !== 'kill') return request(fn);
          clockAtKill = await k.advanceClock(0);
          const sent = fn(stripe).then((v) => ({ v }), (e) => ({ e }));
          await sleep(700);
          await k.kill9();
          totals.kills++;
          const r = await sent;
          if (r.v) return r.v;
          await recover();
          totals.retries++;
          return request(fn);
        }

        const payments = [];
        const nPay = rnd.int(1, 3);
        for (let n = 0; n < nPay; n++) {
          const amount = rnd.int(20, 300) * 100;
          const pi = await request((s) => s.paymentIntents.create({
            amount, currency: 'eur', payment_method_types: ['klarna'], capture_method: 'manual',
          }, { idempotencyKey: `s${seed}-p${n}-create` }));
          const confirmed = await request((s) => s.paymentIntents.confirm(pi.id, {
            payment_method_data: { type: 'klarna', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
            return_url: 'http://127.0.0.1:9/return',
          }, { idempotencyKey: `s${seed}-p${n}-confirm` }));
          const { intent } = await payKlarna(stripe, confirmed, simUrl, { kassaUrl: k.url, category: 'pay_later' });
          assert.equal(intent.status, 'requires_capture');
          payments.push({ id: pi.id, order: intent.kassa.provider_order, amount, capturable: amount, captured: 0, refunded: 0, open: true });
        }

        const steps = rnd.int(4, 10);
        for (let s = 0; s < steps; s++) {
          const p = rnd.pick(payments);
          const key = `s${seed}-step${s}`;
          const choices = [];
          if (p.open && p.capturable > 0) choices.push('capture', 'capture', 'extend', 'cancel');
          if (p.captured - p.refunded > 0) choices.push('refund', 'refund');
          choices.push('clock');
          const what = rnd.pick(choices);
          const base = `/ordermanagement/v1/orders/${p.order}`;
          if (what === 'capture') {
            const final = rnd.chance(0.3);
            const amount = final && rnd.chance(0.5) ? p.capturable : rnd.int(1, p.capturable);
            const f = await fault(`${base}/captures`, true);
            const r = await op(f, (st) => st.paymentIntents.capture(p.id, { amount_to_capture: amount, final_capture: final },
              { idempotencyKey: key }));
            if (r.amount_received !== p.captured + amount) fail(`capture answered amount_received ${r.amount_received}, expected ${p.captured + amount}`);
            p.captured += amount;
            p.capturable = final ? 0 : p.capturable - amount;
            if (p.capturable === 0) p.open = false;
          } else if (what === 'refund') {
            const amount = rnd.int(1, p.captured - p.refunded);
            const f = await fault(`${base}/refunds`, true);
            const r = await op(f, (st) => st.refunds.create({ payment_intent: p.id, amount }, { idempotencyKey: key }));
            if (r.amount !== amount) fail(`refund answered ${r.amount}, expected ${amount}`);
            p.refunded += amount;
          } else if (what === 'extend') {
            const f = await fault(`${base}/extend-authorization-time`, true);
            await op(f, (st) => st.rawRequest('POST', `/v1/payment_intents/${p.id}/extend_authorization`, {}, { idempotencyKey: key }));
          } else if (what === 'cancel') {
            const f = await fault(`${base}/${p.captured > 0 ? 'release-remaining-authorization' : 'cancel'}`, true);
            const r = await op(f, (st) => st.paymentIntents.cancel(p.id, {}, { idempotencyKey: key }));
            if (r.status !== (p.captured > 0 ? 'succeeded' : 'canceled')) fail(`cancel answered ${r.status}`);
            p.capturable = 0;
            p.open = false;
          } else {
            await k.advanceClock(rnd.pick([60, 3600, 86400]));
          }
        }

        // Let whatever was begun settle, then compare the three views.
        await k.advanceClock(LEASE_S + 5);
        for (const p of payments) {
          const refunds = await waitUntil(async () => {
            const l = (await stripe.refunds.list({ payment_intent: p.id, limit: 100 })).data;
            return l.every((r) => r.status !== 'pending') ? l : null;
          }, { timeoutMs: 20000, what: `the refunds of ${p.id} to settle` });
          const refunded = refunds.filter((r) => r.status === 'succeeded').reduce((a, r) => a + r.amount, 0);
          const pi = await stripe.paymentIntents.retrieve(p.id);
          const o = await sim(simUrl, 'GET', `orders/${p.order}`);
          const view = { model: [p.captured, p.refunded], kassa: [pi.amount_received, refunded], klarna: [o.captured_amount, o.refunded_amount] };
          if (pi.amount_received !== p.captured || refunded !== p.refunded) fail(`Kassa differs from what was acknowledged: ${JSON.stringify(view)}`);
          if (o.captured_amount !== p.captured || o.refunded_amount !== p.refunded) fail(`Klarna differs from Kassa: ${JSON.stringify(view)}`);
          if (p.open && pi.amount_capturable !== p.capturable) fail(`capturable ${pi.amount_capturable}, expected ${p.capturable}`);
        }
        const events = (await stripe.events.list({ limit: 100 })).data.map((e) => e.id);
        for (let h = 0; h < 12; h++) {
          const got = new Set(hook.events().map((e) => e.id));
          if (events.every((id) => got.has(id))) break;
          await k.advanceClock(3600);
          await sleep(300);
        }
        const got = new Set(hook.events().map((e) => e.id));
        const missing = events.filter((id) => !got.has(id));
        if (missing.length) fail(`${missing.length} events never delivered`);
        totals.seeds++;
      } finally {
        await hook.close();
        await sim(simUrl, 'POST', 'faults', { path: '/', status: 0, count: 0 }).catch(() => {});
        await k.stop();
      }
    });
  }
});
