// kassa serve under a service manager: SIGHUP re-reads the configuration (log_level at once, other
// keys named as needing a restart, a broken file refused with the running configuration kept),
// SIGTERM stops it with exit 0, and a second serve on the same SQLite file is refused while the
// first holds it (the lock restore also checks).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startKassa, waitUntil, runCli, KASSA_BIN } = require('./harness');

test('SIGHUP reloads what can be reloaded; a second serve on the same file is refused', { skip: !!process.env.KASSA_E2E_PG_URL && 'SQLite lock' }, async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'kassa-e2e-service-'));
  const conf = path.join(dir, 'kassa.conf');
  fs.writeFileSync(conf, 'log_level = info\nworkers = 8\n');
  const k = await startKassa({ name: 'service', merchant: false, args: ['--config', conf] });
  try {
    fs.writeFileSync(conf, 'log_level = debug\nworkers = 9\n');
    k.proc.kill('SIGHUP');
    await waitUntil(() => k.stderrTail.includes("reload: log_level is 'debug'"), { what: 'the reload' });
    assert.match(k.stderrTail, /reload: 'workers' changed; it takes effect at the next restart/);
    fs.writeFileSync(conf, 'log_level = loud\n');
    k.proc.kill('SIGHUP');
    await waitUntil(() => k.stderrTail.includes("not 'loud'; kept 'debug'"), { what: 'the refused reload' });
    fs.writeFileSync(conf, 'no such key = 1\n');
    k.proc.kill('SIGHUP');
    await waitUntil(() => k.stderrTail.includes('reload: the configuration is refused'), { what: 'the refused file' });
    assert.equal((await fetch(`${k.url}/healthz`)).status, 200, 'still serving');

    const second = await runCli(['serve', '--db', k.dbPath, '--listen', '127.0.0.1:0', '--sim-listen', 'off'], { bin: KASSA_BIN, timeoutMs: 15000 });
    assert.equal(second.code, 1);
    assert.match(second.stderr, /is in use by a running kassa serve \(pid \d+/);
  } finally {
    await k.stop(); // SIGTERM: exit 0 is asserted by the harness
  }
});
