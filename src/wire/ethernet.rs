//! Ethernet II frames (no VLAN tag: lwip-tap's interfaces have none).

use super::{get_u16, put_u16, Error, Result};

/// Destination, source and EtherType.
pub const HEADER_LEN: usize = 14;

/// Where each field is (byte offsets and ranges).
pub mod field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
}

/// The protocol a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    Ipv6,
    Other(u16),
}

impl From<u16> for EtherType {
    fn from(value: u16) -> EtherType {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Other(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> u16 {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Other(other) => other,
        }
    }
}

/// An Ethernet frame: its header and what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// A view of `buffer` without any check; getters panic on a buffer
    /// shorter than the header.
    pub fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// A view of `buffer`, which must hold the header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst(&self) -> [u8; 6] {
        self.mac(field::DST)
    }

    pub fn src(&self) -> [u8; 6] {
        self.mac(field::SRC)
    }

    fn mac(&self, range: std::ops::Range<usize>) -> [u8; 6] {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[range]);
        mac
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType::from(get_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac);
    }

    pub fn set_src(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac);
    }

    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        put_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// True for a group (multicast or broadcast) address.
pub fn is_group(mac: [u8; 6]) -> bool {
    mac[0] & 1 != 0
}

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_in_place() {
        let mut bytes = [0u8; 20];
        let mut frame = EthernetFrame::new_checked(&mut bytes[..]).unwrap();
        frame.set_dst([2, 0, 0, 0, 0, 1]);
        frame.set_src([2, 0, 0, 0, 0, 2]);
        frame.set_ethertype(EtherType::Ipv6);
        frame.payload_mut()[0] = 0x60;
        assert_eq!(frame.dst(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(frame.src(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(frame.ethertype(), EtherType::Ipv6);
        assert_eq!(&bytes[12..15], &[0x86, 0xdd, 0x60]);
        assert_eq!(
            EthernetFrame::new_checked(&bytes[..13]),
            Err(Error::Truncated)
        );
        assert_eq!(format_mac(&[2, 0, 0xab, 0, 0, 1]), "02:00:ab:00:00:01");
    }
}
