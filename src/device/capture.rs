//! Capture: a stage that records every frame lwIP receives and sends on an
//! interface in a pcapng file (`-i …,pcap=PATH`), readable by `tcpdump -r`
//! and `tshark -r`. It wraps any [`Device`], like the impairment stage.
//!
//! It sits right under the driver (`netif.rs`), above impairment, so it shows
//! what lwIP itself received and sent: received frames after impairment (a
//! dropped frame is not there, a damaged one is) and before the driver pads
//! runts to 60 bytes (and including those the driver then drops, for want
//! of a pbuf or for being over the MTU); sent frames before impairment and
//! after the driver filled in the checksums of forwarded packets. With receive offload, TCP
//! segments of up to 64 KiB appear as lwIP got them, their checksums not yet
//! computed (as on a host capturing with GRO).
//!
//! The file format is written by the `pcap-file` crate: one pcapng section,
//! one interface description (name, snap length, nanosecond timestamps) per
//! interface that captures into the file, and each frame's direction
//! (inbound: received by lwIP; outbound: sent by it). Interfaces naming the same file
//! share it. Records collect in memory and go to the file in large writes
//! (when [`FLUSH_AT`] bytes are waiting, [`FLUSH_EVERY`] after the oldest
//! record waiting was taken, on SIGUSR1, on exit), so capturing never holds
//! up the event loop for long, its memory stays bounded, and a reader
//! (`tshark -r`, `tail -f`) sees each frame within a second. A
//! write that fails (a full disk) stops the capture with one warning; the
//! records that could not be written are counted, and lwIP goes on.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use super::{FramePath, StageStats, VnetHeader};
use crate::config::CaptureConfig;
use crate::error::Error;

/// Bytes of records kept in memory before they are written to the file.
pub(crate) const FLUSH_AT: usize = 1 << 20;

/// The longest a record waits in memory: the loop wakes up to write it.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// pcapng's if_tsresol for nanoseconds (10^-9 s).
const NANOSECONDS: u8 = 9;

/// pcapng's epb_flags direction: received by lwIP, or sent by it.
const INBOUND: u32 = 1;
const OUTBOUND: u32 = 2;

/// What happened to one interface's records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaptureCounts {
    /// Records in the file.
    pub written: u64,
    /// Records waiting in memory.
    pub pending: u64,
    /// Records that could not be written (the capture stopped).
    pub lost: u64,
}

struct Member {
    name: String,
    snaplen: usize,
    counts: CaptureCounts,
}

/// One pcapng file and the records waiting to be written to it.
pub(crate) struct CaptureFile {
    path: PathBuf,
    /// `None` once a write failed: the capture has stopped.
    file: Option<File>,
    /// The pcapng writer, writing into memory; [`CaptureFile::flush`] moves
    /// what it wrote to the file.
    writer: PcapNgWriter<Vec<u8>>,
    /// A received frame gathered from its buffers into one piece.
    frame: Vec<u8>,
    /// The interfaces capturing into this file, by pcapng interface id.
    members: Vec<Member>,
    /// When the oldest bytes waiting in memory were put there (`None`:
    /// nothing waits).
    waiting_since: Option<Instant>,
}

impl CaptureFile {
    /// Creates (or truncates) the file at `path`. Nothing is written yet.
    fn create(path: &Path) -> Result<CaptureFile, Error> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| {
                Error::io(
                    format!("pcap={}: cannot open it for writing", path.display()),
                    e,
                )
            })?;
        let writer = PcapNgWriter::new(Vec::with_capacity(FLUSH_AT + usize::from(u16::MAX)))
            .expect("writing to memory cannot fail");
        Ok(CaptureFile {
            path: path.to_path_buf(),
            file: Some(file),
            writer,
            frame: Vec::new(),
            members: Vec::new(),
            // The section header waits too: written within FLUSH_EVERY, so
            // a reader finds a valid (empty) capture before any frame.
            waiting_since: Some(Instant::now()),
        })
    }

    /// Describes an interface in the file; returns its pcapng interface id.
    fn add_interface(&mut self, name: &str, snaplen: u32) -> usize {
        let description = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(name.to_string())),
                InterfaceDescriptionOption::IfTsResol(NANOSECONDS),
            ],
        };
        self.writer
            .write_pcapng_block(description)
            .expect("writing to memory cannot fail");
        self.members.push(Member {
            name: name.to_string(),
            snaplen: snaplen as usize,
            counts: CaptureCounts::default(),
        });
        self.members.len() - 1
    }

    /// Records a frame of `len` bytes, given in `parts`, as seen by
    /// interface `id` now going `direction` ([`INBOUND`] or [`OUTBOUND`]).
    fn record<'a>(
        &mut self,
        id: usize,
        direction: u32,
        len: usize,
        parts: impl Iterator<Item = &'a [u8]>,
    ) {
        let member = &mut self.members[id];
        if self.file.is_none() {
            member.counts.lost += 1;
            return;
        }
        let keep = len.min(member.snaplen);
        self.frame.clear();
        for part in parts {
            let room = keep - self.frame.len();
            if room == 0 {
                break;
            }
            self.frame.extend_from_slice(&part[..part.len().min(room)]);
        }
        let block = EnhancedPacketBlock {
            interface_id: id as u32,
            timestamp: crate::clock::wall_time(),
            original_len: len as u32,
            data: Cow::Borrowed(&self.frame),
            options: vec![EnhancedPacketOption::Flags(direction)],
        };
        self.writer
            .write_pcapng_block(block)
            .expect("writing to memory cannot fail");
        member.counts.pending += 1;
        self.waiting_since.get_or_insert_with(Instant::now);
        if self.writer.get_ref().len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Writes the records waiting in memory to the file. After a failed
    /// write the capture stops: one warning, and the records are lost.
    pub(crate) fn flush(&mut self) {
        self.waiting_since = None;
        let Some(file) = &mut self.file else {
            return;
        };
        let buffer = self.writer.get_mut();
        if buffer.is_empty() {
            return;
        }
        let result = file.write_all(buffer);
        buffer.clear();
        let failed = result.is_err();
        for member in &mut self.members {
            let counts = &mut member.counts;
            if failed {
                counts.lost += counts.pending;
            } else {
                counts.written += counts.pending;
            }
            counts.pending = 0;
        }
        if let Err(e) = result {
            let lost: u64 = self.members.iter().map(|m| m.counts.lost).sum();
            log::warn!(
                "pcap={}: capture stopped, cannot write ({e}); {lost} records lost, lwIP goes on",
                self.path.display()
            );
            self.file = None;
            *buffer = Vec::new();
        }
    }

    /// One line for the log: each interface's records in the file.
    pub(crate) fn summary(&self) -> String {
        let parts: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{} {}", m.name, m.counts.written))
            .collect();
        format!(
            "pcap={}: records written: {}",
            self.path.display(),
            parts.join(", ")
        )
    }
}

impl Drop for CaptureFile {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The capture files of a stack, each opened once however many interfaces
/// capture into it.
#[derive(Default)]
pub(crate) struct CaptureFiles {
    files: Vec<(u64, u64, Rc<RefCell<CaptureFile>>)>,
}

impl CaptureFiles {
    /// Opens (creating or truncating) every file in `captures`, so that a
    /// path that cannot be written is refused before any device is touched.
    /// Paths that lead to the same file share it.
    pub(crate) fn open<'a>(
        captures: impl Iterator<Item = &'a CaptureConfig>,
    ) -> Result<CaptureFiles, Error> {
        let mut files = CaptureFiles::default();
        for capture in captures {
            files.get_or_open(&capture.path)?;
        }
        Ok(files)
    }

    fn get_or_open(&mut self, path: &Path) -> Result<Rc<RefCell<CaptureFile>>, Error> {
        let identity = |file: &File| {
            let meta = file
                .metadata()
                .map_err(|e| Error::io(format!("pcap={}: cannot inspect it", path.display()), e))?;
            Ok::<_, Error>((meta.dev(), meta.ino()))
        };
        if let Ok(existing) = File::open(path) {
            let id = identity(&existing)?;
            if let Some((_, _, file)) = self.files.iter().find(|(d, i, _)| (*d, *i) == id) {
                return Ok(Rc::clone(file));
            }
        }
        let file = CaptureFile::create(path)?;
        let (dev, ino) = identity(file.file.as_ref().expect("just opened"))?;
        let file = Rc::new(RefCell::new(file));
        self.files.push((dev, ino, Rc::clone(&file)));
        Ok(file)
    }

    /// Wraps `inner` in a capture stage recording into the configured file.
    /// The interface is `name` in the file.
    pub(crate) fn stage(
        &mut self,
        inner: Box<dyn FramePath>,
        name: &str,
        config: &CaptureConfig,
    ) -> Result<Box<dyn FramePath>, Error> {
        let file = self.get_or_open(&config.path)?;
        let id = file.borrow_mut().add_interface(name, config.snaplen);
        log::info!(
            "{name}: capturing into {} (buffered: written within {} s, on SIGUSR1 and on exit)",
            config.path.display(),
            FLUSH_EVERY.as_secs()
        );
        Ok(Box::new(Capture { inner, file, id }))
    }

    /// Writes every file's waiting records out.
    pub(crate) fn flush(&self) {
        for (_, _, file) in &self.files {
            file.borrow_mut().flush();
        }
    }

    /// When the next file must be written ([`FLUSH_EVERY`] after its
    /// oldest waiting record); `None` when nothing waits.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.files
            .iter()
            .filter_map(|(_, _, f)| f.borrow().waiting_since)
            .min()
            .map(|since| since + FLUSH_EVERY)
    }

    /// Writes out the files whose oldest waiting record is due.
    pub(crate) fn flush_due(&self) {
        let Some(due) = self.next_due() else {
            return;
        };
        let now = Instant::now();
        if due > now {
            return;
        }
        for (_, _, file) in &self.files {
            let mut file = file.borrow_mut();
            if file.waiting_since.is_some_and(|s| s + FLUSH_EVERY <= now) {
                file.flush();
            }
        }
    }

    pub(crate) fn files(&self) -> impl Iterator<Item = std::cell::Ref<'_, CaptureFile>> {
        self.files.iter().map(|(_, _, f)| f.borrow())
    }
}

/// The capture stage of one interface.
struct Capture {
    inner: Box<dyn FramePath>,
    file: Rc<RefCell<CaptureFile>>,
    /// This interface's id in the file.
    id: usize,
}

/// The frame in `bufs` (whose first `total` bytes were filled, virtio-net
/// header first), as slices.
fn frame_parts<'a>(
    bufs: impl Iterator<Item = &'a [u8]>,
    total: usize,
) -> impl Iterator<Item = &'a [u8]> {
    let mut offset = 0;
    bufs.filter_map(move |buf| {
        let (start, end) = (offset, (offset + buf.len()).min(total));
        offset += buf.len();
        let from = VnetHeader::LEN.max(start);
        (from < end).then(|| &buf[from - start..end - start])
    })
}

impl FramePath for Capture {
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let total = self.inner.read(bufs)?;
        if total > VnetHeader::LEN {
            let parts = frame_parts(bufs.iter().map(|b| &**b), total);
            self.file
                .borrow_mut()
                .record(self.id, INBOUND, total - VnetHeader::LEN, parts);
        }
        Ok(total)
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total > VnetHeader::LEN {
            let parts = frame_parts(bufs.iter().map(|b| &**b), total);
            self.file
                .borrow_mut()
                .record(self.id, OUTBOUND, total - VnetHeader::LEN, parts);
        }
        self.inner.write(bufs)
    }

    fn flush(&self) -> io::Result<()> {
        self.inner.flush()
    }

    fn next_due(&self) -> Option<Instant> {
        self.inner.next_due()
    }

    fn send_due(&self) -> io::Result<()> {
        self.inner.send_due()
    }

    fn stage_stats(&self, stats: &mut Vec<StageStats>) {
        let file = self.file.borrow();
        let counts = file.members[self.id].counts;
        stats.push(StageStats {
            key: "pcap",
            line: format!(
                "pcap {} written {} pending {} lost {}",
                file.path.display(),
                counts.written,
                counts.pending,
                counts.lost
            ),
            json: serde_json::json!({
                "file": file.path.display().to_string(),
                "written": counts.written,
                "pending": counts.pending,
                "lost": counts.lost,
            }),
        });
        drop(file);
        self.inner.stage_stats(stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_parts_skip_the_header_and_stop_at_the_total() {
        let a = [0u8; 4];
        let b = [1u8, 1, 1, 1, 1, 1, 2, 2];
        let c = [3u8; 5];
        let bufs: [&[u8]; 3] = [&a, &b, &c];
        let parts: Vec<&[u8]> = frame_parts(bufs.into_iter(), 14).collect();
        assert_eq!(parts, vec![&[2u8, 2][..], &[3u8, 3][..]]);
        let parts: Vec<&[u8]> = frame_parts(bufs.into_iter(), 10).collect();
        assert!(parts.is_empty());
    }
}
