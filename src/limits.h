/*
 * limits.h - every limit Kassa enforces, in one place, with the reason beside it.
 *
 * Past a limit the caller gets a clear error (400/413 in the dialect's format),
 * never a crash or a silent truncation. Modules include this header instead of
 * inventing their own numbers; the static asserts at the end say how they relate.
 */
#ifndef KASSA_LIMITS_H
#define KASSA_LIMITS_H

/* HTTP */
#define LIMIT_HTTP_BODY_MAX          (256 * 1024) /* largest API body: 1000 order lines fit */
#define LIMIT_HTTP_HEADER_MAX        (16 * 1024)  /* all headers of one request together */
#define LIMIT_HTTP_URL_MAX           8192 /* request line path + query (ECommPay page URLs) */
#define LIMIT_HTTP_CONNECTIONS_MAX   1024 /* open connections; more are refused */
#define LIMIT_HTTP_TIMEOUT_S         30   /* idle or slow connections are closed */
#define LIMIT_HTTP_WORKERS_MAX       256  /* request worker threads (config caps) */
#define LIMIT_HTTP_QUEUE_MAX         4096 /* requests waiting for a worker; more -> 503 */
#define LIMIT_HTTP_QUEUE_WAIT_MS     500  /* default queue_wait_ms: queued longer -> 503, not run */
#define LIMIT_HTTP_QUEUE_WAIT_MAX_MS 60000 /* the largest queue_wait_ms accepted */
#define LIMIT_STR_(x)                #x
#define LIMIT_STR(x)                 LIMIT_STR_(x)     /* a limit as a config default string */
#define LIMIT_RESPONSE_MAX           (8 * 1024 * 1024) /* largest body we build (exports page) */
/* Abuse limits (server/ratelimit.c, server/http.c); the defaults are config keys in main.c. */
#define LIMIT_RATELIMIT_KEYS_MAX 16384   /* buckets a limiter keeps (~400 KiB); LRU past it */
#define LIMIT_RATE_BURST_MAX     1000000 /* largest configurable bucket */
#define LIMIT_RATE_PER_MIN_MAX   (60LL * 1000000) /* 1M requests/s: "no limit" in practice */
#define LIMIT_HTTP_PER_IP_MAX    LIMIT_HTTP_CONNECTIONS_MAX /* per-address connection cap */
#define LIMIT_HTTP_HEAD_DEADLINE_S                                                                 \
    30 /* a request head (line + headers) must arrive within this, however it trickles */
#define LIMIT_HTTP_ARENA_MAX                                                                       \
    (32 * 1024 * 1024) /* one request's arena: params, copies, handler scratch */

/* API keys (gateway/keys.c) and the request log (gateway/reqlog.c) */
#define LIMIT_KEY_TOUCH_MS 60000 /* a key's last_used is written at most this often */
#define LIMIT_REQLOG_RING  4096  /* request log entries held per node between two flushes */
#define LIMIT_REQLOG_KEEP  10000 /* request log rows kept per merchant */
#define LIMIT_REQLOG_DAYS  7     /* and none older than this */

/* Decoding */
#define LIMIT_PARAMS_MAX                                                                           \
    8192 /* form/query parameters in one request (1000 order lines x ~8 fields) */
#define LIMIT_PARAM_KEY_MAX   256         /* one key, brackets included */
#define LIMIT_PARAM_VALUE_MAX (16 * 1024) /* one value (metadata values are 500 in Stripe) */
#define LIMIT_NESTING_MAX     8           /* a[b][c]... and JSON depth */
#define LIMIT_ARRAY_INDEX_MAX 1000        /* payment_method_types[999]; order_lines up to 1000 */

/* Stripe-shaped objects */
#define LIMIT_ID_MAX                   64   /* pi_..., re_..., ids we mint and ids we accept */
#define LIMIT_METADATA_KEYS_MAX        50   /* Stripe's limit */
#define LIMIT_METADATA_KEY_MAX         40   /* Stripe's limit */
#define LIMIT_METADATA_VALUE_MAX       500  /* Stripe's limit */
#define LIMIT_DESCRIPTION_MAX          1000 /* free text on payments and refunds */
#define LIMIT_URL_MAX                  2048 /* return/success/cancel/webhook URLs (Antom's limit) */
#define LIMIT_EXTERNAL_ID_MAX          255 /* merchants' own ids (ECommPay payment_id, refund ids) */
#define LIMIT_WALLETS_MAX              16 /* wallets listed on the phone page (Alipay+ has 7 here) */
#define LIMIT_EMAIL_MAX                254  /* RFC 5321 path limit */
#define LIMIT_ORDER_LINES_MAX          1000 /* Klarna's order_lines limit */
#define LIMIT_LINE_NAME_MAX            255  /* Klarna's order line name limit */
#define LIMIT_LIST_PAGE_MAX            100  /* Stripe's limit on `limit` */
#define LIMIT_LIST_PAGE_DEFAULT        10   /* Stripe's default */
#define LIMIT_EXPAND_MAX               10   /* expand[] entries */
#define LIMIT_IDEMPOTENCY_KEY_MAX      255  /* Stripe's limit */
#define LIMIT_IDEMPOTENCY_INFLIGHT_MAX 4096 /* keys in flight on one node; more -> 409, retry */
#define LIMIT_IDEMPOTENCY_TTL_S        (24 * 3600) /* keys kept at least this long */
/* A durable claim (an operation begun at a provider, not yet answered) belongs
 * to its request this long; after it a retry with the key carries the begun
 * operation on (a node that died holding it). Longer than a provider call with
 * all its retries, so a live request is never overtaken. */
#define LIMIT_IDEMPOTENCY_LEASE_S 120
/* Retry-After on a 503 (busy, or storage full): nothing was done; come back then. */
#define LIMIT_RETRY_AFTER_S_TEXT "5"
#define LIMIT_CAPTURES_OPEN_MAX                                                                    \
    LIMIT_HTTP_WORKERS_MAX /* captures of one payment awaiting the provider: one per handler */
#define LIMIT_WEBHOOK_ENDPOINTS_MAX 16 /* Stripe allows 16 per account */
#define LIMIT_EVENT_TYPES_MAX       64 /* enabled_events entries on one endpoint */

/* Money: Klarna caps line and order amounts at 200 000 000 minor units; our own
 * ceiling is higher so that zero-decimal currencies (JPY, KRW) still fit. */
#define LIMIT_AMOUNT_MAX 99999999999LL /* Stripe's amount maximum (8 digits + 3) */

/* ECommPay Data API */
#define LIMIT_ECP_DATA_PAGE_MAX 1000 /* ECommPay's own maximum page (and default) */
#define LIMIT_ECP_DATA_SCAN_MAX 50   /* store pages one Data API request reads (bounded work) */

/* Webhooks */
/* Deliveries are retried until LIMIT_WEBHOOK_HORIZON_S after the event (the
 * last attempt lands on it); with the backoff below that is 22 or 23 attempts.
 * The count is a backstop for a clock that misbehaves, not the schedule. */
#define LIMIT_WEBHOOK_ATTEMPTS_MAX  40
#define LIMIT_WEBHOOK_BACKOFF_MAX_S (6 * 3600)      /* longest wait between two attempts */
#define LIMIT_WEBHOOK_HORIZON_S     (3 * 24 * 3600) /* deliveries given up after this */
#define LIMIT_WEBHOOK_TIMEOUT_MS    10000           /* one delivery POST */
#define LIMIT_WEBHOOK_INFLIGHT_MAX  64              /* concurrent deliveries from one node */
#define LIMIT_WEBHOOK_RESPONSE_KEEP 256 /* first bytes of the receiver's answer we record */

/* Storage */
#define LIMIT_WRITE_BATCH_MAX 256  /* jobs committed together by the writer (group commit) */
#define LIMIT_WRITE_QUEUE_MAX 8192 /* queued write jobs; more -> 503 */
/* SQLite: the checkpointer thread is woken past this many WAL frames; past the
 * second the writer checkpoints itself (~400 MB of WAL); a longer WAL file is
 * truncated back to the third after a checkpoint. */
#define LIMIT_SQLITE_CKPT_FRAMES       1000
#define LIMIT_SQLITE_CKPT_FORCE_FRAMES 100000
#define LIMIT_SQLITE_WAL_KEEP_BYTES    (64LL * 1024 * 1024)
#define LIMIT_SQLITE_WRITER_CACHE_KIB  8192 /* the writer's page cache */
#define LIMIT_SQLITE_READER_CACHE_KIB  1024 /* each read connection's (one per thread) */
#define LIMIT_STORE_ROWS_MAX                                                                       \
    10000 /* rows one store call returns (export pages); callers page on                           \
           */
/* PostgreSQL: each node holds 1 writer connection + at most this many read connections (a pool
 * shared by all threads; a read waits for a free one). 5 nodes x 17 stay below PostgreSQL's
 * default max_connections of 100 with room for admin sessions. */
#define LIMIT_PG_READ_CONNS_MAX 16
#define LIMIT_PG_READ_WAIT_MS   5000 /* a read waiting this long for a pool connection -> K_EBUSY */

/* Provider calls */
#define LIMIT_PROVIDER_TIMEOUT_MS   15000         /* one call to Klarna/Antom */
#define LIMIT_PROVIDER_RETRIES      3             /* same idempotency key, on 5xx/429/timeouts */
#define LIMIT_PROVIDER_BODY_MAX     (1024 * 1024) /* provider answer */
#define LIMIT_HTTPC_PENDING_MAX     4096 /* outgoing transfers queued or running; more -> K_EBUSY */
#define LIMIT_HTTPC_CONNECTIONS_MAX 64   /* idle keep-alive connections the client caches */
/* The simulators (sandbox and tests only) are sized so that they never limit a benchmark
 * (issue 14): a connection each for every Kassa request worker that calls a provider plus the
 * benchmark's browser flows, and the objects of a 10 s S4 run at its 2,000 flows/s target
 * with S5's pool and the drain on top. Lookups go through hash indexes (sim/sim_index.c), so
 * a full table costs no more per request than an empty one; untouched slots cost no memory. */
#define LIMIT_SIM_CONNECTIONS_MAX   1024  /* simulator listener: a thread each */
#define LIMIT_SIM_OBJECTS_MAX       32768 /* sessions/orders a simulator keeps; oldest evicted */
#define LIMIT_SIM_OPS_MAX           32    /* captures (and refunds) on one simulated order */
#define LIMIT_SIM_ATTACH_TIMEOUT_MS 5000  /* serve asking the simulators for their sandbox keys */
_Static_assert(LIMIT_SIM_CONNECTIONS_MAX >= LIMIT_HTTP_WORKERS_MAX * 2,
               "every worker's provider call and as many browser flows reach the simulator");
_Static_assert(LIMIT_SIM_OBJECTS_MAX >= 2000 * 10 + 900, "S4's target for 10 s and S5's pool");

/* Method rules (domain/rules.c): the table is data, loaded from text at start */
#define LIMIT_RULES_TEXT_MAX      (64 * 1024) /* built-in text or one override file */
#define LIMIT_RULES_LINE_MAX      1024        /* one line; Klarna's 26 countries take ~100 bytes */
#define LIMIT_RULE_METHODS_MAX    16          /* methods in the table (4 built in) */
#define LIMIT_RULE_CURRENCIES_MAX 32          /* currencies on one method (Alipay+ lists 14) */
#define LIMIT_RULE_COUNTRIES_MAX  64          /* countries on one method (Klarna lists 26) */
#define LIMIT_RULE_RATES_MAX      128         /* configured exchange rates */
#define LIMIT_RULE_LOCALS_MAX     256         /* country -> local currency (ISO 3166 has 249) */
#define LIMIT_RULE_MESSAGE_MAX    256         /* one refusal or parse error message */

/* Hosted pages and the sandbox demo shop (api/checkout, api/demo) */
#define LIMIT_PAGE_FORM_MAX       (16 * 1024) /* a hosted-page or demo form: a few short fields */
#define LIMIT_DEMO_EVENTS_MAX     200         /* webhook events the demo shop keeps in memory */
#define LIMIT_DEMO_CART_LINES_MAX 16          /* distinct products in the demo cart cookie */
#define LIMIT_DEMO_QTY_MAX        99          /* quantity of one product in the demo cart */

/* Staff back office (gateway/staff.c, api/backoffice) */
#define LIMIT_BO_PASSWORD_MIN        12  /* OWASP ASVS 2.1.1: at least 12 characters */
#define LIMIT_BO_PASSWORD_MAX        128 /* argon2id hashes any length; a bound on the work */
#define LIMIT_BO_FAILS_BEFORE_LOCK   5   /* wrong passwords/codes in a row before the lock */
#define LIMIT_BO_LOCK_MS             (15 * 60 * 1000) /* locked out this long (OWASP) */
#define LIMIT_BO_FAIL_DELAY_MS       1000 /* every failed sign-in waits this long first */
#define LIMIT_BO_SESSION_IDLE_MS     (30 * 60 * 1000)      /* OWASP: 15-30 min idle */
#define LIMIT_BO_SESSION_ABSOLUTE_MS (12 * 60 * 60 * 1000) /* one working day */
#define LIMIT_BO_SESSION_TOUCH_MS    (60 * 1000)     /* last_ms written at most once a minute */
#define LIMIT_BO_PENDING_MS          (5 * 60 * 1000) /* password given, code awaited */
#define LIMIT_BO_RECOVERY_CODES      8               /* recovery codes minted per user */
#define LIMIT_BO_TOTP_WINDOW         1    /* steps of clock skew accepted either side (RFC 6238) */
#define LIMIT_BO_LIVE_WAIT_MS        3000 /* one live-update poll waits this long for news */
#define LIMIT_BO_LIVE_POLL_MS        200  /* how often that poll reads the journal */
#define LIMIT_BO_LIVE_MAX            16   /* live polls at once (each holds a handler thread) */
#define LIMIT_BO_LIVE_BATCH          50   /* journal rows sent per live answer */
#define LIMIT_BO_PAGE_ROWS           50   /* payments per list page */
#define LIMIT_BO_TOTALS_MAX          64   /* currencies in the totals line */
#define LIMIT_BO_EXPIRING_DAYS       7    /* the "expiring soon" queue looks this far ahead */
#define LIMIT_BO_VIEWS_MAX           50   /* saved views per user */
#define LIMIT_BO_STAFF_MAX           500  /* staff users listed on the staff page */
#define LIMIT_BO_FORM_MAX            (32 * 1024) /* a back-office form: order lines at most */
#define LIMIT_BO_REASON_MAX          500         /* the reason typed for an action */
#define LIMIT_BO_AUDIT_VERIFY_BATCH  500 /* audit rows read per step of `kassa audit verify` */
#define LIMIT_SETTINGS_HIDDEN_MAX    64 /* hidden (method, currency, country) triples per merchant */
#define LIMIT_SETTINGS_USERNAME_MAX  128  /* a provider's API username or client id */
#define LIMIT_SETTINGS_PUBKEY_MAX    4096 /* Antom's RSA public key in PEM (a 4096-bit key: ~800) */
#define LIMIT_SETTINGS_SHOP_NAME_MAX 100  /* the shop name on the hosted pages */

/* Scheduler */
#define LIMIT_TICK_ITEMS_MAX 200 /* timers handled per scheduler tick (bounded work) */
/* A scheduler's claim on the timers it took (store_obj_claim_due): other nodes'
 * schedulers pass them by this long, and a node that died holding them is
 * replaced after it. Short, because a timer whose handler saved nothing (it
 * looks again later) also waits this long; a slice handled past it may be
 * handled twice, which row locks and provider idempotency keys make harmless. */
#define LIMIT_TIMER_LEASE_S 10

/* Hosted page: a second "Pay" while the first one's provider call runs waits this
 * long for that attempt's page, then follows it (two quick submits: one attempt, no
 * error page); it looks again every LIMIT_PAGE_PAY_POLL_MS. */
#define LIMIT_PAGE_PAY_WAIT_MS (LIMIT_PROVIDER_TIMEOUT_MS + 2000)
#define LIMIT_PAGE_PAY_POLL_MS 100

/* Merchants whose Klarna-backed calls are counted at once on one node (budget.c); past it
 * the least recently seen merchant's count starts afresh. */
#define LIMIT_BUDGET_SLOTS 4096

/* Operations: backups, `kassa listen`, the OpenAPI document (src/cli/) */
#define LIMIT_BACKUP_PATH_MAX      1024 /* a backup or database path (PATH_MAX-sized buffers halved) */
#define LIMIT_BACKUP_BUSY_MS       30000 /* VACUUM INTO waiting for a lock a checkpoint holds */
#define LIMIT_BACKUP_KEEP_MAX      1000  /* periodic backups kept; more is a misconfiguration */
#define LIMIT_BACKUP_DIR_FILES_MAX 4096  /* files looked at when pruning the backup directory */
#define LIMIT_LISTEN_PAGE          100   /* events fetched per request (Stripe's page maximum) */
#define LIMIT_LISTEN_POLL_EVENTS_MAX                                                               \
    1000                               /* events forwarded per poll (bounded work; the rest next) */
#define LIMIT_OPENAPI_MAX (512 * 1024) /* the generated document (about 60 KiB today) */

/* Reports, exports, schedules and analytics (gateway/reports*.c, base/tz.c, base/csv.c) */
#define LIMIT_TZ_NAME_MAX        64  /* longest IANA name is 32 ("America/Argentina/...") */
#define LIMIT_TZ_ZONES_MAX       128 /* distinct zones one process loads (cache, never freed) */
#define LIMIT_TZ_FILE_MAX        (256 * 1024) /* a TZif file (the largest "fat" one is ~3 KB) */
#define LIMIT_TZ_TRANSITIONS_MAX 4000         /* transitions in one zone (fat files: < 400) */
#define LIMIT_REPORT_PAGE_ROWS                                                                     \
    1000                            /* rows one store page reads while streaming: constant memory  \
                                     */
#define LIMIT_REPORT_COLUMNS_MAX 64 /* columns[] entries of one run (the widest type has 30) */
#define LIMIT_REPORT_INTERVAL_S  (400LL * 86400) /* one run spans at most ~13 months */
#define LIMIT_REPORT_JOB_LEASE_MS                                                                  \
    (15 * 60 * 1000)                    /* a claimed job is another node's after this              \
                                         */
#define LIMIT_REPORT_JOB_ATTEMPTS    12 /* deliveries retried for about a day with the backoff */
#define LIMIT_REPORT_BACKOFF_MAX_S   (4 * 3600) /* longest wait between two delivery attempts */
#define LIMIT_REPORT_JOBS_PER_TICK   8 /* jobs the report worker claims at once (bounded work) */
#define LIMIT_REPORT_SEND_TIMEOUT_MS 120000             /* one delivery by HTTP POST or SMTP */
#define LIMIT_REPORT_ATTACH_MAX      (20 * 1024 * 1024) /* larger files are mailed as a link */
#define LIMIT_REPORT_SCHEDULES_MAX   100                /* schedules one merchant keeps */
#define LIMIT_REPORT_RECIPIENTS_MAX  10                 /* e-mail recipients of one schedule */
#define LIMIT_ANALYTICS_BUCKETS_MAX  3000 /* 31 days of 15 minutes; coarser buckets for longer */
#define LIMIT_ANALYTICS_GROUPS_MAX                                                                 \
    200000 /* (slot, kind, status, code, currency) groups per call                                 \
            */
#define LIMIT_XLSX_SHEET_ROWS                                                                      \
    1048575 /* Excel's 1,048,576 rows less the header: then a new sheet                            \
             */

_Static_assert(LIMIT_PARAM_VALUE_MAX < LIMIT_HTTP_BODY_MAX, "one value fits in a body");
_Static_assert(LIMIT_METADATA_VALUE_MAX <= LIMIT_PARAM_VALUE_MAX, "metadata fits a param");
_Static_assert(LIMIT_LIST_PAGE_DEFAULT <= LIMIT_LIST_PAGE_MAX, "default page within max");
_Static_assert(LIMIT_WRITE_BATCH_MAX <= LIMIT_WRITE_QUEUE_MAX, "a batch fits the queue");
_Static_assert(LIMIT_SQLITE_CKPT_FRAMES < LIMIT_SQLITE_CKPT_FORCE_FRAMES,
               "the checkpointer is woken before the writer has to checkpoint");
_Static_assert(LIMIT_LIST_PAGE_MAX <= LIMIT_STORE_ROWS_MAX, "an API page is one store call");
_Static_assert(LIMIT_BO_LIVE_POLL_MS < LIMIT_BO_LIVE_WAIT_MS, "a live poll reads more than once");
_Static_assert(LIMIT_BO_LIVE_MAX < LIMIT_HTTP_WORKERS_MAX, "live polls leave handler threads");
_Static_assert(LIMIT_BO_PAGE_ROWS <= LIMIT_LIST_PAGE_MAX, "a list page is one store call");
_Static_assert(LIMIT_BO_AUDIT_VERIFY_BATCH <= LIMIT_STORE_ROWS_MAX, "a verify step is one call");
_Static_assert(LIMIT_BO_SESSION_IDLE_MS < LIMIT_BO_SESSION_ABSOLUTE_MS, "idle before absolute");
_Static_assert(LIMIT_URL_MAX < LIMIT_HTTP_URL_MAX, "a return URL fits in a request URL");
_Static_assert(LIMIT_WEBHOOK_BACKOFF_MAX_S < LIMIT_WEBHOOK_HORIZON_S, "backoff within horizon");
_Static_assert((int64_t)LIMIT_IDEMPOTENCY_LEASE_S * 1000 >
                   (int64_t)LIMIT_PROVIDER_TIMEOUT_MS * (LIMIT_PROVIDER_RETRIES + 1),
               "a claim's lease outlives its provider call with every retry");
_Static_assert(LIMIT_PAGE_PAY_POLL_MS < LIMIT_PAGE_PAY_WAIT_MS, "the wait looks more than once");
_Static_assert(LIMIT_RATE_BURST_MAX * 60000LL < (1LL << 62), "a full bucket fits in units");
_Static_assert(LIMIT_HTTP_HEAD_DEADLINE_S <= LIMIT_HTTP_TIMEOUT_S,
               "a head deadline never outlasts the idle timeout");

_Static_assert(LIMIT_LISTEN_PAGE <= LIMIT_LIST_PAGE_MAX, "one poll is one API page");
_Static_assert(LIMIT_OPENAPI_MAX <= LIMIT_RESPONSE_MAX, "the document fits an answer");

_Static_assert(LIMIT_REPORT_PAGE_ROWS <= LIMIT_STORE_ROWS_MAX, "a report page is one store call");
_Static_assert(31 * 96 <= LIMIT_ANALYTICS_BUCKETS_MAX, "a month of 15-minute buckets fits");

#endif
