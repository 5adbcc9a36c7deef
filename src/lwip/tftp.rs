//! lwIP's TFTP server (lwip/tftp_glue.c): lwIP parses the packets, keeps
//! the one transfer it serves at a time, and calls back for its file; a
//! [`TftpFiles`] answers those calls. lwIP's pointers (names, buffers,
//! pbufs) become slices here.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::net::SocketAddr;

use super::addr::from_ip_addr;
use super::pbuf::PbufRef;
use super::LwipError;
use crate::sys;

/// What lwIP's TFTP server asks of the files it serves. lwIP serves one
/// transfer at a time: `open` starts it, `close` ends it (done or not).
pub(crate) trait TftpFiles {
    /// A read (`write` false) or write request for `name` in `mode`, from
    /// `peer`. Whether the file is open; lwIP refuses the request if not.
    fn open(&mut self, peer: Option<SocketAddr>, name: &[u8], mode: &[u8], write: bool) -> bool;
    /// The next bytes of the file read; `None` on an error.
    fn read(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// One block of the file written; false on an error.
    fn write(&mut self, data: PbufRef<'_>) -> bool;
    /// The transfer is over.
    fn close(&mut self);
    /// The client sent an ERROR packet (lwIP 2.2 only reports it).
    fn peer_error(&mut self, code: u16, message: &[u8]);
    /// lwIP sent an ERROR packet to `peer` (a refused request, say).
    fn sent_error(&mut self, peer: SocketAddr, code: u16, message: &[u8]);
}

thread_local! {
    static FILES: RefCell<Option<Box<dyn TftpFiles>>> = RefCell::new(None);
}

/// Whether the lwIP tree built has a TFTP server.
pub(crate) fn available() -> bool {
    // SAFETY: returns a constant.
    unsafe { sys::lwip_tap_tftp_available() != 0 }
}

static CALLBACKS: sys::lwip_tap_tftp_callbacks = sys::lwip_tap_tftp_callbacks {
    open: Some(on_open),
    close: Some(on_close),
    read: Some(on_read),
    write: Some(on_write),
    error: Some(on_error),
    sent_error: Some(on_sent_error),
};

/// Starts lwIP's TFTP server on UDP port 69 for the rest of the process,
/// with `files` answering its calls.
pub(crate) fn start(files: Box<dyn TftpFiles>) -> Result<(), LwipError> {
    FILES.with_borrow_mut(|slot| *slot = Some(files));
    // SAFETY: lwIP runs on this thread; CALLBACKS is static.
    let result = super::check(unsafe { sys::lwip_tap_tftp_start(&CALLBACKS) });
    if result.is_err() {
        FILES.with_borrow_mut(|slot| *slot = None);
    }
    result
}

/// Runs `f` on the files, unless they are busy (a call from inside one).
fn with_files<R>(f: impl FnOnce(&mut dyn TftpFiles) -> R) -> Option<R> {
    FILES.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        Some(f(slot.as_mut()?.as_mut()))
    })
}

/// lwIP only compares the handle with NULL: one transfer at a time.
const HANDLE: *mut c_void = std::ptr::NonNull::<c_void>::dangling().as_ptr();

fn peer() -> Option<SocketAddr> {
    let mut addr = sys::ip_addr_t::default();
    let mut port = 0;
    // SAFETY: both pointers are valid for the call.
    let inside = unsafe { sys::lwip_tap_tftp_peer(&mut addr, &mut port) } != 0;
    inside.then(|| SocketAddr::new(from_ip_addr(&addr), port))
}

unsafe extern "C" fn on_open(fname: *const c_char, mode: *const c_char, write: u8) -> *mut c_void {
    // SAFETY: lwIP passes two NUL-terminated strings of its stack.
    let (name, mode) = unsafe { (CStr::from_ptr(fname), CStr::from_ptr(mode)) };
    let peer = peer();
    let opened = with_files(|files| files.open(peer, name.to_bytes(), mode.to_bytes(), write != 0));
    if opened == Some(true) {
        HANDLE
    } else {
        std::ptr::null_mut()
    }
}

unsafe extern "C" fn on_close(_handle: *mut c_void) {
    with_files(|files| files.close());
}

unsafe extern "C" fn on_read(_handle: *mut c_void, buf: *mut c_void, bytes: c_int) -> c_int {
    let Ok(len) = usize::try_from(bytes) else {
        return -1;
    };
    // SAFETY: lwIP passes a buffer of `bytes` bytes it owns for the call.
    let buf = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    match with_files(|files| files.read(buf)) {
        Some(Some(n)) => c_int::try_from(n.min(len)).unwrap_or(-1),
        _ => -1,
    }
}

unsafe extern "C" fn on_write(_handle: *mut c_void, p: *mut sys::pbuf) -> c_int {
    // SAFETY: lwIP lends the packet's chain (its data) for the call.
    let Some(data) = (unsafe { PbufRef::from_raw(p) }) else {
        return -1;
    };
    match with_files(|files| files.write(data)) {
        Some(true) => 0,
        _ => -1,
    }
}

unsafe extern "C" fn on_error(_handle: *mut c_void, err: c_int, msg: *const c_char, size: c_int) {
    let len = usize::try_from(size).unwrap_or(0);
    let message: &[u8] = if msg.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: lwIP passes the packet's first buffer, `size` bytes.
        unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) }
    };
    // lwIP passes the code as it is on the wire (network order).
    let code = u16::from_be(err as u16);
    // The message ends at its NUL, if it has one.
    let message = message.split(|b| *b == 0).next().unwrap_or(&[]);
    with_files(|files| files.peer_error(code, message));
}

unsafe extern "C" fn on_sent_error(
    addr: *const sys::ip_addr_t,
    port: u16,
    code: u16,
    msg: *const c_char,
) {
    // SAFETY: the glue passes a valid address and a NUL-terminated message.
    let (addr, message) = unsafe { (&*addr, CStr::from_ptr(msg)) };
    let peer = SocketAddr::new(from_ip_addr(addr), port);
    with_files(|files| files.sent_error(peer, code, message.to_bytes()));
}
