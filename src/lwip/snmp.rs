//! lwIP's SNMP agent (lwip/snmp_glue.c): MIB-2 over SNMPv1 and v2c on UDP
//! port 161, read-only. lwIP parses and answers every request; the glue
//! tells us what became of each, for one log line.

use std::cell::Cell;
use std::ffi::CString;
use std::net::SocketAddr;

use super::addr::from_ip_addr;
use super::LwipError;
use crate::sys;

/// What lwIP's agent did with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnmpOutcome {
    /// Answered (a value, or an SNMP error such as noSuchObject).
    Answered,
    /// Refused for its community (or a SET, which no community may make):
    /// no answer.
    BadCommunity,
    /// Not a well-formed SNMP message (ASN.1 parse error): no answer.
    Malformed,
    /// An SNMP version other than v1 and v2c: no answer.
    BadVersion,
    /// Dropped for another reason (a PDU that is no request, or no memory
    /// for the answer).
    Dropped,
}

/// Who is told of each request.
pub(crate) type SnmpReport = fn(SnmpOutcome, SocketAddr, usize);

thread_local! {
    static REPORT: Cell<Option<SnmpReport>> = const { Cell::new(None) };
}

/// Starts lwIP's agent on UDP port 161 for the rest of the process:
/// `community` for reads, `write` for SETs, `descr` as sysDescr. Every
/// request's outcome goes to `report`.
pub(crate) fn start(
    community: &str,
    write: &str,
    descr: &str,
    report: SnmpReport,
) -> Result<(), LwipError> {
    let c_string = |s: &str| CString::new(s).map_err(|_| LwipError::Argument);
    let (community, write, descr) = (c_string(community)?, c_string(write)?, c_string(descr)?);
    REPORT.set(Some(report));
    // SAFETY: lwIP runs on this thread; the strings are NUL-terminated and
    // copied by the glue.
    let result = super::check(unsafe {
        sys::lwip_tap_snmp_start(community.as_ptr(), write.as_ptr(), descr.as_ptr())
    });
    if result.is_err() {
        REPORT.set(None);
    }
    result
}

/// Called by lwip/snmp_glue.c after lwIP handled a request.
///
/// # Safety
/// `addr` is null or lwIP's address of the request's sender, valid for the
/// call.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_snmp_event(
    outcome: libc::c_int,
    addr: *const sys::ip_addr_t,
    port: u16,
    len: u16,
) {
    // SAFETY: as the caller guarantees.
    let Some(addr) = (unsafe { addr.as_ref() }) else {
        return;
    };
    let outcome = match outcome.cast_unsigned() {
        sys::LWIP_TAP_SNMP_ANSWERED => SnmpOutcome::Answered,
        sys::LWIP_TAP_SNMP_BAD_COMMUNITY => SnmpOutcome::BadCommunity,
        sys::LWIP_TAP_SNMP_MALFORMED => SnmpOutcome::Malformed,
        sys::LWIP_TAP_SNMP_BAD_VERSION => SnmpOutcome::BadVersion,
        _ => SnmpOutcome::Dropped,
    };
    if let Some(report) = REPORT.get() {
        report(
            outcome,
            SocketAddr::new(from_ip_addr(addr), port),
            usize::from(len),
        );
    }
}
