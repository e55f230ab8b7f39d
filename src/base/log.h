/*
 * log.h - one log call with a level and context, written as a JSON line to
 * stderr: {"ts":"...","level":"info","req":"req_...","msg":"..."}.
 * The request id is per thread (set by the server for each request and by
 * workers for each job). Never pass secrets, keys or signatures.
 */
#ifndef KASSA_LOG_H
#define KASSA_LOG_H

#include "common.h"

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level min);
void log_set_request_id(const char *id); /* NULL clears; copied */
const char *log_request_id(void);        /* "" when none */
void log_msg(log_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A pre-built JSON object line (access log); adds ts. */
void log_json_line(const char *json_obj_without_braces);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
