//! A client beside lwIP on the in-process interface's link that sends it UDP
//! datagrams, for the targets whose input is a sequence of datagrams to one
//! of lwIP's services (snmp, tftp). The frames are built with lwip-tap's own
//! wire builders.
//!
//! The input is a sequence of records: one byte picking the client's port
//! (40000 + the byte), a 2-byte big-endian length, then the UDP payload.
//! The records come out as frames.rs reads them (control byte 0), after an
//! ARP reply from the client, so that lwIP sends its answers at once.

use std::net::{IpAddr, Ipv4Addr};

use lwip_tap::config::{Addressing, InterfaceConfig};
use lwip_tap::wire::builder::{self, IpFields};
use lwip_tap::wire::{arp, EtherType, IpProtocol};

pub const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const HOST: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 1);
pub const LWIP: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 2);

/// lwIP's one interface, at `LWIP`/24 with the client as its gateway.
pub fn interface() -> InterfaceConfig {
    let addressing = Addressing::Static {
        addr: LWIP,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: Some(HOST),
    };
    InterfaceConfig::in_process("fuzz0", LWIP_MAC, addressing)
}

/// The input's datagrams to lwIP's `port`, as frame records.
pub fn records(data: &[u8], port: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |frame: Vec<u8>| {
        out.push(0);
        out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        out.extend_from_slice(&frame);
    };
    let reply = builder::arp(arp::REPLY, (HOST_MAC, HOST), (LWIP_MAC, LWIP));
    push(builder::ethernet(
        LWIP_MAC,
        HOST_MAC,
        EtherType::Arp,
        &reply,
    ));
    let (host, lwip) = (IpAddr::V4(HOST), IpAddr::V4(LWIP));
    let mut fields = IpFields::new(host, lwip);
    fields.ident = 1;
    let mut rest = data;
    while rest.len() >= 3 {
        let client = 40000 + u16::from(rest[0]);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]))
            .min(rest.len() - 3)
            .min(1400);
        let (payload, tail) = rest[3..].split_at(len);
        rest = tail;
        let packet = builder::udp(host, lwip, client, port, payload)
            .and_then(|datagram| builder::ip(&fields, IpProtocol::Udp, &datagram))
            .expect("1400 bytes fit a packet");
        push(builder::ethernet(
            LWIP_MAC,
            HOST_MAC,
            EtherType::Ipv4,
            &packet,
        ));
    }
    out
}
