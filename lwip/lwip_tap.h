/*
 * lwip-tap's own C API: the small accessors and glue through which the Rust
 * side reaches lwIP, so that Rust reads as little of lwIP's private layout as
 * possible (struct netif, struct tcp_pcb, struct dhcp and struct stats_ stay
 * in C and may change with the lwIP tree and its options). bindgen reads this
 * header (through bindings.h) like lwIP's own, and the build checks the
 * committed bindings against it.
 */
#ifndef LWIP_TAP_H
#define LWIP_TAP_H

#include "lwip/opt.h"
#include "lwip/err.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/apps/lwiperf.h"

/* ---- netifs (lwip/glue.c) ---- */

/* What an interface is given when it is added. */
struct lwip_tap_netif_config {
  u8_t mac[6];
  u16_t mtu;
  ip4_addr_t addr;
  ip4_addr_t netmask;
  ip4_addr_t gw;
  /* Called by lwIP for every frame it sends on this interface. */
  netif_linkoutput_fn linkoutput;
};

/* Allocates a netif, adds it to lwIP with `state` as its state pointer, sets
 * it up (link up, hostname, IPv6 link-local address). NULL on failure. */
struct netif *lwip_tap_netif_add(const struct lwip_tap_netif_config *config, void *state);
/* Removes the netif from lwIP (stopping its DHCP client) and frees it. */
void lwip_tap_netif_remove(struct netif *netif);
/* The state pointer given to lwip_tap_netif_add. */
void *lwip_tap_netif_state(const struct netif *netif);
/* Hands a received frame to the netif's input function; lwIP takes `p` on
 * ERR_OK. */
err_t lwip_tap_netif_input(struct netif *netif, struct pbuf *p);
/* Switches lwIP's checksum verification of incoming frames on or off. */
void lwip_tap_netif_check_checksums(struct netif *netif, int on);
/* The IPv4 address, netmask and gateway the netif has now. */
void lwip_tap_netif_ipv4(const struct netif *netif, ip4_addr_t *addr, ip4_addr_t *netmask,
                         ip4_addr_t *gw);

/* ---- IPv6 addresses and routing ---- */

/* Adds a static IPv6 address (16 bytes, network order) in a free slot; it
 * starts tentative (duplicate address detection). Returns the slot, -1 when
 * every slot is taken, -2 on another error. */
int lwip_tap_netif_add_ip6(struct netif *netif, const u8_t *addr);
/* Slot `index` of the netif: its address (16 bytes), state (IP6_ADDR_*) and
 * whether it was set statically (1) or by SLAAC (0; slot 0, the link-local
 * address, reports 0). Returns 0 past the last slot. */
int lwip_tap_netif_ip6(const struct netif *netif, unsigned index, u8_t *addr, u8_t *state,
                       u8_t *is_static);
/* Sets (addr: 16 bytes) or clears (NULL) the netif's static default router,
 * the next hop for off-link destinations ahead of advertised routers. */
void lwip_tap_netif_set_ip6_gateway(struct netif *netif, const u8_t *addr);
/* Switches stateless address autoconfiguration from router advertisements
 * on or off (on when the netif is added). */
void lwip_tap_netif_set_slaac(struct netif *netif, int on);
/* LWIP_IPV6_NUM_ADDRESSES: address slots per netif, slot 0 the link-local. */
unsigned lwip_tap_ip6_slots(void);
/* MEMP_NUM_MLD6_GROUP: multicast groups for all netifs together; each IPv6
 * address needs its solicited-node group to be reachable. */
unsigned lwip_tap_mld6_groups(void);
/* Implemented in Rust (src/netif.rs): the state of address slot `index`
 * changed from old_state to new_state (IP6_ADDR_* values); addr is its
 * address (16 bytes). */
void lwip_tap_ip6_state_event(struct netif *netif, u8_t index, u8_t old_state, u8_t new_state,
                              const u8_t *addr, u8_t is_static);

/* ---- TCP ---- */

/* tcp_sndbuf(): bytes the send buffer has room for. */
u32_t lwip_tap_tcp_sndbuf(const struct tcp_pcb *pcb);
/* How many TCP connections lwIP has that are neither listening nor in
 * TIME-WAIT (connecting, open or closing). */
u32_t lwip_tap_tcp_open_connections(void);
/* tcp_sndqueuelen(): segments queued for sending. */
u32_t lwip_tap_tcp_sndqueuelen(const struct tcp_pcb *pcb);
/* The PCB's state (enum tcp_state: CLOSED 0 ... TIME_WAIT 10). */
int lwip_tap_tcp_state(const struct tcp_pcb *pcb);
/* Whether `pcb` is a connection lwIP still has (active or TIME-WAIT) with
 * `arg` as its callback argument. Only compares pointers: `pcb` may have
 * been freed (lwIP frees a TIME-WAIT PCB without calling back). */
int lwip_tap_tcp_pcb_held(const struct tcp_pcb *pcb, const void *arg);
/* The PCB's local and remote address and port. */
void lwip_tap_tcp_endpoints(const struct tcp_pcb *pcb, ip_addr_t *local, u16_t *local_port,
                            ip_addr_t *remote, u16_t *remote_port);
/* tcp_nagle_disable() (on) or tcp_nagle_enable() (off), and whether it is
 * disabled. */
void lwip_tap_tcp_set_nodelay(struct tcp_pcb *pcb, int on);
int lwip_tap_tcp_nodelay(const struct tcp_pcb *pcb);
/* A PCB's socket option flags (ip_set_option / ip_get_option). */
#define LWIP_TAP_OPT_KEEPALIVE 1
#define LWIP_TAP_OPT_REUSEADDR 2
void lwip_tap_pcb_set_option(struct tcp_pcb *pcb, int option, int on);
int lwip_tap_pcb_option(const struct tcp_pcb *pcb, int option);
/* Keepalive timing: idle time and probe interval in milliseconds, probe
 * count (the interval and count only with LWIP_TCP_KEEPALIVE). */
void lwip_tap_tcp_set_keepalive_times(struct tcp_pcb *pcb, u32_t idle_ms, u32_t interval_ms,
                                      u32_t count);
void lwip_tap_tcp_keepalive_times(const struct tcp_pcb *pcb, u32_t *idle_ms, u32_t *interval_ms,
                                  u32_t *count);
/* tcp_mss(): the sending MSS the PCB uses. */
u16_t lwip_tap_tcp_mss(const struct tcp_pcb *pcb);

/* ---- the clients (--ping, --iperf-client) ---- */

/* Whether lwIP can send to `dest` now: a route exists and the interface it
 * leaves by has an address (a DHCP lease, say). */
int lwip_tap_ip4_route_ready(const ip4_addr_t *dest);
/* sys_timeout() and sys_untimeout(), as functions whatever
 * LWIP_DEBUG_TIMERNAMES makes of them. */
void lwip_tap_timeout(u32_t msecs, sys_timeout_handler handler, void *arg);
void lwip_tap_untimeout(sys_timeout_handler handler, void *arg);

/* ---- the main loop's sleep (lwip/timeouts_glue.c) ---- */

/* sys_timeouts_sleeptime(), passing over mld6_tmr and dhcp_fine_tmr while
 * running them would change nothing (no MLD report pending, no DHCP request
 * waiting): milliseconds until the first timer with work falls due (0 if
 * overdue), SYS_TIMEOUTS_SLEEPTIME_INFINITE if none. Timers passed over
 * stay due; sys_check_timeouts() runs them at the next wakeup. */
u32_t lwip_tap_timeouts_sleeptime(void);

/* ---- lwiperf's client (lwip/lwiperf_glue.c) ---- */

/* lwiperf_start_tcp_client() sending for `centiseconds` (upstream always
 * asks for 10 s). NULL if it could not start; its report may then already
 * have been made. */
void *lwip_tap_lwiperf_start_client(const ip_addr_t *remote_addr, u16_t remote_port,
                                    u32_t centiseconds, lwiperf_report_fn report_fn,
                                    void *report_arg);
/* Ends a client session that is still running, without a report (its TCP
 * connection is closed); does nothing if it has ended already. */
void lwip_tap_lwiperf_stop_client(void *session);

/* ---- lwIP's TFTP server (lwip/tftp_glue.c) ---- */

/* lwIP's struct tftp_context, less its tree-dependent layout, plus one
 * report: `sent_error` is told of every ERROR packet the server sends
 * (its code and NUL-terminated message). `error` is only called by lwIP 2.2
 * (the client's ERROR packet; `msg` has `size` bytes, not NUL-terminated). */
struct lwip_tap_tftp_callbacks {
  void *(*open)(const char *fname, const char *mode, u8_t write);
  void (*close)(void *handle);
  int (*read)(void *handle, void *buf, int bytes);
  int (*write)(void *handle, struct pbuf *p);
  void (*error)(void *handle, int err, const char *msg, int size);
  void (*sent_error)(const ip_addr_t *addr, u16_t port, u16_t code, const char *msg);
};
/* Whether the tree built has a TFTP server (build.rs: LWIP_TAP_TFTP). */
int lwip_tap_tftp_available(void);
/* Starts the server on UDP port 69 (once per process); `callbacks` must
 * stay valid for good. ERR_VAL without a TFTP server. */
err_t lwip_tap_tftp_start(const struct lwip_tap_tftp_callbacks *callbacks);
/* The peer of the packet the server is handling: 1 inside its callbacks
 * (addr and port set), 0 outside. */
int lwip_tap_tftp_peer(ip_addr_t *addr, u16_t *port);

/* ---- lwIP's SNMP agent (lwip/snmp_glue.c) ---- */

/* What became of one request on UDP port 161 (lwip_tap_snmp_event). */
#define LWIP_TAP_SNMP_ANSWERED 0
#define LWIP_TAP_SNMP_BAD_COMMUNITY 1
#define LWIP_TAP_SNMP_MALFORMED 2
#define LWIP_TAP_SNMP_BAD_VERSION 3
#define LWIP_TAP_SNMP_DROPPED 4
/* Starts the agent on UDP port 161 (once per process): MIB-2, `community`
 * for reads, `write` for SETs (1 to 32 bytes; "" makes every object
 * read-only), sysDescr `descr`. The strings are copied. ERR_ARG for a
 * community too long or empty, ERR_USE when it runs already, ERR_MEM
 * without a UDP PCB. */
err_t lwip_tap_snmp_start(const char *community, const char *write, const char *descr);
/* Implemented in Rust: lwIP's agent has handled a request of `len` bytes
 * from addr:port, with `outcome` (LWIP_TAP_SNMP_*). */
void lwip_tap_snmp_event(int outcome, const ip_addr_t *addr, u16_t port, u16_t len);
/* lwIP's MIB-2 counters (lwip_stats.mib2), one per index: name and value;
 * 0 past the last. */
int lwip_tap_stats_mib2(unsigned index, const char **name, u32_t *value);

/* ---- lwIP's MQTT client (lwip/mqtt_glue.c) ---- */

/* Whether the tree built has the MQTT client (build.rs: LWIP_TAP_MQTT). */
int lwip_tap_mqtt_available(void);
/* mqtt_client_new(): NULL without memory (or without the client). */
void *lwip_tap_mqtt_new(void);
/* Disconnects (with no callback) and frees the client. */
void lwip_tap_mqtt_free(void *client);
/* mqtt_client_connect() with these details (user and pass may be NULL);
 * the client's events go to the lwip_tap_mqtt_* functions below with `arg`. */
err_t lwip_tap_mqtt_connect(void *client, const ip_addr_t *addr, u16_t port,
                            const char *client_id, const char *user, const char *pass,
                            u16_t keep_alive, void *arg);
/* mqtt_publish() and mqtt_subscribe(); the outcome goes to
 * lwip_tap_mqtt_request_done() with `arg`. */
err_t lwip_tap_mqtt_publish(void *client, const char *topic, const void *payload, u16_t len,
                            u8_t qos, u8_t retain, void *arg);
err_t lwip_tap_mqtt_subscribe(void *client, const char *topic, u8_t qos, void *arg);
/* Implemented in Rust (src/lwip/mqtt.rs): the connection's state changed
 * (mqtt_connection_status_t: 0 accepted, 1-5 refused by the broker, 256
 * disconnected, 257 timeout); a publish or subscribe was acknowledged
 * (ERR_OK) or not; a message arrived on `topic` (tot_len bytes), then its
 * data in pieces (flags bit 0 on the last). */
void lwip_tap_mqtt_connection(void *arg, int status);
void lwip_tap_mqtt_request_done(void *arg, err_t result);
void lwip_tap_mqtt_incoming_publish(void *arg, const char *topic, u32_t tot_len);
void lwip_tap_mqtt_incoming_data(void *arg, const u8_t *data, u16_t len, u8_t flags);

/* ---- statistics ---- */

struct lwip_tap_pool_use {
  const char *name;
  u32_t used;
  u32_t max;
  u32_t avail;
  u32_t err;
};

struct lwip_tap_proto_counts {
  const char *name;
  u32_t xmit, recv, fw, drop, chkerr, lenerr, memerr, rterr, proterr, opterr, err;
};

/* The heap (index 0), then every memp pool; 0 past the last one. */
int lwip_tap_stats_pool(unsigned index, struct lwip_tap_pool_use *out);
/* ETHARP, IP, IP_FRAG, ICMP, UDP, TCP, IP6, ICMP6, ND6; 0 past the last. */
int lwip_tap_stats_proto(unsigned index, struct lwip_tap_proto_counts *out);

/* ---- DHCP (lwip/dhcp_glue.c) ---- */

/* Implemented in Rust: lwIP's DHCP client has just given the netif an
 * address (a bind or a renewal: state is BOUND) or taken it away (a NAK, an
 * expired lease, a release: addr is 0). server and lease_seconds come from
 * the client's current lease. */
void lwip_tap_dhcp_event(struct netif *netif, u8_t state, u32_t addr, u32_t netmask, u32_t gw,
                         u32_t server, u32_t lease_seconds);

/* ---- DNS (lwip/dns_glue.c) ---- */

/* While lwIP processes a DNS answer (and so inside a found callback it
 * makes because of it): the answer's response code (0 no error, 3 NXDOMAIN,
 * ...). -1 otherwise: a found callback without an address is then a
 * timeout. */
int lwip_tap_dns_answer_rcode(void);
/* Forgets every cached answer (pending queries stay): the next query for a
 * name goes to the server. The DNS fuzz target needs a query pending for
 * each input. */
void lwip_tap_dns_forget_answers(void);

/* ---- AutoIP with ACD (lwip/autoip_glue.c; stubs where the tree lacks them) ---- */

/* Whether the netif falls back on AutoIP when DHCP gets no answer. */
void lwip_tap_autoip_enable(struct netif *netif, int on);
int lwip_tap_autoip_wanted(struct netif *netif);
/* Stops AutoIP on the netif (a DHCP lease has come). */
void lwip_tap_autoip_yield(struct netif *netif);
/* Stops AutoIP and frees its state (before the netif is removed). */
void lwip_tap_autoip_cleanup(struct netif *netif);
/* The events of lwip_tap_autoip_event. */
#define LWIP_TAP_AUTOIP_BOUND    1 /* addr probed and announced: the netif has it now */
#define LWIP_TAP_AUTOIP_CONFLICT 2 /* another host has addr: given up */
#define LWIP_TAP_AUTOIP_RESTART  3 /* a new address is picked and probed */
#define LWIP_TAP_AUTOIP_DEFENDED 4 /* a conflict on addr answered with an announcement */
/* Implemented in Rust (src/lwip/netif.rs). */
void lwip_tap_autoip_event(struct netif *netif, u8_t event, u32_t addr);

/* ---- the mDNS responder (lwip/mdns_glue.c; stubs where the tree lacks it) ---- */

/* Starts the responder on the netif (lwIP's responder itself on the first
 * call) with `hostname` (one label, at most 63 bytes: hostname.local). */
err_t lwip_tap_mdns_start(struct netif *netif, const char *hostname);
/* Announces instance `name` of `service` (like "_http") over TCP (tcp 1)
 * or UDP on `port`; returns its slot, or a negative err_t. */
s8_t lwip_tap_mdns_add_service(struct netif *netif, const char *name, const char *service,
                               int tcp, u16_t port);
/* Stops the responder on the netif, if it runs there. */
void lwip_tap_mdns_stop(struct netif *netif);
/* Implemented in Rust (src/lwip/netif.rs): probing ended. ok 1: the host
 * name and every service are ours (slot 0); ok 0: another host has the host
 * name (slot 0) or the name of service slot - 1, and the responder stops
 * answering for it. */
void lwip_tap_mdns_name_event(struct netif *netif, int ok, s8_t slot);
/* Implemented in Rust (src/lwip/netif.rs): the responder's UDP PCB received
 * `p` from addr:port on `netif`, before the responder reads it. */
void lwip_tap_mdns_received(struct netif *netif, const struct pbuf *p, const ip_addr_t *addr,
                            u16_t port);

/* ---- diagnostics (lwip/shim.c) and the port (src/port.rs) ---- */

/* Run-time switch for LWIP_DEBUGF output in a debug build (see lwipopts.h). */
extern unsigned char lwip_tap_debug_types;

/* ---- build information (lwip/build_info.c), for --version ---- */

/* LWIP_VERSION_STRING of the lwIP tree built, e.g. "2.2.1" ("2.2.1d" for a
 * development tree, "2.2.1rc1" for a release candidate). */
const char *lwip_tap_lwip_version(void);
/* LWIP_VERSION_RC: 0 a development tree, 255 a release, else rcN. */
u8_t lwip_tap_lwip_version_rc(void);
/* The resolved values of the options that size lwip-tap, e.g.
 * "TCP_MSS=1460 TCP_WND=262144 ... MEMP_NUM_TCP_PCB=128 ...". */
const char *lwip_tap_lwip_options(void);
/* The apps of lwIP that only some trees have, as built (LWIP_TAP_APP_*). */
#define LWIP_TAP_HAS_MDNS   1
#define LWIP_TAP_HAS_AUTOIP 2
unsigned lwip_tap_lwip_apps(void);

#endif /* LWIP_TAP_H */
