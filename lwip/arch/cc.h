/*
 * Compiler and platform glue for lwIP on Linux, used by lwip-tap.
 * Diagnostics, asserts and random numbers are routed into Rust (see
 * lwip/shim.c and src/port.rs).
 */
#ifndef LWIP_TAP_ARCH_CC_H
#define LWIP_TAP_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>

#define LWIP_TIMEVAL_PRIVATE 0

/* printf-like; accumulates text and hands whole lines to Rust's `log`. */
void lwip_tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Implemented in Rust: logs the failed assertion and aborts. */
void lwip_tap_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
/* Implemented in Rust: 32 random bits from the operating system. */
uint32_t lwip_tap_rand(void);

#define LWIP_PLATFORM_DIAG(x)      do { lwip_tap_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x)    lwip_tap_assert((x), __FILE__, __LINE__)
#define LWIP_RAND()                lwip_tap_rand()

#endif /* LWIP_TAP_ARCH_CC_H */
