//! lwip-drill: running packetdrill scripts against lwIP, in process and on
//! a virtual clock. This module holds the script language ([`script`]); the
//! runner that drives lwIP with a parsed script builds on it.

pub mod script;
