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

/* The client: upstream's sends for a fixed 10 s (its TODO). Its settings are
 * sent once the connection is up, so the duration can still be set here. */
void *
lwip_tap_lwiperf_start_client(const ip_addr_t *remote_addr, u16_t remote_port, u32_t centiseconds,
                              lwiperf_report_fn report_fn, void *report_arg)
{
  lwiperf_state_tcp_t *conn =
      lwiperf_start_tcp_client(remote_addr, remote_port, LWIPERF_CLIENT, report_fn, report_arg);
  if (conn != NULL) {
    /* A negative amount is a duration, in hundredths of a second. */
    conn->settings.amount = lwip_htonl((u32_t)(-(s32_t)centiseconds));
  }
  return conn;
}

void
lwip_tap_lwiperf_stop_client(void *session)
{
  /* lwiperf_abort() would free the session and leave its PCB calling back
   * into freed memory, so close it the way lwiperf ends a test. */
  lwiperf_state_tcp_t *conn = (lwiperf_state_tcp_t *)lwiperf_list_find((lwiperf_state_base_t *)session);
  if (conn != NULL) {
    conn->report_fn = NULL;
    lwiperf_tcp_close(conn, LWIPERF_TCP_ABORTED_LOCAL);
  }
}
