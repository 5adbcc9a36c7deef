//! The built-in services, each switched on by a flag and listening on every
//! interface: echo (`-E`), chargen (`-C`), HTTP (`-H`) and iperf2 (`-s`).
//! Echo, HTTP and iperf are lwIP's own apps; chargen is ours, in Rust over
//! lwIP's raw TCP API.

mod chargen;
mod iperf;

use crate::error::Error;
use crate::sys;

pub use chargen::PORT as CHARGEN_PORT;

/// Which services to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Services {
    pub echo: bool,
    pub chargen: bool,
    pub http: bool,
    pub iperf: bool,
}

/// Starts the selected services. lwIP must be initialised.
pub fn enable(services: Services) -> Result<(), Error> {
    if services.echo {
        // SAFETY: lwIP is initialised and runs on this thread only.
        unsafe {
            sys::tcpecho_raw_init();
            sys::udpecho_raw_init();
        }
        log::info!("echo: TCP and UDP port 7");
    }
    if services.chargen {
        chargen::enable()?;
        log::info!("chargen: TCP port {}", chargen::PORT);
    }
    if services.http {
        // SAFETY: as above.
        unsafe { sys::httpd_init() };
        log::info!("http: TCP port 80");
    }
    if services.iperf {
        iperf::enable()?;
        log::info!("iperf: TCP port 5001 (iperf2 server)");
    }
    Ok(())
}
