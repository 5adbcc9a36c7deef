//! Repairs the checksums of IPv4 packets lwIP forwards between interfaces.
//!
//! lwIP's `ip4_forward` as carried in the pinned source (lwIP 2.2.1 from the
//! `lwip` 0.4.0 package) clears the IP header checksum and the TCP/UDP/ICMP
//! checksum of every forwarded packet when checksums are generated in
//! software (CHECKSUM_GEN_*=1), expecting hardware offload to fill them in;
//! nothing does. A TAP is our "hardware", so the driver fills them in here.
//! Only frames whose IPv4 header checksum is zero are touched: lwIP's own
//! packets always carry a computed one (a computed zero stays zero).

const ETH_HLEN: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// True if `frame` (which may be only the frame's first bytes) is an IPv4
/// packet whose header checksum field is zero.
pub fn needs_repair(frame: &[u8]) -> bool {
    frame.len() >= ETH_HLEN + 20
        && frame[12..14] == ETHERTYPE_IPV4
        && frame[ETH_HLEN] >> 4 == 4
        && frame[ETH_HLEN + 10..ETH_HLEN + 12] == [0, 0]
}

/// Fills in the IPv4 header checksum and, for an unfragmented packet, a
/// cleared TCP, UDP or ICMP checksum. Malformed packets are left alone.
pub fn repair(frame: &mut [u8]) {
    if !needs_repair(frame) {
        return;
    }
    let ip = &mut frame[ETH_HLEN..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if header_len < 20 || total_len < header_len || total_len > ip.len() {
        return;
    }
    let sum = finish(sum_words(0, &ip[..header_len]));
    ip[10..12].copy_from_slice(&sum.to_be_bytes());

    let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if fragmented {
        // Only the whole datagram has an L4 checksum; a fragment cannot be fixed.
        return;
    }
    let proto = ip[9];
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    let l4 = &mut ip[header_len..total_len];
    let offset = match proto {
        PROTO_TCP if l4.len() >= 20 => 16,
        PROTO_UDP if l4.len() >= 8 => 6,
        PROTO_ICMP if l4.len() >= 4 => 2,
        _ => return,
    };
    if l4[offset..offset + 2] != [0, 0] {
        return;
    }
    let mut acc = 0;
    if proto != PROTO_ICMP {
        acc = sum_words(acc, &src);
        acc = sum_words(acc, &dst);
        acc += u32::from(proto) + l4.len() as u32;
    }
    let mut sum = finish(sum_words(acc, l4));
    if proto == PROTO_UDP && sum == 0 {
        sum = 0xffff; // zero means "no checksum" in UDP
    }
    l4[offset..offset + 2].copy_from_slice(&sum.to_be_bytes());
}

/// Adds `data` as big-endian 16-bit words (odd tail padded with zero).
fn sum_words(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        acc += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds the carries and complements: the Internet checksum.
fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + `l4` frame with correct checksums (computed
    /// independently: the sum over a correct header is 0xffff).
    fn frame(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ETHERTYPE_IPV4);
        let total = 20 + l4.len();
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0x12,
            0x34,
            0x40,
            0,
            63,
            proto,
            0,
            0,
        ]);
        f.extend_from_slice(&[172, 16, 0, 1, 172, 16, 1, 2]);
        f.extend_from_slice(l4);
        f
    }

    fn verifies(data: &[u8], pseudo: u32) -> bool {
        finish(sum_words(pseudo, data)) == 0
    }

    fn pseudo(f: &[u8]) -> u32 {
        let ip = &f[ETH_HLEN..];
        let len = u16::from_be_bytes([ip[2], ip[3]]) as u32 - 20;
        sum_words(sum_words(0, &ip[12..16]), &ip[16..20]) + u32::from(ip[9]) + len
    }

    #[test]
    fn fills_ip_and_tcp_checksums() {
        let mut tcp = vec![0u8; 20];
        tcp[0..4].copy_from_slice(&[0x1f, 0x90, 0x00, 0x50]);
        tcp[12] = 0x50;
        tcp.extend_from_slice(b"hello, world!");
        let mut f = frame(PROTO_TCP, &tcp);
        assert!(needs_repair(&f));
        repair(&mut f);
        assert!(!needs_repair(&f));
        assert!(verifies(&f[ETH_HLEN..ETH_HLEN + 20], 0), "IP header");
        let p = pseudo(&f);
        assert!(verifies(&f[ETH_HLEN + 20..], p), "TCP with pseudo header");
    }

    #[test]
    fn fills_icmp_and_udp_checksums() {
        let mut f = frame(PROTO_ICMP, &[8, 0, 0, 0, 0, 1, 0, 2, 0xab]);
        repair(&mut f);
        assert!(verifies(&f[ETH_HLEN + 20..], 0), "ICMP, odd length");
        let mut f = frame(PROTO_UDP, &[0, 7, 0, 7, 0, 11, 0, 0, b'x', b'y', b'z']);
        repair(&mut f);
        let p = pseudo(&f);
        assert!(verifies(&f[ETH_HLEN + 20..], p), "UDP");
    }

    #[test]
    fn leaves_fragments_and_garbage_alone_without_panicking() {
        let mut f = frame(PROTO_TCP, &[0u8; 20]);
        f[ETH_HLEN + 6] = 0x20; // MF
        repair(&mut f);
        assert_eq!(&f[ETH_HLEN + 20 + 16..ETH_HLEN + 20 + 18], &[0, 0]);
        assert!(verifies(&f[ETH_HLEN..ETH_HLEN + 20], 0));
        for len in 0..60 {
            let mut short = frame(PROTO_TCP, &[0u8; 20]);
            short.truncate(len);
            repair(&mut short);
        }
        let mut bad = frame(PROTO_TCP, &[0u8; 20]);
        bad[ETH_HLEN + 2] = 0xff; // total length beyond the frame
        repair(&mut bad);
        assert_eq!(&bad[ETH_HLEN + 10..ETH_HLEN + 12], &[0, 0]);
    }

    #[test]
    fn packets_with_a_checksum_are_not_touched() {
        let mut f = frame(PROTO_ICMP, &[8, 0, 0, 0]);
        f[ETH_HLEN + 10] = 0x12;
        let before = f.clone();
        repair(&mut f);
        assert_eq!(f, before);
    }
}
