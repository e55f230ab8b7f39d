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
