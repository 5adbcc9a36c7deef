//! lwIP in-process, with no TAP and no privileges: a stack with two
//! device-less interfaces routes a ping between two hosts that this program
//! plays itself.
//!
//! ```text
//!  host A 10.0.1.2 ── if "a" 10.0.1.1 ─ lwIP ─ if "b" 10.0.2.1 ── host B 10.0.2.2
//! ```
//!
//! Host A sends an ICMP echo request to host B; lwIP forwards it through
//! interface b (asking for B's MAC with ARP first), host B answers, and lwIP
//! forwards the reply back to A. Run it with
//! `cargo run --example in_process_ping`.

use std::net::Ipv4Addr;

use lwip_tap::config::{Addressing, Config, InterfaceConfig};
use lwip_tap::stack::Stack;
use lwip_tap::wire::arp::{self, ArpPacket};
use lwip_tap::wire::builder::{self, IpFields};
use lwip_tap::wire::checksum;
use lwip_tap::wire::icmp::IcmpMessage;
use lwip_tap::wire::ipv4::Ipv4Header;
use lwip_tap::wire::{EtherType, EthernetFrame, IpProtocol};
use lwip_tap::Error;

const LWIP_A: [u8; 6] = [0x02, 0, 0, 0, 1, 1];
const LWIP_B: [u8; 6] = [0x02, 0, 0, 0, 2, 1];
const HOST_A: [u8; 6] = [0x02, 0, 0, 0, 1, 2];
const HOST_B: [u8; 6] = [0x02, 0, 0, 0, 2, 2];
const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn main() -> Result<(), Error> {
    for line in ping_between_two_hosts()? {
        println!("{line}");
    }
    Ok(())
}

/// Runs the exchange; returns what each host saw.
pub fn ping_between_two_hosts() -> Result<Vec<String>, Error> {
    let mut seen = Vec::new();
    let interface = |name: &str, mac, addr| {
        InterfaceConfig::in_process(
            name,
            mac,
            Addressing::Static {
                addr,
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                gw: None,
            },
        )
    };
    let config = Config {
        interfaces: vec![
            interface("a", LWIP_A, Ipv4Addr::new(10, 0, 1, 1)),
            interface("b", LWIP_B, Ipv4Addr::new(10, 0, 2, 1)),
        ],
        ..Config::default()
    };
    let mut stack = Stack::new(&config)?;
    // Interface a is 0, b is 1.
    let (a, b) = (0, 1);
    // What lwIP announced when its interfaces came up (gratuitous ARP, IPv6
    // neighbour discovery) is of no interest here.
    for side in [a, b] {
        let port = stack.in_process_port(side).expect("in-process");
        while port.take_sent().is_some() {}
    }

    // Host A already knows lwIP's MAC (its gateway) and sends the request.
    let request = icmp_echo(HOST_A, LWIP_A, ADDR_A, ADDR_B, 8, 0x4242, 1, b"lwip-tap");
    stack.inject(a, &request, false)?;

    // lwIP asks on b who has 10.0.2.2; host B answers, and lwIP forwards.
    let forwarded = receive_as(&mut stack, b, HOST_B, ADDR_B, Ipv4Addr::new(10, 0, 2, 1))?;
    let (ttl, kind, id, seq) = parse_icmp(&forwarded).expect("an ICMP packet");
    seen.push(format!(
        "host B got an echo request (type {kind}, id {id:#x}, seq {seq}) with ttl {ttl}"
    ));

    // Host B answers; lwIP forwards the reply to host A.
    let reply = icmp_echo(HOST_B, LWIP_B, ADDR_B, ADDR_A, 0, id, seq, b"lwip-tap");
    stack.inject(b, &reply, false)?;
    let back = receive_as(&mut stack, a, HOST_A, ADDR_A, Ipv4Addr::new(10, 0, 1, 1))?;
    let (ttl, kind, id, seq) = parse_icmp(&back).expect("an ICMP packet");
    assert_eq!(kind, 0, "an echo reply");
    seen.push(format!(
        "host A got an echo reply from {ADDR_B} (id {id:#x}, seq {seq}) with ttl {ttl}"
    ));
    Ok(seen)
}

/// The next frame lwIP sends on interface `side` to the host at
/// `mac`/`addr`, answering lwIP's ARP request for it (from `lwip_addr`) on
/// the way.
fn receive_as(
    stack: &mut Stack,
    side: usize,
    mac: [u8; 6],
    addr: Ipv4Addr,
    lwip_addr: Ipv4Addr,
) -> Result<Vec<u8>, Error> {
    let port = stack.in_process_port(side).expect("in-process");
    loop {
        let frame = port.take_sent().expect("lwIP sends a frame");
        let Some(lwip_mac) = arp_request_for(&frame, addr) else {
            return Ok(frame);
        };
        stack.inject(side, &arp_reply(mac, lwip_mac, addr, lwip_addr), false)?;
    }
}

/// An Ethernet frame carrying an IPv4 ICMP echo request (kind 8) or reply
/// (kind 0), with correct checksums.
#[allow(clippy::too_many_arguments)]
fn icmp_echo(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    kind: u8,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let rest = (u32::from(id) << 16) | u32::from(seq);
    let icmp = builder::icmp(src.into(), dst.into(), kind, 0, rest, payload);
    let packet = builder::ip(
        &IpFields::new(src.into(), dst.into()),
        IpProtocol::Icmp,
        &icmp,
    )
    .expect("a small packet");
    builder::ethernet(dst_mac, src_mac, EtherType::Ipv4, &packet)
}

/// An ARP reply from `mac`/`addr` to `to_mac`/`to`.
fn arp_reply(mac: [u8; 6], to_mac: [u8; 6], addr: Ipv4Addr, to: Ipv4Addr) -> Vec<u8> {
    let reply = builder::arp(arp::REPLY, (mac, addr), (to_mac, to));
    builder::ethernet(to_mac, mac, EtherType::Arp, &reply)
}

/// lwIP's ARP request for `addr` in `frame`, if it is one.
fn arp_request_for(frame: &[u8], addr: Ipv4Addr) -> Option<[u8; 6]> {
    let frame = EthernetFrame::new_checked(frame).ok()?;
    let request = ArpPacket::new_checked(frame.payload()).ok()?;
    (frame.ethertype() == EtherType::Arp
        && request.operation() == arp::REQUEST
        && request.target_ip() == addr)
        .then(|| request.sender_mac())
}

/// TTL, ICMP type, id and sequence of an IPv4 ICMP echo frame whose IP and
/// ICMP checksums are right; `None` otherwise.
fn parse_icmp(frame: &[u8]) -> Option<(u8, u8, u16, u16)> {
    let frame = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Header::new_checked(frame.payload()).ok()?;
    if frame.ethertype() != EtherType::Ipv4 || ip.protocol() != IpProtocol::Icmp {
        return None;
    }
    let icmp = IcmpMessage::new_checked(ip.payload()).ok()?;
    if !ip.verify_checksum() || !checksum::verifies(icmp.as_bytes()) {
        return None;
    }
    Some((ip.ttl(), icmp.msg_type(), icmp.echo_id(), icmp.echo_seq()))
}
