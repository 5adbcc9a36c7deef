//! SIGINT/SIGTERM/SIGHUP (stop) and SIGUSR1 (print statistics).
//!
//! The signals stay blocked except inside `ppoll`, which unblocks them
//! atomically while it waits, so a signal can never slip in between checking
//! the flags and going to sleep.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Error;

static STOP: AtomicBool = AtomicBool::new(false);
static STATS: AtomicBool = AtomicBool::new(false);

const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(signal: libc::c_int) {
    if signal == libc::SIGUSR1 {
        STATS.store(true, Ordering::SeqCst);
    } else {
        STOP.store(true, Ordering::SeqCst);
    }
}

/// The installed handlers and the mask to wait with.
pub struct Signals {
    wait_mask: libc::sigset_t,
}

impl Signals {
    pub fn install() -> Result<Signals, Error> {
        let fail = |what: &str| Error::io(format!("cannot {what}"), io::Error::last_os_error());
        // SAFETY: sigset_t is plain data; every libc call's result is checked.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in STOP_SIGNALS.iter().chain([libc::SIGUSR1].iter()) {
                libc::sigaddset(&mut set, *signal);
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(*signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(fail("install a signal handler"));
                }
            }
            let mut wait_mask: libc::sigset_t = std::mem::zeroed();
            if libc::sigprocmask(libc::SIG_BLOCK, &set, &mut wait_mask) != 0 {
                return Err(fail("block signals"));
            }
            for signal in STOP_SIGNALS.iter().chain([libc::SIGUSR1].iter()) {
                libc::sigdelset(&mut wait_mask, *signal);
            }
            Ok(Signals { wait_mask })
        }
    }

    /// Whether a stop signal has arrived.
    pub fn stop_requested(&self) -> bool {
        STOP.load(Ordering::SeqCst)
    }

    /// Whether SIGUSR1 arrived since the last call.
    pub fn take_stats_request(&self) -> bool {
        STATS.swap(false, Ordering::SeqCst)
    }
}

/// Waits until a descriptor in `fds` is ready or `timeout` passes (`None`:
/// no limit), with `signals`' handlers let in while it waits (`None`: the
/// signal mask stays as it is). Returns how many descriptors are ready;
/// a signal ends the wait with `Interrupted`.
pub(crate) fn wait(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    signals: Option<&Signals>,
) -> io::Result<usize> {
    let timeout = timeout.map(|w| libc::timespec {
        tv_sec: w.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(w.subsec_nanos() as i32),
    });
    let timeout_ptr = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    let mask_ptr = signals.map_or(std::ptr::null(), |s| &s.wait_mask as *const _);
    // SAFETY: `fds` is a valid array of pollfds; timeout and mask are valid
    // or null.
    let ready = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout_ptr,
            mask_ptr,
        )
    };
    if ready < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ready as usize)
}

/// Makes this thread's timed waits end within a microsecond of when they
/// were asked to (Linux lets a normal thread's wait run 50 µs late, to batch
/// wakeups): the loop wakes just before a frame it expects (see the stack's
/// `Rhythm`), and 50 µs late would be after it. Best effort: without it the
/// loop only wakes later.
pub(crate) fn fine_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a value and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        log::debug!("timer slack stays: {}", io::Error::last_os_error());
    }
}
