//! Arbitrary mDNS messages into lwIP's mDNS responder through the real
//! receive path: each input's first byte picks IPv4 (224.0.0.251) or IPv6
//! (ff02::fb) and whether it comes from port 5353 (a multicast query) or
//! another port (a legacy unicast query, answered directly); the rest is
//! the UDP payload, wrapped in Ethernet, IP and UDP headers (built by
//! lwip-tap's wire layer; checksums marked trusted, as receive offload
//! does) and handed to the in-process interface, like a frame a TAP
//! delivers. The responder runs as
//! `--mdns lwipbox` with HTTP announced; the virtual clock then moves on by
//! a second, so the answers the message provoked are built and sent, and
//! lwip-tap's own check of the message (src/wire/dns.rs) runs on it first.
#![no_main]

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use lwip_tap::clock::Clock;
use lwip_tap::config::{Addressing, Config, InterfaceConfig, Services};
use lwip_tap::stack::Stack;
use lwip_tap::wire::builder::{self, IpFields};
use lwip_tap::wire::{EtherType, IpProtocol};

const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

thread_local! {
    // lwIP is a process-wide singleton: one stack for the whole run.
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
    static NOW: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

fn new_stack() -> Stack {
    let addressing = Addressing::Static {
        addr: Ipv4Addr::new(172, 16, 0, 2),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: None,
    };
    let mut stack = Stack::new(&Config {
        interfaces: vec![InterfaceConfig::in_process("fuzz0", LWIP_MAC, addressing)],
        services: Services {
            http: true,
            ..Services::default()
        },
        mdns: Some("lwipbox".into()),
        clock: Clock::Virtual,
        ..Config::default()
    })
    .expect("lwIP starts");
    // Past probing and announcing, so that the responder answers.
    advance(&mut stack, Duration::from_secs(5));
    stack
}

fn advance(stack: &mut Stack, by: Duration) {
    let now = NOW.with(|n| {
        n.set(n.get() + by);
        n.get()
    });
    stack
        .advance_clock(now)
        .expect("in-process devices do not fail");
    let port = stack.in_process_port(0).expect("in-process");
    while port.take_sent().is_some() {}
}

/// The message as a frame to the mDNS group.
fn frame(control: u8, message: &[u8]) -> Vec<u8> {
    let ipv6 = control & 1 != 0;
    let sport: u16 = if control & 2 != 0 { 5353 } else { 40000 };
    let (src, dst, group_mac, ethertype) = if ipv6 {
        (
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb)),
            [0x33, 0x33, 0, 0, 0, 0xfb],
            EtherType::Ipv6,
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)),
            [0x01, 0x00, 0x5e, 0, 0, 0xfb],
            EtherType::Ipv4,
        )
    };
    let mut fields = IpFields::new(src, dst);
    fields.ttl = 255;
    fields.ident = 1;
    fields.dont_fragment = false;
    let packet = builder::udp(src, dst, sport, 5353, message)
        .and_then(|datagram| builder::ip(&fields, IpProtocol::Udp, &datagram))
        .expect("1400 bytes fit a packet");
    builder::ethernet(group_mac, HOST_MAC, ethertype, &packet)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, message)) = data.split_first() else {
        return;
    };
    // The largest UDP payload one frame carries at the default MTU.
    if message.len() > 1400 {
        return;
    }
    STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        stack
            .inject(0, &frame(control, message), true)
            .expect("an in-process interface");
        advance(&mut stack, Duration::from_secs(1));
    });
});
