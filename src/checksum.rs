//! Keeps the checksums of the IPv4 packets lwIP forwards, in place.
//!
//! lwIP's `ip4_forward` (since 2.2.0, commit 61c67fc2; still so on master)
//! decrements the TTL and updates the header checksum for it, and then,
//! because lwip-tap generates checksums in software (`CHECKSUM_GEN_*`, which
//! it must: a TAP cannot compute IPv4 header checksums, and lwIP's own
//! fragments need a checksum over the whole datagram), writes zero into the
//! header checksum and into the two bytes where a TCP, UDP or ICMP header
//! keeps its checksum: 16, 6 or 2 bytes into the IP payload, whatever the
//! packet is (in a fragment other than the first, those are payload bytes).
//! Nothing fills them in again; lwIP leaves that to checksum offload
//! hardware.
//!
//! The driver (src/netif.rs) hears of a packet before `ip4_forward` changes
//! anything in it (lwIP's `LWIP_HOOK_IP4_CANFORWARD`), [`note`]s the TTL and
//! the bytes that will be cleared, and when lwIP hands the packet to the
//! output interface (or the first piece it cut from it: the pieces point
//! into its buffer) [`restore`]s them where they are: the transport bytes
//! exactly as they arrived (they do not depend on the TTL), the header
//! checksum as it arrived, adjusted for the new TTL (RFC 1624), which is
//! what `ip4_forward` had computed before it cleared it. A header checksum
//! that arrived wrong therefore leaves wrong, as from any router that
//! updates it incrementally.

/// IPv4 protocol numbers of the headers whose checksum `ip4_forward` clears,
/// and where that checksum is in them.
const CLEARED_FIELDS: &[(u8, usize)] = &[
    (1, 2),   // ICMP
    (6, 16),  // TCP
    (17, 6),  // UDP
    (136, 6), // UDP-Lite (cleared only in an lwIP built with LWIP_UDPLITE)
];

/// Where in a packet `ip4_forward` writes, and what was there before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Noted {
    ttl: u8,
    header_checksum: [u8; 2],
    /// The offset of the transport checksum field from the IP header, and
    /// its bytes; `None` for other protocols, and for a packet too short to
    /// hold the field (lwIP's write then lands past its end, in the unused
    /// tail of its buffer).
    transport: Option<(usize, [u8; 2])>,
}

/// What [`restore`] found `ip4_forward` had cleared, and put back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// The IPv4 header checksum.
    pub header: bool,
    /// The TCP, UDP or ICMP checksum field (payload bytes in a fragment).
    pub transport: bool,
}

/// Notes what `ip4_forward` is about to change in `ip`, an IPv4 packet as
/// it arrived (the bytes of it that are contiguous, at least its header).
/// `None` if it is not an IPv4 header lwIP could forward.
pub fn note(ip: &[u8]) -> Option<Noted> {
    let header_len = usize::from(*ip.first()? & 0x0f) * 4;
    if ip[0] >> 4 != 4 || header_len < 20 || header_len > ip.len() {
        return None;
    }
    let transport = CLEARED_FIELDS
        .iter()
        .find(|(proto, _)| *proto == ip[9])
        .map(|(_, offset)| header_len + offset)
        .filter(|offset| offset + 2 <= ip.len())
        .map(|offset| (offset, [ip[offset], ip[offset + 1]]));
    Some(Noted {
        ttl: ip[8],
        header_checksum: [ip[10], ip[11]],
        transport,
    })
}

/// Puts back in `ip` (the same bytes [`note`] saw) what `ip4_forward`
/// cleared. Does nothing unless `ip4_forward` got past its TTL check (it
/// decremented the TTL to a non-zero value), the point after which it
/// clears the checksums. Writing the noted bytes back over bytes lwIP left
/// alone changes nothing, so this is right whatever lwIP cleared; the
/// result says what it had.
pub fn restore(ip: &mut [u8], noted: &Noted) -> Restored {
    let ttl = ip.get(8).copied().unwrap_or(0);
    if ip.len() < 20 || ttl == 0 || ttl != noted.ttl.wrapping_sub(1) {
        return Restored::default();
    }
    let proto = ip[9];
    let old_word = u16::from_be_bytes([noted.ttl, proto]);
    let new_word = u16::from_be_bytes([ttl, proto]);
    let checksum = adjust(
        u16::from_be_bytes(noted.header_checksum),
        old_word,
        new_word,
    );
    let checksum = checksum.to_be_bytes();
    let mut restored = Restored {
        header: ip[10..12] == [0, 0] && checksum != [0, 0],
        transport: false,
    };
    ip[10..12].copy_from_slice(&checksum);
    if let Some((offset, bytes)) = noted.transport {
        if let Some(field) = ip.get_mut(offset..offset + 2) {
            restored.transport = *field == [0, 0] && bytes != [0, 0];
            field.copy_from_slice(&bytes);
        }
    }
    restored
}

/// The Internet checksum `checksum` after one 16-bit word it covers changed
/// from `old` to `new` (RFC 1624, equation 3: HC' = ~(~HC + ~m + m')).
fn adjust(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!checksum) + u32::from(!old) + u32::from(new))
}

/// Folds the carries of a one's complement sum into 16 bits.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The one's complement sum of `data` as big-endian words (an odd tail
    /// padded with zero), folded.
    fn sum(data: &[u8]) -> u16 {
        let words = data.chunks(2).map(|w| {
            let pair = [w[0], w.get(1).copied().unwrap_or(0)];
            u32::from(u16::from_be_bytes(pair))
        });
        fold(words.sum())
    }

    /// A packet with a correct header checksum (computed here on its own):
    /// `header_len` bytes of header (options of 0x01, "no operation"), then
    /// `payload`.
    fn packet(header_len: usize, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
        let total = header_len + payload.len();
        let mut p = vec![0x40 | (header_len / 4) as u8, 0];
        p.extend_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&[0x12, 0x34, 0, 0, ttl, proto, 0, 0]);
        p.extend_from_slice(&[172, 16, 0, 100, 172, 16, 1, 100]);
        p.resize(header_len, 0x01);
        p.extend_from_slice(payload);
        set_header_checksum(&mut p);
        p
    }

    fn set_header_checksum(p: &mut [u8]) {
        let header_len = usize::from(p[0] & 0x0f) * 4;
        p[10..12].copy_from_slice(&[0, 0]);
        let checksum = !sum(&p[..header_len]);
        p[10..12].copy_from_slice(&checksum.to_be_bytes());
    }

    /// What lwIP 2.2's ip4_forward does to `p` (see the module comment).
    fn forward_like_lwip(p: &mut [u8]) {
        p[8] -= 1;
        p[10..12].copy_from_slice(&[0, 0]);
        let offset = match p[9] {
            1 => 2,
            6 => 16,
            17 | 136 => 6,
            _ => return,
        };
        let at = usize::from(p[0] & 0x0f) * 4 + offset;
        if at + 2 <= p.len() {
            p[at..at + 2].copy_from_slice(&[0, 0]);
        }
    }

    #[test]
    fn a_cleared_udp_packet_gets_back_its_checksums() {
        let udp = [0x30, 0x39, 0x23, 0x28, 0, 11, 0xbe, 0xef, b'a', b'b', b'c'];
        let original = packet(20, 17, 64, &udp);
        let noted = note(&original).unwrap();
        let mut p = original.clone();
        forward_like_lwip(&mut p);
        let restored = restore(&mut p, &noted);
        assert_eq!(
            restored,
            Restored {
                header: true,
                transport: true
            }
        );
        assert_eq!(p[8], 63);
        assert_eq!(sum(&p[..20]), 0xffff, "the header checksum verifies");
        assert_eq!(&p[20..], &original[20..], "the UDP bytes are as sent");
    }

    #[test]
    fn restoring_what_lwip_left_alone_changes_nothing() {
        let original = packet(24, 6, 9, &[0x55; 40]);
        let noted = note(&original).unwrap();
        let mut p = original.clone();
        p[8] -= 1;
        let checksum = adjust(u16::from_be_bytes([p[10], p[11]]), 0x0906, 0x0806);
        p[10..12].copy_from_slice(&checksum.to_be_bytes());
        let before = p.clone();
        assert_eq!(restore(&mut p, &noted), Restored::default());
        assert_eq!(p, before);
    }

    #[test]
    fn nothing_is_written_unless_the_ttl_went_down_by_one_to_non_zero() {
        for (arrived, now) in [(1, 0), (64, 64), (64, 62)] {
            let original = packet(20, 1, arrived, &[8, 0, 0x12, 0x34]);
            let noted = note(&original).unwrap();
            let mut p = original.clone();
            p[8] = now;
            p[10..12].copy_from_slice(&[0, 0]);
            let before = p.clone();
            assert_eq!(restore(&mut p, &noted), Restored::default());
            assert_eq!(p, before, "TTL {arrived} -> {now}");
        }
    }

    #[test]
    fn a_field_past_the_packet_is_not_noted_nor_written() {
        // A fragment with 1 payload byte: the UDP field would be at 26..28.
        let original = packet(20, 17, 64, &[0xab]);
        let noted = note(&original).unwrap();
        assert_eq!(noted.transport, None);
        let mut p = original.clone();
        forward_like_lwip(&mut p);
        assert!(restore(&mut p, &noted).header);
        assert_eq!(&p[20..], &[0xab]);
    }

    #[test]
    fn what_is_not_an_ipv4_header_is_not_noted() {
        assert_eq!(note(&[]), None);
        assert_eq!(note(&[0x45; 19]), None);
        let mut p = packet(20, 17, 64, &[0; 8]);
        p[0] = 0x65;
        assert_eq!(note(&p), None, "version 6");
        p[0] = 0x44;
        assert_eq!(note(&p), None, "header of 16 bytes");
        p[0] = 0x47;
        assert_eq!(note(&p[..27]), None, "header longer than the bytes");
        assert_eq!(
            restore(&mut [0u8; 10], &note(&packet(20, 1, 2, &[])).unwrap()),
            Restored::default()
        );
    }

    proptest! {
        /// Any header (with options), any protocol, any payload, including
        /// the payload of a later fragment that happens to sit where a
        /// transport checksum would: after lwIP's clearing and the
        /// restore, the header checksum verifies and all else is as it
        /// arrived, with the TTL one less.
        #[test]
        fn restore_undoes_what_ip4_forward_clears(
            options in 0usize..=10,
            proto in prop_oneof![Just(1u8), Just(6), Just(17), Just(136), any::<u8>()],
            ttl in 2u8..=255,
            id in any::<[u8; 2]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut original = packet(20 + 4 * options, proto, ttl, &payload);
            original[4..6].copy_from_slice(&id);
            set_header_checksum(&mut original);
            let noted = note(&original).unwrap();
            let mut p = original.clone();
            forward_like_lwip(&mut p);
            restore(&mut p, &noted);
            let header_len = 20 + 4 * options;
            prop_assert_eq!(sum(&p[..header_len]), 0xffff);
            prop_assert_eq!(p[8], ttl - 1);
            prop_assert_eq!(&p[..8], &original[..8]);
            prop_assert_eq!(&p[9..10], &original[9..10]);
            prop_assert_eq!(&p[12..], &original[12..]);
        }

        /// Any bytes at all: no panic.
        #[test]
        fn note_and_restore_take_any_bytes(
            seen in proptest::collection::vec(any::<u8>(), 0..80),
            later in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            if let Some(noted) = note(&seen) {
                let mut later = later;
                restore(&mut later, &noted);
            }
        }
    }
}
