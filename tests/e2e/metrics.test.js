// /metrics for the operator: after a Klarna payment walked through the simulator (kassa trigger)
// and a webhook receiver that refuses everything, the scrape shows provider calls and latency,
// group-commit batch sizes and COMMIT time, the webhook backlog and its oldest age, and the
// authorisations expiring within 24 h (on the test clock). `promtool check metrics` lints the
// scrape, `promtool check rules` the alert rules of docs/kassa-alerts.yml, every series the rules
// use is served, and docs/operations.md lists every series served.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT, startKassa, startReceiver, runCli, waitUntil } = require('./harness');

const RULES = path.join(ROOT, 'docs', 'kassa-alerts.yml');
const OPS_DOC = path.join(ROOT, 'docs', 'operations.md');
const HAS_PROMTOOL = spawnSync('promtool', ['--version']).status === 0;

function value(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('metrics an operator graphs and alerts on', { skip: !HAS_PROMTOOL && 'promtool (Debian package prometheus) is absent' }, async () => {
  const k = await startKassa({ name: 'metrics', args: ['--backup-dir', 'backups', '--backup-interval-s', '86400'] });
  const hook = await startReceiver({ refuseFirst: 1e9 });
  try {
    await k.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
    const r = await runCli(['trigger', 'payment_intent.amount_capturable_updated', '--api-base', k.url, '--api-key', k.secretKey], { timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, 'requires_capture');
    await waitUntil(() => hook.requests.length > 0, { timeoutMs: 10000, what: 'a refused delivery' });
    const scrape = async () => (await fetch(`${k.url}/metrics`)).text();

    let m = await scrape();
    assert.ok(value(m, 'kassa_provider_requests_total{provider="klarna",outcome="ok"}') > 0, 'klarna calls counted');
    assert.ok(value(m, 'kassa_provider_request_duration_seconds_count{provider="klarna"}') > 0);
    assert.equal(value(m, 'kassa_provider_request_duration_seconds_bucket{provider="klarna",le="+Inf"}'),
      value(m, 'kassa_provider_request_duration_seconds_count{provider="klarna"}'));
    assert.ok(value(m, 'kassa_store_batch_size_count') > 0);
    assert.ok(value(m, 'kassa_store_commit_seconds_count') >= value(m, 'kassa_store_batch_size_count'));
    assert.ok(value(m, 'kassa_webhook_backlog') >= 1, 'the refused deliveries are pending');
    assert.ok(value(m, 'http_requests_total{route="pi_confirm",code="200"}') >= 1);
    assert.equal(value(m, 'kassa_gauges_up'), 1);
    assert.equal(value(m, 'kassa_authorizations_expiring_24h'), 0);

    // Two minutes later on the test clock the oldest delivery is at least that old; 12 hours
    // before the 28-day Klarna authorisation ends, it counts as expiring within 24 h.
    await k.advanceClock(120);
    m = await scrape();
    assert.ok(value(m, 'kassa_webhook_oldest_pending_age_seconds') >= 120, m.match(/^kassa_webhook.*$/gm).join('\n'));
    await k.advanceClock(28 * 86400 - 12 * 3600 - 120);
    await waitUntil(async () => value(await scrape(), 'kassa_authorizations_expiring_24h') === 1,
      { timeoutMs: 10000, what: 'one authorisation expiring within 24 h' });

    // promtool lints the exposition format (HELP and TYPE for every series, counters _total...).
    m = await scrape();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: m, encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);

    // The alert rules are valid and use only series Kassa serves (plus Prometheus' own `up`).
    const rules = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(rules.status, 0, rules.stdout + rules.stderr);
    const served = new Set([...m.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]));
    const used = new Set([...fs.readFileSync(RULES, 'utf8').matchAll(/\b((?:kassa|http)_[a-z0-9_]+)/g)]
      .map((x) => x[1].replace(/_(bucket|sum|count)$/, '')));
    for (const name of used) assert.ok(served.has(name), `the rules use ${name}, which /metrics does not serve`);

    // docs/operations.md lists every series.
    const doc = fs.readFileSync(OPS_DOC, 'utf8');
    for (const name of served) assert.ok(doc.includes(`\`${name}\``), `docs/operations.md does not list ${name}`);
  } finally {
    await hook.close();
    await k.stop();
  }
});
