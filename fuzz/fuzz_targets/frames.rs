//! How the fuzz targets turn bytes into frames, shared by both.
//!
//! The input is a sequence of records: one control byte (bit 0 picks the
//! interface, bit 1 marks the frame's checksums as trusted, as a TAP's
//! virtio-net header does with receive offload), a 2-byte big-endian length,
//! then the frame. So one input can carry a sequence (fragments, a TCP
//! handshake and its data, both directions of a forwarded flow). Each frame
//! goes through the in-process device, i.e. the receive path a TAP's frames
//! take, and what lwIP sends comes back through the transmit path.

use lwip_tap::stack::Stack;

pub fn drive(stack: &mut Stack, data: &[u8]) {
    let mut rest = data;
    while rest.len() >= 3 {
        let control = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let (frame, tail) = rest[3..].split_at(len);
        rest = tail;
        let n = usize::from(control & 1) % stack.interfaces().len();
        stack
            .inject(n, frame, control & 2 != 0)
            .expect("an in-process interface");
    }
    stack.poll().expect("in-process devices do not fail");
    for n in 0..stack.interfaces().len() {
        let port = stack.in_process_port(n).expect("in-process");
        while port.take_sent().is_some() {}
    }
}
