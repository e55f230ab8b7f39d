// Kassa's hosted Checkout Session pages in a real browser (playwright-core driving Debian's
// Chromium): a German customer pays through the hosted page and the Klarna simulator's bank
// steps; an English customer cancels at Klarna and sees the localized failure with "Try again";
// the language follows Accept-Language; expired links say so; a server-side form error is
// re-rendered with role=alert and the inputs kept; a 375 px phone screen has no sideways scroll;
// the whole flow works with the keyboard only. Screenshots go to tests/e2e/artifacts/.
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
const NBSP = /[\s\u00a0\u202f]/.source; // money_format puts a no-break space before "€"

let k;
before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  k = await startKassa({ name: 'checkout-pages' });
});
after(async () => {
  if (k) await k.stop();
});

/** A fresh Chromium profile (its own --user-data-dir) with the given context options. */
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

async function createSession(extra = {}) {
  return k.stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ price_data: { currency: 'eur', unit_amount: 1234, product_data: { name: 'Kaffeebecher <Edition>' } }, quantity: 1 }],
    success_url: 'http://127.0.0.1:9/shop/thanks?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://127.0.0.1:9/shop/cart',
    client_reference_id: 'order-1001',
    ...extra,
  });
}

/** Walks the simulator's Pay Now pages (bank, login, account, TAN) by label and role. */
async function klarnaPayNow(page, de, prefix) {
  const t = (en, ger) => (de ? ger : en);
  // Kassa offers Klarna as one entry; Pay now is chosen on Klarna's page.
  await page.getByRole('heading', { name: t('How do you want to pay?', 'Wie möchten Sie bezahlen?') }).waitFor();
  await page.getByLabel(t('Pay now (bank transfer)', 'Sofort bezahlen (Überweisung)')).check();
  await page.getByRole('button', { name: t('Continue', 'Weiter') }).click();
  await page.getByRole('heading', { name: t('Choose your bank', 'Wählen Sie Ihre Bank') }).waitFor();
  await shot(page, `${prefix}-2-klarna-bank`);
  await page.getByLabel(/Demo Bank/).first().check();
  await page.getByRole('button', { name: t('Continue', 'Weiter') }).click();
  await page.getByRole('heading', { name: t('Log in to your bank', 'Bei Ihrer Bank anmelden') }).waitFor();
  await shot(page, `${prefix}-3-klarna-login`);
  await page.getByLabel(t('Username', 'Benutzername')).fill('anna');
  await page.getByLabel(t('PIN or password', 'PIN oder Passwort')).fill('1234');
  await page.getByRole('button', { name: t('Log in', 'Anmelden') }).click();
  await page.getByRole('heading', { name: t('Choose your account', 'Wählen Sie Ihr Konto') }).waitFor();
  await shot(page, `${prefix}-4-klarna-account`);
  await page.getByRole('button', { name: t('Continue', 'Weiter') }).click();
  await page.getByRole('heading', { name: t('Confirm the transfer', 'Überweisung bestätigen') }).waitFor();
  await shot(page, `${prefix}-5-klarna-tan`);
  await page.getByLabel('TAN').fill('12345');
  await page.getByRole('button', { name: t('Confirm payment', 'Zahlung bestätigen') }).click();
}

test('a German customer pays a Checkout Session through the hosted page and Klarna', async () => {
  const s = await createSession({ locale: 'de', customer_email: 'customer@email.de' });
  assert.match(s.url, /\/c\/pay\/cs_/);
  const b = await browser({ locale: 'en-US' }); // the session's locale wins over the browser's
  try {
    const { page } = b;
    const res = await page.goto(s.url);
    assert.equal(res.status(), 200);
    const csp = res.headers()['content-security-policy'] || '';
    assert.match(csp, /default-src 'self'/);
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    await page.getByRole('heading', { name: 'Kasse' }).waitFor();
    const body = await page.textContent('main');
    assert.match(body, /Bestellübersicht/);
    assert.match(body, /Kaffeebecher <Edition>/); // escaped in HTML, shown as text
    assert.match(body, new RegExp(`12,34${NBSP}€`));
    assert.equal(await page.getByLabel('E-Mail-Adresse').inputValue(), 'customer@email.de');
    assert.equal(await page.getByLabel('Land').inputValue(), 'DE');
    await shot(page, 'checkout-de-1-hosted-page');
    await page.locator('#m-klarna').check();
    await page.getByRole('button', { name: new RegExp(`^12,34${NBSP}€ bezahlen$`) }).click();
    await klarnaPayNow(page, true, 'checkout-de');
    await page.waitForURL(/\/c\/done\/cs_/);
    await page.getByRole('heading', { name: 'Zahlung erhalten' }).waitFor({ timeout: 20000 });
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    const done = await page.textContent('main');
    assert.match(done, new RegExp(`12,34${NBSP}€`));
    assert.match(done, /order-1001/);
    await shot(page, 'checkout-de-6-result');
    const back = page.getByRole('link', { name: 'Zurück zum Shop' });
    assert.equal(await back.getAttribute('href'), `http://127.0.0.1:9/shop/thanks?session=${s.id}`);
    const after = await k.stripe.checkout.sessions.retrieve(s.id);
    assert.equal(after.status, 'complete');
    assert.equal(after.payment_status, 'paid');
  } finally {
    await b.close();
  }
});

test('cancelling at Klarna shows "Payment not completed" with Try again back to the form', async () => {
  const s = await createSession();
  const b = await browser({ locale: 'en-GB' });
  try {
    const { page } = b;
    await page.goto(s.url);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.getByLabel('E-mail').fill('customer@email.de');
    await page.getByLabel('Country').selectOption('DE');
    await page.locator('#m-klarna').check();
    await page.getByRole('button', { name: 'Pay €12.34' }).click();
    await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
    await page.getByRole('button', { name: 'Cancel payment' }).click();
    await page.waitForURL(/\/c\/done\/cs_/);
    await page.getByRole('heading', { name: 'Payment not completed' }).waitFor({ timeout: 20000 });
    const alert = await page.getByRole('alert').textContent();
    assert.ok(alert.trim().length > 0, 'a reason is shown');
    await shot(page, 'checkout-en-failed');
    await page.getByRole('link', { name: 'Try again' }).click();
    await page.waitForURL(new RegExp(`/c/pay/${s.id}$`));
    await page.getByRole('button', { name: 'Pay €12.34' }).waitFor();
  } finally {
    await b.close();
  }
});

test('the language follows Accept-Language, and ?locale= switches it', async () => {
  const s = await createSession();
  const b = await browser({ locale: 'fi-FI' });
  try {
    const { page } = b;
    await page.goto(s.url);
    assert.equal(await page.getAttribute('html', 'lang'), 'fi');
    await page.getByRole('button', { name: new RegExp(`^Maksa 12,34${NBSP}€$`) }).waitFor();
    await page.getByLabel('Sähköposti').waitFor();
    await page.getByRole('link', { name: 'Svenska' }).click();
    assert.equal(await page.getAttribute('html', 'lang'), 'sv');
    await page.getByRole('button', { name: new RegExp(`^Betala 12,34${NBSP}€$`) }).waitFor();
    await page.goto(`${s.url}?locale=fr`);
    await page.getByRole('button', { name: new RegExp(`^Payer 12,34${NBSP}€$`) }).waitFor();
  } finally {
    await b.close();
  }
});

test('an expired session shows a clear expired page', async () => {
  const s = await createSession();
  await k.stripe.checkout.sessions.expire(s.id);
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    await page.getByRole('heading', { name: 'This payment link has expired' }).waitFor();
    assert.equal(await page.getByRole('button').count(), 0, 'no way to pay an expired link');
    await shot(page, 'checkout-expired');
    const de = await fetch(s.url, { headers: { 'Accept-Language': 'de-DE,de;q=0.9' } });
    assert.match(await de.text(), /Dieser Zahlungslink ist abgelaufen/);
  } finally {
    await b.close();
  }
});

test('a refused form is re-rendered with role=alert, inputs kept, nothing paid', async () => {
  const s = await createSession();
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept-Language': 'de' },
    body: 'method=klarna_pay_now&email=nicht-gueltig&country=AT',
    redirect: 'manual',
  });
  assert.equal(res.status, 400);
  const html = await res.text();
  assert.match(html, /role="alert"[^>]*>Bitte geben Sie eine gültige E-Mail-Adresse ein\./);
  assert.match(html, /value="nicht-gueltig"/);
  assert.match(html, /<option value="AT" selected>Österreich<\/option>/);
  const unknown = await fetch(s.url.replace(/cs_[A-Za-z0-9_]+/, 'cs_doesnotexist'));
  assert.equal(unknown.status, 404);
  const s2 = await k.stripe.checkout.sessions.retrieve(s.id);
  assert.equal(s2.status, 'open');
  assert.equal(s2.payment_status, 'unpaid');
});

test('on a 375 px phone the page fits without sideways scrolling and can be paid', async () => {
  const s = await createSession({
    line_items: [
      { price_data: { currency: 'eur', unit_amount: 1234, product_data: { name: 'Extraordinarily long product name that must wrap nicely' } }, quantity: 3 },
      { price_data: { currency: 'eur', unit_amount: 99, product_data: { name: 'Sticker' } }, quantity: 1 },
    ],
  });
  const b = await browser({
    viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
  });
  try {
    const { page } = b;
    await page.goto(s.url);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `page is ${width}px wide on a 375px screen`);
    await shot(page, 'checkout-phone-1-hosted-page');
    await page.getByLabel('E-mail').fill('customer@email.de');
    await page.getByLabel('Country').selectOption('DE');
    await page.locator('#m-klarna').check();
    await page.getByRole('button', { name: 'Pay €38.01' }).tap();
    await klarnaPayNow(page, false, 'checkout-phone');
    await page.getByRole('heading', { name: 'Payment received' }).waitFor({ timeout: 20000 });
    const w2 = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w2 <= 375, `result page is ${w2}px wide`);
    await shot(page, 'checkout-phone-6-result');
  } finally {
    await b.close();
  }
});

test('keyboard only: Tab to the fields, arrows for the method, Enter pays', async () => {
  const s = await createSession();
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    const focused = () => page.evaluate(() => {
      const e = document.activeElement;
      return e ? `${e.tagName.toLowerCase()}#${e.id}` : '';
    });
    // Tab until the first payment method radio has focus.
    for (let i = 0; i < 20 && !(await focused()).startsWith('input#m-'); i++) await page.keyboard.press('Tab');
    assert.match(await focused(), /^input#m-/);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    // Arrow keys move through the radio group; pick Klarna explicitly.
    const first = await focused();
    if (first !== 'input#m-klarna') {
      for (let i = 0; i < 5 && (await focused()) !== 'input#m-klarna'; i++) await page.keyboard.press('ArrowDown');
    }
    assert.equal(await focused(), 'input#m-klarna');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'input#email');
    await page.keyboard.type('customer@email.de');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'select#country');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button#', 'the pay button comes next');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'How do you want to pay?' }).waitFor();
    assert.equal(new URL(page.url()).host, new URL(k.simUrl).host);
  } finally {
    await b.close();
  }
});

test('the stylesheet is served and pages load nothing from elsewhere', async () => {
  const css = await fetch(`${k.url}/assets/kassa.css`);
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type'), /^text\/css/);
  assert.match(await css.text(), /:focus-visible/);
  const s = await createSession();
  const html = await (await fetch(s.url)).text();
  // One same-origin script, a progressive enhancement (the form works without it).
  assert.deepEqual(html.match(/<script[^>]*>/gi), ['<script src="/assets/kassa.js" defer>']);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\/(?!127\.0\.0\.1:9\/)/, 'no external resources');
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  const demo = await fetch(`${k.url}/demo`);
  assert.equal(demo.status, 404, 'no demo shop outside sandbox mode');
});
