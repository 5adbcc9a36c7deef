//! lwIP in-process, on an in-process device (no TAP, no privileges): the
//! same receive and transmit path a TAP's frames take, and the one the fuzz
//! targets drive. One test per lwIP rule: lwIP is a process-wide singleton
//! and must stay on one thread, so this file has a single stack.

use std::net::Ipv4Addr;

use lwip_tap::config::{Addressing, Config, InterfaceConfig};
use lwip_tap::stack::Stack;
use lwip_tap::wire::arp::{self, ArpPacket};
use lwip_tap::wire::{builder, EtherType, EthernetFrame};

const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

fn arp_request() -> Vec<u8> {
    let request = builder::arp(
        arp::REQUEST,
        (HOST_MAC, Ipv4Addr::new(172, 16, 0, 1)),
        ([0; 6], Ipv4Addr::new(172, 16, 0, 2)),
    );
    builder::ethernet([0xff; 6], HOST_MAC, EtherType::Arp, &request)
}

#[test]
fn an_in_process_interface_answers_arp_and_survives_garbage() {
    let addressing = Addressing::Static {
        addr: Ipv4Addr::new(172, 16, 0, 2),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        gw: None,
    };
    let mut interface = InterfaceConfig::in_process("test0", LWIP_MAC, addressing);
    // Plain MTU-sized receive buffers: one pool pbuf per frame.
    interface.offload = Some(false);
    let config = Config {
        interfaces: vec![interface],
        ..Config::default()
    };
    let mut stack = Stack::new(&config).unwrap();
    // lwIP is a singleton: a second stack is refused, not a crash.
    let again = Stack::new(&config)
        .err()
        .expect("a second stack is refused");
    assert!(again.to_string().contains("already running"), "{again}");

    let port = stack.in_process_port(0).expect("an in-process interface");
    let counters = |stack: &Stack| stack.interfaces()[0].counters();
    while port.take_sent().is_some() {}
    let before = counters(&stack);
    stack.inject(0, &arp_request(), false).unwrap();
    let after = counters(&stack);
    assert_eq!(after.rx_frames, before.rx_frames + 1);
    assert_eq!(after.tx_frames, before.tx_frames + 1, "one frame out");
    let reply = port.take_sent().expect("an ARP reply");
    let frame = EthernetFrame::new_checked(&reply[..]).unwrap();
    assert_eq!(frame.dst(), HOST_MAC, "to the host");
    assert_eq!(frame.src(), LWIP_MAC, "from lwIP");
    assert_eq!(frame.ethertype(), EtherType::Arp);
    let arp = ArpPacket::new_checked(frame.payload()).unwrap();
    assert_eq!(arp.operation(), arp::REPLY);
    assert_eq!(
        arp.sender_ip(),
        Ipv4Addr::new(172, 16, 0, 2),
        "for lwIP's address"
    );

    // The same request cut short inside its ARP header (a TAP passes such
    // runts on) is padded with zeros to Ethernet's 60 bytes, as on a wire,
    // so it asks for 0.0.0.0 and gets no answer. lwIP itself would read the
    // missing bytes from beyond the frame: here the stale pool buffer that
    // held the full request, and answer it (cargo feature stock_lwip).
    let padded = counters(&stack).rx_padded;
    stack.inject(0, &arp_request()[..37], false).unwrap();
    assert_eq!(port.take_sent(), None, "no reply to a runt");
    assert_eq!(counters(&stack).rx_padded, padded + 1);

    // An ARP request for someone else gets no answer.
    let other = builder::arp(
        arp::REQUEST,
        (HOST_MAC, Ipv4Addr::new(172, 16, 0, 1)),
        ([0; 6], Ipv4Addr::new(172, 16, 0, 3)),
    );
    let other = builder::ethernet([0xff; 6], HOST_MAC, EtherType::Arp, &other);
    stack.inject(0, &other, false).unwrap();
    assert_eq!(counters(&stack).tx_frames, after.tx_frames);
    assert_eq!(port.take_sent(), None);

    // Garbage of every length is taken and dropped; frames longer than the
    // MTU plus an Ethernet header and a VLAN tag (1518 bytes) are counted.
    for len in 0..2000 {
        let frame: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        stack.inject(0, &frame, len % 2 == 0).unwrap();
    }
    stack.inject(0, &vec![0u8; 70_000], false).unwrap();
    assert_eq!(counters(&stack).rx_oversize, (1519..2000).len() as u64 + 1);
    stack.poll().unwrap();
}
