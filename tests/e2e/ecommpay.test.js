// The ECommPay-compatible dialect driven by the official `ecommpay` npm package (0.1.7):
// Payment Page URLs built by its Payment class (over HTTP and in Chromium through the whole
// Klarna Pay Now flow), Gate sale/refund/status signed with its signer, every callback checked
// with its Callback class, the Data API, and one payment seen through both dialects.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Payment, Callback, signer } = require('ecommpay');
const { startKassa, startReceiver, waitUntil } = require('./harness');
const { parseForm } = require('./klarna');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, 'artifacts');

const CUSTOMER = {
  id: 'cust-42', ip_address: '203.0.113.7', email: 'customer@email.de', first_name: 'Test',
  last_name: 'Person-de', country: 'DE',
};

/** Every callback so far, each verified with the package's Callback class. */
function callbacks(rx, secret) {
  return rx.accepted().filter((q) => q.method === 'POST').map((q) => {
    assert.ok(!q.body.includes('null'), `callback holds null: ${q.body}`);
    const cb = new Callback(secret, q.body); // throws on a bad signature
    return { cb, doc: JSON.parse(q.body) };
  });
}

function forPayment(rx, secret, id) {
  return callbacks(rx, secret).filter((c) => c.cb.getPaymentId() === id).map((c) => c.doc);
}

async function gate(k, urlPath, body, secret) {
  const signed = JSON.parse(JSON.stringify(body));
  signed.general.signature = signer(body, secret);
  const res = await fetch(`${k.url}${urlPath}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(signed),
  });
  return { status: res.status, json: await res.json() };
}

function saleBody(project, paymentId, amount, currency, callbackUrl, extra = {}) {
  return {
    general: { project_id: project, payment_id: paymentId, merchant_callback_url: callbackUrl },
    customer: { ...CUSTOMER },
    payment: { amount, currency, description: `Order ${paymentId}` },
    return_url: { success: 'http://127.0.0.1:1/ok', decline: 'http://127.0.0.1:1/fail', return: 'http://127.0.0.1:1/back' },
    interface_type: { id: 22 },
    ...extra,
  };
}

/** PHP's http_build_query (nested arrays in brackets, urlencode with '+' for spaces). */
function phpQuery(params, prefix = null) {
  return Object.entries(params).map(([k, v]) => {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v !== null && typeof v === 'object') return phpQuery(v, key);
    const val = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    return `${encodeURIComponent(key)}=${encodeURIComponent(val).replace(/%20/g, '+')}`;
  }).join('&');
}

/** paymentpage-sdk-php 1.6's SignatureHandler::sign: "a:b:c:value" leaves (':' in keys
 * doubled), sorted as ksort(SORT_NATURAL) over the whole flattened key, joined by ';',
 * base64 HMAC-SHA512. */
function phpSign(params, secret) {
  const leaves = {};
  const walk = (o, prefix) => {
    for (const [k, v] of Object.entries(o)) {
      const key = (prefix ? `${prefix}:` : '') + String(k).replace(/:/g, '::');
      if (v !== null && typeof v === 'object') walk(v, key);
      else leaves[key] = `${key}:${typeof v === 'boolean' ? (v ? '1' : '0') : String(v)}`;
    }
  };
  walk(params, '');
  const keys = Object.keys(leaves).sort((a, b) => {
    const ca = a.split(/(\d+)/), cb = b.split(/(\d+)/);
    for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
      if (ca[i] === cb[i]) continue;
      if (/^\d+$/.test(ca[i]) && /^\d+$/.test(cb[i])) return Number(ca[i]) - Number(cb[i]);
      return ca[i] < cb[i] ? -1 : 1;
    }
    return ca.length - cb.length;
  });
  const crypto = require('node:crypto');
  return crypto.createHmac('sha512', secret).update(keys.map((x) => leaves[x]).join(';')).digest('base64');
}

/** Walk the Klarna simulator from a redirect URL until it sends the customer back to Kassa. */
async function payAtKlarna(k, startUrl, o = {}) {
  const opts = { category: 'pay_now', tan: '12345', bank: 'de', username: 'demo', pin: '1234', ...o };
  const simHost = new URL(k.simUrl).host;
  let url = startUrl;
  let res = await fetch(url, { redirect: 'manual' });
  for (let steps = 0; steps < 25; steps++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get('location'), url).toString();
      if (new URL(loc).host !== simHost) return loc;
      url = loc;
      res = await fetch(url, { redirect: 'manual' });
      continue;
    }
    const html = await res.text();
    const form = parseForm(html, url);
    assert.ok(form, `no step form at ${url}: ${html.slice(0, 300)}`);
    const fields = { step: form.step, action: 'next' };
    if (form.step === 'method') fields.category = opts.category;
    if (form.step === 'bank') fields.bank = opts.bank;
    if (form.step === 'login') Object.assign(fields, { username: opts.username, pin: opts.pin });
    if (form.step === 'decoupled') await new Promise((r) => setTimeout(r, 2200));
    if (form.step === 'account') fields.account = (form.radios.account || [])[0];
    if (form.step === 'tan') fields.tan = opts.tan;
    url = form.action;
    res = await fetch(url, {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  throw new Error('the simulator never sent the customer back');
}

/** Follow Kassa's redirects from a URL until one leaves Kassa; returns that URL. */
async function followKassa(k, url) {
  const host = new URL(k.url).host;
  for (let i = 0; i < 10; i++) {
    const res = await fetch(url, { redirect: 'manual' });
    if (res.status < 300 || res.status >= 400) return { url, status: res.status, html: await res.text() };
    url = new URL(res.headers.get('location'), url).toString();
    if (new URL(url).host !== host) return { url, status: res.status };
  }
  throw new Error('too many redirects');
}

test('ECommPay dialect', async (t) => {
  const k = await startKassa({ name: 'ecommpay' });
  const rx = await startReceiver();
  const project = k.merchant.ecp_project_id;
  const secret = k.merchant.ecp_secret;
  t.after(async () => { await rx.close(); await k.stop(); });

  await t.test('Gate sale: accepted, redirect_data callback, Klarna, success callback; refunds', async () => {
    const r = await gate(k, '/v2/payment/online-banking/sofort/sale', saleBody(project, 'G-1', 2500, 'EUR', rx.url), secret);
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    assert.deepStrictEqual([r.json.status, r.json.project_id, r.json.payment_id], ['success', project, 'G-1']);
    assert.match(r.json.request_id, /\S/);
    const redirect = await waitUntil(() => forPayment(rx, secret, 'G-1').find((d) => d.redirect_data), { what: 'redirect callback' });
    assert.strictEqual(redirect.payment.status, 'awaiting redirect result');
    assert.strictEqual(redirect.redirect_data.method, 'GET');
    assert.ok(Array.isArray(redirect.redirect_data.body));
    const back = await payAtKlarna(k, redirect.redirect_data.url);
    const end = await followKassa(k, back);
    assert.strictEqual(end.url, 'http://127.0.0.1:1/ok');
    const ok = await waitUntil(() => forPayment(rx, secret, 'G-1').find((d) => d.payment.status === 'success'), { what: 'success callback' });
    assert.strictEqual(ok.operation.type, 'sale');
    assert.strictEqual(ok.operation.status, 'success');
    assert.strictEqual(ok.operation.code, '0');
    assert.deepStrictEqual(ok.operation.sum_converted, { amount: 2500, currency: 'EUR' });
    assert.deepStrictEqual(ok.operation.sum_initial, { amount: 2500, currency: 'EUR' });
    assert.strictEqual(ok.customer.id, 'cust-42');

    // Partial refund, then one above what is left (3283), then the rest.
    const refund = (amount, id) => gate(k, '/v2/payment/online-banking/sofort/refund', {
      general: { project_id: project, payment_id: 'G-1' },
      payment: { amount, currency: 'EUR', description: 'refund', merchant_refund_id: id },
    }, secret);
    const r1 = await refund(500, 'RF-1');
    assert.strictEqual(r1.status, 200, JSON.stringify(r1.json));
    const rc1 = await waitUntil(() => forPayment(rx, secret, 'G-1').find((d) => d.operation.type === 'refund'), { what: 'refund callback' });
    assert.deepStrictEqual([rc1.operation.status, rc1.operation.code, rc1.payment.status], ['success', '0', 'partially refunded']);
    assert.deepStrictEqual(rc1.operation.sum_initial, { amount: 500, currency: 'EUR' });
    // As paymentpage-sdk-php's callback fixtures have them: the payment's description and
    // customer, and merchant_refund_id under payment.
    assert.strictEqual(rc1.payment.description, 'Order G-1');
    assert.strictEqual(rc1.payment.merchant_refund_id, 'RF-1');
    assert.strictEqual(rc1.customer.id, 'cust-42');
    const r2 = await refund(5000, 'RF-2');
    assert.strictEqual(r2.status, 400);
    assert.deepStrictEqual([r2.json.status, r2.json.code, r2.json.message], ['error', '3283', 'Refund amount more than init amount']);
    const r3 = await refund(2000, 'RF-3');
    assert.strictEqual(r3.status, 200);
    const rc3 = await waitUntil(() => forPayment(rx, secret, 'G-1').find((d) => d.operation.type === 'refund' && d.payment.status === 'refunded'), { what: 'full refund callback' });
    assert.deepStrictEqual(rc3.operation.sum_initial, { amount: 2000, currency: 'EUR' });

    // Status through the Gate, signed like a callback.
    const st = await gate(k, '/v2/payment/status', { general: { project_id: project, payment_id: 'G-1' } }, secret);
    assert.strictEqual(st.status, 200);
    assert.strictEqual(new Callback(secret, st.json).getPaymentId(), 'G-1');
    assert.strictEqual(st.json.payment.status, 'refunded');
  });

  await t.test('Gate: below the minimum after conversion is a decline callback (seed: USD 1.00 -> EUR 0.88)', async () => {
    const r = await gate(k, '/v2/payment/online-banking/sofort/sale', saleBody(project, 'G-MIN', 100, 'USD', rx.url), secret);
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    const d = await waitUntil(() => forPayment(rx, secret, 'G-MIN').find((x) => x.payment.status === 'decline'), { what: 'decline callback' });
    assert.deepStrictEqual([d.operation.type, d.operation.status, d.operation.code, d.operation.message], ['sale', 'decline', '20000', 'General decline']);
    assert.deepStrictEqual(d.operation.sum_initial, { amount: 100, currency: 'USD' });
    assert.deepStrictEqual(d.operation.sum_converted, { amount: 88, currency: 'EUR' });
    assert.deepStrictEqual(d.payment.sum, { amount: 100, currency: 'USD' });
    assert.ok(!forPayment(rx, secret, 'G-MIN').some((x) => x.redirect_data), 'never sent to Klarna');
  });

  await t.test('Gate errors: unknown project, bad signature, duplicate payment_id, missing field', async () => {
    const unknown = await gate(k, '/v2/payment/online-banking/sofort/sale', saleBody(project + 999, 'G-X', 2500, 'EUR', rx.url), secret);
    assert.strictEqual(unknown.status, 400);
    assert.strictEqual(unknown.json.status, 'error');
    const bad = await gate(k, '/v2/payment/online-banking/sofort/sale', saleBody(project, 'G-BAD', 2500, 'EUR', rx.url), 'wrong-secret');
    assert.deepStrictEqual([bad.status, bad.json.code, bad.json.message], [400, '3261', 'Invalid signature']);
    const dup = await gate(k, '/v2/payment/online-banking/sofort/sale', saleBody(project, 'G-1', 2500, 'EUR', rx.url), secret);
    assert.deepStrictEqual([dup.status, dup.json.code], [400, '3041']);
    const body = saleBody(project, 'G-NOMAIL', 2500, 'EUR', rx.url);
    delete body.customer.email;
    const miss = await gate(k, '/v2/payment/online-banking/sofort/sale', body, secret);
    assert.deepStrictEqual([miss.status, miss.json.code], [400, '2004']);
    const none = await gate(k, '/v2/payment/online-banking/sofort/refund', { general: { project_id: project, payment_id: 'NOPE' } }, secret);
    assert.deepStrictEqual([none.status, none.json.code], [400, '3061']);
    // Nothing was created for the refused ones.
    const list = await k.stripe.paymentIntents.list({ limit: 100 });
    assert.ok(!JSON.stringify(list.data).includes('G-BAD'));
  });

  await t.test('Payment Page over HTTP: bad signature and missing parameter create nothing; Klarna flow', async () => {
    const before = (await k.stripe.paymentIntents.list({ limit: 100 })).data.length;
    const p = new Payment(project, 'not-the-secret', {}, k.url);
    Object.assign(p, { paymentId: 'PP-BAD', paymentAmount: 1999, paymentCurrency: 'EUR' });
    const bad = await fetch(p.getUrl());
    assert.strictEqual(bad.status, 400);
    assert.match(await bad.text(), /3261/);
    const m = new Payment(project, secret, {}, k.url);
    Object.assign(m, { paymentId: 'PP-MISS', paymentAmount: 1999, paymentCurrency: 'EUR' });
    const miss = await fetch(m.getUrl());
    assert.strictEqual(miss.status, 400);
    assert.match(await miss.text(), /customer_id/);
    assert.strictEqual((await k.stripe.paymentIntents.list({ limit: 100 })).data.length, before);

    const good = new Payment(project, secret, {}, k.url);
    Object.assign(good, {
      paymentId: 'PP-1', paymentAmount: 1999, paymentCurrency: 'EUR', customerId: 'c-7',
      customerFirstName: 'Test', customerLastName: 'Person-de', customerEmail: 'customer@email.de',
      customerCountry: 'DE', forcePaymentMethod: 'sofort', languageCode: 'de', redirect: false,
      merchantSuccessUrl: 'http://127.0.0.1:1/shop/ok', merchantFailUrl: 'http://127.0.0.1:1/shop/fail',
      merchantCallbackUrl: rx.url,
    });
    const open = await fetch(good.getUrl(), { redirect: 'manual' });
    assert.strictEqual(open.status, 303, await open.text());
    const back = await payAtKlarna(k, new URL(open.headers.get('location'), k.url).toString());
    assert.strictEqual((await followKassa(k, back)).url, 'http://127.0.0.1:1/shop/ok');
    const ok = await waitUntil(() => forPayment(rx, secret, 'PP-1').find((d) => d.payment.status === 'success'), { what: 'page success callback' });
    assert.ok(new Callback(secret, ok).isPaymentSuccess());

    // The same payment through the Stripe-compatible dialect: read and refund it there.
    const pi = (await k.stripe.paymentIntents.list({ limit: 100 })).data.find((x) => x.amount === 1999 && x.status === 'succeeded');
    assert.ok(pi, 'the page payment is visible through /v1');
    const re = await k.stripe.refunds.create({ payment_intent: pi.id, amount: 999 });
    assert.strictEqual(re.status, 'succeeded');
    const rcb = await waitUntil(() => forPayment(rx, secret, 'PP-1').find((d) => d.operation.type === 'refund'), { what: 'refund callback for a /v1 refund' });
    assert.deepStrictEqual(rcb.operation.sum_initial, { amount: 999, currency: 'EUR' });
  });

  await t.test('Payment Page built as paymentpage-sdk-php 1.6 builds it: nested receipt_data', async () => {
    const params = {
      project_id: project, payment_id: 'PP-PHP-1', payment_amount: 2600, payment_currency: 'EUR',
      customer_id: 'c-php', customer_first_name: 'Test', customer_last_name: 'Person-de',
      customer_email: 'customer@email.de', customer_country: 'DE',
      force_payment_method: 'sofort', language_code: 'en', merchant_success_url: 'http://127.0.0.1:1/shop/ok',
      receipt_data: { positions: [{ quantity: 1, amount: 2600, description: 'Kaffeebecher rot' }], total_tax_amount: 0 },
    };
    const open = await fetch(`${k.url}/payment?${phpQuery(params)}&signature=${encodeURIComponent(phpSign(params, secret))}`,
      { redirect: 'manual' });
    assert.strictEqual(open.status, 303, await open.text());
    const tampered = { ...params, receipt_data: { ...params.receipt_data, total_tax_amount: 1 } };
    const bad = await fetch(`${k.url}/payment?${phpQuery(tampered)}&signature=${encodeURIComponent(phpSign(params, secret))}`);
    assert.strictEqual(bad.status, 400);
    assert.match(await bad.text(), /3261/);
  });

  await t.test('Payment Page with force_payment_method=alipay: QR page, wallet PIN, success callback', async () => {
    const p = new Payment(project, secret, {}, k.url);
    Object.assign(p, {
      paymentId: 'PP-ALIPAY-1', paymentAmount: 2500, paymentCurrency: 'EUR', customerId: 'c-9',
      customerFirstName: 'Test', customerLastName: 'Person', customerEmail: 'customer@email.de',
      customerCountry: 'DE', forcePaymentMethod: 'alipay', languageCode: 'en',
      merchantSuccessUrl: 'http://127.0.0.1:1/shop/ok', merchantCallbackUrl: rx.url,
    });
    const open = await fetch(p.getUrl(), { redirect: 'manual' });
    assert.strictEqual(open.status, 303, await open.text());
    const qr = new URL(open.headers.get('location'), k.url);
    assert.match(qr.pathname, /^\/pay\/qr\/att_/, `sent to ${qr}`);
    const page = await fetch(qr);
    assert.strictEqual(page.status, 200);
    assert.match(await page.text(), /<svg/);
    const attempt = qr.pathname.split('/').pop();
    const sp = await (await fetch(`${k.simUrl}/alipay/_sim/payments/${attempt}`)).json();
    assert.ok(sp.paymentId, JSON.stringify(sp));
    const pin = await fetch(`${k.simUrl}/alipay/wallet/GCASH/pay/${sp.paymentId}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'pin=123456', redirect: 'manual',
    });
    assert.ok(pin.status < 400, `wallet answered ${pin.status}`);
    const ok = await waitUntil(() => forPayment(rx, secret, 'PP-ALIPAY-1').find((d) => d.payment.status === 'success'),
      { what: 'alipay success callback' });
    assert.ok(new Callback(secret, ok).isPaymentSuccess());
    assert.strictEqual(ok.payment.method, 'alipay');
  });

  await t.test('Payment Page Alipay+ QR page: Cancel closes it at Alipay+, decline callback, merchant_fail_url', async () => {
    const p = new Payment(project, secret, {}, k.url);
    Object.assign(p, {
      paymentId: 'PP-ALIPAY-CANCEL', paymentAmount: 2500, paymentCurrency: 'EUR', customerId: 'c-9',
      customerFirstName: 'Test', customerLastName: 'Person', customerEmail: 'customer@email.de',
      customerCountry: 'DE', forcePaymentMethod: 'alipay', languageCode: 'en',
      merchantFailUrl: 'http://127.0.0.1:1/shop/fail', merchantCallbackUrl: rx.url,
    });
    const open = await fetch(p.getUrl(), { redirect: 'manual' });
    assert.strictEqual(open.status, 303, await open.text());
    const qr = new URL(open.headers.get('location'), k.url);
    const attempt = qr.pathname.split('/').pop();
    const html = await (await fetch(qr)).text();
    assert.match(html, new RegExp(`<form class="center" method="post" action="/pay/qr/${attempt}/cancel">`));
    const cancel = await fetch(`${k.url}/pay/qr/${attempt}/cancel`, {
      method: 'POST', redirect: 'manual', headers: { Origin: k.url, 'Content-Type': 'application/x-www-form-urlencoded' }, body: '',
    });
    assert.strictEqual(cancel.status, 303, await cancel.text());
    let next = new URL(cancel.headers.get('location'), k.url);
    for (let hop = 0; hop < 3 && next.host === new URL(k.url).host; hop++) {
      const r = await fetch(next, { redirect: 'manual' });
      assert.strictEqual(r.status, 303, `${next} answered ${r.status}`);
      next = new URL(r.headers.get('location'), next);
    }
    assert.strictEqual(next.toString(), 'http://127.0.0.1:1/shop/fail');
    const sp = await (await fetch(`${k.simUrl}/alipay/_sim/payments/${attempt}`)).json();
    assert.strictEqual(sp.status, 'CANCELLED', JSON.stringify(sp));
    const dec = await waitUntil(() => forPayment(rx, secret, 'PP-ALIPAY-CANCEL').find((d) => d.payment.status === 'decline'),
      { what: 'decline callback after the QR page\'s Cancel' });
    assert.ok(!new Callback(secret, dec).isPaymentSuccess());
  });

  await t.test('Payment Page without force_payment_method shows a localized method choice', async () => {
    const p = new Payment(project, secret, {}, k.url);
    Object.assign(p, {
      paymentId: 'PP-CHOICE', paymentAmount: 1500, paymentCurrency: 'EUR', customerId: 'c-8',
      customerFirstName: 'A', customerLastName: 'B', customerEmail: 'customer@email.de',
      customerCountry: 'DE', languageCode: 'de',
    });
    const res = await fetch(p.getUrl());
    const html = await res.text();
    assert.strictEqual(res.status, 200, html);
    assert.match(html, /lang="de"/);
    // One Klarna entry, as on the hosted checkout: Pay now or Pay later is chosen on Klarna's page.
    const offered = [...html.matchAll(/name="method"[^>]* value="([^"]+)"/g)].map((m) => m[1]);
    assert.deepStrictEqual(offered, ['klarna', 'alipay'], html);
    const cs = /name="cs" value="([^"]+)"/.exec(html)[1];
    // A form posted with the single category (an old page) is still taken.
    const chosen = await fetch(`${k.url}/payment/choose`, {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ cs, method: 'klarna_pay_now' }).toString(),
    });
    assert.strictEqual(chosen.status, 303);
    assert.strictEqual(new URL(chosen.headers.get('location')).host, new URL(k.simUrl).host);
  });

  await t.test('Payment Page in Chromium: method choice, the whole Klarna Pay Now flow, back to the shop', async () => {
    const p = new Payment(project, secret, {}, k.url);
    Object.assign(p, {
      paymentId: 'PP-BROWSER', paymentAmount: 1500, paymentCurrency: 'EUR', customerId: 'c-9',
      customerFirstName: 'Test', customerLastName: 'Person-de', customerEmail: 'customer@email.de',
      customerCountry: 'DE', languageCode: 'en', merchantSuccessUrl: `${rx.url}/shop/ok`,
      merchantFailUrl: `${rx.url}/shop/fail`, merchantCallbackUrl: rx.url,
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-chromium-ecp-'));
    const ctx = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true, locale: 'en-GB',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = ctx.pages()[0] || await ctx.newPage();
      page.setDefaultTimeout(15000);
      await page.goto(p.getUrl());
      assert.strictEqual(await page.locator('input[name=method]').count(), 2, 'one Klarna entry and Alipay+');
      await page.getByLabel(/^Klarna/).check();
      await page.getByRole('button', { name: /^Pay/ }).click();
      await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
      await page.getByLabel('Pay now (bank transfer)').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
      await page.getByLabel(/Demo Bank/).first().check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Username').fill('anna');
      await page.getByLabel('PIN or password').fill('1234');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Choose your account' }).waitFor();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('TAN').fill('12345');
      await page.getByRole('button', { name: 'Confirm payment' }).click();
      await page.waitForURL(`${rx.url}/shop/ok`);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'ecommpay-page-done.png') });
    } finally {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const ok = await waitUntil(() => forPayment(rx, secret, 'PP-BROWSER').find((d) => d.payment.status === 'success'), { what: 'browser payment callback' });
    assert.deepStrictEqual(ok.payment.sum, { amount: 1500, currency: 'EUR' });
  });

  await t.test('Stripe-made payment refunded through the Gate', async () => {
    const pi = await k.stripe.paymentIntents.create({
      amount: 3000, currency: 'eur', payment_method_types: ['klarna_pay_now'], confirm: true,
      return_url: 'http://127.0.0.1:1/r',
      payment_method_data: { type: 'klarna_pay_now', billing_details: { email: 'customer@email.de', address: { country: 'DE' } } },
    });
    await payAtKlarna(k, pi.next_action.redirect_to_url.url).then((u) => followKassa(k, u));
    await waitUntil(async () => (await k.stripe.paymentIntents.retrieve(pi.id)).status === 'succeeded', { what: 'stripe payment to succeed' });
    // Its ECommPay payment_id is the intent id (it has none of its own).
    const r = await gate(k, '/v2/payment/refund', { general: { project_id: project, payment_id: pi.id }, payment: { amount: 1000, currency: 'EUR' } }, secret);
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    await waitUntil(async () => (await k.stripe.refunds.list({ payment_intent: pi.id })).data.some((x) => x.amount === 1000 && x.status === 'succeeded'), { what: 'gate refund visible via /v1' });
  });

  await t.test('Data API: signed /operations/get, filtered and paged; export delivered to a URL', async () => {
    const body = {
      project_id: project,
      interval: { from: '2000-01-01 00:00:00', to: '2100-01-01 00:00:00' },
      type: ['sale'], status: ['success'], limit: 1, offset: 0,
    };
    body.signature = signer(body, secret);
    const res = await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    const doc = await res.json();
    assert.strictEqual(res.status, 200, JSON.stringify(doc));
    new Callback(secret, doc); // signed
    assert.strictEqual(doc.operations.length, 1);
    assert.strictEqual(doc.has_more, true);
    assert.strictEqual(doc.operations[0].operation_type, 'sale');
    assert.strictEqual(doc.operations[0].payment_id, 'G-1');
    const all = { ...body, limit: 1000, type: 'refund' };
    delete all.signature;
    all.signature = signer(all, secret);
    const refunds = await (await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(all) })).json();
    assert.ok(refunds.operations.length >= 3, JSON.stringify(refunds));
    assert.ok(refunds.operations.every((o) => o.operation_type === 'refund'));
    const bad = { ...all, signature: signer(all, 'nope') };
    assert.strictEqual((await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(bad) })).status, 400);
    const sink = await startReceiver();
    const dl = { ...body, delivery_url: sink.url };
    delete dl.signature;
    dl.signature = signer(dl, secret);
    sink.refuseFirst = 1; // the export is a retried job: the first refusal is tried again
    const dres = await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(dl) });
    const dans = await dres.json();
    assert.strictEqual(dres.status, 200, JSON.stringify(dans));
    assert.strictEqual(dans.delivery.state, 'queued');
    await waitUntil(() => sink.requests.length >= 1, { what: 'the first delivery attempt' });
    await k.advanceClock(120); // past the first backoff
    await waitUntil(() => sink.accepted().length === 1, { timeoutMs: 15000, what: 'the export retried' });
    const delivered = JSON.parse(sink.accepted()[0].body);
    new Callback(secret, delivered);
    assert.strictEqual(delivered.operations.length, 1);
    await sink.close();
    // time_zone moves the interval and prints the times with its offset; fields selects
    const tzq = { ...body, time_zone: 'Asia/Tokyo', fields: ['operation_id', 'operation_created_at'] };
    delete tzq.signature;
    tzq.signature = signer(tzq, secret);
    const tdoc = await (await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(tzq) })).json();
    assert.deepStrictEqual(Object.keys(tdoc.operations[0]).sort(), ['operation_created_at', 'operation_id']);
    assert.match(tdoc.operations[0].operation_created_at, /\+0900$/);
    const badTz = { ...body, time_zone: 'Mars/Base' };
    delete badTz.signature;
    badTz.signature = signer(badTz, secret);
    assert.strictEqual((await fetch(`${k.url}/operations/get`, { method: 'POST', body: JSON.stringify(badTz) })).status, 400);
  });

  await t.test('project callback URL setting (Kassa extension) and retries until 200', async () => {
    const rx2 = await startReceiver({ refuseFirst: 1 });
    const set = await k.http('POST', '/v1/kassa/ecommpay/settings', { body: `callback_url=${encodeURIComponent(rx2.url)}` });
    assert.strictEqual(set.status, 200, set.text);
    const body = saleBody(project, 'G-DEF', 2500, 'EUR', undefined);
    delete body.general.merchant_callback_url;
    const r = await gate(k, '/v2/payment/online-banking/sofort/sale', body, secret);
    assert.strictEqual(r.status, 200);
    await waitUntil(async () => {
      await k.advanceClock(120);
      return forPayment(rx2, secret, 'G-DEF').some((d) => d.redirect_data);
    }, { timeoutMs: 20000, intervalMs: 300, what: 'callback at the project URL after a refused first try' });
    assert.ok(rx2.requests.length >= 2);
    await rx2.close();
  });
});
