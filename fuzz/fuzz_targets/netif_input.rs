//! Arbitrary bytes into lwIP's netif input path, in-process, no TAP.
//!
//! One stack lives for the whole fuzzing run (lwIP is a process-wide
//! singleton), with every service listening, like `lwip-tap -E -C -H -s`.
//! The input is split into frames by 2-byte length prefixes, so one input
//! can carry a sequence (fragments, a TCP handshake and its data, …).
#![no_main]

use std::cell::RefCell;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use lwip_tap::apps::{self, Services};
use lwip_tap::cli::Addressing;
use lwip_tap::stack::Stack;

thread_local! {
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
}

fn new_stack() -> Stack {
    let mut stack = Stack::new().expect("lwIP starts");
    let addressing = Addressing::Static {
        addr: Ipv4Addr::new(172, 16, 0, 2),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: Some(Ipv4Addr::new(172, 16, 0, 1)),
    };
    stack
        .add_detached_interface("fuzz0", [0x02, 0, 0, 0, 0, 0x02], 1500, addressing)
        .expect("interface");
    apps::enable(Services {
        echo: true,
        chargen: true,
        http: true,
        iperf: true,
    })
    .expect("services");
    stack
}

fuzz_target!(|data: &[u8]| {
    STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        let mut rest = data;
        while rest.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
            let (frame, tail) = rest[2..].split_at(len);
            stack.interfaces_mut()[0].inject(frame);
            rest = tail;
        }
        stack.check_timeouts();
    });
});
