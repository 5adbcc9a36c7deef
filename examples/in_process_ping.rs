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
        let arp_request_for_host =
            frame[12..14] == [0x08, 0x06] && frame[21] == 1 && frame[38..42] == addr.octets();
        if !arp_request_for_host {
            return Ok(frame);
        }
        let lwip_mac: [u8; 6] = frame[6..12].try_into().expect("6 bytes");
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
    let mut icmp = vec![kind, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(payload);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());

    let mut frame = ethernet(dst_mac, src_mac, 0x0800);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&icmp);
    frame
}

/// An ARP reply from `mac`/`addr` to `to_mac`/`to`.
fn arp_reply(mac: [u8; 6], to_mac: [u8; 6], addr: Ipv4Addr, to: Ipv4Addr) -> Vec<u8> {
    let mut frame = ethernet(to_mac, mac, 0x0806);
    frame.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 2]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&addr.octets());
    frame.extend_from_slice(&to_mac);
    frame.extend_from_slice(&to.octets());
    frame
}

fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut frame = dst.to_vec();
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

/// TTL, ICMP type, id and sequence of an IPv4 ICMP echo frame whose IP and
/// ICMP checksums are right; `None` otherwise.
fn parse_icmp(frame: &[u8]) -> Option<(u8, u8, u16, u16)> {
    let ip = frame.get(14..)?;
    if frame[12..14] != [0x08, 0x00] || ip.len() < 28 || ip[9] != 1 {
        return None;
    }
    let header = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let icmp = ip.get(header..total)?;
    if checksum(&ip[..header]) != 0 || checksum(icmp) != 0 || icmp.len() < 8 {
        return None;
    }
    let word = |i: usize| u16::from_be_bytes([icmp[i], icmp[i + 1]]);
    Some((ip[8], icmp[0], word(4), word(6)))
}

/// The Internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
