//! lwIP's SNTP client (`apps/sntp`) asking one server, with the time it
//! computes handed to a closure instead of setting a clock.
//!
//! lwIP's SNTP client is one global state: one [`Sntp`] runs at a time.
//! lwIP reads the host's clock for the originate timestamp (which it checks
//! in the answer) and for the round-trip compensation, through
//! `SNTP_GET_SYSTEM_TIME` and `SNTP_SET_SYSTEM_TIME_US` (lwip/lwipopts.h),
//! implemented here.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::addr::ip_addr;
use crate::sys;

/// How long lwIP waits for an answer before it asks again (then twice as
/// long, and so on: SNTP_RECV_TIMEOUT and lwIP's backoff).
pub(crate) const RETRY: Duration = Duration::from_millis(sys::SNTP_RECV_TIMEOUT as u64);

type OnTime = Box<dyn FnMut(SystemTime)>;

thread_local! {
    static ON_TIME: RefCell<Option<OnTime>> = const { RefCell::new(None) };
    /// Whether lwIP's client runs (until a stop deferred out of its
    /// callback has run).
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
    /// Counts the clients stopped, so that a closure put aside while it
    /// runs is not put back for a client it stopped.
    static STOPS: Cell<u64> = const { Cell::new(0) };
}

/// lwIP's SNTP client polling one server; stopped when dropped.
pub(crate) struct Sntp {
    _private: (),
}

impl Sntp {
    /// Starts asking `server` now; every valid answer's time (the server's
    /// time now, by lwIP's round-trip compensation) goes to `on_time`.
    /// `None` if an `Sntp` runs already.
    pub(crate) fn start(
        server: Ipv4Addr,
        on_time: impl FnMut(SystemTime) + 'static,
    ) -> Option<Sntp> {
        if RUNNING.replace(true) {
            return None;
        }
        ON_TIME.set(Some(Box::new(on_time)));
        let addr = ip_addr(server.into());
        // SAFETY: lwIP runs on this thread and its SNTP client is stopped
        // (RUNNING); sntp_setserver copies the address.
        unsafe {
            sys::sntp_setoperatingmode(sys::SNTP_OPMODE_POLL as u8);
            sys::sntp_setserver(0, &addr);
            sys::sntp_init();
        }
        Some(Sntp { _private: () })
    }
}

impl Drop for Sntp {
    fn drop(&mut self) {
        // Dropped while the thread's locals are torn down (a stack kept in a
        // thread_local): lwIP's client can stay as it is.
        if ON_TIME.try_with(|on_time| on_time.replace(None)).is_err() {
            return;
        }
        let _ = STOPS.try_with(|stops| stops.set(stops.get() + 1));
        let stop = || {
            // SAFETY: lwIP runs on this thread and its client was started.
            unsafe { sys::sntp_stop() };
            let _ = RUNNING.try_with(|running| running.set(false));
        };
        if IN_CALLBACK.try_with(Cell::get).unwrap_or(false) {
            // lwIP's receive function still schedules the next request after
            // it hands over the time.
            super::defer(stop);
        } else {
            stop();
        }
    }
}

/// SNTP_GET_SYSTEM_TIME: the host's clock, in seconds and microseconds
/// since 1970.
///
/// # Safety
/// Both pointers must be valid to write.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_sntp_get_time(sec: *mut u32, us: *mut u32) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // SAFETY: as the caller guarantees (sntp.c passes its locals).
    unsafe {
        *sec = now.as_secs() as u32;
        *us = now.subsec_micros();
    }
}

/// SNTP_SET_SYSTEM_TIME_US: the time lwIP's client computed from a valid
/// answer, in seconds and microseconds since 1970.
#[no_mangle]
pub(crate) extern "C" fn lwip_tap_sntp_set_time(sec: u32, us: u32) {
    let time =
        UNIX_EPOCH + Duration::from_secs(u64::from(sec)) + Duration::from_micros(u64::from(us));
    let Some(mut on_time) = ON_TIME.take() else {
        return;
    };
    let stops = STOPS.get();
    let outer = IN_CALLBACK.replace(true);
    on_time(time);
    IN_CALLBACK.set(outer);
    // Unless the closure stopped the client.
    if STOPS.get() == stops {
        ON_TIME.set(Some(on_time));
    }
}
