//! lwIP's addresses (`ip4_addr_t`, `ip6_addr_t`, the dual-stack
//! `ip_addr_t`) and the standard library's, both ways.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::sys;

/// An IPv4 address as lwIP stores it (network byte order in a u32).
pub(crate) fn ip4(addr: Ipv4Addr) -> sys::ip4_addr_t {
    sys::ip4_addr_t {
        addr: u32::from_ne_bytes(addr.octets()),
    }
}

pub(crate) fn from_ip4(addr: sys::ip4_addr_t) -> Ipv4Addr {
    Ipv4Addr::from(addr.addr.to_ne_bytes())
}

/// An address as lwIP's dual-stack address (an IPv6 address without a
/// zone).
pub(crate) fn ip_addr(addr: IpAddr) -> sys::ip_addr_t {
    let mut out = sys::ip_addr_t::default();
    match addr {
        IpAddr::V4(v4) => {
            out.u_addr.ip4 = ip4(v4);
            out.type_ = sys::IPADDR_TYPE_V4 as u8;
        }
        IpAddr::V6(v6) => {
            let mut words = [0u32; 4];
            for (word, chunk) in words.iter_mut().zip(v6.octets().chunks_exact(4)) {
                *word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            out.u_addr.ip6 = sys::ip6_addr_t {
                addr: words,
                ..Default::default()
            };
            out.type_ = sys::IPADDR_TYPE_V6 as u8;
        }
    }
    out
}

/// Converts lwIP's dual-stack address to the standard library's.
pub(crate) fn from_ip_addr(addr: &sys::ip_addr_t) -> IpAddr {
    // SAFETY: `type_` says which union member is valid; both are plain
    // integers, so reading either is defined.
    unsafe {
        if u32::from(addr.type_) == sys::IPADDR_TYPE_V6 {
            let mut octets = [0u8; 16];
            for (chunk, word) in octets.chunks_mut(4).zip(addr.u_addr.ip6.addr) {
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            IpAddr::V4(from_ip4(addr.u_addr.ip4))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_lwips_form() {
        for addr in ["192.0.2.1", "fd3d:fa7b:d17d::1", "::", "0.0.0.0"] {
            let addr: IpAddr = addr.parse().unwrap();
            assert_eq!(from_ip_addr(&ip_addr(addr)), addr);
        }
        let v4 = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(from_ip4(ip4(v4)), v4);
    }
}
