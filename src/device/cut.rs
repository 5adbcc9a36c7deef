//! The cut stage: a router's TAP hands over TCP super-frames of up to
//! 64 KiB (receive offload, as the host's TSO and GRO make them), and this
//! stage cuts each into exactly the wire-sized segments the kernel's own
//! segmentation (GSO) would have handed over without the offload, before
//! lwIP sees anything. So lwIP keeps deciding on each segment as on a wire,
//! while the router pays one read per super-frame instead of one per
//! segment. The merge stage does the opposite on the way out.
//!
//! Each segment is the super-frame's headers with, as Linux's
//! `tcp_gso_segment` and `inet_gso_segment` make them: the payload's next
//! `gso_size` bytes (the last takes the rest); the IPv4 total length, or
//! the IPv6 payload length; IPv4 IDs counting up from the super-frame's;
//! the sequence number advanced by the payload before it; FIN and PSH on
//! the last segment only, CWR on the first only; a fresh IPv4 header
//! checksum and TCP checksum. A frame whose checksum the kernel left to
//! the receiver gets it computed. Frames whose checksums this stage
//! computed go up marked as vouched for (`DATA_VALID`), as the kernel marks
//! those it checked: lwIP does not check them again, and when it forwards
//! one, the merge stage does not either (see `netif.rs`).
//!
//! A super-frame whose headers cannot be found (not TCP over IPv4 or IPv6
//! without extension headers) is dropped and counted: the kernel hands
//! over no such thing for the offloads this stage turns on.
//! Capture and impairment sit above this stage: they see the segments.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice, IoSliceMut};

use super::{FramePath, StageStats, VnetHeader};
use crate::wire::checksum::{self, RunningSum};
use crate::wire::ipv4::field as ipv4_field;
use crate::wire::ipv6::field as ipv6_field;
use crate::wire::tcp::field as tcp_field;
use crate::wire::tcp::TcpFlags;
use crate::wire::{ethernet, TcpInFrame};

/// The largest frame the TAP hands over with its offloads on.
const MAX_FRAME: usize = ethernet::HEADER_LEN + u16::MAX as usize;

/// Counters for `--stats`.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// Super-frames read.
    superframes: u64,
    /// Segments cut from them.
    segments: u64,
    /// Frames whose checksum this stage computed.
    checksums: u64,
    /// Super-frames dropped: their TCP headers could not be found.
    dropped: u64,
}

/// The super-frame being cut: where its headers are and which segment is
/// next.
#[derive(Debug, Clone, Copy)]
struct Cutting {
    /// The frame's length in the buffer (after the virtio-net header).
    len: usize,
    at: TcpInFrame,
    mss: usize,
    /// The next segment's index.
    next: usize,
}

impl Cutting {
    fn count(&self) -> usize {
        (self.len - self.at.headers_len).div_ceil(self.mss)
    }
}

pub(crate) struct Cut {
    inner: Box<dyn FramePath>,
    /// The last frame read: its virtio-net header, then the frame.
    buf: RefCell<Vec<u8>>,
    cutting: Cell<Option<Cutting>>,
    counts: Cell<Counts>,
}

impl Cut {
    pub(crate) fn new(inner: Box<dyn FramePath>) -> Cut {
        Cut {
            inner,
            buf: RefCell::new(vec![0; VnetHeader::LEN + MAX_FRAME]),
            cutting: Cell::new(None),
            counts: Cell::new(Counts::default()),
        }
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        let mut counts = self.counts.get();
        f(&mut counts);
        self.counts.set(counts);
    }

    /// Writes the next segment of the super-frame in `buf` into `bufs`.
    fn next_segment(&self, mut cutting: Cutting, bufs: &mut [IoSliceMut<'_>]) -> usize {
        let buf = self.buf.borrow();
        let frame = &buf[VnetHeader::LEN..VnetHeader::LEN + cutting.len];
        let at = cutting.at;
        let (i, count) = (cutting.next, cutting.count());
        let start = at.headers_len + i * cutting.mss;
        let payload = &frame[start..(start + cutting.mss).min(frame.len())];
        let mut headers = [0u8; ethernet::HEADER_LEN + 60 + 60];
        let headers = &mut headers[..at.headers_len];
        headers.copy_from_slice(&frame[..at.headers_len]);
        segment_headers(headers, at, i, count, cutting.mss, payload);
        cutting.next += 1;
        self.cutting.set((cutting.next < count).then_some(cutting));
        self.count(|c| c.segments += 1);
        super::scatter_parts(&[&VnetHeader::TRUSTED.to_bytes(), headers, payload], bufs)
    }
}

/// Makes `headers` (a copy of the super-frame's) those of segment `i` of
/// `count`, which carries `payload`.
fn segment_headers(
    headers: &mut [u8],
    at: TcpInFrame,
    i: usize,
    count: usize,
    mss: usize,
    payload: &[u8],
) {
    let ip_start = ethernet::HEADER_LEN;
    let tcp_len = at.headers_len - at.tcp_start + payload.len();
    if at.ipv6 {
        let len = (tcp_len as u16).to_be_bytes();
        headers[ip_start + ipv6_field::PAYLOAD_LEN..][..2].copy_from_slice(&len);
    } else {
        let ip = &mut headers[ip_start..at.tcp_start];
        let total = ((at.tcp_start - ip_start + tcp_len) as u16).to_be_bytes();
        ip[ipv4_field::LENGTH..][..2].copy_from_slice(&total);
        let id = u16::from_be_bytes([ip[ipv4_field::IDENT], ip[ipv4_field::IDENT + 1]]);
        ip[ipv4_field::IDENT..][..2].copy_from_slice(&id.wrapping_add(i as u16).to_be_bytes());
        ip[ipv4_field::CHECKSUM..][..2].copy_from_slice(&[0, 0]);
        let sum = checksum::internet_checksum(ip);
        ip[ipv4_field::CHECKSUM..][..2].copy_from_slice(&sum.to_be_bytes());
    }
    let tcp = &mut headers[at.tcp_start..];
    let seq = u32::from_be_bytes(tcp[tcp_field::SEQ..][..4].try_into().expect("4 bytes"));
    let seq = seq.wrapping_add((i * mss) as u32);
    tcp[tcp_field::SEQ..][..4].copy_from_slice(&seq.to_be_bytes());
    let mut flags = TcpFlags(tcp[tcp_field::FLAGS]);
    if i + 1 < count {
        flags = flags.without(TcpFlags(TcpFlags::FIN.0 | TcpFlags::PSH.0));
    }
    if i > 0 {
        flags = flags.without(TcpFlags::CWR);
    }
    tcp[tcp_field::FLAGS] = flags.0;
    tcp[tcp_field::CHECKSUM..][..2].copy_from_slice(&[0, 0]);
    let ip = &headers[ip_start..at.tcp_start];
    let pseudo = checksum::tcp_pseudo_header(ip, tcp_len as u32).expect("an IP header");
    let mut sum = RunningSum::default();
    sum.add(&pseudo.to_be_bytes());
    sum.add(&headers[at.tcp_start..]);
    sum.add(payload);
    let value = !sum.fold();
    headers[at.tcp_start + tcp_field::CHECKSUM..][..2].copy_from_slice(&value.to_be_bytes());
}

impl FramePath for Cut {
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        loop {
            if let Some(cutting) = self.cutting.get() {
                return Ok(self.next_segment(cutting, bufs));
            }
            let len = {
                let mut buf = self.buf.borrow_mut();
                self.inner.read(&mut [IoSliceMut::new(&mut buf)])?
            };
            let mut buf = self.buf.borrow_mut();
            if len < VnetHeader::LEN {
                return Ok(super::scatter_parts(&[&buf[..len]], bufs));
            }
            let header: [u8; VnetHeader::LEN] = buf[..VnetHeader::LEN].try_into().expect("10");
            let header = VnetHeader::parse(&header);
            let frame = &mut buf[VnetHeader::LEN..len];
            if header.is_gso() {
                self.count(|c| c.superframes += 1);
                match TcpInFrame::locate(frame) {
                    Some(at) if header.gso_size > 0 && frame.len() > at.headers_len => {
                        self.cutting.set(Some(Cutting {
                            len: frame.len(),
                            at,
                            mss: usize::from(header.gso_size),
                            next: 0,
                        }));
                    }
                    _ => self.count(|c| c.dropped += 1),
                }
                continue;
            }
            let mut up = header;
            if header.flags & VnetHeader::NEEDS_CSUM != 0 && header.complete_checksum(frame) {
                self.count(|c| c.checksums += 1);
                up = VnetHeader::TRUSTED;
            }
            return Ok(super::scatter_parts(&[&up.to_bytes(), frame], bufs));
        }
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write(bufs)
    }

    fn flush(&self) -> io::Result<()> {
        self.inner.flush()
    }

    fn next_due(&self) -> Option<std::time::Instant> {
        self.inner.next_due()
    }

    fn send_due(&self) -> io::Result<()> {
        self.inner.send_due()
    }

    fn stage_stats(&self, stats: &mut Vec<StageStats>) {
        self.inner.stage_stats(stats);
        let c = self.counts.get();
        stats.push(StageStats {
            key: "cut",
            line: format!(
                "cut: super-frames {} segments {} checksums-completed {} dropped {}",
                c.superframes, c.segments, c.checksums, c.dropped
            ),
            json: serde_json::json!({
                "superframes": c.superframes,
                "segments": c.segments,
                "checksums_completed": c.checksums,
                "dropped": c.dropped,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::merge::tests::{segment, send, stage};
    use crate::device::merge::Merge;
    use std::collections::VecDeque;

    /// A device that hands over the frames it was given.
    struct Source(RefCell<VecDeque<(VnetHeader, Vec<u8>)>>);

    impl FramePath for Source {
        fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
            let Some((header, frame)) = self.0.borrow_mut().pop_front() else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            Ok(super::super::scatter(&header.to_bytes(), &frame, bufs))
        }
        fn write(&self, _: &[IoSlice<'_>]) -> io::Result<usize> {
            unreachable!()
        }
    }

    /// Every frame the cut stage makes of `frames`, with its header.
    fn cut(frames: Vec<(VnetHeader, Vec<u8>)>) -> Vec<(VnetHeader, Vec<u8>)> {
        let cut = Cut::new(Box::new(Source(RefCell::new(frames.into()))));
        let mut out = Vec::new();
        let mut buf = vec![0; VnetHeader::LEN + 2000];
        while let Ok(len) = cut.read(&mut [IoSliceMut::new(&mut buf)]) {
            let header = VnetHeader::parse(buf[..VnetHeader::LEN].try_into().unwrap());
            out.push((header, buf[VnetHeader::LEN..len].to_vec()));
        }
        out
    }

    /// What the merge stage makes of `segments`: one super-frame.
    fn merged(segments: &[Vec<u8>]) -> (VnetHeader, Vec<u8>) {
        let (merge, sink): (Merge, _) = stage();
        for s in segments {
            send(&merge, s);
        }
        merge.flush().unwrap();
        let mut written = sink.0.borrow_mut();
        assert_eq!(written.len(), 1);
        written.pop().unwrap()
    }

    #[test]
    fn a_superframe_comes_back_as_the_segments_it_was_made_of() {
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
        let segments = vec![
            segment(0xfffe, 0xffff_f000, 0x10, &data[..1448]),
            segment(0xffff, 0xffff_f5a8, 0x10, &data[1448..2896]),
            segment(0, 0xffff_fb50, 0x18, &data[2896..]),
        ];
        let superframe = merged(&segments);
        let frames = cut(vec![superframe]);
        let vouched: Vec<_> = segments
            .iter()
            .map(|s| (VnetHeader::TRUSTED, s.clone()))
            .collect();
        assert_eq!(
            frames, vouched,
            "IDs and sequence numbers wrap as they count up; checksums computed here"
        );
    }

    #[test]
    fn fin_and_push_go_on_the_last_segment_and_cwr_on_the_first() {
        let data = [0x33u8; 3000];
        let (mut header, mut frame) = merged(&[
            segment(5, 100, 0x10, &data[..1000]),
            segment(6, 1100, 0x10, &data[1000..2000]),
            segment(7, 2100, 0x10, &data[2000..]),
        ]);
        // CWR, FIN and PSH on the super-frame, as a host's TSO sends it.
        frame[47] = 0x80 | 0x10 | 0x08 | 0x01;
        header.gso_type |= 0x80;
        let flags: Vec<u8> = cut(vec![(header, frame)])
            .iter()
            .map(|(_, f)| f[47])
            .collect();
        assert_eq!(flags, [0x90, 0x10, 0x19]);
    }

    #[test]
    fn a_checksum_left_to_the_receiver_is_computed() {
        let whole = segment(1, 1, 0x18, &[9; 100]);
        let mut partial = whole.clone();
        let pseudo = checksum::tcp_pseudo_header(&partial[14..], 120).unwrap();
        partial[50..52].copy_from_slice(&pseudo.to_be_bytes());
        let header = VnetHeader {
            flags: VnetHeader::NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            ..VnetHeader::PLAIN
        };
        assert_eq!(cut(vec![(header, partial)]), [(VnetHeader::TRUSTED, whole)]);
    }

    #[test]
    fn a_superframe_that_is_not_tcp_is_dropped_and_counted() {
        let mut frame = segment(1, 1, 0x10, &[0; 3000]);
        frame[23] = 17;
        let header = VnetHeader {
            gso_type: VnetHeader::GSO_TCPV4,
            gso_size: 1000,
            ..VnetHeader::PLAIN
        };
        let stage = Cut::new(Box::new(Source(RefCell::new(vec![(header, frame)].into()))));
        let mut buf = vec![0; 2000];
        assert!(stage.read(&mut [IoSliceMut::new(&mut buf)]).is_err());
        assert_eq!(stage.counts.get().dropped, 1);
    }
}
