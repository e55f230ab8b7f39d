// Three Kassa nodes on one PostgreSQL database behind HAProxy, sharing one `kassa sim`: the
// core flows through the balancer (create, confirm, pay at the Klarna simulator, capture,
// refund, list, idempotency, webhooks); 100 concurrent captures and refunds of one payment
// spread over the three nodes (never over-captured, the journal adds up, Klarna agrees); one
// node kill -9ed while it holds an idempotency key and webhook claims (the key is answered once
// after the lease, every webhook is delivered, none twice after a successful attempt); the
// limits (requests per merchant, Klarna calls per merchant, failed authentications per
// address) counted once over three more nodes with low limits, not once per node.
//
// Runs when KASSA_E2E_PG_URL names a PostgreSQL server (scripts/test.sh's PostgreSQL section);
// skipped otherwise. HAProxy (Debian's haproxy, scripts/deps.sh --test) is started by the test.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const {
  startKassa, waitUntil, sleep, newStripe, createPgDatabase, KASSA_RELEASE_BIN,
} = require('./harness');
const { payKlarna, sim, confirmKlarna } = require('./klarna');

const PG_URL = process.env.KASSA_E2E_PG_URL;
const NODES = 3;
const LEASE_S = 120; // LIMIT_IDEMPOTENCY_LEASE_S
const DISPATCH_LEASE_S = 60; // DISPATCH_LEASE_MS in src/gateway/dispatch.c
const HOLD_MS = 4000; // the simulator holds a capture, the receiver holds webhooks, this long

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startSim() {
  return new Promise((resolve, reject) => {
    const proc = spawn(KASSA_RELEASE_BIN, ['sim', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('kassa sim did not print its ready line')), 15000);
    proc.stdout.on('data', (c) => {
      out += c.toString('utf8');
      const m = out.match(/^kassa sim ready (\{.*\})$/m);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: JSON.parse(m[1]).url });
      }
    });
    proc.stderr.on('data', () => {});
    proc.on('error', reject);
  });
}

/** HAProxy in front of the nodes: round robin, health-checked on /healthz. */
async function startBalancer(port, nodes, dir) {
  const servers = nodes.map((k, i) => {
    const u = new URL(k.nodeUrl);
    return `  server n${i} ${u.hostname}:${u.port} check inter 500ms fall 2 rise 1`;
  });
  const cfg = [
    'global', '  maxconn 2000',
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 60s', '  timeout server 60s',
    // A request that never reached a node (refused connection) goes to another one; nothing
    // that a node may have received is sent twice by the balancer.
    '  retries 3', '  option redispatch', '  retry-on conn-failure',
    'frontend kassa', `  bind 127.0.0.1:${port}`, '  default_backend nodes',
    'backend nodes', '  balance roundrobin', '  option httpchk', '  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host kassa',
    '  timeout check 2s', ...servers, '',
  ].join('\n');
  const cfgPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfgPath, cfg);
  const proc = spawn('haproxy', ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c) => { err = (err + c.toString()).slice(-4000); });
  proc.stdout.on('data', () => {});
  const url = `http://127.0.0.1:${port}`;
  let last = '';
  try {
    await waitUntil(async () => {
      if (proc.exitCode !== null) throw new Error(`haproxy exited ${proc.exitCode}: ${err}`);
      try {
        const res = await fetch(`${url}/healthz`);
        last = `${res.status} ${await res.text()}`;
        return res.status === 200;
      } catch (e) {
        last = String(e.cause || e);
        return false;
      }
    }, { timeoutMs: 10000, what: 'haproxy to answer' });
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}; last answer: ${last}; haproxy said: ${err}`);
  }
  return { proc, url };
}

/** A webhook receiver that can hold its answers; it tells an answered request from one whose
 * sender went away before the answer (a node killed while holding the delivery's claim). */
async function startHoldingReceiver() {
  const r = { hold: false, held: [], got: [], url: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rec = { body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, answered: false, aborted: false };
      r.got.push(rec);
      res.on('close', () => { if (!res.writableFinished) rec.aborted = true; });
      const answer = () => {
        if (res.destroyed) { rec.aborted = true; return; }
        res.end('ok', () => { rec.answered = true; });
      };
      if (r.hold) r.held.push(answer); else answer();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${server.address().port}/hook`;
  /** Answer what is held and stop holding. */
  r.release = () => {
    r.hold = false;
    for (const answer of r.held.splice(0)) answer();
  };
  r.close = () => new Promise((resolve) => { r.release(); server.closeAllConnections(); server.close(resolve); });
  r.objectId = (rec) => JSON.parse(rec.body).data.object.id;
  return r;
}

function journalAddsUp(pi, rows) {
  const sum = (kind) => rows.filter((r) => r.kind === kind && r.status === 'succeeded').reduce((s, r) => s + r.amount, 0);
  assert.equal(sum('capture'), pi.amount_received, 'captures in the journal = amount_received');
  assert.equal(sum('refund_settle'), pi.kassa.amount_refunded, 'settled refunds in the journal = amount_refunded');
  assert.ok(pi.kassa.amount_refunded <= pi.amount_received, 'never refunded more than captured');
  assert.ok(pi.amount_received <= pi.amount, 'never captured more than authorised');
  assert.equal(pi.amount_received + pi.amount_capturable + pi.kassa.amount_released, pi.amount,
    'captured + capturable + released = amount');
}

describe('three nodes on one PostgreSQL behind HAProxy', { skip: PG_URL ? false : 'needs KASSA_E2E_PG_URL (scripts/test.sh PostgreSQL section)' }, () => {
  let simProc;
  let simUrl;
  let lb;
  let stripe; // through the balancer
  const nodes = [];
  let live; // the nodes still running
  let dir;
  let dbUrl; // the nodes' one database

  before(async () => {
    try {
      execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    } catch (e) {
      throw new Error('haproxy is not installed (scripts/deps.sh --test installs it)');
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-multinode-'));
    dbUrl = createPgDatabase(PG_URL);
    const db = dbUrl;
    ({ proc: simProc, url: simUrl } = await startSim());
    const lbPort = await freePort();
    const lbUrl = `http://127.0.0.1:${lbPort}`;
    // Each node announces the public (balancer's) URL, so it listens on a port chosen here.
    const ports = [];
    for (let i = 0; i < NODES; i++) ports.push(await freePort());
    // Started together: the migrations must serialise themselves.
    const started = await Promise.all(ports.map((port, i) => startKassa({
      name: `multinode-${i}`, db, merchant: false,
      args: ['--listen', `127.0.0.1:${port}`, '--sim-listen', 'off', '--sim-url', simUrl, '--public-url', lbUrl],
    })));
    started.forEach((k, i) => { k.nodeUrl = `http://127.0.0.1:${ports[i]}`; });
    nodes.push(...started);
    live = [...nodes];
    const m = await nodes[0].createMerchant('multinode shop');
    for (const k of nodes) {
      k.merchant = m;
      k.secretKey = m.secret_key;
      k.publishableKey = m.publishable_key;
      k.url = k.nodeUrl; // http() and advanceClock() go to the node itself
      k.stripe = newStripe(m.secret_key, k.url);
    }
    lb = await startBalancer(lbPort, nodes, dir);
    stripe = newStripe(m.secret_key, lb.url);
  });
  after(async () => {
    if (lb) lb.proc.kill('SIGTERM');
    for (const k of nodes) if (k.proc) await k.stop();
    if (simProc) simProc.kill('SIGTERM');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The test clock moves on every running node alike; returns node 0's new now. */
  async function advanceAll(seconds) {
    const nows = await Promise.all(live.map((k) => k.advanceClock(seconds)));
    return nows[0];
  }
  const order = (pi) => sim(simUrl, 'GET', `orders/${pi.kassa.provider_order}`);
  const journal = async (id) => (await stripe.rawRequest('GET', `/v1/payment_intents/${id}/journal`, {})).data;

  async function authorised(amount, via = stripe) {
    const pi = await via.paymentIntents.create({
      amount, currency: 'eur', payment_method_types: ['klarna_pay_later'], capture_method: 'manual',
    });
    const c = await confirmKlarna(via, pi.id, { type: 'klarna_pay_later' });
    assert.equal(c.status, 'requires_action');
    const { intent } = await payKlarna(via, c, simUrl, { kassaUrl: lb.url, category: 'pay_later' });
    assert.equal(intent.status, 'requires_capture');
    return intent;
  }

  it('the core flow through the balancer: create, confirm, pay at Klarna, capture, refund, list', async () => {
    const intent = await authorised(8000);
    const cap = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 5000 });
    assert.equal(cap.status, 'succeeded');
    assert.equal(cap.amount_received, 5000);
    const re = await stripe.refunds.create({ payment_intent: intent.id, amount: 1500 });
    assert.ok(['succeeded', 'pending'].includes(re.status), re.status);
    const p = await waitUntil(async () => {
      const x = await stripe.paymentIntents.retrieve(intent.id);
      return x.kassa.amount_refunded === 1500 ? x : null;
    }, { what: 'the refund to settle' });
    // Every node reads the same payment from the primary.
    for (const k of nodes) {
      const x = await k.stripe.paymentIntents.retrieve(intent.id);
      assert.equal(x.amount_received, 5000);
      assert.equal(x.kassa.amount_refunded, 1500);
    }
    journalAddsUp(p, await journal(intent.id));
    const o = await order(p);
    assert.equal(o.captured_amount, 5000, 'Klarna captured what Kassa says');
    assert.equal(o.refunded_amount, 1500, 'Klarna refunded what Kassa says');
    const list = await stripe.paymentIntents.list({ limit: 100 });
    assert.ok(list.data.some((x) => x.id === intent.id));
    // Pages of the list, each from whichever node: no gaps, no repeats.
    const made = [];
    for (let i = 0; i < 7; i++) made.push((await nodes[i % NODES].stripe.paymentIntents.create({ amount: 100 + i, currency: 'eur', payment_method_types: ['klarna'] })).id);
    const seen = [];
    let after;
    for (let page = 0; page < 10; page++) {
      const res = await stripe.paymentIntents.list({ limit: 3, ...(after ? { starting_after: after } : {}) });
      seen.push(...res.data.map((x) => x.id));
      if (!res.has_more) break;
      after = res.data[res.data.length - 1].id;
    }
    assert.equal(new Set(seen).size, seen.length, 'no intent twice in the pages');
    for (const id of made) assert.ok(seen.includes(id), `${id} is listed`);
  });

  for (let round = 0; round < 4; round++) it(`one Idempotency-Key sent to all three nodes at once: one intent, one answer (round ${round + 1})`, async () => {
    const key = `mn-${Date.now()}-${Math.random()}`;
    const tag = `idem-${key}`;
    const body = `amount=4321&currency=eur&payment_method_types[]=klarna&metadata[tag]=${encodeURIComponent(tag)}`;
    const sends = [];
    for (let i = 0; i < 9; i++) {
      sends.push(nodes[i % NODES].http('POST', '/v1/payment_intents', {
        body, headers: { 'Idempotency-Key': key },
      }));
    }
    const res = await Promise.all(sends);
    const ok = res.filter((r) => r.status === 200);
    // A request that lost the race is refused with a retryable 409 idempotency_key_in_use,
    // whether the key was in use on its own node or another node's transaction claimed or
    // answered it first, and changed nothing.
    for (const r of res) {
      if (r.status !== 200) {
        assert.equal(r.status, 409, `an orderly refusal: ${r.status} ${r.text}`);
        assert.equal(r.json.error.code, 'idempotency_key_in_use', r.text);
        assert.equal(r.json.error.type, 'idempotency_error', r.text);
      }
    }
    assert.ok(ok.length >= 1, 'at least one answer');
    const ids = new Set(ok.map((r) => r.json.id));
    assert.equal(ids.size, 1, `one intent for one key: ${[...ids]}`);
    const again = await nodes[2].http('POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': key } });
    assert.equal(again.status, 200);
    assert.equal(again.json.id, [...ids][0], 'a later retry replays the answer');
    const all = [];
    let after;
    for (let page = 0; page < 50; page++) {
      const l = await stripe.paymentIntents.list({ limit: 100, ...(after ? { starting_after: after } : {}) });
      all.push(...l.data);
      if (!l.has_more) break;
      after = l.data[l.data.length - 1].id;
    }
    assert.equal(all.filter((x) => x.metadata && x.metadata.tag === tag).length, 1, 'exactly one intent created');
    const other = await nodes[1].http('POST', '/v1/payment_intents', {
      body: body.replace('4321', '4322'), headers: { 'Idempotency-Key': key },
    });
    assert.equal(other.status, 400, 'other parameters with the same key are refused on any node');
  });

  it('100 concurrent captures and refunds of one payment over three nodes: never over-captured', async () => {
    const intent = await authorised(10000);
    const ops = [];
    for (let i = 0; i < 100; i++) {
      const via = nodes[i % NODES].stripe;
      ops.push(i % 5 < 3
        ? via.paymentIntents.capture(intent.id, { amount_to_capture: 400, final_capture: false }).then(() => ['capture', 400])
        : via.refunds.create({ payment_intent: intent.id, amount: 400 }).then(() => ['refund', 400]));
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
    // 60 captures of 4.00 against 100.00: exactly 25 fit, the other 35 are refused (the
    // simulator keeps at most 32 captures and 32 refunds per order: LIMIT_SIM_OPS_MAX).
    assert.equal(captured, 10000, `captured ${captured}`);
    assert.equal(ok.filter(([kind]) => kind === 'capture').length, 25);
    const p = await waitUntil(async () => {
      const x = await stripe.paymentIntents.retrieve(intent.id);
      const rs = (await stripe.refunds.list({ payment_intent: intent.id, limit: 100 })).data;
      return rs.every((r) => r.status !== 'pending') ? x : null;
    }, { what: 'refunds to settle' });
    assert.equal(p.amount_received, captured, 'every answered capture is in amount_received');
    assert.ok(refunded >= p.kassa.amount_refunded);
    journalAddsUp(p, await journal(intent.id));
    const o = await order(p);
    assert.equal(o.captured_amount, p.amount_received, 'Klarna captured what Kassa says');
    assert.equal(o.refunded_amount, p.kassa.amount_refunded, 'Klarna refunded what Kassa says');
  });

  it('webhooks: every event delivered once, whichever node wrote it', async () => {
    const r = await startHoldingReceiver();
    try {
      const we = await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['payment_intent.created'] });
      const ids = [];
      for (let i = 0; i < 15; i++) {
        ids.push((await nodes[i % NODES].stripe.paymentIntents.create({ amount: 200 + i, currency: 'eur', payment_method_types: ['klarna'] })).id);
      }
      await waitUntil(() => ids.every((id) => r.got.some((q) => r.objectId(q) === id && q.answered)),
        { timeoutMs: 20000, what: 'every payment_intent.created' });
      await sleep(1500); // room for a wrong second delivery
      for (const id of ids) {
        assert.equal(r.got.filter((q) => r.objectId(q) === id).length, 1, `${id}'s event delivered once`);
      }
      for (const q of r.got) {
        const ev = stripe.webhooks.constructEvent(q.body, q.headers['stripe-signature'], we.secret);
        assert.equal(ev.type, 'payment_intent.created');
      }
    } finally {
      await r.close();
    }
  });

  it('a node kill -9ed holding an idempotency key and webhook claims: the key answered once after the lease, every webhook delivered', async () => {
    const victim = nodes[2];
    const intent = await authorised(6000);
    const r = await startHoldingReceiver();
    try {
      await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['payment_intent.created'] });
      // Webhooks: the receiver holds its answers. Every node is woken by the outbox's NOTIFY,
      // so the other two are stopped (SIGSTOP) while the victim's dispatcher claims the first
      // deliveries: it must hold at least one when it dies. Then they go on and take the rest.
      r.hold = true;
      const others = nodes.filter((k) => k !== victim);
      for (const k of others) k.proc.kill('SIGSTOP');
      const ids = [];
      try {
        for (let i = 0; i < 6; i++) {
          ids.push((await victim.stripe.paymentIntents.create({ amount: 300 + i, currency: 'eur', payment_method_types: ['klarna'] })).id);
        }
        await waitUntil(() => r.got.length >= 1, { timeoutMs: 10000, what: 'a delivery the victim sent' });
      } finally {
        for (const k of others) k.proc.kill('SIGCONT');
      }
      await waitUntil(() => r.got.length >= 3, { timeoutMs: 10000, what: 'deliveries held by the receiver' });
      // The capture: Klarna holds it; the victim dies once its claim of the key is durable.
      await sim(simUrl, 'POST', 'faults',
        { path: `/ordermanagement/v1/orders/${intent.kassa.provider_order}/captures`, delay_ms: HOLD_MS, count: 1 });
      const key = `mn-kill-${Date.now()}`;
      const capBody = 'amount_to_capture=2500&final_capture=false';
      const capture = victim.http('POST', `/v1/payment_intents/${intent.id}/capture`,
        { body: capBody, headers: { 'Idempotency-Key': key } }).then((v) => ({ v }), (e) => ({ e }));
      await waitUntil(() => execFileSync('psql', [dbUrl, '-qAtc', `SELECT status FROM idempotency WHERE key = '${key}'`],
        { encoding: 'utf8' }).trim() === '0', { timeoutMs: 10000, what: 'the claim of the key to be committed' });
      await sleep(200);
      await victim.kill9();
      live = nodes.filter((k) => k !== victim);
      const died = await capture;
      assert.ok(died.e, `the capture's connection died with the node: ${JSON.stringify(died.v && died.v.status)}`);
      await sleep(HOLD_MS); // Klarna finishes the held capture: it was done there
      await waitUntil(() => r.got.some((q) => q.aborted), { timeoutMs: 5000, what: 'a delivery the victim held' });
      r.release();
      // The live nodes' successful sends are recorded before the clock jumps past every lease:
      // in real time a 60 s lease outlives that write by far; a jump must not overtake it.
      const sql = (q) => execFileSync('psql', [dbUrl, '-qAtc', q], { encoding: 'utf8' }).trim();
      await waitUntil(() => {
        const done = r.got.filter((q) => q.answered).map((q) => JSON.parse(q.body).id);
        if (r.got.some((q) => !q.answered && !q.aborted)) return false;
        if (done.length === 0) return true;
        const list = done.map((id) => `'${id}'`).join(',');
        return sql(`SELECT count(*) FROM deliveries WHERE event_id IN (${list}) AND lease_until_ms IS NOT NULL`) === '0';
      }, { timeoutMs: 10000, what: 'the live nodes to record their deliveries' });

      // Within the lease another node refuses the key: the dead request still owns it.
      const early = await nodes[0].http('POST', `/v1/payment_intents/${intent.id}/capture`,
        { body: capBody, headers: { 'Idempotency-Key': key } });
      assert.equal(early.status, 409, `in use within the lease: ${early.status} ${early.text}`);
      assert.equal(early.json.error.code, 'idempotency_key_in_use');

      await advanceAll(Math.max(LEASE_S, DISPATCH_LEASE_S) + 5);
      const answers = [];
      for (const k of live) {
        answers.push(await waitUntil(async () => {
          const x = await k.http('POST', `/v1/payment_intents/${intent.id}/capture`,
            { body: capBody, headers: { 'Idempotency-Key': key } });
          return x.status === 409 ? null : x;
        }, { timeoutMs: 15000, what: 'the key to be answered' }));
      }
      for (const a of answers) assert.equal(a.status, 200, `${a.status} ${a.text}`);
      assert.equal(answers[0].json.amount_received, 2500);
      assert.equal(answers[1].json.amount_received, 2500, 'the same answer from every node');
      const p = await stripe.paymentIntents.retrieve(intent.id);
      assert.equal(p.amount_received, 2500, 'captured once');
      journalAddsUp(p, await journal(intent.id));
      assert.equal((await order(p)).captured_amount, 2500, 'Klarna captured once');

      // Every webhook delivered; none answered twice.
      await waitUntil(() => ids.every((id) => r.got.some((q) => r.objectId(q) === id && q.answered)),
        { timeoutMs: 20000, what: 'every event delivered after the victim died' });
      await sleep(1500);
      for (const id of ids) {
        const answered = r.got.filter((q) => r.objectId(q) === id && q.answered);
        assert.equal(answered.length, 1, `${id}: one successful delivery (${r.got.filter((q) => r.objectId(q) === id).length} attempts)`);
      }
    } finally {
      await r.close();
    }
  });
  // Three more nodes on the same database with low limits (the nodes above have none): a
  // merchant's requests, its Klarna calls and an address's failed authentications are
  // counted once in PostgreSQL, whichever node a request lands on.
  describe('limits that hold whichever node a request lands on', () => {
    const RATE_BURST = 20; // --rate-limit-burst; --rate-limit-per-s 1 refills one a second
    const KLARNA_PER_MIN = 4;
    const AUTH_FAIL_BURST = 12;
    const limited = [];
    const as = (k, key, method, p, opts = {}) => k.http(method, p, { ...opts, auth: key });

    before(async () => {
      const started = await Promise.all([0, 1, 2].map((i) => startKassa({
        name: `multinode-limited-${i}`, db: dbUrl, merchant: false,
        env: {
          KASSA_RATE_LIMIT_PER_S: '1', KASSA_RATE_LIMIT_BURST: String(RATE_BURST),
          KASSA_KLARNA_RATE_PER_MIN: String(KLARNA_PER_MIN),
          KASSA_AUTH_FAIL_PER_MIN: '1', KASSA_AUTH_FAIL_BURST: String(AUTH_FAIL_BURST),
        },
        args: ['--sim-listen', 'off', '--sim-url', simUrl],
      })));
      limited.push(...started);
    });
    after(async () => {
      for (const k of limited) if (k.proc) await k.stop();
    });

    it('a merchant past its request rate gets 429 on every node once its total reaches the limit (not 3x)', async () => {
      const m = await limited[0].createMerchant('rate-limited shop');
      const N = 45; // 15 a node: under each node's own burst of 20, over the merchant's
      const t0 = Date.now();
      const res = await Promise.all(Array.from({ length: N },
        (_, i) => as(limited[i % 3], m.secret_key, 'GET', '/v1/payment_intents?limit=1')));
      const seconds = Math.ceil((Date.now() - t0) / 1000);
      for (const r of res) assert.ok([200, 429].includes(r.status), `${r.status} ${r.text}`);
      const ok = res.filter((r) => r.status === 200).length;
      // The burst, plus what one a second refilled while the requests ran.
      assert.ok(ok >= RATE_BURST, `the whole burst was allowed: ${ok}`);
      assert.ok(ok <= RATE_BURST + seconds + 1, `${ok} of ${N} answered: the total is limited, not each node's share`);
      const refused = res.filter((r) => r.status === 429);
      for (const r of refused) {
        assert.equal(r.json.error.code, 'rate_limit', r.text);
        assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After is set');
      }
      // Another merchant has its own count.
      const other = await limited[1].createMerchant('another rate-limited shop');
      assert.equal((await as(limited[2], other.secret_key, 'GET', '/v1/payment_intents?limit=1')).status, 200);
    });

    it('the Klarna budget answers rate_limit across nodes once the merchant\'s total is spent', async () => {
      const m = await limited[0].createMerchant('klarna-budget shop');
      const N = 12; // 4 a node: each node's own count would let every one through
      const ids = [];
      for (let i = 0; i < N; i++) {
        // created on the unlimited nodes still running: creating is not a Klarna call
        const r = await as(live[i % live.length], m.secret_key, 'POST', '/v1/payment_intents',
          { body: 'amount=1500&currency=eur&payment_method_types[]=klarna' });
        assert.equal(r.status, 200, r.text);
        ids.push(r.json.id);
      }
      const res = await Promise.allSettled(ids.map((id, i) => confirmKlarna(newStripe(m.secret_key, limited[i % 3].url), id)));
      const ok = res.filter((r) => r.status === 'fulfilled');
      for (const r of ok) assert.equal(r.value.status, 'requires_action');
      for (const r of res.filter((x) => x.status === 'rejected')) {
        assert.equal(r.reason.statusCode, 400, String(r.reason));
        assert.equal(r.reason.code, 'rate_limit', String(r.reason));
        assert.match(r.reason.message, new RegExp(`at most ${KLARNA_PER_MIN} a minute`));
      }
      assert.equal(ok.length, KLARNA_PER_MIN, `${ok.length} of ${N} confirmations reached Klarna: the merchant's total, not each node's`);
    });

    // Last: the address (127.0.0.1, every test's) stays blocked until its bucket refills.
    it('failed authentications from one address are counted over the nodes', async () => {
      const N = 30; // 10 a node: under each node's own burst of 12, over the address's
      const res = [];
      for (let i = 0; i < N; i++) res.push(await as(limited[i % 3], 'sk_test_wrong', 'GET', '/v1/payment_intents'));
      const unauthorised = res.filter((r) => r.status === 401).length;
      const blocked = res.filter((r) => r.status === 429);
      assert.equal(unauthorised + blocked.length, N, res.map((r) => r.status).join(','));
      assert.ok(unauthorised >= AUTH_FAIL_BURST && unauthorised <= AUTH_FAIL_BURST + 2,
        `${unauthorised} refused as unauthorised before the address was blocked`);
      assert.ok(blocked.length > 0, 'the address is blocked');
      for (const r of blocked) assert.equal(r.json.error.code, 'rate_limit', r.text);
    });
  });
});
