/*
 * test_secrets.c - secrets at rest in src/base/crypto.c: the key file (created
 * 0600, the same key after a reload, refused when malformed), the keyed hash of
 * API keys (stable per key file, not SHA-256), and sealed secrets (round trip,
 * a fresh nonce each time, tampering and another key refused, old plain rows
 * passed through; texts of any length for stored idempotent answers).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crypto.h"
#include "base/log.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);
    snprintf(g_dir, sizeof(g_dir), "/tmp/kassa-secrets-XXXXXX");
    return mkdtemp(g_dir) != NULL && crypto_init() == K_OK ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static void test_key_file(void **state)
{
    (void)state;
    char p[128];
    path_of(p, sizeof(p), "kassa.key");
    assert_int_equal(crypto_keyfile_load(p), K_OK);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 65);
    char h1[SHA256_HEX_LEN], h2[SHA256_HEX_LEN], plain[SHA256_HEX_LEN];
    crypto_key_hash_hex("sk_test_abc", h1);
    crypto_sha256_hex("sk_test_abc", 11, plain);
    assert_string_not_equal(h1, plain);
    assert_int_equal(crypto_keyfile_load(p), K_OK); /* loaded again, not recreated */
    crypto_key_hash_hex("sk_test_abc", h2);
    assert_string_equal(h1, h2);
    char bad[128];
    path_of(bad, sizeof(bad), "bad.key");
    FILE *f = fopen(bad, "w");
    fputs("not hex\n", f);
    fclose(f);
    assert_int_equal(crypto_keyfile_load(bad), K_EINVAL);
    crypto_key_hash_hex("sk_test_abc", h2);
    assert_string_equal(h1, h2); /* a refused file changes nothing */
    unlink(bad);
}

static void test_seal_open(void **state)
{
    (void)state;
    char a[CRYPTO_SEALED_MAX], b[CRYPTO_SEALED_MAX], out[CRYPTO_SEAL_PLAIN_MAX + 1];
    assert_int_equal(crypto_seal("whsec_secret_value", a), K_OK);
    assert_int_equal(crypto_seal("whsec_secret_value", b), K_OK);
    assert_true(crypto_is_sealed(a));
    assert_string_not_equal(a, b); /* fresh nonce */
    assert_null(strstr(a, "secret"));
    assert_int_equal(crypto_open(a, out, sizeof(out)), K_OK);
    assert_string_equal(out, "whsec_secret_value");
    /* a plain value stored before encryption passes through */
    assert_int_equal(crypto_open("plain-old-secret", out, sizeof(out)), K_OK);
    assert_string_equal(out, "plain-old-secret");
    /* tampering: change one base64 character inside the box (not the last
     * quartet, whose padding bits decode to nothing) */
    a[20] = a[20] == 'A' ? 'B' : 'A';
    assert_int_equal(crypto_open(a, out, sizeof(out)), K_EINVAL);
    assert_int_equal(crypto_open("enc1:", out, sizeof(out)), K_EINVAL);
    assert_int_equal(crypto_open("enc1:!!!!", out, sizeof(out)), K_EINVAL);
    char big[CRYPTO_SEAL_PLAIN_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(crypto_seal(big, b), K_ETOOBIG);
    char empty[CRYPTO_SEALED_MAX];
    assert_int_equal(crypto_seal("", empty), K_OK);
    assert_int_equal(crypto_open(empty, out, sizeof(out)), K_OK);
    assert_string_equal(out, "");
}

static void test_seal_alloc(void **state)
{
    (void)state;
    size_t n = 100000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    char *box = crypto_seal_alloc(big);
    assert_non_null(box);
    assert_true(crypto_is_sealed(box));
    char *back = crypto_open_alloc(box);
    assert_non_null(back);
    assert_string_equal(back, big);
    free(back);
    box[10] = box[10] == 'A' ? 'B' : 'A';
    assert_null(crypto_open_alloc(box));
    free(box);
    back = crypto_open_alloc("{\"id\":\"plain\"}");
    assert_string_equal(back, "{\"id\":\"plain\"}");
    free(back);
    free(big);
}

static void test_other_key_refused(void **state)
{
    (void)state;
    char box[CRYPTO_SEALED_MAX], out[CRYPTO_SEAL_PLAIN_MAX + 1];
    assert_int_equal(crypto_seal("ecp-project-secret", box), K_OK);
    char p[128];
    path_of(p, sizeof(p), "other.key");
    assert_int_equal(crypto_keyfile_load(p), K_OK); /* a new file: another key */
    assert_int_equal(crypto_open(box, out, sizeof(out)), K_EINVAL);
    unlink(p);
    path_of(p, sizeof(p), "kassa.key");
    assert_int_equal(crypto_keyfile_load(p), K_OK);
    unlink(p);
    rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_seal_alloc),
        cmocka_unit_test(test_other_key_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
