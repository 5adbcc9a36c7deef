//! The frame path: every frame that enters or leaves lwIP passes a
//! [`Device`]. A device moves whole Ethernet frames, each preceded by a
//! virtio-net header ([`VnetHeader`], which says whether the frame's
//! checksums can be trusted), and knows nothing about lwIP; `netif.rs`
//! connects a device to an lwIP netif.
//!
//! Two devices exist: a Linux TAP ([`tap`]) and an in-process device whose
//! frames are handed over and collected by the caller (tests, fuzzing,
//! embedding). Both drive the same receive and transmit code in `netif.rs`.
//!
//! Stages wrap a device when an interface asks for them, and are devices
//! themselves: merging ([`merge`], a router's TCP segments toward a host
//! side that takes super-frames) right on the device, impairment
//! ([`impair`]) above it, capture ([`capture`]) above that, so the driver
//! talks to the capture stage and the capture shows what lwIP received and
//! sent. An interface without them talks to its device directly.

pub(crate) mod capture;
pub(crate) mod impair;
mod merge;
mod netlink;
pub(crate) mod tap;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

use crate::config::{Addressing, DeviceConfig, InterfaceConfig};
use crate::error::Error;

pub(crate) use crate::wire::VnetHeader;
pub(crate) use merge::segmentation_header;

/// The [`Device`] methods a stage (capture, impairment, merge) leaves to the
/// device it wraps, `self.inner`: identity, MTU, offload and the descriptor,
/// and (but with `identity`) flushing. Used inside the stage's
/// `impl Device`.
macro_rules! pass_to_inner {
    () => {
        $crate::device::pass_to_inner!(identity);

        fn flush(&self) -> io::Result<()> {
            self.inner.flush()
        }
    };
    (identity) => {
        fn name(&self) -> &str {
            self.inner.name()
        }

        fn mac(&self) -> Result<[u8; 6], Error> {
            self.inner.mac()
        }

        fn mtu(&self) -> Result<u32, Error> {
            self.inner.mtu()
        }

        fn set_mtu(&self, mtu: u32) -> Result<(), Error> {
            self.inner.set_mtu(mtu)
        }

        fn enable_offload(&self) -> Result<(), Error> {
            self.inner.enable_offload()
        }

        fn fd(&self) -> Option<RawFd> {
            self.inner.fd()
        }
    };
}
pub(crate) use pass_to_inner;

/// What carries an interface's frames.
pub(crate) trait Device {
    /// The interface name (the TAP's, or the in-process device's).
    fn name(&self) -> &str;

    /// The MAC address lwIP uses on this device.
    fn mac(&self) -> Result<[u8; 6], Error>;

    /// The device's MTU.
    fn mtu(&self) -> Result<u32, Error>;

    /// Sets the device's MTU.
    fn set_mtu(&self, mtu: u32) -> Result<(), Error>;

    /// Lets the device hand over frames of up to 64 KiB whose checksums are
    /// not computed (see [`VnetHeader`]).
    fn enable_offload(&self) -> Result<(), Error>;

    /// Reads one frame, header first, into `bufs` (a frame longer than
    /// `bufs` is cut short). Returns its length including the header;
    /// `WouldBlock` when no frame is waiting.
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize>;

    /// Writes one frame, header first, gathered from `bufs`.
    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// A descriptor that polls readable when a frame is waiting; `None` for
    /// a device whose frames come from inside the process.
    fn fd(&self) -> Option<RawFd>;

    /// When a frame this device holds back (an impairment stage's delayed
    /// frames, either way) is due: the event loop then calls
    /// [`Device::poll`] and reads, whether or not the descriptor is
    /// readable. `None` while nothing is held.
    fn next_due(&self) -> Option<Instant> {
        None
    }

    /// Sends the frames held back on their way out that are due now.
    fn poll(&self) -> io::Result<()> {
        Ok(())
    }

    /// Whether what reads the device's host side takes TCP super-frames
    /// (GSO) written to it; see the merge stage.
    fn takes_superframes(&self) -> bool {
        false
    }

    /// Writes what a stage holds back to send together (the merge stage's
    /// pending segments); the event loop calls it at the end of each round.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// Adds one line for `--stats` per stage this device is made of.
    fn stage_stats(&self, _lines: &mut Vec<String>) {}
}

/// Copies a header and a frame into `bufs` as readv(2) fills buffers: each
/// in turn, whatever does not fit is cut. Returns the bytes copied.
fn scatter(header: &[u8], frame: &[u8], bufs: &mut [IoSliceMut<'_>]) -> usize {
    let mut data = header.iter().chain(frame.iter());
    let mut copied = 0;
    for buf in bufs.iter_mut() {
        for (slot, byte) in buf.iter_mut().zip(&mut data) {
            *slot = *byte;
            copied += 1;
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

/// An opened device, and an in-process device's frame queues for the
/// caller to use.
pub(crate) struct Opened {
    pub device: Box<dyn Device>,
    pub queues: Option<Rc<FrameQueues>>,
}

/// Opens the device interface number `index` is configured with, wrapped in
/// the stages it asks for: with `merge`, merging (where the host side takes
/// super-frames) on the device, impairment (its decisions keyed by `seed`) above it, capture
/// (into a file of `captures`) above that.
pub(crate) fn open(
    config: &InterfaceConfig,
    index: usize,
    seed: u64,
    merge: bool,
    captures: &mut capture::CaptureFiles,
) -> Result<Opened, Error> {
    let Opened { mut device, queues } = open_device(config)?;
    if merge && device.takes_superframes() {
        log::debug!(
            "{}: TCP segments lwIP forwards are merged into super-frames for the host",
            device.name()
        );
        device = Box::new(merge::Merge::new(device));
    }
    if !config.impairments.is_none() {
        device = Box::new(impair::Impair::new(device, config.impairments, seed, index));
    }
    if let Some(capture) = &config.capture {
        device = captures.stage(device, capture)?;
    }
    Ok(Opened { device, queues })
}

/// Opens the device itself.
fn open_device(config: &InterfaceConfig) -> Result<Opened, Error> {
    let device: Box<dyn Device> = match &config.device {
        DeviceConfig::Tap { name } => {
            let tap = tap::TapDevice::attach(name)?;
            if !tap.is_up()? {
                log::warn!(
                    "{name}: the host side is down; bring it up with `ip link set dev {name} up`"
                );
            }
            Box::new(tap)
        }
        DeviceConfig::TransientTap { host, host6 } => {
            let tap = tap::TapDevice::create()?;
            let mut sides = Vec::new();
            if let (Some(host), Addressing::Static { netmask, .. }) = (host, config.addressing) {
                tap.configure_host(*host, netmask)?;
                sides.push(format!("{host}/{}", crate::config::prefix_len(netmask)));
            }
            if let Some(host6) = host6 {
                tap.configure_host6(*host6, crate::config::IPV6_PREFIX_LEN)?;
                sides.push(format!("{host6}/{}", crate::config::IPV6_PREFIX_LEN));
            }
            tap.bring_up()?;
            log::info!(
                "{}: transient TAP, host side {}",
                tap.name(),
                sides.join(", ")
            );
            Box::new(tap)
        }
        DeviceConfig::InProcess { name, mac } => {
            let device = InProcessDevice {
                name: name.clone(),
                mac: *mac,
                mtu: Cell::new(IN_PROCESS_MTU),
                queues: Rc::new(FrameQueues::default()),
            };
            let queues = Rc::clone(&device.queues);
            if let Some(mtu) = config.mtu {
                device.set_mtu(mtu)?;
            }
            return Ok(Opened {
                device: Box::new(device),
                queues: Some(queues),
            });
        }
    };
    if let Some(mtu) = config.mtu {
        device.set_mtu(mtu)?;
    }
    Ok(Opened {
        device,
        queues: None,
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
pub(crate) struct FrameQueues {
    inbox: RefCell<VecDeque<(VnetHeader, Vec<u8>)>>,
    outbox: RefCell<VecDeque<Vec<u8>>>,
    /// Sent frames dropped because the outbox was full.
    dropped: Cell<u64>,
}

impl FrameQueues {
    /// Queues a frame for lwIP to receive; `header` says whether its
    /// checksums are to be trusted, as a TAP's virtio-net header does.
    pub(crate) fn push(&self, header: VnetHeader, frame: &[u8]) {
        self.inbox.borrow_mut().push_back((header, frame.to_vec()));
    }

    /// The oldest frame lwIP sent that has not been taken yet.
    pub(crate) fn pop_sent(&self) -> Option<Vec<u8>> {
        self.outbox.borrow_mut().pop_front()
    }
}

/// A device inside the process: frames are queued in and collected out.
struct InProcessDevice {
    name: String,
    mac: [u8; 6],
    mtu: Cell<u32>,
    queues: Rc<FrameQueues>,
}

impl Device for InProcessDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> Result<[u8; 6], Error> {
        Ok(self.mac)
    }

    fn mtu(&self) -> Result<u32, Error> {
        Ok(self.mtu.get())
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), Error> {
        self.mtu.set(mtu);
        Ok(())
    }

    fn enable_offload(&self) -> Result<(), Error> {
        Ok(())
    }

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

    fn fd(&self) -> Option<RawFd> {
        None
    }
}
