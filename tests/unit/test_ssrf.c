/*
 * test_ssrf.c - the SSRF guard of src/base/httpc.c: which addresses count as
 * public, which merchant URLs are refused when they are stored, and that a
 * guarded transfer never connects to a non-public address (a real listener on
 * loopback counts the connections it accepts), including through a connection
 * an unguarded transfer left in curl's cache. Prints how many forms were refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/httpc.h"
#include "base/log.h"
#include "limits.h"

static bool ip_public(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        fail_msg("not an IP: %s", ip);
    return httpc_addr_public((const struct sockaddr *)&ss);
}

static const char *const NON_PUBLIC[] = {
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "2001::1",
    "2001:db8::1",
    "100::1",
    "3fff::1",
};
static const char *const PUBLIC[] = {"8.8.8.8",        "1.1.1.1",          "93.184.216.34",
                                     "100.63.255.255", "100.128.0.1",      "172.15.255.255",
                                     "172.32.0.1",     "2606:4700::1111",  "2a00:1450:4001::200e",
                                     "::ffff:8.8.8.8", "2002:0808:0808::1"};

static void test_addresses(void **state)
{
    (void)state;
    httpc_allow_loopback(false);
    for (size_t i = 0; i < sizeof(NON_PUBLIC) / sizeof(NON_PUBLIC[0]); i++)
        if (ip_public(NON_PUBLIC[i]))
            fail_msg("%s counted as public", NON_PUBLIC[i]);
    for (size_t i = 0; i < sizeof(PUBLIC) / sizeof(PUBLIC[0]); i++)
        if (!ip_public(PUBLIC[i]))
            fail_msg("%s counted as non-public", PUBLIC[i]);
    httpc_allow_loopback(true);
    assert_true(ip_public("127.0.0.1"));
    assert_true(ip_public("::1"));
    assert_true(ip_public("::ffff:127.0.0.1"));
    assert_false(ip_public("10.0.0.1")); /* the switch is about loopback only */
    assert_false(ip_public("169.254.169.254"));
    assert_false(ip_public("0.0.0.0"));
    httpc_allow_loopback(false);
    printf("ssrf: %zu non-public addresses refused, %zu public accepted\n",
           sizeof(NON_PUBLIC) / sizeof(NON_PUBLIC[0]), sizeof(PUBLIC) / sizeof(PUBLIC[0]));
}

/* Every one of these is refused when a merchant stores it. */
static const char *const BAD_URLS[] = {
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/hook",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[::]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://foo.localhost/",
    "http://user@example.com/",
    "http://user:pw@example.com/",
    "http://user@127.0.0.1/",
    "http://example.com@127.0.0.1/",
    "https://:@example.com/",
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "javascript:alert(1)",
    "http://",
    "http:///path",
    "https:/example.com/",              /* curl reads host "example.com" (fuzz_url) */
    "https:/http://[:/shop.e//shomp.a", /* fuzz_url's first find */
    "example.com/hook",
    "",
};
static const char *const GOOD_URLS[] = {
    "https://example.com/hook",   "http://example.com:8080/a?b=c@d",    "https://93.184.216.34/x",
    "https://[2606:4700::1111]/", "https://shop.example/webhooks#frag",
};

static void test_urls(void **state)
{
    (void)state;
    char why[160];
    httpc_allow_loopback(false);
    size_t refused = 0;
    for (size_t i = 0; i < sizeof(BAD_URLS) / sizeof(BAD_URLS[0]); i++) {
        if (httpc_url_check(BAD_URLS[i], why, sizeof(why)) == K_OK)
            fail_msg("'%s' accepted", BAD_URLS[i]);
        assert_true(why[0] != '\0');
        refused++;
    }
    for (size_t i = 0; i < sizeof(GOOD_URLS) / sizeof(GOOD_URLS[0]); i++)
        if (httpc_url_check(GOOD_URLS[i], why, sizeof(why)) != K_OK)
            fail_msg("'%s' refused: %s", GOOD_URLS[i], why);
    char longurl[LIMIT_URL_MAX + 32];
    snprintf(longurl, sizeof(longurl), "https://example.com/%0*d", LIMIT_URL_MAX, 0);
    assert_int_equal(httpc_url_check(longurl, why, sizeof(why)), K_EINVAL);
    httpc_allow_loopback(true);
    assert_int_equal(httpc_url_check("http://127.0.0.1:9/hook", why, sizeof(why)), K_OK);
    assert_int_equal(httpc_url_check("http://localhost:9/hook", why, sizeof(why)), K_OK);
    assert_int_equal(httpc_url_check("http://2130706433/", why, sizeof(why)), K_OK);
    assert_int_equal(httpc_url_check("http://10.0.0.1/", why, sizeof(why)), K_EINVAL);
    assert_int_equal(httpc_url_check("http://u@127.0.0.1/", why, sizeof(why)), K_EINVAL);
    httpc_allow_loopback(false);
    printf("ssrf: %zu URL forms refused at creation, %zu accepted\n", refused,
           sizeof(GOOD_URLS) / sizeof(GOOD_URLS[0]));
}

/* ---- a real listener on loopback that counts its connections ---- */

static int g_lfd;
static uint16_t g_lport;
static atomic_int g_accepted;

static void *listener_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(g_lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        atomic_fetch_add(&g_accepted, 1);
        char req[4096];
        static const char ans[] =
            "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nsecret";
        /* keep-alive: answer every request on this connection until it closes */
        for (;;) {
            ssize_t n = recv(fd, req, sizeof(req), 0);
            if (n <= 0 || send(fd, ans, sizeof(ans) - 1, MSG_NOSIGNAL) < 0)
                break;
        }
        close(fd);
    }
}

static int group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);
    g_lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(g_lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(g_lfd, 16) != 0)
        return -1;
    socklen_t len = sizeof(a);
    getsockname(g_lfd, (struct sockaddr *)&a, &len);
    g_lport = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, listener_main, NULL) != 0)
        return -1;
    pthread_detach(t);
    return httpc_init() == K_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    httpc_shutdown();
    shutdown(g_lfd, SHUT_RDWR);
    close(g_lfd);
    return 0;
}

static k_status get(const char *host, bool guarded, httpc_resp *resp)
{
    char url[128];
    snprintf(url, sizeof(url), "http://%s:%u/hook", host, g_lport);
    httpc_req req = {.method = "POST",
                     .url = url,
                     .body = "{}",
                     .body_len = 2,
                     .timeout_ms = 3000,
                     .public_only = guarded};
    return httpc_do(&req, resp);
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* spellings curl resolves to 127.0.0.1 itself: only connect-time checks see them */
    static const char *const hosts[] = {"127.0.0.1",  "2130706433", "0x7f000001",        "127.1",
                                        "0177.0.0.1", "localhost",  "[::ffff:127.0.0.1]"};
    httpc_allow_loopback(false);
    int before = atomic_load(&g_accepted);
    size_t refused = 0;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        httpc_resp resp;
        k_status st = get(hosts[i], true, &resp);
        if (st == K_OK)
            fail_msg("%s: answered %ld", hosts[i], resp.status);
        assert_int_equal(resp.status, 0);
        assert_null(strstr(resp.body.data != NULL ? resp.body.data : "", "secret"));
        refused += st == K_EINVAL;
        httpc_resp_free(&resp);
    }
    assert_int_equal(atomic_load(&g_accepted), before); /* connect() never called */
    /* [::ffff:127.0.0.1] fails to connect on some stacks before the guard: count the rest */
    assert_true(refused >= sizeof(hosts) / sizeof(hosts[0]) - 1);
    printf("ssrf: %zu of %zu loopback spellings refused at connect, %d connections made\n", refused,
           sizeof(hosts) / sizeof(hosts[0]), atomic_load(&g_accepted) - before);
}

static void test_cached_connection_refused(void **state)
{
    (void)state;
    httpc_allow_loopback(false);
    httpc_resp resp;
    /* an operator's call (a simulator on loopback) leaves a kept-alive connection */
    assert_int_equal(get("127.0.0.1", false, &resp), K_OK);
    assert_int_equal(resp.status, 200);
    httpc_resp_free(&resp);
    /* a merchant's URL to the same host and port must not ride on it */
    assert_int_equal(get("127.0.0.1", true, &resp), K_EINVAL);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(resp.error, "not a public address"));
    httpc_resp_free(&resp);
}

static void test_switch_allows_loopback(void **state)
{
    (void)state;
    httpc_allow_loopback(true);
    httpc_resp resp;
    assert_int_equal(get("127.0.0.1", true, &resp), K_OK);
    assert_int_equal(resp.status, 200);
    httpc_resp_free(&resp);
    httpc_allow_loopback(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_cached_connection_refused),
        cmocka_unit_test(test_switch_allows_loopback),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
