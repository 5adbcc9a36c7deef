//! lwIP in-process, with a detached interface (no TAP, no privileges): the
//! path the fuzz target drives. One test only: lwIP is a process-wide
//! singleton and must stay on one thread.

use std::net::Ipv4Addr;

use lwip_tap::cli::Addressing;
use lwip_tap::stack::Stack;

const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

fn arp_request() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[172, 16, 0, 1]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[172, 16, 0, 2]);
    f
}

#[test]
fn a_detached_interface_answers_arp_and_survives_garbage() {
    let mut stack = Stack::new().unwrap();
    let addressing = Addressing::Static {
        addr: Ipv4Addr::new(172, 16, 0, 2),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: None,
    };
    let interface = stack
        .add_detached_interface("test0", LWIP_MAC, 1500, addressing)
        .unwrap();
    let before = interface.counters();
    interface.inject(&arp_request());
    let after = interface.counters();
    assert_eq!(after.rx_frames, before.rx_frames + 1);
    assert_eq!(
        after.tx_frames,
        before.tx_frames + 1,
        "an ARP reply went out"
    );

    // An ARP request for someone else gets no answer.
    let mut other = arp_request();
    other[41] = 3;
    interface.inject(&other);
    assert_eq!(interface.counters().tx_frames, after.tx_frames);

    // Garbage of every length is taken and dropped.
    for len in 0..2000 {
        let frame: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        interface.inject(&frame);
    }
    interface.inject(&vec![0u8; 70_000]);
    assert_eq!(interface.counters().rx_oversize, 1);
    stack.check_timeouts();
}
