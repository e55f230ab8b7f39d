// The OpenAPI 3.1 document: `kassa openapi` generates it from the server's route table and a
// parameter table; the committed docs/openapi.json is that output, the server serves the same at
// /openapi.json, Redocly's validator finds neither error nor warning, every route is in it and
// every operation in it is a route, and every documented Stripe-dialect parameter is one the
// handler knows (sent to the real server: never "Received unknown parameter").
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT, startKassa, runCli } = require('./harness');

const COMMITTED = path.join(ROOT, 'docs', 'openapi.json');
const REDOCLY = path.join(ROOT, 'node_modules', '.bin', 'redocly');

function oaPath(pattern) {
  return pattern.replace(/\/:([^/]+)/g, '/{$1}').replace(/\/\*$/, '/{rest}');
}

test('docs/openapi.json is what kassa openapi generates, and /openapi.json serves it', async () => {
  const r = await runCli(['openapi']);
  assert.equal(r.code, 0, `kassa openapi: ${r.stderr}`);
  assert.equal(r.stdout, fs.readFileSync(COMMITTED, 'utf8'),
    'docs/openapi.json is stale: run `build/kassa openapi > docs/openapi.json`');
  const k = await startKassa({ name: 'openapi-serve', merchant: false });
  try {
    const res = await fetch(`${k.url}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/json/);
    assert.deepEqual(await res.json(), JSON.parse(r.stdout));
  } finally {
    await k.stop();
  }
});

test('Redocly validates it: no error, no warning', () => {
  const r = spawnSync(REDOCLY, ['lint', '--extends', 'recommended', COMMITTED],
    { encoding: 'utf8', timeout: 120000, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  assert.match(out, /Your API description is valid/);
  assert.doesNotMatch(out, /You have \d+ warnings?/, out);
});

test('every route is an operation and every operation a route', async () => {
  const doc = JSON.parse(fs.readFileSync(COMMITTED, 'utf8'));
  assert.equal(doc.openapi, '3.1.0');
  const r = await runCli(['openapi', '--routes']);
  assert.equal(r.code, 0, r.stderr);
  const routes = r.stdout.trim().split('\n').map((l) => l.split(' '));
  assert.ok(routes.length > 50, `${routes.length} routes`);
  const seen = new Set();
  for (const [method, pattern] of routes) {
    const op = (doc.paths[oaPath(pattern)] || {})[method.toLowerCase()];
    assert.ok(op, `route ${method} ${pattern} is not in the document`);
    assert.ok(!op['x-kassa-undocumented'], `route ${method} ${pattern} has no row in OA_DOCS`);
    seen.add(`${method.toLowerCase()} ${oaPath(pattern)}`);
  }
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item)) assert.ok(seen.has(`${m} ${p}`), `operation ${m} ${p} is no route`);
  }
  // Operation ids are unique (client generators name methods after them).
  const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  assert.equal(new Set(ids).size, ids.length);
});

test('documented Stripe-dialect parameters are the ones the handlers know', async () => {
  const doc = JSON.parse(fs.readFileSync(COMMITTED, 'utf8'));
  const k = await startKassa({ name: 'openapi-params' });
  try {
    const sample = (name, schema) => {
      if (schema.type === 'object') return `${name}[x]=1`;
      if (schema.type === 'array') return schema.items.type === 'object' ? `${name}[0][x]=1` : `${name}[]=a`;
      return `${name}=${encodeURIComponent(schema.enum ? schema.enum[0] : '1')}`;
    };
    const call = async (method, p, pair) => {
      const withIds = p.replace(/\{[^}]+\}/g, 'xx_nonexistent');
      if (method === 'get') return k.http('GET', `${withIds}?${pair}`);
      return k.http(method.toUpperCase(), withIds, { body: pair });
    };
    let checked = 0;
    for (const [p, item] of Object.entries(doc.paths)) {
      // The ECommPay face's settings extension does not refuse unknown parameters (it is not
      // one of the Stripe dialect's handlers): its parameters are not checked here.
      if (!p.startsWith('/v1/') || p.startsWith('/v1/kassa/ecommpay/')) continue;
      for (const [method, op] of Object.entries(item)) {
        const form = op.requestBody && op.requestBody.content['application/x-www-form-urlencoded'];
        const props = form ? Object.entries(form.schema.properties)
          : (op.parameters || []).filter((q) => q.in === 'query').map((q) => [q.name, q.schema]);
        if (props.length === 0) continue;
        // The check can fail: a name no handler knows is refused as unknown.
        const bogus = await call(method, p, 'zz_not_a_parameter=1');
        assert.equal(bogus.status, 400, `${method} ${p}: ${bogus.text}`);
        assert.match(bogus.json.error.message, /unknown parameter/i, `${method} ${p}`);
        for (const [name, schema] of props) {
          const res = await call(method, p, sample(name, schema));
          const msg = res.json && res.json.error ? res.json.error.message : '';
          assert.doesNotMatch(msg, /unknown parameter/i, `${method} ${p}: documented '${name}' is unknown to the handler`);
          checked++;
        }
      }
    }
    assert.ok(checked > 100, `${checked} parameters checked`);
  } finally {
    await k.stop();
  }
});
