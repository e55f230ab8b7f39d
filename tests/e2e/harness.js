// Shared harness for Kassa's end-to-end tests: starts the real `kassa` binary in a fresh
// temporary directory (port 0, test clock on), creates a merchant with the CLI, and hands
// back an official `stripe` client pointed at it. Also a webhook receiver that records raw
// bodies and can refuse the first N deliveries. KASSA_E2E_PG_URL=postgresql://... (opt-in) runs
// kassa on PostgreSQL instead of SQLite: each startKassa creates its own database there.
'use strict';

const { spawn, execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const Stripe = require('stripe');

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = process.env.KASSA_E2E_ARTIFACTS || path.join(__dirname, 'artifacts');
const READY_PREFIX = 'kassa ready ';
const READY_TIMEOUT_MS = 60000; // generous: a loaded 2-core machine starts an ASan binary slowly
const STOP_TIMEOUT_MS = 20000;
const STDERR_KEEP = 256 * 1024; // tail of stderr kept in memory for failure messages

function binPath(envName, fallback) {
  const p = process.env[envName] || fallback;
  return path.isAbsolute(p) ? p : path.join(ROOT, p);
}

/** The binary under test: KASSA_BIN (default build-asan/kassa), relative to the repo root. */
const KASSA_BIN = binPath('KASSA_BIN', 'build-asan/kassa');
/** The release binary (for the crash test): KASSA_RELEASE_BIN (default build/kassa). */
const KASSA_RELEASE_BIN = binPath('KASSA_RELEASE_BIN', 'build/kassa');

const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
  'UndefinedBehaviorSanitizer', 'AddressSanitizer:DEADLYSIGNAL'];

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll fn() until it returns a truthy value; throws with `what` after timeoutMs. */
async function waitUntil(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Run `kassa ARGS...`; resolves {code, stdout, stderr} (never rejects on exit code). */
function runCli(args, { bin = KASSA_BIN, env = {}, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          if (err.killed) return reject(new Error(`kassa ${args.join(' ')}: killed after ${timeoutMs} ms\n${stderr}`));
          if (err.code === 'ENOENT') return reject(new Error(`kassa binary not found: ${bin}`));
          if (err.signal) return resolve({ code: null, signal: err.signal, stdout, stderr });
          return reject(err);
        }
        resolve({ code: err ? err.code : 0, signal: null, stdout, stderr });
      });
  });
}

function sanitizerReport(text) {
  return SANITIZER_MARKS.some((m) => text.includes(m));
}

function newStripe(secretKey, url) {
  const u = new URL(url);
  return new Stripe(secretKey, {
    host: u.hostname,
    port: Number(u.port),
    protocol: 'http',
    maxNetworkRetries: 0,
    timeout: 30000,
  });
}

/** CREATE DATABASE kassa_<random> on the server at baseUrl (with psql); returns its URL. */
function createPgDatabase(baseUrl) {
  const db = `kassa_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  execFileSync('psql', [baseUrl, '-v', 'ON_ERROR_STOP=1', '-qAtc', `CREATE DATABASE ${db}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const u = new URL(baseUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

function safeName(name) {
  return String(name).replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/**
 * Start kassa. Options: name (artifact log name), bin, env (extra env), args (extra serve args),
 * merchant (default true: create one with the CLI; false: none), db (a --db to share with
 * other nodes, e.g. one PostgreSQL URL for several; default: a database of its own).
 * Returns the handle described in the file comment; its url/stripe change on restart().
 */
async function startKassa(opts = {}) {
  const name = safeName(opts.name || 'kassa');
  const bin = opts.bin || KASSA_BIN;
  if (!fs.existsSync(bin)) throw new Error(`kassa binary not found: ${bin} (build it: make asan / make)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kassa-e2e-${name}-`));
  const dbPath = opts.dbPath || path.join(dir, 'kassa.db'); // opts.dbPath: a file elsewhere (a small disk)
  // Opt-in: KASSA_E2E_PG_URL names a PostgreSQL server (tests/pg_server.sh start); each
  // startKassa then gets a database of its own there. SQLite stays the default.
  const dbArg = opts.db
    || (process.env.KASSA_E2E_PG_URL ? createPgDatabase(process.env.KASSA_E2E_PG_URL) : dbPath);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const logPath = path.join(ARTIFACTS, `${name}.log`);
  fs.writeFileSync(logPath, '');
  // Tests reach their receivers on loopback and drive one merchant hard: the SSRF guard's
  // development switch is on and the per-merchant rate limit off unless a test says otherwise.
  const env = {
    ...process.env, KASSA_TEST_CLOCK: '1', KASSA_DEV_ALLOW_LOOPBACK: '1', KASSA_RATE_LIMIT_PER_S: '0',
    KASSA_QUEUE_WAIT_MS: '60000', // an ASan build on a loaded machine must not be shed by the queue deadline
    ...(opts.env || {}),
  };

  const k = {
    dir, dbPath, dbUrl: dbArg, logPath, bin, url: null, simUrl: null, stripe: null, secretKey: null,
    publishableKey: null, merchant: null, proc: null, stderrTail: '', exits: [],
  };
  let life = 0;

  function launch() {
    return new Promise((resolve, reject) => {
      const myLife = ++life;
      const args = ['serve', '--listen', '127.0.0.1:0', '--db', dbArg, '--sim-listen', '127.0.0.1:0',
        ...(opts.args || [])];
      fs.appendFileSync(logPath, `\n=== harness: start #${myLife}: ${bin} ${args.join(' ')}\n`);
      const proc = spawn(bin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      k.proc = proc;
      const logStream = fs.createWriteStream(logPath, { flags: 'a' });
      let out = '';
      let ready = false;
      const timer = setTimeout(() => {
        if (ready) return;
        proc.kill('SIGKILL');
        reject(new Error(`kassa did not print its ready line within ${READY_TIMEOUT_MS} ms; stderr:\n${k.stderrTail}`));
      }, READY_TIMEOUT_MS);
      proc.stderr.on('data', (c) => {
        logStream.write(c);
        k.stderrTail = (k.stderrTail + c.toString('utf8')).slice(-STDERR_KEEP);
      });
      proc.stdout.on('data', (c) => {
        logStream.write(c);
        if (ready) return;
        out += c.toString('utf8');
        const lines = out.split('\n');
        out = lines.pop(); // partial line
        for (const line of lines) {
          if (!line.startsWith(READY_PREFIX)) continue;
          let info;
          try {
            info = JSON.parse(line.slice(READY_PREFIX.length));
          } catch (e) {
            clearTimeout(timer);
            proc.kill('SIGKILL');
            reject(new Error(`ready line is not "kassa ready <json>": ${JSON.stringify(line)}`));
            return;
          }
          ready = true;
          clearTimeout(timer);
          k.url = info.url;
          k.simUrl = info.sim_url;
          resolve(info);
          return;
        }
      });
      proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.on('exit', (code, signal) => {
        k.exits.push({ life: myLife, code, signal });
        logStream.end(`\n=== harness: exit #${myLife}: code=${code} signal=${signal}\n`);
        if (!ready) {
          clearTimeout(timer);
          reject(new Error(`kassa exited (code ${code}, signal ${signal}) before it was ready; stderr:\n${k.stderrTail}`));
        }
      });
    });
  }

  function waitExit(proc, ms) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), ms);
      proc.once('exit', (code, signal) => {
        clearTimeout(t);
        resolve({ code, signal });
      });
    });
  }

  /** Graceful stop: SIGTERM; throws unless kassa exits 0 with no sanitizer report. */
  k.stop = async function stop() {
    const proc = k.proc;
    if (!proc) return null;
    k.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const res = await waitExit(proc, STOP_TIMEOUT_MS);
    if (!res) {
      proc.kill('SIGKILL');
      await waitExit(proc, 5000);
      throw new Error(`kassa did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; stderr tail:\n${k.stderrTail.slice(-4000)}`);
    }
    if (sanitizerReport(k.stderrTail)) throw new Error(`sanitizer report in kassa's stderr (see ${logPath}):\n${k.stderrTail.slice(-8000)}`);
    if (res.code !== 0) throw new Error(`kassa exited with code ${res.code} signal ${res.signal} after SIGTERM; stderr tail:\n${k.stderrTail.slice(-4000)}`);
    return res;
  };

  /** kill -9 the server (no graceful shutdown). */
  k.kill9 = async function kill9() {
    const proc = k.proc;
    if (!proc) return;
    k.proc = null;
    proc.kill('SIGKILL');
    await waitExit(proc, STOP_TIMEOUT_MS);
    if (sanitizerReport(k.stderrTail)) throw new Error(`sanitizer report in kassa's stderr (see ${logPath}):\n${k.stderrTail.slice(-8000)}`);
  };

  /** Start again on the same database (after stop() or kill9()); url and stripe are renewed. */
  k.restart = async function restart() {
    if (k.proc) await k.stop();
    await launch();
    if (k.secretKey) k.stripe = newStripe(k.secretKey, k.url);
    return k;
  };

  /** Create a merchant with the CLI on this database; returns its JSON. */
  k.createMerchant = async function createMerchant(merchantName) {
    const r = await runCli(['merchant', 'create', '--name', merchantName, '--db', dbArg], { bin, env });
    if (r.code !== 0) throw new Error(`kassa merchant create exited ${r.code}:\n${r.stderr}`);
    try {
      return JSON.parse(r.stdout);
    } catch (e) {
      throw new Error(`kassa merchant create printed no JSON: ${JSON.stringify(r.stdout)}`);
    }
  };

  /** A stripe client for another key on this server. */
  k.stripeFor = (secretKey) => newStripe(secretKey, k.url);

  /** Plain HTTP to kassa: {status, headers, text, json}. Auth with the merchant key unless auth given. */
  k.http = async function rawHttp(method, urlPath, { body, headers = {}, auth } = {}) {
    const h = { ...headers };
    const key = auth === undefined ? k.secretKey : auth;
    if (key) h.Authorization = `Bearer ${key}`;
    if (body !== undefined && !Object.keys(h).some((x) => x.toLowerCase() === 'content-type')) {
      h['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(k.url + urlPath, { method, headers: h, body });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch (e) { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
  };

  /** Move kassa's test clock forward; returns kassa's new now (unix s). */
  k.advanceClock = async function advanceClock(seconds) {
    const res = await fetch(`${k.url}/_test/clock/advance`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `seconds=${seconds}`,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`/_test/clock/advance answered ${res.status}: ${text}`);
    const j = JSON.parse(text);
    if (typeof j.now !== 'number') throw new Error(`/_test/clock/advance answered without now: ${text}`);
    return j.now;
  };

  await launch();
  if (opts.merchant !== false) {
    try {
      k.merchant = await k.createMerchant(`${name} shop`);
    } catch (e) {
      await k.kill9().catch(() => {});
      throw e;
    }
    k.secretKey = k.merchant.secret_key;
    k.publishableKey = k.merchant.publishable_key;
    k.stripe = newStripe(k.secretKey, k.url);
  }
  return k;
}

/**
 * Webhook receiver on 127.0.0.1:0. Records every request (raw body as string, lowercase
 * headers). `refuseFirst` (mutable) = number of upcoming requests answered with `refuseStatus`.
 */
async function startReceiver({ refuseFirst = 0, refuseStatus = 500 } = {}) {
  const r = { requests: [], refuseFirst, refuseStatus, url: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let status = 200;
      if (r.refuseFirst > 0) {
        r.refuseFirst -= 1;
        status = r.refuseStatus;
      }
      r.requests.push({ at: Date.now(), method: req.method, url: req.url, headers: req.headers, body, status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'refused by test receiver');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${server.address().port}/hook`;
  /** Requests answered 2xx. */
  r.accepted = () => r.requests.filter((q) => q.status < 300);
  /** Parsed events of the accepted requests. */
  r.events = () => r.accepted().map((q) => JSON.parse(q.body));
  r.waitFor = (pred, timeoutMs = 10000, what = 'webhook deliveries') =>
    waitUntil(() => pred(r), { timeoutMs, what });
  r.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

/** Assert that fn() rejects with a Stripe error; returns the error for field checks. */
async function stripeError(promise) {
  try {
    const v = await promise;
    throw Object.assign(new Error(`expected a Stripe error, got a result: ${JSON.stringify(v).slice(0, 500)}`),
      { notStripe: true });
  } catch (e) {
    if (e.notStripe) throw e;
    if (!(e instanceof Stripe.errors.StripeError)) throw e;
    return e;
  }
}

/** A free TCP port on 127.0.0.1 (for a server that must come back on the same port). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The provider simulators as their own process (`kassa sim`), so they outlive a Kassa that
 * dies: resolves {proc, url}. */
function startSim(bin = KASSA_RELEASE_BIN) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['sim', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL'); // a child left running would keep the test file from ending
      reject(new Error('kassa sim did not print its ready line'));
    }, READY_TIMEOUT_MS);
    proc.stdout.on('data', (c) => {
      out += c.toString('utf8');
      const m = out.match(/^kassa sim ready (\{.*\})$/m);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: JSON.parse(m[1]).url });
      }
    });
    proc.on('error', reject);
  });
}

module.exports = {
  ROOT, KASSA_BIN, KASSA_RELEASE_BIN, Stripe, startKassa, startReceiver, runCli, waitUntil, sleep,
  stripeError, newStripe, freePort, startSim, createPgDatabase,
};
