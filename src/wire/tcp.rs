//! TCP headers (RFC 9293) and their options, kept whole and in order: up
//! to four SACK blocks (RFC 2018), timestamps (RFC 7323), and options of
//! unknown kinds as they are.

use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};

/// The header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// The header with the most options.
pub const MAX_HEADER_LEN: usize = 60;

/// Where each field is (byte offsets and ranges).
pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// Where the checksum field is in the TCP header.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM;

/// The control bits of a TCP header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if any bit of `other` is set.
    pub fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub fn without(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
}

/// A TCP header, at the start of the buffer: the header must be there, the
/// payload may be cut short or be elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpHeader<T> {
    pub fn new_unchecked(buffer: T) -> TcpHeader<T> {
        TcpHeader { buffer }
    }

    /// A view of `buffer`, which must start with a whole TCP header
    /// (options included, as its data offset says).
    pub fn new_checked(buffer: T) -> Result<TcpHeader<T>> {
        if buffer.as_ref().len() < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header = TcpHeader { buffer };
        if header.header_len() < MIN_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header.buffer.as_ref().len() < header.header_len() {
            return Err(Error::Truncated);
        }
        Ok(header)
    }

    pub fn into_inner(self) -> T {
        self.buffer
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

    pub fn seq(&self) -> u32 {
        get_u32(self.bytes(), field::SEQ)
    }

    pub fn ack(&self) -> u32 {
        get_u32(self.bytes(), field::ACK)
    }

    /// The header's length in bytes (the data offset), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::DATA_OFFSET] >> 4) * 4
    }

    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.bytes()[field::FLAGS])
    }

    pub fn window(&self) -> u16 {
        get_u16(self.bytes(), field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        get_u16(self.bytes(), field::CHECKSUM)
    }

    pub fn urgent(&self) -> u16 {
        get_u16(self.bytes(), field::URGENT)
    }

    /// The options' bytes.
    pub fn options(&self) -> &[u8] {
        &self.bytes()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The options, in order.
    pub fn option_iter(&self) -> TcpOptionIter<'_> {
        TcpOptionIter {
            rest: self.options(),
        }
    }

    /// The payload, as far as the buffer holds it.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpHeader<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    pub fn set_src_port(&mut self, port: u16) {
        put_u16(self.bytes_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        put_u16(self.bytes_mut(), field::DST_PORT, port);
    }

    pub fn set_seq(&mut self, seq: u32) {
        put_u32(self.bytes_mut(), field::SEQ, seq);
    }

    pub fn set_ack(&mut self, ack: u32) {
        put_u32(self.bytes_mut(), field::ACK, ack);
    }

    /// Sets the data offset: a header of `len` bytes (a multiple of 4).
    pub fn set_header_len(&mut self, len: usize) {
        self.bytes_mut()[field::DATA_OFFSET] = ((len / 4) as u8) << 4;
    }

    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.bytes_mut()[field::FLAGS] = flags.0;
    }

    pub fn set_window(&mut self, window: u16) {
        put_u16(self.bytes_mut(), field::WINDOW, window);
    }

    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.bytes_mut(), field::CHECKSUM, value);
    }

    pub fn set_urgent(&mut self, urgent: u16) {
        put_u16(self.bytes_mut(), field::URGENT, urgent);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let len = self.header_len();
        &mut self.bytes_mut()[MIN_HEADER_LEN..len]
    }
}

/// Option kinds.
pub mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// The most SACK blocks an option holds (in 40 bytes of options).
pub const MAX_SACK_BLOCKS: usize = 4;

/// The blocks of a SACK option: left and right edges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SackBlocks {
    blocks: [(u32, u32); MAX_SACK_BLOCKS],
    count: usize,
}

impl SackBlocks {
    /// Up to four blocks; more are refused.
    pub fn new(blocks: &[(u32, u32)]) -> Option<SackBlocks> {
        let mut out = SackBlocks::default();
        if blocks.len() > MAX_SACK_BLOCKS {
            return None;
        }
        out.blocks[..blocks.len()].copy_from_slice(blocks);
        out.count = blocks.len();
        Some(out)
    }

    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..self.count]
    }
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(SackBlocks),
    Timestamp {
        val: u32,
        ecr: u32,
    },
    /// A kind this module does not know, or a known kind whose length is
    /// not the one it must have: kept as it is.
    Other {
        kind: u8,
        data: &'a [u8],
    },
}

impl TcpOption<'_> {
    /// Its length on the wire.
    pub fn len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::Nop => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(blocks) => 2 + 8 * blocks.as_slice().len(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Other { data, .. } => 2 + data.len(),
        }
    }

    /// Never empty; for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the option's bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let len = self.len() as u8;
        match *self {
            TcpOption::EndOfList => out.push(kind::END),
            TcpOption::Nop => out.push(kind::NOP),
            TcpOption::Mss(mss) => {
                out.extend_from_slice(&[kind::MSS, len]);
                out.extend_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => {
                out.extend_from_slice(&[kind::WINDOW_SCALE, len, shift])
            }
            TcpOption::SackPermitted => out.extend_from_slice(&[kind::SACK_PERMITTED, len]),
            TcpOption::Sack(blocks) => {
                out.extend_from_slice(&[kind::SACK, len]);
                for (left, right) in blocks.as_slice() {
                    out.extend_from_slice(&left.to_be_bytes());
                    out.extend_from_slice(&right.to_be_bytes());
                }
            }
            TcpOption::Timestamp { val, ecr } => {
                out.extend_from_slice(&[kind::TIMESTAMP, len]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            TcpOption::Other { kind, data } => {
                out.extend_from_slice(&[kind, len]);
                out.extend_from_slice(data);
            }
        }
    }
}

/// The options of a header, in order. After the end-of-list option the
/// rest is padding and is not read. Yields an error (and then stops) where
/// an option's length byte is missing, below 2, or reaches past the end.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    pub fn new(options: &'a [u8]) -> TcpOptionIter<'a> {
        TcpOptionIter { rest: options }
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&first, _) = self.rest.split_first()?;
        match first {
            kind::END => {
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            kind::NOP => {
                self.rest = &self.rest[1..];
                return Some(Ok(TcpOption::Nop));
            }
            _ => {}
        }
        let Some(&len) = self.rest.get(1) else {
            self.rest = &[];
            return Some(Err(Error::Truncated));
        };
        let len = usize::from(len);
        if len < 2 || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(Error::Malformed));
        }
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        let option = match (first, data.len()) {
            (kind::MSS, 2) => TcpOption::Mss(get_u16(data, 0)),
            (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(data[0]),
            (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (kind::SACK, n) if n > 0 && n % 8 == 0 && n / 8 <= MAX_SACK_BLOCKS => {
                let blocks: Vec<(u32, u32)> = data
                    .chunks_exact(8)
                    .map(|b| (get_u32(b, 0), get_u32(b, 4)))
                    .collect();
                TcpOption::Sack(SackBlocks::new(&blocks).unwrap_or_default())
            }
            (kind::TIMESTAMP, 8) => TcpOption::Timestamp {
                val: get_u32(data, 0),
                ecr: get_u32(data, 4),
            },
            (kind, _) => TcpOption::Other { kind, data },
        };
        Some(Ok(option))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn options_keep_their_order_and_four_sack_blocks() {
        let blocks = [(1, 2), (3, 4), (5, 6), (7, 8)];
        let options = [
            TcpOption::Nop,
            TcpOption::Mss(1460),
            TcpOption::WindowScale(7),
            TcpOption::SackPermitted,
            TcpOption::Sack(SackBlocks::new(&blocks).unwrap()),
            TcpOption::Timestamp { val: 9, ecr: 10 },
            TcpOption::Other {
                kind: 30,
                data: &[1, 2],
            },
            TcpOption::EndOfList,
        ];
        let mut bytes = Vec::new();
        for option in &options {
            option.emit(&mut bytes);
        }
        let read: Vec<TcpOption> = TcpOptionIter::new(&bytes).map(|o| o.unwrap()).collect();
        assert_eq!(read, options);
    }

    #[test]
    fn malformed_options_end_the_list_with_an_error() {
        let cases: [&[u8]; 3] = [&[2], &[2, 1, 0], &[3, 9, 1]];
        for bytes in cases {
            let read: Vec<_> = TcpOptionIter::new(bytes).collect();
            assert_eq!(read.len(), 1, "{bytes:?}");
            assert!(read[0].is_err(), "{bytes:?}");
        }
        // A known kind with another length is kept as it is.
        let read: Vec<_> = TcpOptionIter::new(&[2, 3, 5]).collect();
        assert_eq!(
            read,
            [Ok(TcpOption::Other {
                kind: 2,
                data: &[5][..]
            })]
        );
    }

    #[test]
    fn a_header_reads_back_and_short_ones_are_refused() {
        let mut bytes = [0u8; 24];
        let mut tcp = TcpHeader::new_unchecked(&mut bytes[..]);
        tcp.set_src_port(8080);
        tcp.set_dst_port(40000);
        tcp.set_seq(1);
        tcp.set_ack(2);
        tcp.set_header_len(24);
        tcp.set_flags(TcpFlags::SYN | TcpFlags::ACK);
        tcp.set_window(65535);
        tcp.set_urgent(0);
        tcp.options_mut().copy_from_slice(&[2, 4, 5, 0xb4]);
        let tcp = TcpHeader::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            (tcp.src_port(), tcp.dst_port(), tcp.seq(), tcp.ack()),
            (8080, 40000, 1, 2)
        );
        assert!(tcp.flags().contains(TcpFlags::SYN | TcpFlags::ACK));
        assert_eq!(tcp.option_iter().next(), Some(Ok(TcpOption::Mss(1460))));
        assert_eq!(TcpHeader::new_checked(&bytes[..23]), Err(Error::Truncated));
        bytes[12] = 0x40;
        assert_eq!(TcpHeader::new_checked(&bytes[..]), Err(Error::Malformed));
    }

    proptest! {
        /// Any bytes: the iterator ends, without a panic, having consumed
        /// no more than there was.
        #[test]
        fn any_option_bytes_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let count = TcpOptionIter::new(&bytes).count();
            prop_assert!(count <= bytes.len());
        }
    }
}
