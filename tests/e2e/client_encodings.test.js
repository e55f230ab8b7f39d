// What each official Stripe client puts on the wire, byte for byte, sent to Kassa over plain HTTP.
// Each case cites the encoder it reproduces (read from the clients' sources at these commits):
//   stripe-go   a1e3932f6 form/form.go
//   stripe-java 0de1374f8 src/main/java/com/stripe/net/FormEncoder.java, util/StringUtils.java
//   stripe-ruby 51a180998 lib/stripe/util.rb
//   stripe-php  0498d20d  lib/Util/Util.php, lib/ApiRequestor.php
// Shared by all four: nested keys in brackets left unescaped ("%5B" turned back into "["),
// arrays always indexed (expand[0]=…), spaces as '+'. They differ in booleans, empty lists,
// null/empty values and key order, which is what the cases below pin.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startKassa } = require('./harness');

let k;
before(async () => {
  k = await startKassa({ name: 'client-encodings' });
});
after(async () => {
  if (k) await k.stop();
});

function post(path, body, key) {
  return k.http('POST', path, { body, headers: key ? { 'Idempotency-Key': key } : {} });
}

function ok(r, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
  return r.json;
}

const CS_LINE = 'line_items[0][price_data][currency]=eur&line_items[0][price_data][product_data][name]=Kaffeebecher+rot'
  + '&line_items[0][price_data][unit_amount]=1299&line_items[0][quantity]=2';

test('stripe-go: true/false from strconv.FormatBool, sorted metadata with a zero value, indexed expand', async () => {
  // form.go:168 boolEncoder writes strconv.FormatBool -> "true"/"false" (false only for a set *bool);
  // form.go:366 mapEncoder sorts map keys and form.go:372 encodes zero values ("metadata[a]=");
  // form.go:194 arrays are always indexed; form.go:330 ints with FormatInt; form.go:581-586
  // url.QueryEscape with "[" "]" put back ("@" -> %40, " " -> "+").
  const body = 'amount=1234&capture_method=manual&confirm=false&currency=eur&description=Cup+%40+home'
    + '&expand[0]=latest_charge&metadata[a]=&metadata[b]=2&payment_method_types[0]=klarna';
  const pi = ok(await post('/v1/payment_intents', body, 'go-1'), 'go create');
  assert.equal(pi.amount, 1234);
  assert.equal(pi.capture_method, 'manual');
  assert.equal(pi.description, 'Cup @ home');
  assert.deepEqual(pi.metadata, { b: '2' });
  assert.deepEqual(pi.payment_method_types, ['klarna']);
  assert.equal(pi.status, 'requires_payment_method');
});

test('stripe-go: an explicitly empty slice is "key=" (unset), a set *bool false is sent', async () => {
  // form.go:186 (and :220 for a pointer to a slice): a non-nil empty slice is written "key=".
  const we = ok(await post('/v1/webhook_endpoints',
    'enabled_events[0]=payment_intent.succeeded&url=https%3A%2F%2Fexample.com%2Fhook', 'go-2'), 'go endpoint');
  const upd = ok(await post(`/v1/webhook_endpoints/${we.id}`, 'disabled=false&metadata[k]=v', 'go-3'), 'go update');
  assert.equal(upd.status, 'enabled');
  // form.go:186 on a list filter: expand= (empty) on a GET query.
  const list = await k.http('GET', '/v1/payment_intents?expand=&limit=3');
  assert.equal(list.status, 200, list.text);
});

test('stripe-go: created range as RangeQueryParams on a list (created[gte]=…&created[lte]=…)', async () => {
  // params.go RangeQueryParams: form:"gte"/"gt"/"lte"/"lt" under created, FormatInt values.
  const now = Math.floor(Date.now() / 1000);
  const r = await k.http('GET', `/v1/payment_intents?created[gte]=0&created[lte]=${now + 86400 * 365 * 5}&limit=2`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'list');
});

test('stripe-java: null is "key=", an empty List is "key=", HashMap order interleaves nested keys', async () => {
  // FormEncoder.flattenParamsValue: `value == null` -> singleParam(keyPrefix, "") ;
  // flattenParamsCollection: an empty collection adds (keyPrefix, "") ;
  // Boolean/Long via value.toString() ; StringUtils.urlEncode = URLEncoder.encode ("*" -> "*",
  // "~" -> "%7E") with %5B/%5D put back. HashMap iteration is in hash order, so the keys of one
  // nested map may come apart and after other top-level keys.
  const body = 'line_items[0][quantity]=2&mode=payment&line_items[0][price_data][unit_amount]=1299'
    + '&success_url=https%3A%2F%2Fexample.com%2Fok%7E1&line_items[0][price_data][product_data][name]=Kaffeebecher+rot'
    + '&payment_method_types=&metadata[order]=A*1&metadata[gone]=&line_items[0][price_data][currency]=eur'
    + '&client_reference_id=';
  const s = ok(await post('/v1/checkout/sessions', body, 'java-1'), 'java session');
  assert.equal(s.amount_total, 2598);
  assert.equal(s.success_url, 'https://example.com/ok~1');
  assert.deepEqual(s.metadata, { order: 'A*1' });
  const items = ok(await k.http('GET', `/v1/checkout/sessions/${s.id}/line_items`), 'java line items');
  assert.equal(items.data[0].quantity, 2);
  assert.equal(items.data[0].description, 'Kaffeebecher rot');
});

test('stripe-java: EmptyParam on an update ("description=" unsets it), booleans as "true"', async () => {
  const pi = ok(await post('/v1/payment_intents',
    'amount=500&currency=eur&description=first&payment_method_types[0]=klarna&metadata[x]=1', 'java-2'), 'java pi');
  const upd = ok(await post(`/v1/payment_intents/${pi.id}`, 'description=&metadata[x]=', 'java-3'), 'java update');
  assert.equal(upd.description, null);
  assert.deepEqual(upd.metadata, {});
});

test('stripe-ruby: nil left out, an empty Array sends nothing, nested arrays of hashes, metadata "" unsets', async () => {
  // util.rb:14 objects_to_ids drops nil values (v1) ; util.rb:275-282 flatten_params_array
  // indexes every element and an empty array yields no pair at all ; util.rb:247-251 CGI.escape
  // ("~" stays, " " -> "+") with %5B/%5D put back ; params keep the caller's hash order.
  const body = 'mode=payment&' + CS_LINE
    + '&line_items[1][price_data][currency]=eur&line_items[1][price_data][product_data][name]=Lieferung'
    + '&line_items[1][price_data][unit_amount]=490&line_items[1][quantity]=1'
    + '&success_url=https%3A%2F%2Fexample.com%2Fok~2&metadata[note]=&metadata[src]=ruby';
  const s = ok(await post('/v1/checkout/sessions', body, 'ruby-1'), 'ruby session');
  assert.equal(s.amount_total, 2 * 1299 + 490);
  assert.deepEqual(s.metadata, { src: 'ruby' });
  const items = ok(await k.http('GET', `/v1/checkout/sessions/${s.id}/line_items?limit=1`), 'ruby items');
  assert.equal(items.has_more, true);
  assert.equal(items.data.length, 1);
});

test('stripe-ruby: Float#to_s values in metadata', async () => {
  // util.rb:247 url_encode(v) is CGI.escape(v.to_s): 1.5 -> "1.5", 1e20 -> "1.0e+20".
  const pi = ok(await post('/v1/payment_intents',
    'amount=700&currency=eur&payment_method_types[0]=klarna&metadata[rate]=1.5&metadata[big]=1.0e%2B20', 'ruby-2'), 'ruby pi');
  assert.deepEqual(pi.metadata, { rate: '1.5', big: '1.0e+20' });
});

test('stripe-php: booleans as "true"/"false" strings, null as "key=", an empty array sends nothing', async () => {
  // ApiRequestor.php:101/104 _encodeObjects turns true/false into 'true'/'false' ;
  // Util.php:300 urlEncode((string) $v): null -> "" so 'description' => null is "description=" ;
  // Util.php:27 isList([]) is true and flattenParamsList yields nothing for it ;
  // urlencode writes "~" as %7E and " " as "+".
  const body = 'amount=2600&currency=eur&payment_method_types[0]=klarna&capture_method=automatic'
    + '&description=&metadata[order_id]=1002&metadata[note]=Tasse+%7Erot%7E';
  const pi = ok(await post('/v1/payment_intents', body, 'php-1'), 'php pi');
  assert.equal(pi.description, null);
  assert.deepEqual(pi.metadata, { order_id: '1002', note: 'Tasse ~rot~' });
  const we = ok(await post('/v1/webhook_endpoints',
    'url=https%3A%2F%2Fexample.com%2Fphp&enabled_events[0]=%2A&disabled=true', 'php-2'), 'php endpoint');
  assert.equal(we.status, 'disabled');
});

test('stripe-php: "metadata" => null is "metadata=" and clears every key', async () => {
  const pi = ok(await post('/v1/payment_intents',
    'amount=800&currency=eur&payment_method_types[0]=klarna&metadata[a]=1&metadata[b]=2', 'php-3'), 'php pi');
  const upd = ok(await post(`/v1/payment_intents/${pi.id}`, 'metadata=', 'php-4'), 'php clear');
  assert.deepEqual(upd.metadata, {});
});

test('stripe-go / stripe-java: price_data[unit_amount_decimal] in place of unit_amount', async () => {
  // stripe-go checkout_session.go:1933 UnitAmountDecimal *float64 `form:"unit_amount_decimal,high_precision"`,
  // encoded by form.go:261 strconv.FormatFloat(v, 'f', -1, 64): 1299.0 -> "1299".
  // stripe-java takes a BigDecimal and writes its toString: new BigDecimal("490.00") -> "490.00".
  const body = 'mode=payment&success_url=https%3A%2F%2Fexample.com%2Fok'
    + '&line_items[0][price_data][currency]=eur&line_items[0][price_data][product_data][name]=Kaffeebecher+rot'
    + '&line_items[0][price_data][unit_amount_decimal]=1299&line_items[0][quantity]=2'
    + '&line_items[1][price_data][currency]=eur&line_items[1][price_data][product_data][name]=Lieferung'
    + '&line_items[1][price_data][unit_amount_decimal]=490.00&line_items[1][quantity]=1';
  const s = ok(await post('/v1/checkout/sessions', body, 'decimal-1'), 'decimal session');
  assert.equal(s.amount_total, 2 * 1299 + 490);
  const items = ok(await k.http('GET', `/v1/checkout/sessions/${s.id}/line_items`), 'decimal items');
  assert.equal(items.data[1].price.unit_amount, 490);
  // A fraction of a minor unit names the parameter; so does sending both.
  const frac = await post('/v1/checkout/sessions', body.replace('=490.00', '=490.5'), 'decimal-2');
  assert.equal(frac.status, 400, frac.text);
  assert.equal(frac.json.error.param, 'line_items[1][price_data][unit_amount_decimal]');
  const both = await post('/v1/checkout/sessions',
    `${body}&line_items[0][price_data][unit_amount]=1299`, 'decimal-3');
  assert.equal(both.status, 400, both.text);
  assert.equal(both.json.error.param, 'line_items[0][price_data][unit_amount_decimal]');
});
