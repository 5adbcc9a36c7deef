/*
 * Input to bindgen: the lwIP API that lwip-tap's Rust code calls, and our
 * own (lwip_tap.h). Which of its declarations become bindings is decided by
 * the allowlists in build.rs; build.rs also compiles this header to check
 * the bindings in use against the C that is built.
 */
#include "lwip/init.h"
#include "lwip/timeouts.h"
#include "lwip/pbuf.h"
#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "lwip/raw.h"
#include "lwip/udp.h"
#include "lwip/dhcp.h"
#include "lwip/prot/dhcp.h"
#include "lwip/prot/ethernet.h"
#include "lwip/apps/httpd.h"
#include "lwip/apps/lwiperf.h"
#include "lwip/apps/sntp.h"
#include "lwip/dns.h"
#include "tcpecho_raw.h"
#include "udpecho_raw.h"

#include "lwip_tap.h"
