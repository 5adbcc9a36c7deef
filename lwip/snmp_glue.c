/*
 * lwIP's SNMP agent (src/apps/snmp, MIB-2, SNMPv1 and v2c, read-only), from
 * the unmodified upstream files: build.rs compiles the agent's files on
 * their own and this one includes snmp_raw.c (its UDP transport), renaming
 * the one call it makes to udp_recv() so that each request's outcome can be
 * told to Rust (src/lwip/snmp.rs) by comparing lwIP's own SNMP counters
 * (snmp_stats) before and after lwIP handled it: answered, refused for its
 * community, malformed (an ASN.1 parse error), or of an unknown version.
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip/udp.h"
#include "lwip/apps/snmp.h"
#include "lwip/apps/snmp_core.h"
#include "lwip/apps/snmp_mib2.h"
#include "lwip_tap.h"

static udp_recv_fn snmp_upstream_recv;

static void
lwip_tap_snmp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                   u16_t port)
{
  const struct snmp_statistics before = snmp_stats;
  const u16_t len = p->tot_len;
  int outcome;

  /* Frees p. */
  snmp_upstream_recv(arg, pcb, p, addr, port);
  if (snmp_stats.inasnparseerrs != before.inasnparseerrs) {
    outcome = LWIP_TAP_SNMP_MALFORMED;
  } else if (snmp_stats.inbadcommunitynames != before.inbadcommunitynames) {
    outcome = LWIP_TAP_SNMP_BAD_COMMUNITY;
  } else if (snmp_stats.inbadversions != before.inbadversions) {
    outcome = LWIP_TAP_SNMP_BAD_VERSION;
  } else if (snmp_stats.outpkts != before.outpkts) {
    outcome = LWIP_TAP_SNMP_ANSWERED;
  } else {
    outcome = LWIP_TAP_SNMP_DROPPED;
  }
  lwip_tap_snmp_event(outcome, addr, port, len);
}

static void
lwip_tap_snmp_set_recv(struct udp_pcb *pcb, udp_recv_fn recv, void *arg)
{
  snmp_upstream_recv = recv;
  udp_recv(pcb, lwip_tap_snmp_recv, arg);
}

#define udp_recv lwip_tap_snmp_set_recv
#include "apps/snmp/snmp_raw.c"
#undef udp_recv

/* lwIP keeps these pointers: they live here for the rest of the process. */
static char read_community[SNMP_MAX_COMMUNITY_STR_LEN + 1];
static char write_community[SNMP_MAX_COMMUNITY_STR_LEN + 1];
static u8_t sysdescr[256];
static u16_t sysdescr_len;

err_t
lwip_tap_snmp_start(const char *community, const char *write, const char *descr)
{
  if (snmp_traps_handle != NULL) {
    return ERR_USE;
  }
  if (strlen(community) == 0 || strlen(community) > SNMP_MAX_COMMUNITY_STR_LEN ||
      strlen(write) > SNMP_MAX_COMMUNITY_STR_LEN) {
    return ERR_ARG;
  }
  strcpy(read_community, community);
  strcpy(write_community, write);
  sysdescr_len = (u16_t)LWIP_MIN(strlen(descr), sizeof(sysdescr));
  memcpy(sysdescr, descr, sysdescr_len);
  snmp_mib2_set_sysdescr(sysdescr, &sysdescr_len);
  snmp_set_community(read_community);
  snmp_set_community_write(write_community);
  snmp_init();
  /* snmp_init() returns nothing; it sets the handle when it has its PCB. */
  return snmp_traps_handle != NULL ? ERR_OK : ERR_MEM;
}

/* lwIP's MIB-2 counters (lwip_stats.mib2), the ones its agent answers with. */
#define MIB2_COUNTER(name) {#name, &lwip_stats.mib2.name}
int
lwip_tap_stats_mib2(unsigned index, const char **name, u32_t *value)
{
  static const struct {
    const char *name;
    const u32_t *value;
  } counters[] = {
    MIB2_COUNTER(ipinreceives), MIB2_COUNTER(ipinhdrerrors), MIB2_COUNTER(ipinaddrerrors),
    MIB2_COUNTER(ipforwdatagrams), MIB2_COUNTER(ipinunknownprotos), MIB2_COUNTER(ipindiscards),
    MIB2_COUNTER(ipindelivers), MIB2_COUNTER(ipoutrequests), MIB2_COUNTER(ipoutdiscards),
    MIB2_COUNTER(ipoutnoroutes), MIB2_COUNTER(ipreasmreqds), MIB2_COUNTER(ipreasmoks),
    MIB2_COUNTER(ipreasmfails), MIB2_COUNTER(ipfragoks), MIB2_COUNTER(ipfragfails),
    MIB2_COUNTER(ipfragcreates), MIB2_COUNTER(icmpinmsgs), MIB2_COUNTER(icmpinerrors),
    MIB2_COUNTER(icmpinechos), MIB2_COUNTER(icmpoutmsgs), MIB2_COUNTER(icmpouterrors),
    MIB2_COUNTER(icmpoutechoreps), MIB2_COUNTER(tcpactiveopens), MIB2_COUNTER(tcppassiveopens),
    MIB2_COUNTER(tcpattemptfails), MIB2_COUNTER(tcpestabresets), MIB2_COUNTER(tcpinsegs),
    MIB2_COUNTER(tcpoutsegs), MIB2_COUNTER(tcpretranssegs), MIB2_COUNTER(tcpinerrs),
    MIB2_COUNTER(tcpoutrsts), MIB2_COUNTER(udpindatagrams), MIB2_COUNTER(udpnoports),
    MIB2_COUNTER(udpinerrors), MIB2_COUNTER(udpoutdatagrams),
  };
  if (index >= sizeof(counters) / sizeof(counters[0])) {
    return 0;
  }
  *name = counters[index].name;
  *value = *counters[index].value;
  return 1;
}
