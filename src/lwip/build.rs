//! What the lwIP compiled in says about itself (lwip/build_info.c).

use std::ffi::CStr;
use std::sync::Mutex;

use crate::sys;

/// The C side formats some of this into static buffers; one caller at a time.
static C_STRINGS: Mutex<()> = Mutex::new(());

fn c_string(f: unsafe extern "C" fn() -> *const libc::c_char) -> String {
    let _guard = C_STRINGS.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the functions return static NUL-terminated strings and need
    // no running lwIP; the lock serialises their static buffers.
    unsafe { CStr::from_ptr(f()) }
        .to_string_lossy()
        .into_owned()
}

/// LWIP_VERSION_STRING, e.g. `2.2.1d`.
pub(crate) fn version() -> String {
    c_string(sys::lwip_tap_lwip_version)
}

/// LWIP_VERSION_RC: 0 a development tree, 255 a release, else rcN.
pub(crate) fn version_rc() -> u8 {
    // SAFETY: returns a constant.
    unsafe { sys::lwip_tap_lwip_version_rc() }
}

/// lwIP's key options as compiled (`TCP_WND=262144 ...`).
pub(crate) fn options() -> String {
    c_string(sys::lwip_tap_lwip_options)
}

/// lwIP's apps compiled in, and those the lwIP tree built lacks.
pub(crate) fn apps() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut present = vec!["tcpecho_raw", "udpecho_raw", "httpd", "lwiperf"];
    let mut missing = Vec::new();
    for (name, there) in [
        ("tftp (server)", super::tftp::available()),
        ("mqtt (client)", super::mqtt::available()),
    ] {
        if there {
            present.push(name);
        } else {
            missing.push(name);
        }
    }
    (present, missing)
}
