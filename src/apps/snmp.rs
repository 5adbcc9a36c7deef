//! lwIP's SNMP agent (`--snmp COMMUNITY`): MIB-2 over SNMPv1 and v2c on UDP
//! port 161, read-only. lwIP answers; here each request it refuses is
//! logged as one line (the answered ones at debug level).
//!
//! Read-only: lwIP answers a SET only with its write community, which is
//! set to 32 random hex digits that lwip-tap never shows, so a SET is
//! refused as a wrong community is: no answer (lwIP's own choice for a
//! wrong community: nothing tells a prober which communities exist).

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::lwip::snmp::{self, SnmpOutcome};

/// The sysDescr lwIP's agent answers with: lwip-tap's and lwIP's versions.
pub(crate) fn sysdescr() -> String {
    format!(
        "lwip-tap {} (lwIP {})",
        env!("CARGO_PKG_VERSION"),
        crate::lwip::build::version()
    )
}

/// Starts the agent for the rest of the process.
pub(crate) fn start(community: &str) -> Result<(), String> {
    let write = format!(
        "{:016x}{:016x}",
        crate::lwip::port::random_u64(),
        crate::lwip::port::random_u64()
    );
    snmp::start(community, &write, &sysdescr(), report)
        .map_err(|e| format!("--snmp: lwIP cannot serve on UDP port 161 ({e})"))
}

thread_local! {
    /// The last refusal logged at info level: its peer, outcome and time.
    /// Repeats within a second go to debug level, so a flood is not a
    /// flood of log lines.
    static LAST: Cell<Option<(SocketAddr, SnmpOutcome, Instant)>> = const { Cell::new(None) };
}

fn report(outcome: SnmpOutcome, peer: SocketAddr, len: usize) {
    let what = match outcome {
        SnmpOutcome::Answered => {
            log::debug!("snmp: {peer}: answered a request of {len} bytes");
            return;
        }
        SnmpOutcome::BadCommunity => "wrong community (or a SET: the agent is read-only)",
        SnmpOutcome::Malformed => "malformed request (not SNMP's ASN.1)",
        SnmpOutcome::BadVersion => "unsupported SNMP version (v1 and v2c only)",
        SnmpOutcome::Dropped => {
            "dropped by lwIP (not a request it answers, or no memory for the answer)"
        }
    };
    let now = Instant::now();
    let repeat = LAST.get().is_some_and(|(p, o, at)| {
        p == peer && o == outcome && now.duration_since(at) < Duration::from_secs(1)
    });
    if repeat {
        log::debug!("snmp: {peer}: refused, no answer: {what} ({len} bytes)");
        return;
    }
    LAST.set(Some((peer, outcome, now)));
    log::warn!("snmp: {peer}: refused, no answer: {what} ({len} bytes)");
}
