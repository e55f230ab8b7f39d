// The back office's staff page, refunds by order lines, the indexed list filters and the
// session renewed after the code step, in Debian's Chromium through playwright-core against
// the real binary: the session cookie after the TOTP step differs from the password step's,
// which no longer works; an admin adds a person (password and otpauth:// URI shown once),
// changes a role and a refund limit, disables and enables an account, and cannot remove the
// last admin; a captured Pay Later payment is refunded by lines (the gateway computes the
// amount, the Klarna simulator receives the lines and agrees); the list finds payments by
// metadata key:value, by the Alipay+ wallet and by dialect. Screenshots at 1280x800 and
// 390x844 in tests/e2e/artifacts/ (backoffice-staff-*.png); axe-core finds no serious or
// critical violation.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { ARTIFACTS, nextCode, browser, screenshots, axe } = require('./staff_browser');
const { startKassa, runCli, waitUntil } = require('./harness');
const { payKlarna, confirmKlarna, sim } = require('./klarna');


const LINES = [
  { name: 'Wanderschuh', quantity: 2, unit_price: 4000, tax_rate: 1900, total_amount: 8000, type: 'physical', reference: 'SKU-1' },
  { name: 'Socken', quantity: 1, unit_price: 1500, tax_rate: 1900, total_amount: 1500, type: 'physical', reference: 'SKU-2' },
  { name: 'Versand', quantity: 1, unit_price: 500, tax_rate: 1900, total_amount: 500, type: 'shipping_fee', reference: 'SHIP' },
];

const { shots } = screenshots('backoffice-staff');

async function cookie(page, name) {
  const c = (await page.context().cookies()).find((x) => x.name === name);
  return c ? c.value : null;
}

describe('back office: staff page, refunds by lines, filters, session renewal', () => {
  let k;
  let stripe;
  let admin;
  let a; // the admin's browser
  let ops; // the person the admin adds

  const user = async (email, role) => {
    const r = await runCli(['user', 'create', '--email', email, '--role', role, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  async function authorised(extra = {}) {
    const pi = await stripe.paymentIntents.create({
      amount: 10000, currency: 'eur', payment_method_types: ['klarna_pay_later'],
      capture_method: 'manual', order_lines: LINES, ...extra,
    });
    const c = await confirmKlarna(stripe, pi.id, { type: 'klarna_pay_later', email: 'customer@email.de', country: 'DE' });
    const res = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, category: 'pay_later' });
    assert.equal(res.intent.status, 'requires_capture');
    return res.intent;
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    k = await startKassa({ name: 'backoffice-staff' });
    stripe = k.stripe;
    admin = await user('boss@shop.test', 'admin');
  });
  after(async () => {
    if (a) await a.close();
    if (k) await k.stop();
  });

  it('renews the session token after the code step: the password step\'s token no longer works', async () => {
    a = await browser();
    const page = a.page;
    await page.goto(`${k.url}/dashboard/signin`);
    await page.getByLabel('E-mail address').fill(admin.email);
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Code').waitFor();
    const pending = await cookie(page, 'kassa_pending');
    assert.match(pending, /^[0-9a-f]{64}$/);
    await page.getByLabel('Code').fill(nextCode(admin));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    const full = await cookie(page, 'kassa_staff');
    assert.match(full, /^[0-9a-f]{64}$/);
    assert.notEqual(full, pending, 'a new token after the second step');
    // the old token presented as the session cookie: not signed in
    const old = await fetch(`${k.url}/dashboard/payments`, { headers: { Cookie: `kassa_staff=${pending}` }, redirect: 'manual' });
    assert.equal(old.status, 303);
    assert.match(old.headers.get('location'), /\/dashboard\/signin$/);
    const now = await fetch(`${k.url}/dashboard/payments`, { headers: { Cookie: `kassa_staff=${full}` }, redirect: 'manual' });
    assert.equal(now.status, 200);
  });

  it('the staff page: add a person (secrets shown once), change role and limit, disable, enable; the last admin stays', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/staff`);
    await page.getByRole('heading', { name: 'Staff', exact: true }).waitFor();
    await page.getByLabel('E-mail address', { exact: true }).fill('ops@shop.test');
    await page.locator('#new-role').selectOption('operations');
    await page.locator('#new-reason').fill('new hire');
    await page.getByRole('button', { name: 'Add the person' }).click();
    await page.getByText('The person was added.').waitFor();
    const password = await page.locator('#shown-password').textContent();
    const uri = await page.locator('#shown-uri').textContent();
    assert.ok(password.length >= 20);
    assert.match(uri, /^otpauth:\/\/totp\/Kassa:ops@shop\.test\?secret=[A-Z2-7]{32}&issuer=Kassa/);
    ops = { email: 'ops@shop.test', password, totp_secret: uri.match(/secret=([A-Z2-7]+)/)[1] };
    assert.equal(await shots(page, 'added'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the staff page with the secrets shown');
    await page.goto(`${k.url}/dashboard/staff`);
    assert.equal(await page.locator('#shown-password').count(), 0, 'shown only once');

    // role and refund limit
    const row = () => page.locator('tr', { has: page.locator('th', { hasText: 'ops@shop.test' }) });
    await row().locator('select[name=role]').selectOption('finance');
    await row().locator('input[name=refund_limit]').fill('50.00');
    await row().locator('input[name=reason]').fill('moved to finance');
    await row().getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal(await row().locator('select[name=role]').inputValue(), 'finance');
    assert.equal(await row().locator('input[name=refund_limit]').inputValue(), '50.00');
    // a bad limit: named, nothing changed
    await row().locator('input[name=refund_limit]').fill('fifty');
    await row().getByRole('button', { name: 'Save' }).click();
    await page.getByText('Give the refund limit as an amount such as 250.00, or leave it empty.').waitFor();
    await page.goto(`${k.url}/dashboard/staff`);
    assert.equal(await row().locator('input[name=refund_limit]').inputValue(), '50.00');

    // disabled: the password signs in no more; enabled again
    await row().getByRole('button', { name: /^Disable/ }).click();
    await page.getByText('The account is disabled and its sessions ended.').waitFor();
    assert.equal(await row().getAttribute('data-state'), 'disabled');
    const other = await browser();
    try {
      await other.page.goto(`${k.url}/dashboard/signin`);
      await other.page.getByLabel('E-mail address').fill(ops.email);
      await other.page.getByLabel('Password').fill(ops.password);
      await other.page.getByRole('button', { name: 'Continue' }).click();
      await other.page.getByText('The e-mail address or the password is not right.').waitFor();
      await page.goto(`${k.url}/dashboard/staff`);
      await row().getByRole('button', { name: /^Enable/ }).click();
      await page.getByText('The account is enabled again.').waitFor();
      await other.page.getByLabel('Password').fill(ops.password);
      await other.page.getByRole('button', { name: 'Continue' }).click();
      await other.page.getByLabel('Code').fill(nextCode(ops));
      await other.page.getByRole('button', { name: 'Sign in' }).click();
      await other.page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
      // finance has no staff page
      const res = await other.page.goto(`${k.url}/dashboard/staff`);
      assert.equal(res.status(), 403);
    } finally {
      await other.close();
    }

    // the last admin cannot step down
    await page.goto(`${k.url}/dashboard/staff`);
    const me = page.locator('tr', { has: page.locator('th', { hasText: 'boss@shop.test' }) });
    await me.locator('select[name=role]').selectOption('read_only');
    await me.getByRole('button', { name: 'Save' }).click();
    await page.getByText('This is the last admin: make another person admin first.').waitFor();
    await page.goto(`${k.url}/dashboard/staff`);
    assert.equal(await me.locator('select[name=role]').inputValue(), 'admin');
    assert.equal(await shots(page, 'list'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the staff page');

    // every change is in the audit log, and the chain holds
    await page.goto(`${k.url}/dashboard/audit`);
    for (const what of ['staff.create', 'staff.change']) await page.getByText(what).first().waitFor();
    const v = await runCli(['audit', 'verify', '--db', k.dbUrl]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  it('refunds by order lines: the gateway computes the amount, Klarna receives the lines and agrees', async () => {
    const page = a.page;
    const pi = await authorised();
    await stripe.paymentIntents.capture(pi.id);
    await page.goto(`${k.url}/dashboard/payments/${pi.id}`);
    const form = page.locator('#act-refund_lines');
    await form.getByLabel(/Wanderschuh/).fill('1');
    await form.getByLabel(/Socken/).fill('1');
    await form.getByLabel('Reason (kept in the audit log)').fill('one shoe and the socks came back');
    await form.getByLabel('I confirm this action').check();
    assert.equal(await shots(page, 'refund-lines'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the payment page with the refund by lines');
    await form.getByRole('button', { name: 'Refund order lines' }).click();
    await page.getByText('Refund order lines: done').waitFor();
    const refunds = await waitUntil(async () => {
      const list = await stripe.refunds.list({ payment_intent: pi.id });
      return list.data.length > 0 && list.data[0].status === 'succeeded' ? list.data : null;
    }, { what: 'the refund' });
    assert.equal(refunds[0].amount, 4000 + 1500, 'one of two shoes and the socks');
    const order = await sim(k.simUrl, 'GET', `orders/${pi.kassa.provider_order}`);
    const sent = (order.json || order).refunds;
    assert.equal(sent.length, 1);
    assert.equal(sent[0].refunded_amount, 5500);
    assert.deepEqual(sent[0].order_lines.map((l) => [l.reference, l.quantity, l.total_amount]),
      [['SKU-1', 1, 4000], ['SKU-2', 1, 1500]]);
    // the socks are refunded: that line has nothing left; asking again is refused by the gateway
    await page.goto(`${k.url}/dashboard/payments/${pi.id}`);
    assert.equal(await page.locator('#rqty-1').isDisabled(), true);
    const f2 = page.locator('#act-refund_lines');
    // past the field's max (the browser would stop it): the gateway refuses on its own
    await f2.locator('#rqty-0').evaluate((i) => i.removeAttribute('max'));
    await f2.getByLabel(/Wanderschuh/).fill('2');
    await f2.getByLabel('I confirm this action').check();
    await f2.getByRole('button', { name: 'Refund order lines' }).click();
    await page.locator('#err-refund_lines').getByText('1 of this line can still be refunded').waitFor();
    assert.equal((await stripe.refunds.list({ payment_intent: pi.id })).data.length, 1, 'nothing more refunded');
    // audited with the refund it made, in the same transaction as the refund
    await page.goto(`${k.url}/dashboard/audit?object=${pi.id}`);
    await page.getByText('payment.refund_lines').first().waitFor();
  });

  it('the list finds payments by metadata key:value, by Alipay+ wallet and by dialect', async () => {
    const page = a.page;
    const tagged = await stripe.paymentIntents.create({
      amount: 1234, currency: 'eur', payment_method_types: ['klarna'], metadata: { order_id: 'M-77' },
    });
    await stripe.paymentIntents.create({
      amount: 1235, currency: 'eur', payment_method_types: ['klarna'], metadata: { order_id: 'M-78' },
    });
    // an Alipay+ payment paid with GCash
    const ap = await stripe.paymentIntents.create({ amount: 1000, currency: 'eur', payment_method_types: ['alipay'] });
    const c = await stripe.paymentIntents.confirm(ap.id, {
      payment_method_data: { type: 'alipay' }, return_url: `${k.url}/healthz`,
    });
    const attempt = c.next_action.redirect_to_url.url.split('/').pop();
    const sp = await (await fetch(`${k.simUrl}/alipay/_sim/payments/${attempt}`)).json();
    const pin = await fetch(`${k.simUrl}/alipay/wallet/GCASH/pay/${sp.paymentId}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'pin=123456', redirect: 'manual',
    });
    assert.ok(pin.status < 400);
    await waitUntil(async () => ((await stripe.paymentIntents.retrieve(ap.id)).status === 'succeeded' ? true : null),
      { what: 'the Alipay+ payment' });

    const ids = async (query) => {
      await page.goto(`${k.url}/dashboard/payments?${query}`);
      return page.locator('tbody#rows tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
    };
    assert.deepEqual(await ids('meta=order_id%3AM-77'), [tagged.id]);
    assert.deepEqual(await ids('wallet=gcash'), [ap.id]);
    assert.deepEqual(await ids('wallet=ALIPAY_CN'), []);
    assert.ok((await ids('channel=stripe')).includes(tagged.id));
    assert.deepEqual(await ids('channel=ecommpay'), []);
    // from the form, as a person uses it
    await page.goto(`${k.url}/dashboard/payments`);
    await page.locator('details.more summary').click();
    await page.getByLabel('Metadata (key:value)').fill('order_id:M-78');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/meta=/);
    assert.equal(await page.locator('tbody#rows tr[data-id]').count(), 1);
    // a malformed metadata filter is named next to its field
    await page.goto(`${k.url}/dashboard/payments?meta=order_id`);
    await page.getByText('Give the metadata as key:value.').waitFor();
    assert.equal(await page.getByLabel('Metadata (key:value)').getAttribute('aria-invalid'), 'true');
    assert.equal(await shots(page, 'filters'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the payments list with a bad filter');
  });
});
