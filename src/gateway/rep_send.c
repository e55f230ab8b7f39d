/*
 * rep_send.c - delivering a scheduled report file: into a folder, by HTTP
 * POST (signed like webhooks), or by e-mail through the configured SMTP
 * relay (libcurl's SMTP, STARTTLS when the relay offers it).
 *
 * A delivery is a report job; this file does one attempt and says whether
 * it worked. The worker records the attempt on the job and retries with
 * backoff (reports.c). The worker thread does nothing else meanwhile, so the
 * blocking libcurl easy interface is used here, with a timeout on each
 * transfer (LIMIT_REPORT_SEND_TIMEOUT_MS).
 *
 * Folder delivery writes NAME.part, fsyncs, renames to NAME, then writes
 * NAME.sha256 ("<hex>  NAME", the format sha256sum -c reads).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "rep_int.h"
#include "../base/buf.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/httpc.h"
#include "../base/log.h"

typedef struct {
    const char *channel, *target, *file_id, *filename, *type, *sha256, *secret, *schedule_id;
    int64_t size;
} delivery;

static bool delivery_of(const store_job *job, arena *a, delivery *d)
{
    json_t *b = job->body != NULL ? json_loads(job->body, 0, NULL) : NULL;
    if (b == NULL)
        return false;
    gw_keep(a, b);
    json_decref(b);
    d->channel = gw_jstr(b, "channel", a);
    d->target = gw_jstr(b, "target", a);
    d->file_id = gw_jstr(b, "file", a);
    d->filename = gw_jstr(b, "filename", a);
    d->type = gw_jstr(b, "type", a);
    d->sha256 = gw_jstr(b, "sha256", a);
    d->secret = gw_jstr(b, "secret", a);
    d->schedule_id = job->ref_id;
    d->size = gw_jint(b, "size");
    return d->channel != NULL && d->target != NULL && d->file_id != NULL && d->filename != NULL &&
           d->type != NULL && d->sha256 != NULL;
}

static const char *source_path(rep_service *r, const store_job *job, const delivery *d, arena *a)
{
    return arena_printf(a, "%s/%s/%s.%s", r->files_dir, job->merchant_id, d->file_id, d->type);
}

/* ---- folder ---- */

static bool write_durably(const char *path, const void *data, size_t len, FILE *from)
{
    char part[1100];
    snprintf(part, sizeof(part), "%s.part", path);
    FILE *f = fopen(part, "wb");
    if (f == NULL)
        return false;
    bool ok = true;
    if (from != NULL) {
        char chunk[64 * 1024];
        size_t n;
        while (ok && (n = fread(chunk, 1, sizeof(chunk), from)) > 0)
            ok = fwrite(chunk, 1, n, f) == n;
        ok = ok && !ferror(from);
    } else {
        ok = fwrite(data, 1, len, f) == len;
    }
    ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(part, path) != 0)
        ok = false;
    if (!ok)
        unlink(part);
    return ok;
}

static bool send_folder(const char *src, const delivery *d, arena *a, const char **error)
{
    const char *dst = arena_printf(a, "%s/%s", d->target, d->filename);
    FILE *in = fopen(src, "rb");
    if (in == NULL) {
        *error = "the report file is missing";
        return false;
    }
    bool ok = write_durably(dst, NULL, 0, in);
    fclose(in);
    const char *sum = arena_printf(a, "%s  %s\n", d->sha256, d->filename);
    ok = ok && write_durably(arena_printf(a, "%s.sha256", dst), sum, strlen(sum), NULL);
    if (!ok)
        *error = arena_printf(a, "cannot write into '%s': %s", d->target, strerror(errno));
    return ok;
}

/* ---- HTTP POST ---- */

static const char *mime_of(const char *type)
{
    return strcmp(type, "xlsx") == 0
               ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
               : "text/csv; charset=utf-8";
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct stat stt;
    char *data = NULL;
    if (fstat(fileno(f), &stt) == 0 && stt.st_size <= LIMIT_REPORT_ATTACH_MAX * 5) {
        data = malloc((size_t)stt.st_size + 1);
        if (data != NULL && fread(data, 1, (size_t)stt.st_size, f) != (size_t)stt.st_size) {
            free(data);
            data = NULL;
        }
        *len = (size_t)stt.st_size;
    }
    fclose(f);
    return data;
}

static bool send_url(const char *src, const delivery *d, arena *a, const char **error)
{
    size_t len = 0;
    char *body = slurp(src, &len);
    if (body == NULL) {
        *error = "the report file is missing or too large to POST";
        return false;
    }
    /* Signed like webhooks: HMAC-SHA256 over "t.<body>" with the schedule's secret. */
    int64_t t = clock_now_s();
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)t);
    buf msg;
    buf_init(&msg, 0);
    buf_printf(&msg, "%s.", ts);
    buf_append(&msg, body, len);
    char sig[65];
    const char *secret = d->secret != NULL ? d->secret : "";
    crypto_hmac_sha256_hex(secret, strlen(secret), msg.data, msg.len, sig);
    buf_free(&msg);
    /* Through httpc, so the SSRF guard checks every address it connects to. */
    httpc_req hr = {.method = "POST",
                    .url = d->target,
                    .body = body,
                    .body_len = len,
                    .timeout_ms = LIMIT_REPORT_SEND_TIMEOUT_MS,
                    .body_max = 64 * 1024,
                    .public_only = true};
    hr.headers[0] = arena_printf(a, "Content-Type: %s", mime_of(d->type));
    hr.headers[1] = arena_printf(a, "Kassa-Signature: t=%s,v1=%s", ts, sig);
    hr.headers[2] = arena_printf(a, "Kassa-Filename: %s", d->filename);
    hr.headers[3] = arena_printf(a, "Kassa-Sha256: %s", d->sha256);
    hr.headers[4] = arena_printf(a, "Kassa-Schedule: %s", d->schedule_id);
    httpc_resp res;
    memset(&res, 0, sizeof(res));
    k_status hs = httpc_do(&hr, &res);
    long status = res.status;
    const char *transport =
        hs != K_OK ? arena_strdup(a, res.error[0] ? res.error : "no answer") : NULL;
    httpc_resp_free(&res);
    free(body);
    if (transport != NULL) {
        *error = arena_printf(a, "POST %s: %s", d->target, transport);
        return false;
    }
    if (status < 200 || status > 299) {
        *error = arena_printf(a, "POST %s: HTTP %ld", d->target, status);
        return false;
    }
    return true;
}

/* ---- e-mail ---- */

static bool send_email(rep_service *r, const char *src, const delivery *d, arena *a,
                       const char **error)
{
    if (r->smtp_url == NULL || r->smtp_from == NULL) {
        *error = "no SMTP relay is configured (smtp_url, smtp_from)";
        return false;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, d->target);
    char date[64];
    time_t now = (time_t)clock_now_s();
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, date);
    h = curl_slist_append(h, arena_printf(a, "From: Kassa reports <%s>", r->smtp_from));
    h = curl_slist_append(h, arena_printf(a, "To: <%s>", d->target));
    h = curl_slist_append(h, arena_printf(a, "Subject: Kassa report %s", d->filename));
    curl_mime *mime = curl_mime_init(c);
    curl_mimepart *text = curl_mime_addpart(mime);
    bool attach = d->size <= LIMIT_REPORT_ATTACH_MAX;
    const char *note =
        attach
            ? arena_printf(a, "Your scheduled Kassa report is attached: %s\r\nSHA-256: %s\r\n",
                           d->filename, d->sha256)
            : arena_printf(a,
                           "Your scheduled Kassa report %s is too large to attach; fetch it "
                           "with your secret key from %s/v1/files/%s/contents\r\nSHA-256: %s\r\n",
                           d->filename, gw_cfg(r->g)->public_url, d->file_id, d->sha256);
    curl_mime_data(text, note, CURL_ZERO_TERMINATED);
    curl_mime_type(text, "text/plain; charset=utf-8");
    if (attach) {
        curl_mimepart *file = curl_mime_addpart(mime);
        curl_mime_filedata(file, src);
        curl_mime_filename(file, d->filename);
        curl_mime_type(file, mime_of(d->type));
        curl_mime_encoder(file, "base64");
    }
    curl_easy_setopt(c, CURLOPT_URL, r->smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, arena_printf(a, "<%s>", r->smtp_from));
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY); /* STARTTLS when offered */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)LIMIT_REPORT_SEND_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    curl_slist_free_all(h);
    curl_mime_free(mime);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        *error = arena_printf(a, "SMTP %s: %s", r->smtp_url, curl_easy_strerror(rc));
        return false;
    }
    return true;
}

/* A document queued by rep_push: POST it as JSON. */
static bool send_push(const store_job *job, arena *a, const char **error)
{
    json_t *b = job->body != NULL ? json_loads(job->body, 0, NULL) : NULL;
    const char *url = json_string_value(json_object_get(b, "target"));
    const char *doc = json_string_value(json_object_get(b, "document"));
    if (url == NULL || doc == NULL) {
        json_decref(b);
        *error = "the delivery job is malformed";
        return false;
    }
    httpc_req hr = {.method = "POST",
                    .url = url,
                    .body = doc,
                    .body_len = strlen(doc),
                    .timeout_ms = LIMIT_WEBHOOK_TIMEOUT_MS,
                    .body_max = 64 * 1024,
                    .public_only = true}; /* a merchant's URL: the SSRF guard applies */
    hr.headers[0] = "Content-Type: application/json; charset=utf-8";
    httpc_resp res;
    memset(&res, 0, sizeof(res));
    k_status hs = httpc_do(&hr, &res);
    long status = res.status;
    bool ok = hs == K_OK && status >= 200 && status <= 299;
    if (!ok)
        *error = hs != K_OK ? arena_printf(a, "POST: %s", res.error[0] ? res.error : "no answer")
                            : arena_printf(a, "POST: HTTP %ld", status);
    else
        log_info("reports: pushed a document to its delivery_url (job %lld)", (long long)job->id);
    httpc_resp_free(&res);
    json_decref(b);
    return ok;
}

bool rep_send(rep_service *r, const store_job *job, arena *a, const char **error)
{
    if (job->body != NULL && strstr(job->body, "\"channel\":\"push\"") != NULL)
        return send_push(job, a, error);
    delivery d;
    if (!delivery_of(job, a, &d)) {
        *error = "the delivery job is malformed";
        return false;
    }
    const char *src = source_path(r, job, &d, a);
    bool ok;
    if (strcmp(d.channel, "folder") == 0)
        ok = send_folder(src, &d, a, error);
    else if (strcmp(d.channel, "url") == 0)
        ok = send_url(src, &d, a, error);
    else if (strcmp(d.channel, "email") == 0)
        ok = send_email(r, src, &d, a, error);
    else {
        *error = "unknown delivery channel";
        ok = false;
    }
    if (ok)
        log_info("reports: delivered '%s' by %s to '%s'", d.filename, d.channel, d.target);
    else
        log_warn("reports: delivery of '%s' by %s failed: %s", d.filename, d.channel, *error);
    return ok;
}
