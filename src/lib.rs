//! lwip-tap: the lwIP TCP/IP stack in user space on Linux TAP devices, and
//! lwip-drill, which runs packetdrill scripts against it on a virtual clock.
//!
//! The layers, each using only those below it (ARCHITECTURE.md says
//! where each kind of change goes):
//! - [`stack`]: lwIP, its interfaces, the services and clients, and the
//!   one-thread event loop;
//! - [`netif`]: the driver between an interface's device and lwIP;
//! - `apps` (private): echo, chargen, HTTP, iperf, `--ping`,
//!   `--iperf-client`;
//! - [`device`]: the frame path every frame in or out of lwIP takes: a
//!   TAP or an in-process device, with merge, impairment and capture stages;
//! - [`config`]: what a stack is made of, as plain data with its rules,
//!   and the per-interface plan derived from it;
//! - [`wire`]: typed, checked views of the packets on the wire;
//! - `lwip` (private): the safe layer over lwIP, the only code that
//!   touches lwIP's memory; `sys` (private): bindgen's declarations.
//!
//! [`sandbox`] gives up root, capabilities and most system calls once the
//! stack is set up; [`signals`] stops it cleanly. The command line belongs
//! to the binaries (`src/bin/`), which only parse into a [`config::Config`].
//!
//! Unsafe code is fenced by the compiler: it is denied here and allowed
//! only in `sys`, `lwip`, the TAP device ([`device`]'s `tap`), [`sandbox`]
//! and [`signals`], where every block says why it is sound. No public safe
//! function can cause undefined behaviour.
//!
//! An in-process stack: a frame goes in, lwIP answers.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use lwip_tap::config::{Addressing, Config, InterfaceConfig};
//! use lwip_tap::stack::Stack;
//! use lwip_tap::wire::{arp, builder, EtherType, EthernetFrame};
//!
//! let (me, lwip_mac) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
//! let addressing = Addressing::Static {
//!     addr: Ipv4Addr::new(10, 0, 0, 2),
//!     netmask: Ipv4Addr::new(255, 255, 255, 0),
//!     gw: None,
//! };
//! let config = Config {
//!     interfaces: vec![InterfaceConfig::in_process("a", lwip_mac, addressing)],
//!     ..Config::default()
//! };
//! let mut stack = Stack::new(&config)?;
//! let port = stack.in_process_port(0).expect("an in-process interface");
//! while port.take_sent().is_some() {} // lwIP's own announcements
//!
//! // Who has 10.0.0.2?
//! let question = builder::arp(
//!     arp::REQUEST,
//!     (me, Ipv4Addr::new(10, 0, 0, 1)),
//!     ([0; 6], Ipv4Addr::new(10, 0, 0, 2)),
//! );
//! stack.inject(0, &builder::ethernet([0xff; 6], me, EtherType::Arp, &question), false)?;
//!
//! let answer = port.take_sent().expect("lwIP answers");
//! let frame = EthernetFrame::new_checked(&answer[..])?;
//! let reply = arp::ArpPacket::new_checked(frame.payload())?;
//! assert_eq!(reply.operation(), arp::REPLY);
//! assert_eq!(reply.sender_mac(), lwip_mac);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]

mod apps;
pub mod clock;
pub mod config;
pub mod device;
pub mod drill;
pub mod error;
#[allow(unsafe_code)]
pub(crate) mod lwip;
pub mod netif;
mod ready;
#[allow(unsafe_code)]
pub mod sandbox;
#[allow(unsafe_code)]
pub mod signals;
pub mod stack;
pub mod stats;
#[allow(unsafe_code)]
mod sys;
pub mod version;
pub mod wire;

pub use clock::Clock;
pub use error::Error;
pub use lwip::LwipError;
