//! lwIP's statistics (memory pools, heap, per-protocol counters), read
//! through the C accessors of lwip/glue.c and logged one concise line each,
//! for `--stats` and SIGUSR1.

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

/// # Safety
/// `name` must be null or a NUL-terminated string.
unsafe fn name(name: *const libc::c_char) -> String {
    if name.is_null() {
        return "?".into();
    }
    // SAFETY: as the caller guarantees.
    unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

/// The heap and every memp pool. lwIP must be running on this thread (the
/// caller is a `Stack` method).
pub(crate) fn pools() -> Vec<PoolUse> {
    let mut pools = Vec::new();
    for index in 0.. {
        let mut p = sys::lwip_tap_pool_use::default();
        // SAFETY: lwIP runs on this thread; `p` is writable. The names are
        // static strings.
        if unsafe { sys::lwip_tap_stats_pool(index, &mut p) } == 0 {
            break;
        }
        pools.push(PoolUse {
            // SAFETY: as above.
            name: unsafe { name(p.name) },
            used: p.used.into(),
            max: p.max.into(),
            avail: p.avail.into(),
            err: p.err.into(),
        });
    }
    pools
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
    for index in 0.. {
        let mut p = sys::lwip_tap_proto_counts::default();
        // SAFETY: as in `pools`.
        if unsafe { sys::lwip_tap_stats_proto(index, &mut p) } == 0 {
            break;
        }
        // SAFETY: as in `pools`.
        let name = unsafe { name(p.name) };
        log::info!(
            "stats: {name} xmit {} recv {} fw {} drop {} chkerr {} lenerr {} memerr {} rterr {} proterr {} opterr {} err {}",
            p.xmit, p.recv, p.fw, p.drop, p.chkerr, p.lenerr, p.memerr, p.rterr, p.proterr, p.opterr, p.err
        );
    }
}
