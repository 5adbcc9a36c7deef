//! lwIP's statistics (memory pools, heap, per-protocol counters), logged
//! one concise line each, for `--stats` and SIGUSR1.

pub use crate::lwip::stats::{PoolUse, ProtocolCounts};

/// The heap and every memp pool.
pub(crate) fn pools() -> Vec<PoolUse> {
    crate::lwip::stats::pools()
}

/// Logs one line per pool and per protocol at info level.
pub(crate) fn log() {
    for p in pools() {
        log::info!(
            "stats: {} used {} max {} avail {} err {}",
            p.name,
            p.used,
            p.max,
            p.avail,
            p.err
        );
    }
    for p in crate::lwip::stats::protocols() {
        log::info!(
            "stats: {} xmit {} recv {} fw {} drop {} chkerr {} lenerr {} memerr {} rterr {} proterr {} opterr {} err {}",
            p.name, p.xmit, p.recv, p.fw, p.drop, p.chkerr, p.lenerr, p.memerr, p.rterr, p.proterr, p.opterr, p.err
        );
    }
}
