// What the back-office tests share: an RFC 6238 TOTP written here independently of the C
// code, Debian's Chromium through playwright-core, screenshots at 1280x800 and 390x844 in
// tests/e2e/artifacts/, axe-core evaluated past the pages' CSP, and the two-step sign-in.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const AXE_SRC = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let acc = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    acc = (acc << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = mac[19] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1000000).padStart(6, '0');
}
/** A code not used before by this user: the current step, or the next (the server allows ±1).
 * user.clockOffsetS: how far the server's test clock was moved forward. */
function nextCode(user) {
  const now = Math.floor((Date.now() / 1000 + (user.clockOffsetS || 0)) / 30);
  const step = Math.max(now, (user.lastStep || 0) + 1);
  assert.ok(step <= now + 1, 'at most two sign-ins of one user per 30 s in this test');
  user.lastStep = step;
  return totp(user.totp_secret, step);
}

/** A fresh profile; opts.acceptDownloads, opts.timeoutMs (default 15 s). */
async function browser(viewport = { width: 1280, height: 800 }, opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, locale: 'en-GB', viewport,
    acceptDownloads: Boolean(opts.acceptDownloads),
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(opts.timeoutMs || 15000);
  return {
    page,
    async close() {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** shot(page, name) and shots(page, name) writing <prefix>-<name>[-1280|-390].png;
 * settleMs: a pause after the resize to 390 px (charts redraw through a resize observer). */
function screenshots(prefix, { settleMs = 0 } = {}) {
  async function shot(page, name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `${prefix}-${name}.png`), fullPage: true });
  }
  /** Both widths of the current page; true when the phone width scrolls sideways. */
  async function shots(page, name) {
    await page.setViewportSize({ width: 1280, height: 800 });
    await shot(page, `${name}-1280`);
    await page.setViewportSize({ width: 390, height: 844 });
    if (settleMs > 0) await page.waitForTimeout(settleMs);
    await shot(page, `${name}-390`);
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    await page.setViewportSize({ width: 1280, height: 800 });
    return sideways;
  }
  return { shot, shots };
}

async function axe(page, what) {
  // The pages' CSP (script-src 'self', no inline) refuses page.addScriptTag's inline script,
  // as it should; the same file is evaluated through the DevTools protocol instead.
  await page.evaluate(AXE_SRC);
  const res = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `axe-core on ${what}`);
}

async function signIn(page, url, user, { first = false } = {}) {
  await page.goto(`${url}/dashboard`);
  await page.getByRole('heading', { name: 'Sign in to the back office' }).waitFor();
  await page.getByLabel('E-mail address').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Code').fill(nextCode(user));
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (first) {
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    const codes = await page.locator('ul.codes code').allTextContents();
    await page.getByRole('link', { name: 'Continue to the payments' }).click();
    await page.getByRole('heading', { name: 'Payments', exact: true }).waitFor();
    return codes;
  }
  await page.getByRole('heading', { name: 'Payments', exact: true }).waitFor();
  return null;
}

module.exports = { ARTIFACTS, totp, nextCode, browser, screenshots, axe, signIn };
