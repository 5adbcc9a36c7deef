//! ICMP (RFC 792) and ICMPv6 (RFC 4443) messages, which share their first
//! eight bytes (type, code, checksum, four bytes that depend on the type),
//! and neighbor discovery's solicitations and advertisements (RFC 4861).

use std::net::Ipv6Addr;

use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};

/// Type, code, checksum and the four bytes after them.
pub const HEADER_LEN: usize = 8;

/// ICMP (for IPv4) message types and codes.
pub mod v4 {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
    /// Destination unreachable codes.
    pub const NET_UNREACHABLE: u8 = 0;
    pub const HOST_UNREACHABLE: u8 = 1;
    pub const PROTOCOL_UNREACHABLE: u8 = 2;
    pub const PORT_UNREACHABLE: u8 = 3;
    pub const FRAGMENTATION_NEEDED: u8 = 4;
}

/// ICMPv6 message types and codes.
pub mod v6 {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAMETER_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const MLD_QUERY: u8 = 130;
    pub const MLD_REPORT: u8 = 131;
    pub const MLD_DONE: u8 = 132;
    pub const ROUTER_SOLICITATION: u8 = 133;
    pub const ROUTER_ADVERTISEMENT: u8 = 134;
    pub const NEIGHBOR_SOLICITATION: u8 = 135;
    pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;
    pub const MLD2_REPORT: u8 = 143;
    /// Destination unreachable codes.
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const ADDRESS_UNREACHABLE: u8 = 3;
    pub const PORT_UNREACHABLE: u8 = 4;
}

/// Where each field is (byte offsets and ranges).
pub mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
}

/// Where the checksum field is in an ICMP message.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM;

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpMessage<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpMessage<T> {
    pub fn new_unchecked(buffer: T) -> IcmpMessage<T> {
        IcmpMessage { buffer }
    }

    /// A view of `buffer`, which must hold the first eight bytes.
    pub fn new_checked(buffer: T) -> Result<IcmpMessage<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(IcmpMessage { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.bytes()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.bytes()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM)
    }

    /// The four bytes after the checksum (identifier and sequence number of
    /// an echo, an MTU, a pointer, or unused).
    pub fn rest(&self) -> u32 {
        get_u32(self.bytes(), field::REST)
    }

    /// An echo's identifier.
    pub fn echo_id(&self) -> u16 {
        get_u16(self.bytes(), field::REST)
    }

    /// An echo's sequence number.
    pub fn echo_seq(&self) -> u16 {
        get_u16(self.bytes(), field::REST + 2)
    }

    /// The next-hop MTU of an ICMP "fragmentation needed" (RFC 1191).
    pub fn next_hop_mtu_v4(&self) -> u16 {
        get_u16(self.bytes(), field::REST + 2)
    }

    /// What follows the first eight bytes: an echo's data, or the packet
    /// an error quotes.
    pub fn data(&self) -> &[u8] {
        &self.bytes()[HEADER_LEN..]
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpMessage<T> {
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    pub fn set_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    pub fn set_rest(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), field::REST, value);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// Neighbor discovery option types (RFC 4861, 4.6).
pub const ND_OPT_SOURCE_LL: u8 = 1;
pub const ND_OPT_TARGET_LL: u8 = 2;

/// A neighbor solicitation or advertisement: the target address and its
/// link-layer address option, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborMessage {
    pub target: Ipv6Addr,
    /// The source (solicitation) or target (advertisement) link-layer
    /// address option.
    pub link_layer: Option<[u8; 6]>,
}

impl NeighborMessage {
    /// Reads the body of an ICMPv6 neighbor solicitation or advertisement.
    pub fn parse<T: AsRef<[u8]>>(message: &IcmpMessage<T>) -> Result<NeighborMessage> {
        let data = message.data();
        let target: [u8; 16] = data
            .get(..16)
            .ok_or(Error::Truncated)?
            .try_into()
            .map_err(|_| Error::Truncated)?;
        let mut options = &data[16..];
        let mut link_layer = None;
        while options.len() >= 2 {
            let len = usize::from(options[1]) * 8;
            if len == 0 || len > options.len() {
                return Err(Error::Malformed);
            }
            if matches!(options[0], ND_OPT_SOURCE_LL | ND_OPT_TARGET_LL) && len == 8 {
                link_layer = options[2..8].try_into().ok();
            }
            options = &options[len..];
        }
        Ok(NeighborMessage {
            target: Ipv6Addr::from(target),
            link_layer,
        })
    }
}
