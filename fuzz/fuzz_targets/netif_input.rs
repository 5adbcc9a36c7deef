//! Arbitrary frames into one lwIP interface, in-process, with every service
//! listening, like `lwip-tap -E -C -H -s` on a single TAP (receive offload
//! on, so frames of up to 64 KiB with trusted checksums are possible).
//! Frame format: see frames.rs.
#![no_main]

use std::cell::RefCell;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use lwip_tap::config::{Addressing, Config, InterfaceConfig, Services};
use lwip_tap::stack::Stack;

mod frames;

thread_local! {
    // lwIP is a process-wide singleton: one stack for the whole run.
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
}

fn new_stack() -> Stack {
    let addressing = Addressing::Static {
        addr: Ipv4Addr::new(172, 16, 0, 2),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: Some(Ipv4Addr::new(172, 16, 0, 1)),
    };
    Stack::new(&Config {
        interfaces: vec![InterfaceConfig::in_process(
            "fuzz0",
            [0x02, 0, 0, 0, 0, 0x02],
            addressing,
        )],
        services: Services {
            echo: true,
            chargen: true,
            http: true,
            iperf: true,
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
