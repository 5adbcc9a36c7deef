//! lwip-tap: the lwIP TCP/IP stack in user space on Linux TAP devices.
//!
//! Layers, bottom up:
//! - `sys` (private): bindgen's declarations of lwIP and of our C glue in
//!   `lwip/`, checked against the C at build time;
//! - `port` (private): the services lwIP's port needs (clock, random, log);
//! - [`device`]: the frame path, a TAP or an in-process device, with the
//!   capture and impairment stages an interface may ask for around it;
//! - `netif` ([`Interface`](netif::Interface)): the driver connecting a device
//!   to an lwIP netif;
//! - [`stack`]: lwIP, the interfaces, the services and the event loop;
//! - [`config`]: what a stack is made of, as plain data with its rules.
//!
//! [`sandbox`] gives up root, capabilities and most system calls once the
//! stack is set up.
//!
//! [`cli`] only parses the command line into a [`config::Config`].
//!
//! No public safe function can cause undefined behaviour: raw lwIP pointers
//! stay inside the crate.
//!
//! ```no_run
//! use std::net::Ipv4Addr;
//! use lwip_tap::config::{Addressing, Config, InterfaceConfig};
//! use lwip_tap::stack::Stack;
//!
//! let addressing = Addressing::Static {
//!     addr: Ipv4Addr::new(10, 0, 0, 2),
//!     netmask: Ipv4Addr::new(255, 255, 255, 0),
//!     gw: None,
//! };
//! let config = Config {
//!     interfaces: vec![InterfaceConfig::in_process("a", [2, 0, 0, 0, 0, 2], addressing)],
//!     ..Config::default()
//! };
//! let mut stack = Stack::new(&config)?;
//! stack.interfaces_mut()[0].inject(&[0u8; 60], false)?;
//! # Ok::<(), lwip_tap::Error>(())
//! ```

mod apps;
pub mod cli;
pub mod config;
pub mod device;
pub mod drill;
pub mod error;
pub mod netif;
mod port;
pub mod sandbox;
pub mod signals;
pub mod stack;
pub mod stats;
mod sys;
pub mod version;
pub mod wire;

pub use error::Error;
