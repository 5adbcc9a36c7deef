/*
 * lwIP's lwiperf, built from the unmodified upstream file with one fix
 * applied from outside: upstream's TCP error callback clears the session's
 * PCB pointer and then reports the session through it (a NULL dereference),
 * so any iperf connection that is reset or aborted crashed the process.
 *
 * The upstream source is included here (not copied) with lwiperf's calls to
 * tcp_err() renamed, so its error callback can be swapped for one that
 * reports without the PCB and frees the session the same way.
 */
#define tcp_err lwip_tap_lwiperf_set_err
#include "lwiperf.c"
#undef tcp_err

/* The real tcp_err(), whose declaration the rename above hid. */
void tcp_err(struct tcp_pcb *pcb, tcp_err_fn err);

/* Called by lwIP after it has freed the session's PCB. */
static void
lwip_tap_lwiperf_err(void *arg, err_t err)
{
  lwiperf_state_tcp_t *conn = (lwiperf_state_tcp_t *)arg;
  u32_t duration_ms;

  LWIP_UNUSED_ARG(err);
  if (conn == NULL) {
    return;
  }
  lwiperf_list_remove(&conn->base);
  duration_ms = sys_now() - conn->time_started;
  if (conn->report_fn != NULL) {
    conn->report_fn(conn->report_arg, LWIPERF_TCP_ABORTED_REMOTE, NULL, 0, NULL, 0,
                    conn->bytes_transferred, duration_ms,
                    duration_ms == 0 ? 0 : (conn->bytes_transferred / duration_ms) * 8U);
  }
  LWIPERF_FREE(lwiperf_state_tcp_t, conn);
}

void
lwip_tap_lwiperf_set_err(struct tcp_pcb *pcb, tcp_err_fn err)
{
  tcp_err(pcb, err == lwiperf_tcp_err ? lwip_tap_lwiperf_err : err);
}
