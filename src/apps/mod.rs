//! The built-in services, each listening on every interface: echo (`-E`),
//! chargen (`-C`), HTTP (`-H`) and iperf2 (`-s`); and the clients, traffic
//! lwIP starts (`--ping`, `--iperf-client`, `--resolve`, `--sntp`,
//! `--mqtt-publish`, `--mqtt-subscribe`, see `clients.rs`); and lwIP's TFTP
//! server (`--tftp`, `tftp.rs`) and SNMP agent (`--snmp`, `snmp.rs`). Echo,
//! HTTP, iperf (server and client), TFTP, MQTT and SNMP are lwIP's own apps; chargen and ping are ours, in Rust over
//! lwIP's raw API. They are started by
//! [`Stack`](crate::stack::Stack), which guarantees lwIP runs.

mod chargen;
mod clients;
mod iperf;
mod iperf_client;
mod mqtt;
mod ping;
mod resolve;
pub(crate) mod snmp;
mod sntp;
pub(crate) mod tftp;

pub(crate) use clients::Clients;

use std::sync::atomic::{AtomicU8, Ordering};

use crate::config::Services;
use crate::error::Error;
use crate::lwip;

/// The services started so far (lwIP keeps their listeners for good, so
/// each can be started once).
static STARTED: AtomicU8 = AtomicU8::new(0);

/// Starts the selected services. lwIP must be running on this thread.
pub(crate) fn start(services: Services) -> Result<(), Error> {
    let wanted = [
        services.echo,
        services.chargen,
        services.http,
        services.iperf,
    ];
    for (bit, (on, name)) in wanted
        .iter()
        .zip(["echo", "chargen", "http", "iperf"])
        .enumerate()
    {
        if *on && STARTED.load(Ordering::SeqCst) & (1 << bit) != 0 {
            return Err(Error::Lwip {
                context: format!("{name}: already started"),
                source: None,
            });
        }
    }
    if services.echo {
        lwip::apps::start_echo();
        log::info!("echo: TCP and UDP port 7");
    }
    if services.chargen {
        chargen::start()?;
        log::info!("chargen: TCP port {}", chargen::PORT);
    }
    if services.http {
        lwip::apps::start_httpd();
        log::info!("http: TCP port 80");
    }
    if services.iperf {
        iperf::start()?;
        log::info!("iperf: TCP port 5001 (iperf2 server)");
    }
    let bits = wanted
        .iter()
        .enumerate()
        .fold(0, |acc, (bit, on)| acc | (u8::from(*on) << bit));
    STARTED.fetch_or(bits, Ordering::SeqCst);
    Ok(())
}

/// The services the mDNS responder announces for `services`: type (like
/// `_http`), whether over TCP, port. (Echo, chargen and iperf have no
/// registered DNS-SD type; these follow their IANA service names.)
pub(crate) fn mdns_services(services: Services) -> Vec<(&'static str, bool, u16)> {
    let mut announced = Vec::new();
    if services.echo {
        announced.extend([("_echo", true, 7), ("_echo", false, 7)]);
    }
    if services.chargen {
        announced.push(("_chargen", true, chargen::PORT));
    }
    if services.http {
        announced.push(("_http", true, 80));
    }
    if services.iperf {
        announced.push(("_iperf", true, 5001));
    }
    announced
}
