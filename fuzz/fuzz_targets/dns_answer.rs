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

const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const LWIP: [u8; 4] = [172, 16, 0, 2];
const SERVER: [u8; 4] = [172, 16, 0, 1];
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
            addr: Ipv4Addr::from(LWIP),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gw: Some(Ipv4Addr::from(SERVER)),
        };
        let mut stack = Stack::new(&Config {
            interfaces: vec![InterfaceConfig::in_process("fuzz0", LWIP_MAC, addressing)],
            dns_servers: vec![IpAddr::from(SERVER)],
            ..Config::default()
        })
        .expect("lwIP starts");
        // The server asks for lwIP's MAC: lwIP learns the server's, so its
        // queries go out at once.
        let mut arp = ethernet(LWIP_MAC, 0x0806);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&SERVER_MAC);
        arp.extend_from_slice(&SERVER);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&LWIP);
        stack.inject(0, &arp, true).expect("inject");
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
            let udp = 14 + 20;
            if frame.len() >= udp + 8 + 12
                && frame[12..14] == [0x08, 0x00]
                && frame[14] == 0x45
                && frame[23] == 17
                && frame[udp + 2..udp + 4] == [0, 53]
            {
                let port = u16::from_be_bytes([frame[udp], frame[udp + 1]]);
                let id = u16::from_be_bytes([frame[udp + 8], frame[udp + 9]]);
                query = Some((port, id));
            }
        }
        query
    }
}

fn ethernet(dst: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut frame = dst.to_vec();
    frame.extend_from_slice(&SERVER_MAC);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

/// The Internet checksum of an IPv4 header.
fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet, IPv4 and UDP (no checksum) around `payload`.
fn datagram(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = ethernet(LWIP_MAC, 0x0800);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&SERVER);
    ip.extend_from_slice(&LWIP);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&53u16.to_be_bytes());
    frame.extend_from_slice(&port.to_be_bytes());
    frame.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(payload);
    frame
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
