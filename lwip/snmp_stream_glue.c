/*
 * lwIP's SNMP agent's pbuf streams (src/apps/snmp/snmp_pbuf_stream.c), from
 * the unmodified upstream file, which this file includes, with one fix from
 * outside (left out with the cargo feature `stock_lwip`):
 *
 * snmp_pbuf_stream_writeto() copies from a stream's pbuf at the offset
 * pbuf_skip() found, but takes up to the whole pbuf's length from there, not
 * what is left of it after the offset. An error response (or a SET's echo)
 * copies the request's varbind list back out that way, with the length the
 * request itself claims: a request claiming more than it carries made lwIP
 * read past the received frame and send what lay after it back to the
 * requester (AddressSanitizer: heap-buffer-overflow in pbuf_take_at(), found
 * by fuzz/run's snmp target; fuzz/regressions/snmp-varbind-overread). Still
 * so in upstream's master. Here each upstream call is given no more than the
 * current pbuf holds after the offset, so its own limit never bites.
 */
#include "lwip/opt.h"
#include "lwip_tap.h"

#if LWIP_SNMP && !LWIP_TAP_STOCK_LWIP

#define snmp_pbuf_stream_writeto lwip_tap_snmp_pbuf_stream_writeto_upstream
#include "apps/snmp/snmp_pbuf_stream.c"
#undef snmp_pbuf_stream_writeto

err_t snmp_pbuf_stream_writeto(struct snmp_pbuf_stream *pbuf_stream,
                               struct snmp_pbuf_stream *target_pbuf_stream, u16_t len);

err_t
snmp_pbuf_stream_writeto(struct snmp_pbuf_stream *pbuf_stream,
                         struct snmp_pbuf_stream *target_pbuf_stream, u16_t len)
{
  if ((pbuf_stream == NULL) || (target_pbuf_stream == NULL)) {
    return ERR_ARG;
  }
  if ((len > pbuf_stream->length) || (len > target_pbuf_stream->length)) {
    return ERR_ARG;
  }
  if (len == 0) {
    len = LWIP_MIN(pbuf_stream->length, target_pbuf_stream->length);
  }
  while (len > 0) {
    u16_t at;
    u16_t piece;
    err_t err;
    const struct pbuf *q = pbuf_skip(pbuf_stream->pbuf, pbuf_stream->offset, &at);
    if ((q == NULL) || (q->len <= at)) {
      return ERR_BUF;
    }
    piece = (u16_t)LWIP_MIN(len, q->len - at);
    err = lwip_tap_snmp_pbuf_stream_writeto_upstream(pbuf_stream, target_pbuf_stream, piece);
    if (err != ERR_OK) {
      return err;
    }
    len = (u16_t)(len - piece);
  }
  return ERR_OK;
}

#else /* as shipped */

#include "apps/snmp/snmp_pbuf_stream.c"

#endif
