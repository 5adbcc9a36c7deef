//! The merge stage: consecutive TCP segments lwIP sends on a TAP, of one
//! flow and in order, are written as one super-frame (GSO) that the kernel
//! cuts back into those very segments, as a NIC's segmentation offload
//! does. lwIP still sends, and forwards, wire-sized segments and decides
//! on each as on a wire; the host pays its receive path (bridge, the
//! receiving stack) once per super-frame instead of once per segment, which
//! is most of what a router spends per frame.
//!
//! A segment is merged only if the kernel's segmentation gives it back
//! byte for byte: same Ethernet, IP and TCP headers but for the length,
//! the IPv4 ID (one more than the previous segment's), the sequence number
//! (right after the previous segment's data), the checksums and PSH (which
//! only the last may carry); every segment but the last of the same size;
//! IPv4 without options (not a fragment), or IPv6 without extension headers; no SYN,
//! FIN, RST, URG or CWR; and correct checksums (a segment with a wrong one,
//! or whose checksum field holds 0 or 0xffff, goes as it is, or the kernel
//! would mend or rewrite it). Anything else flushes what is pending and is
//! written as it is, so the order of frames never changes.
//!
//! What is pending is written when the event loop ends a round, or on a
//! single interface once lwIP has taken in the frame it answered
//! (`FramePath::flush`); before any other frame; and when it is full. A
//! segment with PSH that would end nothing pending goes as it is, unsummed
//! and uncopied: most of what lwIP's own TCP sends.
//! Capture and impairment sit above this stage: they see the segments.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice, IoSliceMut};

use super::segment::segmentation_header;
use super::{FramePath, StageStats, VnetHeader};
use crate::wire::checksum::{self, RunningSum};
use crate::wire::ethernet;
use crate::wire::ipv4::field as ipv4_field;
use crate::wire::ipv4::Ipv4Header;
use crate::wire::ipv6::field as ipv6_field;
use crate::wire::ipv6::Ipv6Header;
use crate::wire::tcp::field as tcp_field;
use crate::wire::tcp::{TcpFlags, TcpHeader};
use crate::wire::TcpInFrame;

const ETH_HLEN: usize = ethernet::HEADER_LEN;
/// The largest super-frame: its IP packet's length must fit 16 bits.
const MAX_FRAME: usize = ETH_HLEN + u16::MAX as usize;
/// Segments with any of these are never merged.
const UNMERGEABLE: TcpFlags = TcpFlags(
    TcpFlags::FIN.0 | TcpFlags::SYN.0 | TcpFlags::RST.0 | TcpFlags::URG.0 | TcpFlags::CWR.0,
);

/// Counters for `--stats`.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// Frames lwIP sent through this stage.
    frames: u64,
    /// Super-frames written (each of two segments or more).
    superframes: u64,
    /// Segments those super-frames carried.
    merged: u64,
}

/// Where the headers of a TCP segment are, as read from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    at: TcpInFrame,
    payload: usize,
    seq: u32,
    /// IPv4 ID (0 for IPv6).
    id: u16,
    flags: TcpFlags,
}

impl Segment {
    /// The segment in a frame of `len` bytes whose headers are all in
    /// `head` (the rest may be elsewhere), if its headers allow merging
    /// it. Its TCP checksum is checked apart ([`Segment::checksum_right`]),
    /// only when it is about to be merged.
    fn parse(head: &[u8], len: usize) -> Option<Segment> {
        let at = TcpInFrame::locate(head)?;
        let ip = &head[ETH_HLEN..];
        let id = if at.ipv6 {
            let ip = Ipv6Header::new_unchecked(ip);
            if ETH_HLEN + at.ip_header_len + usize::from(ip.payload_len()) != len {
                return None;
            }
            0
        } else {
            // No options, not a fragment (DF may be set or not: the
            // kernel copies it to every segment), the whole frame is the
            // packet, the header checksum is right.
            let ip = Ipv4Header::new_unchecked(ip);
            if at.ip_header_len != 20
                || ip.is_fragment()
                || ETH_HLEN + usize::from(ip.total_len()) != len
                || !ip.verify_checksum()
            {
                return None;
            }
            ip.ident()
        };
        let tcp = TcpHeader::new_unchecked(&head[at.tcp_start..]);
        let field = tcp.checksum();
        if at.headers_len >= len
            || tcp.flags().intersects(UNMERGEABLE)
            || field == 0
            || field == 0xffff
        {
            return None;
        }
        Some(Segment {
            at,
            payload: len - at.headers_len,
            seq: tcp.seq(),
            id,
            flags: tcp.flags(),
        })
    }

    /// Whether the TCP checksum of this segment, whose frame is `parts`
    /// (the first holding every header), is right.
    fn checksum_right(&self, parts: &[IoSlice<'_>]) -> bool {
        let tcp_len = (self.at.headers_len - self.at.tcp_start + self.payload) as u32;
        let Some(pseudo) = checksum::tcp_pseudo_header(&parts[0][ETH_HLEN..], tcp_len) else {
            return false;
        };
        let mut sum = RunningSum::default();
        sum.add(&pseudo.to_be_bytes());
        for piece in from(parts, self.at.tcp_start) {
            sum.add(piece);
        }
        sum.fold() == 0xffff
    }
}

/// The bytes of a frame in `parts` from offset `start` on, piece by piece.
fn from<'a>(parts: &'a [IoSlice<'_>], start: usize) -> impl Iterator<Item = &'a [u8]> {
    let mut skip = start;
    parts.iter().map(move |part| {
        let part: &[u8] = part;
        let piece = &part[skip.min(part.len())..];
        skip = skip.saturating_sub(part.len());
        piece
    })
}

/// The segments waiting to be written as one super-frame.
#[derive(Debug, Default)]
struct Pending {
    /// The first segment's frame, whole; the others' payloads after it.
    frame: Vec<u8>,
    first: Option<Segment>,
    segments: u64,
    /// The last segment's payload size, sequence number after it, IPv4 ID.
    last_payload: usize,
    next_seq: u32,
    last_id: u16,
    /// The last segment had PSH: nothing may follow it.
    closed: bool,
}

impl Pending {
    /// Whether `segment` (in `frame`) can be appended: same flow and
    /// headers, right after the last, and the same size as the first.
    fn takes(&self, frame: &[u8], segment: &Segment) -> bool {
        let Some(first) = &self.first else {
            return false;
        };
        let head = &self.frame;
        let same = |range: std::ops::Range<usize>| head.get(range.clone()) == frame.get(range);
        // Every header field but those the kernel's segmentation sets
        // per segment: IP length, IPv4 ID and checksum, sequence number,
        // PSH (checked with the flags below) and the TCP checksum.
        let ip = |range: std::ops::Range<usize>| same(ETH_HLEN + range.start..ETH_HLEN + range.end);
        let tcp = first.at.tcp_start;
        let tcp = |range: std::ops::Range<usize>| same(tcp + range.start..tcp + range.end);
        !self.closed
            && segment.at == first.at
            && self.last_payload == first.payload
            && segment.payload <= first.payload
            && self.frame.len() + segment.payload <= MAX_FRAME
            && segment.seq == self.next_seq
            && segment.flags.without(TcpFlags::PSH) == first.flags
            && same(0..ETH_HLEN)
            && if first.at.ipv6 {
                use ipv6_field as f;
                ip(f::VER_TC_FLOW) && ip(f::NEXT_HEADER..f::DST.end)
            } else {
                use ipv4_field as f;
                segment.id == self.last_id.wrapping_add(1)
                    && ip(f::VER_IHL..f::LENGTH)
                    && ip(f::FLAGS_FRAG..f::CHECKSUM)
                    && ip(f::SRC.start..f::DST.end)
            }
            && tcp(tcp_field::SRC_PORT..tcp_field::SEQ)
            && tcp(tcp_field::ACK..tcp_field::FLAGS)
            && tcp(tcp_field::WINDOW..tcp_field::CHECKSUM)
            && tcp(tcp_field::URGENT..first.at.headers_len - first.at.tcp_start)
    }

    fn start(&mut self, parts: &[IoSlice<'_>], segment: Segment) {
        self.frame.clear();
        for piece in from(parts, 0) {
            self.frame.extend_from_slice(piece);
        }
        self.first = Some(segment);
        self.segments = 1;
        self.advance(&segment);
    }

    fn append(&mut self, parts: &[IoSlice<'_>], segment: Segment) {
        for piece in from(parts, segment.at.headers_len) {
            self.frame.extend_from_slice(piece);
        }
        self.segments += 1;
        self.advance(&segment);
    }

    fn advance(&mut self, segment: &Segment) {
        self.last_payload = segment.payload;
        self.next_seq = segment.seq.wrapping_add(segment.payload as u32);
        self.last_id = segment.id;
        self.closed = segment.flags.contains(TcpFlags::PSH);
    }

    /// Turns the pending segments into one frame and its virtio-net header
    /// (a plain frame for a single segment). Empties `self`.
    fn take(&mut self) -> Option<(VnetHeader, Vec<u8>)> {
        let first = self.first.take()?;
        let mut frame = std::mem::take(&mut self.frame);
        if self.segments == 1 {
            return Some((VnetHeader::PLAIN, frame));
        }
        let packet = (frame.len() - ETH_HLEN) as u16;
        let ip = &mut frame[ETH_HLEN..];
        if first.at.ipv6 {
            Ipv6Header::new_unchecked(ip).set_payload_len(packet - first.at.ip_header_len as u16);
        } else {
            let mut ip = Ipv4Header::new_unchecked(ip);
            ip.set_total_len(packet);
            ip.fill_checksum();
        }
        let mut tcp = TcpHeader::new_unchecked(&mut frame[first.at.tcp_start..]);
        // The last segment's PSH goes on the super-frame; the kernel puts
        // it on the last segment it cuts only.
        if self.closed {
            tcp.set_flags(tcp.flags() | TcpFlags::PSH);
        }
        let total = frame.len();
        let header = segmentation_header(&mut frame, total, first.at, first.payload as u16)?;
        Some((header, frame))
    }
}

/// The merge stage on a device (see the module's documentation).
pub(crate) struct Merge {
    inner: Box<dyn FramePath>,
    pending: RefCell<Pending>,
    counts: Cell<Counts>,
}

impl Merge {
    pub(crate) fn new(inner: Box<dyn FramePath>) -> Merge {
        Merge {
            inner,
            pending: RefCell::new(Pending::default()),
            counts: Cell::new(Counts::default()),
        }
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    /// Writes a frame with `header` to the device below.
    fn write_frame(&self, header: VnetHeader, frame: &[u8]) -> io::Result<usize> {
        let header = header.to_bytes();
        self.inner
            .write(&[IoSlice::new(&header), IoSlice::new(frame)])
    }

    /// Holds the frame in `bufs` to merge it with what is pending or what
    /// comes next, writing what is pending first where it starts anew:
    /// `Some(its length)` when held, `None` when it must go as it is.
    fn hold(&self, bufs: &[IoSlice<'_>]) -> io::Result<Option<usize>> {
        // The virtio-net header, then the frame in the pieces lwIP's
        // buffers hold, the first with every header (else it is not merged).
        let [header, parts @ ..] = bufs else {
            return Ok(None);
        };
        if header.len() != VnetHeader::LEN || parts.is_empty() {
            return Ok(None);
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        // Segments lwIP forwards whose checksum was vouched for where they
        // came in carry `DATA_VALID` (see `netif.rs`); any other header
        // than that and the plain one goes as it is.
        let vouched = **header == VnetHeader::TRUSTED.to_bytes();
        let mergeable = vouched || **header == VnetHeader::PLAIN.to_bytes();
        let Some(segment) = mergeable.then(|| Segment::parse(&parts[0], len)).flatten() else {
            return Ok(None);
        };
        let mut pending = self.pending.borrow_mut();
        let takes = pending.takes(&parts[0], &segment);
        // A segment with PSH that ends nothing pending goes as it is: what
        // lwIP's own TCP mostly sends (its checksum is then not summed, nor
        // the frame copied).
        let starts = !takes && !segment.flags.contains(TcpFlags::PSH);
        if !(takes || starts) || !(vouched || segment.checksum_right(parts)) {
            return Ok(None);
        }
        if takes {
            pending.append(parts, segment);
        } else {
            drop(pending);
            self.flush()?;
            self.pending.borrow_mut().start(parts, segment);
        }
        Ok(Some(VnetHeader::LEN + len))
    }
}

impl FramePath for Merge {
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read(bufs)
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.count(|c| c.frames += 1);
        if let Some(held) = self.hold(bufs)? {
            return Ok(held);
        }
        self.flush()?;
        self.inner.write(bufs)
    }

    /// Writes what is pending: one super-frame, or a lone segment as it was.
    fn flush(&self) -> io::Result<()> {
        let (segments, taken) = {
            let mut pending = self.pending.borrow_mut();
            (pending.segments, pending.take())
        };
        if let Some((header, frame)) = taken {
            if header.is_gso() {
                self.count(|c| {
                    c.superframes += 1;
                    c.merged += segments;
                });
            }
            self.write_frame(header, &frame)?;
        }
        self.inner.flush()
    }

    fn next_due(&self) -> Option<std::time::Instant> {
        self.inner.next_due()
    }

    fn send_due(&self) -> io::Result<()> {
        self.inner.send_due()
    }

    fn stage_stats(&self, stats: &mut Vec<StageStats>) {
        let c = self.counts.get();
        stats.push(StageStats {
            key: "merge",
            line: format!(
                "merge: frames {} super-frames {} segments in them {}",
                c.frames, c.superframes, c.merged
            ),
            json: serde_json::json!({
                "frames": c.frames,
                "superframes": c.superframes,
                "segments": c.merged,
            }),
        });
        self.inner.stage_stats(stats);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A device that keeps what is written to it.
    #[derive(Default)]
    pub(in crate::device) struct Sink(pub(in crate::device) RefCell<Vec<(VnetHeader, Vec<u8>)>>);

    impl FramePath for Rc<Sink> {
        fn read(&self, _: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
        fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let header = VnetHeader::parse(bytes[..VnetHeader::LEN].try_into().unwrap());
            self.0
                .borrow_mut()
                .push((header, bytes[VnetHeader::LEN..].to_vec()));
            Ok(bytes.len())
        }
    }

    use std::rc::Rc;

    /// An IPv4 TCP segment with correct checksums.
    pub(in crate::device) fn segment(id: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (40 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&[0x40, 0, 63, 6, 0, 0, 172, 16, 0, 100, 172, 16, 1, 100]);
        let mut sum = RunningSum::default();
        sum.add(&f[ETH_HLEN..]);
        let ip_check = !sum.fold();
        f[ETH_HLEN + 10..ETH_HLEN + 12].copy_from_slice(&ip_check.to_be_bytes());
        f.extend_from_slice(&[0x9c, 0x40, 0x23, 0x57]);
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0x50, flags, 0x01, 0xf5, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        let pseudo = checksum::tcp_pseudo_header(&f[ETH_HLEN..], (20 + payload.len()) as u32);
        let mut sum = RunningSum::default();
        sum.add(&pseudo.unwrap().to_be_bytes());
        sum.add(&f[34..]);
        let tcp_check = checksum::completed(sum.fold());
        f[50..52].copy_from_slice(&tcp_check.to_be_bytes());
        f
    }

    pub(in crate::device) fn send(merge: &Merge, frame: &[u8]) {
        let header = VnetHeader::PLAIN.to_bytes();
        merge
            .write(&[IoSlice::new(&header), IoSlice::new(frame)])
            .unwrap();
    }

    pub(in crate::device) fn stage() -> (Merge, Rc<Sink>) {
        let sink = Rc::new(Sink::default());
        (Merge::new(Box::new(Rc::clone(&sink))), sink)
    }

    #[test]
    fn consecutive_segments_become_one_superframe() {
        let (merge, sink) = stage();
        let data: Vec<u8> = (0..3500u32).map(|i| i as u8).collect();
        send(&merge, &segment(7, 1000, 0x10, &data[..1400]));
        send(&merge, &segment(8, 2400, 0x10, &data[1400..2800]));
        send(&merge, &segment(9, 3800, 0x18, &data[2800..]));
        assert!(sink.0.borrow().is_empty(), "held until flushed");
        merge.flush().unwrap();
        let written = sink.0.borrow();
        assert_eq!(written.len(), 1);
        let (header, frame) = &written[0];
        assert_eq!(header.gso_type, VnetHeader::GSO_TCPV4);
        assert_eq!(header.flags, VnetHeader::NEEDS_CSUM);
        assert_eq!((header.gso_size, header.hdr_len), (1400, 54));
        assert_eq!((header.csum_start, header.csum_offset), (34, 16));
        assert_eq!(&frame[54..], &data[..], "the payloads, in order");
        let first = segment(7, 1000, 0x18, &data);
        assert_eq!(&frame[..16], &first[..16]);
        assert_eq!(&frame[16..18], &((40 + 3500) as u16).to_be_bytes());
        assert!(
            checksum::verifies(&frame[ETH_HLEN..34]),
            "IPv4 header checksum"
        );
        assert_eq!(frame[47], 0x18, "PSH from the last segment");
        assert_eq!(&frame[34..50], &first[34..50]);
        let pseudo = checksum::tcp_pseudo_header(&frame[ETH_HLEN..], 20 + 3500).unwrap();
        assert_eq!(&frame[50..52], &pseudo.to_be_bytes());
    }

    #[test]
    fn anything_that_would_not_come_back_the_same_is_written_as_it_is() {
        let payload = [0x5a; 1000];
        let first = segment(7, 1000, 0x10, &payload);
        let mut bad_checksum = segment(8, 2000, 0x10, &payload);
        bad_checksum[60] ^= 1;
        let mut other_window = segment(8, 2000, 0x10, &payload);
        other_window[48] = 0x02;
        let cases = [
            ("a gap in the sequence", segment(8, 2001, 0x10, &payload)),
            ("a gap in the IPv4 IDs", segment(9, 2000, 0x10, &payload)),
            ("CWR", segment(8, 2000, 0x90, &payload)),
            ("FIN", segment(8, 2000, 0x11, &payload)),
            ("a longer segment", segment(8, 2000, 0x10, &[0x5a; 1001])),
            ("a wrong checksum", bad_checksum),
            ("another window", other_window),
        ];
        for (what, second) in cases {
            let (merge, sink) = stage();
            send(&merge, &first);
            send(&merge, &second);
            merge.flush().unwrap();
            let written = sink.0.borrow();
            let frames: Vec<&Vec<u8>> = written.iter().map(|(_, f)| f).collect();
            assert_eq!(frames, [&first, &second], "{what}");
            assert!(
                written.iter().all(|(h, _)| *h == VnetHeader::PLAIN),
                "{what}"
            );
        }
    }

    #[test]
    fn a_segment_with_push_ends_the_superframe_and_one_alone_goes_as_it_is() {
        let (merge, sink) = stage();
        let payload = [1; 500];
        send(&merge, &segment(1, 0, 0x10, &payload));
        send(&merge, &segment(2, 500, 0x18, &payload));
        send(&merge, &segment(3, 1000, 0x10, &payload));
        merge.flush().unwrap();
        let written = sink.0.borrow();
        assert_eq!(written.len(), 2);
        assert!(written[0].0.is_gso());
        assert_eq!(
            written[1],
            (VnetHeader::PLAIN, segment(3, 1000, 0x10, &payload))
        );
    }

    #[test]
    fn vouched_segments_merge_unsummed_in_one_piece_or_several() {
        let (merge, sink) = stage();
        let data = [0x42; 2000];
        let first = segment(1, 0, 0x10, &data[..1000]);
        // Vouched for, so its checksum is not summed again: a wrong one
        // here shows it was not (lwIP never makes one; see netif.rs).
        let mut second = segment(2, 1000, 0x18, &data[1000..]);
        second[50] ^= 0xff;
        let trusted = VnetHeader::TRUSTED.to_bytes();
        merge
            .write(&[IoSlice::new(&trusted), IoSlice::new(&first)])
            .unwrap();
        // In pieces, as lwIP's buffers hold a segment (headers in the first).
        let (head, tail) = second.split_at(60);
        merge
            .write(&[
                IoSlice::new(&trusted),
                IoSlice::new(head),
                IoSlice::new(tail),
            ])
            .unwrap();
        merge.flush().unwrap();
        let written = sink.0.borrow();
        assert_eq!(written.len(), 1);
        assert!(written[0].0.is_gso());
        assert_eq!(&written[0].1[54..], &data[..]);
        // Plain, the same wrong checksum keeps it out.
        drop(written);
        let (merge, sink) = stage();
        send(&merge, &first);
        send(&merge, &second);
        merge.flush().unwrap();
        assert_eq!(sink.0.borrow().len(), 2);
    }
}
