//! The tapif driver: one lwIP `struct netif` per TAP device, with the
//! `extern "C"` callbacks lwIP calls (init, linkoutput) and the receive path
//! that reads frames straight into pool pbufs and hands them to lwIP.
//!
//! lwIP's `netif->state` points at the interface's [`Link`], which is only
//! ever read through shared references, so lwIP may call `link_output` while
//! `Interface::receive` is running (a ping reply is sent from inside input).

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ptr::{self, NonNull};

use crate::checksum;
use crate::cli::Addressing;
use crate::dhcp::{DhcpClient, LeaseEvent};
use crate::error::Error;
use crate::sys;
use crate::tap::{format_mac, TapDevice, VnetHeader};

/// Longest pbuf chain a frame may span (64 KiB frames in 1536-byte pool
/// pbufs need 43).
const MAX_SEGMENTS: usize = 64;
/// Ethernet header plus one VLAN tag.
const LINK_HEADER: u32 = 14 + 4;

/// Per-interface frame counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Frames read and dropped because lwIP had no pbuf for them.
    pub rx_no_buffer: u64,
    /// Frames longer than the MTU allows.
    pub rx_oversize: u64,
    pub tx_errors: u64,
}

/// What lwIP's callbacks need: the device and counters.
struct Link {
    /// The TAP frames go to; `None` for a detached interface (in-process
    /// tests and fuzzing), whose output is counted and dropped.
    device: Option<TapDevice>,
    name: String,
    mac: [u8; 6],
    mtu: u16,
    counters: Cell<Counters>,
}

impl Link {
    fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }
}

/// One TAP device attached to lwIP as a netif.
pub struct Interface {
    netif: NonNull<sys::netif>,
    link: NonNull<Link>,
    /// The largest frame we accept, and the size of every receive buffer.
    frame_capacity: u16,
    /// A pool pbuf allocated but not yet filled (kept across wakeups).
    spare: *mut sys::pbuf,
    /// Where frames go that must be read but cannot be kept.
    discard: Vec<u8>,
    /// lwIP's DHCP client, for an interface without static addresses.
    dhcp: Option<DhcpClient>,
}

impl Interface {
    /// Adds `tap` to lwIP. The netif's MAC is the TAP's host-side MAC with the
    /// lowest bit of the last byte flipped, its MTU the device's.
    pub fn add(tap: TapDevice, addressing: Addressing) -> Result<Interface, Error> {
        let mut mac = tap.mac()?;
        mac[5] ^= 1;
        let mtu = tap.mtu()?;
        let name = tap.name().to_string();
        Self::register(Some(tap), name, mac, mtu, addressing)
    }

    /// Adds an interface with no device behind it: frames come in through
    /// [`Interface::inject`] and what lwIP sends is dropped.
    pub fn add_detached(
        name: &str,
        mac: [u8; 6],
        mtu: u32,
        addressing: Addressing,
    ) -> Result<Interface, Error> {
        Self::register(None, name.to_string(), mac, mtu, addressing)
    }

    fn register(
        device: Option<TapDevice>,
        name: String,
        mac: [u8; 6],
        mtu: u32,
        addressing: Addressing,
    ) -> Result<Interface, Error> {
        let mtu = mtu.min(u32::from(u16::MAX) - LINK_HEADER) as u16;
        let frame_capacity = (u32::from(mtu) + LINK_HEADER) as u16;
        let link = NonNull::from(Box::leak(Box::new(Link {
            device,
            name,
            mac,
            mtu,
            counters: Cell::new(Counters::default()),
        })));
        let netif = NonNull::from(Box::leak(Box::<sys::netif>::default()));
        let (addr, netmask, gw) = match addressing {
            Addressing::Static { addr, netmask, gw } => {
                (addr, netmask, gw.unwrap_or(Ipv4Addr::UNSPECIFIED))
            }
            Addressing::Dhcp => (
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
            ),
        };
        let (addr, netmask, gw) = (ip4(addr), ip4(netmask), ip4(gw));
        // SAFETY: `netif` and `link` are heap allocations that live until
        // Drop, which removes the netif from lwIP before freeing them.
        let added = unsafe {
            sys::netif_add(
                netif.as_ptr(),
                &addr,
                &netmask,
                &gw,
                link.as_ptr().cast(),
                Some(netif_init),
                Some(sys::ethernet_input),
            )
        };
        if added.is_null() {
            // SAFETY: lwIP did not keep either pointer.
            let link = unsafe {
                drop(Box::from_raw(netif.as_ptr()));
                Box::from_raw(link.as_ptr())
            };
            return Err(Error::Lwip(format!("{}: netif_add failed", link.name)));
        }
        let mut interface = Interface {
            netif,
            link,
            frame_capacity,
            spare: ptr::null_mut(),
            discard: vec![0; usize::from(u16::MAX)],
            dhcp: None,
        };
        // SAFETY: the netif was just added and is valid.
        unsafe {
            (*netif.as_ptr()).hostname = c"lwip-tap".as_ptr();
            sys::netif_set_up(netif.as_ptr());
            sys::netif_set_link_up(netif.as_ptr());
            sys::netif_create_ip6_linklocal_address(netif.as_ptr(), 1);
        }
        if addressing == Addressing::Dhcp {
            // SAFETY: the netif was just added and is up.
            let client = unsafe { DhcpClient::start(interface.raw()) };
            interface.dhcp =
                Some(client.map_err(|e| Error::Lwip(format!("{}: {e}", interface.name())))?);
        }
        Ok(interface)
    }

    /// Makes this lwIP's default interface.
    pub fn set_default(&self) {
        // SAFETY: the netif is registered with lwIP while `self` lives.
        unsafe { sys::netif_set_default(self.netif.as_ptr()) };
    }

    fn link(&self) -> &Link {
        // SAFETY: `link` is valid until Drop and only shared references exist.
        unsafe { self.link.as_ref() }
    }

    /// The TAP behind this interface (none for a detached one).
    pub fn device(&self) -> Option<&TapDevice> {
        self.link().device.as_ref()
    }

    pub fn name(&self) -> &str {
        &self.link().name
    }

    pub fn mac(&self) -> [u8; 6] {
        self.link().mac
    }

    pub fn mtu(&self) -> u16 {
        self.link().mtu
    }

    pub fn counters(&self) -> Counters {
        self.link().counters.get()
    }

    pub fn raw(&self) -> *mut sys::netif {
        self.netif.as_ptr()
    }

    /// The IPv4 address, netmask and gateway lwIP has now.
    pub fn ipv4(&self) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
        // SAFETY: reading plain fields of a live netif.
        let n = unsafe { self.netif.as_ref() };
        // SAFETY: with IPv4 and IPv6 enabled, ip_addr_t's ip4 member holds
        // the IPv4 address (u_addr.ip4 is the first union member).
        unsafe {
            (
                from_ip4(n.ip_addr.u_addr.ip4),
                from_ip4(n.netmask.u_addr.ip4),
                from_ip4(n.gw.u_addr.ip4),
            )
        }
    }

    /// One line describing the interface for the log.
    pub fn describe(&self) -> String {
        let (addr, netmask, gw) = self.ipv4();
        let mut text = format!(
            "{}: mac {}, mtu {}",
            self.name(),
            format_mac(&self.mac()),
            self.mtu()
        );
        if !addr.is_unspecified() {
            text += &format!(", addr {addr}/{}", crate::cli::prefix_len(netmask));
            if !gw.is_unspecified() {
                text += &format!(", gw {gw}");
            }
        }
        text
    }

    /// Logs what changed in the DHCP client's state since the last call.
    pub fn watch_dhcp(&mut self) {
        let netif = self.raw();
        let Some(client) = self.dhcp.as_mut() else {
            return;
        };
        // SAFETY: the client was started on this live netif.
        let Some((event, lease)) = (unsafe { client.poll(netif) }) else {
            return;
        };
        let name = self.name();
        let prefix = crate::cli::prefix_len(lease.netmask);
        match event {
            LeaseEvent::Bound => log::info!(
                "{name}: DHCP lease {}/{prefix}, gw {}, server {}, lease {} s",
                lease.addr,
                lease.gw,
                lease.server,
                lease.seconds
            ),
            LeaseEvent::Renewed => log::info!(
                "{name}: DHCP lease renewed: {}/{prefix}, lease {} s",
                lease.addr,
                lease.seconds
            ),
            LeaseEvent::Lost => log::warn!("{name}: DHCP lease lost; asking again"),
        }
    }

    /// Releases a DHCP lease, if any. Returns true if a DHCPRELEASE was sent.
    pub fn release_dhcp(&mut self) -> bool {
        let netif = self.raw();
        let Some(mut client) = self.dhcp.take() else {
            return false;
        };
        // SAFETY: the client was started on this live netif.
        let released = unsafe { client.release(netif) };
        if released {
            log::info!("{}: DHCP lease released", self.name());
        }
        released
    }

    /// Hands one frame to lwIP as if it had been read from the device
    /// (frames longer than lwIP's pbufs can hold are dropped).
    pub fn inject(&mut self, frame: &[u8]) {
        let Ok(len) = u16::try_from(frame.len()) else {
            self.link().count(|c| c.rx_oversize += 1);
            return;
        };
        // SAFETY: a fresh pbuf of `len` bytes is filled from `frame`, then
        // given to lwIP (or freed if lwIP refuses it).
        unsafe {
            let p = sys::pbuf_alloc(sys::PBUF_RAW, len, sys::PBUF_POOL);
            if p.is_null() {
                self.link().count(|c| c.rx_no_buffer += 1);
                return;
            }
            sys::pbuf_take(p, frame.as_ptr().cast(), len);
            self.link().count(|c| c.rx_frames += 1);
            self.set_checksum_checks(true);
            self.deliver(p);
        }
    }

    /// Passes a received frame to lwIP's input function, which takes it.
    ///
    /// # Safety
    /// `p` must be a pbuf chain we own.
    unsafe fn deliver(&mut self, p: *mut sys::pbuf) {
        // SAFETY: the netif is live; lwIP takes `p` on ERR_OK, otherwise we free it.
        unsafe {
            let netif = self.netif.as_ptr();
            let input = (*netif).input.expect("netif_add sets input");
            if input(p, netif) != sys::ERR_OK as sys::err_t {
                sys::pbuf_free(p);
            }
        }
    }

    /// Reads up to `budget` frames from the TAP and passes them to lwIP.
    /// Returns how many were read; stops early when the device is empty.
    pub fn receive(&mut self, budget: usize) -> Result<usize, Error> {
        if self.device().is_none() {
            return Ok(0);
        }
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
            let len = match self.read(&iov[..segments + 2]) {
                Ok(len) => len.saturating_sub(VnetHeader::LEN),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(done),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(done),
                Err(e) => return Err(self.link_error(e)),
            };
            if len > usize::from(self.frame_capacity) {
                self.link().count(|c| c.rx_oversize += 1);
                continue;
            }
            if len == 0 {
                continue;
            }
            // SAFETY: `spare` holds the frame's `len` bytes at its start.
            let p = unsafe { self.take_frame(len as u16) };
            self.link().count(|c| c.rx_frames += 1);
            self.set_checksum_checks(!VnetHeader::parse(&header).checksum_trusted());
            // SAFETY: `p` is ours.
            unsafe { self.deliver(p) };
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
        const CHECKS: u32 = sys::NETIF_CHECKSUM_CHECK_IP
            | sys::NETIF_CHECKSUM_CHECK_UDP
            | sys::NETIF_CHECKSUM_CHECK_TCP
            | sys::NETIF_CHECKSUM_CHECK_ICMP
            | sys::NETIF_CHECKSUM_CHECK_ICMP6;
        // SAFETY: a plain field of our live netif, read by lwIP on this thread.
        let flags = unsafe { &mut (*self.netif.as_ptr()).chksum_flags };
        *flags = if on {
            *flags | CHECKS as u16
        } else {
            *flags & !(CHECKS as u16)
        };
    }

    /// Lets the kernel hand over 64 KiB TCP segments with checksums left
    /// undone (see [`TapDevice::enable_offload`]). Only for an interface
    /// whose traffic lwIP does not forward: it would have to cut such
    /// segments to the other side's MTU.
    pub fn enable_offload(&mut self) -> Result<(), Error> {
        let Some(tap) = self.device() else {
            return Ok(());
        };
        tap.enable_offload()?;
        self.frame_capacity = u16::MAX;
        Ok(())
    }

    /// Reads one frame into the discard buffer. Returns false when there was
    /// none.
    fn discard_frame(&mut self) -> Result<bool, Error> {
        let iov = [libc::iovec {
            iov_base: self.discard.as_mut_ptr().cast(),
            iov_len: self.discard.len(),
        }];
        match self.read(&iov) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(self.link_error(e)),
        }
    }

    fn read(&self, bufs: &[libc::iovec]) -> io::Result<usize> {
        match self.device() {
            Some(tap) => tap.read_frame(bufs),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
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
        // after netif_remove lwIP holds no pointer to it or to the link.
        unsafe {
            if !self.spare.is_null() {
                sys::pbuf_free(self.spare);
            }
            sys::netif_remove(self.netif.as_ptr());
            drop(Box::from_raw(self.netif.as_ptr()));
            drop(Box::from_raw(self.link.as_ptr()));
        }
    }
}

fn ip4(addr: Ipv4Addr) -> sys::ip4_addr_t {
    sys::ip4_addr_t {
        addr: u32::from_ne_bytes(addr.octets()),
    }
}

fn from_ip4(addr: sys::ip4_addr_t) -> Ipv4Addr {
    Ipv4Addr::from(addr.addr.to_ne_bytes())
}

/// Converts lwIP's dual-stack address to the standard library's.
pub fn ip_addr_to_std(addr: &sys::ip_addr_t) -> IpAddr {
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

/// netif_add's init callback: fills in the link-layer fields.
unsafe extern "C" fn netif_init(netif: *mut sys::netif) -> sys::err_t {
    // SAFETY: lwIP passes the netif given to netif_add, whose state is our Link.
    let netif = unsafe { &mut *netif };
    // SAFETY: state was set to a live Link by Interface::add.
    let link = unsafe { &*(netif.state as *const Link) };
    netif.name = [b't' as libc::c_char, b'p' as libc::c_char];
    netif.hwaddr_len = sys::ETH_HWADDR_LEN as u8;
    netif.hwaddr = link.mac;
    netif.mtu = link.mtu;
    netif.flags = (sys::NETIF_FLAG_BROADCAST
        | sys::NETIF_FLAG_ETHARP
        | sys::NETIF_FLAG_ETHERNET
        | sys::NETIF_FLAG_MLD6) as u8;
    netif.output = Some(sys::etharp_output);
    netif.output_ip6 = Some(sys::ethip6_output);
    netif.linkoutput = Some(link_output);
    sys::ERR_OK as sys::err_t
}

/// netif->linkoutput: writes the frame in `p` to the TAP with one writev.
unsafe extern "C" fn link_output(netif: *mut sys::netif, p: *mut sys::pbuf) -> sys::err_t {
    // SAFETY: lwIP passes one of our netifs, whose state is a live Link.
    let link = unsafe { &*((*netif).state as *const Link) };
    let Some(tap) = link.device.as_ref() else {
        link.count(|c| c.tx_frames += 1);
        return sys::ERR_OK as sys::err_t;
    };
    // No offload requested: an all-zero virtio-net header.
    static HEADER: [u8; VnetHeader::LEN] = [0; VnetHeader::LEN];
    let mut iov = [empty_iovec(); MAX_SEGMENTS + 1];
    iov[0] = libc::iovec {
        iov_base: HEADER.as_ptr() as *mut libc::c_void,
        iov_len: HEADER.len(),
    };
    // SAFETY: lwIP passes a valid chain that stays alive during this call.
    let Some(segments) = (unsafe { chain_iovecs(p, &mut iov[1..]) }) else {
        // Longer than MAX_SEGMENTS buffers; no lwIP path builds such a chain.
        link.count(|c| c.tx_errors += 1);
        return sys::ERR_IF as sys::err_t;
    };
    let forwarded = segments > 0 && {
        // SAFETY: the first data iovec points into the live chain `p`.
        let first =
            unsafe { std::slice::from_raw_parts(iov[1].iov_base as *const u8, iov[1].iov_len) };
        checksum::needs_repair(first)
    };
    let result = if forwarded {
        // A packet lwIP forwarded with its checksums cleared (see checksum.rs).
        let mut frame = Vec::with_capacity(iov[1..=segments].iter().map(|v| v.iov_len).sum());
        for v in &iov[1..=segments] {
            // SAFETY: as above.
            frame.extend_from_slice(unsafe {
                std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len)
            });
        }
        checksum::repair(&mut frame);
        tap.write_frame(&[
            iov[0],
            libc::iovec {
                iov_base: frame.as_mut_ptr().cast(),
                iov_len: frame.len(),
            },
        ])
    } else {
        tap.write_frame(&iov[..=segments])
    };
    match result {
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
