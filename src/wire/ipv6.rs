//! IPv6 headers (RFC 8200) and the extension headers in front of the
//! upper-layer header.

use std::net::Ipv6Addr;

use super::{get_u16, put_u16, Error, IpProtocol, Result};

/// The fixed header.
pub const HEADER_LEN: usize = 40;

/// Where each field is (byte offsets and ranges).
pub mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// An IPv6 header, at the start of the buffer. Only the fixed header has
/// to be in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Header<T> {
    pub fn new_unchecked(buffer: T) -> Ipv6Header<T> {
        Ipv6Header { buffer }
    }

    /// A view of `buffer`, which must start with a whole IPv6 header.
    pub fn new_checked(buffer: T) -> Result<Ipv6Header<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header = Ipv6Header { buffer };
        if header.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(header)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn first_word(&self) -> u32 {
        super::get_u32(self.bytes(), field::VER_TC_FLOW.start)
    }

    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The ECN codepoint (the low two bits of the traffic class).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// The length of what follows the fixed header.
    pub fn payload_len(&self) -> u16 {
        get_u16(self.bytes(), field::PAYLOAD_LEN)
    }

    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.bytes()[field::NEXT_HEADER])
    }

    pub fn hop_limit(&self) -> u8 {
        self.bytes()[field::HOP_LIMIT]
    }

    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.bytes()[field::SRC]).unwrap_or_default())
    }

    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.bytes()[field::DST]).unwrap_or_default())
    }

    /// What follows the fixed header, as far as the buffer holds it (and
    /// the payload length says it goes).
    pub fn payload(&self) -> &[u8] {
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(self.bytes().len());
        &self.bytes()[HEADER_LEN..end]
    }

    /// True if the buffer holds the whole packet.
    pub fn is_complete(&self) -> bool {
        self.bytes().len() >= HEADER_LEN + usize::from(self.payload_len())
    }

    /// The upper-layer protocol and where its header starts in
    /// [`Self::payload`], past hop-by-hop, routing and destination options
    /// headers. A fragment header ends the walk: it is returned as
    /// [`IpProtocol::Fragment`].
    pub fn upper_layer(&self) -> Result<(IpProtocol, usize)> {
        skip_extension_headers(self.next_header(), self.payload())
    }
}

/// Walks the extension headers at the start of `after` (the first of kind
/// `next`) to the first header that is not one (or a fragment header).
pub fn skip_extension_headers(mut next: IpProtocol, after: &[u8]) -> Result<(IpProtocol, usize)> {
    let mut at = 0;
    loop {
        match next {
            IpProtocol::HopByHop | IpProtocol::Routing | IpProtocol::DestinationOptions => {
                let header = after.get(at..at + 2).ok_or(Error::Truncated)?;
                next = IpProtocol::from(header[0]);
                at += (usize::from(header[1]) + 1) * 8;
                if at > after.len() {
                    return Err(Error::Truncated);
                }
            }
            other => return Ok((other, at)),
        }
    }
}

/// The fragment extension header (RFC 8200 4.5), 8 bytes.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// A fragment header at the start of the buffer (where
/// [`Ipv6Header::upper_layer`] stops at [`IpProtocol::Fragment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader<'a> {
    bytes: &'a [u8],
}

impl<'a> FragmentHeader<'a> {
    /// A view of `buffer`, which must start with the whole 8-byte header.
    pub fn new_checked(buffer: &'a [u8]) -> Result<FragmentHeader<'a>> {
        match buffer.get(..FRAGMENT_HEADER_LEN) {
            Some(bytes) => Ok(FragmentHeader { bytes }),
            None => Err(Error::Truncated),
        }
    }

    /// The header after this one (the fragmented packet's).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.bytes[0])
    }

    /// Where this fragment's data goes in the original payload, in bytes.
    pub fn offset(&self) -> usize {
        usize::from(get_u16(self.bytes, 2) & !7)
    }

    /// The M flag: more fragments follow.
    pub fn more_fragments(&self) -> bool {
        get_u16(self.bytes, 2) & 1 != 0
    }
}

impl<'a> Ipv6Header<&'a [u8]> {
    /// What follows the fixed header (see [`Self::payload`]), borrowed for
    /// as long as the buffer.
    pub fn into_payload(self) -> &'a [u8] {
        let end = HEADER_LEN + self.payload().len();
        &self.buffer[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Header<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets version 6, the traffic class and the flow label.
    pub fn set_version_class_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        super::put_u32(self.bytes_mut(), field::VER_TC_FLOW.start, word);
    }

    pub fn set_payload_len(&mut self, len: u16) {
        put_u16(self.bytes_mut(), field::PAYLOAD_LEN, len);
    }

    pub fn set_next_header(&mut self, next: IpProtocol) {
        self.bytes_mut()[field::NEXT_HEADER] = next.into();
    }

    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.bytes_mut()[field::HOP_LIMIT] = hop_limit;
    }

    pub fn set_src(&mut self, addr: Ipv6Addr) {
        self.bytes_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    pub fn set_dst(&mut self, addr: Ipv6Addr) {
        self.bytes_mut()[field::DST].copy_from_slice(&addr.octets());
    }
}

/// The solicited-node multicast address of `addr` (RFC 4291, 2.7.1).
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet address an IPv6 multicast address maps to (RFC 2464, 7).
pub fn multicast_mac(addr: Ipv6Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_header_gives_its_next_header_offset_and_more_flag() {
        // Next header UDP, offset 1448 bytes (181 units of 8), M set.
        let bytes = [17, 0, 0x05, 0xa9, 0xde, 0xad, 0xbe, 0xef, 0xff];
        let fragment = FragmentHeader::new_checked(&bytes).unwrap();
        assert_eq!(fragment.next_header(), IpProtocol::Udp);
        assert_eq!(fragment.offset(), 1448);
        assert!(fragment.more_fragments());
        let last = [6, 0, 0x05, 0xa8, 0, 0, 0, 0];
        let fragment = FragmentHeader::new_checked(&last).unwrap();
        assert_eq!(fragment.next_header(), IpProtocol::Tcp);
        assert_eq!(fragment.offset(), 1448);
        assert!(!fragment.more_fragments());
        assert_eq!(
            FragmentHeader::new_checked(&bytes[..7]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn a_built_header_reads_back_and_extension_headers_are_skipped() {
        let mut bytes = vec![0u8; HEADER_LEN + 8 + 4];
        let mut ip = Ipv6Header::new_unchecked(&mut bytes[..]);
        ip.set_version_class_flow(0xb8 | 1, 0x12345);
        ip.set_payload_len(12);
        ip.set_next_header(IpProtocol::HopByHop);
        ip.set_hop_limit(1);
        ip.set_src("fe80::1".parse().unwrap());
        ip.set_dst("ff02::16".parse().unwrap());
        bytes[HEADER_LEN] = 58; // hop-by-hop header, then ICMPv6
        let ip = Ipv6Header::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            (ip.traffic_class(), ip.ecn(), ip.flow_label()),
            (0xb9, 1, 0x12345)
        );
        assert_eq!((ip.payload_len(), ip.hop_limit()), (12, 1));
        assert_eq!(ip.src(), "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ip.upper_layer(), Ok((IpProtocol::Icmpv6, 8)));
        assert_eq!(Ipv6Header::new_checked(&bytes[..39]), Err(Error::Truncated));
        let mut cut = bytes.clone();
        cut[HEADER_LEN + 1] = 4;
        let ip = Ipv6Header::new_checked(&cut[..]).unwrap();
        assert_eq!(ip.upper_layer(), Err(Error::Truncated));
    }

    #[test]
    fn multicast_mappings() {
        let addr: Ipv6Addr = "fd3d:fa7b:d17d::1:2:3".parse().unwrap();
        assert_eq!(
            solicited_node(addr),
            "ff02::1:ff02:3".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            multicast_mac(solicited_node(addr)),
            [0x33, 0x33, 0xff, 0x02, 0, 3]
        );
    }
}
