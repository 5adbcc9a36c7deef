//! `--mqtt-publish` and `--mqtt-subscribe`: lwIP's MQTT client (MQTT 3.1.1,
//! QoS 1) as one of the clients. A publisher connects, sends its message,
//! and is done once the broker acknowledges it (PUBACK); a subscriber logs
//! every message until `--time` is up or lwip-tap is stopped.
//!
//! The broker must answer within [`ANSWER_WAIT`] (CONNACK, then PUBACK or
//! SUBACK): lwIP's own limits (TCP's SYN retries, MQTT's 100 s connect
//! timeout) are far longer than anyone waits for an unreachable broker.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::net::SocketAddrV4;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::lwip::mqtt::{self, MqttClient as Connection, MqttHandler, MqttStatus};
use crate::lwip::timer::Timeout;
use crate::lwip::LwipError;

/// How long the broker has to answer each step.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The keep-alive interval lwIP's client announces (and pings within).
const KEEP_ALIVE_S: u16 = 60;

/// What the client does once connected.
pub(crate) enum Task {
    Publish {
        topic: String,
        message: String,
    },
    Subscribe {
        topic: String,
        duration: Option<Duration>,
    },
}

pub(crate) struct MqttClient(Rc<Inner>);

struct Inner {
    broker: SocketAddrV4,
    task: Task,
    client_id: String,
    connection: RefCell<Option<Connection>>,
    /// The broker's answer we wait for, and when we stop waiting; or, for a
    /// subscriber with `--time`, its end.
    timer: RefCell<Option<Timeout>>,
    /// Subscribed since then.
    subscribed: Cell<Option<Instant>>,
    messages: Cell<u64>,
    outcome: Cell<Option<bool>>,
}

impl MqttClient {
    pub(crate) fn new(broker: SocketAddrV4, task: Task, n: usize) -> MqttClient {
        MqttClient(Rc::new(Inner {
            broker,
            task,
            client_id: format!("lwip-tap-{}-{n}", std::process::id()),
            connection: RefCell::new(None),
            timer: RefCell::new(None),
            subscribed: Cell::new(None),
            messages: Cell::new(0),
            outcome: Cell::new(None),
        }))
    }

    pub(crate) fn label(&self) -> String {
        self.0.label()
    }

    pub(crate) fn outcome(&self) -> Option<bool> {
        self.0.outcome.get()
    }

    /// Connects (lwIP has a route to the broker).
    pub(crate) fn begin(&self) {
        let inner = &self.0;
        if !mqtt::available() {
            inner.fail("this lwIP tree has no MQTT client (src/apps/mqtt); see lwip-tap --version");
            return;
        }
        let handler = Box::new(Events(Rc::downgrade(inner)));
        match Connection::connect(inner.broker.into(), &inner.client_id, KEEP_ALIVE_S, handler) {
            Ok(connection) => {
                log::info!("{}: connecting", inner.label());
                *inner.connection.borrow_mut() = Some(connection);
                inner.wait_for("the connection (CONNACK)");
            }
            Err(e) => inner.fail(&format!("cannot connect: {}", explain(e))),
        }
    }

    /// Ends it: a subscriber that is subscribed has done its job.
    pub(crate) fn stop(&self) {
        let inner = &self.0;
        if inner.outcome.get().is_none() {
            if inner.subscribed.get().is_some() {
                inner.finish();
            } else {
                log::error!("{}: stopped before it was done", inner.label());
                inner.outcome.set(Some(false));
            }
        }
        inner.close();
    }
}

fn explain(e: LwipError) -> String {
    match e {
        LwipError::Memory => "lwIP has no memory for it (ERR_MEM)".to_string(),
        LwipError::Route => "no route to the broker (ERR_RTE)".to_string(),
        other => other.to_string(),
    }
}

/// A message for the log: printable text as it is, the rest escaped, at
/// most 200 characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for c in text.chars().take(200) {
        if c.is_control() || c == '\'' || c == '\\' {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().count() > 200 {
        out.push_str("...");
    }
    out
}

impl Inner {
    fn label(&self) -> String {
        match &self.task {
            Task::Publish { topic, .. } => format!("mqtt publish to {} '{topic}'", self.broker),
            Task::Subscribe { topic, .. } => {
                format!("mqtt subscribe to {} '{topic}'", self.broker)
            }
        }
    }

    fn close(&self) {
        self.timer.borrow_mut().take();
        // Closing from inside one of its callbacks waits until lwIP is out
        // of it (Connection's Drop).
        self.connection.borrow_mut().take();
    }

    fn fail(&self, why: &str) {
        if self.outcome.get().is_none() {
            log::error!("{}: {why}", self.label());
            self.outcome.set(Some(false));
        }
        self.close();
    }

    /// A subscriber's end: how many messages it logged.
    fn finish(&self) {
        let seconds = self
            .subscribed
            .get()
            .map_or(0.0, |since| since.elapsed().as_secs_f64());
        log::info!(
            "{}: done, {} message(s) in {seconds:.1} s",
            self.label(),
            self.messages.get()
        );
        self.outcome.set(Some(true));
        self.close();
    }

    /// Fails unless the broker answers within [`ANSWER_WAIT`].
    fn wait_for(self: &Rc<Self>, what: &'static str) {
        let weak = Rc::downgrade(self);
        let timer = Timeout::schedule(ANSWER_WAIT, move || {
            if let Some(inner) = weak.upgrade() {
                inner.timer.borrow_mut().take();
                inner.fail(&format!(
                    "no answer from the broker within {} s (waiting for {what}; is it \
                     reachable, and listening on port {}?)",
                    ANSWER_WAIT.as_secs(),
                    inner.broker.port()
                ));
            }
        });
        *self.timer.borrow_mut() = Some(timer);
    }

    fn connected(self: &Rc<Self>) {
        let result = {
            let connection = self.connection.borrow();
            let Some(connection) = connection.as_ref() else {
                return;
            };
            match &self.task {
                Task::Publish { topic, message } => {
                    connection.publish(topic, message.as_bytes(), 1)
                }
                Task::Subscribe { topic, .. } => connection.subscribe(topic, 1),
            }
        };
        match (result, &self.task) {
            (Ok(()), Task::Publish { .. }) => self.wait_for("the acknowledgement (PUBACK)"),
            (Ok(()), Task::Subscribe { .. }) => self.wait_for("the acknowledgement (SUBACK)"),
            (Err(e), _) => self.fail(&format!("connected, but cannot send: {}", explain(e))),
        }
    }

    fn acknowledged(self: &Rc<Self>) {
        self.timer.borrow_mut().take();
        match &self.task {
            Task::Publish { message, .. } => {
                log::info!(
                    "{}: published {} bytes, acknowledged (QoS 1)",
                    self.label(),
                    message.len()
                );
                self.outcome.set(Some(true));
                self.close();
            }
            Task::Subscribe { duration, .. } => {
                self.subscribed.set(Some(Instant::now()));
                match duration {
                    Some(d) => log::info!(
                        "{}: subscribed (QoS 1), logging messages for {} s",
                        self.label(),
                        d.as_secs_f64()
                    ),
                    None => log::info!(
                        "{}: subscribed (QoS 1), logging messages until stopped",
                        self.label()
                    ),
                }
                if let Some(duration) = *duration {
                    let weak = Rc::downgrade(self);
                    let timer = Timeout::schedule(duration, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.timer.borrow_mut().take();
                            inner.finish();
                        }
                    });
                    *self.timer.borrow_mut() = Some(timer);
                }
            }
        }
    }
}

/// lwIP's events, to the client if it still exists.
struct Events(Weak<Inner>);

impl MqttHandler for Events {
    fn connection(&mut self, status: MqttStatus) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        match status {
            MqttStatus::Accepted => {
                inner.timer.borrow_mut().take();
                log::info!("{}: connected", inner.label());
                inner.connected();
            }
            MqttStatus::Refused(code) => {
                let why = match code {
                    1 => "the protocol version (MQTT 3.1.1)",
                    2 => "the client identifier",
                    3 => "the server is unavailable",
                    4 => "a bad user name or password",
                    5 => "not authorized (does it allow anonymous clients?)",
                    _ => "an unknown reason",
                };
                inner.fail(&format!(
                    "the broker refused the connection: {why} (CONNACK return code {code})"
                ));
            }
            MqttStatus::Disconnected | MqttStatus::Timeout => {
                let what = if status == MqttStatus::Timeout {
                    "the broker stopped answering"
                } else {
                    "the connection was refused or closed"
                };
                if inner.subscribed.get().is_some() {
                    inner.fail(&format!("{what} after {} message(s)", inner.messages.get()));
                } else {
                    inner.fail(what);
                }
            }
        }
    }

    fn request_done(&mut self, result: Result<(), LwipError>) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        match result {
            Ok(()) => inner.acknowledged(),
            Err(LwipError::Timeout) => inner.fail("the broker did not acknowledge in time"),
            Err(e) => inner.fail(&format!("the broker refused it ({e})")),
        }
    }

    fn message(&mut self, topic: &[u8], data: &[u8], len: usize) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        inner.messages.set(inner.messages.get() + 1);
        let cut = if len > data.len() {
            format!(", first {} shown", data.len())
        } else {
            String::new()
        };
        log::info!(
            "mqtt: {}: '{}': '{}' ({len} bytes{cut})",
            inner.broker,
            shown(topic),
            shown(data)
        );
    }
}
