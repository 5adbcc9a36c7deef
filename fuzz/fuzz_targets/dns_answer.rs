//! Arbitrary DNS answers to lwIP's DNS client, through the real receive
//! path: each input is the payload of a UDP datagram from the DNS server's
//! port 53 to the port of a query lwIP has pending, in a frame handed to
//! the in-process interface like a TAP's.
//!
//! Two queries are kept pending (`Stack::resolve`: an A query for
//! a.fuzz.example and an AAAA query for aaaa.fuzz.example, lwIP's cached
//! answers forgotten first); the input's first bit picks which one it
//! answers. lwIP picks each query's source port and ID at random, so they
//! are read from the query it sends, and the input's first two bytes are
//! replaced by that ID: the fuzzer controls the rest of the message
//! (flags, counts, question, answers), and the seeds in fuzz/run start it
//! from well-formed answers.
#![no_main]

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use lwip_tap::config::{Addressing, Config, InterfaceConfig};
use lwip_tap::stack::{DnsLookup, Stack};
use lwip_tap::wire::builder::{self, IpFields};
use lwip_tap::wire::ethernet::EthernetFrame;
use lwip_tap::wire::ipv4::Ipv4Header;
use lwip_tap::wire::udp::UdpHeader;
use lwip_tap::wire::{arp, EtherType, IpProtocol};

const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const LWIP: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 1);
const NAMES: [&str; 2] = ["a.fuzz.example", "aaaa.fuzz.example"];

struct Fuzz {
    stack: Stack,
    /// Each name's query: lwIP's lookup, its source port and ID.
    pending: [Option<(DnsLookup, u16, u16)>; 2],
}

thread_local! {
    static FUZZ: RefCell<Fuzz> = RefCell::new(Fuzz::new());
}

impl Fuzz {
    fn new() -> Fuzz {
        let addressing = Addressing::Static {
            addr: LWIP,
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gw: Some(SERVER),
        };
        let mut stack = Stack::new(&Config {
            interfaces: vec![InterfaceConfig::in_process("fuzz0", LWIP_MAC, addressing)],
            dns_servers: vec![IpAddr::from(SERVER)],
            ..Config::default()
        })
        .expect("lwIP starts");
        // The server asks for lwIP's MAC: lwIP learns the server's, so its
        // queries go out at once.
        let request = builder::arp(arp::REQUEST, (SERVER_MAC, SERVER), ([0; 6], LWIP));
        let frame = builder::ethernet(LWIP_MAC, SERVER_MAC, EtherType::Arp, &request);
        stack.inject(0, &frame, true).expect("inject");
        Fuzz {
            stack,
            pending: [None, None],
        }
    }

    /// Query `which` pending in lwIP (asked again if its last one ended):
    /// its source port and ID.
    fn pending(&mut self, which: usize) -> Option<(u16, u16)> {
        let done = match &self.pending[which] {
            Some((lookup, _, _)) => lookup.result().is_some(),
            None => true,
        };
        if done {
            self.pending[which] = None;
            self.drain();
            let lookup = self.stack.resolve(NAMES[which], which == 1, true).ok()?;
            let (port, id) = self.drain()?;
            self.pending[which] = Some((lookup, port, id));
        }
        self.pending[which]
            .as_ref()
            .map(|(_, port, id)| (*port, *id))
    }

    /// Takes every frame lwIP sent; the source port and ID of the last DNS
    /// query among them.
    fn drain(&mut self) -> Option<(u16, u16)> {
        let port = self.stack.in_process_port(0)?;
        let mut query = None;
        while let Some(frame) = port.take_sent() {
            query = dns_query(&frame).or(query);
        }
        query
    }
}

/// The source port and ID of a DNS query (IPv4, UDP to port 53) in `frame`.
fn dns_query(frame: &[u8]) -> Option<(u16, u16)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Header::new_checked(eth.payload()).ok()?;
    if ip.protocol() != IpProtocol::Udp {
        return None;
    }
    let udp = UdpHeader::new_checked(ip.payload()).ok()?;
    let id = udp.payload().get(..2)?;
    (udp.dst_port() == 53).then(|| (udp.src_port(), u16::from_be_bytes([id[0], id[1]])))
}

/// `payload` from the server's port 53 to lwIP's `port`, in Ethernet, IPv4
/// and UDP.
fn datagram(port: u16, payload: &[u8]) -> Vec<u8> {
    let (server, lwip) = (IpAddr::V4(SERVER), IpAddr::V4(LWIP));
    let mut fields = IpFields::new(server, lwip);
    fields.ident = 1;
    let packet = builder::udp(server, lwip, 53, port, payload)
        .and_then(|datagram| builder::ip(&fields, IpProtocol::Udp, &datagram))
        .expect("1400 bytes fit a packet");
    builder::ethernet(LWIP_MAC, SERVER_MAC, EtherType::Ipv4, &packet)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > 1400 {
        return;
    }
    FUZZ.with(|fuzz| {
        let mut fuzz = fuzz.borrow_mut();
        let which = usize::from(data[0] & 1);
        let Some((port, id)) = fuzz.pending(which) else {
            return;
        };
        let mut payload = data.to_vec();
        if payload.len() >= 2 {
            payload[..2].copy_from_slice(&id.to_be_bytes());
        }
        let _ = fuzz.stack.inject(0, &datagram(port, &payload), true);
        // lwIP's answers to what it got (an ICMP error, say) are dropped.
        fuzz.drain();
    });
});
