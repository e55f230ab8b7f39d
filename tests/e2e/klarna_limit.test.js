// Klarna's per-account request limit (seed 001: about 360 a minute, answered with 400 or 402):
// Kassa counts each merchant's Klarna-backed calls and refuses the one past the limit itself,
// 400 rate_limit with a clear message, before anything is written or sent. Here the limit is
// set to 5 (--klarna-rate-per-min 5): five confirmations pass, the sixth is refused and changes
// nothing, a refund is counted too, another merchant has its own budget, and a minute later
// (Kassa's test clock) the budget is back. The default (360) is in `kassa serve --help`.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa, stripeError, runCli } = require('./harness');
const { confirmKlarna } = require('./klarna');

let k;
before(async () => {
  k = await startKassa({ name: 'klarna-limit', args: ['--klarna-rate-per-min', '5'] });
});
after(async () => {
  if (k) await k.stop();
});

const create = (stripe) => stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna'] });

test('past the per-merchant limit a Klarna-backed call is refused with 400 rate_limit and changes nothing', async () => {
  const stripe = k.stripe;
  const intents = [];
  for (let i = 0; i < 6; i++) intents.push(await create(stripe));
  for (let i = 0; i < 5; i++) {
    const c = await confirmKlarna(stripe, intents[i].id);
    assert.equal(c.status, 'requires_action', `confirmation ${i + 1} is within the limit`);
  }
  const e = await stripeError(confirmKlarna(stripe, intents[5].id));
  assert.equal(e.statusCode, 400);
  assert.equal(e.code, 'rate_limit');
  assert.equal(e.rawType, 'invalid_request_error');
  assert.match(e.message, /Too many requests to Klarna for this account: at most 5 a minute/);
  assert.match(e.message, /retry in \d+ seconds/);
  const after6 = await stripe.paymentIntents.retrieve(intents[5].id);
  assert.equal(after6.status, 'requires_payment_method', 'nothing changed');
  assert.equal(after6.next_action, null);
  const rows = (await stripe.rawRequest('GET', `/v1/payment_intents/${intents[5].id}/journal`, {})).data;
  assert.deepEqual(rows.map((r) => r.kind), ['create'], 'no journal row beyond create');

  // Calls that do not reach Klarna are not counted.
  assert.equal((await stripe.paymentIntents.retrieve(intents[0].id)).id, intents[0].id);
  await create(stripe);

  // Another merchant has a budget of its own.
  const other = await k.createMerchant('other shop');
  const s2 = k.stripeFor(other.secret_key);
  const pi2 = await create(s2);
  assert.equal((await confirmKlarna(s2, pi2.id)).status, 'requires_action');

  // A refund of a Klarna payment counts too; cancelling an unconfirmed intent does not.
  const refused = await stripeError(stripe.refunds.create({ payment_intent: intents[0].id }));
  assert.equal(refused.code, 'rate_limit', 'the refund was refused by the budget, not by the state');
  assert.equal((await stripe.paymentIntents.cancel((await create(stripe)).id)).status, 'canceled');

  // A minute later on Kassa's clock the sliding window has room again.
  await k.advanceClock(121);
  const c6 = await confirmKlarna(stripe, intents[5].id);
  assert.equal(c6.status, 'requires_action');
});

test('the default is Klarna\'s 360 a minute, and 0 turns the limit off', async () => {
  const r = await runCli(['serve', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /klarna_rate_per_min[^\n]*\n?[^\n]*360|klarna-rate-per-min[^\n]*360/);
  const off = await startKassa({ name: 'klarna-limit-off', args: ['--klarna-rate-per-min', '0'] });
  try {
    for (let i = 0; i < 8; i++) {
      const pi = await create(off.stripe);
      assert.equal((await confirmKlarna(off.stripe, pi.id)).status, 'requires_action');
    }
  } finally {
    await off.stop();
  }
});
