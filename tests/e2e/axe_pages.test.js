// axe-core on the pages customer_pages.test.js does not walk: the demo shop and its cart, the
// ECommPay Payment Page's method choice, Klarna's Pay Later pages (e-mail and one-time code),
// an expired checkout session and an unknown one, the Alipay+ wallet's pages (code page, wallet
// home, PIN, wrong PIN, paid, failed), Klarna's Pay Now bank pages, the cancelled result page,
// the Payment Page's Alipay+ QR step, its declined result and its error page - at 1280x800 and
// 390x844, in Debian's
// Chromium. No serious or critical violation may be found. Screenshots:
// tests/e2e/artifacts/axe-*.png.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { Payment } = require('ecommpay');
const { startKassa } = require('./harness');

const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const AXE = path.join(__dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

let k;
before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  k = await startKassa({ name: 'axe-pages', args: ['--sandbox'] });
});
after(async () => {
  if (k) await k.stop();
});

async function withPage(viewport, fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-axe-'));
  // bypassCSP only so that axe-core can be injected; the pages' CSP is checked elsewhere.
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, locale: 'en-GB', viewport, bypassCSP: true,
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(15000);
    await fn(page);
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const seen = [];
async function check(page, what, size) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  await page.screenshot({ path: path.join(ARTIFACTS, `axe-${what.replace(/[^a-z0-9]+/gi, '-')}-${size}.png`), fullPage: true });
  seen.push(`${what} (${size})`);
  assert.deepEqual(bad, [], `axe-core on ${what} at ${size}`);
}

for (const [size, viewport] of Object.entries(SIZES)) {
  test(`${size}: the demo shop and its cart`, async () => {
    await withPage(viewport, async (page) => {
      await page.goto(`${k.url}/demo`);
      await check(page, 'demo shop', size);
      await page.locator('form[action$="/demo/cart/add"] button').first().click();
      await page.waitForURL(/\/demo\/cart/);
      await check(page, 'demo cart', size);
    });
  });

  test(`${size}: the ECommPay Payment Page's method choice`, async () => {
    const p = new Payment(k.merchant.ecp_project_id, k.merchant.ecp_secret, {}, k.url);
    Object.assign(p, {
      paymentId: `AXE-${size}-${Date.now()}`, paymentAmount: 1999, paymentCurrency: 'EUR', customerId: 'c-axe',
      customerFirstName: 'Test', customerLastName: 'Person',
      customerEmail: 'customer@email.de', customerCountry: 'DE', languageCode: 'en',
      merchantSuccessUrl: 'http://127.0.0.1:1/shop/ok', merchantFailUrl: 'http://127.0.0.1:1/shop/fail',
    });
    await withPage(viewport, async (page) => {
      const res = await page.goto(p.getUrl());
      assert.ok(res.status() < 400, `the Payment Page opened: ${res.status()}`);
      // The same header as the hosted checkout: whose shop this is, and that it is a test.
      assert.equal(await page.getByText('axe-pages shop').count(), 1, 'the merchant name');
      assert.equal(await page.getByText('Test mode').count(), 1, 'the test-mode badge');
      await check(page, 'ECommPay payment page', size);
    });
  });

  test(`${size}: Klarna's Pay Later pages (e-mail, one-time code)`, async () => {
    const s = await k.stripe.checkout.sessions.create({
      mode: 'payment', payment_method_types: ['klarna'],
      line_items: [{ price_data: { currency: 'eur', unit_amount: 2500, product_data: { name: 'Teekanne' } }, quantity: 1 }],
      success_url: 'http://127.0.0.1:9/shop/thanks', cancel_url: 'http://127.0.0.1:9/shop/cart',
      customer_email: 'customer@email.de',
    });
    await withPage(viewport, async (page) => {
      await page.goto(s.url);
      await page.getByLabel('Country').selectOption('DE');
      await page.locator('#m-klarna').check();
      await page.getByRole('button', { name: /^Pay / }).click();
      await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
      await check(page, 'Klarna method choice', size);
      await page.getByLabel(/Pay later/).first().check();
      await page.getByRole('button', { name: 'Continue' }).click();
      for (let step = 0; step < 4; step++) {
        await page.waitForLoadState('domcontentloaded');
        const email = page.getByLabel(/e-mail/i);
        const code = page.getByLabel(/code/i);
        if (await email.count() > 0) {
          await check(page, 'Klarna e-mail step', size);
          await email.first().fill('customer@email.de');
        } else if (await code.count() > 0) {
          await check(page, 'Klarna one-time code step', size);
          await code.first().fill('123456');
        } else {
          await check(page, `Klarna Pay Later step ${step}`, size);
        }
        const next = page.getByRole('button', { name: /Continue|Confirm|Pay|Next/ }).first();
        if (await next.count() === 0) break;
        await next.click();
        if (!page.url().includes('/klarna/')) break;
      }
    });
  });

  test(`${size}: an expired checkout session and an unknown one`, async () => {
    const s = await k.stripe.checkout.sessions.create({
      mode: 'payment', payment_method_types: ['klarna'],
      line_items: [{ price_data: { currency: 'eur', unit_amount: 900, product_data: { name: 'Tasse' } }, quantity: 1 }],
      success_url: 'http://127.0.0.1:9/shop/thanks', cancel_url: 'http://127.0.0.1:9/shop/cart',
    });
    await k.stripe.checkout.sessions.expire(s.id);
    await withPage(viewport, async (page) => {
      await page.goto(s.url);
      await check(page, 'expired checkout session', size);
      await page.goto(`${k.url}/c/pay/cs_test_not_a_session`);
      await check(page, 'unknown checkout session', size);
    });
  });

  test(`${size}: the Alipay+ wallet's pages (the code's page, wallet home, PIN, wrong PIN, paid, failed)`, async () => {
    const qrCode = async () => {
      const pi = await k.stripe.paymentIntents.create({ amount: 1250, currency: 'eur', payment_method_types: ['alipay'] });
      const c = await k.stripe.paymentIntents.confirm(pi.id, {
        payment_method_data: { type: 'alipay' }, return_url: 'http://127.0.0.1:9/shop/back',
      });
      const attempt = c.next_action.redirect_to_url.url.split('/').pop();
      const sp = await (await fetch(`${k.simUrl}/alipay/_sim/payments/${attempt}`)).json();
      return `${k.simUrl}/alipay/qr/${sp.paymentId}`;
    };
    await withPage(viewport, async (page) => {
      const code = await qrCode();
      await page.goto(code);
      await check(page, 'Alipay+ code page', size);
      await page.goto(`${k.simUrl}/alipay/wallet/GCASH`);
      await check(page, 'Alipay+ wallet home', size);
      await page.goto(`${code}?wallet=GCASH`);
      await page.getByLabel('Payment PIN').waitFor();
      await check(page, 'Alipay+ wallet PIN screen', size);
      await page.getByLabel('Payment PIN').fill('000000');
      await page.getByRole('button', { name: 'Confirm payment' }).click();
      await page.getByText(/Wrong PIN/).waitFor();
      await check(page, 'Alipay+ wallet wrong PIN', size);
      await page.getByLabel('Payment PIN').fill('123456');
      await page.getByRole('button', { name: 'Confirm payment' }).click();
      await page.getByRole('heading', { name: 'Payment successful' }).waitFor();
      await check(page, 'Alipay+ wallet paid', size);
      const second = await qrCode();
      await page.goto(`${second}?wallet=GCASH`);
      for (let i = 0; i < 3; i++) {
        await page.getByLabel('Payment PIN').fill('000000');
        await page.getByRole('button', { name: 'Confirm payment' }).click();
        await page.waitForLoadState('domcontentloaded');
      }
      await page.getByRole('heading', { name: 'Payment failed' }).waitFor();
      await check(page, 'Alipay+ wallet failed', size);
    });
  });

  test(`${size}: Klarna's Pay Now bank pages, the cancelled result and the QR page's Cancel`, async () => {
    const s = await k.stripe.checkout.sessions.create({
      mode: 'payment', payment_method_types: ['klarna', 'klarna_pay_now'],
      line_items: [{ price_data: { currency: 'eur', unit_amount: 1800, product_data: { name: 'Kanne' } }, quantity: 1 }],
      success_url: 'http://127.0.0.1:9/shop/thanks', cancel_url: 'http://127.0.0.1:9/shop/cart',
      customer_email: 'customer@email.de',
    });
    await withPage(viewport, async (page) => {
      await page.goto(s.url);
      await page.getByLabel('Country').selectOption('DE');
      await page.locator('#m-klarna').check();
      await page.getByRole('button', { name: /^Pay / }).click();
      await page.getByLabel('Pay now (bank transfer)').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
      await check(page, 'Klarna bank choice', size);
      await page.getByLabel(/Demo Bank/).first().check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Username').waitFor();
      await check(page, 'Klarna bank login', size);
      await page.getByRole('button', { name: 'Cancel payment' }).click();
      await page.getByRole('heading', { name: 'Payment not completed' }).waitFor({ timeout: 20000 });
      await check(page, 'cancelled result page', size);
    });
    // The Payment Page's own Alipay+ step (its QR page with Cancel) and its error page.
    const p = new Payment(k.merchant.ecp_project_id, k.merchant.ecp_secret, {}, k.url);
    Object.assign(p, {
      paymentId: `AXE-QR-${size}-${Date.now()}`, paymentAmount: 1999, paymentCurrency: 'EUR', customerId: 'c-axe',
      customerFirstName: 'Test', customerLastName: 'Person', customerEmail: 'customer@email.de',
      customerCountry: 'DE', languageCode: 'en', forcePaymentMethod: 'alipay',
    });
    await withPage(viewport, async (page) => {
      await page.goto(p.getUrl());
      await page.waitForURL(/\/pay\/qr\/att_/);
      await check(page, 'ECommPay Payment Page Alipay+ QR page', size);
      await page.getByRole('button', { name: 'Cancel and return to the shop' }).click();
      // No merchant URL to go back to: the Payment Page's choice again, saying why.
      await page.getByRole('heading', { name: 'Payment not completed' }).waitFor();
      assert.match(await page.getByRole('alert').textContent(), /You cancelled the payment/);
      await check(page, 'ECommPay Payment Page choice after a cancel', size);
      // force_payment_method=alipay: Alipay+ is what it offers again, and a new QR code follows.
      assert.deepEqual(await page.locator('input[name=method]').evaluateAll((xs) => xs.map((x) => x.value)), ['alipay']);
      await page.getByRole('button', { name: /^Pay/ }).click();
      await page.waitForURL(/\/pay\/qr\/att_/);
      await page.goto(`${k.url}/payment?project_id=${k.merchant.ecp_project_id}&payment_id=x&signature=bad`);
      await check(page, 'ECommPay Payment Page signature error', size);
    });
  });
}

test('pages checked', () => {
  console.log(`axe-core: ${seen.length} page views without a serious or critical violation: ${[...new Set(seen)].join('; ')}`);
  assert.ok(seen.length >= 36, `${seen.length} pages checked`);
});
