/*
 * lwIP's MQTT client (src/apps/mqtt/mqtt.c), compiled from the unmodified
 * upstream file (build.rs lists it when the tree has it: LWIP_TAP_MQTT). Its
 * TCP goes through altcp, which with LWIP_ALTCP 0 is lwIP's plain TCP API
 * (lwip/altcp.h maps every altcp_ call to its tcp_ one), so neither altcp.c
 * nor altcp_tcp.c is compiled.
 *
 * These functions give Rust the client without its structs: mqtt_client_t
 * stays opaque, and struct mqtt_connect_client_info_t (whose members differ
 * between lwIP 2.1 and 2.2) is filled in here. lwIP's callbacks go to the
 * Rust functions lwip_tap.h declares (src/lwip/mqtt.rs), with the caller's
 * `arg`.
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip_tap.h"

#if LWIP_TAP_MQTT
#include "lwip/altcp.h"

#ifndef LWIP_TAP_STOCK_LWIP
/*
 * A fix (left out with the cargo feature `stock_lwip`): mqtt_parse_incoming()
 * limits a copy of a message longer than MQTT_VAR_HEADER_BUFFER_LEN to
 * `p->len - in_offset`, the first buffer of the chain, while in_offset counts
 * over the whole chain. Once in_offset reaches p->len the copy is 0 bytes
 * and the loop never ends: a broker passing on a long message (over 1 KiB
 * here, whose segment lwIP received in a pbuf chain) froze lwip-tap at 100 %
 * CPU. Here each chain is handed over as one contiguous buffer, in which
 * in_offset cannot pass p->len without ending the loop.
 */
static tcp_recv_fn mqtt_upstream_recv;

static err_t
lwip_tap_mqtt_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
  if (p != NULL && p->next != NULL) {
    struct pbuf *flat = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
    if (flat == NULL) {
      return ERR_MEM; /* lwIP keeps p and offers it again later */
    }
    pbuf_free(p);
    p = flat;
  }
  return mqtt_upstream_recv(arg, pcb, p, err);
}

static void
lwip_tap_mqtt_set_recv(struct tcp_pcb *pcb, tcp_recv_fn recv)
{
  if (recv != NULL) {
    mqtt_upstream_recv = recv;
    recv = lwip_tap_mqtt_recv;
  }
  tcp_recv(pcb, recv);
}
#undef altcp_recv
#define altcp_recv lwip_tap_mqtt_set_recv
#endif /* LWIP_TAP_STOCK_LWIP */

#include "apps/mqtt/mqtt.c"

int
lwip_tap_mqtt_available(void)
{
  return 1;
}

void *
lwip_tap_mqtt_new(void)
{
  return mqtt_client_new();
}

void
lwip_tap_mqtt_free(void *client)
{
  /* No callback from here on: mqtt_disconnect() marks the client
   * disconnected before it closes, and drops pending requests silently. */
  mqtt_disconnect((mqtt_client_t *)client);
  mqtt_client_free((mqtt_client_t *)client);
}

static void
glue_connection_cb(mqtt_client_t *client, void *arg, mqtt_connection_status_t status)
{
  LWIP_UNUSED_ARG(client);
  lwip_tap_mqtt_connection(arg, (int)status);
}

static void
glue_request_cb(void *arg, err_t result)
{
  lwip_tap_mqtt_request_done(arg, result);
}

static void
glue_publish_cb(void *arg, const char *topic, u32_t tot_len)
{
  lwip_tap_mqtt_incoming_publish(arg, topic, tot_len);
}

static void
glue_data_cb(void *arg, const u8_t *data, u16_t len, u8_t flags)
{
  lwip_tap_mqtt_incoming_data(arg, data, len, flags);
}

err_t
lwip_tap_mqtt_connect(void *client, const ip_addr_t *addr, u16_t port, const char *client_id,
                      const char *user, const char *pass, u16_t keep_alive, void *arg)
{
  struct mqtt_connect_client_info_t info;
  memset(&info, 0, sizeof(info));
  info.client_id = client_id;
  info.client_user = user;
  info.client_pass = pass;
  info.keep_alive = keep_alive;
  mqtt_set_inpub_callback((mqtt_client_t *)client, glue_publish_cb, glue_data_cb, arg);
  return mqtt_client_connect((mqtt_client_t *)client, addr, port, glue_connection_cb, arg, &info);
}

err_t
lwip_tap_mqtt_publish(void *client, const char *topic, const void *payload, u16_t len, u8_t qos,
                      u8_t retain, void *arg)
{
  return mqtt_publish((mqtt_client_t *)client, topic, payload, len, qos, retain, glue_request_cb, arg);
}

err_t
lwip_tap_mqtt_subscribe(void *client, const char *topic, u8_t qos, void *arg)
{
  return mqtt_subscribe((mqtt_client_t *)client, topic, qos, glue_request_cb, arg);
}

#else /* LWIP_TAP_MQTT */

int
lwip_tap_mqtt_available(void)
{
  return 0;
}

void *
lwip_tap_mqtt_new(void)
{
  return NULL;
}

void
lwip_tap_mqtt_free(void *client)
{
  LWIP_UNUSED_ARG(client);
}

err_t
lwip_tap_mqtt_connect(void *client, const ip_addr_t *addr, u16_t port, const char *client_id,
                      const char *user, const char *pass, u16_t keep_alive, void *arg)
{
  return ERR_VAL;
}

err_t
lwip_tap_mqtt_publish(void *client, const char *topic, const void *payload, u16_t len, u8_t qos,
                      u8_t retain, void *arg)
{
  return ERR_VAL;
}

err_t
lwip_tap_mqtt_subscribe(void *client, const char *topic, u8_t qos, void *arg)
{
  return ERR_VAL;
}

#endif /* LWIP_TAP_MQTT */
