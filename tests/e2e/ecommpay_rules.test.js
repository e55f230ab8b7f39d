// The operator's rules file reaches the ECommPay dialect: a rate changed in `--rules-file`
// is the rate ECommPay's currency conversion uses (sum_converted in the callbacks), because
// the dialect converts through the gateway's one rule set and keeps no copy of its own.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Callback, signer } = require('ecommpay');
const { startKassa, startReceiver, waitUntil } = require('./harness');

function forPayment(rx, secret, id) {
  return rx.accepted().filter((q) => q.method === 'POST')
    .map((q) => ({ cb: new Callback(secret, q.body), doc: JSON.parse(q.body) }))
    .filter((c) => c.cb.getPaymentId() === id).map((c) => c.doc);
}

async function sale(k, project, secret, paymentId, amount, currency, callbackUrl) {
  const body = {
    general: { project_id: project, payment_id: paymentId, merchant_callback_url: callbackUrl },
    customer: { id: 'cust-7', ip_address: '203.0.113.7', email: 'customer@email.de', first_name: 'Test', last_name: 'Person-de', country: 'DE' },
    payment: { amount, currency, description: `Order ${paymentId}` },
    return_url: { success: 'http://127.0.0.1:1/ok', decline: 'http://127.0.0.1:1/fail', return: 'http://127.0.0.1:1/back' },
  };
  const signed = JSON.parse(JSON.stringify(body));
  signed.general.signature = signer(body, secret);
  const res = await fetch(`${k.url}/v2/payment/online-banking/sofort/sale`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(signed),
  });
  return { status: res.status, json: await res.json() };
}

test('ECommPay converts with the rate of the operator\'s rules file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-rules-'));
  const rules = path.join(dir, 'rules.txt');
  // The built-in rate is 1 USD = 0.88 EUR; the operator's file says 0.50.
  fs.writeFileSync(rules, '# operator override\nrate USD EUR 0.50\n');
  const k = await startKassa({ name: 'ecommpay-rules', args: ['--rules-file', rules] });
  const rx = await startReceiver();
  const project = k.merchant.ecp_project_id;
  const secret = k.merchant.ecp_secret;
  t.after(async () => { await rx.close(); await k.stop(); fs.rmSync(dir, { recursive: true, force: true }); });

  await t.test('USD 30.00 is EUR 15.00 at the file\'s rate (0.88 would give 26.40)', async () => {
    const r = await sale(k, project, secret, 'R-1', 3000, 'USD', rx.url);
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    const d = await waitUntil(() => forPayment(rx, secret, 'R-1').find((x) => x.redirect_data), { what: 'redirect callback' });
    assert.deepStrictEqual(d.operation.sum_initial, { amount: 3000, currency: 'USD' });
    assert.deepStrictEqual(d.operation.sum_converted, { amount: 1500, currency: 'EUR' });
  });

  await t.test('USD 1.80 falls below the 1.00 EUR minimum at 0.50 (0.88 would pass): a decline', async () => {
    const r = await sale(k, project, secret, 'R-2', 180, 'USD', rx.url);
    assert.strictEqual(r.status, 200, JSON.stringify(r.json));
    const d = await waitUntil(() => forPayment(rx, secret, 'R-2').find((x) => x.payment.status === 'decline'), { what: 'decline callback' });
    assert.deepStrictEqual([d.operation.status, d.operation.code], ['decline', '20000']);
    assert.deepStrictEqual(d.operation.sum_converted, { amount: 90, currency: 'EUR' });
    assert.ok(!forPayment(rx, secret, 'R-2').some((x) => x.redirect_data), 'never sent to Klarna');
  });
});
