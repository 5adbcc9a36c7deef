/*
 * The accessors of lwip/lwip_tap.h: everything the Rust side needs from
 * lwIP's own structures (struct netif, struct tcp_pcb, struct stats_) goes
 * through these functions, compiled against whichever lwIP tree and options
 * the build uses, so their layouts are never baked into Rust.
 */
#include <stdlib.h>
#include <string.h>

#include "lwip_tap.h"
#include "lwip/etharp.h"
#include "lwip/ip4.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/ethip6.h"
#include "lwip/ip6_addr.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/snmp.h"
#include "netif/ethernet.h"

/* The configuration of the netif being added, for its init callback
 * (lwIP runs on one thread, and netif_add calls init before returning). */
static const struct lwip_tap_netif_config *adding;

/* The Rust driver's output function (src/lwip/netif.rs), the same for
 * every netif. */
static netif_linkoutput_fn driver_linkoutput;

/* True for a multicast or broadcast Ethernet destination. */
static int
frame_is_group(const struct pbuf *p)
{
  return p->len > 0 && (((const u8_t *)p->payload)[0] & 1) != 0;
}

/* netif->linkoutput: the driver's, counting for MIB-2's interfaces table
 * (ifOutOctets and the packets: lwIP leaves them to the driver). */
static err_t
counted_linkoutput(struct netif *netif, struct pbuf *p)
{
  err_t err;
#if MIB2_STATS
  const u16_t len = p->tot_len;
  const int group = frame_is_group(p);
#endif
  err = driver_linkoutput(netif, p);
#if MIB2_STATS
  if (err == ERR_OK) {
    MIB2_STATS_NETIF_ADD(netif, ifoutoctets, len);
    if (group) {
      MIB2_STATS_NETIF_INC(netif, ifoutnucastpkts);
    } else {
      MIB2_STATS_NETIF_INC(netif, ifoutucastpkts);
    }
  } else {
    MIB2_STATS_NETIF_INC(netif, ifoutdiscards);
  }
#endif
  return err;
}

static err_t
tapif_init(struct netif *netif)
{
  netif->name[0] = 't';
  netif->name[1] = 'p';
  netif->hwaddr_len = ETH_HWADDR_LEN;
  memcpy(netif->hwaddr, adding->mac, ETH_HWADDR_LEN);
  netif->mtu = adding->mtu;
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
#if LWIP_IPV6_MLD
  netif->flags |= NETIF_FLAG_MLD6;
#endif
#if LWIP_IGMP
  netif->flags |= NETIF_FLAG_IGMP;
#endif
  netif->output = etharp_output;
  netif->output_ip6 = ethip6_output;
  driver_linkoutput = adding->linkoutput;
  netif->linkoutput = counted_linkoutput;
  MIB2_INIT_NETIF(netif, snmp_ifType_ethernet_csmacd, 0);
  return ERR_OK;
}

/* Tells the Rust side (src/netif.rs) about every IPv6 address state change:
 * duplicate address detection passing or failing, SLAAC filling a slot, an
 * address expiring. */
static void
ip6_state_changed(struct netif *netif, netif_nsc_reason_t reason,
                  const netif_ext_callback_args_t *args)
{
  s8_t i;
  u8_t addr[16];

  if (!(reason & LWIP_NSC_IPV6_ADDR_STATE_CHANGED)) {
    return;
  }
  i = args->ipv6_addr_state_changed.addr_index;
  if (i < 0 || i >= LWIP_IPV6_NUM_ADDRESSES) {
    return;
  }
  memcpy(addr, netif_ip6_addr(netif, i)->addr, sizeof(addr));
  lwip_tap_ip6_state_event(netif, (u8_t)i, args->ipv6_addr_state_changed.old_state,
                           netif_ip6_addr_state(netif, i), addr,
                           (u8_t)(i > 0 && netif_ip6_addr_isstatic(netif, i)));
}

struct netif *
lwip_tap_netif_add(const struct lwip_tap_netif_config *config, void *state)
{
  static netif_ext_callback_t ip6_callback;
  static int ip6_callback_added;
  struct netif *netif = calloc(1, sizeof(*netif));
  if (netif == NULL) {
    return NULL;
  }
  if (!ip6_callback_added) {
    netif_add_ext_callback(&ip6_callback, ip6_state_changed);
    ip6_callback_added = 1;
  }
  adding = config;
  if (netif_add(netif, &config->addr, &config->netmask, &config->gw, state, tapif_init,
                ethernet_input) == NULL) {
    adding = NULL;
    free(netif);
    return NULL;
  }
  adding = NULL;
#if LWIP_NETIF_HOSTNAME
  netif_set_hostname(netif, "lwip-tap");
#endif
  netif_set_up(netif);
  netif_set_link_up(netif);
  netif_create_ip6_linklocal_address(netif, 1);
  return netif;
}

/* The static default router of each netif (gw6=), by netif number. */
static ip6_addr_t ip6_gateways[256];
static u8_t ip6_gateway_set[256];

const ip6_addr_t *
lwip_tap_nd6_gateway(struct netif *netif, const ip6_addr_t *dest)
{
  LWIP_UNUSED_ARG(dest);
  return ip6_gateway_set[netif->num] ? &ip6_gateways[netif->num] : NULL;
}

void
lwip_tap_netif_set_ip6_gateway(struct netif *netif, const u8_t *addr)
{
  if (addr == NULL) {
    ip6_gateway_set[netif->num] = 0;
    return;
  }
  memcpy(ip6_gateways[netif->num].addr, addr, 16);
  ip6_addr_clear_zone(&ip6_gateways[netif->num]);
  /* A link-local router is reached through this netif. */
  ip6_addr_assign_zone(&ip6_gateways[netif->num], IP6_UNICAST, netif);
  ip6_gateway_set[netif->num] = 1;
}

int
lwip_tap_netif_add_ip6(struct netif *netif, const u8_t *addr)
{
  ip6_addr_t a;
  s8_t index = -1;
  err_t err;

  memcpy(a.addr, addr, 16);
  ip6_addr_clear_zone(&a);
  err = netif_add_ip6_address(netif, &a, &index);
  if (err == ERR_VAL) {
    return -1; /* every slot is taken */
  }
  return err == ERR_OK ? index : -2;
}

int
lwip_tap_netif_ip6(const struct netif *netif, unsigned index, u8_t *addr, u8_t *state,
                   u8_t *is_static)
{
  if (index >= LWIP_IPV6_NUM_ADDRESSES) {
    return 0;
  }
  memcpy(addr, netif_ip6_addr(netif, index)->addr, 16);
  *state = netif_ip6_addr_state(netif, index);
  *is_static = (u8_t)(index > 0 && netif_ip6_addr_isstatic(netif, index));
  return 1;
}

void
lwip_tap_netif_set_slaac(struct netif *netif, int on)
{
  netif_set_ip6_autoconfig_enabled(netif, on ? 1 : 0);
}

unsigned
lwip_tap_ip6_slots(void)
{
  return LWIP_IPV6_NUM_ADDRESSES;
}

unsigned
lwip_tap_mld6_groups(void)
{
  return MEMP_NUM_MLD6_GROUP;
}

void
lwip_tap_netif_remove(struct netif *netif)
{
  ip6_gateway_set[netif->num] = 0;
  /* Their timers and state point at the netif. */
  lwip_tap_mdns_stop(netif);
  lwip_tap_autoip_cleanup(netif);
  netif_remove(netif);
  free(netif);
}

void *
lwip_tap_netif_state(const struct netif *netif)
{
  return netif->state;
}

err_t
lwip_tap_netif_input(struct netif *netif, struct pbuf *p)
{
#if MIB2_STATS
  /* MIB-2's interfaces table: lwIP leaves ifInOctets and the packets to the
   * driver (ethernet_input counts the errors and unknown protocols). */
  MIB2_STATS_NETIF_ADD(netif, ifinoctets, p->tot_len);
  if (frame_is_group(p)) {
    MIB2_STATS_NETIF_INC(netif, ifinnucastpkts);
  } else {
    MIB2_STATS_NETIF_INC(netif, ifinucastpkts);
  }
#endif
  return netif->input(p, netif);
}

void
lwip_tap_netif_check_checksums(struct netif *netif, int on)
{
  const u16_t checks = NETIF_CHECKSUM_CHECK_IP | NETIF_CHECKSUM_CHECK_UDP |
                       NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_ICMP |
                       NETIF_CHECKSUM_CHECK_ICMP6;
  NETIF_SET_CHECKSUM_CTRL(netif, on ? (netif->chksum_flags | checks)
                                    : (netif->chksum_flags & (u16_t)~checks));
}

void
lwip_tap_netif_ipv4(const struct netif *netif, ip4_addr_t *addr, ip4_addr_t *netmask,
                    ip4_addr_t *gw)
{
  ip4_addr_copy(*addr, *netif_ip4_addr(netif));
  ip4_addr_copy(*netmask, *netif_ip4_netmask(netif));
  ip4_addr_copy(*gw, *netif_ip4_gw(netif));
}

u32_t
lwip_tap_tcp_sndbuf(const struct tcp_pcb *pcb)
{
  return (u32_t)tcp_sndbuf(pcb);
}

u32_t
lwip_tap_tcp_sndqueuelen(const struct tcp_pcb *pcb)
{
  return (u32_t)tcp_sndqueuelen(pcb);
}

int
lwip_tap_tcp_state(const struct tcp_pcb *pcb)
{
  return (int)pcb->state;
}

int
lwip_tap_tcp_pcb_held(const struct tcp_pcb *pcb, const void *arg)
{
  struct tcp_pcb *const *lists[] = {&tcp_active_pcbs, &tcp_tw_pcbs};
  size_t i;
  for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    const struct tcp_pcb *p;
    for (p = *lists[i]; p != NULL; p = p->next) {
      if (p == pcb) {
        return p->callback_arg == arg;
      }
    }
  }
  return 0;
}

void
lwip_tap_tcp_endpoints(const struct tcp_pcb *pcb, ip_addr_t *local, u16_t *local_port,
                       ip_addr_t *remote, u16_t *remote_port)
{
  ip_addr_copy(*local, pcb->local_ip);
  *local_port = pcb->local_port;
  ip_addr_copy(*remote, pcb->remote_ip);
  *remote_port = pcb->remote_port;
}

void
lwip_tap_tcp_set_nodelay(struct tcp_pcb *pcb, int on)
{
  if (on) {
    tcp_nagle_disable(pcb);
  } else {
    tcp_nagle_enable(pcb);
  }
}

int
lwip_tap_tcp_nodelay(const struct tcp_pcb *pcb)
{
  return tcp_nagle_disabled(pcb) ? 1 : 0;
}

void
lwip_tap_pcb_set_option(struct tcp_pcb *pcb, int option, int on)
{
  u8_t flag = option == LWIP_TAP_OPT_KEEPALIVE ? SOF_KEEPALIVE : SOF_REUSEADDR;
  if (on) {
    ip_set_option(pcb, flag);
  } else {
    ip_reset_option(pcb, flag);
  }
}

int
lwip_tap_pcb_option(const struct tcp_pcb *pcb, int option)
{
  u8_t flag = option == LWIP_TAP_OPT_KEEPALIVE ? SOF_KEEPALIVE : SOF_REUSEADDR;
  return ip_get_option(pcb, flag) ? 1 : 0;
}

void
lwip_tap_tcp_set_keepalive_times(struct tcp_pcb *pcb, u32_t idle_ms, u32_t interval_ms,
                                 u32_t count)
{
  pcb->keep_idle = idle_ms;
#if LWIP_TCP_KEEPALIVE
  pcb->keep_intvl = interval_ms;
  pcb->keep_cnt = count;
#else
  LWIP_UNUSED_ARG(interval_ms);
  LWIP_UNUSED_ARG(count);
#endif
}

void
lwip_tap_tcp_keepalive_times(const struct tcp_pcb *pcb, u32_t *idle_ms, u32_t *interval_ms,
                             u32_t *count)
{
  *idle_ms = pcb->keep_idle;
#if LWIP_TCP_KEEPALIVE
  *interval_ms = pcb->keep_intvl;
  *count = pcb->keep_cnt;
#else
  *interval_ms = TCP_KEEPINTVL_DEFAULT;
  *count = TCP_KEEPCNT_DEFAULT;
#endif
}

u16_t
lwip_tap_tcp_mss(const struct tcp_pcb *pcb)
{
  return tcp_mss(pcb);
}

u32_t
lwip_tap_tcp_open_connections(void)
{
  u32_t n = 0;
  for (const struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
    n++;
  }
  return n;
}

int
lwip_tap_ip4_route_ready(const ip4_addr_t *dest)
{
  struct netif *netif = ip4_route(dest);
  return netif != NULL && !ip4_addr_isany_val(*netif_ip4_addr(netif));
}

void
lwip_tap_timeout(u32_t msecs, sys_timeout_handler handler, void *arg)
{
  sys_timeout(msecs, handler, arg);
}

void
lwip_tap_untimeout(sys_timeout_handler handler, void *arg)
{
  sys_untimeout(handler, arg);
}

static void
pool_use(struct lwip_tap_pool_use *out, const char *name, const struct stats_mem *mem)
{
  out->name = name;
  out->used = (u32_t)mem->used;
  out->max = (u32_t)mem->max;
  out->avail = (u32_t)mem->avail;
  out->err = (u32_t)mem->err;
}

int
lwip_tap_stats_pool(unsigned index, struct lwip_tap_pool_use *out)
{
  if (index == 0) {
    pool_use(out, "HEAP", &lwip_stats.mem);
    return 1;
  }
  for (unsigned i = 0, n = 0; i < MEMP_MAX; i++) {
    const struct stats_mem *mem = lwip_stats.memp[i];
    if (mem != NULL && ++n == index) {
      pool_use(out, mem->name != NULL ? mem->name : "?", mem);
      return 1;
    }
  }
  return 0;
}

int
lwip_tap_stats_proto(unsigned index, struct lwip_tap_proto_counts *out)
{
  static const struct {
    const char *name;
    const struct stats_proto *proto;
  } protocols[] = {
#if ETHARP_STATS
    {"ETHARP", &lwip_stats.etharp},
#endif
#if IP_STATS
    {"IP", &lwip_stats.ip},
#endif
#if IPFRAG_STATS
    {"IP_FRAG", &lwip_stats.ip_frag},
#endif
#if ICMP_STATS
    {"ICMP", &lwip_stats.icmp},
#endif
#if UDP_STATS
    {"UDP", &lwip_stats.udp},
#endif
#if TCP_STATS
    {"TCP", &lwip_stats.tcp},
#endif
#if IP6_STATS
    {"IP6", &lwip_stats.ip6},
#endif
#if ICMP6_STATS
    {"ICMP6", &lwip_stats.icmp6},
#endif
#if ND6_STATS
    {"ND6", &lwip_stats.nd6},
#endif
  };
  const struct stats_proto *p;

  if (index >= sizeof(protocols) / sizeof(protocols[0])) {
    return 0;
  }
  p = protocols[index].proto;
  out->name = protocols[index].name;
  out->xmit = p->xmit;
  out->recv = p->recv;
  out->fw = p->fw;
  out->drop = p->drop;
  out->chkerr = p->chkerr;
  out->lenerr = p->lenerr;
  out->memerr = p->memerr;
  out->rterr = p->rterr;
  out->proterr = p->proterr;
  out->opterr = p->opterr;
  out->err = p->err;
  return 1;
}
