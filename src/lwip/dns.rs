//! lwIP's DNS client (`core/dns.c`, through lwip/dns_glue.c): its servers
//! and one query for one address family ([`Query`]), whose outcome comes to
//! a closure.
//!
//! lwIP keeps a query's callback and argument until the query ends and has
//! no call to cancel one. So the argument lwIP holds is a number, not a
//! pointer: the closure waits in a table under that number, and dropping
//! the [`Query`] takes it out. lwIP's late callback then finds nothing and
//! does nothing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::fmt;
use std::net::IpAddr;

use super::addr::{from_ip_addr, ip_addr};
use super::LwipError;
use crate::sys;

/// DNS_MAX_SERVERS of the build: how many servers lwIP asks, in turn.
pub(crate) const MAX_SERVERS: usize = sys::DNS_MAX_SERVERS as usize;

/// The longest name lwIP queries (DNS_MAX_NAME_LENGTH, less its NUL).
pub(crate) const MAX_NAME_LENGTH: usize = sys::DNS_MAX_NAME_LENGTH as usize - 1;

/// How many times lwIP asks each server (DNS_MAX_RETRIES).
pub(crate) const TRIES: u32 = sys::DNS_MAX_RETRIES;

/// Sets lwIP's DNS server number `index` (below [`MAX_SERVERS`]).
pub(crate) fn set_server(index: usize, addr: IpAddr) {
    let addr = ip_addr(addr);
    // SAFETY: lwIP runs on this thread; dns_setserver copies the address
    // and ignores an index past its table.
    unsafe { sys::dns_setserver(index as u8, &addr) };
}

/// lwIP's DNS servers now (given by -i dns= or by a DHCP lease).
pub(crate) fn servers() -> Vec<IpAddr> {
    (0..MAX_SERVERS)
        .filter_map(|index| {
            // SAFETY: lwIP runs on this thread; dns_getserver returns a
            // pointer into its server table (or to the any address).
            let addr = unsafe { sys::dns_getserver(index as u8).as_ref() }.map(from_ip_addr)?;
            (!addr.is_unspecified()).then_some(addr)
        })
        .collect()
}

/// Which address a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// An A record.
    V4,
    /// An AAAA record.
    V6,
}

impl Family {
    pub(crate) fn record(self) -> &'static str {
        match self {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        }
    }
}

/// Why a query found no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with this response code (3: NXDOMAIN), or with
    /// code 0 and no usable record of the family.
    Answer(u8),
    /// No server answered in time (or lwIP could not send the query).
    Timeout,
    /// lwIP has no DNS server.
    NoServer,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Failure::Answer(0) => f.write_str("no such record"),
            Failure::Answer(3) => f.write_str("NXDOMAIN (no such name)"),
            Failure::Answer(code) => write!(f, "{} (response code {code})", rcode_name(code)),
            Failure::Timeout => f.write_str("no answer"),
            Failure::NoServer => f.write_str("no DNS server"),
        }
    }
}

/// RFC 1035's and RFC 6895's names of the response codes a server sends.
fn rcode_name(code: u8) -> &'static str {
    match code {
        1 => "FORMERR",
        2 => "SERVFAIL",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "an error",
    }
}

type Found = Box<dyn FnOnce(Result<IpAddr, Failure>)>;

thread_local! {
    /// The closures of the queries under way, by the number lwIP holds.
    static PENDING: RefCell<HashMap<usize, Found>> = RefCell::new(HashMap::new());
    static NEXT: Cell<usize> = const { Cell::new(1) };
}

/// A query lwIP is working on; its closure is forgotten if it is dropped
/// first.
pub(crate) struct Query {
    key: usize,
}

impl Drop for Query {
    fn drop(&mut self) {
        // A query dropped while the thread's locals are torn down (a stack
        // kept in a thread_local, say) finds the table gone: nothing to do.
        let _ = PENDING.try_with(|pending| {
            if let Ok(mut pending) = pending.try_borrow_mut() {
                pending.remove(&self.key);
            }
        });
    }
}

/// What [`resolve`] did.
pub(crate) enum Lookup {
    /// lwIP had the answer (its cache, or `name` is an address).
    Done(IpAddr),
    /// lwIP asks its servers; `found` gets the outcome later, unless the
    /// query is dropped first.
    Asking(Query),
}

/// Looks `name` up for `family`. `found` is never called before this
/// returns. Fails with [`Failure::NoServer`] if lwIP has no server, and
/// with lwIP's error (ERR_ARG: a name lwIP refuses; ERR_MEM: its table of
/// queries is full).
pub(crate) fn resolve(
    name: &str,
    family: Family,
    found: impl FnOnce(Result<IpAddr, Failure>) + 'static,
) -> Result<Lookup, ResolveError> {
    if servers().is_empty() {
        return Err(ResolveError::Failed(Failure::NoServer));
    }
    let name = CString::new(name).map_err(|_| ResolveError::Lwip(LwipError::Argument))?;
    let key = NEXT.with(|next| next.replace(next.get().wrapping_add(1).max(1)));
    PENDING.with_borrow_mut(|pending| pending.insert(key, Box::new(found)));
    let query = Query { key };
    let mut addr = sys::ip_addr_t::default();
    let family_code = match family {
        Family::V4 => sys::LWIP_DNS_ADDRTYPE_IPV4,
        Family::V6 => sys::LWIP_DNS_ADDRTYPE_IPV6,
    } as u8;
    // SAFETY: lwIP runs on this thread; it copies the name; `key` is a
    // number, never dereferenced (`on_found` looks it up). With a server
    // set, lwIP does not call back before it returns.
    let code = unsafe {
        sys::dns_gethostbyname_addrtype(
            name.as_ptr(),
            &mut addr,
            Some(on_found),
            key as *mut c_void,
            family_code,
        )
    };
    match LwipError::from_code(code) {
        None => Ok(Lookup::Done(from_ip_addr(&addr))),
        Some(LwipError::InProgress) => Ok(Lookup::Asking(query)),
        Some(e) => Err(ResolveError::Lwip(e)),
    }
}

/// Why [`resolve`] could not start a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResolveError {
    Failed(Failure),
    Lwip(LwipError),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Failed(failure) => failure.fmt(f),
            ResolveError::Lwip(LwipError::Memory) => {
                f.write_str("lwIP's table of DNS queries is full (DNS_TABLE_SIZE)")
            }
            ResolveError::Lwip(LwipError::Argument) => f.write_str("lwIP refuses the name"),
            ResolveError::Lwip(e) => write!(f, "lwIP failed ({e})"),
        }
    }
}

/// Forgets every answer lwIP has cached (queries under way stay), so that
/// the next query for a name goes to the server (the DNS fuzz target).
pub(crate) fn forget_answers() {
    // SAFETY: lwIP runs on this thread; only marks cached entries unused.
    unsafe { sys::lwip_tap_dns_forget_answers() };
}

/// lwIP's found callback (`dns_found_callback`).
unsafe extern "C" fn on_found(_name: *const c_char, addr: *const sys::ip_addr_t, arg: *mut c_void) {
    let key = arg as usize;
    let found = PENDING.try_with(|pending| pending.try_borrow_mut().ok()?.remove(&key));
    let Some(found) = found.ok().flatten() else {
        return;
    };
    // SAFETY: lwIP passes a valid address or null.
    let result = match unsafe { addr.as_ref() } {
        Some(addr) => Ok(from_ip_addr(addr)),
        None => {
            // SAFETY: reads lwip/dns_glue.c's note, on lwIP's thread.
            let rcode = unsafe { sys::lwip_tap_dns_answer_rcode() };
            Err(u8::try_from(rcode).map_or(Failure::Timeout, Failure::Answer))
        }
    };
    found(result);
}
