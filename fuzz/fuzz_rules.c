/*
 * fuzz_rules.c - libFuzzer target for the method rules file (rules_load: the
 * operator's rules_file and the built-in text): a refused file leaves an error
 * sentence, an accepted one answers rules_check for every method it holds.
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_rules -max_len=8192
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rules_table t;
    char err[LIMIT_RULE_MESSAGE_MAX];
    err[0] = '\0';
    rules_init(&t);
    k_status st = rules_load(&t, (const char *)data, size, err);
    if (st != K_OK) {
        K_ASSERT(err[0] != '\0');
        return 0;
    }
    static const char *const methods[] = {"klarna_pay_now", "klarna_pay_later", "alipay_plus", "x"};
    for (size_t i = 0; i < K_ARRAY_LEN(methods); i++) {
        (void)rules_method_find(&t, methods[i]);
        rule_refusal why;
        (void)rules_check(&t, methods[i], "EUR", "DE", 1000, &why);
    }
    int64_t rate;
    (void)rules_rate(&t, "EUR", "USD", &rate);
    return 0;
}
