/*
 * klarna_sim.h - a local Klarna: Payments, Hosted Payment Page and Order
 * Management API at "<sim>/klarna", the customer pages of the hosted payment
 * page (Pay Now bank steps with TAN, Pay Later e-mail and one-time code), the
 * status/notification callbacks, fault switches and admin endpoints under
 * "/klarna/_sim/". See docs/simulators.md.
 */
#ifndef KASSA_KLARNA_SIM_H
#define KASSA_KLARNA_SIM_H

#include "sim_server.h"

/* Registers the simulator under "/klarna" on srv; its state lives until
 * sim_server_stop(srv). */
k_status klarna_sim_register(sim_server *srv);

#endif
