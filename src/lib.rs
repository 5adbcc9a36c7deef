//! lwip-tap: the lwIP TCP/IP stack in user space on Linux TAP devices.
//!
//! Layers, bottom up: `sys` (bindgen's lwIP declarations), `port` (the
//! services lwIP's port needs: clock, random, log), `tap` (the Linux
//! device), `netif` (the driver connecting a TAP to lwIP), `stack` (lwIP,
//! the interfaces and the event loop). `cli` parses the command line.

pub mod apps;
pub mod checksum;
pub mod cli;
pub mod dhcp;
pub mod error;
pub mod netif;
pub mod port;
pub mod signals;
pub mod stack;
pub mod stats;
pub mod sys;
pub mod tap;

pub use error::Error;
