/*
 * The part of the lwIP port that has to be C: lwIP's diagnostics are
 * printf-style varargs calls, which Rust cannot define. Text is collected
 * into whole lines and handed to Rust (`lwip_tap_log_line`), which logs
 * it under the `lwip` target. It also holds lwIP's TCP input hook, which
 * needs lwIP's private PCB lists.
 */
#include <stdarg.h>
#include <stdio.h>

#include "lwip/opt.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"

/* Implemented in Rust (src/port.rs). */
void lwip_tap_log_line(const char *line);

/* Run-time switch for LWIP_DEBUGF output in a debug build (see lwipopts.h). */
unsigned char lwip_tap_debug_types = 0;

static char line_buf[1024];
static size_t line_len;

static void flush_line(void)
{
  line_buf[line_len] = '\0';
  lwip_tap_log_line(line_buf);
  line_len = 0;
}

void lwip_tap_diag(const char *fmt, ...)
{
  char text[1024];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  if (n < 0) {
    return;
  }
  if ((size_t)n >= sizeof(text)) {
    n = (int)sizeof(text) - 1;
  }
  for (int i = 0; i < n; i++) {
    if (text[i] == '\n') {
      flush_line();
    } else if (line_len < sizeof(line_buf) - 1) {
      line_buf[line_len++] = text[i];
    }
  }
}

/* LWIP_HOOK_TCP_INPACKET_PCB (see lwipopts.h): runs before lwIP handles a
 * segment for `pcb`. For a SYN to a listener whose backlog is full, or when
 * no TCP PCB is left, abort the oldest half-open (SYN_RCVD) connection of
 * that listener (of any listener when the pool is empty), so the new SYN is
 * served. Returning ERR_OK lets lwIP process the segment as usual. */
int lwip_tap_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, unsigned short optlen,
                          unsigned short opt1len, unsigned char *opt2, struct pbuf *p)
{
  struct tcp_pcb_listen *listener;
  const struct stats_mem *pool = lwip_stats.memp[MEMP_TCP_PCB];
  struct tcp_pcb *victim = NULL;
  u32_t victim_age = 0;
  int backlog_full, pool_full;

  LWIP_UNUSED_ARG(optlen);
  LWIP_UNUSED_ARG(opt1len);
  LWIP_UNUSED_ARG(opt2);
  LWIP_UNUSED_ARG(p);
  if (pcb->state != LISTEN || (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN) {
    return ERR_OK;
  }
  listener = (struct tcp_pcb_listen *)pcb;
  backlog_full = listener->accepts_pending >= listener->backlog;
  /* With the pool full lwIP itself first reclaims a TIME-WAIT PCB. */
  pool_full = pool != NULL && pool->used >= pool->avail && tcp_tw_pcbs == NULL;
  if (!backlog_full && !pool_full) {
    return ERR_OK;
  }
  for (struct tcp_pcb *q = tcp_active_pcbs; q != NULL; q = q->next) {
    if (q->state == SYN_RCVD && (pool_full || q->listener == listener)) {
      u32_t age = tcp_ticks - q->tmr;
      if (victim == NULL || age >= victim_age) {
        victim = q;
        victim_age = age;
      }
    }
  }
  if (victim != NULL) {
    TCP_STATS_INC(tcp.drop);
    tcp_abort(victim);
  }
  return ERR_OK;
}
