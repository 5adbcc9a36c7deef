//! What this binary is made of, for `--version` and the first log line:
//! lwip-tap's version, the lwIP version compiled in (read from the lwIP
//! headers the build used, release-candidate/development flag included),
//! where lwIP's sources came from, the options file, lwIP's key options and
//! whether the debug feature is in.

use std::ffi::CStr;
use std::sync::Mutex;

use crate::sys;

/// Where build.rs found lwIP's sources.
const SOURCE: &str = env!("LWIP_TAP_LWIP_SOURCE");
/// The LWIP_TAP_OPTS file compiled in, or empty.
const OPTS_FILE: &str = env!("LWIP_TAP_OPTS_FILE");

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

/// lwIP's version string as its headers give it (e.g. `2.2.1d`), and what
/// its release flag means.
pub fn lwip_version() -> String {
    let version = c_string(sys::lwip_tap_lwip_version);
    // SAFETY: returns a constant.
    let rc = unsafe { sys::lwip_tap_lwip_version_rc() };
    let kind = match rc {
        255 => "release".to_string(),
        0 => "development: its init.h has LWIP_VERSION_RC = LWIP_RC_DEVELOPMENT".to_string(),
        n => format!("release candidate {n}"),
    };
    format!("{version} ({kind})")
}

/// lwIP's key options as compiled (`TCP_WND=262144 ...`).
pub fn lwip_options() -> String {
    c_string(sys::lwip_tap_lwip_options)
}

/// The multi-line text of `lwip-tap --version`.
pub fn text() -> String {
    let mut text = format!(
        "lwip-tap {}\nlwIP {}\nlwIP sources: {SOURCE}\n",
        env!("CARGO_PKG_VERSION"),
        lwip_version()
    );
    if SOURCE.starts_with("pinned") {
        text += "  (the pinned package carries the lwIP 2.2.1 release files, but its init.h \
                 marks them as a development version, so lwIP reports itself as such)\n";
    }
    let opts = if OPTS_FILE.is_empty() {
        "lwip/lwipopts.h".to_string()
    } else {
        format!("lwip/lwipopts.h, then LWIP_TAP_OPTS={OPTS_FILE}")
    };
    text += &format!("lwIP options: {opts}\n  {}\n", lwip_options());
    text += &format!(
        "debug feature: {}\n",
        if cfg!(feature = "debug") {
            "on (-d shows lwIP's debug output)"
        } else {
            "off"
        }
    );
    text
}

/// One line for the log at start.
pub fn summary() -> String {
    let opts = if OPTS_FILE.is_empty() {
        String::new()
    } else {
        format!(", options {OPTS_FILE}")
    };
    format!(
        "lwip-tap {} with lwIP {} from {SOURCE}{opts}{}",
        env!("CARGO_PKG_VERSION"),
        lwip_version(),
        if cfg!(feature = "debug") {
            ", debug build"
        } else {
            ""
        }
    )
}
