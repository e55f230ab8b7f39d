// The back office's developers' page (/dashboard/developers) in Debian's Chromium, against the
// real binary: API keys created, rolled with an overlap on the test clock and revoked, each
// change asking for the person's password again; a key made on the page used with the official
// `stripe` client (its objects carry livemode=false); a webhook endpoint's signing secret rolled
// with an overlap: during it each delivery carries both signatures (t=…,v1=new,v1=old) and
// verifies with either secret through stripe.webhooks.constructEvent, after it only the new one;
// the ECommPay project's callback URL shown; the recent API request log lists a failed request
// with its error code, idempotency key and key id (never a key or a body); the failed
// deliveries of events matching a filter are replayed, once per form. axe-core and screenshots at 1280 and 390 px
// (tests/e2e/artifacts/developers-*.png).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { startKassa, startReceiver, runCli, waitUntil } = require('./harness');
const { browser, screenshots, axe, signIn } = require('./staff_browser');

const { shots } = screenshots('developers');

describe('back office: developers', () => {
  let k;
  let dev;
  let br;
  let page;
  let rx;
  let created; // the key made on the page
  let rolled; // its successor
  let whOld;
  let whNew;

  before(async () => {
    k = await startKassa({ name: 'bo-developers' });
    const r = await runCli(['user', 'create', '--email', 'dev@shop.test', '--role', 'developer', '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    dev = JSON.parse(r.stdout);
    dev.email = 'dev@shop.test';
    br = await browser();
    page = br.page;
    await signIn(page, k.url, dev, { first: true });
    rx = await startReceiver();
  });
  after(async () => {
    if (rx) await rx.close();
    if (br) await br.close();
    if (k) await k.stop();
  });

  const dash = () => page.goto(`${k.url}/dashboard/developers`);
  const works = async (sk) => {
    const res = await fetch(`${k.url}/v1/payment_intents?limit=1`, { headers: { Authorization: `Bearer ${sk}` } });
    return res.status;
  };

  it('lists the merchant\'s first key, with a test-mode banner and the ECommPay callback URL', async () => {
    const set = await k.http('POST', '/v1/kassa/ecommpay/settings', { body: 'callback_url=http://127.0.0.1:9/ecp' });
    assert.equal(set.status, 200, set.text);
    await dash();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByText('Test mode: these keys').waitFor();
    const rows = page.locator('tr[data-key]');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), new RegExp(`sk_test_…${k.secretKey.slice(-4)}`));
    assert.equal(await page.locator('[data-ecp-callback]').textContent(), 'http://127.0.0.1:9/ecp');
    assert.equal(await page.getByText(k.secretKey).count(), 0, 'no key in full on the page');
  });

  it('asks for the password again before a key is made, then shows the key once; the stripe client uses it', async () => {
    await dash();
    const form = page.locator('form[action="/dashboard/developers/keys"]');
    await form.getByLabel('Name').fill('shop server');
    await form.getByLabel('Password or authentication code').fill('not-my-password');
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Enter your password or a current authentication code again').waitFor();
    assert.equal(await page.locator('tr[data-key]').count(), 1, 'no key was made');
    const form2 = page.locator('form[action="/dashboard/developers/keys"]');
    await form2.getByLabel('Name').fill('shop server');
    await form2.getByLabel('Password or authentication code').fill(dev.password);
    await form2.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Key created.').waitFor();
    created = (await page.locator('[role=alert] code[data-secret]').textContent()).trim();
    assert.match(created, /^sk_test_[0-9A-Za-z]{24,}$/);
    const stripe = k.stripeFor(created);
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'eur', payment_method_types: ['klarna'] });
    assert.equal(pi.livemode, false);
    assert.equal((await k.stripe.paymentIntents.retrieve(pi.id)).id, pi.id, 'the same merchant');
    await dash();
    assert.equal(await page.getByText(created).count(), 0, 'the key is not shown again');
    assert.equal(await page.locator('tr[data-key]').count(), 2);
    assert.match(await page.locator('tr[data-key]').first().textContent(), /shop server/);
  });

  it('rolls a key and a signing secret with a 1-hour overlap: both work until the test clock passes it', async () => {
    // the signing secret
    const we = await k.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ['*'] });
    whOld = we.secret;
    await dash();
    const ep = page.locator(`tr[data-endpoint="${we.id}"]`);
    await ep.getByText('Roll the signing secret…').click();
    await ep.getByLabel('The old secret stops signing').selectOption('3600');
    await ep.getByRole('button', { name: 'Roll the secret' }).click();
    await page.getByText('Signing secret rolled.').waitFor();
    whNew = (await page.locator('[role=alert] code[data-secret]').textContent()).trim();
    assert.match(whNew, /^whsec_/);
    assert.notEqual(whNew, whOld);
    // the key
    await dash();
    const row = page.locator('tr[data-key]').first();
    const keyId = await row.getAttribute('data-key');
    await row.getByText('Roll or revoke…').click();
    await row.getByLabel('The old key stops working').selectOption('3600');
    await row.locator('form[action$="/roll"]').getByLabel('Password or authentication code').fill(dev.password);
    await row.getByRole('button', { name: 'Roll the key' }).click();
    await page.getByText('Key rolled').waitFor();
    rolled = (await page.locator('[role=alert] code[data-secret]').textContent()).trim();
    assert.match(rolled, /^sk_test_/);
    await dash();
    assert.equal(await page.locator(`tr[data-key="${keyId}"]`).getAttribute('data-state'), 'expiring');
    assert.equal(await shots(page, 'page'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the developers page');
    await page.locator('tr[data-key] details').first().evaluate((d) => { d.open = true; });
    await shots(page, 'roll-open');

    assert.equal(await works(created), 200, 'the old key works during the overlap');
    assert.equal(await works(rolled), 200);
    const pi1 = await k.stripe.paymentIntents.create({ amount: 1300, currency: 'eur', payment_method_types: ['klarna'] });
    await rx.waitFor((r) => r.requests.some((q) => q.body.includes(pi1.id)), 15000, 'a delivery during the overlap');
    const d1 = rx.requests.find((q) => q.body.includes(pi1.id));
    const sig1 = d1.headers['stripe-signature'];
    assert.equal(sig1.split(',').filter((p) => p.startsWith('v1=')).length, 2, sig1);
    assert.equal(Stripe.webhooks.constructEvent(d1.body, sig1, whNew).data.object.id, pi1.id);
    assert.equal(Stripe.webhooks.constructEvent(d1.body, sig1, whOld).data.object.id, pi1.id);

    await k.advanceClock(3601);
    assert.equal(await works(created), 401, 'the old key stops at the end of the overlap');
    assert.equal(await works(rolled), 200);
    const pi2 = await k.stripe.paymentIntents.create({ amount: 1400, currency: 'eur', payment_method_types: ['klarna'] });
    await rx.waitFor((r) => r.requests.some((q) => q.body.includes(pi2.id)), 15000, 'a delivery after the overlap');
    const d2 = rx.requests.find((q) => q.body.includes(pi2.id));
    const sig2 = d2.headers['stripe-signature'];
    assert.equal(sig2.split(',').filter((p) => p.startsWith('v1=')).length, 1, sig2);
    assert.equal(Stripe.webhooks.constructEvent(d2.body, sig2, whNew, 7200).data.object.id, pi2.id);
    assert.throws(() => Stripe.webhooks.constructEvent(d2.body, sig2, whOld, 7200), /signature/i);
  });

  it('revokes a key at once (after signing in again: the clock moved past the session)', async () => {
    dev.clockOffsetS = 3601;
    await signIn(page, k.url, dev);
    await dash();
    const row = page.locator('tr[data-key][data-state="active"]').first();
    assert.match(await row.textContent(), new RegExp(`…${rolled.slice(-4)}`));
    await row.getByText('Roll or revoke…').click();
    const revoke = row.locator('form[action$="/revoke"]');
    await revoke.getByLabel('Password or authentication code').fill(dev.password);
    await revoke.getByRole('button', { name: 'Revoke now' }).click();
    await page.getByText('Key revoked: it no longer works.').waitFor();
    assert.equal(await works(rolled), 401);
    assert.equal(await works(k.secretKey), 200, 'the other keys still work');
    const audit = await runCli(['audit', 'verify', '--db', k.dbUrl]);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
  });

  it('kassa key create|list|revoke from another process: the server stops accepting the key within its recheck', async () => {
    const help = await runCli(['key', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /kassa key roll --id key_/);
    const made = await runCli(['key', 'create', '--name', 'from the cli', '--db', k.dbUrl]);
    assert.equal(made.code, 0, made.stderr);
    const key = JSON.parse(made.stdout);
    assert.match(key.secret_key, /^sk_test_/);
    assert.equal(key.state, 'active');
    assert.equal(await works(key.secret_key), 200);
    const bad = await runCli(['key', 'roll', '--id', key.id, '--overlap', 'soon', '--db', k.dbUrl]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--overlap/);
    const gone = await runCli(['key', 'revoke', '--id', key.id, '--db', k.dbUrl]);
    assert.equal(gone.code, 0, gone.stderr);
    await waitUntil(async () => (await works(key.secret_key)) === 401, { timeoutMs: 15000, what: 'the revoked key refused' });
    const list = await runCli(['key', 'list', '--db', k.dbUrl]);
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.find((r) => r.id === key.id).state, 'revoked');
    assert.ok(rows.every((r) => r.secret_key === undefined), 'list shows no key');
  });

  it('the request log shows a failed request with its error code, idempotency key and key id, never the key', async () => {
    const idem = `log-test-${Date.now()}`;
    const res = await fetch(`${k.url}/v1/payment_intents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${k.secretKey}`, 'Idempotency-Key': idem, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'amount=-5&currency=eur',
    });
    assert.equal(res.status, 400);
    const code = (await res.json()).error.code;
    assert.ok(code, 'the answer has an error code');
    await page.goto(`${k.url}/dashboard/developers`);
    await page.getByRole('link', { name: 'Recent API requests' }).click();
    await page.getByRole('heading', { name: 'Recent API requests' }).waitFor();
    await page.getByLabel('Status').selectOption('4xx');
    await page.getByLabel('Path starts with').fill('/v1/payment_intents');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const row = page.locator('#requests tbody tr', { hasText: idem });
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text, /POST/);
    assert.match(text, /400/);
    assert.equal((await row.locator('[data-col=error]').textContent()).trim(), code);
    assert.match(await row.locator('[data-col=key]').textContent(), new RegExp(`^key_\\w+ \\(…${k.secretKey.slice(-4)}\\)$`));
    const statuses = await page.locator('#requests tbody tr[data-status]').evaluateAll((rs) => rs.map((r) => Number(r.dataset.status)));
    assert.ok(statuses.length > 0 && statuses.every((st) => st >= 400 && st < 500), statuses.join());
    const html = await page.content();
    assert.ok(!html.includes(k.secretKey) && !html.includes(rolled) && !html.includes(created), 'no key on the page');
    assert.ok(!html.includes('amount=-5'), 'no body on the page');
    assert.equal(await shots(page, 'requests'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the request log');
  });

  it('replays the failed deliveries of the events matching a filter, confirmed, audited and once per form', async () => {
    const rx2 = await startReceiver({ refuseFirst: 100000 });
    try {
      const we = await k.stripe.webhookEndpoints.create({ url: rx2.url, enabled_events: ['payment_intent.created'] });
      const pi = await k.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna'] });
      await rx2.waitFor((r) => r.requests.some((q) => q.body.includes(pi.id)), 15000, 'a refused delivery');
      const ev = (await k.stripe.events.list({ limit: 10 })).data.find((e) => e.type === 'payment_intent.created' && e.data.object.id === pi.id);
      assert.ok(ev, 'the event');
      rx2.refuseFirst = 0;
      await dash();
      const form = page.locator('#replay-filter');
      await form.getByLabel('Event type').selectOption('payment_intent.');
      await form.getByLabel('Endpoint', { exact: true }).selectOption(we.id);
      const fields = {
        csrf: await form.locator('input[name=csrf]').inputValue(),
        idem: await form.locator('input[name=idem]').inputValue(),
      };
      await form.getByLabel('Yes, send these events to the endpoints again').check();
      await form.getByRole('button', { name: 'Replay matching events' }).click();
      const note = await page.getByText('Events replayed / deliveries:').textContent();
      const m = note.match(/(\d+) \/ (\d+)/);
      assert.ok(m && Number(m[1]) >= 1 && Number(m[2]) >= 1, note);
      await rx2.waitFor((r) => r.accepted().some((q) => q.body.includes(pi.id)), 15000, 'the replayed delivery');
      const ds = await k.http('GET', `/v1/events/${ev.id}/deliveries`);
      const mine = JSON.parse(ds.text).data.find((d) => d.endpoint === we.id);
      assert.ok(mine.attempts_log.some((a) => a.error === 'replay requested'), JSON.stringify(mine));
      // the same form again (a double click): nothing is replayed twice
      const again = await page.request.post(`${k.url}/dashboard/developers/replay`, {
        headers: { Origin: k.url },
        form: { ...fields, filter: '1', type: 'payment_intent.', endpoint: we.id, failed: '1', confirm: '1', tz: '0' },
      });
      assert.equal(again.status(), 200);
      assert.match(await again.text(), /already done/);
      // one endpoint's deliveries: every row shown went to it, with attempts and its answer
      await dash();
      await page.locator(`a[data-deliveries-of="${we.id}"]`).click();
      await page.locator('[data-only-endpoint]').waitFor();
      const shown = await page.locator('tr[data-event]').evaluateAll((rs) => rs.map((r) => [r.dataset.event, r.textContent]));
      assert.ok(shown.some(([id]) => id === ev.id), 'the replayed event is listed for its endpoint');
      for (const [, text] of shown) {
        assert.ok(text.includes(we.id), text);
        assert.match(text, /\d+ attempts, HTTP \d+/);
      }
      const all = await page.locator('tr[data-event]').count();
      await page.getByRole('link', { name: 'Every endpoint' }).click();
      await page.locator('[data-only-endpoint]').waitFor({ state: 'detached' });
      assert.ok((await page.locator('tr[data-event]').count()) > all, 'the other endpoints\' events come back');
      const audit = await runCli(['audit', 'verify', '--db', k.dbUrl]);
      assert.equal(audit.code, 0, audit.stdout + audit.stderr);
      await k.stripe.webhookEndpoints.del(we.id);
    } finally {
      await rx2.close();
    }
  });

  it('speaks German when asked (and the other languages have every row: test_staff)', async () => {
    await page.goto(`${k.url}/dashboard/developers?lang=de`);
    await page.getByRole('heading', { name: 'API-Schlüssel' }).waitFor();
    await page.getByText('Testmodus: Diese Schlüssel').waitFor();
    assert.equal(await shots(page, 'page-de'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the developers page in German');
    await page.goto(`${k.url}/dashboard/developers/requests?lang=de`);
    await page.getByRole('heading', { name: 'Letzte API-Anfragen' }).waitFor();
    await page.goto(`${k.url}/dashboard/developers?lang=en`);
  });
});
