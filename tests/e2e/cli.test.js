// The kassa command line: version, help, merchant create, bad options (exit 2), and clear
// failures for an invalid --listen address and an unknown config key.
'use strict';

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runCli } = require('./harness');

describe('cli', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-e2e-cli-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('kassa version exits 0 and prints a version', async () => {
    const r = await runCli(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kassa/i);
    assert.match(r.stdout, /\d+\.\d+/);
  });

  it('kassa --help and kassa serve --help exit 0 with usage', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, top.stderr);
    const topText = top.stdout + top.stderr;
    assert.match(topText, /usage/i);
    for (const cmd of ['serve', 'merchant']) assert.ok(topText.includes(cmd), `--help mentions ${cmd}`);
    const serve = await runCli(['serve', '--help']);
    assert.equal(serve.code, 0, serve.stderr);
    const serveText = serve.stdout + serve.stderr;
    for (const opt of ['--listen', '--db', '--sim-listen', '--config', '--sandbox']) {
      assert.ok(serveText.includes(opt), `serve --help mentions ${opt}`);
    }
  });

  it('unknown options and commands exit 2 with a message', async () => {
    for (const args of [['--frobnicate'], ['serve', '--frobnicate'], ['merchant', 'create', '--frobnicate', 'x'], ['no-such-command']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `kassa ${args.join(' ')} -> ${r.code}`);
      assert.ok(r.stderr.trim().length > 0, `kassa ${args.join(' ')} explains itself on stderr`);
    }
  });

  it('merchant create prints one JSON object with keys', async () => {
    const db = path.join(dir, 'm.db');
    const r = await runCli(['merchant', 'create', '--name', 'Blumen Müller', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.match(m.id, /^acct_/);
    assert.equal(m.name, 'Blumen Müller');
    assert.match(m.secret_key, /^sk_test_./);
    assert.match(m.publishable_key, /^pk_test_./);
    assert.ok(Number.isInteger(m.ecp_project_id), 'ecp_project_id is an integer');
    assert.equal(typeof m.ecp_secret, 'string');
    assert.ok(m.ecp_secret.length >= 16);
    const r2 = await runCli(['merchant', 'create', '--name', 'Second', '--db', db]);
    assert.equal(r2.code, 0, r2.stderr);
    const m2 = JSON.parse(r2.stdout);
    assert.notEqual(m2.id, m.id);
    assert.notEqual(m2.secret_key, m.secret_key);
    assert.notEqual(m2.ecp_project_id, m.ecp_project_id);
  });

  it('merchant create without --name fails', async () => {
    const r = await runCli(['merchant', 'create', '--db', path.join(dir, 'n.db')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /name/);
  });

  it('serve with an invalid --listen fails with a clear message', async () => {
    for (const listen of ['not-an-address', '127.0.0.1:99999', '127.0.0.1:']) {
      const r = await runCli(['serve', '--listen', listen, '--db', path.join(dir, 'l.db'), '--sim-listen', 'off'], { timeoutMs: 15000 });
      assert.notEqual(r.code, 0, `--listen ${listen} must fail`);
      assert.ok(r.stderr.includes(listen) || /listen/i.test(r.stderr), `message names the listen address: ${r.stderr}`);
      assert.ok(!/kassa ready/.test(r.stdout));
    }
  });

  it('a config file with an unknown key fails naming the key', async () => {
    const cfg = path.join(dir, 'bad.conf');
    fs.writeFileSync(cfg, 'no_such_setting_xyz = 1\n');
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', path.join(dir, 'c.db'), '--sim-listen', 'off', '--config', cfg], { timeoutMs: 15000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no_such_setting_xyz/);
    assert.ok(!/kassa ready/.test(r.stdout));
  });

  it('a missing config file fails', async () => {
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', path.join(dir, 'c2.db'), '--sim-listen', 'off', '--config', path.join(dir, 'absent.conf')], { timeoutMs: 15000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /absent\.conf/);
  });
});
