//! The virtio-net header a TAP opened with `IFF_VNET_HDR` puts in front of
//! every frame.

/// The `struct virtio_net_hdr` (10 bytes, host byte order): whether the
/// frame's checksums are computed, and for a TCP super-frame (GSO) the
/// segment size the kernel cuts it into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    /// Bytes of Ethernet, IP and TCP headers in front of the payload.
    pub hdr_len: u16,
    /// TCP payload bytes per segment of a super-frame.
    pub gso_size: u16,
    /// With [`Self::NEEDS_CSUM`]: where the checksummed part starts...
    pub csum_start: u16,
    /// ...and where in it the checksum field is.
    pub csum_offset: u16,
}

impl VnetHeader {
    pub const LEN: usize = 10;
    /// The checksum is left for the receiver to compute.
    pub const NEEDS_CSUM: u8 = 1;
    /// The kernel has already checked the checksum.
    pub const DATA_VALID: u8 = 2;
    /// Not a super-frame.
    pub const GSO_NONE: u8 = 0;
    /// A TCP over IPv4 super-frame.
    pub const GSO_TCPV4: u8 = 1;
    /// A TCP over IPv6 super-frame.
    pub const GSO_TCPV6: u8 = 4;

    /// A header that vouches for nothing: the receiver checks everything.
    pub const PLAIN: VnetHeader = VnetHeader {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// A header saying the kernel has checked the frame's checksums.
    pub const TRUSTED: VnetHeader = VnetHeader {
        flags: VnetHeader::DATA_VALID,
        ..VnetHeader::PLAIN
    };

    pub fn parse(bytes: &[u8; Self::LEN]) -> VnetHeader {
        let word = |i: usize| u16::from_ne_bytes([bytes[i], bytes[i + 1]]);
        VnetHeader {
            flags: bytes[0],
            gso_type: bytes[1],
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        }
    }

    pub fn to_bytes(self) -> [u8; Self::LEN] {
        let mut bytes = [0; Self::LEN];
        bytes[0] = self.flags;
        bytes[1] = self.gso_type;
        let words = [
            self.hdr_len,
            self.gso_size,
            self.csum_start,
            self.csum_offset,
        ];
        for (i, word) in words.into_iter().enumerate() {
            bytes[2 + 2 * i..4 + 2 * i].copy_from_slice(&word.to_ne_bytes());
        }
        bytes
    }

    /// True if the kernel vouches for (or skipped) the frame's checksums.
    pub fn checksum_trusted(&self) -> bool {
        self.flags & (Self::NEEDS_CSUM | Self::DATA_VALID) != 0
    }

    /// True for a super-frame the kernel cuts into segments.
    pub fn is_gso(&self) -> bool {
        self.gso_type != Self::GSO_NONE
    }

    /// Computes into `frame` the checksum this header (with
    /// [`Self::NEEDS_CSUM`]) says the kernel left to the receiver: the field
    /// holds the pseudo-header's sum. False, with `frame` unchanged, if the
    /// header points outside it.
    pub fn complete_checksum(&self, frame: &mut [u8]) -> bool {
        let start = usize::from(self.csum_start);
        let field = start + usize::from(self.csum_offset);
        if field + 2 > frame.len() {
            return false;
        }
        let value = super::checksum::completed(super::checksum::sum(&frame[start..]));
        frame[field..field + 2].copy_from_slice(&value.to_be_bytes());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_survives_bytes_and_back() {
        let header = VnetHeader {
            flags: VnetHeader::NEEDS_CSUM,
            gso_type: VnetHeader::GSO_TCPV6,
            hdr_len: 86,
            gso_size: 1428,
            csum_start: 54,
            csum_offset: 16,
        };
        assert_eq!(VnetHeader::parse(&header.to_bytes()), header);
        assert!(header.is_gso() && header.checksum_trusted());
        assert!(!VnetHeader::PLAIN.checksum_trusted());
        assert!(VnetHeader::TRUSTED.checksum_trusted());
    }
}
