/*
 * lwIP's IPv4 layer, built from the unmodified upstream ip4.c with one fix
 * applied from outside.
 *
 * ip4_forward (lwIP 2.2.0 and later, commit 61c67fc2; master as of 2026-11)
 * decrements the TTL, updates the header checksum for it, and then, when
 * checksums are generated in software, writes zero into the IPv4 header
 * checksum and into the two bytes where a TCP, UDP or ICMP header keeps its
 * checksum (16, 6 or 2 bytes after the IP header), expecting checksum
 * offload hardware to fill them in. Nothing does. Those two bytes are
 * written whatever the packet is: in a fragment other than the first they
 * are payload, and in a packet shorter than that (a short last fragment, or
 * IP options that leave no room) the write lands past the packet's end,
 * past the end of its buffer if the buffer is no bigger (the fuzzer's
 * exact-size buffers: fuzz/regressions/forward-short-packet-checksum-write).
 *
 * In ip4.c the switches behind that write, CHECKSUM_GEN_UDP/TCP/ICMP and
 * the per-netif NETIF_CHECKSUM_GEN_UDP/TCP/ICMP, decide nothing else
 * (lwIP's own packets get their transport checksums in udp.c, tcp_out.c and
 * icmp.c; build.rs refuses a tree whose ip4.c uses them outside
 * ip4_forward). Here they are 0 for ip4.c alone, after the headers have
 * been read with the real values, so ip4_forward leaves transport checksums
 * and payloads as they arrived, as a router does. The header checksum
 * stays cleared: CHECKSUM_GEN_IP also decides whether ip4.c computes the
 * header checksum of lwIP's own packets, so the driver fills it in when it
 * sends the packet (src/netif.rs, src/checksum.rs).
 *
 * The cargo feature `stock_lwip` (LWIP_TAP_STOCK_LWIP) builds ip4.c as
 * shipped (docs/forwarding.md).
 */
#ifndef LWIP_TAP_STOCK_LWIP

/* Every header ip4.c includes, read first with the options as configured. */
#include "lwip/opt.h"
#include "lwip/ip.h"
#include "lwip/def.h"
#include "lwip/mem.h"
#include "lwip/ip4_frag.h"
#include "lwip/inet_chksum.h"
#include "lwip/netif.h"
#include "lwip/icmp.h"
#include "lwip/igmp.h"
#include "lwip/priv/raw_priv.h"
#include "lwip/udp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/autoip.h"
#include "lwip/stats.h"
#include "lwip/prot/iana.h"

#undef CHECKSUM_GEN_UDP
#define CHECKSUM_GEN_UDP 0
#undef CHECKSUM_GEN_TCP
#define CHECKSUM_GEN_TCP 0
#undef CHECKSUM_GEN_ICMP
#define CHECKSUM_GEN_ICMP 0
/* NETIF_CHECKSUM_ENABLED(inp, 0) is false for any netif. */
#undef NETIF_CHECKSUM_GEN_UDP
#define NETIF_CHECKSUM_GEN_UDP 0
#undef NETIF_CHECKSUM_GEN_TCP
#define NETIF_CHECKSUM_GEN_TCP 0
#undef NETIF_CHECKSUM_GEN_ICMP
#define NETIF_CHECKSUM_GEN_ICMP 0

#endif /* LWIP_TAP_STOCK_LWIP */

#include "core/ipv4/ip4.c"
