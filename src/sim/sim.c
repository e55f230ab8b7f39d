/*
 * sim.c - starting the simulators together, in-process or as `kassa sim`
 * (see sim.h).
 */
#include "sim.h"
#include "klarna_sim.h"
#include "alipay_sim.h"
#include "../base/httpc.h"
#include "../base/log.h"

#include <signal.h>
#include <stdio.h>

k_status sim_start(sim_server **out, const char *host, uint16_t port)
{
    K_ASSERT(out != NULL);
    *out = NULL;
    sim_server *srv;
    k_status st = sim_server_start(&srv, host, port);
    if (st != K_OK)
        return st;
    st = klarna_sim_register(srv);
    if (st == K_OK)
        st = alipay_sim_register(srv);
    if (st != K_OK) {
        sim_server_stop(srv);
        return st;
    }
    *out = srv;
    return K_OK;
}

int sim_run(const char *host, uint16_t port)
{
    sim_server *srv;
    if (httpc_init() != K_OK || sim_start(&srv, host, port) != K_OK) {
        fprintf(stderr, "kassa sim: cannot start the simulators on %s:%u\n", host, port);
        httpc_shutdown();
        return 1;
    }
    printf("kassa sim ready {\"url\":\"%s\"}\n", sim_server_url(srv));
    fflush(stdout);
    log_info("simulators listening on %s (Klarna at /klarna, Alipay+ at /alipay)",
             sim_server_url(srv));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    log_info("simulators stopping (signal %d)", sig);
    sim_server_stop(srv);
    httpc_shutdown();
    log_info("simulators stopped");
    return 0;
}
