/*
 * alipay_sim.h - a local Antom / Alipay+: the online payment API (pay,
 * inquiryPayment, cancel, refund, inquiryRefund) at "<sim>/alipay/ams/...",
 * signed and verified with RSA-SHA256 exactly as the connector does, the
 * wallet apps (AlipayHK, Alipay CN, GCash, DANA, TNG, TrueMoney, KakaoPay)
 * that scan a code and ask for a PIN, signed notifyPayment / notifyRefund
 * callbacks retried until acknowledged, and test switches under
 * "/alipay/_sim/". See docs/simulators.md.
 *
 * At registration it generates two RSA key pairs for this process (the test
 * merchant's and its own). Kassa fetches the test merchant's pair over HTTP
 * (GET "/alipay/_sim/sandbox", provider.h's sandbox hook), so accounts at its
 * base URL need no keys configured, whether the simulator runs in Kassa's
 * process or in a `kassa sim` of its own. The keys are never written to disk.
 */
#ifndef KASSA_ALIPAY_SIM_H
#define KASSA_ALIPAY_SIM_H

#include "sim_server.h"

/* Registers the simulator under "/alipay" on srv; its state lives until
 * sim_server_stop(srv). */
k_status alipay_sim_register(sim_server *srv);

#endif
