/*
 * lwIP's AutoIP (RFC 3927) with its address conflict detection (RFC 5227,
 * acd.c), lwIP 2.2's (build.rs leaves both out of a tree without acd.c, such
 * as 2.1.x), built from the unmodified upstream autoip.c and acd.c with
 * hooks applied from outside, so that Rust hears about each event:
 * - autoip.c's conflict callback, which acd.c calls when an address is
 *   probed and announced (ACD_IP_OK), found in use (ACD_DECLINE, then
 *   ACD_RESTART_CLIENT) or given up after a second conflict;
 * - acd.c's announcements made in defence of a bound address (one conflict
 *   within DEFEND_INTERVAL is answered with an announcement; a second makes
 *   it retreat).
 * Also what lwIP leaves to its user: AutoIP only on the netifs that ask for
 * it (dhcp.c, with LWIP_DHCP_AUTOIP_COOP, would start it on every DHCP
 * netif: lwip/dhcp_glue.c asks lwip_tap_autoip_wanted() first), yielding
 * to a DHCP lease, and freeing its state when a netif goes away.
 */
#include "lwip/opt.h"
#include "lwip_tap.h"

#if LWIP_TAP_APP_AUTOIP

#include <stddef.h>

#include "lwip/acd.h"
#include "lwip/autoip.h"
#include "lwip/etharp.h"

static acd_conflict_callback_t lwip_tap_autoip_upstream_callback;

static void
lwip_tap_autoip_conflict(struct netif *netif, acd_callback_enum_t state)
{
  const struct autoip *autoip = netif_autoip_data(netif);
  u32_t addr = autoip != NULL ? ip4_addr_get_u32(&autoip->llipaddr) : 0;
  u8_t event = state == ACD_IP_OK ? LWIP_TAP_AUTOIP_BOUND
               : state == ACD_DECLINE ? LWIP_TAP_AUTOIP_CONFLICT
                                      : LWIP_TAP_AUTOIP_RESTART;
  /* The address concerned, before the callback picks another. */
  lwip_tap_autoip_event(netif, event, addr);
  lwip_tap_autoip_upstream_callback(netif, state);
}

static err_t
lwip_tap_autoip_acd_add(struct netif *netif, struct acd *acd, acd_conflict_callback_t callback)
{
  lwip_tap_autoip_upstream_callback = callback;
  return acd_add(netif, acd, lwip_tap_autoip_conflict);
}

#define acd_add lwip_tap_autoip_acd_add
#include "core/ipv4/autoip.c"
#undef acd_add

/* acd.c: an announcement sent while the address is in use (ONGOING) is a
 * defence; those of the announce phase are not. */
static void
lwip_tap_acd_announce(struct netif *netif, const ip4_addr_t *ipaddr)
{
  const struct acd *acd =
      (const struct acd *)(const void *)((const char *)ipaddr - offsetof(struct acd, ipaddr));
  if (acd->state == ACD_STATE_ONGOING) {
    lwip_tap_autoip_event(netif, LWIP_TAP_AUTOIP_DEFENDED, ip4_addr_get_u32(ipaddr));
  }
  etharp_acd_announce(netif, ipaddr);
}

#define etharp_acd_announce lwip_tap_acd_announce
#include "core/ipv4/acd.c"
#undef etharp_acd_announce

/* Which netifs asked for AutoIP, by netif number. */
static u8_t autoip_wanted[256];

void
lwip_tap_autoip_enable(struct netif *netif, int on)
{
  autoip_wanted[netif->num] = (u8_t)(on != 0);
}

int
lwip_tap_autoip_wanted(struct netif *netif)
{
  return autoip_wanted[netif->num];
}

void
lwip_tap_autoip_yield(struct netif *netif)
{
  struct autoip *autoip = netif_autoip_data(netif);
  if (autoip != NULL && autoip->state != AUTOIP_STATE_OFF) {
    acd_stop(&autoip->acd);
    autoip_stop(netif);
  }
}

void
lwip_tap_autoip_cleanup(struct netif *netif)
{
  struct autoip *autoip = netif_autoip_data(netif);
  const struct acd *a;

  autoip_wanted[netif->num] = 0;
  if (autoip == NULL) {
    return;
  }
  acd_stop(&autoip->acd);
  for (a = netif->acd_list; a != NULL; a = a->next) {
    if (a == &autoip->acd) {
      acd_remove(netif, &autoip->acd);
      break;
    }
  }
  autoip_remove_struct(netif);
  mem_free(autoip);
}

#else /* LWIP_TAP_APP_AUTOIP */

void
lwip_tap_autoip_enable(struct netif *netif, int on)
{
  LWIP_UNUSED_ARG(netif);
  LWIP_UNUSED_ARG(on);
}

int
lwip_tap_autoip_wanted(struct netif *netif)
{
  LWIP_UNUSED_ARG(netif);
  return 0;
}

void
lwip_tap_autoip_yield(struct netif *netif)
{
  LWIP_UNUSED_ARG(netif);
}

void
lwip_tap_autoip_cleanup(struct netif *netif)
{
  LWIP_UNUSED_ARG(netif);
}

#endif /* LWIP_TAP_APP_AUTOIP */
