/*
 * lwIP's mDNS responder (lwIP 2.2's apps/mdns; build.rs leaves it out of a
 * tree without mdns_out.c and mdns_domain.c, such as 2.1.x with its older
 * single-file responder), built from the unmodified upstream mdns.c with one
 * hook applied from outside: the receive callback mdns.c registers on its
 * UDP PCB is wrapped, so that Rust sees every packet before mdns.c does and
 * can log one that is malformed (mdns.c drops it without a word unless
 * LWIP_DEBUG is on). mdns.c still gets every packet, malformed or not.
 *
 * Also the calls Rust makes (lwip_tap.h): start the responder on a netif,
 * announce a service, and stop it on a netif that goes away, with every
 * timer mdns.c armed for that netif (upstream's mdns_resp_remove_netif
 * leaves the delayed-answer timers armed, pointing at the netif).
 */
#include "lwip/opt.h"
#include "lwip_tap.h"

#if LWIP_TAP_APP_MDNS

#include "lwip/udp.h"
#include "lwip/ip.h"

static udp_recv_fn lwip_tap_mdns_upstream_recv;

static void
lwip_tap_mdns_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                   u16_t port)
{
  lwip_tap_mdns_received(ip_current_input_netif(), p, addr, port);
  lwip_tap_mdns_upstream_recv(arg, pcb, p, addr, port);
}

static void
lwip_tap_mdns_set_recv(struct udp_pcb *pcb, udp_recv_fn recv, void *recv_arg)
{
  lwip_tap_mdns_upstream_recv = recv;
  udp_recv(pcb, lwip_tap_mdns_recv, recv_arg);
}

#define udp_recv lwip_tap_mdns_set_recv
#include "apps/mdns/mdns.c"
#undef udp_recv

#include "lwip/apps/mdns_out.h"

static void
lwip_tap_mdns_name_result(struct netif *netif, u8_t result, s8_t slot)
{
  lwip_tap_mdns_name_event(netif, result == MDNS_PROBING_SUCCESSFUL, slot);
}

err_t
lwip_tap_mdns_start(struct netif *netif, const char *hostname)
{
  static int initialized;
  if (!initialized) {
    mdns_resp_init();
    mdns_resp_register_name_result_cb(lwip_tap_mdns_name_result);
    initialized = 1;
  }
  return mdns_resp_add_netif(netif, hostname);
}

s8_t
lwip_tap_mdns_add_service(struct netif *netif, const char *name, const char *service, int tcp,
                          u16_t port)
{
  return mdns_resp_add_service(netif, name, service, tcp ? DNSSD_PROTO_TCP : DNSSD_PROTO_UDP,
                               port, NULL, NULL);
}

void
lwip_tap_mdns_stop(struct netif *netif)
{
  static const sys_timeout_handler armed[] = {
    mdns_multicast_timeout_reset_ipv4, mdns_multicast_probe_timeout_reset_ipv4,
    mdns_multicast_timeout_25ttl_reset_ipv4, mdns_send_multicast_msg_delayed_ipv4,
    mdns_send_unicast_msg_delayed_ipv4, mdns_multicast_timeout_reset_ipv6,
    mdns_multicast_probe_timeout_reset_ipv6, mdns_multicast_timeout_25ttl_reset_ipv6,
    mdns_send_multicast_msg_delayed_ipv6, mdns_send_unicast_msg_delayed_ipv6,
  };
  size_t i;

  if (!mdns_resp_netif_active(netif)) {
    return;
  }
  for (i = 0; i < sizeof(armed) / sizeof(armed[0]); i++) {
    sys_untimeout(armed[i], netif);
  }
  mdns_resp_remove_netif(netif);
}

#else /* LWIP_TAP_APP_MDNS */

err_t
lwip_tap_mdns_start(struct netif *netif, const char *hostname)
{
  LWIP_UNUSED_ARG(netif);
  LWIP_UNUSED_ARG(hostname);
  return ERR_VAL;
}

s8_t
lwip_tap_mdns_add_service(struct netif *netif, const char *name, const char *service, int tcp,
                          u16_t port)
{
  LWIP_UNUSED_ARG(netif);
  LWIP_UNUSED_ARG(name);
  LWIP_UNUSED_ARG(service);
  LWIP_UNUSED_ARG(tcp);
  LWIP_UNUSED_ARG(port);
  return ERR_VAL;
}

void
lwip_tap_mdns_stop(struct netif *netif)
{
  LWIP_UNUSED_ARG(netif);
}

#endif /* LWIP_TAP_APP_MDNS */
