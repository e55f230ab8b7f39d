// No dead ends for the customer (issue 17, customer pages), in Debian's Chromium through
// playwright-core: browser Back from Klarna's bank page and from the Alipay+ QR page shows the
// method choice again and paying again closes the open attempt at the provider; two quick
// "Pay" submits lead to one provider page and no error; the merchant's name and the test-mode
// badge; /favicon.ico on both listeners; one strict CSP on /pay/qr; a Swedish session
// preselects Sweden; Cancel at Klarna says "You cancelled"; axe-core finds no serious or
// critical violation at 1280x800 and 390x844. Screenshots: tests/e2e/artifacts/pages-*.png.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startKassa, startReceiver, waitUntil } = require('./harness');
const { Payment } = require('ecommpay');
const { sim } = require('./klarna');

const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const AXE = path.join(__dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let k;
before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  k = await startKassa({ name: 'customer-pages' });
});
after(async () => {
  if (k) await k.stop();
});

async function browser(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    // bypassCSP only so that axe-core can be injected; the CSP itself is checked over HTTP.
    executablePath: CHROMIUM, headless: true, args: ARGS, locale: 'en-GB', viewport: DESKTOP,
    bypassCSP: true, ...opts,
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(15000);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  return {
    page, ctx, consoleErrors,
    async close() {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `pages-${name}.png`), fullPage: true });
}

/** axe-core on the current page: the serious and critical violations, described. */
async function axeProblems(page) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

async function assertAxe(page, what) {
  const problems = await axeProblems(page);
  assert.deepEqual(problems, [], `axe-core on ${what}`);
}

async function createSession(extra = {}) {
  return k.stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ price_data: { currency: 'eur', unit_amount: 1234, product_data: { name: 'Kaffeebecher' } }, quantity: 1 }],
    success_url: 'http://127.0.0.1:9/shop/thanks?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://127.0.0.1:9/shop/cart',
    customer_email: 'customer@email.de',
    ...extra,
  });
}

// One Klarna entry on Kassa's page (as Stripe Checkout shows it): Pay now or Pay later is
// chosen on Klarna's page. choose(page, KLARNA_PAY_NOW) walks both choices.
const KLARNA_PAY_NOW = 'Klarna: Pay now';
const KLARNA = 'Klarna';

async function choose(page, label, { country = 'DE' } = {}) {
  await page.getByLabel('Country').selectOption(country);
  if (label === KLARNA || label === KLARNA_PAY_NOW) await page.locator('#m-klarna').check();
  else await page.getByLabel(label).check();
  await page.getByRole('button', { name: /^Pay / }).click();
  if (label !== KLARNA_PAY_NOW) return;
  await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
  await page.getByLabel('Pay now (bank transfer)').check();
  await page.getByRole('button', { name: 'Continue' }).click();
}

test('Back from Klarna\'s bank page shows the method choice; paying again closes the first attempt', async () => {
  const s = await createSession();
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    assert.equal(await page.locator('input[name=method]:visible').count(), 2, 'one Klarna entry and Alipay+');
    await choose(page, KLARNA_PAY_NOW);
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    const firstHpp = new URL(page.url()).pathname.split('/').pop();
    await page.goBack(); // the bank page
    await page.goBack(); // Klarna's method choice
    await page.waitForURL(new RegExp(`/c/pay/${s.id}`));
    await page.getByRole('button', { name: /^Pay / }).waitFor();
    assert.equal(await page.getByRole('heading', { name: /Processing/ }).count(), 0, 'no endless processing page');
    await shot(page, 'back-1-method-choice-again');
    // Reloading the page (or /c/done) keeps showing the choice, never "Processing".
    await page.goto(`${k.url}/c/done/${s.id}`);
    await page.waitForURL(new RegExp(`/c/pay/${s.id}`));
    // Another method: the first attempt is closed at Klarna, the second one is Alipay+'s.
    await choose(page, /^Alipay\+/);
    await page.waitForURL(/\/pay\/qr\/att_/);
    const first = await (await fetch(`${k.simUrl}/klarna/hpp/v1/sessions/${firstHpp}`, {
      headers: { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` },
    })).json();
    assert.equal(first.status, 'DISABLED', `the first HPP session is closed at Klarna: ${JSON.stringify(first)}`);
    const pi = (await k.stripe.checkout.sessions.retrieve(s.id)).payment_intent;
    const rows = (await k.stripe.rawRequest('GET', `/v1/payment_intents/${pi}/journal`, {})).data;
    assert.deepEqual(rows.filter((r) => ['action', 'fail'].includes(r.kind)).map((r) => r.kind), ['action', 'fail', 'action']);
    await shot(page, 'back-2-second-attempt');
  } finally {
    await b.close();
  }
});

test('Back and the same choice again returns to the open Klarna page (no second attempt)', async () => {
  const s = await createSession();
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    await choose(page, KLARNA);
    await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
    const hpp = page.url();
    await page.goBack();
    await page.getByRole('button', { name: /^Pay / }).waitFor();
    assert.equal(await page.locator('#m-klarna').isChecked(), true, 'the choice is kept');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
    assert.equal(page.url(), hpp);
  } finally {
    await b.close();
  }
});

test('two quick Pay submits: one provider page, no error page', async () => {
  const s = await createSession();
  const form = 'method=klarna_pay_now&email=customer%40email.de&country=DE&locale=en';
  // Klarna answers slowly, so the second submit arrives while the first is still starting.
  await sim(k.simUrl, 'POST', 'faults', { path: '/hpp/v1/sessions', delay_ms: 800, count: 1 });
  const post = () => fetch(s.url, {
    method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form,
  });
  const [a, b2] = await Promise.all([post(), new Promise((r) => setTimeout(r, 150)).then(post)]);
  assert.deepEqual([a.status, b2.status], [303, 303], `answers ${a.status} ${b2.status}: ${await b2.text()}`);
  assert.equal(a.headers.get('location'), b2.headers.get('location'), 'both lead to the same provider page');
  const pi = (await k.stripe.checkout.sessions.retrieve(s.id)).payment_intent;
  const rows = (await k.stripe.rawRequest('GET', `/v1/payment_intents/${pi}/journal`, {})).data;
  assert.equal(rows.filter((r) => r.kind === 'action').length, 1, 'one attempt');
});

/** The simulator's Pay Now steps in the browser, running axe-core on each page. */
async function klarnaPayNow(page, axeTag) {
  await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
  if (axeTag) await assertAxe(page, `Klarna bank page (${axeTag})`);
  await page.getByLabel(/Demo Bank/).first().check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Log in to your bank' }).waitFor();
  if (axeTag) await assertAxe(page, `Klarna login page (${axeTag})`);
  await page.getByLabel('Username').fill('anna');
  await page.getByLabel('PIN or password').fill('1234');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Choose your account' }).waitFor();
  if (axeTag) await assertAxe(page, `Klarna account page (${axeTag})`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Confirm the transfer' }).waitFor();
  if (axeTag) await assertAxe(page, `Klarna TAN page (${axeTag})`);
  await page.getByLabel('TAN').fill('12345');
  await page.getByRole('button', { name: 'Confirm payment' }).click();
}

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`${size}: merchant name and test badge on every page, favicon, axe-core clean (Pay Now)`, async () => {
    const s = await createSession({ client_reference_id: `order-${size}` });
    const b = await browser({ viewport, ...(size === 'phone' ? { isMobile: true, hasTouch: true } : {}) });
    try {
      const { page } = b;
      await page.goto(s.url);
      const header = page.locator('header.merchant');
      assert.match(await header.textContent(), /customer-pages shop/, 'the merchant is named');
      assert.match(await header.textContent(), /Test mode/);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= viewport.width, `checkout page is ${width}px wide`);
      await assertAxe(page, `checkout page (${size})`);
      await shot(page, `${size}-1-checkout`);
      await choose(page, KLARNA_PAY_NOW);
      await page.getByText('customer-pages shop').first().waitFor(); // the shop's name at Klarna
      await shot(page, `${size}-2-klarna-bank`);
      await klarnaPayNow(page, size);
      await page.getByRole('heading', { name: 'Payment received' }).waitFor({ timeout: 20000 });
      assert.match(await page.locator('header.merchant').textContent(), /customer-pages shop/);
      await assertAxe(page, `result page (${size})`);
      await shot(page, `${size}-3-result`);
      assert.deepEqual(b.consoleErrors, [], 'no console errors (favicon.ico answers)');
    } finally {
      await b.close();
    }
  });
}

test('/favicon.ico answers on both listeners', async () => {
  for (const base of [k.url, k.simUrl]) {
    const r = await fetch(`${base}/favicon.ico`);
    assert.equal(r.status, 200, base);
    assert.equal(r.headers.get('content-type'), 'image/svg+xml');
    assert.match(await r.text(), /^<svg/);
  }
});

test('Alipay+ QR page: one strict CSP, the merchant named, a way back to the method choice', async () => {
  const s = await createSession();
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    await choose(page, /^Alipay\+/);
    await page.waitForURL(/\/pay\/qr\/att_/);
    const res = await fetch(page.url());
    const csp = res.headers.get('content-security-policy');
    assert.equal(csp, "default-src 'self'; img-src 'self' https:; base-uri 'none'; frame-ancestors 'none'",
      'exactly one, strict');
    assert.match(await page.locator('header.merchant').textContent(), /customer-pages shop/);
    await assertAxe(page, 'QR page (desktop)');
    await shot(page, 'qr-1-page');
    const attempt = new URL(page.url()).pathname.split('/').pop();
    await page.getByRole('link', { name: 'Choose another payment method' }).click();
    await page.waitForURL(new RegExp(`/c/pay/${s.id}`));
    await choose(page, KLARNA_PAY_NOW);
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    const ap = await (await fetch(`${k.simUrl}/alipay/_sim/payments/${attempt}`)).json();
    assert.equal(ap.status, 'CANCELLED', `the QR code's payment is closed at Alipay+: ${JSON.stringify(ap)}`);
  } finally {
    await b.close();
  }
});

test('the wallet\'s PIN screen has a way back; the wallet pages pass axe-core', async () => {
  const s = await createSession();
  const b = await browser({ viewport: PHONE, isMobile: true, hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36' });
  try {
    const { page } = b;
    await page.goto(s.url);
    await choose(page, /^Alipay\+/);
    await page.waitForURL(/\/pay\/qr\/att_/);
    await assertAxe(page, 'QR page, wallet list (phone)');
    await page.getByRole('link', { name: /GCash/ }).click();
    await page.getByLabel('Payment PIN').waitFor();
    assert.match(await page.textContent('h1'), /customer-pages shop/, 'the wallet names the shop');
    await assertAxe(page, 'wallet PIN screen (phone)');
    await shot(page, 'wallet-1-pin');
    await page.getByRole('link', { name: /Cancel and go back/ }).click();
    await page.waitForURL(new RegExp(`/c/pay/${s.id}`));
    await page.getByRole('button', { name: /^Pay / }).waitFor();
  } finally {
    await b.close();
  }
});

test('a bare PaymentIntent\'s QR page: the wallet\'s Cancel comes back to it, its Cancel closes the payment and returns to the shop', async () => {
  const shop = await startReceiver();
  const back = `${new URL(shop.url).origin}/shop/back`;
  const pi = await k.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['alipay'] });
  const c = await k.stripe.paymentIntents.confirm(pi.id, { payment_method_data: { type: 'alipay' }, return_url: back });
  assert.equal(c.status, 'requires_action');
  const qrUrl = c.next_action.redirect_to_url.url;
  const attempt = qrUrl.split('/').pop();
  const b = await browser({ viewport: PHONE, isMobile: true, hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36' });
  try {
    const { page } = b;
    await page.goto(qrUrl);
    // The wallet's PIN screen, and its way back: to Kassa's QR page, not to a shop told "processing".
    await page.getByRole('link', { name: /GCash/ }).click();
    await page.getByLabel('Payment PIN').waitFor();
    await page.getByRole('link', { name: /Cancel and go back/ }).click();
    await page.waitForURL(new RegExp(`/pay/qr/${attempt}`));
    const cancel = page.getByRole('button', { name: 'Cancel and return to the shop' });
    await cancel.waitFor();
    await assertAxe(page, 'QR page of a PaymentIntent (phone)');
    await shot(page, 'qr-pi-cancel-390');
    await page.setViewportSize(DESKTOP);
    await shot(page, 'qr-pi-cancel-1280');
    await cancel.click();
    await page.waitForURL((u) => u.pathname === '/shop/back');
    const u = new URL(page.url());
    assert.equal(u.searchParams.get('payment_intent'), pi.id);
    assert.equal(u.searchParams.get('redirect_status'), 'failed');
  } finally {
    await b.close();
    await shop.close();
  }
  const after = await k.stripe.paymentIntents.retrieve(pi.id);
  assert.equal(after.status, 'requires_payment_method');
  assert.equal(after.last_payment_error.code, 'payment_method_customer_decline');
  const ap = await (await fetch(`${k.simUrl}/alipay/_sim/payments/${attempt}`)).json();
  assert.equal(ap.status, 'CANCELLED', `closed at Alipay+: ${JSON.stringify(ap)}`);
});

test('the ECommPay Payment Page\'s QR page cancels back to merchant_fail_url; one Klarna entry on its choice', async () => {
  const shop = await startReceiver();
  const origin = new URL(shop.url).origin;
  const mk = (id, extra) => {
    const p = new Payment(k.merchant.ecp_project_id, k.merchant.ecp_secret, {}, k.url);
    Object.assign(p, {
      paymentId: id, paymentAmount: 1999, paymentCurrency: 'EUR', customerId: 'c-qr',
      customerFirstName: 'Test', customerLastName: 'Person', customerEmail: 'customer@email.de',
      customerCountry: 'DE', languageCode: 'en', merchantSuccessUrl: `${origin}/shop/ok`,
      merchantFailUrl: `${origin}/shop/fail`, ...extra,
    });
    return p.getUrl();
  };
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(mk(`PP-QR-${Date.now()}`, { forcePaymentMethod: 'alipay' }));
    await page.waitForURL(/\/pay\/qr\/att_/);
    await assertAxe(page, 'QR page of a Payment Page (desktop)');
    await shot(page, 'qr-ecp-1280');
    await page.getByRole('button', { name: 'Cancel and return to the shop' }).click();
    await page.waitForURL(`${origin}/shop/fail`);
    // Without force_payment_method: Klarna once (Pay now or later on Klarna's page) and Alipay+.
    await page.goto(mk(`PP-CHOICE-${Date.now()}`, {}));
    const radios = page.locator('input[name=method]');
    assert.deepEqual(await radios.evaluateAll((xs) => xs.map((x) => x.value)), ['klarna', 'alipay']);
    await assertAxe(page, 'ECommPay method choice (desktop)');
    await shot(page, 'ecp-choice-1280');
    await page.setViewportSize(PHONE);
    await assertAxe(page, 'ECommPay method choice (phone)');
    await shot(page, 'ecp-choice-390');
    // Alipay+ from the choice: the intent takes it, and its QR page follows.
    await page.getByLabel(/^Alipay\+/).check();
    await page.getByRole('button', { name: /^Pay/ }).click();
    await page.waitForURL(/\/pay\/qr\/att_/);
  } finally {
    await b.close();
    await shop.close();
  }
});

test('a Swedish session preselects Sweden; cancelling at Klarna says "You cancelled"', async () => {
  const s = await createSession({ locale: 'sv' });
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    assert.equal(await page.getByLabel('Land').inputValue(), 'SE');
    const en = await createSession();
    await page.goto(en.url);
    await choose(page, KLARNA_PAY_NOW, { country: 'DE' });
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    await page.getByRole('button', { name: 'Cancel payment' }).click();
    await page.getByRole('heading', { name: 'Payment not completed' }).waitFor({ timeout: 20000 });
    assert.match(await page.getByRole('alert').textContent(), /You cancelled the payment/);
    await assertAxe(page, 'failed result page');
    await shot(page, 'cancelled');
  } finally {
    await b.close();
  }
});

test('Pay Later: the result says when and how much the customer pays', async () => {
  const s = await createSession({ payment_method_types: ['klarna_pay_later'] });
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    await choose(page, 'Klarna — Pay later');
    await page.getByLabel(/Pay in 30 days/).check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('E-mail').fill('customer@email.de');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/code/i).fill('123456');
    await page.getByRole('button', { name: /Confirm|Continue/ }).click();
    await page.getByRole('heading', { name: 'Payment received' }).waitFor({ timeout: 20000 });
    const main = await page.textContent('main');
    assert.match(main, /you pay €12\.34 to Klarna within 30 days/);
    const due = new Date(Date.now() + 30 * 86400 * 1000);
    const dd = String(due.getUTCDate()).padStart(2, '0');
    const mm = String(due.getUTCMonth() + 1).padStart(2, '0');
    assert.match(main, new RegExp(`Pay by\\s*${dd}/${mm}/${due.getUTCFullYear()}`));
    assert.doesNotMatch(main, /has been received/);
    await assertAxe(page, 'Pay Later result page');
    await shot(page, 'paylater-result');
  } finally {
    await b.close();
  }
});

test('errors explain themselves next to their field; the method list follows the country; Pay shows it is working', async () => {
  const s = await createSession();
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    // The list follows the select: Klarna's whole entry needs the country's own currency,
    // so a British customer paying in euros gets Pay Now alone, a French one the whole entry.
    await page.getByLabel('Country').selectOption('GB');
    assert.equal(await page.getByLabel('Klarna — Pay now (online banking)').isVisible(), true);
    assert.equal(await page.locator('#m-klarna').isVisible(), false);
    await page.getByLabel('Country').selectOption('FR');
    assert.equal(await page.getByLabel('Klarna — Pay now (online banking)').isVisible(), false);
    assert.equal(await page.locator('#m-klarna').isVisible(), true);
    await page.getByLabel('Country').selectOption('DE');
    assert.equal(await page.locator('#m-klarna').isVisible(), true);
    assert.equal(await page.locator('#m-klarna').isChecked(), true);
    // Without the script's help (a stale page), the server names the country.
    const res = await fetch(s.url, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'method=klarna_pay_now&email=customer%40email.de&country=FR&locale=en',
    });
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.match(html, /This payment method is not offered in France\. Choose another payment method, or check the country\./);
    assert.match(html, /<legend>Payment method<\/legend>\n<div class="alert" role="alert" id="form-error">/, 'next to the method list');
    // The e-mail error sits in the e-mail field's box.
    await page.getByLabel('E-mail').fill('not-an-address');
    await page.locator('#m-klarna').check();
    await page.evaluate(() => { document.querySelector('#email').type = 'text'; }); // let the server judge
    await page.getByRole('button', { name: /^Pay / }).click();
    const alert = page.locator('.field:has(#email) [role=alert]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /valid e-mail/);
    await assertAxe(page, 'checkout page with an e-mail error');
    await shot(page, 'email-error');
    // Pay shows that it is working while Klarna answers slowly.
    await sim(k.simUrl, 'POST', 'faults', { path: '/hpp/v1/sessions', delay_ms: 1500, count: 1 });
    await page.getByLabel('E-mail').fill('customer@email.de');
    // The state right after the submit event, recorded before the page is replaced.
    const seen = page.waitForEvent('console', (m) => m.text().startsWith('pay-state '));
    await page.evaluate(() => {
      const f = document.querySelector('form.pay');
      f.addEventListener('submit', () => setTimeout(() => {
        const btn = f.querySelector('button[type=submit]');
        console.log(`pay-state ${btn.getAttribute('aria-busy')} ${btn.textContent}`);
      }, 0));
    });
    const t0 = Date.now();
    await page.getByRole('button', { name: /^Pay / }).click();
    assert.equal((await seen).text(), 'pay-state true Processing…');
    // A second press while waiting sends nothing more.
    await page.locator('form.pay button[type=submit]').click({ timeout: 1000 }).catch(() => {});
    await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
    assert.ok(Date.now() - t0 >= 1000, 'Klarna answered slowly, as arranged');
    const pi = (await k.stripe.checkout.sessions.retrieve(s.id)).payment_intent;
    const rows = (await k.stripe.rawRequest('GET', `/v1/payment_intents/${pi}/journal`, {})).data;
    assert.equal(rows.filter((r) => r.kind === 'action').length, 1, 'one attempt');
  } finally {
    await b.close();
  }
});

test('the merchant\'s logo (POST /v1/kassa/branding) is shown on its pages; only https is taken', async () => {
  const m = await k.createMerchant('Logo shop');
  const stripe = k.stripeFor(m.secret_key);
  const bad = await stripe.rawRequest('POST', '/v1/kassa/branding', { logo_url: 'http://shop.example/logo.png' })
    .then(() => null, (e) => e);
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.param, 'logo_url');
  const set = await stripe.rawRequest('POST', '/v1/kassa/branding', { logo_url: 'https://shop.example/logo.png' });
  assert.equal(set.logo_url, 'https://shop.example/logo.png');
  assert.equal(set.name, 'Logo shop');
  const s = await stripe.checkout.sessions.create({
    mode: 'payment', success_url: 'http://127.0.0.1:9/ok', customer_email: 'customer@email.de',
    line_items: [{ price_data: { currency: 'eur', unit_amount: 500, product_data: { name: 'Mug' } }, quantity: 1 }],
  });
  const html = await (await fetch(s.url)).text();
  assert.match(html, /<header class="merchant"><img class="logo" alt="" src="https:\/\/shop\.example\/logo\.png"><span class="merchant-name">Logo shop<\/span>/);
  // Passed to Klarna with the name (HPP options.logo_url beside options.page_title): the
  // simulator's pages show it as Klarna's own do.
  const pay = await fetch(s.url, {
    method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'method=klarna&email=customer%40email.de&country=DE&locale=en',
  });
  assert.equal(pay.status, 303, await pay.text());
  const klarna = await (await fetch(new URL(pay.headers.get('location'), s.url))).text();
  assert.match(klarna, /<img alt="" src="https:\/\/shop\.example\/logo\.png">/, 'the logo on Klarna\'s page');
  assert.match(klarna, /Logo shop/);
  const off = await stripe.rawRequest('POST', '/v1/kassa/branding', { logo_url: '' });
  assert.equal(off.logo_url, null);
  assert.doesNotMatch(await (await fetch(s.url)).text(), /<img class="logo"/);
});
