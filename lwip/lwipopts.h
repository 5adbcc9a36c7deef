/*
 * lwIP configuration for lwip-tap: NO_SYS=1, raw API only, one thread.
 *
 * Everything that changes the layout of a struct Rust sees through the
 * committed bindings must be the same in the normal and the debug build,
 * so the debug switches at the end touch only LWIP_DEBUGF output.
 */
#ifndef LWIP_TAP_LWIPOPTS_H
#define LWIP_TAP_LWIPOPTS_H

/* ---- lwIP's apps that only some trees have ----
 * build.rs defines LWIP_TAP_APP_MDNS and LWIP_TAP_APP_AUTOIP to 1 where the
 * tree has their files (lwIP 2.2: the split mDNS responder, acd.c), else 0. */
#ifndef LWIP_TAP_APP_MDNS
#define LWIP_TAP_APP_MDNS               0
#endif
#ifndef LWIP_TAP_APP_AUTOIP
#define LWIP_TAP_APP_AUTOIP             0
#endif

/* ---- system ---- */
#define NO_SYS                          1
#define SYS_LIGHTWEIGHT_PROT            0
#define LWIP_TIMERS                     1
#define LWIP_NETCONN                    0
#define LWIP_SOCKET                     0
#define LWIP_NETIF_API                  0
#define MEM_ALIGNMENT                   8

/* ---- memory: sized for large TCP windows on a handful of connections ---- */
#define MEM_SIZE                        (2 * 1024 * 1024)
#define MEMP_NUM_PBUF                   512
/* One raw PCB per --ping, and one lwIP timer per client besides lwIP's own
 * (src/apps/clients.rs); lwip/port_checks.h keeps the pools that large. */
#define LWIP_TAP_MAX_CLIENTS            16
#define MEMP_NUM_RAW_PCB                LWIP_TAP_MAX_CLIENTS
/* Each client has a timer of ours (a route check, a ping's next request or
 * its deadline) and an MQTT client lwIP's cyclic timer besides; the TFTP
 * server has one; lwIP's count of its own timers leaves the SNTP app's out
 * (sntp.c: one); the mDNS responder's are counted apart. */
#define MEMP_NUM_SYS_TIMEOUT            (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 2 * LWIP_TAP_MAX_CLIENTS + 1 + 1 + \
                                         LWIP_TAP_MDNS_TIMEOUTS)
#define MEMP_NUM_UDP_PCB                16
#define MEMP_NUM_TCP_PCB                128
#define MEMP_NUM_TCP_PCB_LISTEN         16
#define MEMP_NUM_TCP_SEG                1024
#define MEMP_NUM_REASSDATA              16
#define IP_REASS_MAX_PBUFS              128
#define MEMP_NUM_FRAG_PBUF              64
#define MEMP_NUM_ARP_QUEUE              64
#define PBUF_POOL_SIZE                  1024
/* One pool pbuf holds a whole frame at the default MTU (1500 + 14 + VLAN tag),
 * so the TAP driver reads each frame into a single buffer. */
#define PBUF_POOL_BUFSIZE               1536
/* A frame longer than one pool pbuf (a super-frame, or a frame at a jumbo
 * MTU) is read into a buffer of the driver that lwIP gets as a custom pbuf
 * after the first pool pbuf (lwip-tap's src/lwip/pbuf.rs, RxBuffer). */
#define LWIP_SUPPORT_CUSTOM_PBUF        1

/* ---- link layer ---- */
#define LWIP_ARP                        1
#define LWIP_ETHERNET                   1
#define ETH_PAD_SIZE                    0
#define ARP_TABLE_SIZE                  64
#define ARP_QUEUEING                    1
#define ETHARP_SUPPORT_VLAN             0
#define LWIP_HAVE_LOOPIF                0
#define LWIP_NETIF_LOOPBACK             0
#define LWIP_SINGLE_NETIF               0
#define LWIP_NETIF_STATUS_CALLBACK      1
/* Address state changes (IPv6 duplicate address detection, SLAAC) are
 * reported to the log through the extended status callback. */
#define LWIP_NETIF_EXT_STATUS_CALLBACK  1
#define LWIP_NETIF_LINK_CALLBACK        0
#define LWIP_NETIF_HOSTNAME             1
#define LWIP_NETIF_TX_SINGLE_PBUF       0

/* ---- IP ---- */
#define LWIP_IPV4                       1
#define LWIP_IPV6                       1
#define LWIP_IPV6_DHCP6                 0
#define LWIP_IPV6_AUTOCONFIG            1
/* lwIP routes IPv6 between interfaces like IPv4 (off in stock lwIP). */
#define LWIP_IPV6_FORWARD               1
/* Address slots per interface: slot 0 is the link-local address, the other
 * four hold static (addr6=) and SLAAC addresses. lwIP's default of 3 leaves
 * two, and a router advertisement that finds no free slot is ignored without
 * a word, so there is room for a few of each. */
#define LWIP_IPV6_NUM_ADDRESSES         5
/* Each address has its solicited-node multicast group, and lwIP answers
 * neighbor solicitations only for groups it could join. Its default of 4
 * groups in all covers two interfaces: on a third, its addresses silently
 * stop answering (the pool's err counter in --stats is the only trace).
 * Room for every slot of 32 interfaces; lwip-tap warns beyond. */
#define MEMP_NUM_MLD6_GROUP             (LWIP_IPV6_NUM_ADDRESSES * 32)
/* IPv4 groups: all-systems (224.0.0.1) on every interface and the mDNS
 * group (224.0.0.251) where the responder runs, for 32 interfaces. */
#define MEMP_NUM_IGMP_GROUP             (2 * 32)
/* Neighbor and destination caches and the queue for packets waiting on
 * neighbor discovery, sized like the ARP table (lwIP's defaults: 10/10/20). */
#define LWIP_ND6_NUM_NEIGHBORS          64
#define LWIP_ND6_NUM_DESTINATIONS       64
#define MEMP_NUM_ND6_QUEUE              64
/* A static default router (gw6=): lwIP has no call to set one, only this
 * hook, which nd6.c asks for the next hop of an off-link destination before
 * it picks a router learned from advertisements (lwip/glue.c). */
struct netif;
struct ip6_addr;
const struct ip6_addr *lwip_tap_nd6_gateway(struct netif *netif, const struct ip6_addr *dest);
#define LWIP_HOOK_ND6_GET_GW(netif, dest) lwip_tap_nd6_gateway(netif, dest)
#define IP_FORWARD                      1
#define IP_REASSEMBLY                   1
#define IP_FRAG                         1
/* 64-bit pointers do not fit in the IPv6 fragment header lwIP reuses. */
#define IPV6_FRAG_COPYHEADER            1
#define LWIP_ICMP                       1
/* --ping sends and receives ICMP through a raw PCB. */
#define LWIP_RAW                        1
/* IGMP: the mDNS responder joins 224.0.0.251 (and MLD ff02::fb); lwIP then
 * takes multicast only for groups it joined, and answers IGMP queries for
 * them. A TAP hands over every frame, so the netifs need no MAC filter. */
#define LWIP_IGMP                       1
/* --resolve and -i dns=: lwIP's DNS client (core/dns.c, wrapped by
 * lwip/dns_glue.c). DHCP hands it the lease's DNS servers
 * (LWIP_DHCP_PROVIDE_DNS_SERVERS follows LWIP_DNS). Each --resolve asks for
 * A and AAAA at once: two table entries (and requests) per client. */
#define LWIP_DNS                        1
#define DNS_TABLE_SIZE                  (2 * LWIP_TAP_MAX_CLIENTS)
#define LWIP_DHCP                       1
/* Skip the ARP probe of an offered address: a lease binds in well under a
 * second instead of after the ~2 s address-conflict check. */
#define LWIP_DHCP_DOES_ACD_CHECK        0
/* ACD runs for AutoIP only (a lease still binds at once). */
#define LWIP_ACD                        LWIP_TAP_APP_AUTOIP
/* The same for lwIP 2.1.x, which has no ACD module and names the check
 * after ARP (2.2.x ignores this name). */
#define DHCP_DOES_ARP_CHECK             0
/* Run lwIP's DHCP lease timers every second instead of every minute, so a
 * renewal happens at T1 rather than up to a minute late; 32-bit tick counters
 * keep day-long leases from overflowing at that resolution. (lwIP 2.1.x
 * fixes both in dhcp.h: a minute, 16-bit counters; its compiler warns that
 * the definition is overridden.) */
#define DHCP_COARSE_TIMER_SECS          1
#define DHCP_TIMEOUT_SIZE_T             u32_t
/* AutoIP (RFC 3927) as DHCP's fallback on the interfaces that ask for it
 * (autoip=on; lwip/dhcp_glue.c starts it only there): once the first
 * DISCOVER has gone 2 s unanswered. DHCP keeps asking, and a lease, when one
 * comes, replaces the link-local address. */
#define LWIP_AUTOIP                     LWIP_TAP_APP_AUTOIP
#define LWIP_DHCP_AUTOIP_COOP           LWIP_TAP_APP_AUTOIP
#define LWIP_DHCP_AUTOIP_COOP_TRIES     1

/* ---- UDP / TCP ---- */
#define LWIP_UDP                        1
#define LWIP_TCP                        1
#define TCP_MSS                         1460
#define LWIP_WND_SCALE                  1
#define TCP_RCV_SCALE                   4
#define TCP_WND                         (256 * 1024)
#define TCP_SND_BUF                     (128 * TCP_MSS)
#define TCP_SND_QUEUELEN                (4 * TCP_SND_BUF / TCP_MSS)
/* lwIP keeps the send low-water mark in 16 bits even with window scaling. */
#define TCP_SNDLOWAT                    (16 * TCP_MSS)
/* Window updates once a quarter of the connection's largest window is free,
 * not every 4 MSS (with 64 KiB receive offload segments that is one ACK per
 * segment). A quarter of the connection's own: without window scaling the
 * window stops at 65535, and a fixed TCP_WND / 4 (64 KiB) would never be
 * reached, so a closed window would reopen unannounced. Every lwIP release
 * uses this only in tcp_recved(), where `pcb` is the connection. */
#define TCP_WND_UPDATE_THRESHOLD        (TCP_WND_MAX(pcb) / 4)
#define TCP_QUEUE_OOSEQ                 1
#define LWIP_TCP_SACK_OUT               1
#define TCP_LISTEN_BACKLOG              1
#define TCP_DEFAULT_LISTEN_BACKLOG      64
#define LWIP_TCP_KEEPALIVE              1
/* When a SYN finds its listener's backlog (or the TCP PCB pool) full, the
 * oldest half-open connection is dropped to make room, instead of the new
 * SYN: a SYN flood then cannot lock clients out for the 20 s lwIP keeps
 * SYN_RCVD connections (lwip/shim.c). */
struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
int lwip_tap_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, unsigned short optlen,
                          unsigned short opt1len, unsigned char *opt2, struct pbuf *p);
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p) \
  lwip_tap_tcp_inpacket(pcb, hdr, optlen, opt1len, opt2, p)
#define LWIP_CALLBACK_API               1

#define LWIP_CHKSUM_ALGORITHM           3
/* Per-interface checksum switches: frames the kernel hands over with a
 * checksum it has validated or will not compute (virtio-net header flags,
 * see src/netif.rs) skip lwIP's verification, as with a NIC's RX offload. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF    1

/* ---- apps ---- */
#define LWIP_HTTPD_CGI                  0
#define LWIP_HTTPD_SSI                  0
#define LWIP_HTTPD_SUPPORT_POST         0
#define HTTPD_USE_CUSTOM_FSDATA         0
/* httpd writes each answer's headers, naming the lwIP compiled in; the
 * pages' stored headers (from lwIP 2.0.3d) are cut off in lwip/fs_glue.c. */
#define LWIP_HTTPD_DYNAMIC_HEADERS      1
/* TFTP (lwip/tftp_glue.c): names up to 255 bytes, as a file name may be
 * (upstream's default is 20); one transfer at a time (upstream's design). */
#define TFTP_MAX_FILENAME_LEN           255
/* MQTT (lwip/mqtt_glue.c): room for a message of up to 1024 bytes queued in
 * one go (upstream's 256-byte ring buffer refuses a longer publish). */
#define MQTT_OUTPUT_RINGBUF_SIZE        1536
#define MQTT_VAR_HEADER_BUFFER_LEN      1024

/* --sntp: lwIP's SNTP client (apps/sntp). It is given the time it computes
 * (round trip compensated, the request's originate timestamp checked) and
 * lwip-tap logs the offset from the host's clock, setting no clock
 * (src/lwip/sntp.rs). It starts at once, retries after 2 s, then 4 s... */
#define SNTP_CHECK_RESPONSE             2
#define SNTP_COMP_ROUNDTRIP             1
#define SNTP_STARTUP_DELAY              0
#define SNTP_RECV_TIMEOUT               2000
void lwip_tap_sntp_get_time(unsigned int *sec, unsigned int *us);
void lwip_tap_sntp_set_time(unsigned int sec, unsigned int us);
#define SNTP_GET_SYSTEM_TIME(sec, us)   lwip_tap_sntp_get_time(&(sec), &(us))
#define SNTP_SET_SYSTEM_TIME_US(sec, us) lwip_tap_sntp_set_time((sec), (us))
/* The mDNS responder (--mdns NAME) on up to LWIP_TAP_MDNS_MAX_NETIFS
 * interfaces, announcing a service per built-in service that runs (echo
 * over TCP and UDP, chargen, HTTP, iperf). Each netif arms up to 11 lwIP
 * timers of its own (probing, and per IP version the delayed multicast and
 * unicast answers and three rate limits), one more for a truncated query,
 * and mdns.c allocates a netif client-data slot. */
#define LWIP_MDNS_RESPONDER             LWIP_TAP_APP_MDNS
#define LWIP_MDNS_SEARCH                0
#define MDNS_MAX_SERVICES               5
#define MDNS_MAX_STORED_PKTS            4
#define LWIP_NUM_NETIF_CLIENT_DATA      LWIP_MDNS_RESPONDER
#define LWIP_TAP_MDNS_MAX_NETIFS        8
#define LWIP_TAP_MDNS_TIMEOUTS          (LWIP_MDNS_RESPONDER * (12 * LWIP_TAP_MDNS_MAX_NETIFS + MDNS_MAX_STORED_PKTS))

/* ---- SNMP agent (--snmp COMMUNITY; lwip/snmp_glue.c) ----
 * lwIP's agent over the raw UDP API (port 161), SNMPv1 and v2c, MIB-2 only
 * (system, interfaces, at, ip, icmp, tcp, udp, snmp), no SNMPv3. Read-only:
 * lwip-tap sets a random write community that it never shows, so a SET is
 * refused as a wrong community is (no answer). Communities up to 32 bytes.
 * The agent reads lwIP's MIB-2 counters (MIB2_STATS: lwip_stats.mib2, which
 * --stats shows as "MIB2") and each netif's mib2_counts (lwip/glue.c's
 * driver counts ifInOctets and the packets). No traps are sent. */
#define LWIP_SNMP                       1
#define SNMP_USE_RAW                    1
#define SNMP_USE_NETCONN                0
#define SNMP_LWIP_MIB2                  1
#define LWIP_SNMP_V3                    0
#define MIB2_STATS                      1
#define SNMP_MAX_COMMUNITY_STR_LEN      32
#define SNMP_COMMUNITY_WRITE            ""
#define SNMP_TRAP_DESTINATIONS          1
#define SNMP_LWIP_MIB2_SYSDESC          "lwip-tap"
#define SNMP_LWIP_MIB2_SYSNAME          "lwip-tap"
#define SNMP_LWIP_GETBULK_MAX_REPETITIONS 16

/* ---- statistics: always compiled, shown by --stats / SIGUSR1 ---- */
#define LWIP_STATS                      1
#define LWIP_STATS_DISPLAY              1
#define LWIP_STATS_LARGE                1
#define MEM_STATS                       1
#define MEMP_STATS                      1
#define SYS_STATS                       0

/* ---- fuzzing (fuzz/run defines LWIP_TAP_FUZZ) ----
 * lwIP's heap and pools come from malloc, byte-exact (alignment 1), so that
 * AddressSanitizer sees a read past a buffer: in the static pools every
 * frame sits in a 1536-byte buffer and an over-read stays invisible. The
 * driver gives each received frame a heap buffer of exactly its size
 * (src/netif.rs, cfg(fuzzing)). */
#ifdef LWIP_TAP_FUZZ
#undef MEM_ALIGNMENT
#define MEM_ALIGNMENT                   1
#define MEM_LIBC_MALLOC                 1
#define MEMP_MEM_MALLOC                 1
#endif

/* ---- debugging (cargo feature `debug`; `-d` switches it on at run time) ---- */
#ifdef LWIP_TAP_DEBUG
#define LWIP_DEBUG                      1
extern unsigned char lwip_tap_debug_types;
#define LWIP_DBG_TYPES_ON               lwip_tap_debug_types
#define LWIP_DBG_MIN_LEVEL              LWIP_DBG_LEVEL_ALL
#define ETHARP_DEBUG                    LWIP_DBG_ON
#define NETIF_DEBUG                     LWIP_DBG_ON
#define PBUF_DEBUG                      LWIP_DBG_ON
#define IP_DEBUG                        LWIP_DBG_ON
#define ICMP_DEBUG                      LWIP_DBG_ON
#define UDP_DEBUG                       LWIP_DBG_ON
#define TCP_DEBUG                       LWIP_DBG_ON
#define TCP_INPUT_DEBUG                 LWIP_DBG_ON
#define TCP_OUTPUT_DEBUG                LWIP_DBG_ON
#define DHCP_DEBUG                      LWIP_DBG_ON
#define DNS_DEBUG                       LWIP_DBG_ON
#define SNTP_DEBUG                      LWIP_DBG_ON
#define IP6_DEBUG                       LWIP_DBG_ON
#define IGMP_DEBUG                      LWIP_DBG_ON
#define MDNS_DEBUG                      LWIP_DBG_ON
#define AUTOIP_DEBUG                    LWIP_DBG_ON
#define ACD_DEBUG                       LWIP_DBG_ON
#endif

/* ---- the user's overrides: LWIP_TAP_OPTS=file (see build.rs) ----
 * build.rs defines LWIP_TAP_OPTS_FILE as the file's quoted absolute path.
 * It is included last, after every definition above, so to change one of
 * our options the file must drop ours first:
 *     #undef TCP_WND
 *     #define TCP_WND (64 * 1024)
 * Options we do not set can simply be defined. lwip/port_checks.h then
 * refuses values lwip-tap cannot run with. */
#ifdef LWIP_TAP_OPTS_FILE
#include LWIP_TAP_OPTS_FILE
#endif

#endif /* LWIP_TAP_LWIPOPTS_H */
