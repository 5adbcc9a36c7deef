//! iperf2 server on TCP port 5001, over IPv4 and IPv6: lwIP's lwiperf, with
//! each finished test reported through the log. The client
//! (`--iperf-client`) is in `iperf_client.rs` and reports the same way.

use crate::error::Error;
use crate::lwip::apps::{self, IperfOutcome, IperfReport};

/// iperf2's port.
pub(crate) const PORT: u16 = 5001;

pub(crate) fn start() -> Result<(), Error> {
    // lwiperf_start_tcp_server_default() listens on IPv4's any-address
    // only; the server here takes IPv6 clients too.
    apps::start_iperf_server(PORT, log_report)
        .map_err(|e| Error::lwip("iperf: cannot listen on TCP port 5001", e))
}

fn log_report(report: IperfReport) {
    let outcome = match report.outcome {
        IperfOutcome::DoneServer => "done",
        IperfOutcome::AbortedRemote => "aborted (connection reset)",
        IperfOutcome::AbortedLocal => "aborted locally",
        IperfOutcome::AbortedLocalDataError => "aborted: bad data",
        IperfOutcome::AbortedLocalTxError => "aborted: send error",
        _ => "finished",
    };
    let peer = match report.remote {
        Some(addr) => format!("{} port {}", addr.ip(), addr.port()),
        None => "a client".to_string(),
    };
    log::info!("iperf: {peer}: {outcome}, {}", figures(&report));
}

/// The figures of an lwiperf report: `N bytes in S s, R Mbit/s`.
pub(super) fn figures(report: &IperfReport) -> String {
    // lwiperf counts in 32 bits: a test of more than 4 GiB wraps around.
    format!(
        "{} bytes in {}.{:03} s, {:.1} Mbit/s",
        report.bytes,
        report.ms / 1000,
        report.ms % 1000,
        f64::from(report.kbit_per_s) / 1000.0
    )
}
