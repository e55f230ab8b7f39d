"""Kassa driven by a second official Stripe client: Debian's python3-stripe.

Run by tests/e2e/python_stripe.test.js, which starts Kassa and passes
KASSA_URL, KASSA_SIM_URL and KASSA_SECRET_KEY. The client is used as a shop
would use it (stripe.api_base pointed at Kassa); the customer's steps at the
Klarna simulator are walked over HTTP with requests, as a browser would.
Each test's outcome is printed as one JSON line ("KASSA-PY {...}") so the Node
runner counts every Python test in the suite's "N passed, M failed".

Covers: PaymentIntents (create, confirm=True in one call, update, capture with
final_capture=False, cancel), refunds, lists with auto-paging and created
filters (PaymentIntents, events, refunds, checkout sessions), checkout
sessions and their line items, webhooks verified with
stripe.Webhook.construct_event, errors and idempotency; and, with plain
requests, what the other official clients' form encoders send.
"""

import html
import http.server
import json
import os
import re
import sys
import threading
import time
import traceback
import unittest
import urllib.parse

import requests
import stripe

KASSA_URL = os.environ["KASSA_URL"]
SIM_URL = os.environ["KASSA_SIM_URL"]
stripe.api_key = os.environ["KASSA_SECRET_KEY"]
stripe.api_base = KASSA_URL
stripe.max_network_retries = 0

RETURN_URL = "http://127.0.0.1:9/return"
BILLING = {"email": "customer@email.de", "address": {"country": "DE"}}


def advance_clock(seconds):
    """Moves Kassa's test clock; returns Kassa's now (unix s)."""
    r = requests.post(KASSA_URL + "/_test/clock/advance", data={"seconds": seconds}, timeout=30)
    r.raise_for_status()
    return r.json()["now"]


def wait_until(fn, what, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


# ---- the customer at the Klarna simulator -------------------------------------------------

FORM_RE = re.compile(r"<form\b(.*?)</form>", re.I | re.S)
INPUT_RE = re.compile(r"<input\b[^>]*>", re.I)


def _attr(tag, name):
    m = re.search(r"\b" + name + r'="([^"]*)"', tag)
    return html.unescape(m.group(1)) if m else None


def _step_form(page, url):
    for m in FORM_RE.finditer(page):
        body = m.group(1)
        open_tag = body[: body.index(">") + 1]
        step, radios = None, {}
        for tag in INPUT_RE.findall(body):
            if _attr(tag, "type") == "hidden" and _attr(tag, "name") == "step":
                step = _attr(tag, "value")
            if _attr(tag, "type") == "radio":
                radios.setdefault(_attr(tag, "name"), []).append(_attr(tag, "value"))
        if step:
            return urllib.parse.urljoin(url, _attr(open_tag, "action") or url), step, radios
    return None


def pay_klarna(pi, category="pay_now", email="customer@email.de"):
    """Walks the simulator's pages from next_action until the customer is sent back;
    returns the return URL the browser lands on."""
    ours = {urllib.parse.urlsplit(SIM_URL).netloc, urllib.parse.urlsplit(KASSA_URL).netloc}
    session = requests.Session()

    def follow(url, data=None):
        r = session.post(url, data=data, allow_redirects=False, timeout=30) if data else \
            session.get(url, allow_redirects=False, timeout=30)
        for _ in range(10):
            if not 300 <= r.status_code < 400:
                return url, r, None
            url = urllib.parse.urljoin(url, r.headers["Location"])
            if urllib.parse.urlsplit(url).netloc not in ours:
                return url, r, url
            r = session.get(url, allow_redirects=False, timeout=30)
        raise AssertionError("too many redirects")

    url, r, left = follow(pi.next_action.redirect_to_url.url)
    for _ in range(20):
        if left:
            return left
        if r.status_code != 200:
            raise AssertionError("simulator page %s answered %d" % (url, r.status_code))
        form = _step_form(r.text, url)
        if form is None:
            raise AssertionError("no step form on %s: %s" % (url, r.text[:300]))
        action, step, radios = form
        fields = {"step": step, "action": "next"}
        if step == "method":
            fields["category"] = category
        elif step == "bank":
            fields["bank"] = "de"
        elif step == "login":
            fields.update(username="demo", pin="1234")
        elif step == "decoupled":
            time.sleep(2.2)
        elif step == "account":
            fields["account"] = radios["account"][0]
        elif step == "tan":
            fields["tan"] = "12345"
        elif step == "option":
            fields["option"] = "pay_in_30"
        elif step == "email":
            fields["email"] = email
        elif step == "otp":
            fields["code"] = "123456"
        else:
            raise AssertionError("unknown simulator step " + step)
        url, r, left = follow(action, fields)
    raise AssertionError("the simulator did not send the customer back")


def settled(pi_id, waiting=("requires_action", "processing")):
    return wait_until(
        lambda: (lambda p: None if p.status in waiting else p)(stripe.PaymentIntent.retrieve(pi_id)),
        pi_id + " to settle",
    )


def paid_intent(amount, capture_method=None, category="pay_now"):
    """A Klarna intent created and confirmed in one call (confirm=True), then paid."""
    extra = {"capture_method": capture_method} if capture_method else {}
    pi = stripe.PaymentIntent.create(
        amount=amount,
        currency="eur",
        payment_method_types=["klarna_pay_later" if category == "pay_later" else "klarna"],
        confirm=True,
        payment_method_data={"type": "klarna_pay_later" if category == "pay_later" else "klarna",
                             "billing_details": BILLING},
        return_url=RETURN_URL,
        **extra
    )
    assert pi.status == "requires_action", pi.status
    back = pay_klarna(pi, category=category)
    assert back.startswith(RETURN_URL), back
    return settled(pi.id)


# ---- a webhook receiver --------------------------------------------------------------------


class Receiver:
    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.requests.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---- the tests -----------------------------------------------------------------------------


class PaymentIntents(unittest.TestCase):
    def test_create_retrieve_update_cancel(self):
        pi = stripe.PaymentIntent.create(amount=2500, currency="eur",
                                         payment_method_types=["klarna"],
                                         metadata={"order_id": "1002"}, description="Order 1002")
        self.assertTrue(pi.id.startswith("pi_"))
        self.assertEqual(pi.status, "requires_payment_method")
        self.assertEqual(pi.amount, 2500)
        self.assertEqual(pi.metadata["order_id"], "1002")
        got = stripe.PaymentIntent.retrieve(pi.id)
        self.assertEqual(got.id, pi.id)
        up = stripe.PaymentIntent.modify(pi.id, amount=2600, metadata={"order_id": "", "n": "2"})
        self.assertEqual(up.amount, 2600)
        self.assertEqual(dict(up.metadata), {"n": "2"})
        c = stripe.PaymentIntent.cancel(pi.id, cancellation_reason="requested_by_customer")
        self.assertEqual(c.status, "canceled")
        self.assertEqual(c.cancellation_reason, "requested_by_customer")

    def test_confirm_true_in_create_sends_python_booleans(self):
        # python3-stripe form-encodes True as "True": Kassa takes it as Stripe does.
        pi = stripe.PaymentIntent.create(
            amount=1234, currency="eur", payment_method_types=["klarna"], confirm=True,
            payment_method_data={"type": "klarna", "billing_details": BILLING},
            return_url=RETURN_URL)
        self.assertEqual(pi.status, "requires_action")
        self.assertEqual(pi.next_action.type, "redirect_to_url")
        self.assertEqual(pi.next_action.redirect_to_url.return_url, RETURN_URL)
        off = stripe.PaymentIntent.create(amount=1234, currency="eur",
                                          payment_method_types=["klarna"], confirm=False)
        self.assertEqual(off.status, "requires_payment_method")

    def test_confirm_then_pay_now_succeeds(self):
        pi = stripe.PaymentIntent.create(amount=4200, currency="eur",
                                         payment_method_types=["klarna"])
        c = stripe.PaymentIntent.confirm(
            pi.id, payment_method_data={"type": "klarna", "billing_details": BILLING},
            return_url=RETURN_URL)
        self.assertEqual(c.status, "requires_action")
        back = pay_klarna(c)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
        self.assertEqual(q["payment_intent"], [pi.id])
        self.assertEqual(q["redirect_status"], ["succeeded"])
        done = settled(pi.id)
        self.assertEqual(done.status, "succeeded")
        self.assertEqual(done.amount_received, 4200)

    def test_manual_capture_with_final_capture_false(self):
        pi = paid_intent(10000, capture_method="manual", category="pay_later")
        self.assertEqual(pi.status, "requires_capture")
        self.assertEqual(pi.amount_capturable, 10000)
        c1 = stripe.PaymentIntent.capture(pi.id, amount_to_capture=3000, final_capture=False)
        self.assertEqual(c1.status, "requires_capture")
        self.assertEqual(c1.amount_received, 3000)
        self.assertEqual(c1.amount_capturable, 7000)
        c2 = stripe.PaymentIntent.capture(pi.id, amount_to_capture=1000, final_capture=True)
        self.assertEqual(c2.status, "succeeded")
        self.assertEqual(c2.amount_received, 4000)
        self.assertEqual(c2.amount_capturable, 0)


class Refunds(unittest.TestCase):
    def test_partial_and_full_refunds(self):
        pi = paid_intent(5000)
        r1 = stripe.Refund.create(payment_intent=pi.id, amount=1200, reason="requested_by_customer",
                                  metadata={"ticket": "T-1"})
        self.assertTrue(r1.id.startswith("re_"))
        self.assertEqual(r1.amount, 1200)
        self.assertEqual(r1.payment_intent, pi.id)
        self.assertIn(r1.status, ("pending", "succeeded"))
        self.assertEqual(stripe.Refund.retrieve(r1.id).metadata["ticket"], "T-1")
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.Refund.create(payment_intent=pi.id, amount=3801)
        self.assertEqual(e.exception.code, "amount_too_large")
        self.assertEqual(e.exception.param, "amount")
        r2 = stripe.Refund.create(payment_intent=pi.id)  # all that is left
        self.assertEqual(r2.amount, 3800)
        listed = stripe.Refund.list(payment_intent=pi.id)
        self.assertEqual(sorted(r.id for r in listed.auto_paging_iter()), sorted([r1.id, r2.id]))
        wait_until(lambda: all(stripe.Refund.retrieve(r).status == "succeeded"
                               for r in (r1.id, r2.id)), "refunds to succeed")

    def test_refund_without_a_charge_is_refused(self):
        pi = stripe.PaymentIntent.create(amount=900, currency="eur",
                                         payment_method_types=["klarna"])
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.Refund.create(payment_intent=pi.id)
        self.assertEqual(e.exception.http_status, 400)
        self.assertEqual(e.exception.code, "payment_intent_unexpected_state")


class Lists(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Two batches 100 s apart on Kassa's test clock, so created filters have edges.
        cls.t_a = advance_clock(1)
        cls.batch_a = [stripe.PaymentIntent.create(amount=100 + i, currency="eur",
                                                   payment_method_types=["klarna"]).id
                       for i in range(3)]
        cls.t_b = advance_clock(100)
        cls.batch_b = [stripe.PaymentIntent.create(amount=200 + i, currency="eur",
                                                   payment_method_types=["klarna"]).id
                       for i in range(4)]
        cls.t_end = advance_clock(1)

    def test_auto_paging_walks_every_page(self):
        ids = [pi.id for pi in stripe.PaymentIntent.list(limit=2).auto_paging_iter()]
        self.assertEqual(len(ids), len(set(ids)), "no duplicates")
        mine = [i for i in ids if i in self.batch_a + self.batch_b]
        self.assertEqual(mine, list(reversed(self.batch_a + self.batch_b)), "newest first")

    def test_created_filters_on_payment_intents(self):
        def ids(**created):
            return [p.id for p in stripe.PaymentIntent.list(created=created, limit=3)
                    .auto_paging_iter()]
        self.assertEqual(ids(gte=self.t_b, lt=self.t_end), list(reversed(self.batch_b)))
        self.assertEqual(ids(gte=self.t_a, lt=self.t_b), list(reversed(self.batch_a)))
        # (a batch may straddle a second on a busy machine: the edges sit between batches)
        self.assertEqual(ids(gt=self.t_b - 1, lte=self.t_end), list(reversed(self.batch_b)))
        self.assertEqual(ids(gte=self.t_a, lte=self.t_b - 1), list(reversed(self.batch_a)))
        self.assertEqual(ids(gte=self.t_end + 1000), [])
        first = stripe.PaymentIntent.retrieve(self.batch_b[0])
        exact = [p.id for p in stripe.PaymentIntent.list(created=first.created).auto_paging_iter()]
        self.assertIn(first.id, exact)
        self.assertTrue(all(stripe.PaymentIntent.retrieve(i).created == first.created for i in exact))
        self.assertTrue(set(exact) <= set(self.batch_b))

    def test_created_filters_on_events(self):
        evs = stripe.Event.list(created={"gte": self.t_b, "lt": self.t_end},
                                type="payment_intent.created", limit=2)
        got = [e.data.object.id for e in evs.auto_paging_iter()]
        self.assertEqual(got, list(reversed(self.batch_b)))

    def test_created_filter_with_an_unknown_operator_names_it(self):
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.list(created={"after": self.t_a})
        self.assertEqual(e.exception.param, "created[after]")
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.list(created={"gte": "soon"})
        self.assertEqual(e.exception.param, "created[gte]")

    def test_created_filters_on_refunds_and_sessions(self):
        t0 = advance_clock(10)
        pi = paid_intent(700)
        r = stripe.Refund.create(payment_intent=pi.id, amount=100)
        got = [x.id for x in stripe.Refund.list(created={"gte": t0}).auto_paging_iter()]
        self.assertEqual(got, [r.id])
        self.assertEqual([x.id for x in stripe.Refund.list(created={"lt": t0}).auto_paging_iter()
                          if x.id == r.id], [])
        s = stripe.checkout.Session.create(
            mode="payment", success_url=RETURN_URL,
            line_items=[{"price_data": {"currency": "eur", "unit_amount": 500,
                                        "product_data": {"name": "Mug"}}, "quantity": 1}])
        got = [x.id for x in stripe.checkout.Session.list(created={"gte": t0}).auto_paging_iter()]
        self.assertEqual(got, [s.id])


class CheckoutSessions(unittest.TestCase):
    ITEMS = [
        {"price_data": {"currency": "eur", "unit_amount": 1234,
                        "product_data": {"name": "Kaffeebecher"}}, "quantity": 2},
        {"price_data": {"currency": "eur", "unit_amount": 500,
                        "product_data": {"name": "Untersetzer"}}, "quantity": 1},
        {"price_data": {"currency": "eur", "unit_amount": 99,
                        "product_data": {"name": "Sticker"}}, "quantity": 3},
    ]

    def test_session_and_its_line_items(self):
        s = stripe.checkout.Session.create(mode="payment", line_items=self.ITEMS,
                                           success_url=RETURN_URL + "?s={CHECKOUT_SESSION_ID}",
                                           cancel_url=RETURN_URL, client_reference_id="order-7",
                                           metadata={"cart": "7"})
        self.assertTrue(s.id.startswith("cs_"))
        self.assertEqual(s.amount_total, 2 * 1234 + 500 + 3 * 99)
        self.assertEqual(s.status, "open")
        self.assertTrue(s.url.startswith(KASSA_URL))
        self.assertEqual(stripe.checkout.Session.retrieve(s.id).client_reference_id, "order-7")

        page = stripe.checkout.Session.list_line_items(s.id, limit=2)
        self.assertEqual(page.object, "list")
        self.assertTrue(page.has_more)
        self.assertEqual(len(page.data), 2)
        items = list(page.auto_paging_iter())
        self.assertEqual([i.description for i in items], ["Kaffeebecher", "Untersetzer", "Sticker"])
        self.assertEqual([i.quantity for i in items], [2, 1, 3])
        self.assertEqual([i.amount_total for i in items], [2468, 500, 297])
        self.assertEqual([i.price.unit_amount for i in items], [1234, 500, 99])
        self.assertTrue(all(i.id.startswith("li_") and i.object == "item" for i in items))
        self.assertEqual(len({i.id for i in items}), 3)
        again = stripe.checkout.Session.list_line_items(s.id)
        self.assertEqual([i.id for i in again.data], [i.id for i in items], "ids are stable")

        ex = stripe.checkout.Session.expire(s.id)
        self.assertEqual(ex.status, "expired")
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.checkout.Session.list_line_items("cs_test_nope")
        self.assertEqual(e.exception.http_status, 404)


class Webhooks(unittest.TestCase):
    def test_events_verified_with_construct_event(self):
        rx = Receiver()
        try:
            we = stripe.WebhookEndpoint.create(url=rx.url, enabled_events=["payment_intent.created"])
            self.assertTrue(we.secret.startswith("whsec_"))
            pi = stripe.PaymentIntent.create(amount=321, currency="eur",
                                             payment_method_types=["klarna"])

            def mine():
                for headers, body in rx.requests:
                    if pi.id.encode() in body:
                        return headers, body
                return None
            headers, body = wait_until(mine, "the webhook for " + pi.id)
            sig = headers.get("Stripe-Signature") or headers.get("stripe-signature")
            ev = stripe.Webhook.construct_event(body.decode("utf-8"), sig, we.secret)
            self.assertEqual(ev.type, "payment_intent.created")
            self.assertEqual(ev.data.object.id, pi.id)
            self.assertEqual(stripe.Event.retrieve(ev.id).type, "payment_intent.created")
            with self.assertRaises(stripe.error.SignatureVerificationError):
                stripe.Webhook.construct_event(body.decode("utf-8").replace("321", "322"), sig,
                                               we.secret)
            with self.assertRaises(stripe.error.SignatureVerificationError):
                stripe.Webhook.construct_event(body.decode("utf-8"), sig, "whsec_wrong")
            off = stripe.WebhookEndpoint.modify(we.id, disabled=True)
            self.assertEqual(off.status, "disabled")
            on = stripe.WebhookEndpoint.modify(we.id, disabled=False)
            self.assertEqual(on.status, "enabled")
            stripe.WebhookEndpoint.delete(we.id)
        finally:
            rx.close()


class Errors(unittest.TestCase):
    def test_missing_and_unknown_parameters(self):
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.create(currency="eur")
        self.assertEqual(e.exception.http_status, 400)
        self.assertEqual(e.exception.code, "parameter_missing")
        self.assertEqual(e.exception.param, "amount")
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.create(amount=100, currency="eur", colour="blue")
        self.assertEqual(e.exception.code, "parameter_unknown")
        self.assertEqual(e.exception.param, "colour")
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.create(amount=100, currency="eur", confirm="yes")
        self.assertEqual(e.exception.param, "confirm")
        self.assertIn("Invalid boolean", e.exception.user_message)

    def test_unknown_id_and_bad_key(self):
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.retrieve("pi_does_not_exist")
        self.assertEqual(e.exception.http_status, 404)
        self.assertEqual(e.exception.code, "resource_missing")
        with self.assertRaises(stripe.error.AuthenticationError) as e:
            stripe.PaymentIntent.list(api_key="sk_test_wrong")
        self.assertEqual(e.exception.http_status, 401)

    def test_wrong_state(self):
        pi = stripe.PaymentIntent.create(amount=100, currency="eur",
                                         payment_method_types=["klarna"])
        with self.assertRaises(stripe.error.InvalidRequestError) as e:
            stripe.PaymentIntent.capture(pi.id)
        self.assertEqual(e.exception.code, "payment_intent_unexpected_state")


class Idempotency(unittest.TestCase):
    def test_same_key_replays_other_parameters_refused(self):
        key = "py-" + str(time.time())
        a = stripe.PaymentIntent.create(amount=777, currency="eur",
                                        payment_method_types=["klarna"], idempotency_key=key)
        b = stripe.PaymentIntent.create(amount=777, currency="eur",
                                        payment_method_types=["klarna"], idempotency_key=key)
        self.assertEqual(a.id, b.id)
        self.assertEqual(b.last_response.headers.get("Idempotent-Replayed"), "true")
        with self.assertRaises(stripe.error.IdempotencyError):
            stripe.PaymentIntent.create(amount=778, currency="eur",
                                        payment_method_types=["klarna"], idempotency_key=key)

    def test_every_post_carries_a_key(self):
        # python3-stripe adds a uuid Idempotency-Key to every POST: two calls, two intents.
        a = stripe.PaymentIntent.create(amount=555, currency="eur", payment_method_types=["klarna"])
        b = stripe.PaymentIntent.create(amount=555, currency="eur", payment_method_types=["klarna"])
        self.assertNotEqual(a.id, b.id)
        self.assertTrue(a.last_response.headers.get("Idempotency-Key"))


class OtherClientsEncodings(unittest.TestCase):
    """What the other official clients put on the wire (their form encoders): stripe-go,
    -java and -php send booleans as true/false, lists indexed (a[0]) and an explicitly
    empty list as "a="; older stripe-ruby sends lists of hashes as a[][k]=v."""

    def post(self, path, body, key=None):
        return requests.post(KASSA_URL + path, data=body, timeout=30, headers={
            "Authorization": "Bearer " + stripe.api_key,
            "Content-Type": "application/x-www-form-urlencoded",
            "Idempotency-Key": key or ("enc-" + str(time.time()))})

    def test_go_java_php_booleans_indexed_lists_and_empty_lists(self):
        r = self.post("/v1/payment_intents",
                      "amount=1500&currency=eur&payment_method_types=&confirm=false"
                      "&metadata[a]=1")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(len(r.json()["payment_method_types"]) > 0, "a= means the default")
        r = self.post("/v1/payment_intents",
                      "amount=1500&currency=eur&payment_method_types[0]=klarna&confirm=true"
                      "&payment_method_data[type]=klarna"
                      "&payment_method_data[billing_details][email]=customer%40email.de"
                      "&payment_method_data[billing_details][address][country]=DE"
                      "&return_url=http%3A%2F%2F127.0.0.1%3A9%2Freturn")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["status"], "requires_action")

    def test_ruby_lists_of_hashes_with_empty_brackets(self):
        r = self.post("/v1/checkout/sessions",
                      "mode=payment&success_url=http%3A%2F%2F127.0.0.1%3A9%2Fok"
                      "&line_items[][price_data][currency]=eur"
                      "&line_items[][price_data][unit_amount]=700"
                      "&line_items[][price_data][product_data][name]=Mug"
                      "&line_items[][quantity]=2"
                      "&line_items[][price_data][currency]=eur"
                      "&line_items[][price_data][unit_amount]=100"
                      "&line_items[][price_data][product_data][name]=Sticker"
                      "&line_items[][quantity]=1")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["amount_total"], 1500)
        items = stripe.checkout.Session.list_line_items(r.json()["id"])
        self.assertEqual([i.description for i in items.data], ["Mug", "Sticker"])


class LineResult(unittest.TextTestResult):
    """Prints one line per test for the Node runner: KASSA-PY {"name", "ok", "detail"}."""

    def _emit(self, test, ok, detail=""):
        line = json.dumps({"name": test.id().split(".", 1)[-1], "ok": ok, "detail": detail})
        sys.__stdout__.write("KASSA-PY " + line + "\n")
        sys.__stdout__.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(test, False, "".join(traceback.format_exception(*err))[-4000:])

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(test, False, "".join(traceback.format_exception(*err))[-4000:])


if __name__ == "__main__":
    runner = unittest.TextTestRunner(resultclass=LineResult, verbosity=2, stream=sys.stderr)
    result = runner.run(unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    sys.exit(0 if result.wasSuccessful() else 1)
