// kassa listen / kassa trigger, the shop developer's pair: trigger makes Kassa emit an event by
// walking the Klarna simulator's pages over HTTP, listen polls /v1/events and forwards each new
// event to a local URL signed with the session secret it printed; the official `stripe`
// library verifies the signature. A wrong key and an unknown event are refused with a clear
// message and nothing is created.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { startKassa, startReceiver, runCli, waitUntil, KASSA_BIN, Stripe } = require('./harness');

function startListen(args) {
  const proc = spawn(KASSA_BIN, ['listen', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const l = { proc, out: '', err: '' };
  proc.stdout.on('data', (c) => { l.out += c; });
  proc.stderr.on('data', (c) => { l.err += c; });
  l.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return l;
}

test('listen forwards triggered events, signed with its session secret', async () => {
  const k = await startKassa({ name: 'listen' });
  const hook = await startReceiver();
  let l = null;
  try {
    // An event from before listen started is not forwarded.
    const old = await k.stripe.paymentIntents.create({ amount: 100, currency: 'eur', payment_method_types: ['klarna'] });
    l = startListen(['--forward-to', hook.url, '--api-base', k.url, '--api-key', k.secretKey,
      '--events', 'payment_intent.*,charge.refunded,checkout.session.completed']);
    const m = await waitUntil(() => l.out.match(/Your webhook signing secret is (whsec_[0-9a-f]+)/), { timeoutMs: 15000, what: `listen ready (${l.err})` });
    const secret = m[1];

    const trig = async (event) => {
      const r = await runCli(['trigger', event, '--api-base', k.url, '--api-key', k.secretKey], { timeoutMs: 60000 });
      assert.equal(r.code, 0, `${event}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    const ok = await trig('payment_intent.succeeded');
    assert.equal(ok.status, 'succeeded');
    const failed = await trig('payment_intent.payment_failed');
    assert.equal(failed.status, 'requires_payment_method');
    const auth = await trig('payment_intent.amount_capturable_updated');
    assert.equal(auth.status, 'requires_capture');
    const canceled = await trig('payment_intent.canceled');
    assert.equal(canceled.status, 'canceled');
    const refunded = await trig('charge.refunded');
    assert.match(refunded.refund, /^re_/);
    const session = await trig('checkout.session.completed');
    assert.equal(session.status, 'complete');
    assert.match(session.checkout_session, /^cs_/);

    const want = [
      ['payment_intent.succeeded', ok.payment_intent],
      ['payment_intent.payment_failed', failed.payment_intent],
      ['payment_intent.amount_capturable_updated', auth.payment_intent],
      ['payment_intent.canceled', canceled.payment_intent],
      ['charge.refunded', refunded.payment_intent],
      ['checkout.session.completed', session.checkout_session],
    ];
    const forwarded = () => hook.requests.map((q) => JSON.parse(q.body));
    const has = ([type, pi]) => forwarded().some((e) => e.type === type && (e.data.object.id === pi || e.data.object.payment_intent === pi));
    await waitUntil(() => want.every(has), { timeoutMs: 30000, what: `forwarded ${want.map((w) => w[0]).join(', ')}; got ${forwarded().map((e) => e.type).join(', ')}` });

    for (const q of hook.requests) {
      // The official library's verification, with the secret listen printed.
      const ev = Stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], secret);
      assert.ok(ev.type.startsWith('payment_intent.') || ['charge.refunded', 'checkout.session.completed'].includes(ev.type),
        `--events filtered ${ev.type}`);
      assert.notEqual(ev.data.object.id, old.id, 'an event from before listen started was forwarded');
    }
    const ids = hook.requests.map((q) => JSON.parse(q.body).id);
    assert.equal(new Set(ids).size, ids.length, 'each event forwarded once');
    // Oldest first: created comes before succeeded for the same intent.
    const types = forwarded().filter((e) => e.data.object.id === ok.payment_intent).map((e) => e.type);
    assert.ok(types.indexOf('payment_intent.created') < types.indexOf('payment_intent.succeeded'), types.join(','));
    assert.match(l.out, /--> payment_intent\.succeeded \[evt_/);
    assert.match(l.out, /<-- {2}\[200\] POST /);

    l.proc.kill('SIGINT');
    assert.deepEqual(await l.exited, { code: 0, signal: null });
    l = null;
  } finally {
    if (l) l.proc.kill('SIGKILL');
    await hook.close();
    await k.stop();
  }
});

test('listen and trigger refuse a wrong key, trigger an unknown event; nothing is created', async () => {
  const k = await startKassa({ name: 'listen-refuse' });
  try {
    const count = async () => (await k.stripe.paymentIntents.list({ limit: 100 })).data.length;
    const before = await count();
    const l = startListen(['--forward-to', 'http://127.0.0.1:9/hook', '--api-base', k.url, '--api-key', 'sk_test_wrong']);
    assert.equal((await l.exited).code, 2);
    assert.match(l.err, /refused the API key/);
    assert.doesNotMatch(l.out, /whsec_/);

    let r = await runCli(['trigger', 'payment_intent.succeeded', '--api-base', k.url, '--api-key', 'sk_test_wrong']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refused the API key/);
    r = await runCli(['trigger', 'payment_intent.exploded', '--api-base', k.url, '--api-key', k.secretKey]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown event 'payment_intent\.exploded'; nothing was created/);
    assert.match(r.stderr, /payment_intent\.succeeded/);
    r = await runCli(['listen', '--api-base', k.url, '--api-key', k.secretKey]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--forward-to/);
    r = await runCli(['trigger', 'payment_intent.created', '--api-base', k.url]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--api-key/);
    assert.equal(await count(), before);
  } finally {
    await k.stop();
  }
});
