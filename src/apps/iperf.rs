//! iperf2 server on TCP port 5001, over IPv4 and IPv6: lwIP's lwiperf, with
//! each finished test reported through the log.

use std::ffi::c_void;

use crate::error::Error;
use crate::netif::ip_addr_to_std;
use crate::sys;

/// iperf2's port.
pub(crate) const PORT: u16 = 5001;

pub(crate) fn start() -> Result<(), Error> {
    // lwiperf_start_tcp_server_default() listens on IPv4's any-address
    // only; the any-type address takes IPv6 clients too.
    // SAFETY: lwIP is running on this thread; ip_addr_any_type is lwIP's
    // constant any-type address.
    let session = unsafe {
        sys::lwiperf_start_tcp_server(
            &sys::ip_addr_any_type,
            PORT,
            Some(report),
            std::ptr::null_mut(),
        )
    };
    if session.is_null() {
        return Err(Error::Lwip("iperf: cannot listen on TCP port 5001".into()));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn report(
    _arg: *mut c_void,
    kind: sys::lwiperf_report_type,
    _local_addr: *const sys::ip_addr_t,
    _local_port: u16,
    remote_addr: *const sys::ip_addr_t,
    remote_port: u16,
    bytes: u32,
    ms: u32,
    kbit_per_s: u32,
) {
    let outcome = match kind {
        sys::LWIPERF_TCP_DONE_SERVER => "done",
        sys::LWIPERF_TCP_ABORTED_REMOTE => "aborted (connection reset)",
        sys::LWIPERF_TCP_ABORTED_LOCAL => "aborted locally",
        sys::LWIPERF_TCP_ABORTED_LOCAL_DATAERROR => "aborted: bad data",
        sys::LWIPERF_TCP_ABORTED_LOCAL_TXERROR => "aborted: send error",
        _ => "finished",
    };
    // SAFETY: lwiperf passes a valid address, or null once the connection
    // is gone (see lwip/lwiperf_glue.c).
    let peer = match unsafe { remote_addr.as_ref() } {
        Some(addr) => format!("{} port {remote_port}", ip_addr_to_std(addr)),
        None => "a client".to_string(),
    };
    // lwiperf counts in 32 bits: a test of more than 4 GiB wraps around.
    log::info!(
        "iperf: {peer}: {outcome}, {bytes} bytes in {}.{:03} s, {:.1} Mbit/s",
        ms / 1000,
        ms % 1000,
        f64::from(kbit_per_s) / 1000.0
    );
}
