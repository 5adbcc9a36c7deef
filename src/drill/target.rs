//! What a script runs against: a stack under test, seen as the script sees
//! it: IP packets in and out, system calls, and a clock ([`Target`]). The
//! lwIP compiled into this crate, in process on a virtual clock, is one
//! ([`LwipTarget`]); the Linux kernel of this machine, in a network
//! namespace of this process on the real clock, is the other
//! (`super::linux::LinuxTarget`).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::sockets::{Attempt, Call, Endpoints, Progress, Sockets};
use crate::clock::Clock;
use crate::config::{Addressing, CaptureConfig, Config, InterfaceConfig};
use crate::device::InProcessPort;
use crate::stack::Stack;
use crate::wire::arp::{self, ArpPacket};
use crate::wire::builder;
use crate::wire::icmp::{v6, IcmpMessage, NeighborMessage};
use crate::wire::ipv4::Ipv4Header;
use crate::wire::ipv6::{self, Ipv6Header};
use crate::wire::{EtherType, EthernetFrame, IpProtocol};

/// A stack under test as the runner drives it. Each target keeps what only
/// it can do (lwIP's virtual clock jumps, Linux's real waits) inside.
pub(crate) trait Target {
    /// Who sends the packets, in failure messages (`lwIP sent ...`).
    fn name(&self) -> &'static str;

    /// The script's time now, in microseconds.
    fn now(&self) -> i64;

    /// Lets time pass towards `limit`, returning early (true) when
    /// something happened that may complete a blocked call or bring a
    /// packet. Returns false once at `limit`.
    fn step(&mut self, limit: i64) -> Result<bool, String>;

    /// Hands an IP packet to the stack.
    fn inject(&mut self, packet: &[u8]) -> Result<(), String>;

    /// The oldest IP packet the stack sent the remote end that has not
    /// been taken, with its time.
    fn take_sent(&mut self) -> Option<(i64, Vec<u8>)>;

    /// Puts a packet back at the front (the runner looked at it early).
    fn untake(&mut self, packet: (i64, Vec<u8>));

    /// Tries a system call (again).
    fn call(&mut self, call: &Call, progress: &mut Progress) -> Attempt;

    /// The TCP sockets' addresses, in descriptor order.
    fn tcp_endpoints(&self) -> Vec<Endpoints>;

    /// Runs a shell command of the script; `None` when this target does
    /// not (the command tunes another OS).
    fn shell(&mut self, command: &str) -> Option<Result<(), String>>;
}

/// Where the script's stack lives on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addresses {
    pub local: IpAddr,
    pub remote: IpAddr,
    /// The remote end's prefix length: what is routed to the script's end
    /// (packetdrill's /24 and /32 by default, a host route for an address
    /// given without one).
    pub remote_prefix: u8,
    pub gateway: IpAddr,
    /// IPv4's netmask (unused for IPv6, whose prefix lwIP takes as /64).
    pub netmask: Ipv4Addr,
    pub mtu: u32,
}

/// The lwIP of this crate with one in-process interface, on the virtual
/// clock. The runner's side of the link answers lwIP's ARP and neighbour
/// solicitations for every address but lwIP's own (the gateway, the remote
/// end), so scripts start at IP, as packetdrill's do.
pub(crate) struct LwipTarget {
    stack: Stack,
    port: InProcessPort,
    sockets: Sockets,
    addresses: Addresses,
    lwip_mac: [u8; 6],
    /// The virtual time of the script's time 0.
    start: Duration,
    /// IP packets lwIP sent, with their script times.
    sent: VecDeque<(i64, Vec<u8>)>,
}

/// The runner's MAC address on the link.
const RUNNER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x0d, 0x01];
/// lwIP's MAC address on the link.
const LWIP_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x0d, 0x02];
/// The IPv6 router lwIP is given: the runner, link-local (lwIP routes an
/// off-link destination through its static router, which must be
/// reachable on the link; the runner answers for any address anyway).
const IPV6_ROUTER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x0d01);
/// How long setup may take before the script starts: duplicate address
/// detection of IPv6 addresses takes lwIP a second or two.
const SETUP_LIMIT: Duration = Duration::from_secs(30);

impl LwipTarget {
    /// Starts lwIP with its interface, and lets virtual time run until its
    /// addresses are usable. `capture`: a pcapng file of every frame.
    pub(crate) fn start(
        addresses: &Addresses,
        capture: Option<PathBuf>,
    ) -> Result<LwipTarget, String> {
        let addressing = match addresses.local {
            IpAddr::V4(addr) => Addressing::Static {
                addr,
                netmask: addresses.netmask,
                gw: match addresses.gateway {
                    IpAddr::V4(gw) => Some(gw),
                    IpAddr::V6(_) => None,
                },
            },
            IpAddr::V6(_) => Addressing::None,
        };
        let mut interface = InterfaceConfig::in_process("drill0", LWIP_MAC, addressing);
        interface.mtu = Some(addresses.mtu);
        interface.capture = capture.map(CaptureConfig::new);
        if let IpAddr::V6(local) = addresses.local {
            interface.ipv6.addresses = vec![local];
            interface.ipv6.gateway = Some(IPV6_ROUTER);
            interface.ipv6.slaac = false;
        }
        let config = Config {
            interfaces: vec![interface],
            clock: Clock::Virtual,
            ..Config::default()
        };
        let stack = Stack::new(&config).map_err(|e| format!("{e:#}"))?;
        let port = stack.in_process_port(0).ok_or("no in-process interface")?;
        let mut target = LwipTarget {
            stack,
            port,
            sockets: Sockets::new(),
            addresses: addresses.clone(),
            lwip_mac: LWIP_MAC,
            start: Duration::ZERO,
            sent: VecDeque::new(),
        };
        // Setup: lwIP's addresses become usable (IPv6 duplicate address
        // detection) before the script's time 0.
        loop {
            target.collect();
            let ready = target.stack.interfaces()[0]
                .ipv6()
                .iter()
                .all(|a| a.state.is_valid());
            if ready {
                break;
            }
            let now = target.stack.now();
            if now > SETUP_LIMIT {
                return Err("lwIP's addresses did not become usable".into());
            }
            let next = target
                .stack
                .next_timer()
                .unwrap_or(now + Duration::from_millis(100));
            target
                .stack
                .advance_clock(next)
                .map_err(|e| format!("{e:#}"))?;
        }
        target.collect();
        target.sent.clear();
        target.start = target.stack.now();
        Ok(target)
    }

    /// When lwIP's next timer falls due, in script time.
    pub(crate) fn next_timer(&self) -> Option<i64> {
        self.stack
            .next_timer()
            .map(|t| t.saturating_sub(self.start).as_micros() as i64)
    }

    /// Takes what lwIP sent: answers ARP and neighbour solicitations, keeps
    /// the IP packets between lwIP and the remote end, drops the rest
    /// (router solicitations, MLD reports, duplicate address detection).
    fn collect(&mut self) {
        let now = self.now();
        while let Some(frame) = self.port.take_sent() {
            let Ok(eth) = EthernetFrame::new_checked(&frame[..]) else {
                continue;
            };
            match eth.ethertype() {
                EtherType::Arp => self.answer_arp(eth.payload()),
                EtherType::Ipv4 => self.keep(now, eth.payload()),
                EtherType::Ipv6 => {
                    if !self.answer_neighbor_solicitation(eth.payload()) {
                        self.keep(now, eth.payload());
                    }
                }
                EtherType::Other(_) => {}
            }
        }
    }

    /// Keeps an IP packet if it is one of the script's: to the remote end.
    fn keep(&mut self, now: i64, packet: &[u8]) {
        if let Some(packet) = for_remote(packet, self.addresses.remote) {
            self.sent.push_back((now, packet.to_vec()));
        }
    }

    fn answer_arp(&mut self, payload: &[u8]) {
        let Ok(request) = ArpPacket::new_checked(payload) else {
            return;
        };
        let asked = request.target_ip();
        if request.operation() != arp::REQUEST || IpAddr::V4(asked) == self.addresses.local {
            return;
        }
        if request.sender_ip() == asked {
            return; // a gratuitous announcement
        }
        let reply = builder::arp(
            arp::REPLY,
            (RUNNER_MAC, asked),
            (request.sender_mac(), request.sender_ip()),
        );
        let frame = builder::ethernet(request.sender_mac(), RUNNER_MAC, EtherType::Arp, &reply);
        let _ = self.stack.inject(0, &frame, false);
    }

    /// Answers a neighbour solicitation for any address but lwIP's own
    /// (whose solicitations are duplicate address detection). True if the
    /// packet was neighbour discovery.
    fn answer_neighbor_solicitation(&mut self, packet: &[u8]) -> bool {
        let Ok(ip) = Ipv6Header::new_checked(packet) else {
            return false;
        };
        if !is_neighbor_discovery(&ip) {
            return false;
        }
        let Ok((_, at)) = ip.upper_layer() else {
            return true;
        };
        let Ok(icmp) = IcmpMessage::new_checked(&ip.payload()[at..]) else {
            return true;
        };
        if icmp.msg_type() != v6::NEIGHBOR_SOLICITATION || ip.src().is_unspecified() {
            return true;
        }
        let Ok(solicitation) = NeighborMessage::parse(&icmp) else {
            return true;
        };
        let lwip_own = self.stack.interfaces()[0]
            .ipv6()
            .iter()
            .any(|a| a.addr == solicitation.target);
        if lwip_own {
            return true;
        }
        let body = builder::neighbor_message(solicitation.target, true, RUNNER_MAC);
        let (src, dst) = (IpAddr::V6(solicitation.target), IpAddr::V6(ip.src()));
        let flags = builder::NA_SOLICITED | builder::NA_OVERRIDE;
        let message = builder::icmp(src, dst, v6::NEIGHBOR_ADVERTISEMENT, 0, flags, &body);
        let mut fields = builder::IpFields::new(src, dst);
        fields.ttl = 255;
        if let Some(advert) = builder::ip(&fields, IpProtocol::Icmpv6, &message) {
            let frame = builder::ethernet(self.lwip_mac, RUNNER_MAC, EtherType::Ipv6, &advert);
            let _ = self.stack.inject(0, &frame, false);
        }
        true
    }
}

impl Target for LwipTarget {
    fn name(&self) -> &'static str {
        "lwIP"
    }

    fn now(&self) -> i64 {
        (self.stack.now().saturating_sub(self.start)).as_micros() as i64
    }

    /// Moves the clock forward by one of lwIP's timers, or to `limit` if
    /// none falls due before it.
    fn step(&mut self, limit: i64) -> Result<bool, String> {
        let now = self.now();
        if now >= limit {
            return Ok(false);
        }
        let (to, more) = match self.next_timer() {
            Some(next) if next < limit => (next.max(now), true),
            _ => (limit, false),
        };
        let virtual_time = self.start + Duration::from_micros(to as u64);
        self.stack
            .advance_clock(virtual_time)
            .map_err(|e| format!("{e:#}"))?;
        self.collect();
        Ok(more)
    }

    /// Hands an IP packet to lwIP (in an Ethernet frame from the runner).
    fn inject(&mut self, packet: &[u8]) -> Result<(), String> {
        let ethertype = if packet.first().is_some_and(|b| b >> 4 == 6) {
            EtherType::Ipv6
        } else {
            EtherType::Ipv4
        };
        let frame = builder::ethernet(self.lwip_mac, RUNNER_MAC, ethertype, packet);
        self.stack
            .inject(0, &frame, false)
            .map_err(|e| format!("{e:#}"))?;
        self.collect();
        Ok(())
    }

    fn take_sent(&mut self) -> Option<(i64, Vec<u8>)> {
        self.sent.pop_front()
    }

    fn untake(&mut self, packet: (i64, Vec<u8>)) {
        self.sent.push_front(packet);
    }

    fn call(&mut self, call: &Call, progress: &mut Progress) -> Attempt {
        let now = self.now();
        let attempt = self.sockets.attempt(call, progress, now);
        self.collect();
        attempt
    }

    fn tcp_endpoints(&self) -> Vec<Endpoints> {
        self.sockets.tcp_endpoints()
    }

    fn shell(&mut self, _command: &str) -> Option<Result<(), String>> {
        None
    }
}

/// `packet` (to its IP length) if it is one of the script's: to the remote
/// end, and not neighbour discovery.
pub(crate) fn for_remote(packet: &[u8], remote: IpAddr) -> Option<&[u8]> {
    let len = match packet.first().map(|b| b >> 4) {
        Some(4) => Ipv4Header::new_checked(packet)
            .ok()
            .filter(|ip| IpAddr::V4(ip.dst()) == remote)
            .map(|ip| usize::from(ip.total_len())),
        Some(6) => Ipv6Header::new_checked(packet)
            .ok()
            .filter(|ip| IpAddr::V6(ip.dst()) == remote && !is_neighbor_discovery(ip))
            .map(|ip| ipv6::HEADER_LEN + usize::from(ip.payload_len())),
        _ => None,
    }?;
    Some(&packet[..len.min(packet.len())])
}

/// ICMPv6 neighbour discovery and MLD: the link's business, not the script's.
fn is_neighbor_discovery<T: AsRef<[u8]>>(ip: &Ipv6Header<T>) -> bool {
    let Ok((IpProtocol::Icmpv6, at)) = ip.upper_layer() else {
        return false;
    };
    ip.payload()
        .get(at)
        .is_some_and(|kind| (v6::MLD_QUERY..=137).contains(kind) || *kind == v6::MLD2_REPORT)
}
