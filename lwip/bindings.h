/* The lwIP API that lwip-tap's Rust code uses; input to bindgen. */
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/dhcp.h"
#include "lwip/prot/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/stats.h"
#include "lwip/ip_addr.h"
#include "lwip/ip4_frag.h"
#include "netif/ethernet.h"
#include "lwip/apps/httpd.h"
#include "lwip/apps/lwiperf.h"
#include "tcpecho_raw.h"
#include "udpecho_raw.h"

/* lwip/shim.c */
extern unsigned char lwip_tap_debug_types;
