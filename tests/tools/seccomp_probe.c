/* Preloaded into lwip-tap by tests/privileges.rs (LD_PRELOAD), never part of
 * lwip-tap itself: on SIGUSR2 the running process makes a system call the
 * seccomp filter forbids (PROBE=open: open a file), or its next clock read
 * fails so that Rust's Instant::now panics (PROBE=panic). With
 * PROBE=noseccomp, seccomp(2) fails with EINVAL, as on a kernel without
 * seccomp filtering. Each time the test sees what lwip-tap then does. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t clock_broken;
static int panic_probe;
static int no_seccomp;

static void say(const char *text) { (void)!write(2, text, strlen(text)); }

static void on_usr2(int sig) {
    (void)sig;
    if (panic_probe) {
        clock_broken = 1;
        return;
    }
    int fd = open("/etc/passwd", O_RDONLY);
    say(fd >= 0 ? "probe: open succeeded\n" : "probe: open failed\n");
    if (fd >= 0)
        close(fd);
}

__attribute__((constructor)) static void install(void) {
    const char *probe = getenv("PROBE");
    panic_probe = probe && strcmp(probe, "panic") == 0;
    no_seccomp = probe && strcmp(probe, "noseccomp") == 0;
    signal(SIGUSR2, on_usr2);
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (clock_broken && clock == CLOCK_MONOTONIC) {
        errno = EINVAL;
        return -1;
    }
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return real(clock, ts);
}

long syscall(long number, ...) {
    static long (*real)(long, ...);
    long a[6];
    va_list ap;
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (no_seccomp && number == SYS_seccomp) {
        errno = EINVAL;
        return -1;
    }
    if (!real)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
