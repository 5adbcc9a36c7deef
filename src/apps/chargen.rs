//! Character generator (RFC 864) on TCP port 19, over lwIP's raw TCP API.
//!
//! Every line is 72 printable ASCII characters plus CRLF; line n starts with
//! the (n mod 95)-th printable character. The 95 distinct lines form one
//! static pattern that is handed to lwIP without copying (its pbufs point
//! into it). The only per-connection state is the position in that pattern,
//! which lwIP's PCB holds: a client that vanishes leaves nothing behind when
//! lwIP frees its PCB.

use std::net::Ipv4Addr;

use crate::error::Error;
use crate::lwip::pbuf::Pbuf;
use crate::lwip::tcp::{Tcp, TcpHandler};

pub const PORT: u16 = 19;

const LINE_CHARS: usize = 72;
const LINE_BYTES: usize = LINE_CHARS + 2;
const PRINTABLE: usize = 95; // ' ' (32) to '~' (126)

static PATTERN: [u8; PRINTABLE * LINE_BYTES] = pattern();

const fn pattern() -> [u8; PRINTABLE * LINE_BYTES] {
    let mut out = [0u8; PRINTABLE * LINE_BYTES];
    let mut line = 0;
    while line < PRINTABLE {
        let mut k = 0;
        while k < LINE_CHARS {
            out[line * LINE_BYTES + k] = b' ' + ((line + k) % PRINTABLE) as u8;
            k += 1;
        }
        out[line * LINE_BYTES + LINE_CHARS] = b'\r';
        out[line * LINE_BYTES + LINE_CHARS + 1] = b'\n';
        line += 1;
    }
    out
}

pub(crate) fn start() -> Result<(), Error> {
    let listener = Tcp::new().map_err(|e| Error::lwip("chargen: no TCP PCB available", e))?;
    let fail = |what: &str, e| {
        let _ = listener.close();
        Error::lwip(format!("chargen: cannot {what} TCP port {PORT}"), e)
    };
    listener
        .bind(Ipv4Addr::UNSPECIFIED.into(), PORT)
        .map_err(|e| fail("bind", e))?;
    listener
        .listen(crate::lwip::tcp::DEFAULT_BACKLOG)
        .map_err(|e| fail("listen on", e))?;
    listener.set_handler(Listener);
    Ok(())
}

/// The listening PCB's events: every connection gets a [`Connection`].
struct Listener;

impl TcpHandler for Listener {
    fn accepted(&mut self, _listener: &Tcp, conn: Tcp) {
        if conn.set_poll_interval(2).is_err() {
            return;
        }
        let mut connection = Connection { pos: 0 };
        connection.fill(&conn);
        conn.set_handler(connection);
    }
}

/// One client: where it is in the pattern.
struct Connection {
    pos: usize,
}

impl Connection {
    /// Queues as much of the pattern as the send buffer takes.
    fn fill(&mut self, tcp: &Tcp) {
        loop {
            let room = tcp.sndbuf();
            let chunk = room
                .min(PATTERN.len() - self.pos)
                .min(usize::from(u16::MAX));
            if chunk == 0 {
                break;
            }
            // No copy: lwIP references the static pattern directly.
            if tcp
                .write_static(&PATTERN[self.pos..self.pos + chunk])
                .is_err()
            {
                break; // queue full; `sent` or `poll` continues
            }
            self.pos = (self.pos + chunk) % PATTERN.len();
        }
        let _ = tcp.output();
    }
}

impl TcpHandler for Connection {
    fn sent(&mut self, tcp: &Tcp, _len: u16) {
        self.fill(tcp);
    }

    fn poll(&mut self, tcp: &Tcp) {
        self.fill(tcp);
    }

    /// Data from the client is read and dropped; its FIN ends the connection.
    fn received(&mut self, tcp: &Tcp, data: Option<Pbuf>) {
        match data {
            Some(data) => tcp.recved(data.tot_len()),
            None => tcp.close_or_abort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_follows_rfc_864() {
        let first = &PATTERN[..LINE_BYTES];
        assert_eq!(&first[..10], b" !\"#$%&'()");
        assert_eq!(&first[72..], b"\r\n");
        let second = &PATTERN[LINE_BYTES..2 * LINE_BYTES];
        assert_eq!(&second[..3], b"!\"#");
        let last = &PATTERN[(PRINTABLE - 1) * LINE_BYTES..];
        assert_eq!(last[0], b'~');
        assert_eq!(last[1], b' ');
        assert!(PATTERN
            .chunks(LINE_BYTES)
            .all(|l| l[..72].iter().all(|c| (32..127).contains(c))));
    }
}
