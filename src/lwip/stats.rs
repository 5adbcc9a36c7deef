//! lwIP's statistics (memory pools, heap, per-protocol counters), read
//! through the C accessors of lwip/glue.c.

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

/// One protocol's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolCounts {
    pub name: String,
    pub xmit: u32,
    pub recv: u32,
    pub fw: u32,
    pub drop: u32,
    pub chkerr: u32,
    pub lenerr: u32,
    pub memerr: u32,
    pub rterr: u32,
    pub proterr: u32,
    pub opterr: u32,
    pub err: u32,
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

/// The heap and every memp pool.
pub(crate) fn pools() -> Vec<PoolUse> {
    let mut pools = Vec::new();
    for index in 0.. {
        let mut p = sys::lwip_tap_pool_use::default();
        // SAFETY: lwIP's counters on lwIP's thread; `p` is writable. The
        // names are static strings.
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

/// Every protocol's counters (ETHARP, IP, IP_FRAG, ICMP, UDP, TCP, IP6,
/// ICMP6, ND6).
pub(crate) fn protocols() -> Vec<ProtocolCounts> {
    let mut protocols = Vec::new();
    for index in 0.. {
        let mut p = sys::lwip_tap_proto_counts::default();
        // SAFETY: as in `pools`.
        if unsafe { sys::lwip_tap_stats_proto(index, &mut p) } == 0 {
            break;
        }
        protocols.push(ProtocolCounts {
            // SAFETY: as in `pools`.
            name: unsafe { name(p.name) },
            xmit: p.xmit,
            recv: p.recv,
            fw: p.fw,
            drop: p.drop,
            chkerr: p.chkerr,
            lenerr: p.lenerr,
            memerr: p.memerr,
            rterr: p.rterr,
            proterr: p.proterr,
            opterr: p.opterr,
            err: p.err,
        });
    }
    protocols
}

/// lwIP's MIB-2 counters (`lwip_stats.mib2`: `ipinreceives`, `udpindatagrams`,
/// ...), the ones its SNMP agent answers with, by name.
pub(crate) fn mib2() -> Vec<(String, u32)> {
    let mut counters = Vec::new();
    for index in 0.. {
        let mut name_ptr = std::ptr::null();
        let mut value = 0;
        // SAFETY: as in `pools`; both pointers are writable.
        if unsafe { sys::lwip_tap_stats_mib2(index, &mut name_ptr, &mut value) } == 0 {
            break;
        }
        // SAFETY: as in `pools`.
        counters.push((unsafe { name(name_ptr) }, value));
    }
    counters
}
