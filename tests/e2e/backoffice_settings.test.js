// The back office's Settings page (/dashboard/settings) in Debian's Chromium, against the real
// binary: an admin hides Klarna Pay Later (and ECommPay's Pay Later, Kassa's `klarna`) for SEK
// in Sweden; from the next request on the Stripe API refuses creating and confirming such a
// PaymentIntent naming the parameter, the ECommPay Payment Page refuses it, and the hosted
// checkout no longer lists it for a Swedish SEK session while an EUR session from Germany
// still offers it; published again, it works. Klarna credentials are saved (password or code
// asked again), the page shows only their last 4 characters, the SQLite file holds no clear
// text, and the Klarna simulator sees the new username in Basic auth on the next payment. The
// branding preview shows the shop name and the button colours; a bad colour and a low-contrast
// pair are refused next to their field. A 7-day authorisation period applies to a new Pay
// Later authorisation. A read-only user sees the settings without secrets and is refused (403)
// when posting a change anyway. axe-core on the pages; screenshots at 1280 and 390 px in
// tests/e2e/artifacts/ (settings-*.png).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Payment } = require('ecommpay');
const { ARTIFACTS, browser, screenshots, axe, signIn } = require('./staff_browser');
const { startKassa, runCli } = require('./harness');
const { payKlarna, confirmKlarna } = require('./klarna');


const { shots } = screenshots('settings');

async function stripeError(p) {
  try {
    await p;
  } catch (e) {
    return e.raw || e;
  }
  assert.fail('expected the Stripe API to refuse');
  return null;
}

describe('back office settings', () => {
  let k;
  let admin;
  let viewer;
  let a; // the admin's browser
  let ro; // the read-only user's browser
  let early; // a SEK Pay Later intent created before the method was hidden
  let earlySession; // a SEK checkout session created before the method was hidden

  const user = async (email, role) => {
    const r = await runCli(['user', 'create', '--email', email, '--role', role, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  const sekIntent = () => k.stripe.paymentIntents.create({
    amount: 50000, currency: 'sek', payment_method_types: ['klarna_pay_later'], capture_method: 'manual',
  });
  const session = (currency, types) => k.stripe.checkout.sessions.create({
    mode: 'payment', payment_method_types: types,
    line_items: [{ price_data: { currency, unit_amount: 30000, product_data: { name: 'Ryggsäck' } }, quantity: 1 }],
    success_url: 'http://127.0.0.1:9/shop/thanks', cancel_url: 'http://127.0.0.1:9/shop/cart',
  });
  /** The method radio buttons the hosted page offers (shown or hidden by the country script). */
  async function offered(page, s, country) {
    await page.goto(`${s.url}${country ? `?country=${country}` : ''}`);
    await page.locator('h1').first().waitFor();
    return page.locator('input[name="method"]').evaluateAll((xs) => xs.map((x) => x.value));
  }
  async function hideOrPublish(page, method, currency, country, hide) {
    await page.goto(`${k.url}/dashboard/settings`);
    if (hide) {
      await page.getByLabel('Method', { exact: true }).selectOption(method);
      await page.getByLabel('Currency (ISO code, * = every currency)').fill(currency);
      await page.getByLabel('Country (ISO code, * = every country)').fill(country);
      await page.getByRole('button', { name: 'Hide', exact: true }).click();
    } else {
      await page.locator(`tr[data-hidden="${method}"]`).getByRole('button', { name: 'Publish again' }).click();
    }
    await page.getByText('Payment methods changed.').waitFor();
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    k = await startKassa({ name: 'backoffice-settings' });
    admin = await user('admin@shop.test', 'admin');
    viewer = await user('viewer@shop.test', 'read_only');
    a = await browser();
    await signIn(a.page, k.url, admin, { first: true });
    early = await sekIntent();
    earlySession = await session('sek', ['klarna_pay_later', 'klarna']);
  });
  after(async () => {
    for (const br of [a, ro]) if (br) await br.close();
    if (k) await k.stop();
  });

  it('shows the settings page, accessible at desktop and phone width', async () => {
    const page = a.page;
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    await page.getByText('No method is hidden.').waitFor();
    // the merchant's connectors all talk to the simulators: the test-mode banner on every page
    await page.getByText('Test mode: sandbox data, no real money moves.').waitFor();
    await axe(page, 'the settings page');
    assert.equal(await shots(page, 'page'), false, 'no sideways scroll at 390 px');
  });

  it('hides Pay Later for SEK in Sweden: both APIs refuse it, the hosted page leaves it out', async () => {
    const page = a.page;
    await hideOrPublish(page, 'klarna_pay_later', 'sek', 'se', true);
    await hideOrPublish(page, 'klarna', 'SEK', 'SE', true); // ECommPay's Pay Later
    assert.equal(await page.locator('#hidden-methods tbody tr[data-hidden]').count(), 2);
    await shots(page, 'hidden');

    // Stripe: create refused, the parameter named
    const c = await stripeError(sekIntent());
    assert.equal(c.statusCode, 400);
    assert.equal(c.code, 'payment_method_not_available');
    assert.equal(c.param, 'payment_method_types');
    assert.match(c.message, /Klarna Pay Later is not offered for payments in SEK/);
    // Stripe: confirming an intent made before is refused too, and it stays as it was
    const f = await stripeError(confirmKlarna(k.stripe, early.id, { type: 'klarna_pay_later', email: 'kund@example.se', country: 'SE' }));
    assert.equal(f.code, 'payment_method_not_available');
    assert.equal(f.param, 'payment_method_data[type]');
    assert.equal((await k.stripe.paymentIntents.retrieve(early.id)).status, 'requires_payment_method');

    // ECommPay Payment Page: Pay Later (Kassa's `klarna`) in SEK from Sweden
    const p = new Payment(k.merchant.ecp_project_id, k.merchant.ecp_secret, {}, k.url);
    Object.assign(p, {
      paymentId: 'SE-1', paymentAmount: 50000, paymentCurrency: 'SEK', customerId: 'c-se',
      customerFirstName: 'Test', customerLastName: 'Person-se', customerEmail: 'kund@example.se',
      customerCountry: 'SE', forcePaymentMethod: 'klarna-pay-later', languageCode: 'en',
    });
    const ep = await fetch(p.getUrl(), { redirect: 'manual' });
    const body = await ep.text();
    assert.equal(ep.status, 400, body);
    assert.match(body, /is not available/);

    // The hosted checkout: the SEK session offers neither Klarna entry any more ...
    assert.deepEqual(await offered(page, earlySession, 'SE'), []);
    // ... while an EUR session from Germany still offers Pay Later
    const eur = await session('eur', ['klarna_pay_later']);
    assert.deepEqual(await offered(page, eur, 'DE'), ['klarna_pay_later']);
    // an API refusal is a change the audit log shows with its before and after
    await page.goto(`${k.url}/dashboard/audit`);
    await page.getByText('settings.method_hide').first().waitFor();
  });

  it('published again, the same payments work', async () => {
    const page = a.page;
    await hideOrPublish(page, 'klarna_pay_later', '', '', false);
    await hideOrPublish(page, 'klarna', '', '', false);
    await page.getByText('No method is hidden.').waitFor();
    const pi = await sekIntent();
    assert.equal(pi.status, 'requires_payment_method');
    const c = await confirmKlarna(k.stripe, early.id, { type: 'klarna_pay_later', email: 'kund@example.se', country: 'SE' });
    assert.equal(c.status, 'requires_action');
    // (the hosted page shows a session's Klarna types as one Klarna entry)
    assert.deepEqual(await offered(page, earlySession, 'SE'), ['klarna']);
  });

  it('saves Klarna credentials sealed: the page shows the last 4, the database no clear text, the connector uses them', async () => {
    const page = a.page;
    const password = 'kl-Secret-pass-7781';
    await page.goto(`${k.url}/dashboard/settings`);
    const form = page.locator('#credentials-klarna');
    await form.getByLabel('API username').fill('shop-se-api');
    await form.getByLabel('API password (empty: unchanged)').fill(password);
    // without the person's password again: refused next to that field, nothing stored
    await form.getByLabel('Your password or a current authentication code').fill('not-my-password');
    await form.getByRole('button', { name: 'Save credentials' }).click();
    await page.locator('#credentials-klarna-reauth-err').waitFor();
    assert.match(await page.locator('#credentials-klarna').textContent(), /Not set/);
    await shots(page, 'credentials-refused');
    const again = page.locator('#credentials-klarna');
    await again.getByLabel('API username').fill('shop-se-api');
    await again.getByLabel('API password (empty: unchanged)').fill(password);
    await again.getByLabel('Your password or a current authentication code').fill(admin.password);
    await again.getByRole('button', { name: 'Save credentials' }).click();
    await page.getByText('Credentials saved.').waitFor();
    assert.equal(await page.locator('#credentials-klarna code.last4').textContent(), '••••7781');
    const html = await page.content();
    assert.ok(!html.includes(password), 'the page never shows the password');
    await shots(page, 'credentials');

    // the SQLite file (and its write-ahead log) holds no clear text of it
    for (const f of [k.dbPath, `${k.dbPath}-wal`]) {
      if (fs.existsSync(f)) assert.ok(!fs.readFileSync(f).includes(Buffer.from(password)), `no clear text in ${path.basename(f)}`);
    }
    // the audit row shows the change without the secret
    const audit = await runCli(['audit', 'verify', '--db', k.dbUrl]);
    assert.equal(audit.code, 0, audit.stdout);

    // the connector uses them: the Klarna simulator sees the new username in Basic auth
    const pi = await k.stripe.paymentIntents.create({ amount: 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'], capture_method: 'manual' });
    await confirmKlarna(k.stripe, pi.id, { type: 'klarna_pay_later', email: 'customer@email.de', country: 'DE' });
    const seen = await (await fetch(`${k.simUrl}/klarna/_sim/auth`)).json();
    assert.equal(seen.last_username, 'shop-se-api');
  });

  it('previews the branding, refuses a bad colour and a low contrast next to the field, then applies it', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/settings`);
    await page.getByLabel('Shop name (empty: the merchant\'s name)').fill('Fjällbutiken');
    await page.getByLabel('Button colour (#rrggbb)').fill('#12345');
    await page.getByLabel('Button text colour (#rrggbb)').fill('#ffffff');
    await page.getByRole('button', { name: 'Save branding' }).click();
    await page.locator('#branding-accent-err').waitFor();
    assert.match(await page.locator('#branding-accent-err').textContent(), /hex colour/);
    assert.equal(await page.getByLabel('Button colour (#rrggbb)').getAttribute('aria-invalid'), 'true');
    await shots(page, 'branding-bad-colour');

    await page.getByLabel('Button colour (#rrggbb)').fill('#ffff00');
    await page.getByRole('button', { name: 'Save branding' }).click();
    await page.locator('#branding-accent_text-err').waitFor();
    assert.match(await page.locator('#branding-accent_text-err').textContent(), /1\.07:1.*WCAG AA needs at least 4\.5:1/);
    await axe(page, 'the settings page with a refusal');
    await shots(page, 'branding-low-contrast');

    await page.getByLabel('Button colour (#rrggbb)').fill('#1d4ed8');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.locator('#preview-pay').waitFor();
    assert.equal(await page.locator('#preview-name').textContent(), 'Fjällbutiken');
    const look = await page.locator('#preview-pay').evaluate((el) => {
      const s = getComputedStyle(el);
      return [s.backgroundColor, s.color];
    });
    assert.deepEqual(look, ['rgb(29, 78, 216)', 'rgb(255, 255, 255)']);
    await axe(page, 'the branding preview');
    await shots(page, 'preview');

    await page.goto(`${k.url}/dashboard/settings`);
    await page.getByLabel('Shop name (empty: the merchant\'s name)').fill('Fjällbutiken');
    await page.getByLabel('Button colour (#rrggbb)').fill('#1d4ed8');
    await page.getByLabel('Button text colour (#rrggbb)').fill('#ffffff');
    await page.getByRole('button', { name: 'Save branding' }).click();
    await page.getByText('Branding saved.').waitFor();
    // the real hosted page shows the name and the colours
    const s = await session('eur', ['klarna_pay_later']);
    await page.goto(s.url);
    await page.locator('.merchant-name').waitFor();
    assert.equal(await page.locator('.merchant-name').textContent(), 'Fjällbutiken');
    const bg = await page.locator('button.btn').first().evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(bg, 'rgb(29, 78, 216)');
  });

  it('a 7-day authorisation period applies to a new Pay Later authorisation', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/settings`);
    await page.getByLabel(/Klarna authorisation period in days/).fill('200');
    await page.getByRole('button', { name: 'Save expiry periods' }).click();
    await page.locator('#expiry-auth_days-err').waitFor();
    assert.match(await page.locator('#expiry-auth_days-err').textContent(), /1 to 180 days/);
    await page.getByLabel(/Klarna authorisation period in days/).fill('7');
    await page.getByRole('button', { name: 'Save expiry periods' }).click();
    await page.getByText('Expiry periods saved.').waitFor();
    assert.equal(await page.getByLabel(/Klarna authorisation period in days/).inputValue(), '7');

    const pi = await k.stripe.paymentIntents.create({ amount: 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'], capture_method: 'manual' });
    const c = await confirmKlarna(k.stripe, pi.id, { type: 'klarna_pay_later', email: 'customer@email.de', country: 'DE' });
    const res = await payKlarna(k.stripe, c, k.simUrl, { kassaUrl: k.url, category: 'pay_later' });
    assert.equal(res.intent.status, 'requires_capture');
    const got = await k.stripe.paymentIntents.retrieve(pi.id);
    const days = (got.kassa.authorization_expires_at - got.created) / 86400;
    assert.ok(days > 6.9 && days <= 7.01, `authorisation runs ${days} days, not Klarna's 28`);
  });

  it('a read-only user sees the settings without secrets and may not change them (403)', async () => {
    ro = await browser();
    const page = ro.page;
    await signIn(page, k.url, viewer, { first: true });
    await page.goto(`${k.url}/dashboard/settings`);
    await page.getByText('only an admin may change them').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save credentials' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Hide', exact: true }).count(), 0);
    const text = await page.locator('main').textContent();
    assert.ok(!text.includes('7781') && !text.includes('shop-se-api'), 'no credentials shown to read-only');
    await axe(page, 'the settings page as read-only');
    await shots(page, 'read-only');
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const res = await page.request.post(`${k.url}/dashboard/settings/methods`, {
      form: { csrf, action: 'hide', method: 'klarna_pay_later', currency: 'EUR', country: 'DE' },
      headers: { Origin: k.url },
    });
    assert.equal(res.status(), 403);
    const eur = await session('eur', ['klarna_pay_later']);
    assert.equal(eur.payment_method_types[0], 'klarna_pay_later', 'nothing was hidden');
  });
});
