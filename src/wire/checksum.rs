//! The Internet checksum (RFC 1071), summed over data in pieces (a pbuf
//! chain's buffers) and over the pseudo headers of TCP, UDP and ICMPv6;
//! and the IPv4 header checksum of the packets lwIP forwards, filled in
//! where the packet is.
//!
//! lwIP's `ip4_forward` (since 2.2.0) decrements the TTL, updates the header
//! checksum for it and then, because lwip-tap generates checksums in
//! software, clears it, leaving it to checksum offload hardware, which a
//! TAP does not have. lwip/ip4_glue.c keeps it from also clearing the
//! TCP/UDP/ICMP checksum; the header checksum it cannot keep there, since
//! the same switch decides whether lwIP computes the header checksum of its
//! own packets. So the driver does what the hardware would: when lwIP hands
//! over a frame whose IPv4 header checksum is zero, [`fill_ipv4_header`]
//! computes it (20 to 60 bytes) in the frame's own buffer.
//!
//! Only a zero field is filled. lwIP's own packets, and the pieces
//! `ip4_frag` cuts from a packet for a smaller MTU, carry a computed
//! checksum, and computing a header checksum whose right value is zero
//! gives zero again: they never change.

use std::net::IpAddr;

use super::ethernet::{EtherType, EthernetFrame};
use super::ipv4::Ipv4Header;
use super::IpProtocol;

/// If `frame`, an Ethernet frame (at least as much of it as the IP header
/// reaches), holds an IPv4 header whose checksum field is zero, computes
/// the checksum into it. Returns whether it did.
pub fn fill_ipv4_header(frame: &mut [u8]) -> bool {
    let Ok(mut eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EtherType::Ipv4 {
        return false;
    }
    let Ok(mut ip) = Ipv4Header::new_checked(eth.payload_mut()) else {
        return false;
    };
    if ip.checksum() != 0 {
        return false;
    }
    ip.fill_checksum();
    true
}

/// The Internet checksum of `data`, e.g. of an ICMP message.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// The one's complement sum of `data` as big-endian 16-bit words (an odd
/// last byte is padded with a zero), folded to 16 bits.
pub fn sum(data: &[u8]) -> u16 {
    let mut sum = RunningSum::default();
    sum.add(data);
    sum.fold()
}

/// True if `data` (an IPv4 header, say) sums to 0xffff, its checksum
/// included: the checksum is right.
pub fn verifies(data: &[u8]) -> bool {
    sum(data) == 0xffff
}

/// A one's complement sum over data handed over in pieces of any length
/// (the buffers of a pbuf chain), where a piece may end inside a word.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunningSum {
    acc: u64,
    /// The last piece ended in the middle of a word.
    odd: bool,
}

impl RunningSum {
    pub fn add(&mut self, mut data: &[u8]) {
        if self.odd {
            if let Some((first, rest)) = data.split_first() {
                self.acc += u64::from(*first);
                self.odd = false;
                data = rest;
            }
        }
        let last = if data.len() % 2 == 1 {
            let (last, even) = data.split_last().expect("odd length");
            data = even;
            Some(*last)
        } else {
            None
        };
        self.acc += u64::from(big_endian_sum(data));
        if let Some(last) = last {
            self.acc += u64::from(last) << 8;
            self.odd = true;
        }
    }

    /// The sum folded to 16 bits.
    pub fn fold(&self) -> u16 {
        fold(self.acc)
    }
}

/// The one's complement sum of `data` (of even length) as big-endian
/// 16-bit words, folded. Summed in the machine's own byte order, eight bytes
/// at a time, and swapped once at the end: the sum of byte-swapped words is
/// the byte-swapped sum (RFC 1071 2(B)). Twice as fast as swapping every
/// word, which is what the cut and merge stages spend their time on.
fn big_endian_sum(data: &[u8]) -> u16 {
    // Each 64-bit word adds as two 32-bit halves, so the sum of a 64 KiB
    // buffer stays below 2^48: no carry is lost.
    let octets = data.chunks_exact(8);
    let rest = octets.remainder();
    let mut native: u64 = octets
        .map(|o| {
            let v = u64::from_ne_bytes(o.try_into().expect("8 bytes"));
            (v & 0xffff_ffff) + (v >> 32)
        })
        .sum();
    for word in rest.chunks_exact(2) {
        native += u64::from(u16::from_ne_bytes([word[0], word[1]]));
    }
    u16::from_be(fold(native))
}

/// `acc` folded to 16 bits, end-around carries added back.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The value of a checksum that was left for the receiver to compute
/// (virtio-net's NEEDS_CSUM: the field holds the pseudo-header's sum), from
/// the sum of everything it covers, the field included: the complement,
/// with zero sent as 0xffff as Linux sends it (in UDP, zero means "no
/// checksum").
pub fn completed(sum: u16) -> u16 {
    match !sum {
        0 => 0xffff,
        c => c,
    }
}

/// The sum of the pseudo header (RFC 9293 3.1, RFC 8200 8.1) for `len`
/// bytes of `protocol` between `src` and `dst`. `None` if the two are not
/// of the same family.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: IpProtocol, len: u32) -> Option<u16> {
    let mut sum = RunningSum::default();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum.add(&s.octets());
            sum.add(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            sum.add(&s.octets());
            sum.add(&d.octets());
        }
        _ => return None,
    }
    sum.add(&len.to_be_bytes());
    sum.add(&[0, u8::from(protocol)]);
    Some(sum.fold())
}

/// The TCP pseudo-header's sum for a segment of `tcp_len` bytes from the
/// IPv4 or IPv6 header `ip` (the part a checksum left for the receiver
/// starts from). `None` if `ip` is neither.
pub fn tcp_pseudo_header(ip: &[u8], tcp_len: u32) -> Option<u16> {
    let (src, dst) = match ip.first()? >> 4 {
        4 => {
            let ip = ip.get(12..20)?;
            let s: [u8; 4] = ip[..4].try_into().ok()?;
            let d: [u8; 4] = ip[4..].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d))
        }
        6 => {
            let ip = ip.get(8..40)?;
            let s: [u8; 16] = ip[..16].try_into().ok()?;
            let d: [u8; 16] = ip[16..].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d))
        }
        _ => return None,
    };
    pseudo_header(src, dst, IpProtocol::Tcp, tcp_len)
}

/// The checksum of a TCP, UDP or ICMPv6 `message` between `src` and `dst`
/// (its own checksum field zero or included: pass the sum that results),
/// as it goes in the field. UDP's zero ("no checksum") becomes 0xffff.
pub fn transport(src: IpAddr, dst: IpAddr, protocol: IpProtocol, message: &[u8]) -> u16 {
    let mut sum = RunningSum::default();
    if let Some(pseudo) = pseudo_header(src, dst, protocol, message.len() as u32) {
        sum.add(&pseudo.to_be_bytes());
    }
    sum.add(message);
    match protocol {
        IpProtocol::Udp => completed(sum.fold()),
        _ => !sum.fold(),
    }
}

/// True if the checksum of `message` (TCP, UDP or ICMPv6, checksum field
/// included) between `src` and `dst` is right.
pub fn transport_verifies(src: IpAddr, dst: IpAddr, protocol: IpProtocol, message: &[u8]) -> bool {
    let mut sum = RunningSum::default();
    if let Some(pseudo) = pseudo_header(src, dst, protocol, message.len() as u32) {
        sum.add(&pseudo.to_be_bytes());
    }
    sum.add(message);
    sum.fold() == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// True if the header verifies: its words, checksum included, sum to
    /// 0xffff (computed here independently of `sum`, byte by byte).
    fn verifies(header: &[u8]) -> bool {
        let mut acc: u64 = 0;
        for (i, byte) in header.iter().enumerate() {
            acc += u64::from(*byte) << if i % 2 == 0 { 8 } else { 0 };
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc == 0xffff
    }

    const ETH_HLEN: usize = super::super::ethernet::HEADER_LEN;

    /// An Ethernet frame with an IPv4 header of `header_len` bytes (options
    /// of 0x01, "no operation") and a zero checksum field, then `payload`.
    fn frame(header_len: usize, ttl: u8, id: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        let total = (header_len + payload.len()) as u16;
        f.extend_from_slice(&[0x40 | (header_len / 4) as u8, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&[0, 0, ttl, 17, 0, 0, 172, 16, 0, 100, 172, 16, 1, 100]);
        f.resize(ETH_HLEN + header_len, 0x01);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_cleared_header_checksum_is_filled_in_and_nothing_else_changes() {
        let before = frame(20, 63, 0x1234, b"payload");
        let mut f = before.clone();
        assert!(fill_ipv4_header(&mut f));
        assert!(verifies(&f[ETH_HLEN..ETH_HLEN + 20]));
        assert_eq!(&f[..ETH_HLEN + 10], &before[..ETH_HLEN + 10]);
        assert_eq!(&f[ETH_HLEN + 12..], &before[ETH_HLEN + 12..]);
        let filled = f.clone();
        assert!(!fill_ipv4_header(&mut f), "a checksum that is there stays");
        assert_eq!(f, filled);
    }

    #[test]
    fn a_header_whose_checksum_is_zero_stays_as_it_is() {
        // Choose the ID so that the header's words sum to 0xffff: its
        // checksum is then zero.
        let id = 0xffff - sum(&frame(20, 64, 0, &[])[ETH_HLEN..]);
        let mut f = frame(20, 64, id, &[]);
        assert!(verifies(&f[ETH_HLEN..]), "zero is its checksum");
        let before = f.clone();
        fill_ipv4_header(&mut f);
        assert_eq!(f, before);
    }

    #[test]
    fn other_frames_are_left_alone() {
        let mut arp = frame(20, 64, 1, &[]);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut v6 = frame(20, 64, 1, &[]);
        v6[ETH_HLEN] = 0x65;
        let mut short_header = frame(20, 64, 1, &[]);
        short_header[ETH_HLEN] = 0x44;
        let options_past_the_end = frame(24, 64, 1, &[])[..ETH_HLEN + 20].to_vec();
        for mut f in [arp, v6, short_header, options_past_the_end] {
            let before = f.clone();
            assert!(!fill_ipv4_header(&mut f));
            assert_eq!(f, before);
        }
        for len in 0..ETH_HLEN + 20 {
            assert!(!fill_ipv4_header(&mut frame(20, 64, 1, &[])[..len]));
        }
    }

    #[test]
    fn a_transport_checksum_verifies() {
        let (src, dst) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut udp = vec![0x9c, 0x40, 0, 7, 0, 11, 0, 0, 1, 2, 3];
        let value = transport(src, dst, IpProtocol::Udp, &udp);
        udp[6..8].copy_from_slice(&value.to_be_bytes());
        assert!(transport_verifies(src, dst, IpProtocol::Udp, &udp));
        assert!(!transport_verifies(src, dst, IpProtocol::Tcp, &udp));
    }

    proptest! {
        /// The sum is RFC 1071's, word by word as the RFC writes it.
        #[test]
        fn the_sum_is_the_sum_of_the_big_endian_words(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let mut acc: u32 = 0;
            for word in data.chunks(2) {
                acc += u32::from(u16::from_be_bytes([word[0], *word.get(1).unwrap_or(&0)]));
                acc = (acc & 0xffff) + (acc >> 16);
            }
            prop_assert_eq!(sum(&data), acc as u16);
        }

        /// Summed in pieces of any lengths, the sum is the one of the whole.
        #[test]
        fn a_sum_in_pieces_is_the_sum_of_the_whole(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut running = RunningSum::default();
            let mut from = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                running.add(&data[from..cut]);
                from = cut;
            }
            prop_assert_eq!(running.fold(), sum(&data));
        }

        /// Any header, options and all: filled in, it verifies, and only
        /// its checksum field changed.
        #[test]
        fn a_filled_header_verifies(
            options in 0usize..=10,
            ttl in any::<u8>(),
            id in any::<u16>(),
            tos_and_frag in any::<[u8; 3]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let header_len = 20 + 4 * options;
            let mut f = frame(header_len, ttl, id, &payload);
            f[ETH_HLEN + 1] = tos_and_frag[0];
            f[ETH_HLEN + 6..ETH_HLEN + 8].copy_from_slice(&tos_and_frag[1..]);
            let before = f.clone();
            prop_assert!(fill_ipv4_header(&mut f));
            prop_assert!(verifies(&f[ETH_HLEN..ETH_HLEN + header_len]));
            prop_assert_eq!(&f[..ETH_HLEN + 10], &before[..ETH_HLEN + 10]);
            prop_assert_eq!(&f[ETH_HLEN + 12..], &before[ETH_HLEN + 12..]);
        }

        /// Any bytes at all: no panic, and bytes it does not fill stay.
        #[test]
        fn any_bytes_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut f = bytes.clone();
            if !fill_ipv4_header(&mut f) {
                prop_assert_eq!(f, bytes);
            }
        }
    }
}
