//! The operating-system services lwIP's port asks for, implemented in Rust
//! and called from C: the clock (`sys_now`), random numbers, diagnostics
//! (whole lines from lwip/shim.c) and failed assertions.

use std::ffi::{c_char, c_int, CStr};

use crate::sys;

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

/// Milliseconds from a monotonic clock, wrapping, as lwIP's timers expect.
#[no_mangle]
pub extern "C" fn sys_now() -> u32 {
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

/// LWIP_RAND(): 32 bits from the kernel's random source.
#[no_mangle]
pub extern "C" fn lwip_tap_rand() -> u32 {
    let mut value = 0u32;
    loop {
        // SAFETY: writes at most 4 bytes into `value`.
        let n = unsafe { libc::getrandom((&mut value as *mut u32).cast(), 4, 0) };
        if n == 4 {
            return value;
        }
        // Only EINTR is possible for a 4-byte request once the pool is ready.
    }
}

/// One whole line of lwIP diagnostic output (from lwip/shim.c).
///
/// # Safety
/// `line` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lwip_tap_log_line(line: *const c_char) {
    // SAFETY: the shim passes a NUL-terminated buffer.
    let line = unsafe { CStr::from_ptr(line) }.to_string_lossy();
    log::debug!(target: "lwip", "{}", line.trim_end());
}

/// LWIP_PLATFORM_ASSERT: say what failed and where, then abort.
///
/// # Safety
/// `msg` and `file` must be NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn lwip_tap_assert(
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
                "port::tests::failed_assertion_logs_and_aborts",
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
