/*
 * What lwIP was built as, for `lwip-tap --version`: the lwIP release of the
 * tree build.rs compiled, and the values the options that size lwip-tap
 * ended up with (lwipopts.h, the user's LWIP_TAP_OPTS file, lwIP's
 * defaults), as the C compiler resolved them.
 */
#include <pthread.h>
#include <stdio.h>

#include "lwip/opt.h"
#include "lwip/init.h"
#include "lwip_tap.h"

const char *lwip_tap_lwip_version(void)
{
  return LWIP_VERSION_STRING;
}

u8_t lwip_tap_lwip_version_rc(void)
{
  return LWIP_VERSION_RC;
}

unsigned lwip_tap_lwip_apps(void)
{
  return (LWIP_TAP_APP_MDNS ? LWIP_TAP_HAS_MDNS : 0) | (LWIP_TAP_APP_AUTOIP ? LWIP_TAP_HAS_AUTOIP : 0);
}

/* Options are often expressions, e.g. TCP_WND (256 * 1024), so their values
 * are formatted at run time, once. */
#define LWIP_TAP_OPTION(name) { #name, (long long)(name) },
static const struct {
  const char *name;
  long long value;
} options[] = {
  LWIP_TAP_OPTION(TCP_MSS)
  LWIP_TAP_OPTION(TCP_WND)
  LWIP_TAP_OPTION(TCP_SND_BUF)
  LWIP_TAP_OPTION(TCP_SND_QUEUELEN)
  LWIP_TAP_OPTION(LWIP_WND_SCALE)
#if LWIP_WND_SCALE
  LWIP_TAP_OPTION(TCP_RCV_SCALE)
#endif
  LWIP_TAP_OPTION(MEMP_NUM_TCP_PCB)
  LWIP_TAP_OPTION(MEMP_NUM_TCP_PCB_LISTEN)
  LWIP_TAP_OPTION(MEMP_NUM_TCP_SEG)
  LWIP_TAP_OPTION(MEMP_NUM_UDP_PCB)
  LWIP_TAP_OPTION(MEMP_NUM_PBUF)
  LWIP_TAP_OPTION(PBUF_POOL_SIZE)
  LWIP_TAP_OPTION(PBUF_POOL_BUFSIZE)
  LWIP_TAP_OPTION(MEM_SIZE)
  LWIP_TAP_OPTION(ARP_TABLE_SIZE)
  LWIP_TAP_OPTION(IP_REASS_MAX_PBUFS)
  LWIP_TAP_OPTION(LWIP_IPV6_NUM_ADDRESSES)
};
#undef LWIP_TAP_OPTION

static char options_text[1024];
static pthread_once_t options_once = PTHREAD_ONCE_INIT;

static void format_options(void)
{
  size_t len = 0;

  for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
    int n = snprintf(options_text + len, sizeof(options_text) - len, "%s%s=%lld",
                     i == 0 ? "" : " ", options[i].name, options[i].value);
    if (n < 0 || (size_t)n >= sizeof(options_text) - len) {
      break; /* cut short; the buffer is sized for the list above */
    }
    len += (size_t)n;
  }
#ifdef LWIP_DEBUG
  snprintf(options_text + len, sizeof(options_text) - len, " LWIP_DEBUG=1");
#endif
}

const char *lwip_tap_lwip_options(void)
{
  pthread_once(&options_once, format_options);
  return options_text;
}
