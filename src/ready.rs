//! Readiness: the stack is ready once every configured address is usable
//! and every service listens (docs/readiness.md says what that means for
//! static addresses, DHCP, IPv6 and SLAAC). Then it logs one `ready` line,
//! writes it into the `--ready-file`, and sends `READY=1` to systemd's
//! notification socket.
//!
//! Both the file and the socket are opened while the stack is set up, with
//! the privileges it started with; once ready, each is a `write(2)` on a
//! descriptor already open, which the seccomp filter allows (the socket is
//! connected at start, so no `sendto` is needed). No `sd_notify` library:
//! the protocol is one datagram of `KEY=VALUE` lines.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{ReadyConfig, Services};
use crate::error::Error;
use crate::netif::Interface;

/// When a stack still not ready says what it waits for (once).
pub(crate) const WARN_AFTER: Duration = Duration::from_secs(10);

/// Whether the stack is ready yet, and who to tell.
pub(crate) struct Readiness {
    started: Instant,
    ready: bool,
    warned: bool,
    services: Services,
    file: Option<File>,
    /// systemd's notification socket, connected, written with `write(2)`.
    notify: Option<File>,
}

impl Readiness {
    /// Creates the ready file (empty) and connects to the notification
    /// socket, so that telling either needs no privilege later.
    pub(crate) fn open(config: &ReadyConfig, services: Services) -> Result<Readiness, Error> {
        let file = match &config.file {
            Some(path) => Some(
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)
                    .map_err(|e| {
                        Error::io(
                            format!("--ready-file {}: cannot create it", path.display()),
                            e,
                        )
                    })?,
            ),
            None => None,
        };
        let notify = match &config.notify_socket {
            Some(addr) => Some(connect(addr).map_err(|e| {
                Error::io(
                    format!(
                        "NOTIFY_SOCKET={}: cannot connect to systemd's notification socket",
                        addr.to_string_lossy()
                    ),
                    e,
                )
            })?),
            None => None,
        };
        Ok(Readiness {
            started: Instant::now(),
            ready: false,
            warned: false,
            services,
            file,
            notify,
        })
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready
    }

    /// When [`Readiness::check`] has something to say even if nothing
    /// happens: the one warning of a stack still not ready.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        (!self.ready && !self.warned).then(|| self.started + WARN_AFTER)
    }

    /// Once every interface is ready: logs the ready line, writes it into
    /// the ready file and notifies systemd. Until then, after
    /// [`WARN_AFTER`], says once what it is waiting for.
    pub(crate) fn check(&mut self, interfaces: &[Interface]) {
        if self.ready {
            return;
        }
        let waiting: Vec<String> = interfaces.iter().flat_map(Interface::not_ready).collect();
        let elapsed = self.started.elapsed();
        if !waiting.is_empty() {
            if !self.warned && elapsed >= WARN_AFTER {
                self.warned = true;
                let what = waiting.join(", ");
                log::warn!(
                    "still waiting after {} s for {what}; not ready until then",
                    WARN_AFTER.as_secs()
                );
                self.notify(&format!("STATUS=waiting for {what}"));
            }
            return;
        }
        self.ready = true;
        let waited: Vec<String> = interfaces.iter().flat_map(Interface::ready_needs).collect();
        let waited = if waited.is_empty() {
            "nothing".to_string()
        } else {
            waited.join(", ")
        };
        let listening = service_names(self.services);
        let listening = if listening.is_empty() {
            "no service".to_string()
        } else {
            format!("listening: {}", listening.join(", "))
        };
        let line = format!(
            "ready after {:.2} s (waited for {waited}; {listening})",
            elapsed.as_secs_f64()
        );
        log::info!("{line}");
        if let Some(file) = &mut self.file {
            if let Err(e) = file.write_all(format!("{line}\n").as_bytes()) {
                log::warn!("cannot write the ready file: {e}");
            }
        }
        self.notify(&format!("READY=1\nSTATUS={line}"));
    }

    /// Tells systemd the stack is stopping.
    pub(crate) fn stopping(&mut self) {
        self.notify("STOPPING=1");
    }

    fn notify(&mut self, message: &str) {
        if let Some(socket) = &mut self.notify {
            if let Err(e) = socket.write_all(message.as_bytes()) {
                log::warn!("cannot notify systemd (NOTIFY_SOCKET): {e}");
            }
        }
    }
}

/// A datagram socket connected to `addr`: a path, or `@NAME` in the
/// abstract namespace (as systemd writes NOTIFY_SOCKET).
fn connect(addr: &OsStr) -> io::Result<File> {
    let address = match addr.as_bytes().strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(Path::new(addr))?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.connect_addr(&address)?;
    // A connected datagram socket takes write(2), which the seccomp filter
    // allows; send(2) would need sendto.
    Ok(File::from(OwnedFd::from(socket)))
}

fn service_names(s: Services) -> Vec<&'static str> {
    [
        (s.echo, "echo"),
        (s.chargen, "chargen"),
        (s.http, "http"),
        (s.iperf, "iperf"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}
