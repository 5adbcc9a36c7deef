//! Character generator (RFC 864) on TCP port 19, over lwIP's raw TCP API.
//!
//! Every line is 72 printable ASCII characters plus CRLF; line n starts with
//! the (n mod 95)-th printable character. The 95 distinct lines form one
//! static pattern that is handed to lwIP without copying (its pbufs point
//! into it). The only per-connection state is the position in that pattern,
//! kept in the PCB's `arg` pointer, so a client that vanishes leaves nothing
//! behind when lwIP frees its PCB.

use std::ffi::c_void;
use std::ptr;

use crate::error::Error;
use crate::sys;

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
    // SAFETY: lwIP is running on this thread; the PCB is
    // checked at every step and the listening PCB lives for the process.
    unsafe {
        let pcb = sys::tcp_new_ip_type(sys::IPADDR_TYPE_ANY as u8);
        if pcb.is_null() {
            return Err(Error::Lwip("chargen: no TCP PCB available".into()));
        }
        if sys::tcp_bind(pcb, &sys::ip_addr_any_type, PORT) != sys::ERR_OK as sys::err_t {
            sys::tcp_close(pcb);
            return Err(Error::Lwip(format!("chargen: cannot bind TCP port {PORT}")));
        }
        let listener = sys::tcp_listen_with_backlog(pcb, sys::TCP_DEFAULT_LISTEN_BACKLOG as u8);
        if listener.is_null() {
            sys::tcp_close(pcb);
            return Err(Error::Lwip(format!(
                "chargen: cannot listen on TCP port {PORT}"
            )));
        }
        sys::tcp_accept(listener, Some(accepted));
    }
    Ok(())
}

unsafe extern "C" fn accepted(
    _arg: *mut c_void,
    pcb: *mut sys::tcp_pcb,
    err: sys::err_t,
) -> sys::err_t {
    if err != sys::ERR_OK as sys::err_t || pcb.is_null() {
        return sys::ERR_VAL as sys::err_t;
    }
    // SAFETY: lwIP hands us a fresh, live PCB.
    unsafe {
        sys::tcp_arg(pcb, ptr::null_mut());
        sys::tcp_recv(pcb, Some(received));
        sys::tcp_sent(pcb, Some(sent));
        sys::tcp_poll(pcb, Some(poll), 2);
        fill(pcb, 0);
    }
    sys::ERR_OK as sys::err_t
}

/// Queues as much of the pattern as the send buffer takes, from `pos` (the
/// connection's `arg`).
///
/// # Safety
/// `pcb` must be a live PCB set up by `accepted`.
unsafe fn fill(pcb: *mut sys::tcp_pcb, mut pos: usize) {
    // SAFETY: the caller guarantees `pcb` is live.
    unsafe {
        loop {
            let room = sys::lwip_tap_tcp_sndbuf(pcb) as usize;
            let chunk = room.min(PATTERN.len() - pos).min(usize::from(u16::MAX));
            if chunk == 0 {
                break;
            }
            // No copy flag: lwIP references the static pattern directly.
            let rc = sys::tcp_write(pcb, PATTERN.as_ptr().add(pos).cast(), chunk as u16, 0);
            if rc != sys::ERR_OK as sys::err_t {
                break; // queue full; `sent` or `poll` continues
            }
            pos = (pos + chunk) % PATTERN.len();
        }
        sys::tcp_arg(pcb, pos as *mut c_void);
        sys::tcp_output(pcb);
    }
}

unsafe extern "C" fn sent(arg: *mut c_void, pcb: *mut sys::tcp_pcb, _len: u16) -> sys::err_t {
    // SAFETY: lwIP calls this with our live PCB and its arg.
    unsafe { fill(pcb, arg as usize) };
    sys::ERR_OK as sys::err_t
}

unsafe extern "C" fn poll(arg: *mut c_void, pcb: *mut sys::tcp_pcb) -> sys::err_t {
    // SAFETY: lwIP calls this with our live PCB and its arg.
    unsafe { fill(pcb, arg as usize) };
    sys::ERR_OK as sys::err_t
}

/// Data from the client is read and dropped; its FIN ends the connection.
unsafe extern "C" fn received(
    _arg: *mut c_void,
    pcb: *mut sys::tcp_pcb,
    p: *mut sys::pbuf,
    _err: sys::err_t,
) -> sys::err_t {
    // SAFETY: lwIP calls this with our live PCB and a pbuf we now own.
    unsafe {
        if p.is_null() {
            if sys::tcp_close(pcb) != sys::ERR_OK as sys::err_t {
                sys::tcp_abort(pcb);
                return sys::ERR_ABRT as sys::err_t;
            }
            return sys::ERR_OK as sys::err_t;
        }
        sys::tcp_recved(pcb, (*p).tot_len);
        sys::pbuf_free(p);
    }
    sys::ERR_OK as sys::err_t
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
