/*
 * sim.h - the provider simulators as a program of their own: one listener
 * (sim_server) with the Klarna simulator under "/klarna" and the Alipay+
 * simulator under "/alipay".
 *
 * `kassa serve` starts them in its own process by default (--sim-listen);
 * `kassa sim` runs them alone, so several Kassa nodes can share one
 * simulator (`serve --sim-url URL --sim-listen off`) and a benchmark can tell
 * Kassa's CPU from the simulators'. Either way Kassa reaches them over HTTP
 * only: nothing in providers/ or above includes a header of sim/, and sim/
 * includes nothing above base/.
 */
#ifndef KASSA_SIM_H
#define KASSA_SIM_H

#include "sim_server.h"

/* Listens on host:port (port 0: any free port) and registers every
 * simulator; stop with sim_server_stop. */
k_status sim_start(sim_server **out, const char *host, uint16_t port);

/* `kassa sim`: runs the simulators until SIGTERM or SIGINT, which the caller
 * has blocked in every thread. Prints `kassa sim ready {"url":"..."}` on
 * stdout once listening. Returns the process exit status. */
int sim_run(const char *host, uint16_t port);

#endif
