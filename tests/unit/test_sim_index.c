/*
 * test_sim_index.c - the simulators' hash index: lookups by one and two
 * keys, a ring reusing its slots (old keys gone, new keys found), and many
 * more insertions than slots so that tombstones force rebuilds, checked
 * against a plain linear scan after every step.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim_index.h"

#define RING 64

typedef struct {
    char id[RING][24];
    char route[RING][8];
} table;

static bool match_id(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const table *t = ctx;
    return strcmp(t->id[slot], k1) == 0;
}

static bool match_both(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const table *t = ctx;
    return strcmp(t->id[slot], k1) == 0 && strcmp(t->route[slot], k2) == 0;
}

static int64_t scan(const table *t, const char *id)
{
    for (int i = 0; i < RING; i++)
        if (strcmp(t->id[i], id) == 0)
            return i;
    return -1;
}

static void test_one_and_two_keys(void **state)
{
    sim_index ix, ix2;
    static table t;
    assert_int_equal(sim_index_init(&ix, RING), K_OK);
    assert_int_equal(sim_index_init(&ix2, RING), K_OK);
    snprintf(t.id[3], sizeof t.id[3], "abc");
    snprintf(t.route[3], sizeof t.route[3], "GET");
    snprintf(t.id[4], sizeof t.id[4], "abc");
    snprintf(t.route[4], sizeof t.route[4], "POST");
    sim_index_put(&ix, "abc", NULL, 3);
    sim_index_put(&ix2, "abc", "GET", 3);
    sim_index_put(&ix2, "abc", "POST", 4);
    assert_int_equal(sim_index_get(&ix, "abc", NULL, match_id, &t), 3);
    assert_int_equal(sim_index_get(&ix, "abd", NULL, match_id, &t), -1);
    assert_int_equal(sim_index_get(&ix, "", NULL, match_id, &t), -1);
    assert_int_equal(sim_index_get(&ix2, "abc", "POST", match_both, &t), 4);
    assert_int_equal(sim_index_get(&ix2, "abc", "GET", match_both, &t), 3);
    assert_int_equal(sim_index_get(&ix2, "abc", "PUT", match_both, &t), -1);
    sim_index_del(&ix2, "abc", "GET", 3);
    assert_int_equal(sim_index_get(&ix2, "abc", "GET", match_both, &t), -1);
    assert_int_equal(sim_index_get(&ix2, "abc", "POST", match_both, &t), 4);
    sim_index_clear(&ix2);
    assert_int_equal(sim_index_get(&ix2, "abc", "POST", match_both, &t), -1);
    sim_index_free(&ix);
    sim_index_free(&ix2);
}

/* A ring of RING slots receives 100x as many objects: every lookup agrees
 * with a linear scan, evicted ids are gone, and the index never grows. */
static void test_ring_reuse_and_rebuilds(void **state)
{
    sim_index ix;
    static table t;
    memset(&t, 0, sizeof t);
    assert_int_equal(sim_index_init(&ix, RING), K_OK);
    size_t cap = ix.cap;
    for (uint32_t n = 0; n < RING * 100; n++) {
        uint32_t slot = n % RING;
        sim_index_del(&ix, t.id[slot], NULL, slot);
        snprintf(t.id[slot], sizeof t.id[slot], "obj_%u", n);
        sim_index_put(&ix, t.id[slot], NULL, slot);
        assert_true(ix.used <= RING);
        char probe[24];
        for (uint32_t back = 0; back < 3 * RING && back <= n; back += 7) {
            snprintf(probe, sizeof probe, "obj_%u", n - back);
            assert_int_equal(sim_index_get(&ix, probe, NULL, match_id, &t), scan(&t, probe));
        }
    }
    assert_int_equal(ix.cap, cap);
    assert_int_equal(ix.used, RING);
    char old[24];
    snprintf(old, sizeof old, "obj_%u", 0u);
    assert_int_equal(sim_index_get(&ix, old, NULL, match_id, &t), -1);
    sim_index_free(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_and_two_keys),
        cmocka_unit_test(test_ring_reuse_and_rebuilds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
