// The Debian package: `make deb` builds kassa_<version>_amd64.deb, lintian finds nothing
// (errors or warnings), it installs with dpkg -i (the kassa system user, /var/lib/kassa,
// /etc/kassa/kassa.conf root:kassa 0640 as a conffile, the hardened unit), the binary starts
// the way the unit starts it and answers /healthz, reloads on SIGHUP, stops on SIGTERM with
// exit 0, and the package purges cleanly. When systemd is not PID 1 (containers, CI sandboxes)
// the unit's ExecStart runs by hand as its User with no new privileges (setpriv, as systemd's
// NoNewPrivileges= does); the unit itself is checked with `systemd-analyze verify`.
// Skipped only where dpkg is absent.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { ROOT, waitUntil, sleep } = require('./harness');

const HAS_DPKG = spawnSync('dpkg', ['--version']).status === 0;
const SUDO = process.getuid && process.getuid() !== 0 ? ['sudo', '-n'] : [];

function run(cmd, args, { ok = true, timeout = 180000, cwd = ROOT } = {}) {
  const full = [...SUDO, cmd, ...args];
  const r = spawnSync(full[0], full.slice(1), { cwd, encoding: 'utf8', timeout, maxBuffer: 32 << 20 });
  if (ok && r.status !== 0) {
    throw new Error(`${full.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

// dpkg refuses while another dpkg/apt holds its lock (a shared machine): wait and retry.
async function dpkg(args) {
  for (let i = 0; ; i++) {
    const r = run('dpkg', args, { ok: false });
    if (r.status === 0) return r;
    if (!/lock/i.test(r.stderr) || i >= 60) throw new Error(`dpkg ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    await sleep(1000);
  }
}

/** mtime of the newest file the package is built from. */
function newestSource() {
  let newest = 0;
  const walk = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'debian', 'scripts/manpage.sh', 'Makefile']) walk(path.join(ROOT, p));
  return newest;
}

function unitValue(unit, key) {
  const m = unit.match(new RegExp(`^${key}=(.*)$`, 'm'));
  return m ? m[1] : null;
}

test('make deb: lintian-clean, installs, runs as kassa, answers /healthz, purges', { skip: !HAS_DPKG && 'dpkg is absent', timeout: 300000 }, async (t) => {
  const version = run('dpkg-parsechangelog', ['-S', 'Version']).stdout.trim();
  const deb = path.join(ROOT, 'build-deb', `kassa_${version}_amd64.deb`);
  // scripts/test.sh builds the package just before; a standalone run (or a stale package)
  // builds it here.
  if (!fs.existsSync(deb) || fs.statSync(deb).mtimeMs < newestSource()) run('make', ['deb']);
  assert.ok(fs.existsSync(deb), deb);

  // lintian: no error and no warning (the one deliberate exception is overridden in the package).
  // It only reads the .deb, so it runs while the package is installed and started below.
  const lint = new Promise((resolve) => {
    const full = [...SUDO, 'lintian', '--fail-on', 'error,warning', deb];
    const p = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { out += c; });
    p.on('exit', (status) => resolve({ status, out }));
  });

  const listing = run('dpkg-deb', ['-c', deb]).stdout;
  assert.match(listing, /^-rw-r----- root\/root .* \.\/etc\/kassa\/kassa\.conf$/m);
  assert.match(listing, /\.\/usr\/bin\/kassa$/m);
  assert.match(listing, /\.\/usr\/share\/man\/man1\/kassa\.1\.gz$/m);
  assert.match(listing, /\.\/lib\/systemd\/system\/kassa\.service$/m);
  assert.match(run('dpkg-deb', ['-I', deb, 'conffiles']).stdout, /^\/etc\/kassa\/kassa\.conf$/m);

  const userBefore = run('getent', ['passwd', 'kassa'], { ok: false }).status === 0;
  const stateBefore = fs.existsSync('/var/lib/kassa');
  if (run('dpkg', ['-s', 'kassa'], { ok: false }).status === 0) await dpkg(['--purge', 'kassa']);
  let proc = null;
  try {
    await dpkg(['-i', deb]);

    // The man page is generated from the binary's help: every configuration key is in it.
    const help = run('/usr/bin/kassa', ['serve', '--help']).stdout;
    const keys = [...help.matchAll(/^ {2}([a-z_0-9]+) {2,}/gm)].map((m) => m[1]);
    assert.ok(keys.length >= 10, help);
    const man = run('sh', ['-c', 'zcat /usr/share/man/man1/kassa.1.gz']).stdout;
    for (const k of keys) assert.ok(man.includes(`.B ${k.replace(/-/g, '\\-')}\n`), `man page lacks ${k}`);

    // The system user, the state directory, the configuration root:kassa 0640.
    const pw = run('getent', ['passwd', 'kassa']).stdout.split(':');
    assert.ok(Number(pw[2]) < 1000, `kassa is a system user (uid ${pw[2]})`);
    assert.equal(pw[5], '/var/lib/kassa');
    const st = run('stat', ['-c', '%U:%G %a', '/var/lib/kassa', '/etc/kassa/kassa.conf']).stdout.trim().split('\n');
    assert.equal(st[0], 'kassa:kassa 750');
    assert.equal(st[1], 'root:kassa 640');

    // The unit: hardening as asked, and systemd's own verifier.
    const unit = fs.readFileSync('/lib/systemd/system/kassa.service', 'utf8');
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes',
      'ReadWritePaths=/var/lib/kassa', 'CapabilityBoundingSet=', 'SystemCallFilter=@system-service',
      'User=kassa', 'KillSignal=SIGTERM', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      assert.ok(unit.split('\n').includes(line), `unit lacks ${line}`);
    }
    if (spawnSync('systemd-analyze', ['--version']).status === 0) {
      const v = run('systemd-analyze', ['verify', '/lib/systemd/system/kassa.service'], { ok: false });
      assert.equal(v.status, 0, `systemd-analyze verify: ${v.stdout}${v.stderr}`);
    }

    // Start it the way the unit does: its ExecStart, as its User, in its WorkingDirectory, no new
    // privileges. Ports: 0 instead of the configured fixed ones (tests never bind fixed ports).
    const pid1 = fs.readFileSync('/proc/1/comm', 'utf8').trim();
    t.diagnostic(`PID 1 is ${pid1}: ExecStart is run by hand with setpriv as the unit's User`);
    const exec = unitValue(unit, 'ExecStart').split(' ');
    const args = [`--reuid=${unitValue(unit, 'User')}`, `--regid=${unitValue(unit, 'Group')}`, '--init-groups',
      '--no-new-privs', '--', ...exec, '--listen', '127.0.0.1:0', '--sim-listen', '127.0.0.1:0'];
    const full = [...SUDO, 'setpriv', ...args];
    proc = spawn(full[0], full.slice(1), { cwd: unitValue(unit, 'WorkingDirectory'), env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => { out += c; });
    proc.stderr.on('data', (c) => { err += c; });
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    const ready = await waitUntil(() => out.match(/^kassa ready (\{.*\})$/m), { timeoutMs: 20000, what: `ready line (stderr: ${err})` });
    const { url } = JSON.parse(ready[1]);
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal(run('stat', ['-c', '%U', '/var/lib/kassa/kassa.db']).stdout.trim(), 'kassa');

    // Reload: log_level changes without a restart.
    const conf = '/etc/kassa/kassa.conf';
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('log_level = info', 'log_level = debug'));
    process.kill(proc.pid, 'SIGHUP');
    await waitUntil(() => err.includes("reload: log_level is 'debug'"), { timeoutMs: 10000, what: 'reload' });
    assert.equal((await fetch(`${url}/healthz`)).status, 200);

    process.kill(proc.pid, 'SIGTERM');
    const how = await Promise.race([exited, sleep(20000).then(() => null)]);
    assert.deepEqual(how, { code: 0, signal: null }, `stopped on SIGTERM: ${err.slice(-2000)}`);
    proc = null;

    const l = await lint;
    assert.equal(l.status, 0, l.out);
    assert.doesNotMatch(l.out, /^[EW]: /m, l.out);
  } finally {
    if (proc) proc.kill('SIGKILL');
    await lint; // never leave it running
    await dpkg(['--purge', 'kassa']);
    assert.ok(!fs.existsSync('/usr/bin/kassa'), 'binary removed');
    assert.ok(!fs.existsSync('/etc/kassa'), 'configuration removed on purge');
    assert.equal(run('dpkg-statoverride', ['--list', '/etc/kassa/kassa.conf'], { ok: false }).status, 1);
    // The payment database and the user are kept by purge on purpose (postrm); a test
    // leaves the machine as it found it.
    if (!stateBefore) run('rm', ['-rf', '/var/lib/kassa']);
    if (!userBefore) {
      run('userdel', ['kassa'], { ok: false });
      run('groupdel', ['kassa'], { ok: false });
    }
  }
});
