//! `--iperf-client`: lwIP's lwiperf client, an iperf2 client that sends
//! over one TCP connection for a set time (the duration is set through
//! lwip/lwiperf_glue.c; upstream always sends for 10 s). Its report is
//! logged like the server's.
//!
//! lwiperf counts the bytes it hands to TCP, so its figure includes what is
//! still queued when the time is up; the receiver's report counts what
//! arrived.

use std::cell::{Cell, RefCell};
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::time::Duration;

use crate::lwip::apps::{IperfClient as Session, IperfOutcome, IperfReport};

pub(crate) struct IperfClient {
    server: SocketAddrV4,
    duration: Duration,
    /// lwiperf's test while it runs.
    session: RefCell<Option<Session>>,
    outcome: Rc<Cell<Option<bool>>>,
}

impl IperfClient {
    pub(crate) fn new(server: SocketAddrV4, duration: Duration) -> IperfClient {
        IperfClient {
            server,
            duration,
            session: RefCell::new(None),
            outcome: Rc::new(Cell::new(None)),
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
    pub(crate) fn begin(&self) {
        let centiseconds = (self.duration.as_millis() / 10).max(1) as u32;
        log::info!(
            "{}: sending for {} s",
            self.label(),
            self.duration.as_secs_f64()
        );
        let (server, outcome) = (self.server, Rc::clone(&self.outcome));
        let report = move |report: IperfReport| log_report(server, &outcome, report);
        match Session::start(server.into(), centiseconds, report) {
            Ok(session) => *self.session.borrow_mut() = Some(session),
            // A connection that cannot even be started has been reported.
            Err(_) if self.outcome.get().is_some() => {}
            Err(_) => {
                log::error!("{}: cannot start: lwIP has no memory for it", self.label());
                self.outcome.set(Some(false));
            }
        }
    }

    /// Ends a test still running; it counts as failed.
    pub(crate) fn stop(&self) {
        let session = self.session.borrow_mut().take();
        if session.is_some_and(|s| s.stop()) {
            log::info!("{}: stopped before the end of the test", self.label());
        }
        if self.outcome.get().is_none() {
            self.outcome.set(Some(false));
        }
    }
}

fn log_report(server: SocketAddrV4, outcome: &Cell<Option<bool>>, report: IperfReport) {
    let done = report.outcome == IperfOutcome::DoneClient;
    let what = match report.outcome {
        IperfOutcome::DoneClient => "done",
        IperfOutcome::AbortedRemote => "failed: connection refused or reset by the server",
        IperfOutcome::AbortedLocal => {
            "failed: gave up (no progress for 10 s, or the connection could not be made)"
        }
        IperfOutcome::AbortedLocalTxError => "failed: send error",
        _ => "failed",
    };
    let figures = super::iperf::figures(&report);
    if done {
        log::info!("iperf client: {server}: {what}, {figures}");
    } else {
        log::error!("iperf client: {server}: {what}, {figures}");
    }
    outcome.set(Some(done));
}
