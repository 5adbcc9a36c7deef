/* An options variant for lwip-drill's comparisons (--compare
 * lwip,lwip:tests/drill_opts/no_ooseq.h): lwIP drops segments that arrive
 * out of order instead of queueing them, and so cannot send SACK blocks
 * (lwIP refuses LWIP_TCP_SACK_OUT without TCP_QUEUE_OOSEQ). */
#undef TCP_QUEUE_OOSEQ
#define TCP_QUEUE_OOSEQ 0
#undef LWIP_TCP_SACK_OUT
#define LWIP_TCP_SACK_OUT 0
