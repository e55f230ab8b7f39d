// The back office's reports page (/dashboard/reports) in Debian's Chromium through
// playwright-core, against the real binary: a history over two days of the test clock (EUR
// sales, a refund, a GBP sale, a declined attempt); a finance user signs in (password + TOTP);
// the charts are drawn by Chart.js (Debian's libjs-chart.js, served by kassa) from the tables
// beside them; the page's numbers equal the totals of a Stripe report run for the same interval
// and of the export made from the page itself; a chart's figures downloaded as CSV equal its
// table; converted to EUR the rate and its date are shown and the sums follow; a 15-minute
// view has 96 buckets that add up to the day; the previous period is compared; a schedule is
// created and deleted from the page; a saved view of the payments list exported with its
// filters; the five languages; the keyboard; a read-only user sees the figures but no forms.
// Screenshots at 1280x800 and 390x844 in tests/e2e/artifacts/ (reports-*.png); axe-core finds
// no serious or critical violation.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const staff = require('./staff_browser');

const { ARTIFACTS, axe } = staff;
const { startKassa, runCli, waitUntil } = require('./harness');
const { payKlarna, confirmKlarna } = require('./klarna');

const DAY = 86400;


/** RFC 4180: quoted fields, doubled quotes, CRLF rows; the BOM is stripped. */
function parseCsv(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) {
      if (ch === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (ch === '"') q = false; else f += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') { row.push(f); f = ''; } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(f); rows.push(row); row = []; f = ''; i++;
    } else f += ch;
  }
  const [head, ...data] = rows;
  return data.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

function utcDay(unixS) {
  return new Date(unixS * 1000).toISOString().slice(0, 10);
}

describe('back office reports page', () => {
  let k;
  let clockOffsetS = 0;
  let finance;
  let viewer;
  let br;
  let today; // the server's day (UTC) of the second part of the history
  let start; // its first instant (unix s)


  async function payNow(amount, currency, country) {
    const pi = await k.stripe.paymentIntents.create({ amount, currency, payment_method_types: ['klarna_pay_now'] });
    const c = await k.stripe.paymentIntents.confirm(pi.id, {
      payment_method_data: { type: 'klarna_pay_now', billing_details: { email: 'customer@email.de', address: { country } } },
      return_url: 'http://127.0.0.1:9/return',
    });
    const { intent } = await payKlarna(k.stripe, c, k.simUrl, { kassaUrl: k.url });
    assert.equal(intent.status, 'succeeded');
    return intent;
  }

  const user = async (email, role) => {
    const r = await runCli(['user', 'create', '--email', email, '--role', role, '--db', k.dbUrl]);
    assert.equal(r.code, 0, r.stderr);
    return { ...JSON.parse(r.stdout), email, clockOffsetS }; // codes on the server's clock
  };

  const browser = () => staff.browser(undefined, { acceptDownloads: true, timeoutMs: 20000 });
  const signIn = (page, u) => staff.signIn(page, k.url, u, { first: true });
  const { shots } = staff.screenshots('reports', { settleMs: 300 }); // Chart.js redraws at 390 px

  /** The minor-unit value (data-v) of a summary row ("Gross volume") in column col (1 = this period). */
  async function summary(page, cur, label, col = 1) {
    const row = page.locator(`#t-summary-${cur} tbody tr`).filter({ has: page.locator('th', { hasText: new RegExp(`^${label}$`) }) });
    const v = await row.locator('td').nth(col - 1).getAttribute('data-v');
    return v === '' ? null : Number(v);
  }

  async function open(page, query) {
    await page.goto(`${k.url}/dashboard/reports?shown=1&zone=UTC&from=${today}&to=${today}&${query}`);
    await page.getByRole('heading', { name: 'Reports', exact: true }).waitFor();
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    k = await startKassa({ name: 'backoffice-reports' });
    // day 1: one EUR sale (the previous period of day 2)
    const t1 = await k.advanceClock(0);
    await payNow(1000, 'eur', 'DE');
    // day 2, at 10:00 UTC: EUR sales, a partial refund, a GBP sale, a declined attempt
    const d2 = (Math.floor(t1 / DAY) + 1) * DAY;
    const now = await k.advanceClock(d2 + 10 * 3600 - t1);
    clockOffsetS = now - Math.floor(Date.now() / 1000);
    today = utcDay(now);
    start = d2;
    const a = await payNow(2500, 'eur', 'DE');
    await payNow(4000, 'eur', 'DE');
    await k.stripe.refunds.create({ payment_intent: a.id, amount: 500 });
    await payNow(1200, 'gbp', 'GB');
    const pi = await k.stripe.paymentIntents.create({ amount: 1500, currency: 'eur', payment_method_types: ['klarna_pay_later'], capture_method: 'manual' });
    const c = await confirmKlarna(k.stripe, pi.id, { type: 'klarna_pay_later', email: 'customer+denied@email.de', country: 'DE' });
    const denied = await payKlarna(k.stripe, c, k.simUrl, { kassaUrl: k.url, category: 'pay_later', email: 'customer+denied@email.de' });
    assert.equal(denied.intent.status, 'requires_payment_method');
    finance = await user('finance@shop.test', 'finance');
    viewer = await user('viewer@shop.test', 'read_only');
    br = await browser();
    await signIn(br.page, finance);
  });
  after(async () => {
    if (br) await br.close();
    if (k) await k.stop();
  });

  it('draws the charts with Chart.js from the tables; the figures equal a Stripe report run', async () => {
    const page = br.page;
    await page.getByRole('link', { name: 'Reports' }).click();
    await page.getByRole('heading', { name: 'Reports', exact: true }).waitFor();
    await open(page, 'bucket=1h&compare=1');
    await page.locator('figure.chart[data-drawn="1"]').first().waitFor();
    assert.equal(await page.evaluate(() => typeof window.Chart), 'function', 'Chart.js is loaded');
    const drawn = await page.locator('figure.chart[data-drawn="1"] canvas').count();
    assert.ok(drawn >= 6, `charts drawn: ${drawn}`);
    assert.equal(await page.locator('#nocharts').count(), 0);
    const js = await page.request.get(`${k.url}/dashboard/static/chart.js`);
    assert.equal(js.status(), 200);
    assert.equal((await js.body()).length, fs.statSync('/usr/share/javascript/chart.js/chart.min.js').size);

    const gross = await summary(page, 'eur', 'Gross volume');
    const net = await summary(page, 'eur', 'Net volume');
    const refunds = await summary(page, 'eur', 'Refunds');
    assert.deepEqual([gross, net, refunds], [6500, 6000, 500]);
    assert.equal(await summary(page, 'gbp', 'Gross volume'), 1200);
    assert.equal(await summary(page, 'eur', 'Failed attempts'), 1);
    assert.equal(await page.locator('#t-reasons tbody tr').count(), 1);

    // the same interval through the Stripe API: the ledger's balance effect is the page's net
    let run = await k.stripe.reporting.reportRuns.create({
      report_type: 'operations.itemized.1',
      parameters: { interval_start: start, interval_end: start + DAY, timezone: 'UTC' },
    });
    run = await waitUntil(async () => {
      const x = await k.stripe.reporting.reportRuns.retrieve(run.id);
      return x.status !== 'pending' ? x : null;
    }, { timeoutMs: 30000, intervalMs: 100, what: 'report run' });
    assert.equal(run.status, 'succeeded');
    const res = await fetch(run.result.url, { headers: { Authorization: `Bearer ${k.secretKey}` } });
    const rows = parseCsv(await res.text());
    const sum = (cur, col, keep = () => true) => rows.filter((r) => r.currency === cur && keep(r))
      .reduce((s, r) => s + Number(r[col]), 0);
    assert.equal(sum('EUR', 'balance_effect_minor'), net, 'the run\'s EUR balance effect is the page\'s net');
    assert.equal(sum('GBP', 'balance_effect_minor'), await summary(page, 'gbp', 'Net volume'));
    assert.equal(sum('EUR', 'amount_minor', (r) => r.operation === 'refund_settle' || r.operation === 'refund'),
      refunds, 'refunds');
  });

  it('compares with the previous period and downloads the figures behind a chart as CSV', async () => {
    const page = br.page;
    await open(page, 'bucket=1h&compare=1');
    await page.locator('#previous').waitFor();
    assert.equal(await summary(page, 'eur', 'Gross volume', 2), 1000, 'the day before');
    assert.equal(Number(await page.locator('#t-summary-eur tbody tr').first().locator('td').nth(2).getAttribute('data-v')), 5.5,
      'gross +550 %');
    const tableGross = await page.locator('#t-volume-eur tbody tr').evaluateAll((trs) =>
      trs.map((tr) => Number(tr.children[1].getAttribute('data-v'))));
    assert.equal(tableGross.length, 24);
    assert.equal(tableGross.reduce((a, b) => a + b, 0), 6500, 'the buckets add up to the total');
    const [dl] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#fig-volume-eur a.csv').click(),
    ]);
    const file = await dl.path();
    const csv = parseCsv(fs.readFileSync(file, 'utf8'));
    assert.equal(csv.length, 24);
    assert.deepEqual(csv.map((r) => Math.round(Number(r['Gross volume']) * 100)), tableGross,
      'the CSV holds the figures of the table');
    assert.match(dl.suggestedFilename(), /^kassa_volume-eur_.*\.csv$/);
    assert.equal(await shots(page, 'page'), false, 'no sideways scroll at 390 px');
    await axe(page, 'the reports page');
  });

  it('speaks the five languages of the back office', async () => {
    const page = br.page;
    const want = { de: 'Berichte', fr: 'Rapports', fi: 'Raportit', sv: 'Rapporter', en: 'Reports' };
    for (const [lang, title] of Object.entries(want)) {
      await page.goto(`${k.url}/dashboard/reports?lang=${lang}&shown=1&zone=UTC&from=${today}&to=${today}`);
      await page.getByRole('heading', { name: title, exact: true }).waitFor();
      assert.equal(await page.locator('html').getAttribute('lang'), lang);
      assert.equal(await page.locator('figure.chart[data-drawn="1"]').count() > 0, true, `charts drawn (${lang})`);
    }
    await page.goto(`${k.url}/dashboard/reports?lang=de&shown=1&zone=UTC&from=${today}&to=${today}`);
    await page.locator('#t-summary-eur').getByText('Bruttovolumen').waitFor();
    await page.goto(`${k.url}/dashboard/reports?lang=en&shown=1&zone=UTC&from=${today}&to=${today}`);
  });

  it('works from the keyboard, with a visible focus', async () => {
    const page = br.page;
    await open(page, 'bucket=day');
    await page.locator('#r-bucket').focus();
    await page.keyboard.press('ArrowUp'); // day -> 4 hours
    await page.keyboard.press('Tab'); // to "Only this currency"
    assert.equal(await page.evaluate(() => document.activeElement.id), 'r-currency');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused field shows it');
    await Promise.all([page.waitForURL(/bucket=4h/), page.keyboard.press('Enter')]);
    assert.equal(await page.locator('#t-volume-eur tbody tr').count(), 6, 'six 4-hour buckets');
  });

  it('a 15-minute view holds 96 buckets that add up to the day', async () => {
    const page = br.page;
    await open(page, 'bucket=15m');
    const vals = await page.locator('#t-attempts-eur tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [tr.children[0].textContent, Number(tr.children[1].getAttribute('data-v'))]));
    assert.equal(vals.length, 96);
    assert.equal(vals[1][0], `${today} 00:15`);
    assert.equal(vals.reduce((a, v) => a + v[1], 0), await summary(page, 'eur', 'Successful attempts'));
    assert.equal(await page.locator('#previous').count(), 0, 'no comparison unless ticked');
  });

  it('converted to EUR: the rate and its date are shown, the sums follow', async () => {
    const page = br.page;
    await open(page, 'bucket=day&compare=1&convert=EUR');
    const rate = await page.locator('#rates li.rate', { hasText: 'GBP' }).textContent();
    assert.match(rate, /^1 GBP = 1\.17 EUR$/);
    assert.match(await page.locator('#rates time').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    // one block: EUR, the GBP sale converted (12.00 GBP x 1.17 = 14.04 EUR)
    assert.equal(await page.locator('#t-summary-gbp').count(), 0);
    assert.equal(await summary(page, 'eur', 'Gross volume'), 6500 + 1404);
    assert.equal(await summary(page, 'eur', 'Successful attempts'), 3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'reports-converted-1280.png'), fullPage: true });
    // a currency without a rate is refused, naming the field
    await open(page, 'convert=XAU');
    await page.locator('#an-err').waitFor();
  });

  it('makes an export from the page whose totals are the page\'s', async () => {
    const page = br.page;
    await open(page, 'bucket=day');
    const net = await summary(page, 'eur', 'Net volume');
    await page.getByLabel('Report', { exact: true }).first().selectOption('operations.itemized.1');
    await page.locator('#run-format').selectOption('csv');
    await Promise.all([page.waitForURL(/done=run/), page.getByRole('button', { name: 'Make the file' }).click()]);
    const link = await waitUntil(async () => {
      await page.reload();
      const a = page.locator('#runs a.file').first();
      return (await a.count()) > 0 ? a : null;
    }, { timeoutMs: 30000, intervalMs: 300, what: 'the export' });
    const res = await page.request.get(k.url + await link.getAttribute('href'));
    assert.equal(res.status(), 200);
    const rows = parseCsv(await res.text());
    const eur = rows.filter((r) => r.currency === 'EUR').reduce((s, r) => s + Number(r.balance_effect_minor), 0);
    assert.equal(eur, net);
  });

  it('exports a saved view of the payments list with its filters', async () => {
    const page = br.page;
    await page.goto(`${k.url}/dashboard/payments?status=succeeded&currency=EUR`);
    const listed = (await page.locator('table.list tbody a[href^="/dashboard/payments/pi_"]').allTextContents()).sort();
    assert.equal(listed.length, 3, 'three succeeded EUR payments over both days');
    await page.getByLabel('Name for these filters').fill('Succeeded EUR');
    await page.getByRole('button', { name: 'Save view' }).click();
    await open(page, 'bucket=day');
    await Promise.all([
      page.waitForURL(/done=run/),
      page.getByRole('button', { name: 'Export the view: Succeeded EUR' }).click(),
    ]);
    const link = await waitUntil(async () => {
      await page.reload();
      const first = page.locator('#runs tbody tr').first();
      const a = first.locator('a.file');
      return (await first.locator('td').first().textContent()) === 'payments.itemized.1' && (await a.count()) > 0 ? a : null;
    }, { timeoutMs: 30000, intervalMs: 300, what: 'the view\'s export' });
    const res = await page.request.get(k.url + await link.getAttribute('href'));
    const rows = parseCsv(await res.text());
    assert.deepEqual(rows.map((r) => r.payment_intent_id).sort(), listed, 'the rows the list shows for the view');
    assert.ok(rows.every((r) => r.status === 'succeeded' && r.currency === 'EUR'));
    assert.equal(rows.reduce((a, r) => a + Number(r.amount_minor), 0), 7500);
  });

  it('creates and deletes a schedule from the page', async () => {
    const page = br.page;
    await open(page, 'bucket=day');
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-sched-'));
    await page.locator('#s-type').selectOption('settlement.summary.1');
    await page.getByLabel('Frequency').selectOption('weekly');
    await page.getByLabel('At (local time)').fill('07:30');
    await page.locator('#s-zone').fill('Europe/Helsinki');
    await page.getByLabel('Folder on the server').fill(folder);
    await page.getByRole('button', { name: 'Create the schedule' }).click();
    await page.locator('#schedules').waitFor();
    const list = await k.http('GET', '/v1/kassa/report_schedules');
    assert.equal(list.json.data.length, 1);
    const s = list.json.data[0];
    assert.equal(s.report_type, 'settlement.summary.1');
    assert.equal(s.frequency, 'weekly');
    assert.deepEqual([s.hour, s.minute], [7, 30]);
    assert.equal(await page.locator('#schedules tbody tr').count(), 1);
    // bad input: the gateway's reason beside the form, nothing created
    await page.locator('#s-zone').fill('Mars/Olympus');
    await page.getByRole('button', { name: 'Create the schedule' }).click();
    await page.locator('#sched-err').waitFor();
    assert.match(await page.locator('#sched-err').textContent(), /timezone/);
    assert.equal((await k.http('GET', '/v1/kassa/report_schedules')).json.data.length, 1);
    await open(page, 'bucket=day');
    await page.getByRole('button', { name: `Delete ${s.id}` }).click();
    await page.getByText('No schedules yet.').waitFor();
    assert.equal((await k.http('GET', `/v1/kassa/report_schedules/${s.id}`)).json.status, 'deleted');
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('a read-only user sees the figures but cannot make files or schedules', async () => {
    const v = await browser();
    try {
      await signIn(v.page, viewer);
      await open(v.page, 'bucket=day');
      assert.equal(await summary(v.page, 'eur', 'Gross volume'), 6500);
      assert.equal(await v.page.getByRole('button', { name: 'Make the file' }).count(), 0);
      assert.equal(await v.page.getByRole('button', { name: 'Create the schedule' }).count(), 0);
      const csrf = await v.page.locator('input[name=csrf]').first().getAttribute('value');
      const res = await v.page.request.post(`${k.url}/dashboard/reports/schedules`, {
        form: { csrf, report_type: 'payments.itemized.1', frequency: 'daily', at: '06:00', zone: 'UTC', folder: '/tmp' },
        headers: { Origin: k.url },
      });
      assert.equal(res.status(), 403);
      const all = (await k.http('GET', '/v1/kassa/report_schedules')).json.data;
      assert.deepEqual(all.map((x) => x.status), ['deleted'], 'nothing created');
    } finally {
      await v.close();
    }
  });
});
