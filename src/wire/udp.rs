//! UDP headers (RFC 768).

use super::{get_u16, put_u16, Error, Result};

pub const HEADER_LEN: usize = 8;

/// Where each field is (byte offsets and ranges).
pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// Where the checksum field is in the UDP header.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM;

/// A UDP header, at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpHeader<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpHeader<T> {
    pub fn new_unchecked(buffer: T) -> UdpHeader<T> {
        UdpHeader { buffer }
    }

    /// A view of `buffer`, which must hold the header, with a length field
    /// that covers it.
    pub fn new_checked(buffer: T) -> Result<UdpHeader<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header = UdpHeader { buffer };
        if usize::from(header.len()) < HEADER_LEN {
            return Err(Error::Malformed);
        }
        Ok(header)
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn src_port(&self) -> u16 {
        get_u16(self.bytes(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        get_u16(self.bytes(), field::DST_PORT)
    }

    /// The datagram's length, header included.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        get_u16(self.bytes(), field::LENGTH)
    }

    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM)
    }

    /// The payload, as far as the buffer holds it (and the length says it
    /// goes).
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.len()).min(self.bytes().len());
        &self.bytes()[HEADER_LEN..end.max(HEADER_LEN)]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpHeader<T> {
    pub fn set_src_port(&mut self, port: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_len(&mut self, len: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }
}
