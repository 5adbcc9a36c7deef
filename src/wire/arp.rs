//! ARP for IPv4 over Ethernet (RFC 826).

use std::net::Ipv4Addr;

use super::{get_u16, put_u16, Error, Result};

/// The length of an Ethernet/IPv4 ARP packet.
pub const LEN: usize = 28;

pub const REQUEST: u16 = 1;
pub const REPLY: u16 = 2;

/// Where each field is (byte offsets and ranges).
pub mod field {
    use std::ops::Range;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// A view of `buffer`, which must hold an Ethernet/IPv4 ARP packet.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let bytes = buffer.as_ref();
        if bytes.len() < LEN {
            return Err(Error::Truncated);
        }
        if get_u16(bytes, field::HTYPE) != 1
            || get_u16(bytes, field::PTYPE) != 0x0800
            || bytes[field::HLEN] != 6
            || bytes[field::PLEN] != 4
        {
            return Err(Error::Malformed);
        }
        Ok(ArpPacket { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn operation(&self) -> u16 {
        get_u16(self.bytes(), field::OPER)
    }

    pub fn sender_mac(&self) -> [u8; 6] {
        <[u8; 6]>::try_from(&self.bytes()[field::SHA]).unwrap_or_default()
    }

    pub fn sender_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes()[field::SPA]).unwrap_or_default())
    }

    pub fn target_mac(&self) -> [u8; 6] {
        <[u8; 6]>::try_from(&self.bytes()[field::THA]).unwrap_or_default()
    }

    pub fn target_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes()[field::TPA]).unwrap_or_default())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes a whole packet: the fixed fields for Ethernet/IPv4, then
    /// these.
    pub fn fill(
        &mut self,
        operation: u16,
        (sender_mac, sender_ip): ([u8; 6], Ipv4Addr),
        (target_mac, target_ip): ([u8; 6], Ipv4Addr),
    ) {
        let bytes = self.buffer.as_mut();
        put_u16(bytes, field::HTYPE, 1);
        put_u16(bytes, field::PTYPE, 0x0800);
        bytes[field::HLEN] = 6;
        bytes[field::PLEN] = 4;
        put_u16(bytes, field::OPER, operation);
        bytes[field::SHA].copy_from_slice(&sender_mac);
        bytes[field::SPA].copy_from_slice(&sender_ip.octets());
        bytes[field::THA].copy_from_slice(&target_mac);
        bytes[field::TPA].copy_from_slice(&target_ip.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_packet_reads_back() {
        let mut bytes = [0u8; LEN];
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        ArpPacket::new_unchecked(&mut bytes[..]).fill(
            REPLY,
            ([2, 0, 0, 0, 0, 1], a),
            ([2, 0, 0, 0, 0, 2], b),
        );
        let arp = ArpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(arp.operation(), REPLY);
        assert_eq!((arp.sender_mac(), arp.sender_ip()), ([2, 0, 0, 0, 0, 1], a));
        assert_eq!((arp.target_mac(), arp.target_ip()), ([2, 0, 0, 0, 0, 2], b));
        assert_eq!(ArpPacket::new_checked(&bytes[..27]), Err(Error::Truncated));
        bytes[5] = 16;
        assert_eq!(ArpPacket::new_checked(&bytes[..]), Err(Error::Malformed));
    }
}
