//! TFTP packets into lwIP's TFTP server (`--tftp DIR --tftp-write`),
//! through the real receive path: each is wrapped in Ethernet, IPv4 and UDP
//! to port 69 and goes in through the in-process device, like a TAP's
//! frames; lwIP's answers come back through the transmit path.
//!
//! The input is a sequence of datagrams (udp_client.rs says how; the port
//! byte makes transfers from one client, or a second one interfering). The
//! directory served (a fresh one under the temporary
//! directory) holds a file of 1500 bytes and one of 1024 (a multiple of the
//! block size), and uploads may go into it.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use lwip_tap::config::{Config, TftpConfig};
use lwip_tap::stack::Stack;

mod frames;
mod udp_client;

thread_local! {
    static STACK: RefCell<Stack> = RefCell::new(new_stack());
}

fn new_stack() -> Stack {
    let dir = std::env::temp_dir().join(format!("lwip-tap-fuzz-tftp-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).expect("a scratch directory");
    std::fs::write(dir.join("a.bin"), vec![0xa5; 1500]).expect("a file");
    std::fs::write(dir.join("sub/b.bin"), vec![0x5a; 1024]).expect("a file");
    Stack::new(&Config {
        interfaces: vec![udp_client::interface()],
        tftp: Some(TftpConfig { dir, write: true }),
        ..Config::default()
    })
    .expect("lwIP starts")
}

fuzz_target!(|data: &[u8]| {
    let records = udp_client::records(data, 69);
    STACK.with(|stack| frames::drive(&mut stack.borrow_mut(), &records));
});
