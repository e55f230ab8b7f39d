/*
 * brand.c - what the customer's pages say about the merchant: its name (the
 * one given at `kassa merchant create`) and, when the merchant set one, its
 * logo (settings {"branding": {"logo_url": "https://..."}}). The hosted pages
 * show both and pass them on to the provider's pages.
 */
#include <string.h>
#include "gw_int.h"
#include "settings.h"

typedef struct {
    const char *id;
    arena *a;
    store_merchant m;
} brand_read;

static k_status brand_read_fn(store_tx *tx, void *arg)
{
    brand_read *r = arg;
    return store_merchant_get(tx, r->id, r->a, &r->m);
}

/* Only an https:// URL without quotes or spaces is ever put in an <img>. */
static bool brand_logo_ok(const char *url)
{
    if (url == NULL || strncmp(url, "https://", 8) != 0 || strlen(url) > LIMIT_URL_MAX)
        return false;
    return strpbrk(url, " \"'<>\\") == NULL;
}

k_status gw_merchant_set_logo(gw *g, const char *merchant_id, const char *logo_url, arena *a,
                              gw_err *err)
{
    K_ASSERT(logo_url != NULL);
    if (logo_url[0] != '\0' && !brand_logo_ok(logo_url)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "logo_url",
                   "logo_url must be an https:// URL of at most %d characters without spaces or "
                   "quotes, or empty to remove it.",
                   LIMIT_URL_MAX);
        return K_EINVAL;
    }
    json_t *settings = NULL;
    k_status st = gw_merchant_settings(g, merchant_id, a, &settings);
    if (st != K_OK)
        return gw_err_store(err, st, "merchant", merchant_id);
    json_t *branding = json_object_get(settings, "branding");
    if (!json_is_object(branding)) {
        branding = json_object();
        json_object_set_new(settings, "branding", branding);
    }
    if (logo_url[0] == '\0')
        json_object_del(branding, "logo_url");
    else
        json_object_set_new(branding, "logo_url", json_string(logo_url));
    st = gw_merchant_set_settings(g, merchant_id, settings);
    return st == K_OK ? K_OK : gw_err_store(err, st, "merchant", merchant_id);
}

k_status gw_merchant_brand(gw *g, const char *merchant_id, arena *a, gw_brand *out)
{
    K_ASSERT(g != NULL);
    K_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    brand_read r = {.id = merchant_id, .a = a};
    k_status st = store_read(g->st, brand_read_fn, &r);
    if (st != K_OK)
        return st;
    out->name = r.m.name;
    json_t *settings = json_loads(r.m.settings != NULL ? r.m.settings : "{}", 0, NULL);
    json_t *b = json_object_get(settings, "branding");
    const char *logo = json_string_value(json_object_get(b, "logo_url"));
    if (brand_logo_ok(logo))
        out->logo_url = arena_strdup(a, logo);
    /* The Settings page's shop name and button colours (settings.c validated them). */
    const char *shop = json_string_value(json_object_get(b, "shop_name"));
    if (shop != NULL && shop[0] != '\0')
        out->name = arena_strdup(a, shop);
    const char *accent = json_string_value(json_object_get(b, "accent"));
    const char *text = json_string_value(json_object_get(b, "accent_text"));
    if (gw_contrast_x100(accent, text) >= 450) {
        out->accent = arena_strdup(a, accent);
        out->accent_text = arena_strdup(a, text);
    }
    json_decref(settings);
    return K_OK;
}
