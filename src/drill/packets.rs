//! Packets between a script and the stack under test: inbound packet lines
//! made into real IP packets, and the IP packets the stack sends read back
//! into the script's terms (relative sequence numbers, the script's
//! addresses), compared with the packet line the script expects, and shown
//! in packetdrill notation. Sequence numbers are relative the way
//! packetdrill makes them: each side's ISN is learned from its SYN (the
//! runner's own from the script, the stack's from the SYN or SYN-ACK it
//! sends) and what a line writes is the offset from it.

use std::net::{IpAddr, SocketAddr};

use super::script::{
    Direction, Echoed, Ecn, IcmpSpec, IpInfo, Packet, PacketBody, TcpFlags as ScriptFlags,
    TcpOption as ScriptOption, TcpOptions, TcpSpec,
};
use crate::wire::builder::{self, IpFields, TcpSegment};
use crate::wire::checksum;
use crate::wire::icmp::{v4, v6, IcmpMessage};
use crate::wire::ipv4::Ipv4Header;
use crate::wire::ipv6::{self, Ipv6Header};
use crate::wire::tcp::{SackBlocks, TcpFlags, TcpHeader, TcpOption};
use crate::wire::udp::UdpHeader;
use crate::wire::IpProtocol;

/// The runner's ISN for every connection it opens: the script's sequence
/// number 0 is this on the wire (packetdrill picks one at random; a fixed
/// one keeps runs identical).
pub(crate) const REMOTE_ISN: u32 = 1_000_000_007;

/// One connection (or UDP flow) between the stack and the script's remote
/// end, and how its numbers map between the wire and the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    pub udp: bool,
    /// The stack's end.
    pub local: SocketAddr,
    /// The script's (remote) end.
    pub remote: SocketAddr,
    /// Added to the script's numbers for the remote end's sequence space,
    /// once the script's first SYN on these ports fixed it (later SYNs, a
    /// new incarnation, count from the same 0); until then the script's 0
    /// is [`REMOTE_ISN`].
    pub remote_offset: Option<u32>,
    /// Added to the script's numbers for the stack's sequence space, once
    /// its SYN showed its ISN.
    pub local_offset: Option<u32>,
}

impl Flow {
    /// Added to the script's numbers for the remote end's sequence space.
    pub fn remote_offset(&self) -> u32 {
        self.remote_offset.unwrap_or(REMOTE_ISN)
    }
}

/// Why a packet did not match, and the packet as the stack sent it, in the
/// script's notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub what: String,
    pub actual: String,
}

/// A packet the stack sent, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ip: IpInfo,
    pub body: SentBody,
    /// What is wrong with it that no script line can express (a bad
    /// checksum).
    pub defect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SentBody {
    Tcp {
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        window: u16,
        urgent: u16,
        options: Result<Vec<OwnedOption>, String>,
        payload: Vec<u8>,
    },
    Udp {
        payload: usize,
    },
    Icmp {
        msg_type: u8,
        code: u8,
        rest: u32,
    },
    Other(u8),
}

/// A TCP option as the stack sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OwnedOption {
    Known(TcpOption<'static>),
    Other(u8, Vec<u8>),
}

/// Reads an IP packet the stack sent. `None` for what is not IPv4 or IPv6.
pub(crate) fn read_sent(packet: &[u8]) -> Option<Sent> {
    // A fragment (the stack fragmented a packet too big for the link) is
    // read as far as it goes, and never matches: no line can expect one.
    let mut fragment = None;
    let (src, dst, mut protocol, mut payload, ip, mut defect) = match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4Header::new_checked(packet).ok()?;
            if ip.is_fragment() {
                fragment = Some((ip.fragment_offset(), ip.more_fragments()));
            }
            let defect =
                (!ip.verify_checksum()).then(|| "a wrong IPv4 header checksum".to_string());
            let info = IpInfo {
                ecn: Some(ecn_of(ip.ecn())),
                tos: Some(ip.tos()),
                flow_label: None,
                ttl: Some(ip.ttl()),
            };
            let (src, dst, protocol) = (IpAddr::V4(ip.src()), IpAddr::V4(ip.dst()), ip.protocol());
            (src, dst, protocol, ip.into_payload(), info, defect)
        }
        6 => {
            let ip = Ipv6Header::new_checked(packet).ok()?;
            let (protocol, at) = ip.upper_layer().ok()?;
            let info = IpInfo {
                ecn: Some(ecn_of(ip.ecn())),
                tos: Some(ip.traffic_class()),
                flow_label: Some(ip.flow_label()),
                ttl: Some(ip.hop_limit()),
            };
            let (src, dst) = (IpAddr::V6(ip.src()), IpAddr::V6(ip.dst()));
            (src, dst, protocol, &ip.into_payload()[at..], info, None)
        }
        _ => return None,
    };
    if protocol == IpProtocol::Fragment {
        let header = ipv6::FragmentHeader::new_checked(payload).ok()?;
        fragment = Some((header.offset(), header.more_fragments()));
        protocol = header.next_header();
        payload = &payload[ipv6::FRAGMENT_HEADER_LEN..];
    }
    if let Some((offset, more)) = fragment {
        defect = Some(format!(
            "{} (offset {offset}, {}): the stack fragmented a packet too big for the link",
            if src.is_ipv6() {
                "an IPv6 fragment header"
            } else {
                "IPv4 fragment fields"
            },
            if more { "more to come" } else { "the last" }
        ));
        if offset != 0 {
            return Some(Sent {
                src: SocketAddr::new(src, 0),
                dst: SocketAddr::new(dst, 0),
                ip,
                body: SentBody::Other(u8::from(protocol)),
                defect,
            });
        }
    }
    let (sport, dport, body) = match protocol {
        IpProtocol::Tcp => {
            let tcp = TcpHeader::new_checked(payload).ok()?;
            if !checksum::transport_verifies(src, dst, IpProtocol::Tcp, payload) {
                defect.get_or_insert_with(|| "a wrong TCP checksum".into());
            }
            let options = tcp
                .option_iter()
                .map(|o| {
                    o.map(|o| match o {
                        TcpOption::Other { kind, data } => OwnedOption::Other(kind, data.to_vec()),
                        TcpOption::EndOfList => OwnedOption::Known(TcpOption::EndOfList),
                        TcpOption::Nop => OwnedOption::Known(TcpOption::Nop),
                        TcpOption::Mss(m) => OwnedOption::Known(TcpOption::Mss(m)),
                        TcpOption::WindowScale(w) => OwnedOption::Known(TcpOption::WindowScale(w)),
                        TcpOption::SackPermitted => OwnedOption::Known(TcpOption::SackPermitted),
                        TcpOption::Sack(b) => OwnedOption::Known(TcpOption::Sack(b)),
                        TcpOption::Timestamp { val, ecr } => {
                            OwnedOption::Known(TcpOption::Timestamp { val, ecr })
                        }
                    })
                    .map_err(|e| format!("malformed TCP options ({e})"))
                })
                .collect::<Result<Vec<_>, _>>();
            (
                tcp.src_port(),
                tcp.dst_port(),
                SentBody::Tcp {
                    flags: tcp.flags(),
                    seq: tcp.seq(),
                    ack: tcp.ack(),
                    window: tcp.window(),
                    urgent: tcp.urgent(),
                    options,
                    payload: tcp.payload().to_vec(),
                },
            )
        }
        IpProtocol::Udp => {
            let udp = UdpHeader::new_checked(payload).ok()?;
            if udp.checksum() != 0
                && !checksum::transport_verifies(src, dst, IpProtocol::Udp, payload)
            {
                defect.get_or_insert_with(|| "a wrong UDP checksum".into());
            }
            (
                udp.src_port(),
                udp.dst_port(),
                SentBody::Udp {
                    payload: udp.payload().len(),
                },
            )
        }
        IpProtocol::Icmp | IpProtocol::Icmpv6 => {
            let icmp = IcmpMessage::new_checked(payload).ok()?;
            (
                0,
                0,
                SentBody::Icmp {
                    msg_type: icmp.msg_type(),
                    code: icmp.code(),
                    rest: icmp.rest(),
                },
            )
        }
        other => (0, 0, SentBody::Other(u8::from(other))),
    };
    Some(Sent {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        ip,
        body,
        defect,
    })
}

fn ecn_of(bits: u8) -> Ecn {
    match bits & 3 {
        0 => Ecn::NoEcn,
        1 => Ecn::Ect1,
        2 => Ecn::Ect0,
        _ => Ecn::Ce,
    }
}

fn ecn_bits(ecn: Ecn) -> u8 {
    match ecn {
        Ecn::NoEcn => 0,
        Ecn::Ect1 => 1,
        Ecn::Ect0 | Ecn::Ect01 => 2,
        Ecn::Ce => 3,
    }
}

fn wire_flags(flags: &ScriptFlags) -> TcpFlags {
    let mut f = TcpFlags::default();
    for (on, bit) in [
        (flags.fin, TcpFlags::FIN),
        (flags.syn, TcpFlags::SYN),
        (flags.rst, TcpFlags::RST),
        (flags.psh, TcpFlags::PSH),
        (flags.ack, TcpFlags::ACK),
        (flags.urg, TcpFlags::URG),
        (flags.ece, TcpFlags::ECE),
        (flags.cwr, TcpFlags::CWR),
    ] {
        if on {
            f = f | bit;
        }
    }
    f
}

fn script_flags(flags: TcpFlags) -> ScriptFlags {
    ScriptFlags {
        syn: flags.contains(TcpFlags::SYN),
        fin: flags.contains(TcpFlags::FIN),
        rst: flags.contains(TcpFlags::RST),
        psh: flags.contains(TcpFlags::PSH),
        ack: flags.contains(TcpFlags::ACK),
        ece: flags.contains(TcpFlags::ECE),
        cwr: flags.contains(TcpFlags::CWR),
        urg: flags.contains(TcpFlags::URG),
        ae: false,
    }
}

/// The IP fields of an inbound packet line.
fn ip_fields(info: &IpInfo, src: IpAddr, dst: IpAddr) -> IpFields {
    let mut fields = IpFields::new(src, dst);
    fields.dont_fragment = false;
    if let Some(ttl) = info.ttl {
        fields.ttl = ttl;
    }
    if let Some(tos) = info.tos {
        fields.tos = tos;
    }
    if let Some(ecn) = info.ecn {
        fields.tos = (fields.tos & !3) | ecn_bits(ecn);
    }
    if let Some(label) = info.flow_label {
        fields.flow_label = label;
    }
    fields
}

/// What an inbound line cannot become: why.
pub(crate) type BuildError = String;

/// The IP packet for an inbound TCP line on `flow`.
pub(crate) fn build_tcp(flow: &Flow, ip: &IpInfo, tcp: &TcpSpec) -> Result<Vec<u8>, BuildError> {
    let window = tcp
        .win
        .ok_or("window must be specified for inbound packets (win N)")? as u16;
    let local_offset = flow.local_offset.unwrap_or(0);
    let mut options = Vec::new();
    let mut raw = Vec::new();
    match &tcp.options {
        TcpOptions::NotWritten => {}
        TcpOptions::Any => return Err("<...> is for outbound packets".into()),
        TcpOptions::List(list) => {
            for option in list {
                options.push(match option {
                    ScriptOption::Nop => TcpOption::Nop,
                    ScriptOption::Eol => TcpOption::EndOfList,
                    ScriptOption::Mss(m) => TcpOption::Mss(*m),
                    ScriptOption::WScale(w) => TcpOption::WindowScale(*w),
                    ScriptOption::SackOk => TcpOption::SackPermitted,
                    ScriptOption::Sack(blocks) => {
                        let shifted: Vec<(u32, u32)> = blocks
                            .iter()
                            .map(|(l, r)| {
                                (l.wrapping_add(local_offset), r.wrapping_add(local_offset))
                            })
                            .collect();
                        TcpOption::Sack(SackBlocks::new(&shifted).ok_or("more than 4 SACK blocks")?)
                    }
                    ScriptOption::Timestamp { val, ecr } => TcpOption::Timestamp {
                        val: *val,
                        ecr: *ecr,
                    },
                    ScriptOption::Md5(digest) => {
                        raw.push((19u8, digest.clone()));
                        continue;
                    }
                    ScriptOption::FastOpen(cookie) => {
                        raw.push((34u8, cookie.clone()));
                        continue;
                    }
                    ScriptOption::FastOpenExp(cookie) => {
                        let mut data = vec![0xf9, 0x89];
                        data.extend_from_slice(cookie);
                        raw.push((254u8, data));
                        continue;
                    }
                    ScriptOption::Unsupported(text) => {
                        return Err(format!("unsupported TCP option {text}"))
                    }
                });
            }
        }
    }
    // Options of other kinds keep their place after the known ones (a
    // script that mixes them is rare; their bytes are what matters).
    for (kind, data) in &raw {
        options.push(TcpOption::Other { kind: *kind, data });
    }
    let payload = vec![0u8; tcp.len as usize];
    let seq = tcp.start.wrapping_add(flow.remote_offset());
    let segment = TcpSegment {
        src_port: flow.remote.port(),
        dst_port: flow.local.port(),
        seq,
        ack: if tcp.flags.ack {
            tcp.ack.unwrap_or(0).wrapping_add(local_offset)
        } else {
            tcp.ack.unwrap_or(0)
        },
        flags: wire_flags(&tcp.flags),
        window,
        urgent: tcp.urg.unwrap_or(0) as u16,
        options,
        payload: &payload,
    };
    let bytes = segment
        .emit(flow.remote.ip(), flow.local.ip())
        .ok_or("the TCP options take more than 40 bytes")?;
    builder::ip(
        &ip_fields(ip, flow.remote.ip(), flow.local.ip()),
        IpProtocol::Tcp,
        &bytes,
    )
    .ok_or_else(|| "the packet is too long".to_string())
}

/// The IP packet for an inbound UDP line on `flow`.
pub(crate) fn build_udp(flow: &Flow, ip: &IpInfo, len: u32) -> Result<Vec<u8>, BuildError> {
    let payload = vec![0u8; len as usize];
    let datagram = builder::udp(
        flow.remote.ip(),
        flow.local.ip(),
        flow.remote.port(),
        flow.local.port(),
        &payload,
    )
    .ok_or("the datagram is too long")?;
    builder::ip(
        &ip_fields(ip, flow.remote.ip(), flow.local.ip()),
        IpProtocol::Udp,
        &datagram,
    )
    .ok_or_else(|| "the packet is too long".to_string())
}

/// ICMP and ICMPv6 type and code for packetdrill's names.
fn icmp_numbers(spec: &IcmpSpec, ipv6: bool) -> Result<(u8, u8), BuildError> {
    let code_name = spec.code.as_deref().unwrap_or("");
    let (kind, code) = if ipv6 {
        match spec.kind.as_str() {
            "unreachable" | "dest_unreachable" => (
                v6::DEST_UNREACHABLE,
                match code_name {
                    "" | "no_route" | "net_unreachable" => v6::NO_ROUTE,
                    "admin_prohibited" => v6::ADMIN_PROHIBITED,
                    "address_unreachable" | "host_unreachable" => v6::ADDRESS_UNREACHABLE,
                    "port_unreachable" => v6::PORT_UNREACHABLE,
                    other => return Err(format!("unknown ICMPv6 code {other}")),
                },
            ),
            "packet_too_big" => (v6::PACKET_TOO_BIG, 0),
            "time_exceeded" => (v6::TIME_EXCEEDED, 0),
            "parameter_problem" => (v6::PARAMETER_PROBLEM, 0),
            "echo_request" => (v6::ECHO_REQUEST, 0),
            "echo_reply" => (v6::ECHO_REPLY, 0),
            other => return Err(format!("unknown ICMPv6 type {other}")),
        }
    } else {
        match spec.kind.as_str() {
            "unreachable" | "dest_unreachable" => (
                v4::DEST_UNREACHABLE,
                match code_name {
                    "" | "net_unreachable" => v4::NET_UNREACHABLE,
                    "host_unreachable" => v4::HOST_UNREACHABLE,
                    "protocol_unreachable" => v4::PROTOCOL_UNREACHABLE,
                    "port_unreachable" => v4::PORT_UNREACHABLE,
                    "frag_needed" => v4::FRAGMENTATION_NEEDED,
                    other => return Err(format!("unknown ICMP code {other}")),
                },
            ),
            "time_exceeded" => (v4::TIME_EXCEEDED, 0),
            "parameter_problem" => (v4::PARAMETER_PROBLEM, 0),
            "echo_request" => (v4::ECHO_REQUEST, 0),
            "echo_reply" => (v4::ECHO_REPLY, 0),
            other => return Err(format!("unknown ICMP type {other}")),
        }
    };
    Ok((kind, code))
}

/// The IP packet for an inbound ICMP line about `flow`: an error quotes
/// the flow's packet (its IP header and the first 8 bytes after it).
pub(crate) fn build_icmp(flow: &Flow, ip: &IpInfo, spec: &IcmpSpec) -> Result<Vec<u8>, BuildError> {
    let ipv6 = flow.local.is_ipv6();
    let (kind, code) = icmp_numbers(spec, ipv6)?;
    let mut rest = spec.id.unwrap_or(0) << 16;
    if let Some(mtu) = spec.mtu {
        rest = if ipv6 { mtu } else { mtu & 0xffff };
    }
    let quoted = match spec.echoed {
        None => Vec::new(),
        Some(echoed) => {
            let (protocol, inner) = match echoed {
                Echoed::Tcp { start, len, .. } => {
                    let payload = vec![0u8; len as usize];
                    let segment = TcpSegment {
                        src_port: flow.local.port(),
                        dst_port: flow.remote.port(),
                        seq: start.wrapping_add(flow.local_offset.unwrap_or(0)),
                        flags: TcpFlags::ACK,
                        window: 0,
                        payload: &payload,
                        ..TcpSegment::default()
                    };
                    let bytes = segment
                        .emit(flow.local.ip(), flow.remote.ip())
                        .unwrap_or_default();
                    (IpProtocol::Tcp, bytes)
                }
                Echoed::Udp { len } => {
                    let payload = vec![0u8; len as usize];
                    let bytes = builder::udp(
                        flow.local.ip(),
                        flow.remote.ip(),
                        flow.local.port(),
                        flow.remote.port(),
                        &payload,
                    )
                    .unwrap_or_default();
                    (IpProtocol::Udp, bytes)
                }
                Echoed::Raw { len } => (IpProtocol::Other(255), vec![0u8; len as usize]),
            };
            let packet = builder::ip(
                &IpFields::new(flow.local.ip(), flow.remote.ip()),
                protocol,
                &inner,
            )
            .ok_or("the quoted packet is too long")?;
            let header = if ipv6 { 40 } else { 20 };
            packet[..(header + 8).min(packet.len())].to_vec()
        }
    };
    let message = builder::icmp(flow.remote.ip(), flow.local.ip(), kind, code, rest, &quoted);
    let protocol = if ipv6 {
        IpProtocol::Icmpv6
    } else {
        IpProtocol::Icmp
    };
    builder::ip(
        &ip_fields(ip, flow.remote.ip(), flow.local.ip()),
        protocol,
        &message,
    )
    .ok_or_else(|| "the packet is too long".to_string())
}

/// `sent` as a packet line of the script, its numbers relative to `flow`.
pub(crate) fn as_script_packet(sent: &Sent, flow: &Flow) -> Packet {
    let remote_offset = flow.remote_offset();
    let local_offset = flow.local_offset.unwrap_or(0);
    let body = match &sent.body {
        SentBody::Tcp {
            flags,
            seq,
            ack,
            window,
            urgent,
            options,
            payload,
        } => {
            let start = seq.wrapping_sub(local_offset);
            let len = payload.len() as u32;
            let options = match options {
                Ok(list) if list.is_empty() => TcpOptions::NotWritten,
                Ok(list) => TcpOptions::List(
                    list.iter()
                        .map(|o| script_option(o, remote_offset))
                        .collect(),
                ),
                Err(_) => TcpOptions::Any,
            };
            PacketBody::Tcp(TcpSpec {
                flags: script_flags(*flags),
                start,
                end: start.wrapping_add(len),
                len,
                ack: flags
                    .contains(TcpFlags::ACK)
                    .then(|| ack.wrapping_sub(remote_offset)),
                win: Some(u32::from(*window)),
                urg: flags.contains(TcpFlags::URG).then_some(u32::from(*urgent)),
                options,
            })
        }
        SentBody::Udp { payload } => PacketBody::Udp {
            len: *payload as u32,
        },
        SentBody::Icmp {
            msg_type,
            code,
            rest,
        } => PacketBody::Icmp(icmp_spec(*msg_type, *code, *rest, sent.src.is_ipv6())),
        SentBody::Other(protocol) => PacketBody::Icmp(IcmpSpec {
            kind: format!("protocol_{protocol}"),
            code: None,
            mtu: None,
            id: None,
            echoed: None,
        }),
    };
    Packet {
        direction: Direction::Outbound,
        outer: Vec::new(),
        ip: IpInfo::default(),
        ports: None,
        body,
    }
}

fn script_option(option: &OwnedOption, remote_offset: u32) -> ScriptOption {
    match option {
        OwnedOption::Known(TcpOption::EndOfList) => ScriptOption::Eol,
        OwnedOption::Known(TcpOption::Nop) => ScriptOption::Nop,
        OwnedOption::Known(TcpOption::Mss(m)) => ScriptOption::Mss(*m),
        OwnedOption::Known(TcpOption::WindowScale(w)) => ScriptOption::WScale(*w),
        OwnedOption::Known(TcpOption::SackPermitted) => ScriptOption::SackOk,
        OwnedOption::Known(TcpOption::Sack(blocks)) => ScriptOption::Sack(
            blocks
                .as_slice()
                .iter()
                .map(|(l, r)| (l.wrapping_sub(remote_offset), r.wrapping_sub(remote_offset)))
                .collect(),
        ),
        OwnedOption::Known(TcpOption::Timestamp { val, ecr }) => ScriptOption::Timestamp {
            val: *val,
            ecr: *ecr,
        },
        OwnedOption::Known(TcpOption::Other { kind, .. }) | OwnedOption::Other(kind, _) => {
            ScriptOption::Unsupported(format!("kind {kind}"))
        }
    }
}

fn icmp_spec(msg_type: u8, code: u8, rest: u32, ipv6: bool) -> IcmpSpec {
    let (kind, code, mtu) = if ipv6 {
        match (msg_type, code) {
            (v6::DEST_UNREACHABLE, c) => (
                "unreachable",
                Some(match c {
                    v6::NO_ROUTE => "no_route".to_string(),
                    v6::ADMIN_PROHIBITED => "admin_prohibited".into(),
                    v6::ADDRESS_UNREACHABLE => "address_unreachable".into(),
                    v6::PORT_UNREACHABLE => "port_unreachable".into(),
                    c => format!("code_{c}"),
                }),
                None,
            ),
            (v6::PACKET_TOO_BIG, _) => ("packet_too_big", None, Some(rest)),
            (v6::TIME_EXCEEDED, _) => ("time_exceeded", None, None),
            (v6::ECHO_REQUEST, _) => ("echo_request", None, None),
            (v6::ECHO_REPLY, _) => ("echo_reply", None, None),
            _ => ("type", Some(format!("{msg_type}_code_{code}")), None),
        }
    } else {
        match (msg_type, code) {
            (v4::DEST_UNREACHABLE, c) => (
                "unreachable",
                Some(match c {
                    v4::NET_UNREACHABLE => "net_unreachable".to_string(),
                    v4::HOST_UNREACHABLE => "host_unreachable".into(),
                    v4::PROTOCOL_UNREACHABLE => "protocol_unreachable".into(),
                    v4::PORT_UNREACHABLE => "port_unreachable".into(),
                    v4::FRAGMENTATION_NEEDED => "frag_needed".into(),
                    c => format!("code_{c}"),
                }),
                (c == v4::FRAGMENTATION_NEEDED).then_some(rest & 0xffff),
            ),
            (v4::TIME_EXCEEDED, _) => ("time_exceeded", None, None),
            (v4::ECHO_REQUEST, _) => ("echo_request", None, None),
            (v4::ECHO_REPLY, _) => ("echo_reply", None, None),
            _ => ("type", Some(format!("{msg_type}_code_{code}")), None),
        }
    };
    IcmpSpec {
        kind: kind.to_string(),
        code,
        mtu,
        id: None,
        echoed: None,
    }
}

/// Compares what the stack sent with the packet line expected: every field
/// the line writes must match; what it does not write is not checked,
/// but for TCP options, which a line without `<...>` says are none.
pub(crate) fn check(sent: &Sent, flow: &Flow, expected: &Packet) -> Result<(), Mismatch> {
    let actual = as_script_packet(sent, flow);
    let mismatch = |what: String| Mismatch {
        what,
        actual: actual.to_string(),
    };
    if let Some(defect) = &sent.defect {
        return Err(mismatch(format!("the packet has {defect}")));
    }
    if let Some((src, dst)) = expected.ports {
        let got = (sent.src.port(), sent.dst.port());
        if (src, dst) != got {
            return Err(mismatch(format!(
                "ports: expected {src}>{dst} but the packet has {}>{}",
                got.0, got.1
            )));
        }
    }
    check_ip(&sent.ip, &expected.ip).map_err(&mismatch)?;
    match (&expected.body, &actual.body) {
        (PacketBody::Tcp(want), PacketBody::Tcp(got)) => {
            if want.flags != got.flags {
                return Err(mismatch(format!(
                    "flags: expected {} but the packet has {}",
                    flags_text(&want.flags),
                    flags_text(&got.flags)
                )));
            }
            if (want.start, want.len) != (got.start, got.len) {
                return Err(mismatch(format!(
                    "sequence: expected {}:{}({}) but the packet has {}:{}({})",
                    want.start, want.end, want.len, got.start, got.end, got.len
                )));
            }
            if let Some(ack) = want.ack {
                if got.ack != Some(ack) {
                    return Err(mismatch(format!(
                        "ack: expected {ack} but the packet has {}",
                        got.ack.map_or("no ACK".to_string(), |a| a.to_string())
                    )));
                }
            }
            if let Some(win) = want.win {
                if got.win != Some(win) {
                    return Err(mismatch(format!(
                        "window: expected {win} but the packet has {}",
                        got.win.unwrap_or(0)
                    )));
                }
            }
            if let Some(urg) = want.urg {
                if got.urg != Some(urg) {
                    return Err(mismatch(format!("urgent pointer: expected {urg}")));
                }
            }
            check_options(&want.options, &got.options).map_err(&mismatch)?;
            if let SentBody::Tcp { payload, .. } = &sent.body {
                if payload.iter().any(|b| *b != 0) {
                    return Err(mismatch(
                        "the payload is not the bytes written (zeros)".into(),
                    ));
                }
            }
            Ok(())
        }
        (PacketBody::Udp { len: want }, PacketBody::Udp { len: got }) => {
            if want != got {
                return Err(mismatch(format!(
                    "UDP payload: expected {want} bytes but the packet has {got}"
                )));
            }
            Ok(())
        }
        (PacketBody::Icmp(want), PacketBody::Icmp(got)) => {
            let ipv6 = sent.src.is_ipv6();
            let numbers = icmp_numbers(want, ipv6).map_err(&mismatch)?;
            let (got_numbers, mtu) = match &sent.body {
                SentBody::Icmp {
                    msg_type,
                    code,
                    rest,
                } => ((*msg_type, *code), *rest),
                _ => ((0, 0), 0),
            };
            let code_written = want.code.is_some();
            if numbers.0 != got_numbers.0 || (code_written && numbers.1 != got_numbers.1) {
                return Err(mismatch(format!(
                    "ICMP: expected {} {} but the packet is {} {}",
                    want.kind,
                    want.code.as_deref().unwrap_or(""),
                    got.kind,
                    got.code.as_deref().unwrap_or("")
                )));
            }
            if let Some(want_mtu) = want.mtu {
                let got_mtu = if ipv6 { mtu } else { mtu & 0xffff };
                if want_mtu != got_mtu {
                    return Err(mismatch(format!(
                        "ICMP MTU: expected {want_mtu}, got {got_mtu}"
                    )));
                }
            }
            Ok(())
        }
        _ => Err(mismatch("expected another protocol".into())),
    }
}

fn flags_text(flags: &ScriptFlags) -> String {
    let packet = Packet {
        direction: Direction::Outbound,
        outer: Vec::new(),
        ip: IpInfo::default(),
        ports: None,
        body: PacketBody::Tcp(TcpSpec {
            flags: *flags,
            start: 0,
            end: 0,
            len: 0,
            ack: None,
            win: None,
            urg: None,
            options: TcpOptions::NotWritten,
        }),
    };
    // "> FLAGS 0:0(0)": the flags are the second word.
    packet
        .to_string()
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_string()
}

fn check_ip(got: &IpInfo, want: &IpInfo) -> Result<(), String> {
    if let Some(ttl) = want.ttl {
        if got.ttl != Some(ttl) {
            return Err(format!("TTL: expected {ttl}, got {}", got.ttl.unwrap_or(0)));
        }
    }
    if let Some(ecn) = want.ecn {
        let got_ecn = got.ecn.unwrap_or(Ecn::NoEcn);
        let ok = match ecn {
            Ecn::Ect01 => matches!(got_ecn, Ecn::Ect0 | Ecn::Ect1),
            other => other == got_ecn,
        };
        if !ok {
            return Err(format!("ECN: expected {ecn:?}, got {got_ecn:?}"));
        }
    }
    if let Some(tos) = want.tos {
        if got.tos != Some(tos) {
            return Err(format!(
                "TOS: expected {tos:#x}, got {:#x}",
                got.tos.unwrap_or(0)
            ));
        }
    }
    if let Some(label) = want.flow_label {
        if got.flow_label != Some(label) {
            return Err(format!(
                "flow label: expected {label:#x}, got {:#x}",
                got.flow_label.unwrap_or(0)
            ));
        }
    }
    Ok(())
}

fn check_options(want: &TcpOptions, got: &TcpOptions) -> Result<(), String> {
    let got_list: &[ScriptOption] = match got {
        TcpOptions::List(list) => list,
        TcpOptions::NotWritten => &[],
        TcpOptions::Any => return Err("the packet's TCP options are malformed".into()),
    };
    let want_list: &[ScriptOption] = match want {
        TcpOptions::Any => return Ok(()),
        TcpOptions::NotWritten => &[],
        TcpOptions::List(list) => list,
    };
    let same = want_list.len() == got_list.len()
        && want_list.iter().zip(got_list).all(|(w, g)| match (w, g) {
            // The stack's TS val is its own clock: not checked (as
            // packetdrill by default); its echo is.
            (ScriptOption::Timestamp { ecr: we, .. }, ScriptOption::Timestamp { ecr: ge, .. }) => {
                we == ge
            }
            (w, g) => w == g,
        });
    if same {
        Ok(())
    } else {
        Err("TCP options differ".into())
    }
}

/// A packet the script's remote end receives: `dst` is the remote end.
pub(crate) fn is_syn_only(sent: &Sent) -> bool {
    matches!(&sent.body, SentBody::Tcp { flags, .. } if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK))
}

/// Whether `sent` opens the stack's side of a connection (a SYN or a
/// SYN-ACK), whose sequence number is then the stack's ISN.
pub(crate) fn syn_seq(sent: &Sent) -> Option<u32> {
    match &sent.body {
        SentBody::Tcp { flags, seq, .. } if flags.contains(TcpFlags::SYN) => Some(*seq),
        _ => None,
    }
}

/// The TS val of a packet the stack sent.
pub(crate) fn sent_ts_val(sent: &Sent) -> Option<u32> {
    let SentBody::Tcp {
        options: Ok(options),
        ..
    } = &sent.body
    else {
        return None;
    };
    options.iter().find_map(|o| match o {
        OwnedOption::Known(TcpOption::Timestamp { val, .. }) => Some(*val),
        _ => None,
    })
}

/// The TS val a TCP line writes.
pub(crate) fn script_ts_val(packet: &Packet) -> Option<u32> {
    let PacketBody::Tcp(TcpSpec {
        options: TcpOptions::List(list),
        ..
    }) = &packet.body
    else {
        return None;
    };
    list.iter().find_map(|o| match o {
        ScriptOption::Timestamp { val, .. } => Some(*val),
        _ => None,
    })
}
