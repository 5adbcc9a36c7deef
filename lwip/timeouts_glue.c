/*
 * lwIP's timer list, built from the unmodified upstream timeouts.c, plus one
 * reader that lets the main loop sleep longer while lwIP is idle.
 *
 * lwIP's cyclic timers run whether or not they have work. Four of them tick
 * faster than once a second: mld6_tmr, igmp_tmr and acd_tmr every 100 ms and
 * dhcp_fine_tmr every 500 ms, so an idle lwip-tap woke ten times a second
 * for nothing (igmp_tmr and acd_tmr: read lwip_tap_igmp_idle and
 * lwip_tap_acd_idle below). Both
 * only count down timers that something else armed, and do nothing at all
 * while none is armed (read mld6_tmr in core/ipv6/mld6.c and dhcp_fine_tmr
 * in core/ipv4/dhcp.c):
 * - mld6_tmr walks every MLD group of every netif and touches only those
 *   whose `timer` is above 0 (a report is pending);
 * - dhcp_fine_tmr walks every netif and touches only DHCP clients whose
 *   `request_timeout` is above 0 (a request is waiting for its answer).
 * lwip_tap_timeouts_sleeptime() is sys_timeouts_sleeptime() that passes
 * over such a timer while it is idle. The timer stays in the list, falls
 * due, and runs (as the no-op it is) at the next wakeup, before any frame
 * is read (src/stack.rs, Stack::turn). Its state is only ever changed by
 * lwIP code the loop runs (a frame, another timer, an API call), after which
 * the loop asks again, so a timer that gets work is waited for as usual.
 *
 * timeouts.c keeps its list (next_timeout) and lwip_cyclic_timer static, so
 * this file includes it rather than compiling it beside it. Nothing in it
 * is redefined: the code compiled is upstream's. That is why the cargo
 * feature `stock_lwip` (lwIP as shipped) keeps this reader too: every lwIP
 * function behaves as upstream's; only when the loop wakes differs.
 */
#include "core/timeouts.c"

#include "lwip/netif.h"
#include "lwip/mld6.h"
#include "lwip/dhcp.h"
#include "lwip/igmp.h"
#if LWIP_ACD
#include "lwip/acd.h"
#endif
#include "lwip_tap.h"

#if LWIP_IPV6 && LWIP_IPV6_MLD
/* Whether mld6_tmr would change nothing now: no group has a report pending. */
static int
lwip_tap_mld6_idle(void)
{
  struct netif *netif;

  NETIF_FOREACH(netif) {
    const struct mld_group *group;
    for (group = netif_mld6_data(netif); group != NULL; group = group->next) {
      if (group->timer > 0) {
        return 0;
      }
    }
  }
  return 1;
}
#endif /* LWIP_IPV6 && LWIP_IPV6_MLD */

#if LWIP_IPV4 && LWIP_DHCP
/* Whether dhcp_fine_tmr would change nothing now: no request is waiting. */
static int
lwip_tap_dhcp_fine_idle(void)
{
  struct netif *netif;

  NETIF_FOREACH(netif) {
    const struct dhcp *dhcp = netif_dhcp_data(netif);
    if (dhcp != NULL && dhcp->request_timeout > 0) {
      return 0;
    }
  }
  return 1;
}
#endif /* LWIP_IPV4 && LWIP_DHCP */

#if LWIP_IPV4 && LWIP_IGMP
/* Whether igmp_tmr would change nothing now: no group has a report pending
 * (like mld6_tmr: it touches only groups whose `timer` is above 0). */
static int
lwip_tap_igmp_idle(void)
{
  struct netif *netif;

  NETIF_FOREACH(netif) {
    const struct igmp_group *group;
    for (group = netif_igmp_data(netif); group != NULL; group = group->next) {
      if (group->timer > 0) {
        return 0;
      }
    }
  }
  return 1;
}
#endif /* LWIP_IPV4 && LWIP_IGMP */

#if LWIP_IPV4 && LWIP_ACD
/* Whether acd_tmr would change nothing now: no address is being probed,
 * announced or rate limited, and none has a recent conflict counting down
 * (acd_tmr in core/ipv4/acd.c acts only in those states; in the others it
 * only counts `ttw` down, which acd_start sets anew before it matters). */
static int
lwip_tap_acd_idle(void)
{
  struct netif *netif;

  NETIF_FOREACH(netif) {
    const struct acd *acd;
    for (acd = netif->acd_list; acd != NULL; acd = acd->next) {
      if (acd->lastconflict > 0 ||
          !(acd->state == ACD_STATE_OFF || acd->state == ACD_STATE_ONGOING ||
            acd->state == ACD_STATE_PASSIVE_ONGOING)) {
        return 0;
      }
    }
  }
  return 1;
}
#endif /* LWIP_IPV4 && LWIP_ACD */

/* Whether running `timeout` now would provably do nothing. */
static int
lwip_tap_timeout_idle(const struct sys_timeo *timeout)
{
  const struct lwip_cyclic_timer *cyclic;

  if (timeout->h != lwip_cyclic_timer) {
    return 0;
  }
  cyclic = (const struct lwip_cyclic_timer *)timeout->arg;
#if LWIP_IPV6 && LWIP_IPV6_MLD
  if (cyclic->handler == mld6_tmr) {
    return lwip_tap_mld6_idle();
  }
#endif
#if LWIP_IPV4 && LWIP_DHCP
  if (cyclic->handler == dhcp_fine_tmr) {
    return lwip_tap_dhcp_fine_idle();
  }
#endif
#if LWIP_IPV4 && LWIP_IGMP
  if (cyclic->handler == igmp_tmr) {
    return lwip_tap_igmp_idle();
  }
#endif
#if LWIP_IPV4 && LWIP_ACD
  if (cyclic->handler == acd_tmr) {
    return lwip_tap_acd_idle();
  }
#endif
  LWIP_UNUSED_ARG(cyclic);
  return 0;
}

u32_t
lwip_tap_timeouts_sleeptime(void)
{
  const struct sys_timeo *t;

  LWIP_ASSERT_CORE_LOCKED();

  /* The list is sorted by due time: the first timer that would do
   * something decides. */
  for (t = next_timeout; t != NULL; t = t->next) {
    u32_t now;
    if (lwip_tap_timeout_idle(t)) {
      continue;
    }
    now = sys_now();
    if (TIME_LESS_THAN(t->time, now)) {
      return 0;
    }
    return (u32_t)(t->time - now);
  }
  return SYS_TIMEOUTS_SLEEPTIME_INFINITE;
}
