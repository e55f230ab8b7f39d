/*
 * service.c - the signal loop of `kassa serve` (service.h). SIGHUP is the
 * reload signal of systemd's ExecReload and of most daemons; it is taken here
 * by sigwait like SIGTERM, so a reload runs on the main thread, never inside a
 * signal handler.
 */
#include "service.h"

#include <pthread.h>
#include <signal.h>

#include "../base/log.h"

void service_wait(void (*on_hup)(void *ctx), void *ctx)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP) {
            log_info("signal %d received, shutting down", sig);
            return;
        }
        log_info("SIGHUP received: reloading the configuration");
        if (on_hup != NULL)
            on_hup(ctx);
    }
}
