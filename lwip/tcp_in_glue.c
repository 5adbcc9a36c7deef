/*
 * lwIP's TCP input, built from the unmodified upstream tcp_in.c with one
 * fix applied from outside: lwIP 2.2.1 reads an option's length byte before
 * checking that it is inside the options, so a segment whose options end in
 * an option kind (MSS, window scale, timestamp, SACK-permitted) makes
 * tcp_parseopt read up to one byte past the header. Upstream fixed this
 * after 2.2.1 (commit 3d896ba0, "tcp_in: Add bounds check for next option
 * byte"): a read past the options returns the end-of-options kind (0), which
 * makes the length check fail and parsing stop. The same check wraps the
 * upstream reader here; on a tree that has the fix it changes nothing.
 *
 * The cargo feature `stock_lwip` (which defines LWIP_TAP_STOCK_LWIP) builds
 * the stock code, to see the over-read (docs/reliability.md).
 *
 * How: tcp_get_next_optbyte is a static function defined as
 * `tcp_get_next_optbyte(void)` and called as `tcp_get_next_optbyte()`. A
 * one-parameter macro sees the argument `void` in the definition and an
 * empty argument in the calls, so the definition is renamed and every call
 * goes to the checked reader below.
 */
#ifndef LWIP_TAP_STOCK_LWIP

#include "lwip/opt.h"

static u8_t lwip_tap_tcp_optbyte_checked(void);

#define LWIP_TAP_OPTBYTE_void lwip_tap_tcp_optbyte_upstream(void)
#define LWIP_TAP_OPTBYTE_ lwip_tap_tcp_optbyte_checked()
#define tcp_get_next_optbyte(x) LWIP_TAP_OPTBYTE_##x
#include "core/tcp_in.c"
#undef tcp_get_next_optbyte

#if LWIP_TCP
/* A read past the options returns LWIP_TCP_OPT_EOL, as upstream's fix does. */
static u8_t
lwip_tap_tcp_optbyte_checked(void)
{
  if (tcp_optidx >= tcphdr_optlen) {
    tcp_optidx++;
    return LWIP_TCP_OPT_EOL;
  }
  return lwip_tap_tcp_optbyte_upstream();
}
#endif

#else
#include "core/tcp_in.c"
#endif
