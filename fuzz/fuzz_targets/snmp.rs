//! SNMP requests into lwIP's SNMP agent (`--snmp public`, MIB-2), through
//! the real receive path: each is wrapped in Ethernet, IPv4 and UDP to port
//! 161 and goes in through the in-process device, like a TAP's frames;
//! lwIP's answers come back through the transmit path. An echo server runs
//! too (`-E`), so that the tcp and udp tables have rows to walk.
//!
//! The input is a sequence of records: one byte picking the client's port
//! (40000 + the byte), a 2-byte big-endian length, then the UDP payload.
//! Every input starts with an ARP reply from the client, so that lwIP sends
//! its answers at once.
#![no_main]

use std::cell::RefCell;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use lwip_tap::config::{Addressing, Config, InterfaceConfig, Services};
use lwip_tap::stack::Stack;

mod frames;

const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const HOST: [u8; 4] = [172, 16, 0, 1];
const LWIP: [u8; 4] = [172, 16, 0, 2];

thread_local! {
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
}

fn new_stack() -> Stack {
    let addressing = Addressing::Static {
        addr: Ipv4Addr::from(LWIP),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: Some(Ipv4Addr::from(HOST)),
    };
    Stack::new(&Config {
        interfaces: vec![InterfaceConfig::in_process("fuzz0", LWIP_MAC, addressing)],
        services: Services {
            echo: true,
            ..Services::default()
        },
        snmp: Some("public".to_string()),
        ..Config::default()
    })
    .expect("lwIP starts")
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The frames of one input, as frames.rs reads them (control byte 0).
fn frames(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |frame: Vec<u8>| {
        out.push(0);
        out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        out.extend_from_slice(&frame);
    };
    let mut arp = [LWIP_MAC, HOST_MAC].concat();
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    arp.extend_from_slice(&HOST_MAC);
    arp.extend_from_slice(&HOST);
    arp.extend_from_slice(&LWIP_MAC);
    arp.extend_from_slice(&LWIP);
    push(arp);
    let mut rest = data;
    while rest.len() >= 3 {
        let port = 40000 + u16::from(rest[0]);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]))
            .min(rest.len() - 3)
            .min(1400);
        let (payload, tail) = rest[3..].split_at(len);
        rest = tail;
        let udp_len = (8 + payload.len()) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
        ip.extend_from_slice(&HOST);
        ip.extend_from_slice(&LWIP);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut frame = [LWIP_MAC, HOST_MAC].concat();
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&port.to_be_bytes());
        frame.extend_from_slice(&161u16.to_be_bytes());
        frame.extend_from_slice(&udp_len.to_be_bytes());
        // No UDP checksum (allowed over IPv4).
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(payload);
        push(frame);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let records = frames(data);
    STACK.with(|stack| frames::drive(&mut stack.borrow_mut(), &records));
});
