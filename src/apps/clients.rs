//! The clients: traffic lwIP starts itself (`--ping`, `--iperf-client`).
//!
//! They all run at once. Each waits until lwIP has a route to its target
//! from an interface with an address (a DHCP lease may take a moment), then
//! starts; ARP is lwIP's business. Each ends with an outcome (success or
//! failure), which [`Clients`] collects for the exit status. lwIP calls the
//! clients back with pointers to them, so each lives in a heap allocation
//! of its own that stays put until [`Clients`] is dropped, after every
//! client has been stopped.

use std::ffi::c_void;
use std::net::Ipv4Addr;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use super::iperf_client::IperfClient;
use super::ping::Ping;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::netif::ip4;
use crate::sys;

/// How often a client waiting for a route checks again.
const ROUTE_POLL: Duration = Duration::from_millis(50);

/// How long a client waits for a route before it fails.
const ROUTE_WAIT: Duration = Duration::from_secs(30);

/// The clients of a stack.
#[derive(Default)]
pub(crate) struct Clients {
    clients: Vec<NonNull<Client>>,
}

struct Client {
    work: Work,
    target: Ipv4Addr,
    /// When it began waiting for a route; `None` once it has started.
    waiting_since: std::cell::Cell<Option<Instant>>,
}

enum Work {
    Ping(Ping),
    Iperf(IperfClient),
}

impl Clients {
    /// Sets the clients going: each starts at once if lwIP has a route to
    /// its target, else when it has one.
    ///
    /// # Safety
    /// lwIP runs on this thread, and keeps running only while the returned
    /// `Clients` exists.
    pub(crate) unsafe fn start(configs: &[ClientConfig]) -> Clients {
        let mut clients = Clients::default();
        for (n, config) in configs.iter().enumerate() {
            let (work, target) = match *config {
                ClientConfig::Ping {
                    target,
                    count,
                    interval,
                } => (
                    Work::Ping(Ping::new(target, count, interval, icmp_id(n))),
                    target,
                ),
                ClientConfig::Iperf { server, duration } => (
                    Work::Iperf(IperfClient::new(server, duration)),
                    *server.ip(),
                ),
            };
            let client = Box::new(Client {
                work,
                target,
                waiting_since: std::cell::Cell::new(Some(Instant::now())),
            });
            let client = NonNull::from(Box::leak(client));
            clients.clients.push(client);
            // SAFETY: lwIP runs on this thread; the client stays allocated
            // until `Drop`, which stops it first.
            unsafe {
                check_route(client.as_ptr().cast());
                let client = client.as_ref();
                if client.waiting_since.get().is_some() {
                    log::info!("{}: waiting for a route (a DHCP lease?)", client.label());
                }
            }
        }
        clients
    }

    /// Whether every client is over.
    pub(crate) fn finished(&self) -> bool {
        self.clients.iter().all(|client| {
            // SAFETY: the clients live until `Drop`.
            unsafe { client.as_ref() }.outcome().is_some()
        })
    }

    /// Ok if every client succeeded; else which did not (or are not done).
    pub(crate) fn result(&self) -> Result<(), Error> {
        let failed: Vec<String> = self
            .outcomes()
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

    /// Ends every client still running (a stop signal), logging what it has.
    pub(crate) fn stop(&mut self) {
        for client in &self.clients {
            // SAFETY: the clients live until `Drop`; lwIP runs on this
            // thread (the stack that owns `self` started it).
            unsafe { client.as_ref().stop() };
        }
    }

    fn outcomes(&self) -> impl Iterator<Item = (String, Option<bool>)> + '_ {
        self.clients.iter().map(|client| {
            // SAFETY: the clients live until `Drop`.
            let client = unsafe { client.as_ref() };
            (client.label(), client.outcome())
        })
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop();
        for client in self.clients.drain(..) {
            // SAFETY: allocated by `start` with Box; stopped above, so lwIP
            // holds no pointer to it any more.
            drop(unsafe { Box::from_raw(client.as_ptr()) });
        }
    }
}

impl Client {
    fn label(&self) -> String {
        match &self.work {
            Work::Ping(ping) => ping.label(),
            Work::Iperf(iperf) => iperf.label(),
        }
    }

    fn outcome(&self) -> Option<bool> {
        match &self.work {
            Work::Ping(ping) => ping.outcome(),
            Work::Iperf(iperf) => iperf.outcome(),
        }
    }

    /// # Safety
    /// lwIP runs on this thread.
    unsafe fn stop(&self) {
        if self.waiting_since.take().is_some() {
            let arg = self as *const Client as *mut c_void;
            // SAFETY: lwIP runs on this thread.
            unsafe { sys::lwip_tap_untimeout(Some(check_route), arg) };
            log::error!("{}: stopped while waiting for a route", self.label());
        }
        // SAFETY: lwIP runs on this thread.
        unsafe {
            match &self.work {
                Work::Ping(ping) => ping.stop(),
                Work::Iperf(iperf) => iperf.stop(),
            }
        }
    }
}

/// lwIP timer (and first call): starts the client if lwIP can reach its
/// target now, else checks again soon, or gives up after [`ROUTE_WAIT`].
unsafe extern "C" fn check_route(arg: *mut c_void) {
    // SAFETY: `arg` is a client of `Clients`, alive until it is stopped,
    // which removes this timer.
    let client = unsafe { &*(arg as *const Client) };
    let Some(since) = client.waiting_since.get() else {
        return;
    };
    // SAFETY: lwIP runs on this thread.
    let ready = unsafe { sys::lwip_tap_ip4_route_ready(&ip4(client.target)) } != 0;
    if ready {
        client.waiting_since.set(None);
        // SAFETY: lwIP runs on this thread; the client stays put until it
        // has been stopped.
        unsafe {
            match &client.work {
                Work::Ping(ping) => ping.begin(),
                Work::Iperf(iperf) => iperf.begin(),
            }
        }
        return;
    }
    let waited = since.elapsed();
    if waited >= ROUTE_WAIT {
        client.waiting_since.set(None);
        log::error!(
            "{}: no route to {} after {} s (no interface with an address on its subnet, \
             no gateway, or no DHCP lease)",
            client.label(),
            client.target,
            ROUTE_WAIT.as_secs()
        );
        // SAFETY: lwIP runs on this thread; nothing was started.
        unsafe { client.stop() };
        return;
    }
    // SAFETY: lwIP runs on this thread; `stop` removes the timer.
    unsafe { sys::lwip_tap_timeout(ROUTE_POLL.as_millis() as u32, Some(check_route), arg) };
}

/// The ICMP identifier of the n-th client: this process's id plus n, so that
/// two lwip-taps pinging the same host tell their replies apart.
fn icmp_id(n: usize) -> u16 {
    (std::process::id() as u16).wrapping_add(n as u16)
}
