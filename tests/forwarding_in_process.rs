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

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use lwip_tap::config::{Addressing, Config, InterfaceConfig};
use lwip_tap::netif::Counters;
use lwip_tap::stack::Stack;

const LWIP_LEFT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const LWIP_RIGHT: [u8; 6] = [0x02, 0, 0, 0, 1, 0x01];
const HOST_LEFT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x64];
const HOST_RIGHT: [u8; 6] = [0x02, 0, 0, 0, 1, 0x64];
const LEFT: [u8; 4] = [172, 16, 0, 100];
const RIGHT: [u8; 4] = [172, 16, 1, 100];
const RIGHT_MTU: usize = 576;
/// The interfaces' places in the stack.
const LEFT_SIDE: usize = 0;
const RIGHT_SIDE: usize = 1;

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
/// The flags and fragment offset field: don't fragment.
const DF: u16 = 0x4000;

const STOCK: bool = cfg!(feature = "stock_lwip");

/// The one's complement sum of `data` (big-endian words, an odd tail
/// padded with zero), folded to 16 bits.
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
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    frag: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let header_len = 20 + options.len();
    let total = (header_len + payload.len()) as u16;
    let mut p = vec![0x40 | (header_len / 4) as u8, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0xab, 0xcd]);
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(options);
    let checksum = !sum(&p);
    p[10..12].copy_from_slice(&checksum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A TCP or UDP header and data with the checksum over the pseudo header;
/// `header` has its checksum field zero.
fn transport(src: [u8; 4], dst: [u8; 4], proto: u8, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut segment = header.to_vec();
    segment.extend_from_slice(data);
    let mut pseudo = src.to_vec();
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&segment);
    let checksum = !sum(&pseudo);
    let at = if proto == UDP { 6 } else { 16 };
    segment[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
    segment
}

fn udp(src: [u8; 4], dst: [u8; 4], data: &[u8]) -> Vec<u8> {
    let len = (8 + data.len()) as u16;
    let mut header = vec![0x9c, 0x40, 0x23, 0x28];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0, 0]);
    transport(src, dst, UDP, &header, data)
}

fn tcp(src: [u8; 4], dst: [u8; 4], data: &[u8]) -> Vec<u8> {
    let header = [
        0x9c, 0x41, 0x1f, 0x90, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0x50, 0x18, 0x80, 0, 0, 0, 0, 0,
    ];
    transport(src, dst, TCP, &header, data)
}

fn icmp_echo(data: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    m.extend_from_slice(data);
    let checksum = !sum(&m);
    m[2..4].copy_from_slice(&checksum.to_be_bytes());
    m
}

fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Answers the ARP request lwIP sent on `interface` (the next frame it
/// sent there) as `mac`/`addr`.
fn answer_arp(stack: &mut Stack, side: usize, mac: [u8; 6], addr: [u8; 4]) {
    let port = stack.in_process_port(side).unwrap();
    let request = port.take_sent().expect("an ARP request");
    assert_eq!(&request[12..14], &[0x08, 0x06], "ARP");
    assert_eq!(&request[20..22], &[0, 1], "a request");
    assert_eq!(&request[38..42], &addr, "for {addr:?}");
    let lwip_mac: [u8; 6] = request[6..12].try_into().unwrap();
    let mut reply = vec![0, 1, 0x08, 0, 6, 4, 0, 2];
    reply.extend_from_slice(&mac);
    reply.extend_from_slice(&addr);
    reply.extend_from_slice(&request[22..32]);
    stack
        .inject(side, &ethernet(lwip_mac, mac, 0x0806, &reply), false)
        .unwrap();
}

/// The IPv4 packet in a frame lwIP sent to `mac`.
fn ip_of(frame: &[u8], mac: [u8; 6]) -> Vec<u8> {
    assert_eq!(&frame[..6], &mac, "to the next hop");
    assert_eq!(&frame[12..14], &[0x08, 0x00], "IPv4");
    let ip = &frame[14..];
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    ip[..total].to_vec()
}

fn header_len(ip: &[u8]) -> usize {
    usize::from(ip[0] & 0x0f) * 4
}

/// Where `ip4_forward` writes its zero into the transport checksum field.
fn transport_field(ip: &[u8]) -> usize {
    header_len(ip)
        + match ip[9] {
            ICMP => 2,
            TCP => 16,
            _ => 6,
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
            interface("left", LWIP_LEFT, Ipv4Addr::new(172, 16, 0, 1), None),
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
    let from_left = |ip: &[u8]| ethernet(LWIP_LEFT, HOST_LEFT, 0x0800, ip);

    // The first packet to the right host waits in lwIP's ARP queue until
    // the host answers; then it goes out.
    let before = stack.interfaces()[RIGHT_SIDE].counters();
    let sent = ipv4(LEFT, RIGHT, UDP, 0, &[], &udp(LEFT, RIGHT, &[0x5a; 100]));
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
            ipv4(LEFT, RIGHT, TCP, DF, &[], &tcp(LEFT, RIGHT, &data)),
        ),
        ("ICMP", ipv4(LEFT, RIGHT, ICMP, 0, &[], &icmp_echo(&data))),
        (
            "UDP with IP options",
            ipv4(LEFT, RIGHT, UDP, 0, &[1, 1, 1, 0], &udp(LEFT, RIGHT, &data)),
        ),
        ("a later fragment", ipv4(LEFT, RIGHT, UDP, 185, &[], &data)),
        (
            "a short packet with options",
            ipv4(LEFT, RIGHT, TCP, 0, &[1; 20], &data[..10]),
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
    let sent = ipv4(RIGHT, LEFT, TCP, DF, &[], &tcp(RIGHT, LEFT, &data));
    stack
        .inject(
            RIGHT_SIDE,
            &ethernet(LWIP_RIGHT, HOST_RIGHT, 0x0800, &sent),
            false,
        )
        .unwrap();
    answer_arp(&mut stack, LEFT_SIDE, HOST_LEFT, LEFT);
    let out = left.take_sent().expect("the queued segment");
    assert_forwarded(&ip_of(&out, HOST_LEFT), &sent, "TCP to the left");
    assert_filled(&stack, LEFT_SIDE, before, 1, "TCP to the left");

    // A datagram too big for the right side is cut into pieces of at most
    // 576 bytes, each with a header whose checksum ip4_frag computes (so
    // the driver fills in none), carrying the datagram's bytes: with lwIP's
    // cleared UDP checksum in a stock build.
    let before = stack.interfaces()[RIGHT_SIDE].counters();
    let data: Vec<u8> = (0..1372).map(|i| (i % 251 + 1) as u8).collect();
    let sent = ipv4(LEFT, RIGHT, UDP, 0, &[], &udp(LEFT, RIGHT, &data));
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
    assert_eq!(payload, expected, "the pieces carry the datagram");
    assert_filled(&stack, RIGHT_SIDE, before, 0, "a datagram cut in pieces");

    // With DF set, lwIP answers "fragmentation needed" instead, quoting the
    // header as it left it: TTL decremented, header checksum cleared (the
    // UDP checksum too, in a stock build).
    let before = stack.interfaces()[LEFT_SIDE].counters();
    let sent = ipv4(LEFT, RIGHT, UDP, DF, &[], &udp(LEFT, RIGHT, &data));
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
    let mut sent = ipv4(LEFT, RIGHT, UDP, 0, &[], &udp(LEFT, RIGHT, b"ttl"));
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

/// Runs the test above in a `stock_lwip` build (in a target directory of
/// its own), where it checks what lwIP itself sends.
#[test]
fn the_stock_build_shows_what_lwip_itself_sends() {
    if STOCK {
        return;
    }
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stock-lwip");
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
