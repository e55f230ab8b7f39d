/*
 * headguard.c - the deadline for a whole request head (see http_int.h).
 *
 * libmicrohttpd's connection timeout is an idle timeout: every byte resets it,
 * so a client trickling one header byte a second holds a connection forever,
 * and 1,024 such connections take the server down. MHD tells us when a
 * connection opens and closes (MHD_OPTION_NOTIFY_CONNECTION) and the access
 * handler tells us when a head is complete; a sweeper thread shuts down the
 * socket of every connection whose head is still incomplete past the deadline
 * (counted from the connection's start, or from the end of its previous
 * request on a kept-alive connection). MHD then sees end-of-file and closes
 * the connection itself.
 *
 * The socket is shut down with the table's lock held, and MHD's close
 * notification takes that lock before MHD closes the descriptor, so the
 * descriptor shut down is always still this connection's.
 */
#include "http_int.h"
#include "../base/clock.h"
#include "../base/log.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define HG_SWEEP_MS 250 /* how late past the deadline a cut may come */

struct hg_conn {
    struct hg_conn *prev, *next;
    int fd;
    int64_t since_ms; /* start of the head being waited for */
    bool in_request;  /* head complete, request not yet finished */
    bool cut;
};

struct headguard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hg_conn *list;
    int64_t deadline_ms;
    bool stop;
    pthread_t thread;
    uint64_t cuts;
};

static void hg_sweep(headguard *g)
{
    int64_t now = clock_mono_ms();
    size_t n = 0;
    for (hg_conn *c = g->list; c != NULL; c = c->next) {
        if (c->in_request || c->cut || now - c->since_ms < g->deadline_ms)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
        n++;
    }
    g->cuts += n;
    if (n > 0)
        log_info("http: closed %zu connections whose request head took longer than %lld s", n,
                 (long long)(g->deadline_ms / 1000));
}

static void *hg_main(void *arg)
{
    pthread_setname_np(pthread_self(), "kassa-headguard");
    headguard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += HG_SWEEP_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (!g->stop)
            hg_sweep(g);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

headguard *hg_new(int deadline_s)
{
    K_ASSERT(deadline_s > 0);
    headguard *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->deadline_ms = (int64_t)deadline_s * 1000;
    if (pthread_create(&g->thread, NULL, hg_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    return g;
}

void hg_free(headguard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    /* MHD has stopped: every connection's close was notified */
    K_ASSERT(g->list == NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void hg_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    headguard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        hg_conn *c = calloc(1, sizeof(*c));
        *socket_context = c;
        if (c == NULL || ci == NULL) {
            free(c);
            *socket_context = NULL;
            return; /* not guarded: the idle timeout still applies */
        }
        c->fd = ci->connect_fd;
        c->since_ms = clock_mono_ms();
        pthread_mutex_lock(&g->mu);
        c->next = g->list;
        if (g->list != NULL)
            g->list->prev = c;
        g->list = c;
        pthread_mutex_unlock(&g->mu);
        return;
    }
    hg_conn *c = *socket_context;
    if (c == NULL)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&g->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        g->list = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&g->mu);
    free(c);
}

static hg_conn *hg_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

void hg_head_done(headguard *g, struct MHD_Connection *conn)
{
    hg_conn *c = hg_of(conn);
    if (g == NULL || c == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    c->in_request = true;
    pthread_mutex_unlock(&g->mu);
}

void hg_request_done(headguard *g, struct MHD_Connection *conn)
{
    hg_conn *c = hg_of(conn);
    if (g == NULL || c == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    c->in_request = false;
    c->since_ms = clock_mono_ms();
    pthread_mutex_unlock(&g->mu);
}
