// Security limits against the real binary (issue 16, points 5, 6, 8): the SSRF guard (every
// odd URL form refused when stored, a name that resolves to loopback refused at connect and
// nothing read back), deleted webhook endpoints not counting toward the 16, per-merchant
// rate limits (429 + Retry-After in the Stripe and ECommPay shapes), the failed-authentication
// limit per address, and slow clients (1,100 connections trickling their heads from one
// address while 3 legitimate calls from another are answered). Each prints its figure.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const dns = require('node:dns/promises');
const os = require('node:os');
const { startKassa, startReceiver, sleep, waitUntil } = require('./harness');
const { signer } = require('ecommpay');

const ODD_URLS = [
  'http://127.0.0.1/', 'http://2130706433/', 'http://0x7f000001/', 'http://127.1/',
  'http://0177.0.0.1/', 'http://017700000001/', 'http://0/', 'http://0.0.0.0/', 'http://[::1]/',
  'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[fe80::1%25lo]/', 'http://[fc00::1]/',
  'http://[fd00::1]/', 'http://10.1.2.3/', 'http://172.16.0.1/', 'http://192.168.1.1/',
  'http://100.64.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://localhost/',
  'http://localhost./', 'http://a.localhost/', 'http://user@127.0.0.1/', 'http://u:p@example.com/',
  'http://example.com@127.0.0.1/', 'http://', 'http:///x', 'ftp://example.com/', 'javascript:alert(1)',
  'file:///etc/passwd',
];

describe('SSRF guard (no development switch)', () => {
  let k;
  before(async () => {
    k = await startKassa({ name: 'security-ssrf', env: { KASSA_DEV_ALLOW_LOOPBACK: '0' } });
  });
  after(async () => { if (k) await k.stop(); });

  it('webhook endpoint URLs: every odd form refused at creation, naming the parameter', async () => {
    let refused = 0;
    for (const url of ODD_URLS) {
      const r = await k.http('POST', '/v1/webhook_endpoints', {
        body: `url=${encodeURIComponent(url)}&enabled_events[0]=*`,
      });
      assert.equal(r.status, 400, `${url}: ${r.text}`);
      assert.equal(r.json.error.param, 'url', r.text);
      refused++;
    }
    const list = await k.stripe.webhookEndpoints.list({ limit: 100 });
    assert.equal(list.data.length, 0, 'nothing stored');
    console.log(`# ssrf: ${refused} of ${ODD_URLS.length} webhook URL forms refused at creation`);
  });

  it('ECommPay callback_url setting, merchant_callback_url and Data API delivery_url refused', async () => {
    const project = k.merchant.ecp_project_id;
    const secret = k.merchant.ecp_secret;
    let refused = 0;
    for (const url of ['http://2130706433/', 'http://[::ffff:127.0.0.1]/', 'http://169.254.169.254/']) {
      const s = await k.http('POST', '/v1/kassa/ecommpay/settings', { body: `callback_url=${encodeURIComponent(url)}` });
      assert.equal(s.status, 400, s.text);
      assert.equal(s.json.error.param, 'callback_url');
      const sale = {
        general: { project_id: project, payment_id: `SSRF-${refused}`, merchant_callback_url: url },
        customer: { id: 'c1', email: 'customer@email.de', country: 'DE', first_name: 'T', last_name: 'P' },
        payment: { amount: 1000, currency: 'EUR' },
      };
      sale.general.signature = signer(JSON.parse(JSON.stringify(sale)), secret);
      const g = await fetch(`${k.url}/v2/payment/online-banking/sofort/sale`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sale),
      });
      const gj = await g.json();
      assert.equal(g.status, 400, JSON.stringify(gj));
      assert.match(gj.message, /merchant_callback_url/);
      const body = { project_id: project, interval: { from: '2000-01-01 00:00:00', to: '2100-01-01 00:00:00' }, delivery_url: url };
      body.signature = signer(body, secret);
      const d = await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(body) });
      const dj = await d.json();
      assert.equal(d.status, 400, JSON.stringify(dj));
      assert.match(dj.message, /delivery_url/);
      assert.equal(dj.delivery_status, undefined, 'no port-scanner answer');
      refused += 3;
    }
    console.log(`# ssrf: ${refused} ECommPay URLs refused at creation`);
  });

  it('a host name that resolves to a non-public address is refused at connect; nothing read back', async () => {
    const name = os.hostname();
    const addrs = await dns.lookup(name, { all: true });
    const isPrivate = (a) => /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$|fe80:|fc|fd)/.test(a.address);
    assert.ok(addrs.length > 0 && addrs.every(isPrivate), `host name ${name} must resolve to a non-public address here: ${JSON.stringify(addrs)}`);
    const rx = await startReceiver();
    const port = new URL(rx.url).port;
    const we = await k.stripe.webhookEndpoints.create({ url: `http://${name}:${port}/hook`, enabled_events: ['*'] });
    const pi = await k.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna'] });
    await k.stripe.paymentIntents.cancel(pi.id);
    const evs = await k.stripe.events.list({ limit: 10 });
    const ev = evs.data.find((e) => e.data.object.id === pi.id);
    assert.ok(ev, 'an event was emitted');
    let d;
    await waitUntil(async () => {
      const res = await k.stripe.rawRequest('GET', `/v1/events/${ev.id}/deliveries`);
      d = (Array.isArray(res) ? res : res.data).find((x) => x.endpoint === we.id);
      return d && d.attempts >= 1;
    }, { timeoutMs: 15000, what: 'a refused delivery attempt' });
    await sleep(500);
    assert.equal(rx.requests.length, 0, 'the receiver on loopback was never reached');
    const log = JSON.stringify(d);
    assert.ok(!log.includes('test receiver'), `no answer read back: ${log}`);
    assert.match(log, /not a public address/, log);
    await rx.close();
    await k.stripe.webhookEndpoints.del(we.id);
    console.log(`# ssrf: ${name} (${addrs.map((a) => a.address).join(', ')}) refused at connect, 0 requests reached the receiver`);
  });

  it('unknown event types and url=http:// refused; deleted endpoints do not count toward 16', async () => {
    const bad = await k.http('POST', '/v1/webhook_endpoints', { body: 'url=https://example.com/h&enabled_events[0]=payment_intent.nope' });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.param, 'enabled_events');
    const empty = await k.http('POST', '/v1/webhook_endpoints', { body: 'url=http://&enabled_events[0]=*' });
    assert.equal(empty.status, 400, empty.text);
    for (let round = 0; round < 2; round++) {
      const ids = [];
      for (let i = 0; i < 16; i++) {
        ids.push((await k.stripe.webhookEndpoints.create({ url: `https://example.com/h${round}-${i}`, enabled_events: ['*'] })).id);
      }
      const over = await k.http('POST', '/v1/webhook_endpoints', { body: 'url=https://example.com/over&enabled_events[0]=*' });
      assert.equal(over.status, 400, 'the 17th live endpoint is refused');
      for (const id of ids) await k.stripe.webhookEndpoints.del(id);
    }
    const again = await k.stripe.webhookEndpoints.create({ url: 'https://example.com/again', enabled_events: ['*'] });
    assert.match(again.id, /^we_/);
  });
});

describe('rate limits', () => {
  let k;
  before(async () => {
    k = await startKassa({
      name: 'security-rate',
      env: { KASSA_RATE_LIMIT_PER_S: '5', KASSA_RATE_LIMIT_BURST: '10', KASSA_AUTH_FAIL_BURST: '5', KASSA_AUTH_FAIL_PER_MIN: '6' },
    });
  });
  after(async () => { if (k) await k.stop(); });

  it('one merchant past its rate gets 429 rate_limit with Retry-After; another merchant does not', async () => {
    const codes = {};
    let retryAfter = null;
    let errBody = null;
    await Promise.all(Array.from({ length: 30 }, async () => {
      const r = await k.http('GET', '/v1/payment_intents?limit=1');
      codes[r.status] = (codes[r.status] || 0) + 1;
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        errBody = r.json;
      }
    }));
    assert.ok(codes[429] >= 15, `most of 30 requests over a burst of 10 are refused: ${JSON.stringify(codes)}`);
    assert.ok(codes[200] >= 10, JSON.stringify(codes));
    assert.deepEqual(Object.keys(codes).sort(), ['200', '429']);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    assert.equal(errBody.error.code, 'rate_limit');
    assert.equal(errBody.error.type, 'invalid_request_error');
    // the official client maps it to StripeRateLimitError
    const e = await k.stripe.paymentIntents.list({ limit: 1 }).then(() => null, (x) => x);
    assert.ok(e && e.type === 'StripeRateLimitError', `stripe-node error: ${e && e.type}`);
    const other = await k.createMerchant('other shop');
    const o = await k.http('GET', '/v1/payment_intents?limit=1', { auth: other.secret_key });
    assert.equal(o.status, 200, 'another merchant has its own bucket');
    await sleep(2200); // 5/s refills
    assert.equal((await k.http('GET', '/v1/payment_intents?limit=1')).status, 200, 'allowed again after the wait');
    console.log(`# rate limit: of 30 concurrent requests (rate 5/s, burst 10): ${codes[200]} answered, ${codes[429]} got 429 (Retry-After ${retryAfter})`);
  });

  it('ECommPay Gate requests count toward the merchant and get ECommPay\'s error shape', async () => {
    await sleep(2200);
    const project = k.merchant.ecp_project_id;
    const secret = k.merchant.ecp_secret;
    const statuses = {};
    let shape = null;
    await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const body = { general: { project_id: project, payment_id: `RL-${i}` } };
      body.general.signature = signer(JSON.parse(JSON.stringify(body)), secret);
      const r = await fetch(`${k.url}/v2/payment/status`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const j = await r.json();
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 429) shape = { j, retry: r.headers.get('retry-after') };
    }));
    assert.ok(statuses[429] >= 15, JSON.stringify(statuses));
    assert.equal(shape.j.status, 'error');
    assert.equal(typeof shape.j.code, 'string');
    assert.equal(shape.j.project_id, project);
    assert.ok(Number(shape.retry) >= 1);
    console.log(`# rate limit (ECommPay): ${JSON.stringify(statuses)}`);
  });

  it('failed authentications: after the burst an address gets 429, even with a right key', async () => {
    const seen = [];
    for (let i = 0; i < 12; i++) {
      const r = await k.http('GET', '/v1/payment_intents', { auth: `sk_test_wrong${i}` });
      seen.push(r.status);
    }
    assert.deepEqual(seen.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(seen.slice(5).every((s) => s === 429), JSON.stringify(seen));
    const right = await k.http('GET', '/v1/payment_intents', {});
    assert.equal(right.status, 429, 'a locked-out address does not learn that a key is right');
    assert.ok(Number(right.headers.get('retry-after')) >= 1);
    await sleep(10500); // 6 a minute: one more try after 10 s
    assert.equal((await k.http('GET', '/v1/payment_intents?limit=1', {})).status, 200);
    console.log(`# auth failures: ${seen.filter((s) => s === 401).length} x 401, then ${seen.filter((s) => s === 429).length} x 429 of 12 wrong keys`);
  });
});

describe('slow clients', () => {
  let k;
  before(async () => {
    k = await startKassa({ name: 'security-slow', env: { KASSA_HEAD_DEADLINE_S: '3', KASSA_CONNECTIONS_PER_IP: '64' } });
  });
  after(async () => { if (k) await k.stop(); });

  it('a head trickled one byte a second is cut at the deadline (the idle timeout never fires)', async () => {
    const { hostname, port } = new URL(k.url);
    const s = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.3' });
    await new Promise((resolve, reject) => { s.on('connect', resolve); s.on('error', reject); });
    const t0 = Date.now();
    s.write('GET /healthz HTTP/1.1\r\n');
    const trickle = setInterval(() => { if (!s.destroyed) s.write('X'); }, 500);
    const closedAt = await new Promise((resolve) => s.on('close', () => resolve(Date.now())));
    clearInterval(trickle);
    const ms = closedAt - t0;
    assert.ok(ms >= 2500 && ms < 6000, `closed after ${ms} ms with a 3 s head deadline`);
    console.log(`# slow clients: a trickled head was cut after ${ms} ms (deadline 3 s)`);
  });

  it('1,100 connections trickling header bytes from one address; 3 legitimate calls answered', async () => {
    const { hostname, port } = new URL(k.url);
    const socks = [];
    let closedByServer = 0;
    let opened = 0;
    await Promise.all(Array.from({ length: 1100 }, () => new Promise((resolve) => {
      const s = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.2' });
      s.on('connect', () => { opened++; s.write('GET /v1/payment_intents HTTP/1.1\r\nHost: x\r\n'); resolve(); });
      s.on('error', () => resolve());
      s.on('close', () => { closedByServer++; resolve(); });
      socks.push(s);
    })));
    const trickle = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write('X'); }, 1000);
    try {
      await sleep(500);
      const t0 = Date.now();
      const answers = await Promise.all([1, 2, 3].map(() => k.http('GET', '/v1/payment_intents?limit=1')));
      const ms = Date.now() - t0;
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
      // the head deadline closes the trickling connections that got in
      await waitUntil(() => socks.every((s) => s.destroyed || s.closed), { timeoutMs: 15000, what: 'every trickling connection closed' });
      console.log(`# slow clients: 1100 trickling connections (${opened} connected), 3 of 3 legitimate calls answered in ${ms} ms; all 1100 closed by the server (${closedByServer} close events)`);
    } finally {
      clearInterval(trickle);
      for (const s of socks) s.destroy();
    }
  });
});
