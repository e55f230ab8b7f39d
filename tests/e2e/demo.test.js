// The sandbox demo shop in a real browser (playwright-core driving Debian's Chromium): buy
// through every page (shop -> cart -> Kassa's hosted checkout page -> the Klarna simulator's
// bank, login, account and TAN pages -> back -> the order page, which shows the payment as
// paid and lists the payment_intent.succeeded webhook the shop received and verified).
// Screenshots of every page go to tests/e2e/artifacts/demo-*.png.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startKassa } = require('./harness');

const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let k;
before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  k = await startKassa({ name: 'demo-shop', args: ['--sandbox'] });
});
after(async () => {
  if (k) await k.stop();
});

async function browser(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, locale: 'en-GB', ...opts,
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(15000);
  return {
    page,
    async close() {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

test('buy in the demo shop through every page; the order page shows paid and its webhook', async () => {
  const b = await browser();
  try {
    const { page } = b;
    const res = await page.goto(`${k.url}/demo`);
    assert.equal(res.status(), 200);
    const banner = await page.getByRole('note').textContent();
    assert.match(banner, /Sandbox/);
    assert.match(banner, /Demo Bank/);
    assert.match(banner, /TAN 12345/);
    await page.getByRole('heading', { name: 'Kassa demo shop' }).waitFor();
    await shot(page, 'demo-1-shop');

    const mug = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Kassa coffee mug' }) });
    await mug.getByRole('button', { name: 'Add to cart' }).click();
    await page.waitForURL(/\/demo\/cart$/);
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    assert.equal(await page.textContent('#total'), '€12.34');
    await page.getByLabel('Quantity of Kassa coffee mug').fill('2');
    await page.getByRole('button', { name: 'Update quantities' }).click();
    await page.waitForURL(/\/demo\/cart$/);
    assert.equal(await page.textContent('#total'), '€24.68');
    await page.getByRole('link', { name: 'Cart (2)' }).waitFor();
    await shot(page, 'demo-2-cart');

    await page.getByRole('button', { name: 'Checkout' }).click();
    await page.waitForURL(/\/c\/pay\/cs_/);
    const csId = /\/c\/pay\/(cs_[A-Za-z0-9_]+)/.exec(page.url())[1];
    const main = await page.textContent('main');
    assert.match(main, /Kassa coffee mug/);
    assert.match(main, /€24\.68/);
    await page.getByLabel('E-mail').fill('customer@email.de');
    await page.getByLabel('Country').selectOption('DE');
    await page.locator('#m-klarna').check();
    await shot(page, 'demo-3-checkout');
    await page.getByRole('button', { name: 'Pay €24.68' }).click();
    await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
    await page.getByLabel('Pay now (bank transfer)').check();
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    await shot(page, 'demo-4-klarna-bank');
    await page.getByLabel(/Demo Bank/).first().check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Log in to your bank' }).waitFor();
    await page.getByLabel('Username').fill('demo-user');
    await page.getByLabel('PIN or password').fill('0000');
    await shot(page, 'demo-5-klarna-login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Choose your account' }).waitFor();
    await shot(page, 'demo-6-klarna-account');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Confirm the transfer' }).waitFor();
    await page.getByLabel('TAN').fill('12345');
    await shot(page, 'demo-7-klarna-tan');
    await page.getByRole('button', { name: 'Confirm payment' }).click();

    // Kassa shows the result, the customer goes back to the shop's order page.
    await page.waitForURL(/\/c\/done\/cs_/);
    await page.getByRole('heading', { name: 'Payment received' }).waitFor({ timeout: 20000 });
    await shot(page, 'demo-8-result');
    await page.getByRole('link', { name: 'Back to shop' }).click();
    await page.waitForURL(new RegExp(`/demo/order/${csId}$`));
    await page.getByRole('heading', { name: 'Thank you for your order' }).waitFor();
    assert.equal((await page.textContent('#payment-status')).trim(), 'paid');
    // The page refreshes itself (meta refresh) until the final webhook is in the log.
    await page.getByRole('cell', { name: 'payment_intent.succeeded' }).waitFor({ timeout: 30000 });
    const refresh = await page.locator('meta[http-equiv="refresh"]').count();
    assert.equal(refresh, 0, 'no more refreshing once final and the webhook arrived');
    const piId = (await page.locator('dd code').first().textContent()).trim();
    assert.match(piId, /^pi_/);
    const events = await page.locator('table.events tbody tr').allTextContents();
    assert.ok(events.some((r) => r.includes('payment_intent.succeeded') && /evt_/.test(r)), events.join('\n'));
    await shot(page, 'demo-9-order');

  } finally {
    await b.close();
  }
});

test('the demo webhook refuses unsigned and wrongly signed deliveries', async () => {
  const body = JSON.stringify({ id: 'evt_forged', type: 'payment_intent.succeeded', created: 1, data: { object: { id: 'pi_x', object: 'payment_intent' } } });
  const none = await fetch(`${k.url}/demo/webhook`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
  assert.equal(none.status, 400);
  const t = Math.floor(Date.now() / 1000);
  const bad = await fetch(`${k.url}/demo/webhook`, {
    method: 'POST', body,
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${'0'.repeat(64)}` },
  });
  assert.equal(bad.status, 400);
});

test('the cart cookie cannot be forged and an empty cart offers no checkout', async () => {
  const forged = await fetch(`${k.url}/demo/cart`, { headers: { Cookie: 'kassa_demo_cart=0:99~00000000000000000000000000000000' } });
  assert.equal(forged.status, 200);
  const html = await forged.text();
  assert.match(html, /Your cart is empty/);
  assert.doesNotMatch(html, />Checkout</);
  const r = await fetch(`${k.url}/demo/checkout`, { method: 'POST', redirect: 'manual' });
  assert.equal(r.status, 303);
  assert.match(r.headers.get('location'), /\/demo\/cart$/);
});

test('on a 390 px phone the cart fits: Remove visible, names unbroken; the order page shows readable times', async () => {
  const b = await browser({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  try {
    const { page } = b;
    await page.goto(`${k.url}/demo`);
    for (const name of ['Kassa coffee mug', 'Kassa coffee mug']) {
      const item = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name }) });
      await item.getByRole('button', { name: 'Add to cart' }).tap();
      await page.waitForURL(/\/demo\/cart$/);
      await page.goto(`${k.url}/demo`);
    }
    const items = page.getByRole('listitem');
    await items.nth(1).getByRole('button', { name: 'Add to cart' }).tap();
    await page.waitForURL(/\/demo\/cart$/);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the cart is ${width}px wide on a 390px phone`);
    const removes = page.getByRole('button', { name: /^Remove / });
    for (let i = 0; i < await removes.count(); i++) {
      const box = await removes.nth(i).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `Remove ${i} is on screen: ${JSON.stringify(box)}`);
    }
    const cell = page.locator('.cart tbody td:first-child').first();
    const h = (await cell.boundingBox()).height;
    const line = await cell.evaluate((e) => parseFloat(getComputedStyle(e).lineHeight));
    assert.ok(h <= line * 2.2, `the product name takes ${h}px (one line is ${line}px): not broken letter by letter`);
    await shot(page, 'demo-phone-cart');
    // Pay it and look at the order page's webhook times.
    await page.getByRole('button', { name: 'Checkout' }).tap();
    await page.waitForURL(/\/c\/pay\/cs_/);
    const csId = /\/c\/pay\/(cs_[A-Za-z0-9_]+)/.exec(page.url())[1];
    await page.getByLabel('Country').selectOption('DE');
    await page.getByLabel('E-mail').fill('customer@email.de');
    await page.locator('#m-klarna').check();
    await page.getByRole('button', { name: /^Pay / }).tap();
    await page.getByLabel('Pay now (bank transfer)').check();
    await page.getByRole('button', { name: 'Continue' }).tap();
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    await page.getByLabel(/Demo Bank/).first().check();
    await page.getByRole('button', { name: 'Continue' }).tap();
    await page.getByLabel('Username').fill('demo-user');
    await page.getByLabel('PIN or password').fill('0000');
    await page.getByRole('button', { name: 'Log in' }).tap();
    await page.getByRole('button', { name: 'Continue' }).tap();
    await page.getByLabel('TAN').fill('12345');
    await page.getByRole('button', { name: 'Confirm payment' }).tap();
    await page.getByRole('heading', { name: 'Payment received' }).waitFor({ timeout: 20000 });
    await page.goto(`${k.url}/demo/order/${csId}`);
    await page.getByRole('cell', { name: 'payment_intent.succeeded' }).waitFor({ timeout: 30000 });
    const times = await page.locator('table.events time').allTextContents();
    assert.ok(times.length > 0);
    for (const t of times) {
      assert.doesNotMatch(t, /\d{4}-\d{2}-\d{2}T/, 'no raw ISO time shown');
      assert.match(t, /^\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}, \d{2}:\d{2}:\d{2} UTC$/);
    }
    assert.match(await page.locator('table.events time').first().getAttribute('datetime'), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const w2 = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w2 <= 390, `the order page is ${w2}px wide`);
    await shot(page, 'demo-phone-order');
  } finally {
    await b.close();
  }
});
