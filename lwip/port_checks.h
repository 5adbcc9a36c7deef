/*
 * lwIP options lwip-tap cannot run with.
 *
 * build.rs preprocesses this (with the same flags as lwIP) before it
 * compiles anything, so a bad value in lwipopts.h or in the user's
 * LWIP_TAP_OPTS file is refused with one clear line instead of an obscure
 * compile, link or run-time failure. It comes after lwip/opt.h, so options
 * left unset are checked at lwIP's defaults.
 *
 * Every message starts with "lwip-tap-port: ": build.rs looks for that
 * marker and reports the text after it. Keep quotes out of the messages.
 */
#ifndef LWIP_TAP_PORT_CHECKS_H
#define LWIP_TAP_PORT_CHECKS_H

#include <stdint.h>

#include "lwip/opt.h"

/* ---- how lwIP is run ---- */
#if NO_SYS != 1
#error "lwip-tap-port: NO_SYS must be 1: lwip-tap runs lwIP without an OS layer, in one thread, through the raw API"
#endif
#if SYS_LIGHTWEIGHT_PROT
#error "lwip-tap-port: SYS_LIGHTWEIGHT_PROT must be 0: lwIP runs in one thread and the port has no sys_arch_protect()"
#endif
#if LWIP_SOCKET || LWIP_NETCONN
#error "lwip-tap-port: LWIP_SOCKET and LWIP_NETCONN must be 0: the sequential APIs need an OS layer with threads (NO_SYS 0)"
#endif
#if !LWIP_TIMERS || LWIP_TIMERS_CUSTOM
#error "lwip-tap-port: LWIP_TIMERS must be 1 and LWIP_TIMERS_CUSTOM 0: the main loop drives lwIP with sys_check_timeouts() and sleeps by lwIP's timer list (lwip/timeouts_glue.c)"
#endif

/* ---- protocols the Rust side and the built-in services use ---- */
#if !LWIP_IPV4 || !LWIP_IPV6
#error "lwip-tap-port: LWIP_IPV4 and LWIP_IPV6 must be 1: interfaces are set up with IPv4 addresses and IPv6 link-local addresses"
#endif
#if !LWIP_ARP || !LWIP_ETHERNET
#error "lwip-tap-port: LWIP_ARP and LWIP_ETHERNET must be 1: TAP devices carry Ethernet frames"
#endif
#if !LWIP_TCP || !LWIP_UDP
#error "lwip-tap-port: LWIP_TCP and LWIP_UDP must be 1: the echo, HTTP and iperf services use them"
#endif
#if !LWIP_CALLBACK_API
#error "lwip-tap-port: LWIP_CALLBACK_API must be 1: the services use the raw API with callbacks"
#endif
#if !TCP_LISTEN_BACKLOG
#error "lwip-tap-port: TCP_LISTEN_BACKLOG must be 1: the SYN flood guard in lwip/shim.c works on listen backlogs"
#endif
#if !LWIP_SUPPORT_CUSTOM_PBUF
#error "lwip-tap-port: LWIP_SUPPORT_CUSTOM_PBUF must be 1: frames longer than a pool pbuf are read into buffers the driver lends lwIP as custom pbufs"
#endif
#if !LWIP_DHCP
#error "lwip-tap-port: LWIP_DHCP must be 1: interfaces can take their address from DHCP (lwip/dhcp_glue.c)"
#endif
#if !IP_FORWARD
#error "lwip-tap-port: IP_FORWARD must be 1: with two or more interfaces lwip-tap is a router"
#endif

#if !LWIP_IPV6_FORWARD
#error "lwip-tap-port: LWIP_IPV6_FORWARD must be 1: with two or more interfaces lwip-tap routes IPv6 too"
#endif
#if !LWIP_RAW
#error "lwip-tap-port: LWIP_RAW must be 1: --ping sends and receives ICMP through a raw PCB"
#endif
#if !defined(LWIP_TAP_MAX_CLIENTS) || MEMP_NUM_RAW_PCB < LWIP_TAP_MAX_CLIENTS || \
    MEMP_NUM_SYS_TIMEOUT < LWIP_NUM_SYS_TIMEOUT_INTERNAL + LWIP_TAP_MAX_CLIENTS
#error "lwip-tap-port: MEMP_NUM_RAW_PCB must be at least LWIP_TAP_MAX_CLIENTS and MEMP_NUM_SYS_TIMEOUT at least LWIP_NUM_SYS_TIMEOUT_INTERNAL + LWIP_TAP_MAX_CLIENTS: each --ping has a raw PCB and each client an lwIP timer"
#endif
#if !LWIP_DNS
#error "lwip-tap-port: LWIP_DNS must be 1: --resolve and -i dns= use lwIP's DNS client (lwip/dns_glue.c)"
#endif
#if DNS_TABLE_SIZE < 2 * LWIP_TAP_MAX_CLIENTS
#error "lwip-tap-port: DNS_TABLE_SIZE must be at least 2 * LWIP_TAP_MAX_CLIENTS: each --resolve asks for A and AAAA at once"
#endif
#if !defined(SNTP_SET_SYSTEM_TIME_US) || !defined(SNTP_GET_SYSTEM_TIME) || SNTP_CHECK_RESPONSE < 2 || !SNTP_COMP_ROUNDTRIP
#error "lwip-tap-port: SNTP_SET_SYSTEM_TIME_US and SNTP_GET_SYSTEM_TIME must stay lwip-tap's (lwip/lwipopts.h), with SNTP_CHECK_RESPONSE 2 and SNTP_COMP_ROUNDTRIP 1: --sntp logs the offset lwIP's SNTP client computes"
#endif

/* ---- interfaces ---- */
#if !LWIP_NETIF_EXT_STATUS_CALLBACK
#error "lwip-tap-port: LWIP_NETIF_EXT_STATUS_CALLBACK must be 1: IPv6 address states (DAD, SLAAC) are logged through it (lwip/glue.c)"
#endif
#if LWIP_IPV6_NUM_ADDRESSES < 2
#error "lwip-tap-port: LWIP_IPV6_NUM_ADDRESSES must be at least 2: slot 0 holds the link-local address, static and SLAAC addresses need the others"
#endif
#if LWIP_SINGLE_NETIF
#error "lwip-tap-port: LWIP_SINGLE_NETIF must be 0: lwip-tap can run several interfaces"
#endif
#if !LWIP_CHECKSUM_CTRL_PER_NETIF
#error "lwip-tap-port: LWIP_CHECKSUM_CTRL_PER_NETIF must be 1: checksum checks are switched per frame for receive offload"
#endif
#if ETH_PAD_SIZE != 0
#error "lwip-tap-port: ETH_PAD_SIZE must be 0: the TAP driver reads frames straight into pbufs, with no padding in front"
#endif
#if PBUF_POOL_BUFSIZE < 1024
#error "lwip-tap-port: PBUF_POOL_BUFSIZE must be at least 1024: a 64 KiB offload frame must fit the 64 pool pbufs the TAP driver reads into"
#endif
#if LWIP_IPV6 && LWIP_IPV6_REASS && !IPV6_FRAG_COPYHEADER && UINTPTR_MAX > 0xffffffffUL
#error "lwip-tap-port: IPV6_FRAG_COPYHEADER must be 1 with IPv6 reassembly on a 64-bit target: the pointers lwIP keeps in the fragment header do not fit"
#endif

/* ---- statistics: --stats and SIGUSR1 show them (lwip/glue.c) ---- */
#if !LWIP_STATS || !MEM_STATS || !MEMP_STATS
#error "lwip-tap-port: LWIP_STATS, MEM_STATS and MEMP_STATS must be 1: --stats shows the heap and every pool"
#endif
/* Per-protocol counters: they only exist while their protocol is built in. */
#if !ETHARP_STATS || !IP_STATS || !UDP_STATS || !TCP_STATS || !IP6_STATS || !ICMP6_STATS || \
    !ND6_STATS || (LWIP_ICMP && !ICMP_STATS) || ((IP_REASSEMBLY || IP_FRAG) && !IPFRAG_STATS)
#error "lwip-tap-port: the protocol counters (ETHARP_STATS, IP_STATS, IPFRAG_STATS, ICMP_STATS, UDP_STATS, TCP_STATS, IP6_STATS, ICMP6_STATS, ND6_STATS) must be 1: --stats shows them"
#endif

/* ---- SNMP agent (--snmp; lwip/snmp_glue.c) ---- */
#if !LWIP_SNMP || !SNMP_USE_RAW || SNMP_USE_NETCONN || !SNMP_LWIP_MIB2 || LWIP_SNMP_V3
#error "lwip-tap-port: --snmp needs LWIP_SNMP 1 over the raw API (SNMP_USE_RAW 1, SNMP_USE_NETCONN 0) with SNMP_LWIP_MIB2 1 and LWIP_SNMP_V3 0"
#endif
#if !MIB2_STATS
#error "lwip-tap-port: MIB2_STATS must be 1: the SNMP agent's counters, which --stats shows as MIB2"
#endif
#if SNMP_MAX_COMMUNITY_STR_LEN < 32
#error "lwip-tap-port: SNMP_MAX_COMMUNITY_STR_LEN must be at least 32: --snmp takes communities that long, and the write community is 32 random hex digits"
#endif

#endif /* LWIP_TAP_PORT_CHECKS_H */
