//! What lwIP's `ip4_forward` does to the packets it forwards, and what
//! lwip-tap makes of it, in-process: a router with two device-less
//! interfaces, fed frames this test writes (lwIP is a process-wide
//! singleton, so this file has a single stack).
//!
//! ```text
//!  left 172.16.0.100 -- "left" 172.16.0.1 [lwIP] "right" 172.16.1.1 (MTU 576) -- right 172.16.1.100
//! ```
//!
//! In a normal build every forwarded packet must leave exactly as it came
//! but for the TTL and the header checksum (lwip/ip4_glue.c keeps lwIP from
//! clearing the transport checksum; the driver fills in the header
//! checksum lwIP clears, and counts it: this fails if lwIP stops clearing
//! it). Built with `--features stock_lwip`, the same test checks lwIP's own
//! output instead: the header checksum and the two bytes at the transport
//! checksum's offset cleared, nothing else changed; the second test here
//! runs that build, so a future lwIP that stops (or changes) clearing them
//! is noticed.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use lwip_tap::config::{Addressing, Config, InterfaceConfig};
use lwip_tap::netif::Counters;
use lwip_tap::stack::Stack;
use lwip_tap::wire::arp::{self, ArpPacket};
use lwip_tap::wire::builder::{self, TcpSegment};
use lwip_tap::wire::ipv4::Ipv4Header;
use lwip_tap::wire::tcp::TcpFlags;
use lwip_tap::wire::{icmp, tcp, udp, EtherType, EthernetFrame, IpProtocol};

const LWIP_LEFT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const LWIP_RIGHT: [u8; 6] = [0x02, 0, 0, 0, 1, 0x01];
const HOST_LEFT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x64];
const HOST_RIGHT: [u8; 6] = [0x02, 0, 0, 0, 1, 0x64];
const LEFT: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 100);
const RIGHT: Ipv4Addr = Ipv4Addr::new(172, 16, 1, 100);
const RIGHT_MTU: usize = 576;
/// The interfaces' places in the stack.
const LEFT_SIDE: usize = 0;
const RIGHT_SIDE: usize = 1;

/// How a packet is fragmented: don't fragment, or not, or a later
/// fragment at this offset (bytes).
#[derive(Clone, Copy)]
enum Frag {
    DontFragment,
    May,
    LaterAt(usize),
}
use Frag::{DontFragment as DF, May};

const STOCK: bool = cfg!(feature = "stock_lwip");

/// The one's complement sum of `data` (big-endian words, an odd tail
/// padded with zero), folded to 16 bits: the test's own, to check the
/// checksums the code under test computes.
fn sum(data: &[u8]) -> u16 {
    let mut acc: u32 = data
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// An IPv4 packet with a correct header checksum; `options` are appended
/// to the 20-byte header (a multiple of 4 bytes).
fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    frag: Frag,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let header_len = 20 + options.len();
    let mut p = vec![0; header_len];
    p[20..].copy_from_slice(options);
    let mut ip = Ipv4Header::new_unchecked(&mut p[..]);
    ip.set_version_and_header_len(header_len);
    ip.set_total_len((header_len + payload.len()) as u16);
    ip.set_ident(0xabcd);
    match frag {
        Frag::DontFragment => ip.set_fragment(true, false, 0),
        Frag::May => ip.set_fragment(false, false, 0),
        Frag::LaterAt(offset) => ip.set_fragment(false, false, offset),
    }
    ip.set_ttl(64);
    ip.set_protocol(protocol);
    ip.set_src(src);
    ip.set_dst(dst);
    ip.fill_checksum();
    p.extend_from_slice(payload);
    p
}

/// `len` bytes counting 1 to 251 over and over (no zeros, so a cleared
/// field shows).
fn counting(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251 + 1) as u8).collect()
}

fn udp(src: Ipv4Addr, dst: Ipv4Addr, data: &[u8]) -> Vec<u8> {
    builder::udp(src.into(), dst.into(), 40000, 9000, data).unwrap()
}

fn tcp(src: Ipv4Addr, dst: Ipv4Addr, data: &[u8]) -> Vec<u8> {
    TcpSegment {
        src_port: 40001,
        dst_port: 8080,
        seq: 0x1000,
        ack: 0x2000,
        flags: TcpFlags::PSH | TcpFlags::ACK,
        window: 0x8000,
        payload: data,
        ..TcpSegment::default()
    }
    .emit(src.into(), dst.into())
    .unwrap()
}

fn icmp_echo(data: &[u8]) -> Vec<u8> {
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    builder::icmp(any, any, icmp::v4::ECHO_REQUEST, 0, 0x1234_0001, data)
}

/// Answers the ARP request lwIP sent on interface `side` (the next frame
/// it sent there) as `mac`/`addr`.
fn answer_arp(stack: &mut Stack, side: usize, mac: [u8; 6], addr: Ipv4Addr) {
    let port = stack.in_process_port(side).unwrap();
    let frame = port.take_sent().expect("an ARP request");
    let frame = EthernetFrame::new_checked(&frame[..]).unwrap();
    assert_eq!(frame.ethertype(), EtherType::Arp);
    let request = ArpPacket::new_checked(frame.payload()).unwrap();
    assert_eq!(request.operation(), arp::REQUEST, "a request");
    assert_eq!(request.target_ip(), addr, "for {addr}");
    let reply = builder::arp(
        arp::REPLY,
        (mac, addr),
        (request.sender_mac(), request.sender_ip()),
    );
    let reply = builder::ethernet(request.sender_mac(), mac, EtherType::Arp, &reply);
    stack.inject(side, &reply, false).unwrap();
}

/// An Ethernet frame from the host at `mac` to lwIP's `lwip_mac`.
fn ethernet(lwip_mac: [u8; 6], mac: [u8; 6], packet: &[u8]) -> Vec<u8> {
    builder::ethernet(lwip_mac, mac, EtherType::Ipv4, packet)
}

/// The IPv4 packet in a frame lwIP sent to `mac`.
fn ip_of(frame: &[u8], mac: [u8; 6]) -> Vec<u8> {
    let frame = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(frame.dst(), mac, "to the next hop");
    assert_eq!(frame.ethertype(), EtherType::Ipv4);
    let ip = Ipv4Header::new_checked(frame.payload()).unwrap();
    let total = usize::from(ip.total_len());
    frame.payload()[..total].to_vec()
}

fn header_len(ip: &[u8]) -> usize {
    Ipv4Header::new_checked(ip).unwrap().header_len()
}

/// Where `ip4_forward` writes its zero into the transport checksum field.
fn transport_field(ip: &[u8]) -> usize {
    let header = Ipv4Header::new_unchecked(ip);
    header.header_len()
        + match header.protocol() {
            IpProtocol::Icmp => icmp::CHECKSUM_OFFSET,
            IpProtocol::Tcp => tcp::CHECKSUM_OFFSET,
            _ => udp::CHECKSUM_OFFSET,
        }
}

/// Checks a forwarded packet against the one sent: in a normal build, all
/// as sent but the TTL (one less) and the header checksum (which verifies);
/// with `stock_lwip`, as lwIP leaves it: both checksum fields cleared (the
/// transport one if the packet reaches it: lwIP writes there regardless).
fn assert_forwarded(out: &[u8], sent: &[u8], what: &str) {
    assert_eq!(out.len(), sent.len(), "{what}: length");
    assert_eq!(out[8], sent[8] - 1, "{what}: TTL");
    let field = transport_field(sent);
    if STOCK {
        let mut expected = sent.to_vec();
        expected[8] -= 1;
        expected[10..12].copy_from_slice(&[0, 0]);
        if let Some(bytes) = expected.get_mut(field..field + 2) {
            bytes.copy_from_slice(&[0, 0]);
        }
        assert_eq!(
            out, expected,
            "{what}: lwIP clears the header checksum and the bytes at {field}, nothing else"
        );
    } else {
        assert_eq!(
            sum(&out[..header_len(out)]),
            0xffff,
            "{what}: header checksum"
        );
        assert_eq!(&out[..8], &sent[..8], "{what}");
        assert_eq!(out[9], sent[9], "{what}");
        assert_eq!(&out[12..], &sent[12..], "{what}: all else as sent");
    }
}

/// The count of frames whose header checksum the driver filled in moved by
/// `packets` on the interface they left by (none in a stock build).
fn assert_filled(stack: &Stack, side: usize, before: Counters, packets: u64, what: &str) {
    let filled =
        stack.interfaces()[side].counters().tx_ip_checksum_filled - before.tx_ip_checksum_filled;
    let expect = if STOCK { 0 } else { packets };
    assert_eq!(
        filled, expect,
        "{what}: header checksums lwIP cleared and the driver filled in"
    );
}

fn interface(name: &str, mac: [u8; 6], addr: Ipv4Addr, mtu: Option<u32>) -> InterfaceConfig {
    let mut config = InterfaceConfig::in_process(
        name,
        mac,
        Addressing::Static {
            addr,
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gw: None,
        },
    );
    config.mtu = mtu;
    config
}

#[test]
fn forwarded_packets_leave_as_they_came_but_for_ttl_and_header_checksum() {
    let config = Config {
        interfaces: vec![
            interface("left", LWIP_LEFT, Ipv4Addr::new(172, 16, 0, 1), Some(9000)),
            interface(
                "right",
                LWIP_RIGHT,
                Ipv4Addr::new(172, 16, 1, 1),
                Some(RIGHT_MTU as u32),
            ),
        ],
        ..Config::default()
    };
    let mut stack = Stack::new(&config).unwrap();
    let left = stack.in_process_port(LEFT_SIDE).unwrap();
    let right = stack.in_process_port(RIGHT_SIDE).unwrap();
    while left.take_sent().is_some() || right.take_sent().is_some() {}
    let from_left = |ip: &[u8]| ethernet(LWIP_LEFT, HOST_LEFT, ip);

    // The first packet to the right host waits in lwIP's ARP queue until
    // the host answers; then it goes out.
    let before = stack.interfaces()[RIGHT_SIDE].counters();
    let sent = ipv4(
        LEFT,
        RIGHT,
        IpProtocol::Udp,
        May,
        &[],
        &udp(LEFT, RIGHT, &[0x5a; 100]),
    );
    stack.inject(LEFT_SIDE, &from_left(&sent), false).unwrap();
    answer_arp(&mut stack, RIGHT_SIDE, HOST_RIGHT, RIGHT);
    let out = right.take_sent().expect("the queued datagram");
    assert_forwarded(&ip_of(&out, HOST_RIGHT), &sent, "UDP after ARP");
    assert_filled(&stack, RIGHT_SIDE, before, 1, "UDP after ARP");

    // Then packets are forwarded at once: TCP, ICMP, UDP under IP options;
    // a later fragment, whose bytes at the UDP checksum's offset are
    // payload; and a short one whose IP options leave no room for the TCP
    // checksum lwIP clears regardless, past the packet's end (which is why
    // a fuzzer with exact-size buffers sees lwIP write past the buffer:
    // fuzz/regressions/forward-short-packet-checksum-write).
    let data: Vec<u8> = (1..=200).collect();
    let cases = [
        (
            "TCP",
            ipv4(
                LEFT,
                RIGHT,
                IpProtocol::Tcp,
                DF,
                &[],
                &tcp(LEFT, RIGHT, &data),
            ),
        ),
        (
            "ICMP",
            ipv4(LEFT, RIGHT, IpProtocol::Icmp, May, &[], &icmp_echo(&data)),
        ),
        (
            "UDP with IP options",
            ipv4(
                LEFT,
                RIGHT,
                IpProtocol::Udp,
                May,
                &[1, 1, 1, 0],
                &udp(LEFT, RIGHT, &data),
            ),
        ),
        (
            "a later fragment",
            ipv4(
                LEFT,
                RIGHT,
                IpProtocol::Udp,
                Frag::LaterAt(185 * 8),
                &[],
                &data,
            ),
        ),
        (
            "a short packet with options",
            ipv4(LEFT, RIGHT, IpProtocol::Tcp, May, &[1; 20], &data[..10]),
        ),
    ];
    for (what, sent) in &cases {
        let before = stack.interfaces()[RIGHT_SIDE].counters();
        stack.inject(LEFT_SIDE, &from_left(sent), false).unwrap();
        let out = right.take_sent().expect(what);
        assert_forwarded(&ip_of(&out, HOST_RIGHT), sent, what);
        assert_filled(&stack, RIGHT_SIDE, before, 1, what);
    }
    assert_eq!(right.take_sent(), None);

    // The other way, also after ARP.
    let before = stack.interfaces()[LEFT_SIDE].counters();
    let sent = ipv4(
        RIGHT,
        LEFT,
        IpProtocol::Tcp,
        DF,
        &[],
        &tcp(RIGHT, LEFT, &data),
    );
    stack
        .inject(RIGHT_SIDE, &ethernet(LWIP_RIGHT, HOST_RIGHT, &sent), false)
        .unwrap();
    answer_arp(&mut stack, LEFT_SIDE, HOST_LEFT, LEFT);
    let out = left.take_sent().expect("the queued segment");
    assert_forwarded(&ip_of(&out, HOST_LEFT), &sent, "TCP to the left");
    assert_filled(&stack, LEFT_SIDE, before, 1, "TCP to the left");

    // A datagram too big for the right side is cut into pieces of at most
    // 576 bytes, each with a header whose checksum ip4_frag computes (so
    // the driver fills in none), carrying the datagram's bytes: with lwIP's
    // cleared UDP checksum in a stock build. The same for datagrams in
    // frames longer than a pool pbuf (the left side's MTU is 9000): the
    // first of them is read into a chain of pool pbufs, the next past its
    // first pbuf into a buffer the driver lends lwIP as a custom pbuf.
    for len in [1372, 8000, 8000] {
        let before = stack.interfaces()[RIGHT_SIDE].counters();
        let data = counting(len);
        let sent = ipv4(
            LEFT,
            RIGHT,
            IpProtocol::Udp,
            May,
            &[],
            &udp(LEFT, RIGHT, &data),
        );
        stack.inject(LEFT_SIDE, &from_left(&sent), false).unwrap();
        let mut payload = Vec::new();
        while let Some(frame) = right.take_sent() {
            let piece = ip_of(&frame, HOST_RIGHT);
            assert!(piece.len() <= RIGHT_MTU, "{}", piece.len());
            assert_eq!(sum(&piece[..20]), 0xffff, "each piece's header checksum");
            let offset = usize::from(u16::from_be_bytes([piece[6], piece[7]]) & 0x1fff) * 8;
            assert_eq!(offset, payload.len(), "pieces in order");
            payload.extend_from_slice(&piece[20..]);
        }
        let mut expected = sent[20..].to_vec();
        if STOCK {
            expected[6..8].copy_from_slice(&[0, 0]);
        }
        assert_eq!(
            payload, expected,
            "the pieces carry the {len}-byte datagram"
        );
        assert_filled(
            &stack,
            RIGHT_SIDE,
            before,
            0,
            &format!("a datagram of {len} bytes cut in pieces"),
        );
    }
    let data = counting(1372);

    // With DF set, lwIP answers "fragmentation needed" instead, quoting the
    // header as it left it: TTL decremented, header checksum cleared (the
    // UDP checksum too, in a stock build).
    let before = stack.interfaces()[LEFT_SIDE].counters();
    let sent = ipv4(
        LEFT,
        RIGHT,
        IpProtocol::Udp,
        DF,
        &[],
        &udp(LEFT, RIGHT, &data),
    );
    stack.inject(LEFT_SIDE, &from_left(&sent), false).unwrap();
    let error = ip_of(&left.take_sent().expect("an ICMP error"), HOST_LEFT);
    assert_eq!(right.take_sent(), None);
    let (kind, code) = (error[20], error[21]);
    assert_eq!((kind, code), (3, 4), "fragmentation needed");
    let quote = &error[28..];
    assert_eq!(quote[8], 63, "the quote has the decremented TTL");
    assert_eq!(
        &quote[10..12],
        &[0, 0],
        "and lwIP's cleared header checksum"
    );
    let udp_checksum = if STOCK { [0, 0] } else { [sent[26], sent[27]] };
    assert_eq!(&quote[26..28], &udp_checksum, "the quoted UDP checksum");
    assert_filled(&stack, LEFT_SIDE, before, 0, "lwIP's own ICMP error");

    // A packet whose TTL runs out is not forwarded: lwIP clears nothing.
    let before = stack.interfaces()[LEFT_SIDE].counters();
    let mut sent = ipv4(
        LEFT,
        RIGHT,
        IpProtocol::Udp,
        May,
        &[],
        &udp(LEFT, RIGHT, b"ttl"),
    );
    sent[8] = 1;
    sent[10..12].copy_from_slice(&[0, 0]);
    let checksum = !sum(&sent[..20]);
    sent[10..12].copy_from_slice(&checksum.to_be_bytes());
    stack.inject(LEFT_SIDE, &from_left(&sent), false).unwrap();
    let error = ip_of(&left.take_sent().expect("time exceeded"), HOST_LEFT);
    assert_eq!((error[20], error[21]), (11, 0), "time exceeded");
    assert_eq!(right.take_sent(), None);
    assert_filled(&stack, LEFT_SIDE, before, 0, "TTL exceeded");
    stack.poll().unwrap();
}

/// Runs the test above in a `stock_lwip` build (in the tests' shared
/// build directory), where it checks what lwIP itself sends.
#[test]
fn the_stock_build_shows_what_lwip_itself_sends() {
    if STOCK {
        return;
    }
    let target = common::builds_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["test", "--features", "stock_lwip"])
        .args(["--test", "forwarding_in_process"])
        .arg("--target-dir")
        .arg(&target)
        .args([
            "--",
            "--exact",
            "forwarded_packets_leave_as_they_came_but_for_ttl_and_header_checksum",
        ])
        .env_remove("LWIP_SRC_DIR")
        .env_remove("LWIP_TAP_OPTS")
        .output()
        .expect("run cargo test --features stock_lwip");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the stock_lwip build of this test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
