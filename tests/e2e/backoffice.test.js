// The staff back office (/dashboard) in Debian's Chromium through playwright-core, against the
// real binary: staff users from the CLI (`kassa user create`), sign-in with password and a
// TOTP code computed here (RFC 6238), recovery codes shown once; a payment created through
// the Stripe API appears live in an open list (a "N new" banner, no reload) and search finds
// it by its id and by its Klarna order id; on a Pay Later payment: capture by shipped lines
// (the shipping fee comes with it), a partial refund, extend the authorisation (new date and
// the 180-day ceiling shown), and another payment canceled; a second browser sees each action
// live; a read-only user sees no action buttons and is refused when posting one anyway; a
// cross-site form POST is refused and changes nothing; `kassa audit verify` passes, then fails
// once a row is edited in the database. Screenshots at 1280x800 and 390x844 in
// tests/e2e/artifacts/ (backoffice-*.png); axe-core finds no serious or critical violation.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const { startKassa, startReceiver, runCli, waitUntil } = require('./harness');
const { payKlarna, confirmKlarna } = require('./klarna');

const { ARTIFACTS, totp, nextCode, browser, screenshots, axe, signIn } = require('./staff_browser');

const { shot, shots } = screenshots('backoffice');

const LINES = [
  { name: 'Wanderschuh', quantity: 2, unit_price: 4000, tax_rate: 1900, total_amount: 8000, type: 'physical', reference: 'SKU-1' },
  { name: 'Socken', quantity: 1, unit_price: 1500, tax_rate: 1900, total_amount: 1500, type: 'physical', reference: 'SKU-2' },
  { name: 'Versand', quantity: 1, unit_price: 500, tax_rate: 1900, total_amount: 500, type: 'shipping_fee', reference: 'SHIP' },
];

describe('back office', () => {
  let k;
  let stripe;
  let admin;
  let viewer;
  let a; // the admin's browser
  let b; // the admin's second browser
  let ro; // the read-only user's browser
  let later; // an authorised Pay Later payment with order lines
  let other; // another authorised payment (to extend and to cancel)

  const user = async (email, role) => {
    const r = await runCli(['user', 'create', '--email', email, '--role', role, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  async function authorised(lines) {
    const pi = await stripe.paymentIntents.create({
      amount: lines ? 10000 : 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'],
      capture_method: 'manual', ...(lines ? { order_lines: lines } : {}),
    });
    const c = await confirmKlarna(stripe, pi.id, { type: 'klarna_pay_later', email: 'customer@email.de', country: 'DE' });
    const res = await payKlarna(stripe, c, k.simUrl, { kassaUrl: k.url, category: 'pay_later' });
    assert.equal(res.intent.status, 'requires_capture');
    return res.intent;
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    k = await startKassa({ name: 'backoffice' });
    stripe = k.stripe;
    admin = await user('Admin@Shop.test', 'admin');
    viewer = await user('viewer@shop.test', 'read_only');
    admin.email = 'admin@shop.test';
    viewer.email = 'viewer@shop.test';
  });
  after(async () => {
    for (const br of [a, b, ro]) if (br) await br.close();
    if (k) await k.stop();
  });

  it('kassa user create prints the id, a password and an otpauth:// URI once, and refuses bad input', async () => {
    assert.match(admin.id, /^stf_/);
    assert.ok(admin.password.length >= 20);
    assert.match(admin.totp_uri, /^otpauth:\/\/totp\/Kassa:admin@shop\.test\?secret=[A-Z2-7]{32}&issuer=Kassa/);
    const bad = await runCli(['user', 'create', '--email', 'x@shop.test', '--role', 'boss', '--db', k.dbUrl]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--role/);
    const dup = await runCli(['user', 'create', '--email', 'ADMIN@shop.test', '--role', 'admin', '--db', k.dbUrl]);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /exists already/);
  });

  it('signs in with password and TOTP code; recovery codes shown once; wrong codes are refused', async () => {
    a = await browser();
    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments`);
    await page.getByRole('heading', { name: 'Sign in to the back office' }).waitFor();
    assert.equal(await shots(page, 'signin'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the sign-in page');
    // a wrong password: the message names no field in particular and nothing is signed in
    await page.getByLabel('E-mail address').fill(admin.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('The e-mail address or the password is not right.').waitFor();
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Code').fill('000000' === totp(admin.totp_secret, Math.floor(Date.now() / 30000)) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That code is not right').waitFor();
    await shot(page, 'code-refused');
    await page.getByLabel('Code').fill(nextCode(admin));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    const codes = await page.locator('ul.codes code').allTextContents();
    assert.equal(codes.length, 8);
    await shot(page, 'recovery-codes');
    await page.getByRole('link', { name: 'Continue to the payments' }).click();
    await page.getByRole('heading', { name: 'Payments', exact: true }).waitFor();
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === 'kassa_staff');
    assert.ok(c && c.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(c.sameSite, 'Strict');
    const res = await page.request.get(`${k.url}/dashboard/payments`);
    const csps = res.headersArray().filter((h) => h.name.toLowerCase() === 'content-security-policy');
    assert.ok(csps.some((h) => /script-src 'self';/.test(h.value) && !/unsafe-inline/.test(h.value) &&
      /frame-ancestors 'none'/.test(h.value)), 'a CSP without unsafe-inline (browsers enforce every CSP sent)');
    await assert.rejects(page.addScriptTag({ content: 'window.__inline = 1' }), /Content Security Policy/,
      'an inline script is refused');
    assert.equal(res.headers()['x-content-type-options'], 'nosniff');
    assert.ok(res.headers()['referrer-policy']);
  });

  it('a payment created through the Stripe API appears live in the open list, without a reload', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments`);
    await page.evaluate(() => { window.__noReload = 42; });
    await page.waitForTimeout(500); // the live stream is open
    later = await authorised(LINES);
    const banner = page.locator('#new-show');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.textContent(), /new payments: show them/);
    await banner.click();
    await page.locator(`tr[data-id="${later.id}"]`).waitFor();
    assert.equal(await page.evaluate(() => window.__noReload), 42, 'the page was not reloaded');
    assert.match(await page.locator(`tr[data-id="${later.id}"]`).textContent(), /Authorised/);
    assert.equal(await shots(page, 'list'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the payments list');
  });

  it('search finds the payment by its id and by its Klarna order id; a bad filter is named', async () => {
    const page = a.page;
    other = await authorised(null);
    for (const q of [later.id, later.kassa.provider_order]) {
      await page.goto(`${k.url}/dashboard/payments`);
      await page.getByLabel('Search by any id').fill(q);
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/q=/);
      const ids = await page.locator('tbody#rows tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
      assert.deepEqual(ids, [later.id], `search for ${q}`);
    }
    await page.goto(`${k.url}/dashboard/payments?currency=EURO`);
    await page.getByText('Give a currency code such as EUR.').waitFor();
    assert.equal(await page.getByLabel('Currency').getAttribute('aria-invalid'), 'true');
    await page.goto(`${k.url}/dashboard/payments?status=requires_capture&currency=eur`);
    const totals = await page.locator('.totals').textContent();
    assert.match(totals, /142[.,]00/, 'totals per currency: 100.00 + 42.00 EUR');
  });

  it('captures the shipped lines (with the shipping fee), refunds part; a second browser sees both live', async () => {
    b = await browser();
    await signIn(b.page, k.url, admin);
    await b.page.goto(`${k.url}/dashboard/payments/${later.id}`);
    await b.page.waitForTimeout(500);

    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments/${later.id}`);
    assert.equal(await shots(page, 'payment'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the payment page');
    const form = page.locator('#act-capture_lines');
    await form.getByText('The whole shipping fee is captured with the first capture.').waitFor();
    // unconfirmed: refused next to the form, nothing captured
    await form.getByLabel(/Wanderschuh/).check();
    await form.evaluate((f) => f.querySelector('input[name=confirm]').removeAttribute('required'));
    await form.getByRole('button', { name: 'Capture the shipped lines' }).click();
    await page.locator('#err-capture_lines').getByText('Tick the box to confirm.').waitFor();
    assert.equal((await stripe.paymentIntents.retrieve(later.id)).amount_received, 0);

    const f2 = page.locator('#act-capture_lines');
    await f2.getByLabel(/Wanderschuh/).check();
    await f2.getByLabel('Reason (kept in the audit log)').fill('parcel 1 shipped');
    await f2.getByLabel('I confirm this action').check();
    await f2.getByRole('button', { name: 'Capture the shipped lines' }).click();
    await page.getByText('Capture the shipped lines: done').waitFor();
    const pi = await stripe.paymentIntents.retrieve(later.id);
    assert.equal(pi.amount_received, 8500, 'Wanderschuh 80.00 + the whole shipping fee 5.00');
    assert.equal(pi.status, 'requires_capture', 'Socken still to ship: partially captured');
    // the second browser, untouched, shows the capture from the live stream
    await b.page.locator('#summary').getByText(/85[.,]00/).waitFor();
    await b.page.locator('#timeline').getByText(/admin@shop\.test: payment\.capture_lines/).waitFor();
    await shot(b.page, 'second-browser-live');

    const refund = page.locator('#act-refund');
    await refund.getByLabel('Amount (empty: everything refundable)').fill('10.00');
    await refund.getByLabel('I confirm this action').check();
    await refund.getByRole('button', { name: 'Refund' }).click();
    await page.getByText('Refund: done').waitFor();
    const refunds = await waitUntil(async () => {
      const list = await stripe.refunds.list({ payment_intent: later.id });
      return list.data.length > 0 ? list.data : null;
    }, { what: 'the refund' });
    assert.equal(refunds.length, 1);
    assert.equal(refunds[0].amount, 1000);
    await b.page.locator('#timeline').getByText(/payment\.refund/).waitFor();

    // the same form sent twice (back button, double click): done once, the second says so
    const form3 = page.locator('#act-refund');
    const fields = {
      csrf: await form3.locator('input[name=csrf]').getAttribute('value'),
      idem: await form3.locator('input[name=idem]').getAttribute('value'),
      amount: '5.00', confirm: 'yes',
    };
    const urls = await page.evaluate(async ({ id, body }) => {
      const out = [];
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`/dashboard/payments/${id}/refund`, {
          method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(body),
        });
        out.push(r.url);
      }
      return out;
    }, { id: later.id, body: fields });
    assert.doesNotMatch(urls[0], /replayed/);
    assert.match(urls[1], /replayed=1/);
    const all = await waitUntil(async () => {
      const list = await stripe.refunds.list({ payment_intent: later.id });
      return list.data.length >= 2 ? list.data : null;
    }, { what: 'the second refund' });
    assert.deepEqual(all.map((r) => r.amount).sort((x, y) => x - y), [500, 1000], 'the repeated form refunded once');
  });

  it('edits the order lines (a smaller order accepted, a much larger one refused), resends and syncs', async () => {
    const page = a.page;
    const edited = await authorised(LINES);
    await page.goto(`${k.url}/dashboard/payments/${edited.id}`);
    let form = page.locator('#act-edit_lines');
    await form.getByLabel('Socken').fill('0'); // the socks are out of stock
    await form.getByLabel('I confirm this action').check();
    await form.getByRole('button', { name: 'Change the order lines' }).click();
    await page.getByText('Change the order lines: done').waitFor();
    let pi = await stripe.paymentIntents.retrieve(edited.id);
    assert.equal(pi.amount, 8500, 'the new total is the sum of the lines');
    assert.deepEqual(pi.kassa.order_lines.map((l) => l.name), ['Wanderschuh', 'Versand']);

    form = page.locator('#act-edit_lines');
    await form.getByLabel('Item').fill('Zelt');
    await form.getByLabel('Unit price').fill('500.00');
    await form.getByLabel('I confirm this action').check();
    await form.getByRole('button', { name: 'Change the order lines' }).click();
    const refusal = page.locator('#err-edit_lines');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /.+/, 'the provider\'s decision is shown next to the form');
    pi = await stripe.paymentIntents.retrieve(edited.id);
    assert.equal(pi.amount, 8500, 'a refused increase changes nothing');
    await shot(page, 'edit-refused');

    // resend needs a capture (Klarna sends the invoice then); sync any time
    const cap = page.locator('#act-capture');
    await cap.getByLabel('I confirm this action').check();
    await cap.getByRole('button', { name: 'Capture in full' }).click();
    await page.getByText('Capture in full: done').waitFor();
    const resend = page.locator('#act-resend');
    await resend.getByLabel('I confirm this action').check();
    await resend.getByRole('button', { name: 'Resend payment instructions' }).click();
    await page.getByText('Resend payment instructions: done').waitFor();
    const sync = page.locator('#act-sync');
    await sync.getByLabel('I confirm this action').check();
    await sync.getByRole('button', { name: 'Check status with the provider' }).click();
    await page.getByText('Check status with the provider: done').waitFor();
    assert.equal((await stripe.paymentIntents.retrieve(edited.id)).status, 'succeeded');
    const tl = await page.locator('#timeline').textContent();
    for (const action of ['payment.edit_lines', 'payment.capture', 'payment.resend', 'payment.sync']) {
      assert.ok(tl.includes(action), `the timeline shows ${action}`);
    }
  });

  it('extends an authorisation (new date and the 180-day ceiling shown) and cancels another', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments/${other.id}`);
    const ext = page.locator('#act-extend');
    await ext.getByText('New expiry:').waitFor();
    await ext.getByText('180 days after the payment was created').waitFor();
    const before = (await stripe.paymentIntents.retrieve(other.id)).kassa.authorization_expires_at;
    await ext.getByLabel('I confirm this action').check();
    await ext.getByRole('button', { name: 'Extend the authorisation' }).click();
    await page.getByText('Extend the authorisation: done').waitFor();
    const afterExt = (await stripe.paymentIntents.retrieve(other.id)).kassa.authorization_expires_at;
    assert.ok(afterExt >= before, 'the expiry did not move back');

    const cancel = page.locator('#act-cancel');
    await cancel.getByLabel('I confirm this action').check();
    await cancel.getByRole('button', { name: 'Cancel the reservation' }).click();
    await page.getByText('Cancel the reservation: done').waitFor();
    assert.equal((await stripe.paymentIntents.retrieve(other.id)).status, 'canceled');
    await page.locator('#summary').getByText('Canceled').waitFor();
    assert.equal(await page.locator('#actions form.action:not(#act-sync)').count(), 0,
      'nothing but a status check left on a canceled payment');
    await shot(page, 'canceled');
  });

  it('a read-only user sees no action buttons and is refused when posting one', async () => {
    ro = await browser();
    const page = ro.page;
    await signIn(page, k.url, viewer, { first: true });
    await page.goto(`${k.url}/dashboard/payments/${later.id}`);
    await page.getByText('Your role may look but not act.').waitFor();
    assert.equal(await page.locator('#actions form.action').count(), 0);
    assert.equal(await page.locator('#summary').getByText('customer@email.de').count(), 0, 'no customer e-mail in full');
    await shot(page, 'read-only');
    const csrf = await page.locator('input[name=csrf]').first().getAttribute('value');
    const status = await page.evaluate(async ({ id, token }) => {
      const r = await fetch(`/dashboard/payments/${id}/capture`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: token, idem: '0123456789abcdef0123456789abcdef', confirm: 'yes' }),
      });
      return r.status;
    }, { id: later.id, token: csrf });
    assert.equal(status, 403);
    assert.equal((await stripe.paymentIntents.retrieve(later.id)).amount_received, 8500, 'nothing captured');
    // a stale CSRF token is refused too (even for an admin)
    const stale = await a.page.evaluate(async (id) => {
      const r = await fetch(`/dashboard/payments/${id}/capture`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: 'f'.repeat(64), idem: '0123456789abcdef0123456789abcdef', confirm: 'yes' }),
      });
      return r.status;
    }, later.id);
    assert.equal(stale, 403);
  });

  it('a cross-site form POST is refused and changes nothing', async () => {
    const evil = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><form method="post" action="${k.url}/dashboard/payments/${later.id}/capture">
        <input type="hidden" name="confirm" value="yes"><button>win a prize</button></form>`);
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const page = a.page;
      await page.goto(`http://localhost:${evil.address().port}/`);
      await page.getByRole('button', { name: 'win a prize' }).click();
      await page.getByText('This form was sent from another site. Nothing was changed.').waitFor();
      assert.equal((await stripe.paymentIntents.retrieve(later.id)).amount_received, 8500);
    } finally {
      evil.close();
    }
  });

  it('the audit log lists the actions; kassa audit verify passes, then fails after a row is edited', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/audit?object=${later.id}`);
    await page.getByText('The chain is intact').waitFor();
    await page.getByRole('cell', { name: 'payment.capture_lines' }).first().waitFor();
    await page.getByRole('cell', { name: 'parcel 1 shipped' }).waitFor();
    assert.equal(await shots(page, 'audit'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the audit log');

    const ok = await runCli(['audit', 'verify', '--db', k.dbUrl]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const good = JSON.parse(ok.stdout);
    assert.equal(good.ok, true);
    assert.ok(good.rows_checked >= 8, `rows: ${good.rows_checked}`);

    const sql = "UPDATE audit_log SET reason = 'nothing shipped' WHERE reason = 'parcel 1 shipped'";
    if (k.dbUrl.includes('://')) execFileSync('psql', [k.dbUrl, '-c', sql]);
    else execFileSync('sqlite3', [k.dbPath, sql]);
    const bad = await runCli(['audit', 'verify', '--db', k.dbUrl]);
    assert.equal(bad.code, 1);
    const broken = JSON.parse(bad.stdout);
    assert.equal(broken.ok, false);
    assert.match(broken.why, /changed after it was written/);
    await page.reload();
    await page.getByText('The chain is broken:').waitFor();
  });

  it('developers add a webhook endpoint (secret shown once) and replay a failed delivery', async () => {
    const rx = await startReceiver({ refuseFirst: 1000 });
    try {
      const page = a.page;
      await page.goto(`${k.url}/dashboard/developers`);
      await page.getByLabel('URL', { exact: true }).fill(rx.url);
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByText('it is shown only once').waitFor();
      const secret = await page.locator('[role=alert] code').textContent();
      assert.match(secret, /^whsec_/);
      await page.goto(`${k.url}/dashboard/developers`);
      assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown again');
      const pi = await stripe.paymentIntents.create({ amount: 700, currency: 'eur', payment_method_types: ['klarna'] });
      await rx.waitFor((r) => r.requests.some((q) => q.body.includes(pi.id)), 15000, 'a refused delivery');
      assert.equal(rx.accepted().length, 0);
      rx.refuseFirst = 0;
      await page.goto(`${k.url}/dashboard/developers`);
      await page.locator('tr[data-delivered="no"]').first().waitFor();
      await shots(page, 'developers');
      await axe(page, 'the developers page');
      await page.getByRole('button', { name: 'Replay every event below that was not delivered' }).click();
      await page.getByText('Undelivered events sent again.').waitFor();
      await rx.waitFor((r) => r.events().some((e) => e.data.object.id === pi.id), 15000, 'the replayed delivery');
      // a read-only person has no developers' page
      const res = await ro.page.goto(`${k.url}/dashboard/developers`);
      assert.equal(res.status(), 403);
      // disable the endpoint: nothing more is sent to it
      await page.goto(`${k.url}/dashboard/developers`);
      await page.getByRole('button', { name: 'Disable' }).click();
      await page.getByText('Endpoint changed.').waitFor();
      await page.getByRole('cell', { name: 'disabled' }).waitFor();
    } finally {
      await rx.close();
    }
  });

  it('saves a named view of the filters, and opens it again', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments?status=requires_capture&currency=eur&lang=en`);
    await page.getByLabel('Name for these filters').fill('To capture (EUR)');
    await page.getByRole('button', { name: 'Save view' }).click();
    await page.goto(`${k.url}/dashboard/payments`);
    await page.getByRole('link', { name: 'To capture (EUR)' }).click();
    await page.waitForURL(/status=requires_capture/);
    const statuses = await page.locator('tbody#rows [data-col=status]').allTextContents();
    assert.ok(statuses.length > 0 && statuses.every((t) => t.includes('Authorised')), statuses.join());
  });

  // --sandbox keeps its keys in a file beside the database, so it runs on SQLite only.
  it('kassa serve --sandbox prints a sandbox admin that can sign in', {
    skip: process.env.KASSA_E2E_PG_URL ? 'the sandbox needs a database file (SQLite)' : false,
  }, async () => {
    const sb = await startKassa({ name: 'backoffice-sandbox', args: ['--sandbox'], merchant: false });
    try {
      const banner = await waitUntil(async () => {
        const text = fs.readFileSync(sb.logPath, 'utf8');
        return /TOTP secret [A-Z2-7]{32}/.test(text) ? text : null;
      }, { what: 'the sandbox banner' });
      const email = /e-mail ([^,\s]+), password (\S+)/.exec(banner);
      const secret = /TOTP secret ([A-Z2-7]{32})/.exec(banner)[1];
      assert.ok(email, 'the banner names the admin');
      const sandboxAdmin = { email: email[1], password: email[2], totp_secret: secret };
      const br = await browser();
      try {
        await signIn(br.page, sb.url, sandboxAdmin, { first: true });
        await br.page.getByText('Test mode: sandbox data, no real money moves.').waitFor();
      } finally {
        await br.close();
      }
    } finally {
      await sb.stop();
    }
  });

  it('speaks German when asked, dates and amounts included', async () => {
    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments/${later.id}?lang=de`);
    await page.getByRole('heading', { name: 'Aktionen' }).waitFor();
    await page.locator('#summary').getByText(/85,00\s€/).waitFor();
    await shot(page, 'payment-de');
    await page.goto(`${k.url}/dashboard/payments?lang=en`);
  });

  it('after 23 days the authorisation is in the "expiring soon" queue (and old sessions have ended)', async () => {
    // Last: the test clock moves Kassa's time (and so the TOTP steps it accepts) forward.
    const days = 23;
    await k.advanceClock(days * 86400);
    admin.clockOffsetS = (admin.clockOffsetS || 0) + days * 86400; // nextCode() follows it
    const page = a.page;
    await page.goto(`${k.url}/dashboard/payments?queue=expiring`);
    await page.getByRole('heading', { name: 'Sign in to the back office' }).waitFor(); // 12 h at most
    await signIn(page, k.url, admin);
    await page.goto(`${k.url}/dashboard/payments?queue=expiring`);
    await page.getByRole('heading', { name: 'Expiring soon' }).waitFor();
    await page.getByRole('link', { name: later.id }).waitFor();
    await shot(page, 'expiring');
  });
});
