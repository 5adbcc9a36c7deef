/*
 * lwIP's DHCP client, built from the unmodified upstream dhcp.c with one
 * hook applied from outside: every time the client sets or clears the
 * interface's address (a bind, a renewal that keeps the address, a NAK, an
 * expired or released lease) Rust hears about it, with the lease read here,
 * inside dhcp.c, where struct dhcp is the tree's own. lwIP's netif callbacks
 * do not fire on a renewal that keeps the address, and Rust never reads
 * struct dhcp.
 *
 * The upstream source is included (not copied) with dhcp.c's calls to
 * netif_set_addr() renamed.
 */
#include "lwip/opt.h"
#include "lwip/netif.h"
#include "lwip/ip4_addr.h"
#include "lwip_tap.h"

void lwip_tap_dhcp_set_addr(struct netif *netif, const ip4_addr_t *ipaddr,
                            const ip4_addr_t *netmask, const ip4_addr_t *gw);

#if LWIP_DHCP_AUTOIP_COOP
/* dhcp.c falls back on AutoIP on every netif; only those that asked for
 * it (autoip=on) do here (lwip/autoip_glue.c). */
#include "lwip/autoip.h"
static err_t lwip_tap_dhcp_autoip_start(struct netif *netif);
#define autoip_start lwip_tap_dhcp_autoip_start
#endif

#define netif_set_addr lwip_tap_dhcp_set_addr
#include "core/ipv4/dhcp.c"
#undef netif_set_addr

#if LWIP_DHCP_AUTOIP_COOP
#undef autoip_start
static err_t
lwip_tap_dhcp_autoip_start(struct netif *netif)
{
  return lwip_tap_autoip_wanted(netif) ? autoip_start(netif) : ERR_OK;
}
#endif

#include "lwip_tap.h"

void
lwip_tap_dhcp_set_addr(struct netif *netif, const ip4_addr_t *ipaddr,
                       const ip4_addr_t *netmask, const ip4_addr_t *gw)
{
  const struct dhcp *dhcp;

  netif_set_addr(netif, ipaddr, netmask, gw);
  dhcp = netif_dhcp_data(netif);
#ifndef LWIP_TAP_STOCK_LWIP
  if (dhcp != NULL && dhcp->state == DHCP_STATE_BOUND && !ip4_addr_isany(ipaddr)) {
    /* A lease replaces a link-local address, or one still being probed
     * (which upstream's AutoIP would bind over the lease once probed). */
    lwip_tap_autoip_yield(netif);
  }
#endif
  if (dhcp != NULL) {
    lwip_tap_dhcp_event(netif, dhcp->state, ip4_addr_get_u32(ipaddr),
                        ip4_addr_get_u32(netmask), ip4_addr_get_u32(gw),
                        ip4_addr_get_u32(ip_2_ip4(&dhcp->server_ip_addr)),
                        dhcp->offered_t0_lease);
  }
}
