//! The clients: traffic lwIP starts itself (`--ping`, `--iperf-client`,
//! `--resolve`, `--sntp`, `--mqtt-publish`, `--mqtt-subscribe`).
//!
//! They all run at once. Each waits until lwIP has a route to its target
//! from an interface with an address (a DHCP lease may take a moment), then
//! starts; ARP is lwIP's business. Each ends with an outcome (success or
//! failure), which [`Clients`] collects for the exit status.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::iperf_client::IperfClient;
use super::mqtt::{MqttClient, Task};
use super::ping::Ping;
use super::resolve::Resolve;
use super::sntp::SntpClient;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::lwip::timer::Timeout;

/// How often a client waiting for a route checks again.
const ROUTE_POLL: Duration = Duration::from_millis(50);

/// How long a client waits for a route before it fails.
const ROUTE_WAIT: Duration = Duration::from_secs(30);

/// The clients of a stack.
#[derive(Default)]
pub(crate) struct Clients {
    clients: Vec<Rc<Client>>,
}

struct Client {
    work: Work,
    /// Where it sends; `None` for --resolve, which sends to lwIP's DNS
    /// servers (maybe from a lease still to come).
    target: Option<Ipv4Addr>,
    /// When it began waiting for a route; `None` once it has started.
    waiting_since: Cell<Option<Instant>>,
    /// The next check for a route, while it waits.
    route_check: RefCell<Option<Timeout>>,
}

enum Work {
    Ping(Rc<Ping>),
    Iperf(IperfClient),
    Resolve(Resolve),
    Sntp(SntpClient),
    Mqtt(MqttClient),
}

impl Clients {
    /// Starts every client (each as soon as lwIP has a route to its
    /// target).
    pub(crate) fn start(configs: &[ClientConfig]) -> Clients {
        let mut clients = Clients::default();
        for (n, config) in configs.iter().enumerate() {
            let (work, target) = match *config {
                ClientConfig::Ping {
                    target,
                    count,
                    interval,
                } => (
                    Work::Ping(Rc::new(Ping::new(target, count, interval, icmp_id(n)))),
                    Some(target),
                ),
                ClientConfig::Iperf { server, duration } => (
                    Work::Iperf(IperfClient::new(server, duration)),
                    Some(*server.ip()),
                ),
                ClientConfig::Resolve { ref name } => (Work::Resolve(Resolve::new(name)), None),
                ClientConfig::Sntp { server } => {
                    (Work::Sntp(SntpClient::new(server)), Some(server))
                }
                ClientConfig::MqttPublish {
                    broker,
                    ref topic,
                    ref message,
                } => {
                    let task = Task::Publish {
                        topic: topic.clone(),
                        message: message.clone(),
                    };
                    (
                        Work::Mqtt(MqttClient::new(broker, task, n)),
                        Some(*broker.ip()),
                    )
                }
                ClientConfig::MqttSubscribe {
                    broker,
                    ref topic,
                    duration,
                } => {
                    let task = Task::Subscribe {
                        topic: topic.clone(),
                        duration,
                    };
                    (
                        Work::Mqtt(MqttClient::new(broker, task, n)),
                        Some(*broker.ip()),
                    )
                }
            };
            let client = Rc::new(Client {
                work,
                target,
                waiting_since: Cell::new(Some(Instant::now())),
                route_check: RefCell::new(None),
            });
            check_route(&client);
            if client.waiting_since.get().is_some() {
                let what = match client.target {
                    Some(_) => "a route",
                    None => "a DNS server and a route to it",
                };
                log::info!("{}: waiting for {what} (a DHCP lease?)", client.label());
            }
            clients.clients.push(client);
        }
        clients
    }

    /// Whether every client is over (true without clients).
    pub(crate) fn finished(&self) -> bool {
        self.clients.iter().all(|client| client.outcome().is_some())
    }

    /// Ok if every client succeeded; else an error naming those that
    /// failed or did not finish.
    pub(crate) fn result(&self) -> Result<(), Error> {
        let failed: Vec<String> = self
            .clients
            .iter()
            .map(|client| (client.label(), client.outcome()))
            .filter(|(_, outcome)| *outcome != Some(true))
            .map(|(label, outcome)| match outcome {
                Some(_) => label,
                None => format!("{label} (not finished)"),
            })
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(Error::Clients(match self.clients.len() {
            1 => format!("{} failed", failed[0]),
            n => format!(
                "{} of {n} clients failed: {}",
                failed.len(),
                failed.join(", ")
            ),
        }))
    }

    /// Ends every client still running (each logs what it has).
    pub(crate) fn stop(&mut self) {
        for client in &self.clients {
            client.stop();
        }
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Client {
    fn label(&self) -> String {
        match &self.work {
            Work::Ping(ping) => ping.label(),
            Work::Iperf(iperf) => iperf.label(),
            Work::Resolve(resolve) => resolve.label(),
            Work::Sntp(sntp) => sntp.label(),
            Work::Mqtt(mqtt) => mqtt.label(),
        }
    }

    fn outcome(&self) -> Option<bool> {
        match &self.work {
            Work::Ping(ping) => ping.outcome(),
            Work::Iperf(iperf) => iperf.outcome(),
            Work::Resolve(resolve) => resolve.outcome(),
            Work::Sntp(sntp) => sntp.outcome(),
            Work::Mqtt(mqtt) => mqtt.outcome(),
        }
    }

    fn stop(&self) {
        if self.waiting_since.take().is_some() {
            self.route_check.borrow_mut().take();
            log::error!("{}: stopped while waiting for a route", self.label());
        }
        match &self.work {
            Work::Ping(ping) => ping.stop(),
            Work::Iperf(iperf) => iperf.stop(),
            Work::Resolve(resolve) => resolve.stop(),
            Work::Sntp(sntp) => sntp.stop(),
            Work::Mqtt(mqtt) => mqtt.stop(),
        }
    }
}

/// Starts the client if lwIP can reach its target now, else checks again
/// soon, or gives up after [`ROUTE_WAIT`].
fn check_route(client: &Rc<Client>) {
    let Some(since) = client.waiting_since.get() else {
        return;
    };
    let reachable = match client.target {
        Some(target) => crate::lwip::ipv4_route_ready(target),
        None => Resolve::server_reachable(),
    };
    if reachable {
        client.waiting_since.set(None);
        match &client.work {
            Work::Ping(ping) => ping.begin(),
            Work::Iperf(iperf) => iperf.begin(),
            Work::Resolve(resolve) => resolve.begin(),
            Work::Sntp(sntp) => sntp.begin(),
            Work::Mqtt(mqtt) => mqtt.begin(),
        }
        return;
    }
    let waited = since.elapsed();
    if waited >= ROUTE_WAIT {
        client.waiting_since.set(None);
        let target = match client.target {
            Some(target) => target.to_string(),
            None if crate::lwip::dns::servers().is_empty() => {
                log::error!(
                    "{}: no DNS server after {} s (give one with -i ...,dns=ADDR, or get a \
                     DHCP lease that names one)",
                    client.label(),
                    ROUTE_WAIT.as_secs()
                );
                client.stop();
                return;
            }
            None => format!("DNS server {}", crate::lwip::dns::servers()[0]),
        };
        log::error!(
            "{}: no route to {target} after {} s (no interface with an address on its subnet, \
             no gateway, or no DHCP lease)",
            client.label(),
            ROUTE_WAIT.as_secs()
        );
        client.stop();
        return;
    }
    let weak: Weak<Client> = Rc::downgrade(client);
    let timer = Timeout::schedule(ROUTE_POLL, move || {
        if let Some(client) = weak.upgrade() {
            check_route(&client);
        }
    });
    *client.route_check.borrow_mut() = Some(timer);
}

/// The ICMP identifier of the n-th client: this process's id plus n, so that
/// two lwip-taps pinging the same host tell their replies apart.
fn icmp_id(n: usize) -> u16 {
    (std::process::id() as u16).wrapping_add(n as u16)
}
