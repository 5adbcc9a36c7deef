//! The frame path: every frame that enters or leaves lwIP passes a
//! device. A device moves whole Ethernet frames, each preceded by a
//! virtio-net header ([`VnetHeader`], which says whether the frame's
//! checksums can be trusted), and knows nothing about lwIP; `netif.rs`
//! connects a device to an lwIP netif.
//!
//! Two devices exist: a Linux TAP (`tap`) and an in-process device whose
//! frames are handed over and collected by the caller through its
//! [`InProcessPort`] (tests, fuzzing, lwip-drill, embedding). Both drive the
//! same receive and transmit code in `netif.rs`.
//!
//! What a device is (name, MAC, MTU, offload, whether its host side takes
//! super-frames) is settled once, when `open` carries out the interface's
//! [`InterfacePlan`]; what stays is the frame path (`FramePath`), which
//! is all a stage sees and forwards.
//!
//! Stages wrap a device when an interface asks for them, and are frame
//! paths themselves: merging (`merge`, a router's TCP segments toward a host
//! side that takes super-frames) and cutting (`cut`, the super-frames that
//! host side sends, cut to wire size) right on the device, impairment
//! (`impair`) above it, capture (`capture`) above that, so the driver
//! talks to the capture stage and the capture shows what lwIP received and
//! sent. An interface without them talks to its device directly.

pub(crate) mod capture;
mod cut;
pub(crate) mod impair;
mod merge;
mod netlink;
pub(crate) mod segment;
#[allow(unsafe_code)]
pub(crate) mod tap;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

use crate::config::{Addressing, DeviceConfig, InterfacePlan};
use crate::error::Error;
pub(crate) use crate::wire::VnetHeader;

/// One stage's counters: a line for the log, and the same as JSON under
/// `key` (`--stats=json`).
pub(crate) struct StageStats {
    pub(crate) key: &'static str,
    pub(crate) line: String,
    pub(crate) json: serde_json::Value,
}

/// The path of an interface's frames: a device, or a stage wrapped around
/// one. Every frame carries a virtio-net header in front ([`VnetHeader`]).
pub(crate) trait FramePath {
    /// Reads one frame, header first, into `bufs` (a frame longer than
    /// `bufs` is cut short). Returns its length including the header;
    /// `WouldBlock` when no frame is waiting.
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize>;

    /// Writes one frame, header first, gathered from `bufs`.
    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Writes what a stage holds back to send together (the merge stage's
    /// pending segments); the event loop calls it at the end of each round.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// When a frame held back (an impairment stage's delayed frames,
    /// either way) is due: the event loop then calls
    /// [`FramePath::send_due`] and reads, whether or not the descriptor is
    /// readable. `None` while nothing is held.
    fn next_due(&self) -> Option<Instant> {
        None
    }

    /// Sends the frames held back on their way out that are due now.
    fn send_due(&self) -> io::Result<()> {
        Ok(())
    }

    /// Adds each stage's counters for `--stats`.
    fn stage_stats(&self, _stats: &mut Vec<StageStats>) {}
}

/// Copies a header and a frame into `bufs` as readv(2) fills buffers: each
/// in turn, whatever does not fit is cut. Returns the bytes copied.
fn scatter(header: &[u8], frame: &[u8], bufs: &mut [IoSliceMut<'_>]) -> usize {
    scatter_parts(&[header, frame], bufs)
}

/// Copies `parts` one after the other into `bufs`, as [`scatter`] does.
fn scatter_parts(parts: &[&[u8]], bufs: &mut [IoSliceMut<'_>]) -> usize {
    let mut copied = 0;
    let mut bufs = bufs.iter_mut().map(|b| &mut b[..]);
    let mut room: &mut [u8] = &mut [];
    for mut part in parts.iter().copied() {
        while !part.is_empty() {
            if room.is_empty() {
                match bufs.next() {
                    Some(next) => room = next,
                    None => return copied,
                }
                continue;
            }
            let n = part.len().min(room.len());
            let (dst, rest) = std::mem::take(&mut room).split_at_mut(n);
            dst.copy_from_slice(&part[..n]);
            room = rest;
            part = &part[n..];
            copied += n;
        }
    }
    copied
}

/// True for the read errors that mean "no frame waiting" rather than a
/// broken device.
pub(crate) fn no_frame_waiting(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// An interface's device, opened as its plan says: what it is, and the
/// frame path (with the stages the plan asks for) its frames take.
pub(crate) struct Opened {
    /// The interface's name (the TAP's, or the in-process device's).
    pub name: String,
    /// The MAC address lwIP uses on it.
    pub mac: [u8; 6],
    /// The device's MTU.
    pub mtu: u32,
    /// A descriptor that polls readable when a frame is waiting; `None` for
    /// a device whose frames come from inside the process. Valid while
    /// `frames` lives.
    pub fd: Option<RawFd>,
    pub frames: Box<dyn FramePath>,
    /// The caller's side of an in-process device.
    pub port: Option<InProcessPort>,
}

/// Opens the device `plan` describes, wrapped in the stages it asks for:
/// merging and cutting (where the host side takes super-frames) right on
/// the device,
/// impairment above it, capture (into a file of `captures`) above that.
pub(crate) fn open(
    plan: &InterfacePlan,
    captures: &mut capture::CaptureFiles,
) -> Result<Opened, Error> {
    let mut opened = match &plan.device {
        DeviceConfig::InProcess { name, mac } => {
            let queues = Rc::new(FrameQueues::default());
            Opened {
                name: name.clone(),
                mac: *mac,
                mtu: plan.mtu.unwrap_or(IN_PROCESS_MTU),
                fd: None,
                frames: Box::new(InProcessDevice {
                    queues: Rc::clone(&queues),
                }),
                port: Some(InProcessPort { queues }),
            }
        }
        device => open_tap(device, plan)?,
    };
    if !plan.impairments.is_none() {
        opened.frames = Box::new(impair::Impair::new(
            opened.frames,
            plan.impairments,
            plan.seed,
            plan.index,
        ));
    }
    if let Some(capture) = &plan.capture {
        opened.frames = captures.stage(opened.frames, &opened.name, capture)?;
    }
    Ok(opened)
}

/// Opens (attaches to, or creates and configures) a TAP.
fn open_tap(device: &DeviceConfig, plan: &InterfacePlan) -> Result<Opened, Error> {
    let tap = match device {
        DeviceConfig::Tap { name } => {
            let tap = tap::TapDevice::attach(name)?;
            if !tap.is_up()? {
                log::warn!(
                    "{name}: the host side is down; bring it up with `ip link set dev {name} up`"
                );
            }
            tap
        }
        DeviceConfig::TransientTap { host, host6 } => {
            let tap = tap::TapDevice::create()?;
            let mut sides = Vec::new();
            if let (Some(host), Addressing::Static { netmask, .. }) = (host, plan.addressing) {
                tap.configure_host(*host, netmask)?;
                sides.push(format!("{host}/{}", crate::config::prefix_len(netmask)));
            }
            match host6 {
                Some(host6) => {
                    tap.configure_host6(*host6, crate::config::IPV6_PREFIX_LEN)?;
                    sides.push(format!("{host6}/{}", crate::config::IPV6_PREFIX_LEN));
                }
                // No IPv6 on this link (lwIP's static addresses need gw6=,
                // and no router advertises here): the host's own IPv6
                // chatter would only be frames lwIP ignores, at moments that
                // differ from run to run. (Without the right to write
                // /proc/sys, as a user with CAP_NET_ADMIN only, the link
                // works as before.)
                None => {
                    if let Err(e) = tap.disable_host_ipv6() {
                        log::warn!("{}: the host side keeps IPv6: {e}", tap.name());
                    }
                }
            }
            tap.bring_up()?;
            log::info!(
                "{}: transient TAP, host side {}",
                tap.name(),
                sides.join(", ")
            );
            tap
        }
        DeviceConfig::InProcess { .. } => unreachable!("handled by `open`"),
    };
    if let Some(mtu) = plan.mtu {
        tap.set_mtu(mtu)?;
    }
    if plan.offload.receives_superframes() {
        tap.enable_offload()?;
    }
    let merge = plan.merge && tap.takes_superframes();
    // An interface that merges what it sends also takes super-frames in;
    // one whose lwIP takes wire frames (a router's) has them cut to wire
    // size below lwIP (the cut stage).
    let cut = merge && !plan.offload.receives_superframes();
    if cut {
        tap.enable_offload()?;
    }
    let opened = Opened {
        name: tap.name().to_string(),
        mac: tap.mac()?,
        mtu: tap.mtu()?,
        fd: Some(tap.raw_fd()),
        frames: Box::new(tap),
        port: None,
    };
    if !merge {
        return Ok(opened);
    }
    let merged: Box<dyn FramePath> = Box::new(merge::Merge::new(opened.frames));
    if !cut {
        log::debug!(
            "{}: the TCP segments lwIP sends are merged into super-frames for the host",
            opened.name
        );
        return Ok(Opened {
            frames: merged,
            ..opened
        });
    }
    log::debug!(
        "{}: TCP super-frames from the host are cut to wire size for lwIP, and the segments \
         lwIP sends merged into super-frames for the host",
        opened.name
    );
    Ok(Opened {
        frames: Box::new(cut::Cut::new(merged)),
        ..opened
    })
}

/// An in-process device's MTU unless configured.
const IN_PROCESS_MTU: u32 = 1500;

/// Frames sent by lwIP that an in-process device keeps before it drops the
/// oldest (so a caller that never collects them uses bounded memory).
const OUTBOX_LIMIT: usize = 1024;

/// The frames waiting to enter lwIP and those lwIP sent, of an in-process
/// device.
#[derive(Debug, Default)]
struct FrameQueues {
    inbox: RefCell<VecDeque<(VnetHeader, Vec<u8>)>>,
    outbox: RefCell<VecDeque<Vec<u8>>>,
    /// Sent frames dropped because the outbox was full.
    dropped: Cell<u64>,
}

/// The caller's side of an in-process device: frames pushed here reach lwIP
/// when the stack next reads its devices ([`Stack::poll`]); frames lwIP
/// sends wait here to be taken. Clones are the same device.
///
/// [`Stack::poll`]: crate::stack::Stack::poll
#[derive(Debug, Clone)]
pub struct InProcessPort {
    queues: Rc<FrameQueues>,
}

impl InProcessPort {
    /// Queues a frame for lwIP to receive. With `checksum_trusted`, lwIP
    /// skips its checksum checks, as for a frame the kernel vouches for.
    pub fn push(&self, frame: &[u8], checksum_trusted: bool) {
        let header = if checksum_trusted {
            VnetHeader::TRUSTED
        } else {
            VnetHeader::PLAIN
        };
        self.queues
            .inbox
            .borrow_mut()
            .push_back((header, frame.to_vec()));
    }

    /// The oldest frame lwIP sent that has not been taken yet.
    pub fn take_sent(&self) -> Option<Vec<u8>> {
        self.queues.outbox.borrow_mut().pop_front()
    }

    /// Frames lwIP sent that were dropped because nobody took them (the
    /// oldest go first once 1024 are waiting).
    pub fn dropped(&self) -> u64 {
        self.queues.dropped.get()
    }
}

/// A device inside the process: frames are queued in and collected out.
struct InProcessDevice {
    queues: Rc<FrameQueues>,
}

impl FramePath for InProcessDevice {
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let Some((header, frame)) = self.queues.inbox.borrow_mut().pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        Ok(scatter(&header.to_bytes(), &frame, bufs))
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut frame: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let len = frame.len();
        frame.drain(..VnetHeader::LEN.min(len));
        let mut outbox = self.queues.outbox.borrow_mut();
        if outbox.len() == OUTBOX_LIMIT {
            outbox.pop_front();
            self.queues.dropped.set(self.queues.dropped.get() + 1);
        }
        outbox.push_back(frame);
        Ok(len)
    }
}
