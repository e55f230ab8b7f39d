/*
 * test_base.c - the small base modules: arena, buf, ids, clock, log, k_str and
 * K_ASSERT (base/common.c, arena.c, buf.c, ids.c, clock.c, log.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/common.h"
#include "base/ids.h"
#include "base/jsonw.h"
#include "base/log.h"

/* ------------------------------------------------------------------ common */

static void test_k_str(void **state)
{
    (void)state;
    k_str a = K_STR("klarna");
    assert_int_equal(a.len, 6);
    assert_true(k_str_eq(a, k_str_c("klarna")));
    assert_false(k_str_eq(a, k_str_c("klarn")));
    assert_false(k_str_eq(a, k_str_c("klarnb")));
    assert_true(k_str_eq_c(a, "klarna"));
    assert_false(k_str_eq_c(a, "alipay"));
    k_str e = k_str_c(NULL);
    assert_int_equal(e.len, 0);
    assert_true(k_str_eq(e, K_STR("")));
    assert_true(k_str_eq_c((k_str){"abc", 2}, "ab")); /* counted, not NUL-terminated */

    const k_status all[] = {K_OK,        K_ERR,       K_ENOMEM, K_ETOOBIG,  K_EINVAL,
                            K_ENOTFOUND, K_ECONFLICT, K_EIO,    K_ETIMEOUT, K_EBUSY};
    for (size_t i = 0; i < K_ARRAY_LEN(all); i++) {
        for (size_t j = i + 1; j < K_ARRAY_LEN(all); j++)
            assert_string_not_equal(k_status_str(all[i]), k_status_str(all[j]));
    }
    assert_string_equal(k_status_str(K_ETOOBIG), "too big");
    assert_string_equal(k_status_str((k_status)-77), "unknown status");
}

static void test_k_assert_aborts(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        volatile int x = 1;
        K_ASSERT(x == 2);
        _exit(0); /* not reached */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ------------------------------------------------------------------ arena */

static void test_arena_basic(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 0);
    for (size_t n = 1; n < 200; n++) {
        unsigned char *p = arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xAB, n);
    }
    /* large allocation: own block, zeroed, and small ones still work afterwards */
    unsigned char *big = arena_alloc(&a, 100 * 1024);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    for (size_t i = 0; i < 100 * 1024; i += 97)
        assert_int_equal(big[i], 0);
    memset(big, 0xCD, 100 * 1024);
    char *s = arena_strdup(&a, "pi_123");
    assert_string_equal(s, "pi_123");
    assert_null(arena_strdup(&a, NULL));
    assert_string_equal(arena_strndup(&a, "abcdef", 3), "abc");
    assert_string_equal(arena_printf(&a, "%s-%d", "evt", 42), "evt-42");
    assert_true(a.used_total >= 100 * 1024);
    arena_release(&a);
    assert_null(a.head);
    assert_int_equal(a.used_total, 0);
    /* reusable after release */
    assert_non_null(arena_alloc(&a, 10));
    arena_release(&a);
}

static void test_arena_many_blocks(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 0);
    enum { N = 5000 };
    uint32_t *ptrs[N];
    for (uint32_t i = 0; i < N; i++) {
        ptrs[i] = arena_alloc(&a, 24 + (i % 7) * 100);
        assert_non_null(ptrs[i]);
        ptrs[i][0] = i;
        ptrs[i][5] = ~i;
    }
    for (uint32_t i = 0; i < N; i++) { /* nothing overlapped */
        assert_int_equal(ptrs[i][0], i);
        assert_int_equal(ptrs[i][5], ~i);
    }
    arena_release(&a);
}

/* A released arena's blocks are reused by the thread's next arenas: zeroed again. */
static void test_arena_reuse_zeroed(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 0);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 64; i++) { /* ~40 KiB: several standard blocks */
            unsigned char *p = arena_alloc(&a, 640);
            assert_non_null(p);
            for (int k = 0; k < 640; k++)
                assert_int_equal(p[k], 0);
            memset(p, 0xab, 640);
        }
        arena_release(&a);
    }
    arena_release(&a);
}

static void test_arena_max(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 1000);
    assert_non_null(arena_alloc(&a, 512));
    assert_null(arena_alloc(&a, 512)); /* 1024 > 1000 */
    assert_non_null(arena_alloc(&a, 400));
    assert_int_equal(a.used_total, 912);
    assert_null(arena_alloc(&a, 100));
    char longer[100];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_null(arena_strdup(&a, longer));          /* 112 rounded > 88 left */
    assert_non_null(arena_strndup(&a, longer, 70)); /* 71 rounded to 80 fits */
    assert_int_equal(a.used_total, 992);
    assert_null(arena_alloc(&a, SIZE_MAX));
    arena_release(&a);
    assert_non_null(arena_alloc(&a, 512)); /* budget restored */
    arena_release(&a);

    arena_init(&a, 0);
    assert_null(arena_alloc(&a, SIZE_MAX - 4));
    arena_release(&a);
}

/* ------------------------------------------------------------------ buf */

static void test_buf_basic(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(b.max, SIZE_MAX / 2);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_append_str(&b, "amount="), K_OK);
    assert_int_equal(buf_printf(&b, "%d&currency=%s", 2500, "eur"), K_OK);
    assert_string_equal(b.data, "amount=2500&currency=eur");
    assert_int_equal(b.len, strlen(b.data));
    assert_int_equal(buf_append(&b, "\0x", 2), K_OK); /* binary safe */
    assert_int_equal(b.len, 26);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    /* growth across many doublings */
    for (int i = 0; i < 100000; i++)
        assert_int_equal(buf_append(&b, "0123456789", 10), K_OK);
    assert_int_equal(b.len, 1000000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 999990, "0123456789", 10);
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    assert_int_equal(len, 1000000);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    free(p);
    p = buf_detach(&b, &len); /* empty buffer detaches an empty string */
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
    buf_free(&b);
    buf_free(&b); /* idempotent */
}

static void test_buf_max(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append_str(&b, "0123456789"), K_OK);
    assert_int_equal(b.len, 10);
    assert_true(b.cap <= 11);
    assert_int_equal(buf_append_str(&b, "x"), K_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "abc"), K_OK);
    assert_int_equal(buf_printf(&b, "%s", "12345678"), K_ETOOBIG);
    assert_string_equal(b.data, "abc");
    assert_int_equal(buf_append_html(&b, "a<b>c&d"), K_ETOOBIG); /* 21 bytes escaped */
    assert_string_equal(b.data, "abc");
    assert_int_equal(buf_append_urlenc(&b, "a b c"), K_ETOOBIG); /* 11 bytes encoded */
    assert_string_equal(b.data, "abc");
    assert_int_equal(b.len, 3);
    assert_int_equal(buf_append_urlenc(&b, "a b"), K_OK);
    assert_string_equal(b.data, "abca%20b");
    buf_free(&b);
}

static void test_buf_escapes(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append_html(&b, "<a href=\"x\">O'Brien & Co</a>"), K_OK);
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; Co&lt;/a&gt;");
    buf_reset(&b);
    assert_int_equal(buf_append_html(&b, ""), K_OK);
    assert_string_equal(b.data, "");
    /* encodeURIComponent: unreserved A-Z a-z 0-9 - _ . ! ~ * ' ( ) */
    assert_int_equal(buf_append_urlenc(&b, "Az09-_.!~*'() &=/?#+%:;,\xc3\xa9"), K_OK);
    assert_string_equal(b.data, "Az09-_.!~*'()%20%26%3D%2F%3F%23%2B%25%3A%3B%2C%C3%A9");
    buf_reset(&b);
    assert_int_equal(buf_append_urlenc(&b, "http://127.0.0.1:8080/return?x=1"), K_OK);
    assert_string_equal(b.data, "http%3A%2F%2F127.0.0.1%3A8080%2Freturn%3Fx%3D1");
    buf_free(&b);
}

/* ------------------------------------------------------------------ jsonw */

static void test_jsonw(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    jsonw w;
    jw_init(&w, &b);
    jw_obj(&w, NULL);
    jw_str(&w, "s", "a\"b\\c\n\t\x01/\xc3\xa9");
    jw_str(&w, "none", NULL);
    jw_int(&w, "i", -9007199254740993LL);
    jw_bool(&w, "t", true);
    jw_bool(&w, "f", false);
    jw_arr(&w, "arr");
    jw_int(&w, NULL, 1);
    jw_obj(&w, NULL);
    jw_obj_end(&w);
    jw_arr(&w, NULL);
    jw_arr_end(&w);
    jw_null(&w, NULL);
    jw_arr_end(&w);
    json_t *meta = json_pack("{s:s}", "k", "v");
    jw_json(&w, "meta", meta);
    json_decref(meta);
    jw_json(&w, "nothing", NULL);
    jw_raw(&w, "raw", "{}", 2);
    jw_obj_end(&w);
    assert_int_equal(jw_status(&w), K_OK);
    assert_string_equal(b.data, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/\xc3\xa9\",\"none\":null,"
                                "\"i\":-9007199254740993,\"t\":true,\"f\":false,"
                                "\"arr\":[1,{},[],null],\"meta\":{\"k\":\"v\"},"
                                "\"nothing\":null,\"raw\":{}}");
    /* what jansson reads back is what was written */
    json_error_t err;
    json_t *back = json_loadb(b.data, b.len, 0, &err);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "s")), "a\"b\\c\n\t\x01/\xc3\xa9");
    json_decref(back);
    buf_free(&b);

    /* past the buffer's maximum the first failure sticks */
    buf small;
    buf_init(&small, 8);
    jw_init(&w, &small);
    jw_obj(&w, NULL);
    jw_str(&w, "key", "a value too long");
    jw_int(&w, "n", 1);
    jw_obj_end(&w);
    assert_int_not_equal(jw_status(&w), K_OK);
    buf_free(&small);
}

/* ------------------------------------------------------------------ ids */

static void test_ids(void **state)
{
    (void)state;
    char id[LIMIT_ID_MAX], id2[LIMIT_ID_MAX];
    id_new(id, "pi_");
    id_new(id2, "pi_");
    assert_int_equal(strlen(id), 3 + ID_RANDOM_LEN);
    assert_memory_equal(id, "pi_", 3);
    assert_string_not_equal(id, id2);
    assert_true(id_valid(id, "pi_"));
    assert_false(id_valid(id, "re_"));
    for (size_t i = 3; i < strlen(id); i++) {
        char c = id[i];
        assert_true((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
    }
    /* time-ordered: an id minted 2 ms later sorts after, whatever the random part */
    for (int i = 0; i < 20; i++) {
        id_new(id, "pi_");
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
        id_new(id2, "pi_");
        assert_true(strcmp(id, id2) < 0);
        assert_memory_not_equal(id + 3 + ID_TIME_LEN, id2 + 3 + ID_TIME_LEN,
                                ID_RANDOM_LEN - ID_TIME_LEN);
    }
    id_new_n(id, "whsec_", 32);
    assert_int_equal(strlen(id), 38);
    assert_true(id_valid(id, "whsec_"));
    id_new_n(id, "sk_test_", LIMIT_ID_MAX - 9);
    assert_int_equal(strlen(id), LIMIT_ID_MAX - 1);
    assert_true(id_valid(id, "sk_test_"));

    assert_true(id_valid("pi_a", "pi_"));
    assert_true(id_valid("pi_a_b", "pi_"));
    assert_false(id_valid("pi_", "pi_"));
    assert_false(id_valid("pi_a-b", "pi_"));
    assert_false(id_valid("pi_a b", "pi_"));
    assert_false(id_valid("pi_\xc3\xa9", "pi_"));
    assert_false(id_valid("pi", "pi_"));
    assert_false(id_valid(NULL, "pi_"));
    assert_true(id_valid("anything_1", NULL));
    char longid[LIMIT_ID_MAX + 1];
    memset(longid, 'a', LIMIT_ID_MAX);
    memcpy(longid, "pi_", 3);
    longid[LIMIT_ID_MAX] = '\0';
    assert_false(id_valid(longid, "pi_")); /* 64 characters */
    longid[LIMIT_ID_MAX - 1] = '\0';
    assert_true(id_valid(longid, "pi_")); /* 63 characters */
}

static void test_ids_uniform(void **state)
{
    (void)state;
    /* 124000 characters: each of 62 expected 2000 times (sd ~44). Modulo bias on
     * bytes would give the first 8 characters ~2500: well outside [1800, 2200]. */
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned counts[62] = {0};
    char id[LIMIT_ID_MAX];
    for (int i = 0; i < 62 * 2000 / 40; i++) {
        id_new_n(id, "x", 40);
        for (size_t k = 1; k < 41; k++) {
            const char *at = strchr(alpha, id[k]);
            assert_non_null(at);
            counts[at - alpha]++;
        }
    }
    for (int c = 0; c < 62; c++) {
        if (counts[c] < 1800 || counts[c] > 2200)
            fail_msg("character %c drawn %u times", alpha[c], counts[c]);
    }
}

/* ------------------------------------------------------------------ clock */

static void *clock_worker(void *arg)
{
    int *bad = arg;
    int64_t last = clock_mono_ms();
    int64_t last_now = clock_now_ms();
    for (int i = 0; i < 100000; i++) {
        int64_t m = clock_mono_ms();
        int64_t n = clock_now_ms();
        if (m < last || n < last_now)
            (*bad)++;
        last = m;
        last_now = n;
    }
    return NULL;
}

static void test_clock(void **state)
{
    (void)state;
    int64_t real = (int64_t)time(NULL) * 1000;
    int64_t now = clock_now_ms();
    assert_true(now >= real - 1000 && now <= real + 2000);
    assert_true(clock_now_s() == clock_now_ms() / 1000 ||
                clock_now_s() == clock_now_ms() / 1000 - 1);

    int64_t before_off = clock_offset_ms();
    int64_t before = clock_now_s();
    clock_advance_ms(48LL * 3600 * 1000);
    assert_int_equal(clock_offset_ms() - before_off, 48LL * 3600 * 1000);
    assert_true(clock_now_s() >= before + 48 * 3600);
    assert_true(clock_now_s() <= before + 48 * 3600 + 2);
    clock_advance_ms(0);
    assert_int_equal(clock_offset_ms() - before_off, 48LL * 3600 * 1000);

    int64_t m1 = clock_mono_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t m2 = clock_mono_ms();
    assert_true(m2 - m1 >= 19);
    assert_true(m2 - m1 < 5000);

    pthread_t th[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, clock_worker, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(bad[i], 0);
    }

    char out[32];
    clock_fmt_iso(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00+0000");
    clock_fmt_iso(1700000000, out);
    assert_string_equal(out, "2023-11-14T22:13:20+0000");
    clock_fmt_iso(1735812005, out);
    assert_string_equal(out, "2025-01-02T10:00:05+0000");
}

/* ------------------------------------------------------------------ log */

/* Runs fn with stderr redirected to a temporary file; returns its contents. */
static char *capture_stderr(void (*fn)(void))
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
    long n = ftell(tmp);
    assert_true(n >= 0);
    rewind(tmp);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, tmp), (size_t)n);
    fclose(tmp);
    return s;
}

static void log_some(void)
{
    log_set_level(LOG_INFO);
    log_set_request_id("req_abc");
    log_info("payment '%s' captured: \"%d\"\n\ttab \x01 bad \xff ok \xc3\xa9", "pi_1", 2500);
    log_debug("hidden %d", 1);
    log_set_request_id(NULL);
    log_error("no request");
    log_json_line("\"method\":\"GET\",\"status\":200");
    log_json_line("");
}

static json_t *parse_line(const char *line, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    if (j == NULL)
        fail_msg("not JSON: %.*s (%s)", (int)len, line, jerr.text);
    return j;
}

static void test_log_lines(void **state)
{
    (void)state;
    char *out = capture_stderr(log_some);
    const char *p = out;
    json_t *lines[8];
    size_t n = 0;
    while (*p != '\0' && n < 8) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        lines[n++] = parse_line(p, (size_t)(nl - p));
        p = nl + 1;
    }
    assert_int_equal(n, 4);
    assert_string_equal(json_string_value(json_object_get(lines[0], "level")), "info");
    assert_string_equal(json_string_value(json_object_get(lines[0], "req")), "req_abc");
    assert_string_equal(json_string_value(json_object_get(lines[0], "msg")),
                        "payment 'pi_1' captured: \"2500\"\n\ttab \x01 bad \xef\xbf\xbd ok "
                        "\xc3\xa9");
    const char *ts = json_string_value(json_object_get(lines[0], "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* 2025-01-02T10:00:05.123Z */
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(json_string_value(json_object_get(lines[1], "level")), "error");
    assert_string_equal(json_string_value(json_object_get(lines[1], "req")), "");
    assert_int_equal(json_integer_value(json_object_get(lines[2], "status")), 200);
    assert_non_null(json_object_get(lines[2], "ts"));
    assert_int_equal(json_object_size(lines[3]), 1);
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i]);
    free(out);
    assert_string_equal(log_request_id(), "");
}

static void *log_worker(void *arg)
{
    char id[LIMIT_ID_MAX];
    snprintf(id, sizeof(id), "req_t%d", *(int *)arg);
    log_set_request_id(id);
    char big[3000];
    memset(big, 'a' + *(int *)arg, sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 200; i++)
        log_info("%d %s", i, big);
    return NULL;
}

static void log_threads(void)
{
    pthread_t th[4];
    int ids[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_worker, &ids[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}

static void test_log_threads(void **state)
{
    (void)state;
    char *out = capture_stderr(log_threads);
    const char *p = out;
    int count = 0;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_t *j = parse_line(p, (size_t)(nl - p));
        const char *req = json_string_value(json_object_get(j, "req"));
        const char *msg = json_string_value(json_object_get(j, "msg"));
        assert_non_null(req);
        assert_non_null(msg);
        char want = (char)('a' + (req[5] - '0')); /* each thread logs its own letter */
        const char *sp = strchr(msg, ' ');
        assert_non_null(sp);
        assert_int_equal(strlen(sp + 1), 2999);
        assert_int_equal(sp[1], want);
        assert_int_equal(sp[2999], want);
        json_decref(j);
        count++;
        p = nl + 1;
    }
    assert_int_equal(count, 800);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k_str),
        cmocka_unit_test(test_k_assert_aborts),
        cmocka_unit_test(test_arena_basic),
        cmocka_unit_test(test_arena_many_blocks),
        cmocka_unit_test(test_arena_reuse_zeroed),
        cmocka_unit_test(test_arena_max),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_max),
        cmocka_unit_test(test_buf_escapes),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_jsonw),
        cmocka_unit_test(test_ids_uniform),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_log_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
