/*
 * lwIP's DNS client, built from the unmodified upstream dns.c with its
 * receive function wrapped, so that lwip-tap can tell why a query failed.
 *
 * lwIP calls a query's found callback with no address both when the server
 * answered with an error (NXDOMAIN, SERVFAIL, REFUSED) or without a usable
 * record, and when every try timed out. The wrapper notes the response code
 * of the answer being processed; a callback made while it is set was caused
 * by that answer, any other by a timeout (or by having no server).
 *
 * dns.c registers its receive function with udp_recv() for each of its
 * source ports; the macro below hands lwIP the wrapper instead, which
 * passes every datagram on to the upstream dns_recv().
 */
#include "lwip/opt.h"
#include "lwip/udp.h"
#include "lwip/pbuf.h"

static void lwip_tap_dns_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                              const ip_addr_t *addr, u16_t port);
#define udp_recv(pcb, recv, arg) udp_recv((pcb), lwip_tap_dns_recv, (arg))
#include "core/dns.c"
#undef udp_recv

#include "lwip_tap.h"

/* The response code of the answer dns_recv() is processing, -1 outside. */
static int answer_rcode = -1;

static void
lwip_tap_dns_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                  u16_t port)
{
  u8_t flags2 = 0;
  /* The second flags byte (RA, Z, RCODE) is byte 3 of the header. */
  if (pbuf_copy_partial(p, &flags2, 1, 3) == 1) {
    answer_rcode = flags2 & DNS_FLAG2_ERR_MASK;
  } else {
    answer_rcode = 0;
  }
  dns_recv(arg, pcb, p, addr, port);
  answer_rcode = -1;
}

int
lwip_tap_dns_answer_rcode(void)
{
  return answer_rcode;
}

void
lwip_tap_dns_forget_answers(void)
{
  u8_t i;
  for (i = 0; i < DNS_TABLE_SIZE; i++) {
    if (dns_table[i].state == DNS_STATE_DONE) {
      dns_table[i].state = DNS_STATE_UNUSED;
    }
  }
}
