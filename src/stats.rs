//! lwIP's statistics (memory pools, heap, per-protocol and MIB-2 counters) for
//! `--stats` and SIGUSR1: as log lines, leaving out the rows with nothing
//! in them, or as JSON with every counter. The stack adds its interfaces'
//! counters (`Stack::log_stats`).

use serde_json::{json, Map, Value};

pub use crate::lwip::stats::{PoolUse, ProtocolCounts};

/// The heap and every memp pool.
pub(crate) fn pools() -> Vec<PoolUse> {
    crate::lwip::stats::pools()
}

/// A pool never used: nothing in it now, never anything, no failure
/// (`avail` is its size, never zero).
fn unused(p: &PoolUse) -> bool {
    p.used == 0 && p.max == 0 && p.err == 0
}

fn protocol_counts(p: &ProtocolCounts) -> [(&'static str, u32); 11] {
    [
        ("xmit", p.xmit),
        ("recv", p.recv),
        ("fw", p.fw),
        ("drop", p.drop),
        ("chkerr", p.chkerr),
        ("lenerr", p.lenerr),
        ("memerr", p.memerr),
        ("rterr", p.rterr),
        ("proterr", p.proterr),
        ("opterr", p.opterr),
        ("err", p.err),
    ]
}

/// Logs one line per pool that was used and per protocol with a counter
/// above zero, at info level, then one line saying how many were left out
/// (it also ends the block).
pub(crate) fn log() {
    let mut left_out = 0;
    for p in pools() {
        if unused(&p) {
            left_out += 1;
            continue;
        }
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
        let counts = protocol_counts(&p);
        if counts.iter().all(|(_, n)| *n == 0) {
            left_out += 1;
            continue;
        }
        let text: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        log::info!("stats: {} {}", p.name, text.join(" "));
    }
    let mib2: Vec<String> = crate::lwip::stats::mib2()
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if mib2.is_empty() {
        left_out += 1;
    } else {
        log::info!("stats: MIB2 {}", mib2.join(" "));
    }
    log::info!(
        "stats: {left_out} unused pools and protocols left out (all zero; --stats=json shows them)"
    );
}

/// Every pool and protocol: `{"pools": {"HEAP": {"used": …, "max": …,
/// "avail": …, "err": …}, …}, "protocols": {"ICMP": {"xmit": …, …}, …},
/// "mib2": {"ipinreceives": …, …}}` (lwIP's MIB-2 counters, which its SNMP
/// agent answers with).
pub(crate) fn json() -> Map<String, Value> {
    let pools: Map<String, Value> = pools()
        .into_iter()
        .map(|p| {
            let value = json!({ "used": p.used, "max": p.max, "avail": p.avail, "err": p.err });
            (p.name, value)
        })
        .collect();
    let protocols: Map<String, Value> = crate::lwip::stats::protocols()
        .into_iter()
        .map(|p| {
            let counts: Map<String, Value> = protocol_counts(&p)
                .iter()
                .map(|(k, n)| (k.to_string(), json!(n)))
                .collect();
            (p.name, Value::Object(counts))
        })
        .collect();
    let mut all = Map::new();
    all.insert("pools".into(), Value::Object(pools));
    all.insert("protocols".into(), Value::Object(protocols));
    let mib2: Map<String, Value> = crate::lwip::stats::mib2()
        .into_iter()
        .map(|(k, n)| (k, json!(n)))
        .collect();
    all.insert("mib2".into(), Value::Object(mib2));
    all
}
