/*
 * service.h - how `kassa serve` lives under a service manager (systemd, the
 * Debian package's unit): SIGTERM or SIGINT ends it gracefully, SIGHUP reloads
 * what can be reloaded without a restart (service.c).
 */
#ifndef KASSA_CLI_SERVICE_H
#define KASSA_CLI_SERVICE_H

/* Blocks until SIGTERM or SIGINT; on each SIGHUP calls on_hup(ctx) and waits
 * again. The caller (main) blocked these signals before any thread started, so
 * they arrive here and not on a random thread. */
void service_wait(void (*on_hup)(void *ctx), void *ctx);

#endif
