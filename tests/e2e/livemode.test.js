// livemode.test.js - test and live mode kept apart (issue #12 point 6), through the Stripe API:
// an admin creates the live twin of a test account with `kassa merchant live ACCT`; live keys
// (sk_live_) belong to the twin. A live PaymentIntent without the twin's own provider
// credentials and base URL is refused naming the parameter, nothing written (a live payment
// never reaches a simulator, not even Kassa's own). With credentials pointing at a separate
// provider process (the Klarna simulator started here stands in for Klarna's live endpoint,
// configured explicitly as the live base URL) the payment renders livemode true and the
// connector calls that endpoint with the live username. A test key cannot see the live
// object (404) and a live key cannot see the test one.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, startSim, runCli, stripeError } = require('./harness');
const { confirmKlarna } = require('./klarna');
const { browser, screenshots, axe, signIn } = require('./staff_browser');

describe('test and live mode kept apart', () => {
  let k;
  let sim;
  let live;
  before(async () => {
    sim = await startSim();
    k = await startKassa({ name: 'livemode' });
  });
  after(async () => {
    if (k) await k.stop();
    if (sim) sim.proc.kill('SIGTERM');
  });

  it('creates the live twin once, with live keys of its own', async () => {
    const r = await runCli(['merchant', 'live', k.merchant.id, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    live = JSON.parse(r.stdout);
    assert.equal(live.id, `${k.merchant.id}_live`);
    assert.equal(live.mode, 'live');
    assert.equal(live.created, true);
    assert.match(live.secret_key, /^sk_live_/);
    assert.match(live.publishable_key, /^pk_live_/);
    const again = JSON.parse((await runCli(['merchant', 'live', k.merchant.id, '--db', k.dbUrl])).stdout);
    assert.equal(again.id, live.id);
    assert.equal(again.created, false);
    assert.equal(again.secret_key, null, 'the secret key is shown once');
    const bad = await runCli(['merchant', 'live', live.id, '--db', k.dbUrl]);
    assert.equal(bad.code, 2, 'a live account has no twin');
  });

  it('refuses a live payment without live credentials, naming the parameter, nothing written', async () => {
    const ls = k.stripeFor(live.secret_key);
    const e = await stripeError(ls.paymentIntents.create({ amount: 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'] }));
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, 'payment_method_not_available');
    assert.equal(e.param, 'payment_method_types');
    assert.match(e.message, /klarna_pay_later/);
    assert.match(e.message, /live/);
    assert.equal((await ls.paymentIntents.list({ limit: 10 })).data.length, 0);
    // the test account's sandbox still works, with the simulator, in test mode
    const t = await k.stripe.paymentIntents.create({ amount: 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'] });
    assert.equal(t.livemode, false);
  });

  it('with live credentials and a base URL: livemode true, the provider endpoint is called, modes cannot see each other', async () => {
    const r = await runCli(['merchant', 'provider', live.id, '--provider', 'klarna', '--username', 'shop-live-api',
      '--secret', 'live-password-1', '--base-url', `${sim.url}/klarna`, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    const ls = k.stripeFor(live.secret_key);
    const pi = await ls.paymentIntents.create({ amount: 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'], capture_method: 'manual' });
    assert.equal(pi.livemode, true);
    const confirmed = await confirmKlarna(ls, pi.id, { type: 'klarna_pay_later', email: 'customer@email.de', country: 'DE' });
    assert.equal(confirmed.livemode, true);
    const seen = await (await fetch(`${sim.url}/klarna/_sim/auth`)).json();
    assert.equal(seen.last_username, 'shop-live-api', 'the live endpoint got the live credentials');
    // its events are live too, and the test account's are not
    const evs = (await ls.events.list({ limit: 10 })).data;
    assert.ok(evs.length > 0 && evs.every((e) => e.livemode === true && e.data.object.livemode === true));
    const tevs = (await k.stripe.events.list({ limit: 10 })).data;
    assert.ok(tevs.length > 0 && tevs.every((e) => e.livemode === false));
    // a test key cannot see the live object, and a live key cannot see a test one
    const t = await k.stripe.paymentIntents.create({ amount: 1000, currency: 'eur', payment_method_types: ['klarna_pay_later'] });
    assert.equal((await stripeError(k.stripe.paymentIntents.retrieve(pi.id))).statusCode, 404);
    assert.equal((await stripeError(ls.paymentIntents.retrieve(t.id))).statusCode, 404);
    const testList = (await k.stripe.paymentIntents.list({ limit: 100 })).data.map((x) => x.id);
    assert.ok(!testList.includes(pi.id));
    const liveList = (await ls.paymentIntents.list({ limit: 100 })).data;
    assert.deepEqual(liveList.map((x) => x.id), [pi.id]);
    assert.ok(liveList.every((x) => x.livemode === true));
  });

  it('refuses a live base URL that is Kassa\'s own simulator', async () => {
    const r = await runCli(['merchant', 'provider', live.id, '--provider', 'klarna', '--username', 'shop-live-api',
      '--secret', 'live-password-1', '--base-url', `${k.simUrl}/klarna`, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    const ls = k.stripeFor(live.secret_key);
    const e = await stripeError(ls.paymentIntents.create({ amount: 4200, currency: 'eur', payment_method_types: ['klarna_pay_later'] }));
    assert.equal(e.param, 'payment_method_types');
  });
});

// The back office: an admin creates the live account on the Developers page (its first live
// key shown once); the header's Test/Live switch then picks which account's data the pages show;
// the test-mode banner only in test; each payment only in its own mode.
describe('back office: the Test/Live switch', () => {
  let k;
  let sim;
  let br;
  let page;
  let admin;
  let testPi;
  let livePi;
  let liveId;
  const { shots } = screenshots('livemode');
  before(async () => {
    sim = await startSim();
    k = await startKassa({ name: 'livemode-bo' });
    const r = await runCli(['user', 'create', '--email', 'admin@shop.test', '--role', 'admin', '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    admin = JSON.parse(r.stdout);
    admin.email = 'admin@shop.test';
    testPi = await k.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna_pay_later'] });
    br = await browser();
    page = br.page;
    await signIn(page, k.url, admin, { first: true });
  });
  after(async () => {
    if (br) await br.close();
    if (k) await k.stop();
    if (sim) sim.proc.kill('SIGTERM');
  });

  const banner = () => page.locator('p.banner.test').count();
  const shows = async (id) => (await page.locator(`a[href="/dashboard/payments/${id}"]`).count()) > 0;

  it('has no switch before the live account exists; an admin creates it on the Developers page', async () => {
    await page.goto(`${k.url}/dashboard/payments`);
    assert.equal(await banner(), 1, 'the test-mode banner');
    assert.equal(await page.locator('form.mode').count(), 0);
    await page.goto(`${k.url}/dashboard/developers`);
    const form = page.locator('form[action="/dashboard/developers/live"]');
    await form.getByLabel('Password or authentication code').fill(admin.password);
    await form.getByRole('button', { name: 'Create the live account' }).click();
    await page.getByText('Live account created.').waitFor();
    const secret = (await page.locator('code').allTextContents()).find((t) => t.startsWith('sk_live_'));
    assert.ok(secret, 'the first live key is shown once');
    liveId = `${k.merchant.id}_live`;
    const cr = await runCli(['merchant', 'provider', liveId, '--provider', 'klarna', '--username', 'shop-live-api',
      '--secret', 'live-password-1', '--base-url', `${sim.url}/klarna`, '--db', k.dbUrl]);
    assert.equal(cr.code, 0, cr.stderr);
    livePi = await k.stripeFor(secret).paymentIntents.create({ amount: 9900, currency: 'eur', payment_method_types: ['klarna_pay_later'] });
    assert.equal(livePi.livemode, true);
  });

  it('shows test data only in test, live data only in live, the banner only in test', async () => {
    await page.goto(`${k.url}/dashboard/payments`);
    const sw = page.getByRole('group', { name: 'Mode' });
    assert.equal(await sw.getByRole('button', { name: 'Test data' }).getAttribute('aria-pressed'), 'true');
    assert.ok(await shows(testPi.id), 'the test payment in test mode');
    assert.ok(!(await shows(livePi.id)), 'no live payment in test mode');
    assert.equal((await page.goto(`${k.url}/dashboard/payments/${livePi.id}`)).status(), 404);

    await page.goto(`${k.url}/dashboard/payments`);
    await page.getByRole('button', { name: 'Live data' }).click();
    await page.getByRole('heading', { name: 'Payments', exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Live data' }).getAttribute('aria-pressed'), 'true');
    assert.equal(await banner(), 0, 'no test-mode banner in live mode');
    assert.equal(await page.locator('p.banner.live').count(), 1);
    assert.ok(await shows(livePi.id), 'the live payment in live mode');
    assert.ok(!(await shows(testPi.id)), 'no test payment in live mode');
    await axe(page, 'payments in live mode');
    assert.equal(await shots(page, 'payments-live'), false, 'no sideways scroll at 390 px');
    assert.equal((await page.goto(`${k.url}/dashboard/payments/${testPi.id}`)).status(), 404);

    // the Developers page in live mode lists the live keys only
    await page.goto(`${k.url}/dashboard/developers`);
    const keys = await page.locator('table code').allTextContents();
    assert.ok(keys.some((t) => t.startsWith('sk_live_')));
    assert.ok(!keys.some((t) => t.startsWith('sk_test_')));
    assert.equal(await page.locator('form[action="/dashboard/developers/live"]').count(), 0);
    await axe(page, 'developers in live mode');
    assert.equal(await shots(page, 'developers-live'), false, 'no sideways scroll at 390 px');

    // back to test, by keyboard
    await page.getByRole('button', { name: 'Test data' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Payments', exact: true }).waitFor();
    assert.equal(await banner(), 1);
    assert.ok(await shows(testPi.id));
    assert.ok(!(await shows(livePi.id)));
    await axe(page, 'payments in test mode');
    assert.equal(await shots(page, 'payments-test'), false, 'no sideways scroll at 390 px');
  });
});
