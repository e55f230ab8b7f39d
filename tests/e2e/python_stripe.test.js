// A second official Stripe client against the real binary: Debian's python3-stripe runs
// tests/e2e/python/test_stripe_python.py (PaymentIntents, refunds, lists with auto-paging and
// created filters, checkout sessions and line items, webhooks verified with
// stripe.Webhook.construct_event, errors, idempotency). Each Python test becomes one subtest
// here, so scripts/test.sh's "N passed, M failed" counts them. The Python file's own output
// goes to tests/e2e/artifacts/python-stripe.out.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startKassa } = require('./harness');

const SCRIPT = path.join(__dirname, 'python', 'test_stripe_python.py');
const OUT = path.join(__dirname, 'artifacts', 'python-stripe.out');
const RUN_TIMEOUT_MS = 300000;
// Debian's interpreter, where apt puts python3-stripe (a pyenv or venv python3 on PATH lacks it).
const PYTHON = process.env.KASSA_PYTHON || '/usr/bin/python3';

let k;
before(async () => {
  k = await startKassa({ name: 'python-stripe' });
});
after(async () => {
  if (k) await k.stop();
});

function runPython() {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, KASSA_URL: k.url, KASSA_SIM_URL: k.simUrl,
      KASSA_SECRET_KEY: k.secretKey, PYTHONDONTWRITEBYTECODE: '1' };
    const p = spawn(PYTHON, [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), RUN_TIMEOUT_MS);
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { err += c; });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      fs.writeFileSync(OUT, `${out}\n--- stderr ---\n${err}`);
      resolve({ code, signal, out, err });
    });
  });
}

test('python3-stripe against Kassa', async (t) => {
  const probe = await new Promise((resolve) => {
    const p = spawn(PYTHON, ['-c', 'import stripe, requests; from stripe.version import VERSION; print(VERSION)']);
    let v = '';
    p.stdout.on('data', (c) => { v += c; });
    p.on('exit', (code) => resolve({ code, v: v.trim() }));
    p.on('error', () => resolve({ code: -1, v: '' }));
  });
  assert.equal(probe.code, 0, 'python3-stripe is installed (scripts/deps.sh --test)');
  const run = await runPython();
  const results = run.out.split('\n').filter((l) => l.startsWith('KASSA-PY '))
    .map((l) => JSON.parse(l.slice('KASSA-PY '.length)));
  assert.ok(results.length >= 15, `the Python suite reported ${results.length} tests; see ${OUT}`);
  for (const r of results) {
    await t.test(`python: ${r.name}`, () => {
      if (!r.ok) assert.fail(r.detail);
    });
  }
  assert.equal(run.code, 0, `python exited ${run.code} (signal ${run.signal}); see ${OUT}`);
});
