//! Whole frames, checksums included, from their fields: for the lwip-drill
//! runner, the tests and the examples, which hand lwIP frames they made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::arp::{self, ArpPacket};
use super::checksum;
use super::ethernet::{self, EtherType, EthernetFrame};
use super::icmp::{IcmpMessage, ND_OPT_SOURCE_LL, ND_OPT_TARGET_LL};
use super::ipv4::Ipv4Header;
use super::ipv6::{self, Ipv6Header};
use super::tcp::{self, TcpFlags, TcpHeader, TcpOption};
use super::udp::{self, UdpHeader};
use super::IpProtocol;

/// An Ethernet frame around `payload`.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0; ethernet::HEADER_LEN];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_dst(dst);
    eth.set_src(src);
    eth.set_ethertype(ethertype);
    frame.extend_from_slice(payload);
    frame
}

/// An ARP packet (Ethernet/IPv4).
pub fn arp(operation: u16, sender: ([u8; 6], Ipv4Addr), target: ([u8; 6], Ipv4Addr)) -> Vec<u8> {
    let mut packet = vec![0; arp::LEN];
    ArpPacket::new_unchecked(&mut packet[..]).fill(operation, sender, target);
    packet
}

/// The IP header fields a packet is sent with; what is not given takes the
/// usual value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFields {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4's TTL or IPv6's hop limit.
    pub ttl: u8,
    /// IPv4's type of service or IPv6's traffic class (ECN in the low bits).
    pub tos: u8,
    /// IPv6's flow label.
    pub flow_label: u32,
    /// IPv4's identification.
    pub ident: u16,
    /// IPv4's don't-fragment bit.
    pub dont_fragment: bool,
}

impl IpFields {
    /// TTL 64, no ToS, no flow label, ID 0, DF set.
    pub fn new(src: IpAddr, dst: IpAddr) -> IpFields {
        IpFields {
            src,
            dst,
            ttl: 64,
            tos: 0,
            flow_label: 0,
            ident: 0,
            dont_fragment: true,
        }
    }
}

/// An IPv4 or IPv6 packet (as `fields.src` is) carrying `payload` of
/// `protocol`. `None` if the addresses are of different families or the
/// payload is too long for one packet.
pub fn ip(fields: &IpFields, protocol: IpProtocol, payload: &[u8]) -> Option<Vec<u8>> {
    match (fields.src, fields.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let total = u16::try_from(20 + payload.len()).ok()?;
            let mut packet = vec![0; 20];
            let mut ip = Ipv4Header::new_unchecked(&mut packet[..]);
            ip.set_version_and_header_len(20);
            ip.set_tos(fields.tos);
            ip.set_total_len(total);
            ip.set_ident(fields.ident);
            ip.set_fragment(fields.dont_fragment, false, 0);
            ip.set_ttl(fields.ttl);
            ip.set_protocol(protocol);
            ip.set_src(src);
            ip.set_dst(dst);
            ip.fill_checksum();
            packet.extend_from_slice(payload);
            Some(packet)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let len = u16::try_from(payload.len()).ok()?;
            let mut packet = vec![0; ipv6::HEADER_LEN];
            let mut ip = Ipv6Header::new_unchecked(&mut packet[..]);
            ip.set_version_class_flow(fields.tos, fields.flow_label);
            ip.set_payload_len(len);
            ip.set_next_header(protocol);
            ip.set_hop_limit(fields.ttl);
            ip.set_src(src);
            ip.set_dst(dst);
            packet.extend_from_slice(payload);
            Some(packet)
        }
        _ => None,
    }
}

/// The fields of a TCP segment to build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    /// In order; padded with end-of-list to a multiple of 4 bytes.
    pub options: Vec<TcpOption<'a>>,
    pub payload: &'a [u8],
}

impl TcpSegment<'_> {
    /// The segment's bytes, with its checksum for `src` and `dst`. `None`
    /// if the options take more than 40 bytes.
    pub fn emit(&self, src: IpAddr, dst: IpAddr) -> Option<Vec<u8>> {
        let mut options = Vec::new();
        for option in &self.options {
            option.emit(&mut options);
        }
        while options.len() % 4 != 0 {
            options.push(tcp::kind::END);
        }
        let header_len = tcp::MIN_HEADER_LEN + options.len();
        if header_len > tcp::MAX_HEADER_LEN {
            return None;
        }
        let mut segment = vec![0; header_len];
        let mut header = TcpHeader::new_unchecked(&mut segment[..]);
        header.set_src_port(self.src_port);
        header.set_dst_port(self.dst_port);
        header.set_seq(self.seq);
        header.set_ack(self.ack);
        header.set_header_len(header_len);
        header.set_flags(self.flags);
        header.set_window(self.window);
        header.set_urgent(self.urgent);
        header.options_mut().copy_from_slice(&options);
        segment.extend_from_slice(self.payload);
        let value = checksum::transport(src, dst, IpProtocol::Tcp, &segment);
        TcpHeader::new_unchecked(&mut segment[..]).set_checksum(value);
        Some(segment)
    }
}

/// A UDP datagram, with its checksum for `src` and `dst`.
pub fn udp(
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let len = u16::try_from(udp::HEADER_LEN + payload.len()).ok()?;
    let mut datagram = vec![0; udp::HEADER_LEN];
    let mut header = UdpHeader::new_unchecked(&mut datagram[..]);
    header.set_src_port(src_port);
    header.set_dst_port(dst_port);
    header.set_len(len);
    datagram.extend_from_slice(payload);
    let value = checksum::transport(src, dst, IpProtocol::Udp, &datagram);
    UdpHeader::new_unchecked(&mut datagram[..]).set_checksum(value);
    Some(datagram)
}

/// An ICMP message (`src`/`dst` IPv4) or ICMPv6 message (IPv6: its
/// checksum covers the pseudo header) with its checksum.
pub fn icmp(src: IpAddr, dst: IpAddr, msg_type: u8, code: u8, rest: u32, data: &[u8]) -> Vec<u8> {
    let mut message = vec![0; super::icmp::HEADER_LEN];
    let mut icmp = IcmpMessage::new_unchecked(&mut message[..]);
    icmp.set_msg_type(msg_type);
    icmp.set_code(code);
    icmp.set_rest(rest);
    message.extend_from_slice(data);
    let value = match (src, dst) {
        (IpAddr::V6(_), IpAddr::V6(_)) => {
            checksum::transport(src, dst, IpProtocol::Icmpv6, &message)
        }
        _ => checksum::internet_checksum(&message),
    };
    IcmpMessage::new_unchecked(&mut message[..]).set_checksum(value);
    message
}

/// The body of a neighbor solicitation or advertisement for `target`
/// with a link-layer address option (source for a solicitation, target
/// for an advertisement); an advertisement's flags go in the message's
/// `rest` ([`NA_SOLICITED`], [`NA_OVERRIDE`]).
pub fn neighbor_message(target: Ipv6Addr, advertisement: bool, mac: [u8; 6]) -> Vec<u8> {
    let mut data = target.octets().to_vec();
    let option = if advertisement {
        ND_OPT_TARGET_LL
    } else {
        ND_OPT_SOURCE_LL
    };
    data.extend_from_slice(&[option, 1]);
    data.extend_from_slice(&mac);
    data
}

/// Neighbor advertisement flags (RFC 4861, 4.4): router, solicited,
/// override, in the message's first four bytes after the checksum.
pub const NA_SOLICITED: u32 = 0x4000_0000;
pub const NA_OVERRIDE: u32 = 0x2000_0000;
