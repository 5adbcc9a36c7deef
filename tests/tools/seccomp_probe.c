/* Preloaded into lwip-tap by tests/privileges.rs (LD_PRELOAD), never part of
 * lwip-tap itself: on SIGUSR2 the running process makes a system call the
 * seccomp filter forbids (PROBE=open: open a file), or its next clock read
 * fails so that Rust's Instant::now panics (PROBE=panic). Either way the
 * test sees what lwip-tap then does. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t clock_broken;
static int panic_probe;

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
