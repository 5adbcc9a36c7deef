//! `--iperf-client`: lwIP's lwiperf client, an iperf2 client that sends
//! over one TCP connection for a set time (the duration is set through
//! lwip/lwiperf_glue.c; upstream always sends for 10 s). Its report is
//! logged like the server's.
//!
//! lwiperf counts the bytes it hands to TCP, so its figure includes what is
//! still queued when the time is up; the receiver's report counts what
//! arrived.

use std::cell::Cell;
use std::ffi::c_void;
use std::net::SocketAddrV4;
use std::ptr;
use std::time::Duration;

use crate::netif::ip_addr_v4;
use crate::sys;

pub(crate) struct IperfClient {
    server: SocketAddrV4,
    duration: Duration,
    /// lwiperf's session while the test runs; null before and after.
    session: Cell<*mut c_void>,
    outcome: Cell<Option<bool>>,
}

impl IperfClient {
    pub(crate) fn new(server: SocketAddrV4, duration: Duration) -> IperfClient {
        IperfClient {
            server,
            duration,
            session: Cell::new(ptr::null_mut()),
            outcome: Cell::new(None),
        }
    }

    pub(crate) fn label(&self) -> String {
        format!("iperf client to {}", self.server)
    }

    /// Whether it succeeded, once it is over.
    pub(crate) fn outcome(&self) -> Option<bool> {
        self.outcome.get()
    }

    /// Connects and starts sending.
    ///
    /// # Safety
    /// lwIP runs on this thread, and `self` stays where it is until `stop`
    /// has been called (lwiperf calls back with a pointer to it).
    pub(crate) unsafe fn begin(&self) {
        let server = ip_addr_v4(*self.server.ip());
        let centiseconds = (self.duration.as_millis() / 10).max(1) as u32;
        log::info!(
            "{}: sending for {} s",
            self.label(),
            self.duration.as_secs_f64()
        );
        let arg = self as *const IperfClient as *mut c_void;
        // SAFETY: lwIP runs on this thread; `arg` outlives the session (the
        // caller's promise).
        let session = unsafe {
            sys::lwip_tap_lwiperf_start_client(
                &server,
                self.server.port(),
                centiseconds,
                Some(report),
                arg,
            )
        };
        // A connection that cannot even be started has been reported.
        if session.is_null() && self.outcome.get().is_none() {
            log::error!("{}: cannot start: lwIP has no memory for it", self.label());
            self.outcome.set(Some(false));
        } else if self.outcome.get().is_none() {
            self.session.set(session);
        }
    }

    /// Ends a test still running; it counts as failed.
    ///
    /// # Safety
    /// lwIP runs on this thread.
    pub(crate) unsafe fn stop(&self) {
        let session = self.session.replace(ptr::null_mut());
        if !session.is_null() {
            // SAFETY: the session has not reported, so lwiperf still has it.
            unsafe { sys::lwip_tap_lwiperf_stop_client(session) };
            log::info!("{}: stopped before the end of the test", self.label());
        }
        if self.outcome.get().is_none() {
            self.outcome.set(Some(false));
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn report(
    arg: *mut c_void,
    kind: sys::lwiperf_report_type,
    _local_addr: *const sys::ip_addr_t,
    _local_port: u16,
    _remote_addr: *const sys::ip_addr_t,
    _remote_port: u16,
    bytes: u32,
    ms: u32,
    kbit_per_s: u32,
) {
    // SAFETY: `arg` is the IperfClient given to lwiperf in `begin`, alive
    // until `stop`, which ends the session first.
    let client = unsafe { &*(arg as *const IperfClient) };
    client.session.set(ptr::null_mut());
    let done = kind == sys::LWIPERF_TCP_DONE_CLIENT;
    let outcome = match kind {
        sys::LWIPERF_TCP_DONE_CLIENT => "done",
        sys::LWIPERF_TCP_ABORTED_REMOTE => "failed: connection refused or reset by the server",
        sys::LWIPERF_TCP_ABORTED_LOCAL => {
            "failed: gave up (no progress for 10 s, or the connection could not be made)"
        }
        sys::LWIPERF_TCP_ABORTED_LOCAL_TXERROR => "failed: send error",
        _ => "failed",
    };
    let figures = super::iperf::figures(bytes, ms, kbit_per_s);
    if done {
        log::info!("iperf client: {}: {outcome}, {figures}", client.server);
    } else {
        log::error!("iperf client: {}: {outcome}, {figures}", client.server);
    }
    client.outcome.set(Some(done));
}
