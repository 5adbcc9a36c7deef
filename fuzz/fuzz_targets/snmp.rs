//! SNMP requests into lwIP's SNMP agent (`--snmp public`, MIB-2), through
//! the real receive path: each is wrapped in Ethernet, IPv4 and UDP to port
//! 161 and goes in through the in-process device, like a TAP's frames;
//! lwIP's answers come back through the transmit path. An echo server runs
//! too (`-E`), so that the tcp and udp tables have rows to walk.
//!
//! The input is a sequence of datagrams (udp_client.rs says how).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use lwip_tap::config::{Config, Services};
use lwip_tap::stack::Stack;

mod frames;
mod udp_client;

thread_local! {
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
}

fn new_stack() -> Stack {
    Stack::new(&Config {
        interfaces: vec![udp_client::interface()],
        services: Services {
            echo: true,
            ..Services::default()
        },
        snmp: Some("public".to_string()),
        ..Config::default()
    })
    .expect("lwIP starts")
}

fuzz_target!(|data: &[u8]| {
    let records = udp_client::records(data, 161);
    STACK.with(|stack| frames::drive(&mut stack.borrow_mut(), &records));
});
