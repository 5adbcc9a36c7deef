//! The driver between a [`Device`] and an lwIP netif: the receive path that
//! reads frames straight into pool pbufs and hands them to lwIP, the
//! `extern "C"` callbacks lwIP calls (linkoutput, DHCP events), and the
//! interface's lifetime. The netif itself is allocated and set up in C
//! (lwip/glue.c), so Rust never depends on `struct netif`'s layout.
//!
//! lwIP's `netif->state` points at the interface's [`Link`], which is only
//! ever read through shared references, so lwIP may call `link_output` while
//! `Interface::receive` is running (a ping reply is sent from inside input).
//!
//! Forwarding: lwIP's `ip4_forward` clears the IPv4 header checksum of every
//! packet it forwards (lwip/ip4_glue.c keeps it from clearing the transport
//! checksum too). `link_output` fills it in, in the frame's own buffer, as
//! checksum offload hardware would (src/checksum.rs). A `stock_lwip` build
//! sends lwIP's frames as they are.
//!
//! Super-frame pass-through (`Offload::PassThrough`, a router with
//! `offload=on` everywhere): the kernel hands over TCP super-frames of up to
//! 64 KiB, lwIP (whose MTU is raised to match) forwards each as one packet,
//! and `link_output` writes it with the virtio-net header it came with, so
//! the kernel cuts it into the same wire-sized segments it would have sent
//! in the first place. A frame whose checksum the kernel left to the
//! receiver, and which is not a super-frame, has it computed on arrival, as
//! a NIC computes it before the frame goes on the wire.

use std::cell::Cell;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ptr::{self, NonNull};
use std::rc::Rc;

use crate::config::{prefix_len, Addressing, Ipv6Config, Offload, IPV6_PREFIX_LEN};
use crate::device::{
    no_frame_waiting, segmentation_header, Device, FrameQueues, Opened, VnetHeader,
};
use crate::error::Error;
use crate::sys;
use crate::wire::checksum;
use crate::wire::{ethernet, format_mac, TcpInFrame};

/// Longest pbuf chain a frame may span (64 KiB frames in 1536-byte pool
/// pbufs need 43).
const MAX_SEGMENTS: usize = 64;
/// Ethernet header plus one VLAN tag.
const LINK_HEADER: u32 = 14 + 4;
/// The shortest Ethernet frame (without FCS). On a wire every frame is at
/// least this long, and lwIP relies on it: it reads the ARP and IPv4 headers
/// before checking that the frame holds them. A TAP passes on frames as
/// short as their sender made them, so shorter ones are padded with zeros,
/// as a NIC's sender would have.
const ETH_MIN_FRAME: usize = 60;
const ETH_HLEN: usize = ethernet::HEADER_LEN;

/// Per-interface frame counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Frames read and dropped because lwIP had no pbuf for them.
    pub rx_no_buffer: u64,
    /// Frames longer than the MTU allows.
    pub rx_oversize: u64,
    /// Frames shorter than Ethernet's 60 bytes, padded with zeros.
    pub rx_padded: u64,
    pub tx_errors: u64,
    /// IPv4 frames lwIP handed over for sending with a zero header checksum
    /// (packets it forwarded: `ip4_forward` clears it), which the driver
    /// filled in (see src/checksum.rs).
    pub tx_ip_checksum_filled: u64,
    /// TCP super-frames read (receive offload).
    pub rx_superframes: u64,
    /// TCP super-frames written for the kernel to cut (pass-through).
    pub tx_superframes: u64,
    /// Frames whose checksum the kernel left to the receiver, computed on
    /// arrival (pass-through).
    pub rx_checksums_completed: u64,
}

/// An IPv6 address of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Address {
    pub addr: Ipv6Addr,
    pub state: Ipv6State,
    pub origin: Ipv6Origin,
}

/// Where an IPv6 address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Origin {
    /// Formed by lwIP from the MAC (slot 0).
    LinkLocal,
    /// Given in the configuration (`addr6=`).
    Static,
    /// Formed from a router advertisement's prefix.
    Slaac,
}

impl Ipv6Origin {
    fn of(slot: u32, is_static: bool) -> Ipv6Origin {
        match (slot, is_static) {
            (0, _) => Ipv6Origin::LinkLocal,
            (_, true) => Ipv6Origin::Static,
            (_, false) => Ipv6Origin::Slaac,
        }
    }
}

impl std::fmt::Display for Ipv6Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ipv6Origin::LinkLocal => "link-local",
            Ipv6Origin::Static => "static",
            Ipv6Origin::Slaac => "SLAAC",
        })
    }
}

/// The state of an IPv6 address in lwIP (RFC 4862's, as lwIP keeps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6State {
    /// Duplicate address detection is still running: not usable yet.
    Tentative,
    /// Usable for new connections.
    Preferred,
    /// Still valid, but its preferred lifetime is over.
    Deprecated,
    /// Another node on the link answered duplicate address detection.
    Duplicated,
}

impl Ipv6State {
    /// lwIP's IP6_ADDR_* value; `None` for an empty slot.
    fn from_lwip(state: u8) -> Option<Ipv6State> {
        let state = u32::from(state);
        if state == sys::IP6_ADDR_DUPLICATED {
            Some(Ipv6State::Duplicated)
        } else if state & sys::IP6_ADDR_TENTATIVE != 0 {
            Some(Ipv6State::Tentative)
        } else if state == sys::IP6_ADDR_PREFERRED {
            Some(Ipv6State::Preferred)
        } else if state & sys::IP6_ADDR_VALID != 0 {
            Some(Ipv6State::Deprecated)
        } else {
            None
        }
    }

    /// Usable as a source or destination.
    pub fn is_valid(self) -> bool {
        matches!(self, Ipv6State::Preferred | Ipv6State::Deprecated)
    }
}

impl std::fmt::Display for Ipv6State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ipv6State::Tentative => "tentative",
            Ipv6State::Preferred => "preferred",
            Ipv6State::Deprecated => "deprecated",
            Ipv6State::Duplicated => "duplicated",
        })
    }
}

/// What lwIP's callbacks need: the device, counters and DHCP state.
struct Link {
    device: Box<dyn Device>,
    name: String,
    counters: Cell<Counters>,
    /// The address of the DHCP lease lwIP's client holds, as last reported.
    lease: Cell<Option<Ipv4Addr>>,
    /// Set while we release the lease ourselves, so that is not a loss.
    releasing: Cell<bool>,
    /// Super-frame pass-through: lwIP's MTU is 64 KiB, the device's is
    /// this (the size of the segments leaving it).
    pass_through: Option<u16>,
}

thread_local! {
    /// The super-frame lwIP is handling now (its pbuf, which lwIP forwards
    /// as it is, and its virtio-net header), for `link_output`.
    static SUPERFRAME: Cell<Option<(usize, VnetHeader)>> = const { Cell::new(None) };
}

impl Link {
    fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }
}

/// # Safety
/// `netif` must be one of our live netifs (its state is a live `Link`).
unsafe fn link_of<'a>(netif: *const sys::netif) -> &'a Link {
    // SAFETY: the caller guarantees `netif` is ours and live.
    unsafe { &*(sys::lwip_tap_netif_state(netif) as *const Link) }
}

/// One device attached to lwIP as a netif.
pub struct Interface {
    netif: NonNull<sys::netif>,
    link: NonNull<Link>,
    mac: [u8; 6],
    mtu: u16,
    /// The largest frame we accept, and the size of every receive buffer.
    frame_capacity: u16,
    /// A pool pbuf allocated but not yet filled (kept across wakeups).
    spare: *mut sys::pbuf,
    /// Where frames go that must be read but cannot be kept.
    discard: Vec<u8>,
    /// Whether lwIP checks incoming checksums (as last set).
    checks_on: Option<bool>,
    /// Whether lwIP's DHCP client runs on this interface.
    dhcp: bool,
    /// An in-process device's frame queues.
    queues: Option<Rc<FrameQueues>>,
}

impl Interface {
    /// Adds `device` to lwIP. With `offload` other than `Off` the device
    /// hands over 64 KiB frames whose checksums are not computed (see
    /// [`Offload`]).
    pub(crate) fn add(
        Opened { device, queues }: Opened,
        addressing: Addressing,
        ipv6: &Ipv6Config,
        offload: Offload,
    ) -> Result<Interface, Error> {
        let mac = device.mac()?;
        let mtu = device.mtu()?.min(u32::from(u16::MAX) - LINK_HEADER) as u16;
        if offload != Offload::Off {
            device.enable_offload()?;
        }
        let frame_capacity = if offload == Offload::Off {
            (u32::from(mtu) + LINK_HEADER) as u16
        } else {
            u16::MAX
        };
        // Passing super-frames through, lwIP must take the largest IP
        // packet a frame can hold for one that fits the link.
        let lwip_mtu = if offload == Offload::PassThrough {
            u16::MAX - ETH_HLEN as u16
        } else {
            mtu
        };
        let (addr, netmask, gw) = match addressing {
            Addressing::Static { addr, netmask, gw } => {
                (addr, netmask, gw.unwrap_or(Ipv4Addr::UNSPECIFIED))
            }
            Addressing::Dhcp | Addressing::None => (
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
            ),
        };
        let config = sys::lwip_tap_netif_config {
            mac,
            mtu: lwip_mtu,
            addr: ip4(addr),
            netmask: ip4(netmask),
            gw: ip4(gw),
            linkoutput: Some(link_output),
        };
        let link = NonNull::from(Box::leak(Box::new(Link {
            name: device.name().to_string(),
            device,
            counters: Cell::new(Counters::default()),
            lease: Cell::new(None),
            releasing: Cell::new(false),
            pass_through: (offload == Offload::PassThrough).then_some(mtu),
        })));
        // SAFETY: `config` is valid for the call; `link` lives until Drop,
        // which removes the netif from lwIP before freeing it.
        let netif = unsafe { sys::lwip_tap_netif_add(&config, link.as_ptr().cast()) };
        let Some(netif) = NonNull::new(netif) else {
            // SAFETY: lwIP kept no pointer to the link.
            let link = unsafe { Box::from_raw(link.as_ptr()) };
            return Err(Error::Lwip(format!("{}: netif_add failed", link.name)));
        };
        let mut interface = Interface {
            netif,
            link,
            mac,
            mtu,
            frame_capacity,
            spare: ptr::null_mut(),
            discard: vec![0; usize::from(u16::MAX)],
            checks_on: None,
            dhcp: false,
            queues,
        };
        interface.configure_ipv6(ipv6)?;
        if addressing == Addressing::Dhcp {
            // Set first: whatever dhcp_start allocated before failing is
            // stopped and freed when `interface` is dropped.
            interface.dhcp = true;
            // SAFETY: the netif was just added and is up.
            let rc = unsafe { sys::dhcp_start(netif.as_ptr()) };
            if rc != sys::ERR_OK as sys::err_t {
                return Err(Error::Lwip(format!(
                    "{}: dhcp_start failed (error {rc})",
                    interface.name()
                )));
            }
        }
        Ok(interface)
    }

    /// Gives lwIP the interface's static IPv6 addresses (each starts
    /// tentative, for duplicate address detection), its static router and
    /// the SLAAC switch.
    fn configure_ipv6(&self, ipv6: &Ipv6Config) -> Result<(), Error> {
        let netif = self.netif.as_ptr();
        // SAFETY: a live netif of ours; no router advertisement has been
        // read yet, so SLAAC is switched before it could act.
        unsafe { sys::lwip_tap_netif_set_slaac(netif, i32::from(ipv6.slaac)) };
        for addr in &ipv6.addresses {
            // SAFETY: a live netif and 16 readable bytes.
            let slot = unsafe { sys::lwip_tap_netif_add_ip6(netif, addr.octets().as_ptr()) };
            if slot < 0 {
                let why = if slot == -1 {
                    "every IPv6 address slot is taken".to_string()
                } else {
                    format!("netif_add_ip6_address failed ({slot})")
                };
                return Err(Error::Lwip(format!("{}: addr6={addr}: {why}", self.name())));
            }
        }
        if let Some(gw) = ipv6.gateway {
            // SAFETY: a live netif and 16 readable bytes (copied by lwIP).
            unsafe { sys::lwip_tap_netif_set_ip6_gateway(netif, gw.octets().as_ptr()) };
        }
        if ipv6.slaac && ipv6.addresses.len() >= crate::config::ipv6_address_limit() {
            log::warn!(
                "{}: the static addresses fill every IPv6 address slot, so SLAAC has no room \
                 (lwIP ignores advertised prefixes without a word); raise \
                 LWIP_IPV6_NUM_ADDRESSES or give fewer addr6=",
                self.name()
            );
        }
        Ok(())
    }

    /// The IPv6 addresses lwIP has now, in slot order (the link-local
    /// address first), with their state and origin. Empty slots are left out.
    pub fn ipv6(&self) -> Vec<Ipv6Address> {
        let mut addresses = Vec::new();
        for index in 0.. {
            let mut octets = [0u8; 16];
            let (mut state, mut is_static) = (0u8, 0u8);
            // SAFETY: a live netif; 16 writable bytes and two writable bytes.
            let more = unsafe {
                sys::lwip_tap_netif_ip6(
                    self.netif.as_ptr(),
                    index,
                    octets.as_mut_ptr(),
                    &mut state,
                    &mut is_static,
                )
            };
            if more == 0 {
                break;
            }
            if let Some(state) = Ipv6State::from_lwip(state) {
                addresses.push(Ipv6Address {
                    addr: Ipv6Addr::from(octets),
                    state,
                    origin: Ipv6Origin::of(index, is_static != 0),
                });
            }
        }
        addresses
    }

    /// Makes this lwIP's default interface.
    pub(crate) fn set_default(&self) {
        // SAFETY: the netif is registered with lwIP while `self` lives.
        unsafe { sys::netif_set_default(self.netif.as_ptr()) };
    }

    fn link(&self) -> &Link {
        // SAFETY: `link` is valid until Drop and only shared references exist.
        unsafe { self.link.as_ref() }
    }

    pub fn name(&self) -> &str {
        &self.link().name
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    pub fn counters(&self) -> Counters {
        self.link().counters.get()
    }

    /// The descriptor to wait on for frames (none for an in-process device).
    pub(crate) fn fd(&self) -> Option<std::os::fd::RawFd> {
        self.link().device.fd()
    }

    /// The device (with its stages) this interface's frames pass.
    pub(crate) fn device(&self) -> &dyn Device {
        &*self.link().device
    }

    /// The IPv4 address, netmask and gateway lwIP has now.
    pub fn ipv4(&self) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
        let mut a = [sys::ip4_addr_t::default(); 3];
        let [addr, netmask, gw] = &mut a;
        // SAFETY: a live netif and three writable addresses.
        unsafe { sys::lwip_tap_netif_ipv4(self.netif.as_ptr(), addr, netmask, gw) };
        (from_ip4(a[0]), from_ip4(a[1]), from_ip4(a[2]))
    }

    /// One line describing the interface for the log: MAC, MTU, IPv4
    /// address and router, static IPv6 addresses. (IPv6 addresses are
    /// logged again once duplicate address detection has passed.)
    pub fn describe(&self) -> String {
        let (addr, netmask, gw) = self.ipv4();
        let mut text = format!(
            "{}: mac {}, mtu {}",
            self.name(),
            format_mac(&self.mac()),
            self.mtu()
        );
        if !addr.is_unspecified() {
            text += &format!(", addr {addr}/{}", prefix_len(netmask));
            if !gw.is_unspecified() {
                text += &format!(", gw {gw}");
            }
        }
        for a in self.ipv6() {
            if a.origin == Ipv6Origin::Static {
                text += &format!(", addr6 {}/{IPV6_PREFIX_LEN}", a.addr);
            }
        }
        if self.link().pass_through.is_some() {
            text += &format!(
                ", super-frames pass through (lwIP's MTU {})",
                u16::MAX - ETH_HLEN as u16
            );
        }
        text
    }

    /// Releases a DHCP lease, if any, and stops the client. Returns true if
    /// a DHCPRELEASE was sent.
    pub(crate) fn release_dhcp(&mut self) -> bool {
        if !std::mem::take(&mut self.dhcp) {
            return false;
        }
        let netif = self.netif.as_ptr();
        self.link().releasing.set(true);
        // SAFETY: the client was started on this live netif; after
        // dhcp_release_and_stop nothing uses its struct dhcp, which
        // dhcp_cleanup frees.
        let released = unsafe {
            let bound = sys::dhcp_supplied_address(netif) != 0;
            sys::dhcp_release_and_stop(netif);
            sys::dhcp_cleanup(netif);
            bound
        };
        if released {
            log::info!("{}: DHCP lease released", self.name());
        }
        released
    }

    /// Hands `frame` to lwIP through this interface's in-process device, by
    /// the same receive path a TAP's frames take. With `checksum_trusted`
    /// lwIP skips its checksum checks, as for a frame the kernel vouches for.
    /// Fails on an interface that has a TAP.
    pub fn inject(&mut self, frame: &[u8], checksum_trusted: bool) -> Result<(), Error> {
        let queues = self.in_process_queues()?;
        let header = if checksum_trusted {
            VnetHeader {
                flags: VnetHeader::DATA_VALID,
                ..VnetHeader::PLAIN
            }
        } else {
            VnetHeader::PLAIN
        };
        queues.push(header, frame);
        self.receive(1)?;
        Ok(())
    }

    /// The oldest frame lwIP sent on this interface's in-process device that
    /// has not been taken yet.
    pub fn take_sent(&mut self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.in_process_queues()?.pop_sent())
    }

    fn in_process_queues(&self) -> Result<Rc<FrameQueues>, Error> {
        self.queues.clone().ok_or_else(|| Error::Link {
            name: self.name().to_string(),
            reason: "not an in-process interface".into(),
        })
    }

    /// Passes a received frame to lwIP's input function, which takes it.
    ///
    /// # Safety
    /// `p` must be a pbuf chain we own.
    unsafe fn deliver(&mut self, p: *mut sys::pbuf) {
        // SAFETY: the netif is live; lwIP takes `p` on ERR_OK, otherwise we free it.
        unsafe {
            if sys::lwip_tap_netif_input(self.netif.as_ptr(), p) != sys::ERR_OK as sys::err_t {
                sys::pbuf_free(p);
            }
        }
    }

    /// Reads up to `budget` frames from the device and passes them to lwIP.
    /// Returns how many were read; stops early when the device is empty.
    pub(crate) fn receive(&mut self, budget: usize) -> Result<usize, Error> {
        for done in 0..budget {
            if !self.refill_spare() {
                if !self.discard_frame()? {
                    return Ok(done);
                }
                self.link().count(|c| c.rx_no_buffer += 1);
                continue;
            }
            let mut header = [0u8; VnetHeader::LEN];
            let mut iov = [empty_iovec(); MAX_SEGMENTS + 2];
            iov[0] = libc::iovec {
                iov_base: header.as_mut_ptr().cast(),
                iov_len: header.len(),
            };
            // SAFETY: `spare` is a live pbuf chain owned by us. It spans at most
            // 43 pool pbufs (65535 bytes in 1536-byte buffers), so it fits.
            let segments = unsafe { chain_iovecs(self.spare, &mut iov[1..=MAX_SEGMENTS]) }
                .unwrap_or(MAX_SEGMENTS);
            // Whatever does not fit the pbufs lands here, so an oversized frame
            // is seen (and dropped) instead of silently cut short.
            iov[segments + 1] = libc::iovec {
                iov_base: self.discard.as_mut_ptr().cast(),
                iov_len: self.discard.len(),
            };
            let len = match self.read(&mut iov[..segments + 2]) {
                Ok(len) => len.saturating_sub(VnetHeader::LEN),
                Err(e) if no_frame_waiting(&e) => return Ok(done),
                Err(e) => return Err(self.link_error(e)),
            };
            if len > usize::from(self.frame_capacity) {
                self.link().count(|c| c.rx_oversize += 1);
                continue;
            }
            if len == 0 {
                continue;
            }
            let len = if len < ETH_MIN_FRAME && !cfg!(feature = "stock_lwip") {
                // SAFETY: `spare` is ours and holds at least a frame's capacity.
                unsafe { zero_fill(self.spare, len, ETH_MIN_FRAME) };
                self.link().count(|c| c.rx_padded += 1);
                ETH_MIN_FRAME
            } else {
                len
            };
            // SAFETY: `spare` holds the frame's `len` bytes at its start.
            let p = unsafe { self.take_frame(len as u16) };
            #[cfg(fuzzing)]
            // SAFETY: `p` is ours.
            let Some(p) = (unsafe { exact_copy(p) }) else {
                self.link().count(|c| c.rx_no_buffer += 1);
                continue;
            };
            self.link().count(|c| c.rx_frames += 1);
            let header = VnetHeader::parse(&header);
            self.set_checksum_checks(!header.checksum_trusted());
            if header.is_gso() {
                self.link().count(|c| c.rx_superframes += 1);
            }
            if self.link().pass_through.is_some() {
                if header.is_gso() {
                    SUPERFRAME.set(Some((p as usize, header)));
                } else if header.flags & VnetHeader::NEEDS_CSUM != 0
                    // SAFETY: `p` is ours.
                    && unsafe { complete_checksum(p, header) }
                {
                    self.link().count(|c| c.rx_checksums_completed += 1);
                }
            }
            // SAFETY: `p` is ours.
            unsafe { self.deliver(p) };
            SUPERFRAME.set(None);
        }
        Ok(budget)
    }

    /// Makes sure `spare` can hold the largest frame. False if lwIP has no
    /// pbufs to spare.
    fn refill_spare(&mut self) -> bool {
        // SAFETY: `spare` is null or a chain we own; pbuf_cat takes `more`.
        unsafe {
            let have = self.spare.as_ref().map_or(0, |p| p.tot_len);
            if have >= self.frame_capacity {
                return true;
            }
            let more = sys::pbuf_alloc(sys::PBUF_RAW, self.frame_capacity - have, sys::PBUF_POOL);
            if more.is_null() {
                return false;
            }
            if self.spare.is_null() {
                self.spare = more;
            } else {
                sys::pbuf_cat(self.spare, more);
            }
        }
        true
    }

    /// Splits the first `len` bytes of `spare` off as a frame. The pbufs past
    /// the frame stay in `spare` for the next read, so a small frame costs
    /// one pool pbuf, not a 64 KiB chain.
    ///
    /// # Safety
    /// `spare` must be a chain of at least `len` bytes.
    unsafe fn take_frame(&mut self, len: u16) -> *mut sys::pbuf {
        // SAFETY: walking and relinking a chain we own; every pbuf of a pool
        // chain has its own reference, so the two parts are independent.
        unsafe {
            let frame = self.spare;
            let mut last = frame;
            let mut before = 0u16;
            while before + (*last).len < len && !(*last).next.is_null() {
                before += (*last).len;
                last = (*last).next;
            }
            let rest = (*last).next;
            if rest.is_null() {
                self.spare = ptr::null_mut();
            } else {
                let rest_len = (*rest).tot_len;
                (*last).next = ptr::null_mut();
                let mut q = frame;
                while !q.is_null() {
                    (*q).tot_len -= rest_len;
                    q = (*q).next;
                }
                self.spare = rest;
            }
            sys::pbuf_realloc(frame, len);
            frame
        }
    }

    /// Turns lwIP's checksum verification for incoming frames on or off.
    fn set_checksum_checks(&mut self, on: bool) {
        if self.checks_on != Some(on) {
            // SAFETY: a live netif of ours.
            unsafe { sys::lwip_tap_netif_check_checksums(self.netif.as_ptr(), i32::from(on)) };
            self.checks_on = Some(on);
        }
    }

    /// Reads one frame into the discard buffer. Returns false when there was
    /// none.
    fn discard_frame(&mut self) -> Result<bool, Error> {
        let mut iov = [libc::iovec {
            iov_base: self.discard.as_mut_ptr().cast(),
            iov_len: self.discard.len(),
        }];
        match self.read(&mut iov) {
            Ok(_) => Ok(true),
            Err(e) if no_frame_waiting(&e) => Ok(false),
            Err(e) => Err(self.link_error(e)),
        }
    }

    /// Reads one frame from the device into the buffers `iov` describes.
    fn read(&self, iov: &mut [libc::iovec]) -> io::Result<usize> {
        // SAFETY: IoSliceMut is ABI-compatible with iovec; every iovec here
        // points into memory we own (the spare chain, `header`, `discard`)
        // and nothing else touches it during the read.
        let bufs = unsafe {
            std::slice::from_raw_parts_mut(iov.as_mut_ptr().cast::<IoSliceMut<'_>>(), iov.len())
        };
        self.link().device.read(bufs)
    }

    fn link_error(&self, e: io::Error) -> Error {
        let reason = match e.raw_os_error() {
            Some(libc::EBADFD) | Some(libc::ENODEV) | Some(libc::EIO) => {
                format!("the device went away ({e})")
            }
            _ => format!("reading from the device failed: {e}"),
        };
        Error::Link {
            name: self.name().to_string(),
            reason,
        }
    }
}

impl Drop for Interface {
    fn drop(&mut self) {
        self.release_dhcp();
        // SAFETY: the netif was added in `add` and is removed exactly once;
        // after that lwIP holds no pointer to it or to the link.
        unsafe {
            if !self.spare.is_null() {
                sys::pbuf_free(self.spare);
            }
            sys::lwip_tap_netif_remove(self.netif.as_ptr());
            drop(Box::from_raw(self.link.as_ptr()));
        }
    }
}

/// In a fuzzing build, moves a received frame into a heap pbuf of exactly
/// its size (lwIP's heap is malloc there), so that AddressSanitizer sees a
/// read past its end; pool pbufs are all 1536 bytes.
///
/// # Safety
/// `p` must be a pbuf chain we own; it is freed.
#[cfg(fuzzing)]
unsafe fn exact_copy(p: *mut sys::pbuf) -> Option<*mut sys::pbuf> {
    // SAFETY: `p` is a valid chain; the copy is a fresh single pbuf.
    unsafe {
        let len = (*p).tot_len;
        let q = sys::pbuf_alloc(sys::PBUF_RAW, len, sys::PBUF_RAM);
        if !q.is_null() {
            let mut offset = 0;
            let mut r = p;
            while !r.is_null() {
                let chunk =
                    std::slice::from_raw_parts((*r).payload as *const u8, usize::from((*r).len));
                std::ptr::copy_nonoverlapping(
                    chunk.as_ptr(),
                    ((*q).payload as *mut u8).add(offset),
                    chunk.len(),
                );
                offset += chunk.len();
                r = (*r).next;
            }
        }
        sys::pbuf_free(p);
        (!q.is_null()).then_some(q)
    }
}

/// Zeroes bytes `from..to` of the pbuf chain `p` (as far as it reaches).
///
/// # Safety
/// `p` must be a valid pbuf chain we own.
unsafe fn zero_fill(mut p: *mut sys::pbuf, from: usize, to: usize) {
    let mut start = 0;
    while !p.is_null() && start < to {
        // SAFETY: the caller guarantees the chain is valid and ours.
        let q = unsafe { &*p };
        let end = start + usize::from(q.len);
        if end > from {
            let (a, b) = (from.max(start) - start, to.min(end) - start);
            // SAFETY: `a..b` lies inside this pbuf's payload.
            unsafe { ptr::write_bytes((q.payload as *mut u8).add(a), 0, b - a) };
        }
        start = end;
        p = q.next;
    }
}

pub(crate) fn ip4(addr: Ipv4Addr) -> sys::ip4_addr_t {
    sys::ip4_addr_t {
        addr: u32::from_ne_bytes(addr.octets()),
    }
}

fn from_ip4(addr: sys::ip4_addr_t) -> Ipv4Addr {
    Ipv4Addr::from(addr.addr.to_ne_bytes())
}

/// An IPv4 address as lwIP's dual-stack address.
pub(crate) fn ip_addr_v4(addr: Ipv4Addr) -> sys::ip_addr_t {
    let mut out = sys::ip_addr_t::default();
    out.u_addr.ip4 = ip4(addr);
    out.type_ = sys::IPADDR_TYPE_V4 as u8;
    out
}

/// Converts lwIP's dual-stack address to the standard library's.
pub(crate) fn ip_addr_to_std(addr: &sys::ip_addr_t) -> IpAddr {
    // SAFETY: `type_` says which union member is valid.
    unsafe {
        if u32::from(addr.type_) == sys::IPADDR_TYPE_V6 {
            let mut octets = [0u8; 16];
            for (chunk, word) in octets.chunks_mut(4).zip(addr.u_addr.ip6.addr) {
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            IpAddr::V4(from_ip4(addr.u_addr.ip4))
        }
    }
}

fn empty_iovec() -> libc::iovec {
    libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    }
}

/// Fills `iov` with the non-empty buffers of the pbuf chain `p`. Returns how
/// many were used, or `None` when the chain has more buffers than `iov`.
///
/// # Safety
/// `p` must be a valid pbuf chain.
unsafe fn chain_iovecs(mut p: *mut sys::pbuf, iov: &mut [libc::iovec]) -> Option<usize> {
    let mut n = 0;
    while !p.is_null() {
        // SAFETY: the caller guarantees the chain is valid.
        let q = unsafe { &*p };
        if q.len > 0 {
            *iov.get_mut(n)? = libc::iovec {
                iov_base: q.payload,
                iov_len: usize::from(q.len),
            };
            n += 1;
        }
        p = q.next;
    }
    Some(n)
}

/// netif->linkoutput: writes the frame in `p` to the device in one gather
/// write, after filling in the header checksum of a packet lwIP forwarded.
unsafe extern "C" fn link_output(netif: *mut sys::netif, p: *mut sys::pbuf) -> sys::err_t {
    // SAFETY: lwIP passes one of our netifs.
    let link = unsafe { link_of(netif) };
    // SAFETY: lwIP passes a valid chain, ours to write to until we return.
    if !cfg!(feature = "stock_lwip") && unsafe { fill_ip_checksum(p) } {
        link.count(|c| c.tx_ip_checksum_filled += 1);
    }
    let header = match link.pass_through {
        // SAFETY: as above.
        Some(wire_mtu) => unsafe { superframe_header(p, wire_mtu) },
        None => VnetHeader::PLAIN,
    };
    if header.is_gso() {
        link.count(|c| c.tx_superframes += 1);
    }
    let header = header.to_bytes();
    let mut iov = [empty_iovec(); MAX_SEGMENTS + 1];
    iov[0] = libc::iovec {
        iov_base: header.as_ptr() as *mut libc::c_void,
        iov_len: header.len(),
    };
    // SAFETY: lwIP passes a valid chain that stays alive during this call.
    let Some(segments) = (unsafe { chain_iovecs(p, &mut iov[1..]) }) else {
        // Longer than MAX_SEGMENTS buffers; no lwIP path builds such a chain.
        link.count(|c| c.tx_errors += 1);
        return sys::ERR_IF as sys::err_t;
    };
    // SAFETY: IoSlice is ABI-compatible with iovec; every iovec points into
    // the live chain `p` or `header`.
    let bufs =
        unsafe { std::slice::from_raw_parts(iov.as_ptr().cast::<IoSlice<'_>>(), segments + 1) };
    match link.device.write(bufs) {
        Ok(_) => {
            link.count(|c| c.tx_frames += 1);
            sys::ERR_OK as sys::err_t
        }
        Err(_) => {
            link.count(|c| c.tx_errors += 1);
            sys::ERR_IF as sys::err_t
        }
    }
}

/// The virtio-net header for a frame lwIP sends on a pass-through
/// interface whose wire MTU is `wire_mtu`. The super-frame lwIP is
/// forwarding keeps the header it came with. Any other frame too big for
/// the wire that holds a TCP segment (a super-frame lwIP held back while it
/// resolved the next hop's address) gets one for segments of the wire's
/// size. Everything else goes as it is.
///
/// # Safety
/// `p` must be a valid pbuf chain whose bytes nothing else accesses
/// meanwhile.
unsafe fn superframe_header(p: *mut sys::pbuf, wire_mtu: u16) -> VnetHeader {
    if let Some((input, header)) = SUPERFRAME.get() {
        if input == p as usize {
            return header;
        }
    }
    // SAFETY: the caller guarantees `p` is valid and ours to write.
    let (total, first) = unsafe {
        let q = &*p;
        if q.payload.is_null() {
            return VnetHeader::PLAIN;
        }
        let first = std::slice::from_raw_parts_mut(q.payload as *mut u8, usize::from(q.len));
        (usize::from(q.tot_len), first)
    };
    if total <= ETH_HLEN + usize::from(wire_mtu) {
        return VnetHeader::PLAIN;
    }
    tcp_segmentation(first, total, wire_mtu).unwrap_or(VnetHeader::PLAIN)
}

/// A header that has the kernel cut the TCP segment in a frame of `total`
/// bytes (`first` holds at least its headers) into segments that fit
/// `wire_mtu` (see [`segmentation_header`]). `None` for anything but TCP
/// over IPv4, or over IPv6 without extension headers.
fn tcp_segmentation(first: &mut [u8], total: usize, wire_mtu: u16) -> Option<VnetHeader> {
    let at = TcpInFrame::locate(first)?;
    let ip_and_tcp = at.headers_len - ETH_HLEN;
    if ip_and_tcp >= usize::from(wire_mtu) {
        return None;
    }
    let gso_size = wire_mtu - ip_and_tcp as u16;
    segmentation_header(first, total, at, gso_size)
}

/// Computes the checksum the kernel left to the receiver of the frame `p`
/// (`header` says where it is) into its field. False if the header points
/// outside the frame.
///
/// # Safety
/// `p` must be a valid pbuf chain we own.
unsafe fn complete_checksum(p: *mut sys::pbuf, header: VnetHeader) -> bool {
    let start = usize::from(header.csum_start);
    let field = start + usize::from(header.csum_offset);
    let mut sum = checksum::RunningSum::default();
    let mut at = 0;
    let mut q = p;
    // SAFETY: the caller guarantees the chain is valid and ours.
    unsafe {
        if field + 2 > usize::from((*p).tot_len) {
            return false;
        }
        while !q.is_null() {
            let bytes =
                std::slice::from_raw_parts((*q).payload as *const u8, usize::from((*q).len));
            if at + bytes.len() > start {
                sum.add(&bytes[start.saturating_sub(at)..]);
            }
            at += bytes.len();
            q = (*q).next;
        }
        let value = checksum::completed(sum.fold()).to_be_bytes();
        put_at(p, field, &value);
    }
    true
}

/// Writes `bytes` at `offset` into the frame in the chain `p` (as far as it
/// reaches; the bytes may straddle two buffers).
///
/// # Safety
/// `p` must be a valid pbuf chain we own.
unsafe fn put_at(mut p: *mut sys::pbuf, offset: usize, bytes: &[u8]) {
    let mut start = 0;
    while !p.is_null() {
        // SAFETY: the caller guarantees the chain is valid and ours.
        let q = unsafe { &*p };
        let len = usize::from(q.len);
        for (i, byte) in bytes.iter().enumerate() {
            if (start..start + len).contains(&(offset + i)) {
                // SAFETY: the position lies inside this pbuf's payload.
                unsafe { *(q.payload as *mut u8).add(offset + i - start) = *byte };
            }
        }
        start += len;
        p = q.next;
    }
}

/// Fills in a zero IPv4 header checksum in the frame `p` (see
/// src/checksum.rs); true if it did.
///
/// # Safety
/// `p` must be a valid pbuf chain whose bytes nothing else accesses
/// meanwhile.
unsafe fn fill_ip_checksum(p: *mut sys::pbuf) -> bool {
    // SAFETY: the caller guarantees `p` is valid; the frame's first pbuf
    // holds its Ethernet and IP headers (lwIP adds the Ethernet header in
    // front of the IP header's pbuf).
    let first = unsafe {
        let q = &*p;
        if q.payload.is_null() {
            return false;
        }
        std::slice::from_raw_parts_mut(q.payload as *mut u8, usize::from(q.len))
    };
    checksum::fill_ipv4_header(first)
}

/// Called by lwIP's DHCP client (lwip/dhcp_glue.c) whenever it sets or
/// clears the interface's address: a bind, a renewal, a NAK, an expired or
/// released lease. Logs what happened to the lease.
///
/// # Safety
/// `netif` must be one of our live netifs.
#[no_mangle]
pub unsafe extern "C" fn lwip_tap_dhcp_event(
    netif: *mut sys::netif,
    state: u8,
    addr: u32,
    netmask: u32,
    gw: u32,
    server: u32,
    lease_seconds: u32,
) {
    // SAFETY: lwIP's DHCP client runs only on our netifs.
    let link = unsafe { link_of(netif) };
    let v4 = |a: u32| Ipv4Addr::from(a.to_ne_bytes());
    let (addr, netmask, gw, server) = (v4(addr), v4(netmask), v4(gw), v4(server));
    let name = &link.name;
    if u32::from(state) == sys::DHCP_STATE_BOUND && !addr.is_unspecified() {
        let prefix = prefix_len(netmask);
        if link.lease.replace(Some(addr)) == Some(addr) {
            log::info!("{name}: DHCP lease renewed: {addr}/{prefix}, lease {lease_seconds} s");
        } else {
            log::info!(
                "{name}: DHCP lease {addr}/{prefix}, gw {gw}, server {server}, lease {lease_seconds} s"
            );
        }
    } else if addr.is_unspecified() && link.lease.take().is_some() && !link.releasing.get() {
        log::warn!("{name}: DHCP lease lost; asking again");
    }
}

/// Called by lwIP (lwip/glue.c) whenever the state of one of an interface's
/// IPv6 address slots changes. Logs an address once it is usable (duplicate
/// address detection passed), when detection finds a duplicate, and when a
/// usable address goes away.
///
/// # Safety
/// `netif` must be one of our live netifs; `addr` must point to 16 bytes.
#[no_mangle]
pub unsafe extern "C" fn lwip_tap_ip6_state_event(
    netif: *mut sys::netif,
    index: u8,
    old_state: u8,
    new_state: u8,
    addr: *const u8,
    is_static: u8,
) {
    // SAFETY: lwIP reports address changes of our netifs only.
    let link = unsafe { link_of(netif) };
    // SAFETY: the caller passes 16 readable bytes.
    let octets: [u8; 16] = unsafe { std::ptr::read(addr.cast()) };
    let addr = Ipv6Addr::from(octets);
    let origin = Ipv6Origin::of(u32::from(index), is_static != 0);
    let (old, new) = (
        Ipv6State::from_lwip(old_state),
        Ipv6State::from_lwip(new_state),
    );
    let name = &link.name;
    let was_valid = old.is_some_and(Ipv6State::is_valid);
    match new {
        Some(state) if state.is_valid() && !was_valid => {
            log::info!("{name}: IPv6 {addr}/{IPV6_PREFIX_LEN} ({origin}) is {state}");
        }
        Some(Ipv6State::Duplicated) => log::warn!(
            "{name}: IPv6 {addr} ({origin}): duplicate address detection failed, another node \
             on the link has it; lwIP will not use it"
        ),
        None if was_valid => log::info!("{name}: IPv6 {addr} ({origin}) is gone"),
        _ => {}
    }
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
