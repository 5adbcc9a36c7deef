//! TCP segmentation offload toward the host: the virtio-net header that has
//! the kernel cut one TCP super-frame into the segments it would have sent
//! (the merge stage's super-frames, and the pass-through router's), with
//! the checksum field prepared for it.

use super::VnetHeader;
use crate::wire::checksum;
use crate::wire::ethernet;
use crate::wire::tcp::{self, TcpHeader};
use crate::wire::TcpInFrame;

const ETH_HLEN: usize = ethernet::HEADER_LEN;

/// Makes the frame whose headers `headers` holds (`total` bytes, the TCP
/// segment `at` says where) one for the kernel to cut into segments of
/// `gso_size` payload bytes: the checksum field gets the pseudo header's sum
/// (every segment gets its own checksum), and the virtio-net header that
/// asks for all that is returned.
pub(crate) fn segmentation_header(
    headers: &mut [u8],
    total: usize,
    at: TcpInFrame,
    gso_size: u16,
) -> Option<VnetHeader> {
    let tcp_start = at.tcp_start;
    let pseudo = checksum::tcp_pseudo_header(headers.get(ETH_HLEN..)?, (total - tcp_start) as u32)?;
    let mut tcp = TcpHeader::new_checked(headers.get_mut(tcp_start..)?).ok()?;
    tcp.set_checksum(pseudo);
    Some(VnetHeader {
        flags: VnetHeader::NEEDS_CSUM,
        gso_type: if at.ipv6 {
            VnetHeader::GSO_TCPV6
        } else {
            VnetHeader::GSO_TCPV4
        },
        hdr_len: at.headers_len as u16,
        gso_size,
        csum_start: tcp_start as u16,
        csum_offset: tcp::CHECKSUM_OFFSET as u16,
    })
}

/// A header that has the kernel cut the TCP segment in a frame of `total`
/// bytes (`first` holds at least its headers) into segments that fit
/// `wire_mtu` (see [`segmentation_header`]). `None` for anything but TCP
/// over IPv4, or over IPv6 without extension headers.
pub(crate) fn tcp_segmentation(
    first: &mut [u8],
    total: usize,
    wire_mtu: u16,
) -> Option<VnetHeader> {
    let at = TcpInFrame::locate(first)?;
    let ip_and_tcp = at.headers_len - ETH_HLEN;
    if ip_and_tcp >= usize::from(wire_mtu) {
        return None;
    }
    let gso_size = wire_mtu - ip_and_tcp as u16;
    segmentation_header(first, total, at, gso_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame holding an IPv4 (or IPv6) TCP segment with `payload` bytes
    /// and a TCP header with 12 bytes of options.
    fn tcp_frame(v6: bool, payload: usize) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        let tcp_len = 32 + payload;
        if v6 {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            f.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            f.extend_from_slice(&[6, 64]);
            f.extend_from_slice(&[0xfd; 32]);
        } else {
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
            f.extend_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 1, 1]);
        }
        f.extend_from_slice(&[0x13, 0x89, 0xc0, 0x01, 0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0x10]);
        f.extend_from_slice(&[0xff, 0xff, 0xab, 0xcd, 0, 0]);
        f.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        f.resize(f.len() + payload, 0x5a);
        f
    }

    #[test]
    fn a_tcp_segment_too_big_for_the_wire_is_cut_to_its_mss() {
        for (v6, ip_len, gso_type) in [
            (false, 20, VnetHeader::GSO_TCPV4),
            (true, 40, VnetHeader::GSO_TCPV6),
        ] {
            let mut f = tcp_frame(v6, 20000);
            let total = f.len();
            let header = tcp_segmentation(&mut f, total, 1500).expect("TCP");
            assert_eq!(header.gso_type, gso_type);
            assert_eq!(header.gso_size as usize, 1500 - ip_len - 32);
            assert_eq!(header.hdr_len as usize, ETH_HLEN + ip_len + 32);
            assert_eq!(header.csum_start as usize, ETH_HLEN + ip_len);
            assert_eq!(
                (header.flags, header.csum_offset),
                (VnetHeader::NEEDS_CSUM, 16)
            );
            // The field holds the pseudo header's sum: completing it over
            // the segment gives the checksum the segment must have.
            let start = ETH_HLEN + ip_len;
            let mut sum = checksum::RunningSum::default();
            sum.add(&f[start..]);
            let completed = checksum::completed(sum.fold());
            f[start + 16..start + 18].copy_from_slice(&completed.to_be_bytes());
            let mut check = checksum::RunningSum::default();
            let pseudo = checksum::tcp_pseudo_header(&f[ETH_HLEN..], (total - start) as u32);
            check.add(&pseudo.unwrap().to_be_bytes());
            check.add(&f[start..]);
            assert_eq!(check.fold(), 0xffff);
        }
    }

    #[test]
    fn anything_else_is_not_cut() {
        let mut udp = tcp_frame(false, 2000);
        udp[ETH_HLEN + 9] = 17;
        let mut arp = tcp_frame(false, 2000);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut v6_extension = tcp_frame(true, 2000);
        v6_extension[ETH_HLEN + 6] = 0;
        let mut short_tcp_header = tcp_frame(false, 2000);
        short_tcp_header[ETH_HLEN + 20 + 12] = 0x40;
        for mut f in [udp, arp, v6_extension, short_tcp_header] {
            let total = f.len();
            assert_eq!(tcp_segmentation(&mut f, total, 1500), None);
        }
        for len in 0..ETH_HLEN + 52 {
            let mut f = tcp_frame(false, 2000);
            assert_eq!(tcp_segmentation(&mut f[..len], 2066, 1500), None);
        }
    }
}
