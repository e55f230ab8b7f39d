// The simulators apart (`kassa sim`): the real binary runs the Klarna and Alipay+ simulators
// alone, and `kassa serve --sim-url URL --sim-listen off` points the default connectors at
// them over HTTP.
//  - one node: a Klarna Pay Now payment (bank steps, succeeded, a partial refund) and an
//    Alipay+ payment (the wallet app's PIN, succeeded, a partial refund) through the separate
//    simulator, whose records agree with Kassa's;
//  - two nodes (two SQLite files) share one simulator, paying at the same time: every order at
//    the simulator belongs to exactly one node and agrees with that node's payment;
//  - with KASSA_TEST_PG_URL: two nodes on ONE PostgreSQL database and one simulator; a payment
//    made on one node is refunded on the other, and the simulator sees one order;
//  - `kassa sim` prints its ready line, answers, and exits 0 on SIGTERM; `serve --sim-url`
//    without `--sim-listen off`, or with a simulator that is not there, is a clear start error.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { KASSA_BIN, startKassa, startReceiver, runCli, waitUntil, newStripe } = require('./harness');
const { payKlarna, simOrders, confirmKlarna } = require('./klarna');

const ARTIFACTS = process.env.KASSA_E2E_ARTIFACTS || path.join(__dirname, 'artifacts');
const SIM_READY = 'kassa sim ready ';

/** Start `kassa sim --listen 127.0.0.1:0`; resolves {url, stop()}. */
function startSim(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const logPath = path.join(ARTIFACTS, `${name}.log`);
  const log = fs.createWriteStream(logPath);
  const proc = spawn(KASSA_BIN, ['sim', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (c) => {
    log.write(c);
    stderr = (stderr + c.toString('utf8')).slice(-65536);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kassa sim printed no ready line: ${stderr}`)), 20000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`kassa sim exited (${code}, ${signal}) before it was ready: ${stderr}`));
    });
    proc.stdout.on('data', (c) => {
      log.write(c);
      out += c.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith(SIM_READY));
      if (!line) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      const { url } = JSON.parse(line.slice(SIM_READY.length));
      resolve({
        url,
        async stop() {
          const done = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
          proc.kill('SIGTERM');
          const res = await done;
          log.end();
          assert.ok(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(stderr), `sanitizer report: ${stderr}`);
          return res;
        },
      });
    });
  });
}

/** A node of Kassa using the simulator at simUrl instead of its own. */
function startNode(name, simUrl, opts = {}) {
  return startKassa({ ...opts, name, args: ['--sim-listen', 'off', '--sim-url', simUrl, ...(opts.args || [])] });
}

async function alipaySim(simUrl, p) {
  const res = await fetch(`${simUrl}/alipay${p}`);
  return { status: res.status, json: await res.json() };
}

/** Pays a confirmed Alipay+ intent as the wallet app (PIN 123456); resolves the attempt id. */
async function payAlipay(stripe, amount, tag) {
  const pi = await stripe.paymentIntents.create({ amount, currency: 'eur', payment_method_types: ['alipay'], description: tag });
  const c = await stripe.paymentIntents.confirm(pi.id, {
    payment_method_data: { type: 'alipay' }, return_url: `http://127.0.0.1:9/shop/${tag}`,
  });
  assert.equal(c.status, 'requires_action');
  return { pi: c, attempt: c.next_action.redirect_to_url.url.split('/').pop() };
}

async function walletPin(simUrl, attempt) {
  const sp = await waitUntil(async () => {
    const r = await alipaySim(simUrl, `/_sim/payments/${attempt}`);
    return r.status === 200 ? r.json : null;
  }, { what: `the simulator's payment for ${attempt}` });
  const res = await fetch(`${simUrl}/alipay/wallet/GCASH/pay/${sp.paymentId}`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'pin=123456', redirect: 'manual',
  });
  assert.ok(res.status < 400, `wallet PIN answered ${res.status}`);
  await res.text();
}

async function settled(stripe, id, status) {
  return waitUntil(async () => {
    const pi = await stripe.paymentIntents.retrieve(id);
    return pi.status === status ? pi : null;
  }, { timeoutMs: 15000, what: `intent ${id} to become ${status}` });
}

function hppSession(intent) {
  return new URL(intent.next_action.redirect_to_url.url).pathname.split('/').pop();
}

/** A Klarna Pay Now payment through the simulator's bank pages; resolves {pi, session}. */
async function payNow(k, stripe, amount) {
  const pi = await stripe.paymentIntents.create({ amount, currency: 'eur', payment_method_types: ['klarna_pay_now'] });
  const c = await confirmKlarna(stripe, pi.id, { type: 'klarna_pay_now' });
  assert.equal(c.status, 'requires_action');
  assert.ok(c.next_action.redirect_to_url.url.startsWith(`${k.simUrl}/klarna/hpp/pay/`), c.next_action.redirect_to_url.url);
  const { intent } = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url });
  assert.equal(intent.status, 'succeeded');
  return { pi: intent, session: hppSession(c) };
}

let sim;
before(async () => {
  sim = await startSim('sim-shared');
});
after(async () => {
  if (sim) {
    const res = await sim.stop();
    assert.deepEqual(res, { code: 0, signal: null }, 'kassa sim exits 0 on SIGTERM');
  }
});

test('kassa sim answers on its own; serve refuses --sim-url without --sim-listen off, or with no simulator', async () => {
  const res = await fetch(`${sim.url}/klarna/_sim/orders`);
  assert.equal(res.status, 200);
  assert.ok(Array.isArray((await res.json()).orders));
  const keys = await alipaySim(sim.url, '/_sim/sandbox');
  assert.equal(keys.status, 200);
  assert.match(keys.json.merchantPrivateKey, /^-----BEGIN/);

  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'kassa-e2e-simargs-'));
  const db = path.join(dir, 'kassa.db');
  let r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', db, '--sim-url', sim.url]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--sim-listen off/);
  r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', db, '--sim-listen', 'off', '--sim-url', 'ftp://x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--sim-url must be an http/);
  // a port nothing listens on: the start fails with a message naming the simulators
  const net = require('node:net');
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', db, '--sim-listen', 'off', '--sim-url', `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /simulators at http:\/\/127\.0\.0\.1:\d+ did not answer/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('one node on a separate simulator: Klarna Pay Now and Alipay+ payments, refunds, records agree', async () => {
  const k = await startNode('sim-node', sim.url);
  try {
    assert.equal(k.simUrl, sim.url, 'the ready line names the simulator in use');
    const hook = await startReceiver();
    try {
      await k.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
      // Klarna Pay Now
      const { pi, session } = await payNow(k, k.stripe, 4990);
      assert.equal(pi.amount_received, 4990);
      const r = await k.stripe.refunds.create({ payment_intent: pi.id, amount: 990 });
      assert.equal(r.status, 'succeeded');
      const [order] = (await simOrders(sim.url)).filter((o) => o.hpp_session_id === session);
      assert.ok(order, 'the order is at the separate simulator');
      assert.equal(order.order_amount, 4990);
      assert.equal(order.captured_amount, 4990);
      assert.equal(order.refunded_amount, 990);
      // Alipay+: the connector signs with the sandbox keys it fetched from the simulator
      const { pi: api, attempt } = await payAlipay(k.stripe, 2500, 'one-node');
      await walletPin(sim.url, attempt);
      const paid = await settled(k.stripe, api.id, 'succeeded');
      assert.equal(paid.amount_received, 2500);
      const ar = await k.stripe.refunds.create({ payment_intent: api.id, amount: 700 });
      assert.equal(ar.status, 'succeeded');
      const sp = await alipaySim(sim.url, `/_sim/payments/${attempt}`);
      assert.equal(sp.json.status, 'SUCCESS');
      assert.equal(sp.json.refunded, 700);
      await hook.waitFor(() => hook.requests.some((q) => q.method === 'POST'
        && JSON.parse(q.body).type === 'payment_intent.succeeded' && JSON.parse(q.body).data.object.id === api.id));
    } finally {
      await hook.close();
    }
  } finally {
    await k.stop();
  }
});

test('two nodes (two SQLite files) share one simulator: each order belongs to one node and agrees with it', async () => {
  const a = await startNode('sim-node-a', sim.url);
  const b = await startNode('sim-node-b', sim.url);
  try {
    assert.notEqual(a.merchant.id, b.merchant.id);
    const amounts = { a: [1234, 2345], b: [3456, 4567] };
    // both nodes pay at the same time through the one simulator
    const results = await Promise.all([
      ...amounts.a.map((x) => payNow(a, a.stripe, x).then((r) => ({ node: 'a', ...r }))),
      ...amounts.b.map((x) => payNow(b, b.stripe, x).then((r) => ({ node: 'b', ...r }))),
    ]);
    const ap = await Promise.all([payAlipay(a.stripe, 1111, 'node-a'), payAlipay(b.stripe, 2222, 'node-b')]);
    await Promise.all(ap.map((x) => walletPin(sim.url, x.attempt)));
    await settled(a.stripe, ap[0].pi.id, 'succeeded');
    await settled(b.stripe, ap[1].pi.id, 'succeeded');
    // a refund on each node reaches its own order only
    await a.stripe.refunds.create({ payment_intent: results[0].pi.id, amount: 234 });
    await b.stripe.refunds.create({ payment_intent: results[2].pi.id, amount: 456 });

    const orders = await simOrders(sim.url);
    for (const r of results) {
      const k = r.node === 'a' ? a : b;
      const mine = orders.filter((o) => o.hpp_session_id === r.session);
      assert.equal(mine.length, 1, `one order at the simulator for ${r.pi.id}`);
      const pi = await k.stripe.paymentIntents.retrieve(r.pi.id, { expand: ['latest_charge'] });
      assert.equal(mine[0].order_amount, pi.amount);
      assert.equal(mine[0].captured_amount, pi.amount_received);
      assert.equal(mine[0].refunded_amount, pi.latest_charge.amount_refunded);
      // the other node does not know this payment
      const other = r.node === 'a' ? b : a;
      await assert.rejects(other.stripe.paymentIntents.retrieve(r.pi.id), (e) => e.statusCode === 404);
    }
    for (const [i, k] of [[0, a], [1, b]]) {
      const sp = await alipaySim(sim.url, `/_sim/payments/${ap[i].attempt}`);
      const pi = await k.stripe.paymentIntents.retrieve(ap[i].pi.id);
      assert.equal(sp.json.status, 'SUCCESS');
      assert.equal(sp.json.amount, pi.amount);
    }
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('two nodes on one PostgreSQL database share one simulator: paid on one, refunded on the other',
  { skip: process.env.KASSA_TEST_PG_URL ? false : 'KASSA_TEST_PG_URL not set' }, async () => {
    const base = process.env.KASSA_TEST_PG_URL;
    const db = `kassa_sim_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    execFileSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qAtc', `CREATE DATABASE ${db}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const u = new URL(base);
    u.pathname = `/${db}`;
    const m = await runCli(['merchant', 'create', '--name', 'pg shop', '--db', u.toString()]);
    assert.equal(m.code, 0, m.stderr);
    const key = JSON.parse(m.stdout).secret_key;
    const a = await startNode('sim-pg-a', sim.url, { args: ['--db', u.toString()], merchant: false });
    const b = await startNode('sim-pg-b', sim.url, { args: ['--db', u.toString()], merchant: false });
    try {
      const sa = newStripe(key, a.url);
      const sb = newStripe(key, b.url); // the same merchant, through node B
      const { pi, session } = await payNow(a, sa, 5150);
      const onB = await sb.paymentIntents.retrieve(pi.id);
      assert.equal(onB.status, 'succeeded');
      const r = await sb.refunds.create({ payment_intent: pi.id, amount: 150 });
      assert.equal(r.status, 'succeeded');
      const mine = (await simOrders(sim.url)).filter((o) => o.hpp_session_id === session);
      assert.equal(mine.length, 1);
      assert.equal(mine[0].captured_amount, 5150);
      assert.equal(mine[0].refunded_amount, 150);
      const again = await sa.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
      assert.equal(again.latest_charge.amount_refunded, 150);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
