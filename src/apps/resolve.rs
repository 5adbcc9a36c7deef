//! `--resolve NAME`: lwIP's DNS client asks its servers (`-i dns=`, or a
//! DHCP lease's) for the name's A and AAAA records at once, and one line
//! says what came back: the addresses, NXDOMAIN, or no answer.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::{Rc, Weak};

use crate::lwip::dns::{self, Failure, Family, Lookup, Query, ResolveError};

pub(crate) struct Resolve {
    inner: Rc<Inner>,
}

struct Inner {
    name: String,
    /// The servers asked, for the log.
    servers: RefCell<String>,
    /// Each family's outcome, once known: A, then AAAA.
    found: [RefCell<Option<Result<IpAddr, Failure>>>; 2],
    /// lwIP's queries under way.
    queries: RefCell<Vec<Query>>,
    outcome: Cell<Option<bool>>,
}

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

impl Resolve {
    pub(crate) fn new(name: &str) -> Resolve {
        Resolve {
            inner: Rc::new(Inner {
                name: name.to_string(),
                servers: RefCell::new(String::new()),
                found: Default::default(),
                queries: RefCell::new(Vec::new()),
                outcome: Cell::new(None),
            }),
        }
    }

    pub(crate) fn label(&self) -> String {
        format!("resolve {}", self.inner.name)
    }

    /// Whether it succeeded (an address of either family), once it is over.
    pub(crate) fn outcome(&self) -> Option<bool> {
        self.inner.outcome.get()
    }

    /// Whether lwIP has a DNS server it can send to now.
    pub(crate) fn server_reachable() -> bool {
        match dns::servers().first() {
            Some(IpAddr::V4(server)) => crate::lwip::ipv4_route_ready(*server),
            Some(IpAddr::V6(_)) => true,
            None => false,
        }
    }

    /// Asks for both records.
    pub(crate) fn begin(&self) {
        let inner = &self.inner;
        let servers = dns::servers()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        log::info!("{}: asking {servers} for A and AAAA", self.label());
        *inner.servers.borrow_mut() = servers;
        for (slot, family) in FAMILIES.into_iter().enumerate() {
            let weak: Weak<Inner> = Rc::downgrade(inner);
            let found = move |result| {
                if let Some(inner) = weak.upgrade() {
                    inner.found(slot, result);
                }
            };
            match dns::resolve(&inner.name, family, found) {
                Ok(Lookup::Done(addr)) => inner.found(slot, Ok(addr)),
                Ok(Lookup::Asking(query)) => inner.queries.borrow_mut().push(query),
                Err(ResolveError::Failed(failure)) => inner.found(slot, Err(failure)),
                Err(e) => {
                    log::error!("{}: cannot ask for {}: {e}", self.label(), family.record());
                    inner.end(false);
                    return;
                }
            }
        }
    }

    /// Ends a query still under way; it counts as failed.
    pub(crate) fn stop(&self) {
        self.inner.queries.borrow_mut().clear();
        if self.inner.outcome.get().is_none() {
            log::info!("resolve {}: stopped before the answers", self.inner.name);
            self.inner.outcome.set(Some(false));
        }
    }
}

impl Inner {
    /// Notes one family's outcome; once both are in, says what they are.
    fn found(&self, slot: usize, result: Result<IpAddr, Failure>) {
        if self.outcome.get().is_some() {
            return;
        }
        *self.found[slot].borrow_mut() = Some(result);
        let (Some(a), Some(aaaa)) = (*self.found[0].borrow(), *self.found[1].borrow()) else {
            return;
        };
        let name = &self.name;
        let servers = self.servers.borrow();
        match (a, aaaa) {
            (Err(a), Err(aaaa)) if a == aaaa => {
                let what = match a {
                    Failure::Timeout => format!(
                        "no answer from {servers} ({} tries each, about {} s)",
                        dns::TRIES,
                        timeout_seconds()
                    ),
                    failure => format!("{failure} from {servers}"),
                };
                log::error!("resolve {name}: {what}");
                self.end(false);
            }
            (Err(a), Err(aaaa)) => {
                log::error!("resolve {name}: A: {a}, AAAA: {aaaa} (from {servers})");
                self.end(false);
            }
            (a, aaaa) => {
                let show = |family: Family, r: Result<IpAddr, Failure>| match r {
                    Ok(addr) => format!("{} {addr}", family.record()),
                    Err(failure) => format!("{}: {failure}", family.record()),
                };
                log::info!(
                    "resolve {name}: {}, {}",
                    show(Family::V4, a),
                    show(Family::V6, aaaa)
                );
                self.end(true);
            }
        }
    }

    fn end(&self, success: bool) {
        self.outcome.set(Some(success));
        // lwIP is done with these queries (or they are forgotten).
        if let Ok(mut queries) = self.queries.try_borrow_mut() {
            queries.clear();
        }
    }
}

/// How long lwIP asks one server before it gives up: it waits 1 s, then
/// 1, 2, 3... s between tries (dns.c's timer).
fn timeout_seconds() -> u32 {
    1 + (1..dns::TRIES).sum::<u32>()
}
