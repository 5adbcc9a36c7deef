//! lwIP's own applications: the echo servers and httpd from contrib and
//! lwIP's apps, and lwiperf's iperf2 server and client, with their reports
//! turned into [`IperfReport`]s.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::net::{IpAddr, SocketAddr};
use std::ptr::{self, NonNull};

use super::addr::{from_ip_addr, ip_addr};
use super::LwipError;
use crate::sys;

/// Starts contrib's raw-API echo servers (TCP and UDP port 7).
pub(crate) fn start_echo() {
    // SAFETY: lwIP runs on this thread; each starts once (the caller's
    // bookkeeping) and keeps its PCB for good.
    unsafe {
        sys::tcpecho_raw_init();
        sys::udpecho_raw_init();
    }
}

/// Starts lwIP's httpd on TCP port 80.
pub(crate) fn start_httpd() {
    // SAFETY: as above.
    unsafe { sys::httpd_init() };
}

/// How an iperf test ended (lwiperf's report types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IperfOutcome {
    DoneServer,
    DoneClient,
    AbortedRemote,
    AbortedLocal,
    AbortedLocalDataError,
    AbortedLocalTxError,
    Other,
}

/// One lwiperf report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IperfReport {
    pub outcome: IperfOutcome,
    /// The peer, while lwiperf still knows it.
    pub remote: Option<SocketAddr>,
    pub bytes: u32,
    pub ms: u32,
    pub kbit_per_s: u32,
}

type Report = Box<dyn FnMut(IperfReport)>;

/// lwiperf's TCP server on `port` of every address, reporting every test
/// to `report`. It runs for the rest of the process.
pub(crate) fn start_iperf_server(
    port: u16,
    report: impl FnMut(IperfReport) + 'static,
) -> Result<(), LwipError> {
    let report: Report = Box::new(report);
    // The server lives for the process: so does its report.
    let arg = Box::leak(Box::new(RefCell::new(report))) as *mut RefCell<Report>;
    // SAFETY: lwIP runs on this thread; lwIP's any-type address takes IPv4
    // and IPv6 clients; `arg` lives forever.
    let session = unsafe {
        sys::lwiperf_start_tcp_server(
            &sys::ip_addr_any_type,
            port,
            Some(on_server_report),
            arg.cast(),
        )
    };
    if session.is_null() {
        return Err(LwipError::Memory);
    }
    Ok(())
}

/// An lwiperf client test under way; stopped (without a report) if
/// dropped before it reports.
pub(crate) struct IperfClient {
    state: NonNull<ClientState>,
}

struct ClientState {
    /// lwiperf's session until it reports; null after.
    session: Cell<*mut c_void>,
    report: RefCell<Option<ClientReport>>,
}

type ClientReport = Box<dyn FnOnce(IperfReport)>;

impl IperfClient {
    /// Connects to `server` and sends for `centiseconds`, then reports
    /// once to `report`. A test that cannot even start reports at once (an
    /// error, or lwiperf's own report).
    pub(crate) fn start(
        server: SocketAddr,
        centiseconds: u32,
        report: impl FnOnce(IperfReport) + 'static,
    ) -> Result<IperfClient, LwipError> {
        let state = NonNull::from(Box::leak(Box::new(ClientState {
            session: Cell::new(ptr::null_mut()),
            report: RefCell::new(Some(Box::new(report))),
        })));
        let client = IperfClient { state };
        let addr = ip_addr(server.ip());
        // SAFETY: lwIP runs on this thread; the state outlives the session
        // (Drop stops it first).
        let session = unsafe {
            sys::lwip_tap_lwiperf_start_client(
                &addr,
                server.port(),
                centiseconds,
                Some(on_client_report),
                state.as_ptr().cast(),
            )
        };
        let state = client.state();
        if !session.is_null() && state.report.borrow().is_some() {
            state.session.set(session);
        } else if session.is_null() && state.report.borrow().is_some() {
            return Err(LwipError::Memory);
        }
        Ok(client)
    }

    fn state(&self) -> &ClientState {
        // SAFETY: alive as long as `self`.
        unsafe { self.state.as_ref() }
    }

    /// Ends a test still running, with no report. Returns whether it was.
    pub(crate) fn stop(&self) -> bool {
        let session = self.state().session.replace(ptr::null_mut());
        if session.is_null() {
            return false;
        }
        // SAFETY: the session has not reported, so lwiperf still has it.
        unsafe { sys::lwip_tap_lwiperf_stop_client(session) };
        true
    }
}

impl Drop for IperfClient {
    fn drop(&mut self) {
        self.stop();
        // SAFETY: lwiperf holds no pointer to the state any more.
        drop(unsafe { Box::from_raw(self.state.as_ptr()) });
    }
}

/// lwiperf's arguments as an [`IperfReport`].
///
/// # Safety
/// `remote` must be null or a valid address.
unsafe fn report_of(
    kind: sys::lwiperf_report_type,
    remote: *const sys::ip_addr_t,
    remote_port: u16,
    bytes: u32,
    ms: u32,
    kbit_per_s: u32,
) -> IperfReport {
    let outcome = match kind {
        sys::LWIPERF_TCP_DONE_SERVER => IperfOutcome::DoneServer,
        sys::LWIPERF_TCP_DONE_CLIENT => IperfOutcome::DoneClient,
        sys::LWIPERF_TCP_ABORTED_REMOTE => IperfOutcome::AbortedRemote,
        sys::LWIPERF_TCP_ABORTED_LOCAL => IperfOutcome::AbortedLocal,
        sys::LWIPERF_TCP_ABORTED_LOCAL_DATAERROR => IperfOutcome::AbortedLocalDataError,
        sys::LWIPERF_TCP_ABORTED_LOCAL_TXERROR => IperfOutcome::AbortedLocalTxError,
        _ => IperfOutcome::Other,
    };
    // SAFETY: as the caller guarantees (lwiperf passes null once the
    // connection is gone: lwip/lwiperf_glue.c).
    let remote = unsafe { remote.as_ref() }.map(|a| SocketAddr::new(from_ip_addr(a), remote_port));
    IperfReport {
        outcome,
        remote: remote.filter(|r| r.ip() != IpAddr::from([0, 0, 0, 0])),
        bytes,
        ms,
        kbit_per_s,
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn on_server_report(
    arg: *mut c_void,
    kind: sys::lwiperf_report_type,
    _local_addr: *const sys::ip_addr_t,
    _local_port: u16,
    remote_addr: *const sys::ip_addr_t,
    remote_port: u16,
    bytes: u32,
    ms: u32,
    kbit_per_s: u32,
) {
    // SAFETY: lwiperf passes our leaked report and a valid or null address.
    let (report, cell) = unsafe {
        (
            report_of(kind, remote_addr, remote_port, bytes, ms, kbit_per_s),
            &*(arg as *const RefCell<Report>),
        )
    };
    if let Ok(mut callback) = cell.try_borrow_mut() {
        callback(report);
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn on_client_report(
    arg: *mut c_void,
    kind: sys::lwiperf_report_type,
    _local_addr: *const sys::ip_addr_t,
    _local_port: u16,
    remote_addr: *const sys::ip_addr_t,
    remote_port: u16,
    bytes: u32,
    ms: u32,
    kbit_per_s: u32,
) {
    // SAFETY: `arg` is the state of a live `IperfClient` (its Drop stops
    // the session before freeing it); the address is valid or null.
    let (report, state) = unsafe {
        (
            report_of(kind, remote_addr, remote_port, bytes, ms, kbit_per_s),
            &*(arg as *const ClientState),
        )
    };
    state.session.set(ptr::null_mut());
    let callback = state.report.borrow_mut().take();
    if let Some(callback) = callback {
        callback(report);
    }
}
