//! `--sntp ADDR`: lwIP's SNTP client asks a server for the time, and the
//! offset of the host's clock from it is logged. No clock is set. The
//! first valid answer ends it; without one in [`WAIT`] it fails.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::lwip::sntp::{self, Sntp};
use crate::lwip::timer::Timeout;

/// How long the client waits for a valid answer (lwIP asks again after 2
/// s, then after 4 s more).
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// An answer that took longer than this is asked for again, once. lwIP's
/// round-trip compensation assumes the request took as long as the
/// answer; a first request that waited in lwIP's ARP queue (1 s when the
/// first ARP request goes unanswered) would put the offset off by half
/// that wait.
const SLOW_ANSWER: Duration = Duration::from_millis(100);

pub(crate) struct SntpClient {
    inner: Rc<Inner>,
}

struct Inner {
    server: Ipv4Addr,
    /// lwIP's client while it runs.
    session: RefCell<Option<Sntp>>,
    deadline: RefCell<Option<Timeout>>,
    outcome: Cell<Option<bool>>,
    /// When lwIP's client was started, and whether it was started again
    /// after a slow answer.
    asked: Cell<Option<Instant>>,
    asked_again: Cell<bool>,
    again: RefCell<Option<Timeout>>,
}

impl SntpClient {
    pub(crate) fn new(server: Ipv4Addr) -> SntpClient {
        SntpClient {
            inner: Rc::new(Inner {
                server,
                session: RefCell::new(None),
                deadline: RefCell::new(None),
                outcome: Cell::new(None),
                asked: Cell::new(None),
                asked_again: Cell::new(false),
                again: RefCell::new(None),
            }),
        }
    }

    pub(crate) fn label(&self) -> String {
        format!("sntp {}", self.inner.server)
    }

    pub(crate) fn outcome(&self) -> Option<bool> {
        self.inner.outcome.get()
    }

    pub(crate) fn begin(&self) {
        if !self.inner.ask() {
            return;
        }
        log::info!(
            "{}: asking for the time (again after {} s)",
            self.label(),
            sntp::RETRY.as_secs_f64()
        );
        let weak = Rc::downgrade(&self.inner);
        *self.inner.deadline.borrow_mut() = Some(Timeout::schedule(WAIT, move || {
            if let Some(inner) = weak.upgrade() {
                log::error!(
                    "sntp {}: no valid answer within {} s (unreachable, not serving NTP, or its \
                     answers were malformed)",
                    inner.server,
                    WAIT.as_secs()
                );
                inner.end(false);
            }
        }));
    }

    /// Ends a client still waiting; it counts as failed.
    pub(crate) fn stop(&self) {
        if self.inner.outcome.get().is_none() {
            log::info!("{}: stopped before an answer", self.label());
            self.inner.end(false);
        }
    }
}

impl Inner {
    /// Starts lwIP's client; false (and failed) if it cannot.
    fn ask(self: &Rc<Self>) -> bool {
        let weak: Weak<Inner> = Rc::downgrade(self);
        let on_time = move |time: SystemTime| {
            if let Some(inner) = weak.upgrade() {
                inner.answered(time);
            }
        };
        let Some(session) = Sntp::start(self.server, on_time) else {
            log::error!("sntp {}: lwIP's SNTP client is busy", self.server);
            self.end(false);
            return false;
        };
        self.asked.set(Some(Instant::now()));
        *self.session.borrow_mut() = Some(session);
        true
    }

    fn answered(self: &Rc<Self>, time: SystemTime) {
        let now = SystemTime::now();
        let took = self.asked.get().map(|t| t.elapsed()).unwrap_or_default();
        if took > SLOW_ANSWER && !self.asked_again.replace(true) {
            log::debug!(
                "sntp {}: the answer took {} ms (the request waited for ARP?): asking again",
                self.server,
                took.as_millis()
            );
            // lwIP's client stops once out of this callback; start it again
            // after that.
            self.session.borrow_mut().take();
            let weak = Rc::downgrade(self);
            *self.again.borrow_mut() = Some(Timeout::schedule(Duration::ZERO, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.ask();
                }
            }));
            return;
        }
        // Positive: the server's clock is ahead of the host's.
        let (sign, offset, host) = match time.duration_since(now) {
            Ok(ahead) => ('+', ahead, "behind"),
            Err(e) => ('-', e.duration(), "ahead"),
        };
        log::info!(
            "sntp {}: offset {sign}{:.6} s (the host's clock is {host} by that much; no clock set)",
            self.server,
            offset.as_secs_f64(),
        );
        self.end(true);
    }

    fn end(&self, success: bool) {
        self.outcome.set(Some(success));
        // Dropping them stops lwIP's client and the deadline.
        self.session.borrow_mut().take();
        for timer in [&self.deadline, &self.again] {
            if let Ok(mut timer) = timer.try_borrow_mut() {
                timer.take();
            }
        }
    }
}
