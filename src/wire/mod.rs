//! Packets as typed, checked views over byte buffers: Ethernet, ARP, IPv4,
//! IPv6 (and the extension headers in front of a transport header), TCP
//! with its options, UDP, ICMP and ICMPv6 (with neighbor discovery), the
//! virtio-net header a TAP puts in front of every frame, and the Internet
//! checksum. Every parse of a packet in lwip-tap goes through here: the
//! merge stage, segmentation, checksum repair, `--ping`, lwip-drill and the
//! tests.
//!
//! Each view wraps a buffer (`T: AsRef<[u8]>`, and `AsMut<[u8]>` for the
//! setters), names its fields as byte ranges, and is made with
//! `new_checked`, which refuses a buffer too short for the header it claims,
//! so a getter never reads out of bounds; `new_unchecked` is for buffers the
//! caller has just built. A view checks its own header, not the whole
//! packet: a frame in lwIP's pbuf chain has its headers in the first
//! buffer and its payload spread over the others, and the IP views work on
//! that first buffer alone. [`builder`] makes whole packets, checksums
//! included.
//!
//! This is the design of smoltcp's `wire` module, written for lwip-tap's
//! needs (see ARCHITECTURE.md for why not smoltcp's or etherparse's):
//! header-only views, TCP options kept whole and in order (four SACK
//! blocks, unknown and malformed options shown as they are), and views that
//! write fields in place.

pub mod arp;
pub mod builder;
pub mod checksum;
pub mod dns;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;
mod vnet;

use std::fmt;

pub use ethernet::{format_mac, EtherType, EthernetFrame};
pub use vnet::VnetHeader;

/// What is wrong with a buffer a view was asked to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the header it holds (or claims to hold).
    Truncated,
    /// A field holds a value the header cannot have (a version, a length).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::Malformed => "malformed",
        })
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// An IP protocol number (IPv4's protocol field, IPv6's next header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    HopByHop,
    Icmp,
    Tcp,
    Udp,
    Routing,
    Fragment,
    Icmpv6,
    NoNextHeader,
    DestinationOptions,
    Other(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> IpProtocol {
        match value {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            43 => IpProtocol::Routing,
            44 => IpProtocol::Fragment,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::NoNextHeader,
            60 => IpProtocol::DestinationOptions,
            other => IpProtocol::Other(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> u8 {
        match value {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Routing => 43,
            IpProtocol::Fragment => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::NoNextHeader => 59,
            IpProtocol::DestinationOptions => 60,
            IpProtocol::Other(other) => other,
        }
    }
}

/// Reads the big-endian u16 at `at`; the caller has checked the length.
fn get_u16(buffer: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buffer[at], buffer[at + 1]])
}

fn get_u32(buffer: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]])
}

fn put_u16(buffer: &mut [u8], at: usize, value: u16) {
    buffer[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn put_u32(buffer: &mut [u8], at: usize, value: u32) {
    buffer[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// Where the headers of a TCP segment are in an Ethernet frame (no VLAN
/// tag), over IPv4 or over IPv6 without extension headers. The merge stage
/// and segmentation both find segments with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInFrame {
    pub ipv6: bool,
    /// The IP header's length (20 to 60 for IPv4, 40 for IPv6).
    pub ip_header_len: usize,
    /// Where the TCP header starts in the frame.
    pub tcp_start: usize,
    /// Ethernet, IP and TCP headers together: where the payload starts.
    pub headers_len: usize,
}

impl TcpInFrame {
    /// The TCP segment `frame` holds, if its headers are all in `frame`
    /// (the rest of the frame may be elsewhere: a pbuf chain's first
    /// buffer will do).
    pub fn locate(frame: &[u8]) -> Option<TcpInFrame> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        let (ipv6, ip_header_len) = match eth.ethertype() {
            EtherType::Ipv4 => {
                let ip = ipv4::Ipv4Header::new_checked(eth.payload()).ok()?;
                if ip.protocol() != IpProtocol::Tcp {
                    return None;
                }
                (false, ip.header_len())
            }
            EtherType::Ipv6 => {
                let ip = ipv6::Ipv6Header::new_checked(eth.payload()).ok()?;
                if ip.next_header() != IpProtocol::Tcp {
                    return None;
                }
                (true, ipv6::HEADER_LEN)
            }
            _ => return None,
        };
        let tcp_start = ethernet::HEADER_LEN + ip_header_len;
        let tcp = tcp::TcpHeader::new_checked(frame.get(tcp_start..)?).ok()?;
        Some(TcpInFrame {
            ipv6,
            ip_header_len,
            tcp_start,
            headers_len: tcp_start + tcp.header_len(),
        })
    }
}
