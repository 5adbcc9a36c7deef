//! lwIP's statistics (memory pools, heap, per-protocol counters) read from
//! `lwip_stats` and logged one concise line each, for `--stats` and SIGUSR1.

use std::ffi::CStr;

use crate::sys;

/// Use of one lwIP memory pool (or the heap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    pub name: String,
    pub used: u64,
    pub max: u64,
    pub avail: u64,
    pub err: u64,
}

/// The heap and every memp pool.
pub fn pools() -> Vec<PoolUse> {
    // SAFETY: lwIP runs on this thread only; lwip_stats is plain data whose
    // memp pointers lwIP sets to static pool descriptors in lwip_init.
    unsafe {
        let stats = &*std::ptr::addr_of!(sys::lwip_stats);
        let mut pools = vec![pool("HEAP", &stats.mem)];
        for &mem in stats.memp.iter() {
            if let Some(mem) = mem.as_ref() {
                let name = if mem.name.is_null() {
                    "?".into()
                } else {
                    CStr::from_ptr(mem.name).to_string_lossy().into_owned()
                };
                pools.push(pool(&name, mem));
            }
        }
        pools
    }
}

fn pool(name: &str, mem: &sys::stats_mem) -> PoolUse {
    PoolUse {
        name: name.to_string(),
        used: mem.used as u64,
        max: mem.max as u64,
        avail: mem.avail as u64,
        err: mem.err as u64,
    }
}

/// Logs one line per pool and per protocol at info level.
pub fn log() {
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
    // SAFETY: as in `pools`.
    let stats = unsafe { &*std::ptr::addr_of!(sys::lwip_stats) };
    let protocols = [
        ("ETHARP", &stats.etharp),
        ("IP", &stats.ip),
        ("IP_FRAG", &stats.ip_frag),
        ("ICMP", &stats.icmp),
        ("UDP", &stats.udp),
        ("TCP", &stats.tcp),
        ("IP6", &stats.ip6),
        ("ICMP6", &stats.icmp6),
        ("ND6", &stats.nd6),
    ];
    for (name, p) in protocols {
        log::info!(
            "stats: {name} xmit {} recv {} fw {} drop {} chkerr {} lenerr {} memerr {} rterr {} proterr {} opterr {} err {}",
            p.xmit, p.recv, p.fw, p.drop, p.chkerr, p.lenerr, p.memerr, p.rterr, p.proterr, p.opterr, p.err
        );
    }
}
