//! IPv4 headers (RFC 791), options included.

use std::net::Ipv4Addr;

use super::{checksum, get_u16, put_u16, Error, IpProtocol, Result};

/// The header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// Where each field is (byte offsets and ranges).
pub mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const DONT_FRAGMENT: u16 = 0x4000;
const MORE_FRAGMENTS: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// An IPv4 header, at the start of the buffer. Only the header has to be
/// in the buffer; the payload may be cut short or be elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Header<T> {
    pub fn new_unchecked(buffer: T) -> Ipv4Header<T> {
        Ipv4Header { buffer }
    }

    /// A view of `buffer`, which must start with a whole IPv4 header
    /// (version 4, a header length of 20 to 60 bytes, all of it present,
    /// and a total length that covers it).
    pub fn new_checked(buffer: T) -> Result<Ipv4Header<T>> {
        let bytes = buffer.as_ref();
        if bytes.len() < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header = Ipv4Header { buffer };
        if header.version() != 4 || header.header_len() < MIN_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header.buffer.as_ref().len() < header.header_len() {
            return Err(Error::Truncated);
        }
        if usize::from(header.total_len()) < header.header_len() {
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

    pub fn version(&self) -> u8 {
        self.bytes()[field::VER_IHL] >> 4
    }

    /// The header's length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::VER_IHL] & 0x0f) * 4
    }

    /// The type of service byte: DSCP and ECN.
    pub fn tos(&self) -> u8 {
        self.bytes()[field::TOS]
    }

    /// The ECN codepoint (RFC 3168): 0 not ECT, 1 ECT(1), 2 ECT(0), 3 CE.
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    /// The length of the whole packet, header included.
    pub fn total_len(&self) -> u16 {
        get_u16(self.bytes(), field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        get_u16(self.bytes(), field::IDENT)
    }

    pub fn dont_fragment(&self) -> bool {
        get_u16(self.bytes(), field::FLAGS_FRAG) & DONT_FRAGMENT != 0
    }

    pub fn more_fragments(&self) -> bool {
        get_u16(self.bytes(), field::FLAGS_FRAG) & MORE_FRAGMENTS != 0
    }

    /// Where this fragment's data goes in the packet, in bytes.
    pub fn fragment_offset(&self) -> usize {
        usize::from(get_u16(self.bytes(), field::FLAGS_FRAG) & OFFSET_MASK) * 8
    }

    /// True for a fragment: more to come, or not the first.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.bytes()[field::TTL]
    }

    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.bytes()[field::PROTOCOL])
    }

    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM)
    }

    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes()[field::SRC]).unwrap_or_default())
    }

    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes()[field::DST]).unwrap_or_default())
    }

    /// The header, options included.
    pub fn header(&self) -> &[u8] {
        &self.bytes()[..self.header_len()]
    }

    /// The options.
    pub fn options(&self) -> &[u8] {
        &self.bytes()[MIN_HEADER_LEN..self.header_len()]
    }

    /// True if the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(self.header())
    }

    /// The payload as far as the buffer holds it (and the total length
    /// says it goes).
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.total_len()).min(self.bytes().len());
        &self.bytes()[self.header_len()..end.max(self.header_len())]
    }

    /// True if the buffer holds the whole packet.
    pub fn is_complete(&self) -> bool {
        self.bytes().len() >= usize::from(self.total_len())
    }
}

impl<'a> Ipv4Header<&'a [u8]> {
    /// The payload (see [`Self::payload`]), borrowed for as long as the
    /// buffer.
    pub fn into_payload(self) -> &'a [u8] {
        let (start, end) = (self.header_len(), self.payload().len() + self.header_len());
        &self.buffer[start..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Header<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets version 4 and a header of `len` bytes (a multiple of 4).
    pub fn set_version_and_header_len(&mut self, len: usize) {
        self.bytes_mut()[field::VER_IHL] = 0x40 | ((len / 4) as u8 & 0x0f);
    }

    pub fn set_tos(&mut self, tos: u8) {
        self.bytes_mut()[field::TOS] = tos;
    }

    pub fn set_total_len(&mut self, len: u16) {
        put_u16(self.bytes_mut(), field::LENGTH, len);
    }

    pub fn set_ident(&mut self, ident: u16) {
        put_u16(self.bytes_mut(), field::IDENT, ident);
    }

    /// Sets the flags and fragment offset: DF, MF and an offset in bytes
    /// (a multiple of 8).
    pub fn set_fragment(&mut self, dont_fragment: bool, more: bool, offset: usize) {
        let mut word = ((offset / 8) as u16) & OFFSET_MASK;
        if dont_fragment {
            word |= DONT_FRAGMENT;
        }
        if more {
            word |= MORE_FRAGMENTS;
        }
        put_u16(self.bytes_mut(), field::FLAGS_FRAG, word);
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.bytes_mut()[field::TTL] = ttl;
    }

    pub fn set_protocol(&mut self, protocol: IpProtocol) {
        self.bytes_mut()[field::PROTOCOL] = protocol.into();
    }

    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.bytes_mut(), field::CHECKSUM, value);
    }

    pub fn set_src(&mut self, addr: Ipv4Addr) {
        self.bytes_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    pub fn set_dst(&mut self, addr: Ipv4Addr) {
        self.bytes_mut()[field::DST].copy_from_slice(&addr.octets());
    }

    /// Computes the header checksum into its field.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::internet_checksum(self.header());
        self.set_checksum(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut bytes = vec![0u8; 28];
        let mut ip = Ipv4Header::new_unchecked(&mut bytes[..]);
        ip.set_version_and_header_len(20);
        ip.set_tos(0x02);
        ip.set_total_len(28);
        ip.set_ident(0x1234);
        ip.set_fragment(true, false, 0);
        ip.set_ttl(64);
        ip.set_protocol(IpProtocol::Udp);
        ip.set_src(Ipv4Addr::new(192, 168, 0, 1));
        ip.set_dst(Ipv4Addr::new(192, 0, 2, 1));
        ip.fill_checksum();
        bytes
    }

    #[test]
    fn a_built_header_reads_back() {
        let bytes = header();
        let ip = Ipv4Header::new_checked(&bytes[..]).unwrap();
        assert_eq!(ip.header_len(), 20);
        assert_eq!(
            (ip.tos(), ip.ecn(), ip.total_len(), ip.ident()),
            (2, 2, 28, 0x1234)
        );
        assert!(ip.dont_fragment() && !ip.is_fragment());
        assert_eq!((ip.ttl(), ip.protocol()), (64, IpProtocol::Udp));
        assert_eq!(ip.src(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(ip.dst(), Ipv4Addr::new(192, 0, 2, 1));
        assert!(ip.verify_checksum());
        assert_eq!(ip.payload().len(), 8);
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = header();
        for len in 0..20 {
            assert_eq!(Ipv4Header::new_checked(&good[..len]), Err(Error::Truncated));
        }
        let mut v6 = good.clone();
        v6[0] = 0x65;
        let mut short_ihl = good.clone();
        short_ihl[0] = 0x44;
        let mut short_total = good.clone();
        short_total[2..4].copy_from_slice(&[0, 19]);
        for bytes in [v6, short_ihl, short_total] {
            assert_eq!(Ipv4Header::new_checked(&bytes[..]), Err(Error::Malformed));
        }
        let mut options_missing = good.clone();
        options_missing[0] = 0x46;
        assert_eq!(
            Ipv4Header::new_checked(&options_missing[..20]),
            Err(Error::Truncated)
        );
    }
}
