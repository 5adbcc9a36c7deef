//! Arbitrary frames into a two-interface lwIP router, in-process: lwIP's
//! forwarding (ip4_forward, fragmentation to the other side's MTU) and,
//! on the transmit path, the driver filling in the header checksum
//! ip4_forward clears.
//! Interface 0 is 172.16.0.2/24 and 2001:db8:a::2/64 (MTU 1500), interface
//! 1 is 172.16.1.1/24 and 2001:db8:b::1/64 with a smaller MTU (576), so
//! forwarded IPv4 datagrams get fragmented and IPv6 ones answered with
//! Packet Too Big (ip6_forward); echo and HTTP listen on both. Frame
//! format: see frames.rs.
#![no_main]

use std::cell::RefCell;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use lwip_tap::config::{Addressing, Config, InterfaceConfig, Services};
use lwip_tap::stack::Stack;

mod frames;

thread_local! {
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
}

fn interface(name: &str, last: u8, addr: Ipv4Addr, addr6: &str, mtu: u32) -> InterfaceConfig {
    let mut config = InterfaceConfig::in_process(
        name,
        [0x02, 0, 0, 0, 0, last],
        Addressing::Static {
            addr,
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gw: None,
        },
    );
    config.mtu = Some(mtu);
    config.ipv6.addresses = vec![addr6.parse().expect("an IPv6 address")];
    config
}

fn new_stack() -> Stack {
    Stack::new(&Config {
        interfaces: vec![
            interface(
                "left",
                0x02,
                Ipv4Addr::new(172, 16, 0, 2),
                "2001:db8:a::2",
                1500,
            ),
            interface(
                "right",
                0x03,
                Ipv4Addr::new(172, 16, 1, 1),
                "2001:db8:b::1",
                576,
            ),
        ],
        services: Services {
            echo: true,
            http: true,
            ..Services::default()
        },
        // The rest as a stack starts by default (no clients, no debug
        // output, a random seed, the adaptive loop).
        ..Config::default()
    })
    .expect("lwIP starts")
}

fuzz_target!(|data: &[u8]| {
    STACK.with(|stack| frames::drive(&mut stack.borrow_mut(), data));
});
