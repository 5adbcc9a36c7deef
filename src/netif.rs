//! The driver between a device and an lwIP netif: the receive path that
//! reads frames straight into pool pbufs and hands them to lwIP, the frames
//! lwIP sends, the interface's DHCP and IPv6 events, and its lifetime.
//!
//! Forwarding: lwIP's `ip4_forward` clears the IPv4 header checksum of every
//! packet it forwards (lwip/ip4_glue.c keeps it from clearing the transport
//! checksum too). The driver fills it in, in the frame's own buffer, as
//! checksum offload hardware would ([`checksum::fill_ipv4_header`]). A
//! `stock_lwip` build sends lwIP's frames as they are.
//!
//! Super-frame pass-through (`Offload::PassThrough`, a router with
//! `offload=on` everywhere): the kernel hands over TCP super-frames of up to
//! 64 KiB, lwIP (whose MTU is raised to match) forwards each as one packet,
//! and the driver writes it with a virtio-net header that has the kernel
//! cut it into segments of the outgoing link's MTU: with the same MTU on
//! both sides, the wire-sized segments the sender would have sent in the
//! first place. A frame whose checksum the kernel left to the
//! receiver, and which is not a super-frame, has it computed on arrival, as
//! a NIC computes it before the frame goes on the wire.
//!
//! Everything lwIP is reached through the crate's safe lwIP layer; this
//! module has no
//! unsafe code.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::config::{prefix_len, Addressing, InterfacePlan, Ipv6Config, Offload, IPV6_PREFIX_LEN};
use crate::device::segment::tcp_segmentation;
use crate::device::{no_frame_waiting, FramePath, Opened, VnetHeader};
use crate::error::Error;
use crate::lwip::netif::{
    ip6_state, AutoipEvent, DhcpEvent, MdnsName, Netif, NetifHandler, NetifSetup,
};
use crate::lwip::pbuf::{Pbuf, PbufMut, RxBuffer};
use crate::lwip::LwipError;
use crate::wire::checksum::{self, RunningSum};
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
        if state == ip6_state::DUPLICATED {
            Some(Ipv6State::Duplicated)
        } else if state & ip6_state::TENTATIVE != 0 {
            Some(Ipv6State::Tentative)
        } else if state == ip6_state::PREFERRED {
            Some(Ipv6State::Preferred)
        } else if state & ip6_state::VALID != 0 {
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

/// What lwIP's calls about the interface need: the frame path, counters and
/// DHCP state.
struct Link {
    frames: Box<dyn FramePath>,
    name: String,
    counters: Cell<Counters>,
    /// The address of the DHCP lease lwIP's client holds, as last reported.
    lease: Cell<Option<Ipv4Addr>>,
    /// The link-local address AutoIP bound, while the interface has it.
    autoip: Cell<Option<Ipv4Addr>>,
    /// The mDNS host name and the services announced (for the log).
    mdns: RefCell<Option<(String, Vec<String>)>>,
    /// Malformed mDNS packets: when one was last logged, and how many came
    /// since without a line of their own.
    mdns_malformed: Cell<(Option<Instant>, u64)>,
    /// Set while we release the lease ourselves, so that is not a loss.
    releasing: Cell<bool>,
    /// Super-frame pass-through: lwIP's MTU is 64 KiB, the device's is
    /// this (the size of the segments leaving it).
    pass_through: Option<u16>,
}

impl Link {
    fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }

    /// The virtio-net header for a frame lwIP sends on a pass-through
    /// interface whose wire MTU is `wire_mtu`. A super-frame lwIP sends
    /// back out of the link it is coming in on, while it takes it in, keeps
    /// the header it came with. Any other frame too big for the wire that
    /// holds a TCP segment (a super-frame lwIP forwards to another link, or
    /// held back while it resolved the next hop's address) gets one for
    /// segments of the wire's size. Everything else goes as it is.
    fn superframe_header(&self, frame: &mut PbufMut<'_>, wire_mtu: u16) -> VnetHeader {
        let total = frame.chain().tot_len();
        if let Some(arriving) = ARRIVING.get() {
            if arriving.header.is_gso()
                && arriving.chain == frame.chain().id()
                && std::ptr::eq(arriving.link, self)
            {
                return arriving.header;
            }
        }
        if total <= ETH_HLEN + usize::from(wire_mtu) {
            return VnetHeader::PLAIN;
        }
        tcp_segmentation(frame.first_mut(), total, wire_mtu).unwrap_or(VnetHeader::PLAIN)
    }
}

thread_local! {
    /// The frame lwIP is taking in now, from `Interface::receive` until
    /// `netif.input` returns: which chain, on which link, the virtio-net
    /// header it came with, and whether its checksums were vouched for (a
    /// `None` outside).
    static ARRIVING: Cell<Option<Arriving>> = const { Cell::new(None) };
}

/// See [`ARRIVING`].
#[derive(Debug, Clone, Copy)]
struct Arriving {
    chain: usize,
    link: *const Link,
    header: VnetHeader,
    checksum_trusted: bool,
}

impl Link {
    /// Whether `frame`, which lwIP sends on this link, is a TCP segment it
    /// is forwarding right now from another link, where its checksum was
    /// vouched for (the kernel checked it, or the cut stage computed it).
    /// lwIP changes no byte the TCP checksum covers when it forwards, so it
    /// still holds and the stage below need not check it again. (lwIP's TCP
    /// never sends a buffer it received, and an ICMP echo reply, which does,
    /// is not TCP.) A `stock_lwip` build's `ip4_forward` clears it: never
    /// there.
    fn forwards_trusted(&self, frame: &mut PbufMut<'_>) -> bool {
        let Some(arriving) = ARRIVING.get() else {
            return false;
        };
        !cfg!(feature = "stock_lwip")
            && arriving.checksum_trusted
            && arriving.chain == frame.chain().id()
            && !std::ptr::eq(arriving.link, self)
            && TcpInFrame::locate(frame.first_mut()).is_some()
    }
}

impl NetifHandler for Link {
    /// Writes the frame to the device in one gather write, after filling
    /// in the header checksum of a packet lwIP forwarded.
    fn output(&self, mut frame: PbufMut<'_>) -> Result<(), LwipError> {
        if !cfg!(feature = "stock_lwip") && checksum::fill_ipv4_header(frame.first_mut()) {
            self.count(|c| c.tx_ip_checksum_filled += 1);
        }
        let header = match self.pass_through {
            Some(wire_mtu) => self.superframe_header(&mut frame, wire_mtu),
            None if self.forwards_trusted(&mut frame) => VnetHeader::TRUSTED,
            None => VnetHeader::PLAIN,
        };
        if header.is_gso() {
            self.count(|c| c.tx_superframes += 1);
        }
        let header = header.to_bytes();
        let chain = frame.chain();
        let mut iov = [IoSlice::new(&[]); MAX_SEGMENTS + 1];
        let Some(used) = chain.write_sources(&header, &mut iov) else {
            // Longer than MAX_SEGMENTS buffers; no lwIP path builds such a chain.
            self.count(|c| c.tx_errors += 1);
            return Err(LwipError::Interface);
        };
        match self.frames.write(&iov[..used]) {
            Ok(_) => {
                self.count(|c| c.tx_frames += 1);
                Ok(())
            }
            Err(_) => {
                self.count(|c| c.tx_errors += 1);
                Err(LwipError::Interface)
            }
        }
    }

    /// Logs what happened to the lease: a bind, a renewal, a NAK, an
    /// expired or released lease.
    fn dhcp_event(&self, event: DhcpEvent) {
        let name = &self.name;
        let DhcpEvent {
            addr,
            netmask,
            gw,
            server,
            lease_seconds,
            ..
        } = event;
        if event.bound && !addr.is_unspecified() {
            let prefix = prefix_len(netmask);
            if self.lease.replace(Some(addr)) == Some(addr) {
                log::info!("{name}: DHCP lease renewed: {addr}/{prefix}, lease {lease_seconds} s");
            } else {
                // lwIP has taken the lease's DNS servers (if any) by now.
                let dns = crate::lwip::dns::servers();
                let dns = match dns.is_empty() {
                    true => String::new(),
                    false => format!(", DNS {}", join(&dns)),
                };
                log::info!(
                    "{name}: DHCP lease {addr}/{prefix}, gw {gw}, server {server}, lease {lease_seconds} s{dns}"
                );
            }
        } else if addr.is_unspecified() && self.lease.take().is_some() && !self.releasing.get() {
            log::warn!("{name}: DHCP lease lost; asking again");
        }
        if event.bound && !addr.is_unspecified() {
            if let Some(link_local) = self.autoip.take() {
                log::info!("{name}: AutoIP address {link_local} given up for the DHCP lease");
            }
        }
    }

    /// Logs what AutoIP did: an address bound, given up, defended.
    fn autoip_event(&self, event: AutoipEvent) {
        let name = &self.name;
        match event {
            AutoipEvent::Bound(addr) => {
                self.autoip.set(Some(addr));
                log::info!(
                    "{name}: AutoIP address {addr}/16 (no DHCP lease; probed and announced, no \
                     other host claims it)"
                );
            }
            AutoipEvent::Conflict(addr) => {
                let had = self.autoip.take().is_some();
                log::warn!(
                    "{name}: AutoIP: another host claims {addr}; {}, trying another",
                    if had { "retreating" } else { "not taking it" }
                );
            }
            AutoipEvent::Defended(addr) => log::warn!(
                "{name}: AutoIP: another host claims {addr}; defended it with an announcement \
                 (a second claim within 10 s makes lwIP give it up)"
            ),
        }
    }

    fn mdns_name_event(&self, event: MdnsName) {
        let name = &self.name;
        let mdns = self.mdns.borrow();
        let Some((host, services)) = mdns.as_ref() else {
            return;
        };
        match event {
            MdnsName::Ours => log::info!(
                "{name}: mDNS: {host}.local{} probed, no other host has them; announced",
                if services.is_empty() {
                    String::new()
                } else {
                    format!(" and {}", services.join(", "))
                }
            ),
            MdnsName::HostTaken => log::warn!(
                "{name}: mDNS: another host answers for {host}.local; lwIP does not answer for \
                 it here (choose another --mdns NAME)"
            ),
            MdnsName::ServiceTaken(slot) => log::warn!(
                "{name}: mDNS: another host has the service {}; lwIP does not announce it here",
                services
                    .get(usize::from(slot))
                    .map_or("(unknown)", String::as_str)
            ),
        }
    }

    /// Logs a malformed mDNS packet in one line (at most one a second; the
    /// next line counts those left out). The responder drops it.
    fn mdns_received(&self, packet: &[u8], from: SocketAddr) {
        let Err(fault) = crate::wire::dns::check(packet) else {
            return;
        };
        let (last, skipped) = self.mdns_malformed.get();
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            self.mdns_malformed.set((last, skipped + 1));
            return;
        }
        self.mdns_malformed.set((Some(now), 0));
        let more = if skipped > 0 {
            format!(" ({skipped} more since the last one logged)")
        } else {
            String::new()
        };
        log::warn!(
            "{}: mDNS: malformed packet from {from} ({} bytes; {fault}): dropped{more}",
            self.name,
            packet.len()
        );
    }

    /// Logs an address once it is usable (duplicate address detection
    /// passed), when detection finds a duplicate, and when a usable address
    /// goes away.
    fn ip6_state_event(&self, index: u8, old: u8, new: u8, addr: Ipv6Addr, is_static: bool) {
        let origin = Ipv6Origin::of(u32::from(index), is_static);
        let (old, new) = (Ipv6State::from_lwip(old), Ipv6State::from_lwip(new));
        let name = &self.name;
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
}

/// One device attached to lwIP as a netif.
pub struct Interface {
    netif: Netif<Link>,
    mac: [u8; 6],
    mtu: u16,
    /// The descriptor to wait on for frames (none for an in-process device).
    fd: Option<RawFd>,
    /// The largest frame we accept, and the size of every receive buffer.
    frame_capacity: u16,
    /// Pool pbufs allocated but not yet filled (kept across wakeups).
    spare: Option<Pbuf>,
    /// The buffer the part of a long frame past its first pool pbuf is
    /// read into, lent to lwIP with it (see [`RxBuffer`]). Taken once a
    /// frame longer than a pool pbuf came, so an interface that never gets
    /// one has none; without one the frame fills pool pbufs.
    rx_buffer: Option<RxBuffer>,
    /// A frame longer than the first pool pbuf came.
    long_frames: bool,
    /// Where frames go that must be read but cannot be kept.
    discard: Vec<u8>,
    /// Whether lwIP checks incoming checksums (as last set).
    checks_on: Option<bool>,
    /// Readiness waits for a DHCP lease on this interface.
    waits_for_lease: bool,
    /// Readiness waits for the static IPv6 addresses (and the link-local
    /// one) to pass duplicate address detection.
    waits_for_ipv6: bool,
    /// What lwIP sent while it took one frame in is written before the
    /// next frame is read, not at the end of the round: on an interface
    /// whose merge stage takes lwIP's own segments, it merges one burst
    /// of lwIP's output and holds nothing back longer. (A router's waits
    /// for the round's end, so the segments lwIP forwards from one cut
    /// super-frame merge back into one.)
    flush_each_input: bool,
}

impl Interface {
    /// Adds the device `opened` to lwIP as `plan` says: its addresses, and
    /// with an offload other than `Off` 64 KiB frames whose checksums are
    /// not computed (see [`Offload`]).
    pub(crate) fn add(opened: Opened, plan: &InterfacePlan) -> Result<Interface, Error> {
        let Opened {
            name,
            mac,
            mtu,
            fd,
            frames,
            ..
        } = opened;
        let mtu = mtu.min(u32::from(u16::MAX) - LINK_HEADER) as u16;
        let frame_capacity = if plan.offload.receives_superframes() {
            u16::MAX
        } else {
            (u32::from(mtu) + LINK_HEADER) as u16
        };
        let pass_through = plan.offload == Offload::PassThrough;
        // Passing super-frames through, lwIP must take the largest IP
        // packet a frame can hold for one that fits the link.
        let lwip_mtu = if pass_through {
            u16::MAX - ETH_HLEN as u16
        } else {
            mtu
        };
        let (addr, netmask, gw) = match plan.addressing {
            Addressing::Static { addr, netmask, gw } => {
                (addr, netmask, gw.unwrap_or(Ipv4Addr::UNSPECIFIED))
            }
            Addressing::Dhcp | Addressing::DhcpAutoip | Addressing::None => (
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
            ),
        };
        let link = Link {
            frames,
            name,
            counters: Cell::new(Counters::default()),
            lease: Cell::new(None),
            autoip: Cell::new(None),
            mdns: RefCell::new(None),
            mdns_malformed: Cell::new((None, 0)),
            releasing: Cell::new(false),
            pass_through: pass_through.then_some(mtu),
        };
        let setup = NetifSetup {
            mac,
            mtu: lwip_mtu,
            addr,
            netmask,
            gw,
        };
        let name = link.name.clone();
        let netif = Netif::add(&setup, link)
            .map_err(|e| Error::lwip(format!("{name}: netif_add failed"), e))?;
        let mut interface = Interface {
            netif,
            mac,
            mtu,
            fd,
            frame_capacity,
            spare: None,
            rx_buffer: None,
            long_frames: false,
            discard: vec![0; usize::from(u16::MAX)],
            checks_on: None,
            waits_for_lease: matches!(plan.addressing, Addressing::Dhcp | Addressing::DhcpAutoip),
            waits_for_ipv6: !plan.ipv6.addresses.is_empty(),
            flush_each_input: plan.merge && plan.offload.receives_superframes(),
        };
        // The receive chain is taken now rather than at the first frame, so
        // lwIP's pool use is the same before traffic as after it: a
        // baseline of `--stats` taken at start compares with a later one.
        // (If the pool is short now, the first read tries again.)
        interface.refill_spare();
        interface.configure_ipv6(&plan.ipv6)?;
        if plan.addressing == Addressing::DhcpAutoip {
            interface.netif.enable_autoip();
        }
        if matches!(plan.addressing, Addressing::Dhcp | Addressing::DhcpAutoip) {
            interface
                .netif
                .start_dhcp()
                .map_err(|e| Error::lwip(format!("{name}: dhcp_start failed"), e))?;
        }
        Ok(interface)
    }

    /// Gives lwIP the interface's static IPv6 addresses (each starts
    /// tentative, for duplicate address detection), its static router and
    /// the SLAAC switch.
    fn configure_ipv6(&self, ipv6: &Ipv6Config) -> Result<(), Error> {
        // No router advertisement has been read yet, so SLAAC is switched
        // before it could act.
        self.netif.set_slaac(ipv6.slaac);
        for addr in &ipv6.addresses {
            let name = self.name();
            match self.netif.add_ip6(*addr) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Error::lwip(
                        format!("{name}: addr6={addr}: every IPv6 address slot is taken"),
                        LwipError::Memory,
                    ))
                }
                Err(e) => {
                    return Err(Error::lwip(
                        format!("{name}: addr6={addr}: netif_add_ip6_address failed"),
                        e,
                    ))
                }
            }
        }
        if let Some(gw) = ipv6.gateway {
            self.netif.set_ip6_gateway(gw);
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
        (0..)
            .map_while(|index| self.netif.ip6_slot(index).map(|slot| (index, slot)))
            .filter_map(|(index, slot)| {
                Ipv6State::from_lwip(slot.state).map(|state| Ipv6Address {
                    addr: slot.addr,
                    state,
                    origin: Ipv6Origin::of(index, slot.is_static),
                })
            })
            .collect()
    }

    /// What this interface still lacks to be ready (see src/ready.rs): a
    /// DHCP lease, IPv6 addresses still in duplicate address detection or
    /// found duplicated. Empty when ready.
    pub fn not_ready(&self) -> Vec<String> {
        let name = self.name();
        let mut missing = Vec::new();
        let link = self.link();
        if self.waits_for_lease && link.lease.get().is_none() && link.autoip.get().is_none() {
            missing.push(format!("{name} DHCP lease (is a DHCP server answering?)"));
        }
        if self.waits_for_ipv6 {
            for a in self.ipv6() {
                if a.origin != Ipv6Origin::Slaac && !a.state.is_valid() {
                    missing.push(format!("{name} IPv6 {} ({})", a.addr, a.state));
                }
            }
        }
        missing
    }

    /// What readiness waits for on this interface, for the ready line.
    pub(crate) fn ready_needs(&self) -> Vec<String> {
        let name = self.name();
        let mut needs = Vec::new();
        if let Some(lease) = self.link().lease.get().filter(|_| self.waits_for_lease) {
            needs.push(format!("{name} DHCP lease {lease}"));
        } else if let Some(addr) = self.link().autoip.get().filter(|_| self.waits_for_lease) {
            needs.push(format!("{name} AutoIP address {addr}"));
        }
        if self.waits_for_ipv6 {
            needs.push(format!("{name} IPv6 duplicate address detection"));
        }
        needs
    }

    /// Makes this lwIP's default interface.
    pub(crate) fn set_default(&self) {
        self.netif.set_default();
    }

    /// Starts lwIP's mDNS responder here as `host`.local, announcing
    /// `services` (instance name, service type like `_http`, TCP or UDP,
    /// port) as instances named `host`.
    pub(crate) fn start_mdns(
        &self,
        host: &str,
        services: &[(&str, bool, u16)],
    ) -> Result<(), Error> {
        let name = self.name();
        self.netif
            .start_mdns(host)
            .map_err(|e| Error::lwip(format!("{name}: mDNS: mdns_resp_add_netif failed"), e))?;
        let mut announced = Vec::new();
        for &(service, tcp, port) in services {
            let proto = if tcp { "_tcp" } else { "_udp" };
            self.netif
                .add_mdns_service(host, service, tcp, port)
                .map_err(|e| {
                    Error::lwip(
                        format!("{name}: mDNS: announcing {service}.{proto} failed"),
                        e,
                    )
                })?;
            announced.push(format!("{host}.{service}.{proto}.local"));
        }
        *self.link().mdns.borrow_mut() = Some((host.to_string(), announced));
        Ok(())
    }

    fn link(&self) -> &Link {
        self.netif.handler()
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
    pub(crate) fn fd(&self) -> Option<RawFd> {
        self.fd
    }

    /// The frame path (the device with its stages) of this interface.
    pub(crate) fn frames(&self) -> &dyn FramePath {
        &*self.link().frames
    }

    /// The IPv4 address, netmask and gateway lwIP has now.
    pub fn ipv4(&self) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
        self.netif.ipv4()
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
        self.link().releasing.set(true);
        let released = self.netif.release_dhcp();
        if released {
            log::info!("{}: DHCP lease released", self.name());
        }
        released
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
            if self.long_frames && self.rx_buffer.is_none() {
                self.rx_buffer = RxBuffer::take();
            }
            let mut header = [0u8; VnetHeader::LEN];
            let (read, first_len) = {
                let spare = self.spare.as_mut().expect("refilled");
                let mut iov: [IoSliceMut<'_>; MAX_SEGMENTS + 2] =
                    std::array::from_fn(|_| IoSliceMut::new(&mut []));
                iov[0] = IoSliceMut::new(&mut header);
                let segments = match self.rx_buffer.as_mut() {
                    // The first pool pbuf takes the headers (and a whole
                    // frame of up to 1536 bytes), the buffer the rest.
                    Some(buffer) => {
                        spare.read_targets(&mut iov[1..=1]);
                        iov[2] = IoSliceMut::new(buffer.bytes_mut());
                        2
                    }
                    // The spare chain spans at most 43 pool pbufs (65535
                    // bytes in 1536-byte buffers), so it fits.
                    None => spare.read_targets(&mut iov[1..=MAX_SEGMENTS]),
                };
                let first_len = iov[1].len();
                // Whatever does not fit lands here, so an oversized frame
                // is seen (and dropped) instead of silently cut short.
                iov[segments + 1] = IoSliceMut::new(&mut self.discard);
                let read = self.netif.handler().frames.read(&mut iov[..segments + 2]);
                (read, first_len)
            };
            let len = match read {
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
            let mut spare = self.spare.take().expect("refilled");
            let len = if len < ETH_MIN_FRAME && !cfg!(feature = "stock_lwip") {
                spare.zero_fill(len, ETH_MIN_FRAME);
                self.link().count(|c| c.rx_padded += 1);
                ETH_MIN_FRAME
            } else {
                len
            };
            self.long_frames |= len > first_len;
            let lent = self.rx_buffer.take_if(|_| len > first_len);
            // The pbufs past what the frame filled stay spare for the next
            // read, so a small frame costs one pool pbuf, not a 64 KiB
            // chain.
            let filled = if lent.is_some() { first_len } else { len };
            let (mut frame, rest) = spare.split_off_front(filled as u16);
            self.spare = rest;
            if let Some(buffer) = lent {
                frame.cat(buffer.lend((len - first_len) as u16));
            }
            #[cfg(fuzzing)]
            let Some(frame) = frame.exact_copy() else {
                self.link().count(|c| c.rx_no_buffer += 1);
                continue;
            };
            self.link().count(|c| c.rx_frames += 1);
            let header = VnetHeader::parse(&header);
            self.set_checksum_checks(!header.checksum_trusted());
            if header.is_gso() {
                self.link().count(|c| c.rx_superframes += 1);
            }
            let mut frame = frame;
            // The kernel checked the checksums, or they are computed here.
            let mut vouched = header.flags & VnetHeader::DATA_VALID != 0;
            if self.link().pass_through.is_some()
                && !header.is_gso()
                && header.flags & VnetHeader::NEEDS_CSUM != 0
                && complete_checksum(&mut frame, header)
            {
                self.link().count(|c| c.rx_checksums_completed += 1);
                vouched = true;
            }
            ARRIVING.set(Some(Arriving {
                chain: frame.chain().id(),
                link: self.link(),
                header,
                checksum_trusted: vouched,
            }));
            // lwIP frees a frame it refuses; nothing is left to do then.
            let _ = self.netif.input(frame);
            ARRIVING.set(None);
            if self.flush_each_input {
                if let Err(e) = self.link().frames.flush() {
                    log::debug!("{}: writing to the device failed: {e}", self.name());
                }
            }
        }
        Ok(budget)
    }

    /// Makes sure the spare chain can hold the largest frame. False if lwIP
    /// has no pbufs to spare.
    fn refill_spare(&mut self) -> bool {
        let have = self.spare.as_ref().map_or(0, Pbuf::tot_len);
        let capacity = usize::from(self.frame_capacity);
        if have >= capacity {
            return true;
        }
        let Some(more) = Pbuf::alloc_pool((capacity - have) as u16) else {
            return false;
        };
        // The new buffers go in front: lwIP's pbuf_cat walks the chain it
        // appends to, and the spare chain is up to 43 buffers long while
        // what a frame took is usually one.
        let mut more = more;
        if let Some(spare) = self.spare.take() {
            more.cat(spare);
        }
        self.spare = Some(more);
        true
    }

    /// Turns lwIP's checksum verification for incoming frames on or off.
    fn set_checksum_checks(&mut self, on: bool) {
        if self.checks_on != Some(on) {
            self.netif.check_checksums(on);
            self.checks_on = Some(on);
        }
    }

    /// Reads one frame into the discard buffer. Returns false when there was
    /// none.
    fn discard_frame(&mut self) -> Result<bool, Error> {
        let read = self
            .netif
            .handler()
            .frames
            .read(&mut [IoSliceMut::new(&mut self.discard)]);
        match read {
            Ok(_) => Ok(true),
            Err(e) if no_frame_waiting(&e) => Ok(false),
            Err(e) => Err(self.link_error(e)),
        }
    }

    fn link_error(&self, e: io::Error) -> Error {
        let reason = match e.raw_os_error() {
            Some(libc::EBADFD) | Some(libc::ENODEV) | Some(libc::EIO) => "the device went away",
            _ => "reading from the device failed",
        };
        Error::link(self.name(), reason, e)
    }
}

/// Computes the checksum the kernel left to the receiver of `frame`
/// (`header` says where it is) into its field. False if the header points
/// outside the frame.
fn complete_checksum(frame: &mut Pbuf, header: VnetHeader) -> bool {
    let start = usize::from(header.csum_start);
    let field = start + usize::from(header.csum_offset);
    if field + 2 > frame.tot_len() {
        return false;
    }
    let mut sum = RunningSum::default();
    let mut at = 0;
    for segment in frame.chain().segments() {
        if at + segment.len() > start {
            sum.add(&segment[start.saturating_sub(at)..]);
        }
        at += segment.len();
    }
    let value = checksum::completed(sum.fold()).to_be_bytes();
    frame.copy_in(field, &value);
    true
}

/// Addresses separated by commas.
fn join(addrs: &[std::net::IpAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
