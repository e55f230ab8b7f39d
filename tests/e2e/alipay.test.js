// Alipay+ end to end: the official `stripe` client against the real binary, the Antom
// connector against the in-process Alipay+ simulator, Playwright in Debian's Chromium.
//  - desktop: the hosted page shows a real QR code (decoded with zbarimg from a Chromium
//    screenshot: it is the simulator's wallet URL); a second page opens that URL as the wallet
//    app, enters the PIN, and the first page moves on by itself to the shop; the intent is
//    succeeded and payment_intent.succeeded arrives;
//  - phone: the page lists the wallets for the currency (HKD: AlipayHK only), the wallet app
//    confirms and the customer lands on the shop's return URL;
//  - each result code (amount endings 51/52/53/54, three wrong PINs), expiry with the clock
//    (ORDER_IS_CLOSED), cancel, partial and full refunds, duplicate and tampered notifications.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startKassa, startReceiver, waitUntil, stripeError } = require('./harness');

const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 '
  + '(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

let k;
let shop; // plays the shop: webhook receiver and return URL
before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  k = await startKassa({ name: 'alipay' });
  shop = await startReceiver();
  await k.stripe.webhookEndpoints.create({ url: shop.url, enabled_events: ['*'] });
});
after(async () => {
  if (shop) await shop.close();
  if (k) await k.stop();
});

function shopUrl(tag) {
  return shop.url.replace(/\/hook$/, `/shop/${tag}`);
}

async function browser(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, locale: 'en-GB', ...opts,
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(15000);
  return {
    ctx,
    page,
    async close() {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A confirmed Alipay+ intent (requires_action) and its attempt id. */
async function confirmed(amount, currency = 'eur', tag = 'x') {
  const pi = await k.stripe.paymentIntents.create({
    amount, currency, payment_method_types: ['alipay'], description: `Alipay ${tag}`,
  });
  const c = await k.stripe.paymentIntents.confirm(pi.id, {
    payment_method_data: { type: 'alipay' }, return_url: shopUrl(tag),
  });
  assert.equal(c.status, 'requires_action');
  assert.equal(c.next_action.type, 'redirect_to_url');
  const url = c.next_action.redirect_to_url.url;
  assert.match(url, new RegExp(`^${k.url}/pay/qr/att_`));
  return { pi: c, url, attempt: url.split('/').pop() };
}

async function sim(method, p, body) {
  const res = await fetch(`${k.simUrl}/alipay${p}`, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

/** The simulator's record of the payment behind an attempt. */
async function simPayment(attempt) {
  const r = await sim('GET', `/_sim/payments/${attempt}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

/** Plays the wallet app over HTTP: POST the PIN on the wallet's payment page. */
async function walletPin(paymentId, pin, wallet = 'GCASH') {
  const res = await fetch(`${k.simUrl}/alipay/wallet/${wallet}/pay/${paymentId}`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `pin=${pin}`, redirect: 'manual',
  });
  return { status: res.status, html: await res.text() };
}

async function settled(id, status) {
  return waitUntil(async () => {
    const pi = await k.stripe.paymentIntents.retrieve(id);
    return pi.status === status ? pi : null;
  }, { timeoutMs: 10000, what: `intent ${id} to become ${status}` });
}

/** Webhook events (the shop's return-URL visits are GETs on the same receiver). */
function events() {
  return shop.requests.filter((q) => q.method === 'POST' && q.status < 300).map((q) => JSON.parse(q.body));
}

function eventsFor(id, type) {
  return events().filter((e) => e.type === type && e.data.object.id === id);
}

test('desktop: real QR, a second page pays as the wallet app, the first moves on by itself', async () => {
  const { pi, url, attempt } = await confirmed(2599, 'eur', 'desktop');
  const b = await browser({ viewport: { width: 1280, height: 900 } });
  try {
    const page = b.page;
    await page.goto(url);
    await page.getByRole('heading', { name: 'Pay with Alipay+' }).waitFor();
    await page.getByRole('img', { name: 'QR code' }).waitFor();
    assert.match(await page.locator('[data-amount]').innerText(), /25[.,]99/);
    const t0 = await page.locator('#countdown').innerText();
    assert.match(t0, /^1[34]:\d\d$/, `countdown starts near 14 minutes: ${t0}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'alipay-desktop-qr.png'), fullPage: true });

    // The QR decodes (zbarimg) to the simulator's wallet URL for this payment.
    const png = path.join(ARTIFACTS, 'alipay-qr-code.png');
    await page.locator('#qr svg').screenshot({ path: png });
    const decoded = execFileSync('zbarimg', ['--raw', '-q', png], { encoding: 'utf8' }).trim();
    const sp = await simPayment(attempt);
    assert.equal(decoded, `${k.simUrl}/alipay/qr/${sp.paymentId}`);

    // A second page "scans" it: opens the URL, picks a wallet, sees both amounts, enters the PIN.
    const wallet = await b.ctx.newPage();
    await wallet.goto(decoded);
    await wallet.getByRole('link', { name: 'GCash' }).click();
    await wallet.locator('[data-merchant]').waitFor();
    assert.match(await wallet.locator('[data-amount]').innerText(), /EUR 25\.99/);
    assert.match(await wallet.locator('[data-local-amount]').innerText(), /PHP \d/);
    await wallet.getByLabel('Payment PIN').fill('123456');
    await wallet.screenshot({ path: path.join(ARTIFACTS, 'alipay-wallet-pin.png'), fullPage: true });
    await wallet.getByRole('button', { name: 'Confirm payment' }).click();
    await wallet.getByRole('heading', { name: 'Payment successful' }).waitFor();

    // The first page moves on by itself to the shop.
    await page.waitForURL((u) => u.toString().startsWith(shopUrl('desktop')), { timeout: 15000 });
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('payment_intent'), pi.id);
    assert.equal(landed.searchParams.get('redirect_status'), 'succeeded');
  } finally {
    await b.close();
  }
  const done = await settled(pi.id, 'succeeded');
  assert.equal(done.amount_received, 2599);
  await shop.waitFor(() => eventsFor(pi.id, 'payment_intent.succeeded').length === 1);
  assert.equal(eventsFor(pi.id, 'payment_intent.requires_action').length, 1);
  // Antom's notification was acknowledged with the fixed body.
  const notes = (await sim('GET', '/_sim/notifications')).json.data;
  assert.ok(notes.some((n) => n.url.includes(attempt) && n.acked && n.lastStatus === 200));
});

test('phone: the wallet list follows the currency, the wallet confirms, back to the shop', async () => {
  const { pi, url } = await confirmed(8800, 'hkd', 'phone');
  const b = await browser({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    userAgent: IPHONE_UA });
  try {
    const page = b.page;
    await page.goto(url);
    await page.getByRole('heading', { name: 'Choose your wallet' }).waitFor();
    const wallets = await page.locator('[data-wallet]').evaluateAll((els) => els.map((e) => e.dataset.wallet));
    assert.deepEqual(wallets, ['ALIPAY_HK'], 'HKD is AlipayHK only');
    assert.equal(await page.getByRole('img', { name: 'QR code' }).count(), 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'alipay-phone-wallets.png'), fullPage: true });
    await page.getByRole('link', { name: 'AlipayHK' }).click();
    await page.getByLabel('Payment PIN').fill('123456');
    await page.getByRole('button', { name: 'Confirm payment' }).click();
    await page.waitForURL((u) => u.toString().startsWith(shopUrl('phone')));
    assert.equal(new URL(page.url()).searchParams.get('redirect_status'), 'succeeded');
  } finally {
    await b.close();
  }
  await settled(pi.id, 'succeeded');
  // EUR (a European shop) offers every wallet: they convert.
  const eur = await confirmed(1000, 'eur', 'phone-eur');
  const html = await (await fetch(eur.url, { headers: { 'User-Agent': IPHONE_UA } })).text();
  for (const w of ['ALIPAY_CN', 'ALIPAY_HK', 'GCASH', 'DANA', 'TNG', 'TRUEMONEY', 'KAKAOPAY']) {
    assert.ok(html.includes(`data-wallet="${w}"`), `EUR offers ${w}`);
  }
});

for (const [amount, code] of [[1051, 'USER_BALANCE_NOT_ENOUGH'], [1052, 'RISK_REJECT']]) {
  test(`amount ending ${amount % 100}: ${code} -> payment_method_provider_decline`, async () => {
    const { pi, attempt } = await confirmed(amount, 'eur', `f${amount}`);
    const sp = await simPayment(attempt);
    await walletPin(sp.paymentId, '123456');
    const p = await settled(pi.id, 'requires_payment_method');
    assert.equal(p.last_payment_error.code, 'payment_method_provider_decline');
    assert.equal((await simPayment(attempt)).resultCode, code);
    await shop.waitFor(() => eventsFor(pi.id, 'payment_intent.payment_failed').length === 1);
  });
}

test('three wrong PINs: USER_PAYMENT_VERIFICATION_FAILED', async () => {
  const { pi, attempt } = await confirmed(1000, 'eur', 'pin');
  const sp = await simPayment(attempt);
  const first = await walletPin(sp.paymentId, '000000');
  assert.equal(first.status, 400);
  assert.match(first.html, /2 tries left/);
  await walletPin(sp.paymentId, '111111');
  assert.equal((await k.stripe.paymentIntents.retrieve(pi.id)).status, 'requires_action');
  await walletPin(sp.paymentId, '222222');
  const p = await settled(pi.id, 'requires_payment_method');
  assert.equal(p.last_payment_error.code, 'payment_method_provider_decline');
  assert.equal((await simPayment(attempt)).resultCode, 'USER_PAYMENT_VERIFICATION_FAILED');
});

test('amount ending 53: processing until expiry, then ORDER_IS_CLOSED', async () => {
  const { pi, attempt } = await confirmed(1053, 'eur', 'f53');
  const sp = await simPayment(attempt);
  await walletPin(sp.paymentId, '123456');
  await settled(pi.id, 'processing');
  await k.advanceClock(15 * 60);
  const p = await settled(pi.id, 'requires_payment_method');
  assert.equal(p.last_payment_error.code, 'payment_intent_payment_attempt_expired');
  const closed = await simPayment(attempt);
  assert.equal(closed.status, 'FAIL');
  assert.equal(closed.resultCode, 'ORDER_IS_CLOSED');
});

test('amount ending 54: one UNKNOWN_EXCEPTION, the connector asks again with the same id', async () => {
  const { pi, attempt } = await confirmed(1054, 'eur', 'f54');
  const sp = await simPayment(attempt);
  assert.equal(sp.status, 'PROCESSING');
  await walletPin(sp.paymentId, '123456');
  await settled(pi.id, 'succeeded');
});

test('an unscanned code expires with the clock (14 minutes)', async () => {
  const { pi, attempt, url } = await confirmed(1500, 'eur', 'expire');
  await k.advanceClock(13 * 60);
  assert.equal((await k.stripe.paymentIntents.retrieve(pi.id)).status, 'requires_action');
  await k.advanceClock(2 * 60);
  const p = await settled(pi.id, 'requires_payment_method');
  assert.equal(p.last_payment_error.code, 'payment_intent_payment_attempt_expired');
  assert.equal((await simPayment(attempt)).resultCode, 'ORDER_IS_CLOSED');
  // The page no longer shows a code: it sends the customer back to the shop.
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const status = await (await fetch(`${url}/status`)).json();
  assert.equal(status.open, false);
});

test('cancel within the window closes the payment at Alipay+', async () => {
  const { pi, attempt } = await confirmed(1700, 'eur', 'cancel');
  const c = await k.stripe.paymentIntents.cancel(pi.id);
  assert.equal(c.status, 'canceled');
  assert.equal((await simPayment(attempt)).status, 'CANCELLED');
  await shop.waitFor(() => eventsFor(pi.id, 'payment_intent.canceled').length === 1);
});

test('refunds: partial, then the rest; more than paid is refused', async () => {
  const { pi, attempt } = await confirmed(5000, 'eur', 'refund');
  const sp = await simPayment(attempt);
  await walletPin(sp.paymentId, '123456');
  await settled(pi.id, 'succeeded');
  const r1 = await k.stripe.refunds.create({ payment_intent: pi.id, amount: 1200 });
  assert.equal(r1.status, 'succeeded');
  const err = await stripeError(k.stripe.refunds.create({ payment_intent: pi.id, amount: 4000 }));
  assert.equal(err.statusCode, 400);
  const r2 = await k.stripe.refunds.create({ payment_intent: pi.id });
  assert.equal(r2.status, 'succeeded');
  assert.equal(r2.amount, 3800);
  assert.equal((await simPayment(attempt)).refunded, 5000);
  await shop.waitFor(() => events().filter((e) => e.type.startsWith('refund.') || e.type === 'charge.refunded').length >= 2);
});

test('notifications: a duplicate on demand changes nothing; a tampered one is refused', async () => {
  const { pi, attempt } = await confirmed(2100, 'eur', 'notify');
  const sp = await simPayment(attempt);
  await walletPin(sp.paymentId, '123456');
  await settled(pi.id, 'succeeded');
  await shop.waitFor(() => eventsFor(pi.id, 'payment_intent.succeeded').length === 1);
  const before = (await sim('GET', '/_sim/notifications')).json.data.filter((n) => n.url.includes(attempt));
  assert.equal((await sim('POST', `/_sim/payments/${attempt}/notify`)).status, 200);
  await waitUntil(async () => {
    const now = (await sim('GET', '/_sim/notifications')).json.data.filter((n) => n.url.includes(attempt));
    return now.reduce((s, n) => s + n.tries, 0) > before.reduce((s, n) => s + n.tries, 0) && now.every((n) => n.acked);
  }, { what: 'the duplicate notification acknowledged' });
  assert.equal(eventsFor(pi.id, 'payment_intent.succeeded').length, 1);

  // Someone else's notification: a body Antom never signed.
  const notifyUrl = new URL(sp.notifyUrl);
  const body = JSON.stringify({ notifyType: 'PAYMENT_RESULT', paymentRequestId: attempt,
    result: { resultCode: 'SUCCESS', resultStatus: 'S', resultMessage: 'success' } });
  const res = await fetch(`${k.url}${notifyUrl.pathname}${notifyUrl.search}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Client-Id': k.merchant.id,
      'Request-Time': String(Date.now()),
      Signature: 'algorithm=RSA256,keyVersion=1,signature=bm90LWEtc2lnbmF0dXJl' },
    body,
  });
  assert.ok(res.status >= 400 && res.status < 500, `tampered notification answered ${res.status}`);
});
