/*
 * lwIP's TFTP server (src/apps/tftp), built from the unmodified upstream file,
 * which this file includes: tftp.c (lwIP 2.2, tftp_init_server()) or
 * tftp_server.c (lwIP 2.1, tftp_init()), whichever build.rs found in the tree
 * (LWIP_TAP_TFTP: 2, 1, or 0 for neither). The struct tftp_context of
 * callbacks is filled in here, so that Rust never sees it (2.2 added a member).
 *
 * Around the upstream file, by renaming three of the calls it makes:
 * - udp_recv: the peer of the packet being handled is kept for the length of
 *   the call, so that the open callback (which lwIP passes no address) can
 *   log who asked;
 * - udp_sendto: every ERROR packet lwIP sends is reported to Rust, so that a
 *   request lwIP refuses by itself (a name too long, an unknown opcode, a
 *   second client) is logged as one line;
 * - sys_timeout (a fix, left out with the cargo feature `stock_lwip`): the
 *   server arms its one-second timer for every read or write request before
 *   it looks at it, even for one it then refuses, and never takes the
 *   earlier one back, so a burst of bad requests within a second emptied
 *   MEMP_SYS_TIMEOUT, and lwIP's assertion in sys_timeout() aborted the
 *   process. Here an armed timer is taken back before it is armed again: the
 *   server has one at a time, as its code assumes.
 */
#include "lwip/opt.h"
#include "lwip/udp.h"
#include "lwip/timeouts.h"
#include "lwip_tap.h"

#if LWIP_TAP_TFTP

static const struct lwip_tap_tftp_callbacks *tftp_callbacks;
static udp_recv_fn tftp_upstream_recv;
static const ip_addr_t *tftp_peer_addr;
static u16_t tftp_peer_port;

static void
lwip_tap_tftp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                   u16_t port)
{
  tftp_peer_addr = addr;
  tftp_peer_port = port;
  tftp_upstream_recv(arg, pcb, p, addr, port);
  tftp_peer_addr = NULL;
}

static void
lwip_tap_tftp_set_recv(struct udp_pcb *pcb, udp_recv_fn recv, void *arg)
{
  tftp_upstream_recv = recv;
  udp_recv(pcb, lwip_tap_tftp_recv, arg);
}

static err_t
lwip_tap_tftp_sendto(struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
  /* An ERROR packet: opcode 5, code, message and its NUL, in one PBUF_RAM
   * buffer (send_error() builds it so). */
  const u8_t *bytes = (const u8_t *)p->payload;
  if (tftp_callbacks != NULL && tftp_callbacks->sent_error != NULL && p->len > 4 &&
      bytes[0] == 0 && bytes[1] == 5 && bytes[p->len - 1] == 0) {
    tftp_callbacks->sent_error(addr, port, (u16_t)((bytes[2] << 8) | bytes[3]),
                               (const char *)bytes + 4);
  }
  return udp_sendto(pcb, p, addr, port);
}

#ifndef LWIP_TAP_STOCK_LWIP
static void
lwip_tap_tftp_timeout(u32_t msecs, sys_timeout_handler handler, void *arg)
{
  sys_untimeout(handler, arg);
  sys_timeout(msecs, handler, arg);
}
#undef sys_timeout
#define sys_timeout lwip_tap_tftp_timeout
#endif

#define udp_recv lwip_tap_tftp_set_recv
#define udp_sendto lwip_tap_tftp_sendto
#if LWIP_TAP_TFTP == 2
#include "apps/tftp/tftp.c"
#else
#include "apps/tftp/tftp_server.c"
#endif
#undef udp_recv
#undef udp_sendto

static struct tftp_context tftp_context;

int
lwip_tap_tftp_available(void)
{
  return 1;
}

err_t
lwip_tap_tftp_start(const struct lwip_tap_tftp_callbacks *callbacks)
{
  tftp_callbacks = callbacks;
  tftp_context.open = callbacks->open;
  tftp_context.close = callbacks->close;
  tftp_context.read = callbacks->read;
  tftp_context.write = callbacks->write;
#if LWIP_TAP_TFTP == 2
  tftp_context.error = callbacks->error;
  return tftp_init_server(&tftp_context);
#else
  return tftp_init(&tftp_context);
#endif
}

int
lwip_tap_tftp_peer(ip_addr_t *addr, u16_t *port)
{
  if (tftp_peer_addr == NULL) {
    return 0;
  }
  ip_addr_copy(*addr, *tftp_peer_addr);
  *port = tftp_peer_port;
  return 1;
}

#else /* LWIP_TAP_TFTP */

int
lwip_tap_tftp_available(void)
{
  return 0;
}

err_t
lwip_tap_tftp_start(const struct lwip_tap_tftp_callbacks *callbacks)
{
  LWIP_UNUSED_ARG(callbacks);
  return ERR_VAL;
}

int
lwip_tap_tftp_peer(ip_addr_t *addr, u16_t *port)
{
  LWIP_UNUSED_ARG(addr);
  LWIP_UNUSED_ARG(port);
  return 0;
}

#endif /* LWIP_TAP_TFTP */
