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
//! What is pending is written when the event loop ends a round
//! ([`Device::flush`]), before any other frame, and when it is full.
//! Capture and impairment sit above this stage: they see the segments.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use super::{Device, VnetHeader};
use crate::checksum::{self, RunningSum, ETH_HLEN};
use crate::error::Error;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_URG: u8 = 0x20;
const TCP_CWR: u8 = 0x80;
/// The largest super-frame: its IP packet's length must fit 16 bits.
const MAX_FRAME: usize = ETH_HLEN + u16::MAX as usize;

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
    v6: bool,
    /// Ethernet, IP and TCP headers.
    hdr_len: usize,
    /// Where the TCP header starts.
    tcp: usize,
    payload: usize,
    seq: u32,
    /// IPv4 ID (0 for IPv6).
    id: u16,
    flags: u8,
}

impl Segment {
    /// The segment `frame` holds, if it is one that may be merged.
    fn parse(frame: &[u8]) -> Option<Segment> {
        let ip = frame.get(ETH_HLEN..)?;
        let (v6, ip_len, id) = match (frame.get(12..14)?, ip.first()? >> 4) {
            ([0x08, 0x00], 4) => {
                let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
                // No options, not a fragment (DF may be set or not: the
                // kernel copies it to every segment), TCP, the whole frame
                // is the packet, the header checksum is right.
                if ip.len() < 20
                    || ip[0] != 0x45
                    || (ip[6] & 0xbf, ip[7]) != (0, 0)
                    || ip.get(9) != Some(&6)
                    || total != ip.len()
                    || !checksum::verifies(&ip[..20])
                {
                    return None;
                }
                (false, 20, u16::from_be_bytes([ip[4], ip[5]]))
            }
            ([0x86, 0xdd], 6) => {
                let payload = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
                if ip.get(6) != Some(&6) || payload + 40 != ip.len() {
                    return None;
                }
                (true, 40, 0)
            }
            _ => return None,
        };
        let tcp = ETH_HLEN + ip_len;
        let tcp_len = usize::from(*frame.get(tcp + 12)? >> 4) * 4;
        let hdr_len = tcp + tcp_len;
        let flags = *frame.get(tcp + 13)?;
        let field = u16::from_be_bytes([*frame.get(tcp + 16)?, *frame.get(tcp + 17)?]);
        if tcp_len < 20
            || hdr_len >= frame.len()
            || flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_URG | TCP_CWR) != 0
            || field == 0
            || field == 0xffff
        {
            return None;
        }
        let pseudo = checksum::tcp_pseudo_header(&frame[ETH_HLEN..], (frame.len() - tcp) as u32)?;
        let mut sum = RunningSum::default();
        sum.add(&pseudo.to_be_bytes());
        sum.add(&frame[tcp..]);
        if sum.fold() != 0xffff {
            return None;
        }
        Some(Segment {
            v6,
            hdr_len,
            tcp,
            payload: frame.len() - hdr_len,
            seq: u32::from_be_bytes(frame[tcp + 4..tcp + 8].try_into().ok()?),
            id,
            flags,
        })
    }
}

/// Makes the frame whose headers `headers` holds (`total` bytes, a TCP
/// segment over IPv4 or, with `v6`, IPv6; its TCP header at `tcp`, its
/// payload at `hdr_len`) one for the kernel to cut into segments of
/// `gso_size` payload bytes: the checksum field gets the pseudo header's sum
/// (every segment gets its own checksum), and the virtio-net header that
/// asks for all that is returned.
pub(crate) fn segmentation_header(
    headers: &mut [u8],
    total: usize,
    v6: bool,
    tcp: usize,
    hdr_len: usize,
    gso_size: u16,
) -> Option<VnetHeader> {
    let pseudo = checksum::tcp_pseudo_header(headers.get(ETH_HLEN..)?, (total - tcp) as u32)?;
    headers
        .get_mut(tcp + 16..tcp + 18)?
        .copy_from_slice(&pseudo.to_be_bytes());
    Some(VnetHeader {
        flags: VnetHeader::NEEDS_CSUM,
        gso_type: if v6 {
            VnetHeader::GSO_TCPV6
        } else {
            VnetHeader::GSO_TCPV4
        },
        hdr_len: hdr_len as u16,
        gso_size,
        csum_start: tcp as u16,
        csum_offset: 16,
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
        let (tcp, ip) = (first.tcp, ETH_HLEN);
        !self.closed
            && segment.v6 == first.v6
            && segment.hdr_len == first.hdr_len
            && self.last_payload == first.payload
            && segment.payload <= first.payload
            && self.frame.len() + segment.payload <= MAX_FRAME
            && segment.seq == self.next_seq
            && (segment.flags & !TCP_PSH) == first.flags
            && same(0..ETH_HLEN)
            && if first.v6 {
                same(ip..ip + 4) && same(ip + 6..ip + 40)
            } else {
                segment.id == self.last_id.wrapping_add(1)
                    && same(ip..ip + 2)
                    && same(ip + 6..ip + 10)
                    && same(ip + 12..ip + 20)
            }
            && same(tcp..tcp + 4)
            && same(tcp + 8..tcp + 13)
            && same(tcp + 14..tcp + 16)
            && same(tcp + 18..first.hdr_len)
    }

    fn start(&mut self, frame: &[u8], segment: Segment) {
        self.frame.clear();
        self.frame.extend_from_slice(frame);
        self.first = Some(segment);
        self.segments = 1;
        self.advance(&segment);
    }

    fn append(&mut self, frame: &[u8], segment: Segment) {
        self.frame.extend_from_slice(&frame[segment.hdr_len..]);
        self.segments += 1;
        self.advance(&segment);
    }

    fn advance(&mut self, segment: &Segment) {
        self.last_payload = segment.payload;
        self.next_seq = segment.seq.wrapping_add(segment.payload as u32);
        self.last_id = segment.id;
        self.closed = segment.flags & TCP_PSH != 0;
    }

    /// Turns the pending segments into one frame and its virtio-net header
    /// (a plain frame for a single segment). Empties `self`.
    fn take(&mut self) -> Option<(VnetHeader, Vec<u8>)> {
        let first = self.first.take()?;
        let mut frame = std::mem::take(&mut self.frame);
        if self.segments == 1 {
            return Some((VnetHeader::PLAIN, frame));
        }
        let ip = ETH_HLEN;
        if first.v6 {
            let payload = (frame.len() - ip - 40) as u16;
            frame[ip + 4..ip + 6].copy_from_slice(&payload.to_be_bytes());
        } else {
            let total = (frame.len() - ip) as u16;
            frame[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
            frame[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
            let mut sum = RunningSum::default();
            sum.add(&frame[ip..ip + 20]);
            frame[ip + 10..ip + 12].copy_from_slice(&(!sum.fold()).to_be_bytes());
        }
        // The last segment's PSH goes on the super-frame; the kernel puts
        // it on the last segment it cuts only.
        if self.closed {
            frame[first.tcp + 13] |= TCP_PSH;
        }
        let total = frame.len();
        let header = segmentation_header(
            &mut frame,
            total,
            first.v6,
            first.tcp,
            first.hdr_len,
            first.payload as u16,
        )?;
        Some((header, frame))
    }
}

/// The merge stage on a device (see the module's documentation).
pub(crate) struct Merge {
    inner: Box<dyn Device>,
    pending: RefCell<Pending>,
    /// The frame being written, gathered.
    scratch: RefCell<Vec<u8>>,
    counts: Cell<Counts>,
}

impl Merge {
    pub(crate) fn new(inner: Box<dyn Device>) -> Merge {
        Merge {
            inner,
            pending: RefCell::new(Pending::default()),
            scratch: RefCell::new(Vec::with_capacity(MAX_FRAME)),
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
}

impl Device for Merge {
    super::pass_to_inner!(identity);

    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read(bufs)
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.count(|c| c.frames += 1);
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        for buf in bufs {
            scratch.extend_from_slice(buf);
        }
        let total = scratch.len();
        let plain = scratch.get(..VnetHeader::LEN) == Some(&VnetHeader::PLAIN.to_bytes()[..]);
        let frame = &scratch[VnetHeader::LEN.min(total)..];
        let segment = plain.then(|| Segment::parse(frame)).flatten();
        if let Some(segment) = segment {
            let mut pending = self.pending.borrow_mut();
            if pending.takes(frame, &segment) {
                pending.append(frame, segment);
                return Ok(total);
            }
        }
        self.flush()?;
        match segment {
            Some(segment) if segment.flags & TCP_PSH == 0 => {
                self.pending.borrow_mut().start(frame, segment);
                Ok(total)
            }
            _ => self.inner.write(bufs),
        }
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

    fn poll(&self) -> io::Result<()> {
        self.inner.poll()
    }

    fn stage_stats(&self, lines: &mut Vec<String>) {
        let c = self.counts.get();
        lines.push(format!(
            "merge: frames {} super-frames {} segments in them {}",
            c.frames, c.superframes, c.merged
        ));
        self.inner.stage_stats(lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that keeps what is written to it.
    #[derive(Default)]
    struct Sink(RefCell<Vec<(VnetHeader, Vec<u8>)>>);

    impl Device for Rc<Sink> {
        fn name(&self) -> &str {
            "sink"
        }
        fn mac(&self) -> Result<[u8; 6], Error> {
            Ok([2, 0, 0, 0, 0, 1])
        }
        fn mtu(&self) -> Result<u32, Error> {
            Ok(1500)
        }
        fn set_mtu(&self, _: u32) -> Result<(), Error> {
            Ok(())
        }
        fn enable_offload(&self) -> Result<(), Error> {
            Ok(())
        }
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
        fn fd(&self) -> Option<RawFd> {
            None
        }
    }

    use std::rc::Rc;

    /// An IPv4 TCP segment with correct checksums.
    fn segment(id: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
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

    fn send(merge: &Merge, frame: &[u8]) {
        let header = VnetHeader::PLAIN.to_bytes();
        merge
            .write(&[IoSlice::new(&header), IoSlice::new(frame)])
            .unwrap();
    }

    fn stage() -> (Merge, Rc<Sink>) {
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
}
