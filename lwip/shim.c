/*
 * The part of the lwIP port that has to be C: lwIP's diagnostics are
 * printf-style varargs calls, which Rust cannot define. Text is collected
 * into whole lines and handed to Rust (`lwip_tap_log_line`), which logs
 * it under the `lwip` target.
 */
#include <stdarg.h>
#include <stdio.h>

#include "lwip/opt.h"

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
