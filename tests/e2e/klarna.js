// Walks the Klarna simulator's customer pages over plain HTTP, as a customer's browser
// would: follow next_action.redirect_to_url, then at each page post the form of the
// current step (method, bank, login, account, TAN; or option, e-mail, one-time code)
// until the simulator redirects back, then wait for the intent to settle. Failure paths
// (cancel at a step, wrong logins or TANs, a refused e-mail) follow the simulator's final
// page link back to the shop. Also small helpers for the simulator's admin endpoints
// (SIM/klarna/_sim/...) and for confirming a Klarna intent.
'use strict';

const { sleep, waitUntil } = require('./harness');

const MAX_STEPS = 20;
const MAX_REDIRECTS = 10;

function attr(tag, name) {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  return m ? m[1].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>') : null;
}

/** The first form on the page that posts a `step`: {action, step, radios: {name: [values]}}. */
function parseForm(html, pageUrl) {
  const forms = html.split(/<form\b/i).slice(1).map((f) => `<form${f.split(/<\/form>/i)[0]}`);
  for (const f of forms) {
    const open = f.slice(0, f.indexOf('>') + 1);
    const inputs = f.match(/<input\b[^>]*>/gi) || [];
    let step = null;
    const radios = {};
    for (const i of inputs) {
      if (attr(i, 'type') === 'hidden' && attr(i, 'name') === 'step') step = attr(i, 'value');
      if (attr(i, 'type') === 'radio') (radios[attr(i, 'name')] ||= []).push(attr(i, 'value'));
    }
    if (step) return { action: new URL(attr(open, 'action') || pageUrl, pageUrl).toString(), step, radios };
  }
  return null;
}

/** Follow redirects by hand until a 200 page or a URL outside Kassa and the simulator. */
async function follow(url, isOurs, init) {
  let res = await fetch(url, { ...init, redirect: 'manual' });
  for (let n = 0; n < MAX_REDIRECTS && res.status >= 300 && res.status < 400; n++) {
    const loc = new URL(res.headers.get('location'), url).toString();
    if (!isOurs(loc)) return { left: loc, res };
    url = loc;
    res = await fetch(url, { redirect: 'manual' });
  }
  return { url, res, html: await res.text() };
}

/** The "Back to the shop" link of the simulator's final page (failed, error), or null. */
function finalLink(html, pageUrl) {
  const m = /<a\b[^>]*class="btn"[^>]*>/i.exec(html);
  const href = m ? attr(m[0], 'href') : null;
  return href ? new URL(href, pageUrl).toString() : null;
}

/**
 * Pay a confirmed Klarna intent through the simulator's pages.
 * opts: category ('pay_now' | 'pay_later' | 'pay_over_time'), email, tan (pay now, test TAN
 * 12345), code (pay later one-time code), bank ('de'), username, pin, kassaUrl;
 * logins / tans: usernames / TANs used one per visit of that step (then username / tan);
 * cancelAt: press "Cancel payment" on that step; waitPast: intent states to wait out
 * (default requires_action and processing); trace: an array that receives
 * {step, radios} for every page seen.
 * Returns {returnUrl, intent} once the intent left the waitPast states.
 */
async function payKlarna(stripe, pi, simUrl, opts = {}) {
  const o = {
    category: 'pay_now', email: 'customer@email.de', tan: '12345', code: '123456', bank: 'de',
    username: 'demo', pin: '1234', logins: [], tans: [], cancelAt: null,
    waitPast: ['requires_action', 'processing'], trace: null, ...opts,
  };
  const logins = [...o.logins];
  const tans = [...o.tans];
  if (!pi.next_action || !pi.next_action.redirect_to_url) throw new Error(`intent ${pi.id} has no redirect: ${pi.status}`);
  const hosts = new Set([new URL(simUrl).host]);
  if (o.kassaUrl) hosts.add(new URL(o.kassaUrl).host);
  const start = new URL(pi.next_action.redirect_to_url.url);
  hosts.add(start.host);
  const isOurs = (u) => hosts.has(new URL(u).host);

  let page = await follow(start.toString(), isOurs);
  let left = page.left;
  for (let steps = 0; !left && steps < MAX_STEPS; steps++) {
    if (page.res.status !== 200) throw new Error(`simulator page ${page.url} answered ${page.res.status}: ${page.html.slice(0, 300)}`);
    const form = parseForm(page.html, page.url);
    if (!form && finalLink(page.html, page.url)) { // refused on arrival (a denied e-mail)
      if (o.trace) o.trace.push({ step: 'final', html: page.html });
      page = await follow(finalLink(page.html, page.url), isOurs);
      left = page.left;
      if (!left) throw new Error('the final page\'s link did not lead back to the shop');
      break;
    }
    if (!form) throw new Error(`no step form on ${page.url}: ${page.html.slice(0, 500)}`);
    if (o.trace) o.trace.push({ step: form.step, radios: form.radios });
    const fields = { step: form.step, action: 'next' };
    if (o.cancelAt === form.step) fields.action = 'cancel';
    else switch (form.step) {
      case 'method': fields.category = o.category; break;
      case 'bank': fields.bank = o.bank; break;
      case 'login': fields.username = logins.length ? logins.shift() : o.username; fields.pin = o.pin; break;
      case 'decoupled': await sleep(2200); break;
      case 'account': fields.account = (form.radios.account || [])[0]; break;
      case 'tan': fields.tan = tans.length ? tans.shift() : o.tan; break;
      case 'option': fields.option = o.category === 'pay_over_time' ? 'instalments_3' : 'pay_in_30'; break;
      case 'email': fields.email = o.email; break;
      case 'otp': fields.code = o.code; break;
      default: throw new Error(`unknown simulator step ${form.step} on ${page.url}`);
    }
    page = await follow(form.action, isOurs, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    left = page.left;
    if (!left && page.res.status === 200 && !parseForm(page.html, page.url)) {
      const back = finalLink(page.html, page.url);
      if (!back) throw new Error(`the simulator ended without sending the customer back: ${page.html.slice(0, 500)}`);
      if (o.trace) o.trace.push({ step: 'final', html: page.html });
      page = await follow(back, isOurs);
      left = page.left;
      if (!left) throw new Error(`the final page's link did not lead back to the shop: ${back}`);
    }
  }
  if (!left) throw new Error(`no redirect back after ${MAX_STEPS} steps`);
  const intent = await waitUntil(async () => {
    const p = await stripe.paymentIntents.retrieve(pi.id);
    return o.waitPast.includes(p.status) ? null : p;
  }, { timeoutMs: 15000, intervalMs: 100, what: `${pi.id} to leave ${o.waitPast.join('/')}` });
  return { returnUrl: left, intent };
}

/** JSON call to the simulator's admin endpoints: sim(k.simUrl, 'GET', 'orders'). */
async function sim(simUrl, method, what, body) {
  const res = await fetch(`${simUrl}/klarna/_sim/${what}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (e) { /* not JSON */ }
  if (res.status !== 200) throw new Error(`simulator ${method} _sim/${what} answered ${res.status}: ${text}`);
  return json;
}

/** Every order the simulator holds ({order_id, hpp_session_id, status, order_amount, captured_amount}). */
async function simOrders(simUrl) {
  return (await sim(simUrl, 'GET', 'orders')).orders;
}

/**
 * Confirm a Klarna intent: opts type (payment_method_data[type]), email, country, returnUrl,
 * locale. Resolves the confirmed intent (requires_action) or rejects with the Stripe error.
 */
function confirmKlarna(stripe, id, opts = {}) {
  const o = { type: 'klarna', email: 'customer@email.de', country: 'DE', returnUrl: 'http://127.0.0.1:9/return', ...opts };
  return stripe.paymentIntents.confirm(id, {
    payment_method_data: { type: o.type, billing_details: { email: o.email, address: { country: o.country } } },
    return_url: o.returnUrl,
    ...(o.locale ? { payment_method_options: { klarna: { preferred_locale: o.locale } } } : {}),
  });
}

module.exports = { payKlarna, parseForm, sim, simOrders, confirmKlarna };
