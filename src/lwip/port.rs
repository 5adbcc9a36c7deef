//! What lwIP's port asks of the operating system, implemented in Rust and
//! called from C: the clock (`sys_now`), random numbers, diagnostics (whole
//! lines from lwip/shim.c) and failed assertions.
//!
//! The clock is [`crate::clock`]'s. With the virtual clock, lwIP's random
//! numbers come from a fixed-seed generator too, so its port numbers and
//! other random choices repeat from run to run.

use std::ffi::{c_char, c_int, CStr};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock;
use crate::sys;

/// The state of the virtual clock's random generator.
static VIRTUAL_RANDOM: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// Turns on lwIP's LWIP_DEBUGF output (in a `debug` build; a no-op otherwise,
/// since the normal build compiles the debug statements out). Called by
/// `Stack::new` before lwIP starts, on the thread lwIP will run on.
pub(crate) fn enable_lwip_debug() {
    // SAFETY: a plain byte lwIP reads on this same thread; no lwIP runs yet.
    unsafe { sys::lwip_tap_debug_types = LWIP_DBG_ON };
}

/// LWIP_IPV6_NUM_ADDRESSES of the lwIP build: IPv6 address slots per
/// interface, the first the link-local address.
pub(crate) fn ipv6_address_slots() -> usize {
    // SAFETY: returns a compile-time constant; touches no lwIP state.
    unsafe { sys::lwip_tap_ip6_slots() as usize }
}

/// MEMP_NUM_MLD6_GROUP of the lwIP build: the multicast groups all
/// interfaces can join together.
pub(crate) fn mld6_groups() -> usize {
    // SAFETY: returns a compile-time constant; touches no lwIP state.
    unsafe { sys::lwip_tap_mld6_groups() as usize }
}

/// lwIP's LWIP_DBG_ON: with it in LWIP_DBG_TYPES_ON every enabled module prints.
const LWIP_DBG_ON: u8 = 0x80;

/// Milliseconds of the clock lwIP reads, wrapping, as lwIP's timers expect.
/// It must not panic (lwIP's C calls it), so the monotonic clock is read
/// with clock_gettime directly, not through `Instant`.
#[no_mangle]
pub extern "C" fn sys_now() -> u32 {
    if clock::is_virtual() {
        return clock::now().as_millis() as u64 as u32;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000) as u32
}

/// 64 bits from the kernel's random source.
pub(crate) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: writes at most the rest of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        } else if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
        {
            // No entropy source: the clock will do.
            return std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        }
    }
    u64::from_ne_bytes(bytes)
}

/// LWIP_RAND(): 32 random bits; from a fixed-seed generator (xorshift64*)
/// with the virtual clock, so runs repeat.
#[no_mangle]
pub extern "C" fn lwip_tap_rand() -> u32 {
    if clock::is_virtual() {
        let mut x = VIRTUAL_RANDOM.load(Ordering::SeqCst);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        VIRTUAL_RANDOM.store(x, Ordering::SeqCst);
        return (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32;
    }
    random_u64() as u32
}

/// One whole line of lwIP diagnostic output (from lwip/shim.c).
///
/// # Safety
/// `line` must be a NUL-terminated string.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_log_line(line: *const c_char) {
    // SAFETY: the shim passes a NUL-terminated buffer.
    let line = unsafe { CStr::from_ptr(line) }.to_string_lossy();
    log::debug!(target: "lwip", "{}", line.trim_end());
}

/// LWIP_PLATFORM_ASSERT: say what failed and where, then abort.
///
/// # Safety
/// `msg` and `file` must be NUL-terminated strings.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_assert(
    msg: *const c_char,
    file: *const c_char,
    line: c_int,
) -> ! {
    // SAFETY: lwIP passes string literals.
    let (msg, file) = unsafe {
        (
            CStr::from_ptr(msg).to_string_lossy(),
            CStr::from_ptr(file).to_string_lossy(),
        )
    };
    log::error!(target: "lwip", "lwIP assertion failed: {msg} at {file}:{line}");
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_moves_forward() {
        let a = sys_now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = sys_now();
        let elapsed = b.wrapping_sub(a);
        assert!((15..1000).contains(&elapsed), "{elapsed} ms");
    }

    /// A failed lwIP assertion logs message, file and line, then aborts. Runs
    /// itself in a child process, which is the one that aborts.
    #[test]
    fn failed_assertion_logs_and_aborts() {
        use std::os::unix::process::ExitStatusExt;
        if std::env::var_os("LWIP_TAP_TRIGGER_ASSERT").is_some() {
            env_logger::init();
            // SAFETY: string literals.
            unsafe {
                lwip_tap_assert(c"pcb->state == LISTEN".as_ptr(), c"core/tcp.c".as_ptr(), 42)
            };
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "lwip::port::tests::failed_assertion_logs_and_aborts",
                "--nocapture",
            ])
            .env("LWIP_TAP_TRIGGER_ASSERT", "1")
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("lwIP assertion failed: pcb->state == LISTEN at core/tcp.c:42"),
            "{stderr}"
        );
    }

    #[test]
    fn random_values_differ() {
        let values: std::collections::HashSet<u32> = (0..16).map(|_| lwip_tap_rand()).collect();
        assert!(values.len() > 1);
    }
}
