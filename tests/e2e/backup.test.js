// kassa backup / kassa restore: an online backup under write load, restored into a new file and
// served again, holds every payment acknowledged before the backup began, whole; and each way
// of refusing (existing target, served database, hash mismatch, corrupt file, newer schema)
// refuses with a clear message and changes nothing. The periodic backup of `serve` writes
// verified backups and keeps only the newest `backup_keep`.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startKassa, runCli, waitUntil, newStripe } = require('./harness');

const PG = !!process.env.KASSA_E2E_PG_URL;

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

test('backup under write load, restore, serve: every acknowledged payment is there', { skip: PG && 'SQLite file backups' }, async () => {
  const k = await startKassa({ name: 'backup-load' });
  let k2 = null;
  try {
    const acked = new Map(); // id -> the object Kassa answered (2xx: durable)
    const cancelSent = new Set(); // a cancel may land after the backup began, before its snapshot
    let stop = false;
    let n = 0;
    async function writer(w) {
      while (!stop) {
        const i = n++;
        const pi = await k.stripe.paymentIntents.create({
          amount: 1000 + i, currency: 'eur', payment_method_types: ['klarna'],
          metadata: { order: `o-${w}-${i}` },
        });
        acked.set(pi.id, { pi, at: process.hrtime.bigint() });
        if (i % 5 === 0) {
          cancelSent.add(pi.id);
          const c = await k.stripe.paymentIntents.cancel(pi.id);
          acked.set(pi.id, { pi: c, at: process.hrtime.bigint() });
        }
      }
    }
    const writers = [0, 1, 2, 3].map(writer);
    await waitUntil(() => acked.size >= 100, { timeoutMs: 30000, what: '100 payments written' });

    const began = process.hrtime.bigint();
    const before = new Map([...acked].filter(([, v]) => v.at < began));
    const to = path.join(k.dir, 'backup-1.db');
    const r = await runCli(['backup', '--db', k.dbPath, '--to', to]);
    const sizeAfter = acked.size;
    stop = true;
    await Promise.all(writers);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(sizeAfter > before.size, 'writes went on while the backup ran');
    assert.equal(out.sha256, sha256(to));
    assert.equal(fs.readFileSync(`${to}.sha256`, 'utf8'), `${out.sha256}  backup-1.db\n`);
    assert.ok(out.payments >= before.size, `${out.payments} payments checked, ${before.size} acknowledged`);

    // Restore into a fresh database and serve it.
    k2 = await startKassa({ name: 'backup-restored', merchant: false });
    await k2.stop();
    const rr = await runCli(['restore', '--from', to, '--db', k2.dbPath]);
    assert.equal(rr.code, 0, rr.stderr);
    const ro = JSON.parse(rr.stdout);
    assert.equal(ro.payments, out.payments);
    assert.ok(ro.previous && fs.existsSync(ro.previous), 'the replaced database is kept');
    // The key file is kept apart from backups (docs/operations.md): the operator puts the
    // original back beside the restored database, or its merchants' keys do not authenticate.
    fs.copyFileSync(path.join(path.dirname(k.dbPath), 'kassa.key'), path.join(path.dirname(k2.dbPath), 'kassa.key'));
    await k2.restart();
    const s2 = newStripe(k.secretKey, k2.url);
    for (const [id, { pi }] of before) {
      const got = await s2.paymentIntents.retrieve(id);
      for (const f of ['amount', 'currency', 'created', 'client_secret', 'metadata']) {
        assert.deepEqual(got[f], pi[f], `${id}.${f}`);
      }
      // The state acknowledged before the backup began, or a later one the backup's snapshot
      // caught: the cancel that was on its way.
      const later = cancelSent.has(id) && got.status === 'canceled';
      assert.ok(got.status === pi.status || later, `${id}.status ${got.status}, acknowledged ${pi.status}`);
    }
  } finally {
    if (k2) await k2.stop();
    await k.stop();
  }
});

test('backup and restore refuse, and change nothing', { skip: PG && 'SQLite file backups' }, async () => {
  const k = await startKassa({ name: 'backup-refuse' });
  try {
    await k.stripe.paymentIntents.create({ amount: 500, currency: 'eur', payment_method_types: ['klarna'] });
    const to = path.join(k.dir, 'b.db');
    assert.equal((await runCli(['backup', '--db', k.dbPath, '--to', to])).code, 0);
    const good = sha256(to);

    // An existing target.
    let r = await runCli(['backup', '--db', k.dbPath, '--to', to]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists already/);
    assert.equal(sha256(to), good);

    // PostgreSQL goes to its own tools; no target given.
    r = await runCli(['backup', '--db', 'postgresql://u@127.0.0.1:1/x', '--to', path.join(k.dir, 'pg.db')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pg_basebackup/);
    r = await runCli(['backup', '--db', k.dbPath]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--to FILE is required/);

    // Onto the database the running server holds.
    const served = sha256(k.dbPath);
    r = await runCli(['restore', '--from', to, '--db', k.dbPath]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /in use by a running kassa serve \(pid \d+/);
    assert.match(r.stderr, /nothing was changed/);
    assert.equal(sha256(k.dbPath), served);

    const target = path.join(k.dir, 'target.db');
    fs.writeFileSync(target, 'the operator\'s current database');
    const targetSha = sha256(target);
    async function refused(file, re) {
      const res = await runCli(['restore', '--from', file, '--db', target]);
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, re);
      assert.equal(sha256(target), targetSha, 'the target is untouched');
      assert.ok(!fs.existsSync(`${target}.restoring`));
    }

    // Hash mismatch: one byte more.
    const bad = path.join(k.dir, 'bad.db');
    fs.copyFileSync(to, bad);
    fs.copyFileSync(`${to}.sha256`, `${bad}.sha256`);
    fs.appendFileSync(bad, 'x');
    await refused(bad, /does not match .*the file changed/);

    // No .sha256 beside it.
    fs.unlinkSync(`${bad}.sha256`);
    await refused(bad, /no readable .*\.sha256/);

    // Corrupt pages with a matching hash (someone recomputed it): integrity_check refuses.
    const corrupt = path.join(k.dir, 'corrupt.db');
    const bytes = fs.readFileSync(to);
    for (let i = 4096 + 100; i < bytes.length; i += 97) bytes[i] ^= 0x5a;
    fs.writeFileSync(corrupt, bytes);
    fs.writeFileSync(`${corrupt}.sha256`, `${sha256(corrupt)}  corrupt.db\n`);
    await refused(corrupt, /integrity_check|not a sound|not an SQLite|not a Kassa|malformed/);

    // A schema newer than this binary's.
    const newer = path.join(k.dir, 'newer.db');
    fs.copyFileSync(to, newer);
    execFileSync('sqlite3', [newer, 'INSERT INTO schema_version(version, applied_ms) VALUES(99, 0)']);
    fs.writeFileSync(`${newer}.sha256`, `${sha256(newer)}  newer.db\n`);
    await refused(newer, /schema version 99, newer than this kassa's \d+/);

    // Money that breaks the invariants (captured above authorised): refused by pay_check.
    const broken = path.join(k.dir, 'broken.db');
    fs.copyFileSync(to, broken);
    execFileSync('sqlite3', [broken, "UPDATE objects SET body = json_set(body, '$.captured', 999999) WHERE kind = 'payment_intent'"]);
    fs.writeFileSync(`${broken}.sha256`, `${sha256(broken)}  broken.db\n`);
    await refused(broken, /breaks the money invariants/);
  } finally {
    await k.stop();
  }
});

test('serve: periodic verified backups, the newest backup_keep kept', { skip: PG && 'SQLite file backups' }, async () => {
  const k = await startKassa({ name: 'backup-periodic', args: ['--backup-dir', 'backups', '--backup-interval-s', '1', '--backup-keep', '2'] });
  try {
    await k.stripe.paymentIntents.create({ amount: 700, currency: 'eur', payment_method_types: ['klarna'] });
    const dir = path.join(k.dir, 'backups');
    const metric = async () => {
      const text = await (await fetch(`${k.url}/metrics`)).text();
      const m = text.match(/^kassa_backup_total\{result="ok"\} (\d+)$/m);
      return m ? Number(m[1]) : 0;
    };
    await waitUntil(async () => (await metric()) >= 4, { timeoutMs: 30000, what: '4 periodic backups' });
    await k.stop(); // waits for a backup under way and its pruning
    const files = fs.readdirSync(dir).sort();
    const dbs = files.filter((f) => f.endsWith('.db'));
    assert.equal(dbs.length, 2, files.join(' '));
    for (const f of dbs) {
      const line = fs.readFileSync(path.join(dir, `${f}.sha256`), 'utf8');
      assert.equal(line, `${sha256(path.join(dir, f))}  ${f}\n`);
    }
  } finally {
    await k.stop(); // a no-op when stopped above
  }
});
