//! The configuration rules a [`Config`](super::Config) can break, one
//! variant each, with what a message (or a caller's own handling) needs.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::time::Duration;

use super::{
    IFNAMSIZ, IPERF_TIME_RANGE, MAX_CLIENTS, MAX_DELAY, MAX_INTERFACES, MIN_RATE, MTU_RANGE,
    PING_COUNT_RANGE, PING_INTERVAL_RANGE, SNAPLEN_RANGE,
};

/// A configuration rule that was broken: which interface (its index in
/// [`Config::interfaces`](super::Config::interfaces), if it concerns one)
/// and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub interface: Option<usize>,
    pub rule: Rule,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.interface {
            Some(n) => write!(f, "interface {n}: {}", self.rule),
            None => write!(f, "{}", self.rule),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    // ---- the stack ----
    NoInterfaces,
    TooManyInterfaces {
        count: usize,
    },
    /// `-d` in a build without the `debug` feature.
    NoDebugSupport,
    TooManyClients {
        count: usize,
    },
    NameGivenTwice {
        name: String,
    },
    /// lwIP's address on this interface is already its address on
    /// interface `first`.
    AddressGivenTwice {
        addr: IpAddr,
        first: usize,
    },
    /// offload=on together with impairment, on `device`.
    OffloadWithImpairment {
        device: String,
    },
    /// offload=on on some interfaces of a router but not all.
    OffloadOnSome {
        device: String,
    },

    // ---- clients ----
    PingCount {
        target: Ipv4Addr,
        count: u32,
    },
    PingInterval {
        target: Ipv4Addr,
        interval: Duration,
    },
    IperfTime {
        server: SocketAddrV4,
        duration: Duration,
    },
    IperfPortZero {
        server: SocketAddrV4,
    },
    /// An MQTT client's topic, message, broker or time.
    Mqtt {
        flag: &'static str,
        problem: String,
    },
    /// A client's target is not one host's address.
    NotOneHost {
        flag: &'static str,
        target: Ipv4Addr,
    },
    /// A name `--resolve` cannot ask for; `why` says what is wrong.
    ResolveName {
        name: String,
        why: String,
    },
    /// More than one `--sntp`: lwIP's SNTP client is one.
    SntpTwice,
    TooManyDnsServers {
        given: usize,
        limit: usize,
    },
    /// A DNS server that is not one host's address.
    DnsServerNotOneHost {
        addr: IpAddr,
    },

    // ---- an interface ----
    NameEmpty,
    NameTooLong {
        name: String,
    },
    NameInvalid {
        name: String,
    },
    NameCharacter {
        name: String,
        character: char,
    },
    Mtu {
        mtu: u32,
    },
    Snaplen {
        snaplen: u32,
    },
    PcapEmpty,
    NetmaskNotContiguous {
        netmask: Ipv4Addr,
    },
    AddressIsNetworkOrBroadcast {
        addr: Ipv4Addr,
        prefix: u32,
    },
    GatewayIsAddress {
        gw: Ipv4Addr,
    },
    GatewayOutsideSubnet {
        gw: Ipv4Addr,
        subnet: String,
    },
    /// A transient TAP with DHCP.
    TransientNeedsStatic,
    /// A transient TAP with an IPv4 address but no gw=.
    TransientNeedsHostIpv4,
    /// A transient TAP's host IPv4 address without lwIP's (addr=).
    HostNeedsAddress {
        host: Ipv4Addr,
    },
    /// A transient TAP with addr6= but no gw6=.
    TransientNeedsHostIpv6,
    /// A transient TAP without gw= or gw6=.
    TransientNeedsHost,
    /// The transient TAP's host address is lwIP's own.
    HostIsLwip {
        host: IpAddr,
    },
    HostOutsideSubnet {
        host: Ipv4Addr,
        subnet: String,
    },
    HostOutsideIpv6Prefixes {
        host: Ipv6Addr,
    },

    // ---- IPv6 ----
    TooManyIpv6Addresses {
        given: usize,
        limit: usize,
    },
    Ipv6Multicast {
        key: &'static str,
        addr: Ipv6Addr,
    },
    Ipv6NotUnicast {
        key: &'static str,
        addr: Ipv6Addr,
    },
    Ipv6Mapped {
        key: &'static str,
        addr: Ipv6Addr,
    },
    Addr6LinkLocal {
        addr: Ipv6Addr,
    },
    Addr6GivenTwice {
        addr: Ipv6Addr,
    },
    Gw6WithoutAddr6 {
        gw: Ipv6Addr,
    },
    Gw6IsAddr6 {
        gw: Ipv6Addr,
    },
    Gw6OffLink {
        gw: Ipv6Addr,
    },

    // ---- impairment (`way` is "-in" or "-out") ----
    DelayTooLong {
        way: &'static str,
        delay: Duration,
    },
    /// `jitter_way` and `delay_way` name the two keys apart: a caller
    /// that took one from a key for both directions can say so (`""`).
    JitterOverDelay {
        jitter_way: &'static str,
        delay_way: &'static str,
        jitter: Duration,
        delay: Duration,
    },
    RateTooLow {
        way: &'static str,
    },
    MaxFrameZero {
        way: &'static str,
    },

    // ---- lwIP's apps ----
    /// `--mdns` in a build whose lwIP tree has no mDNS responder it can use.
    MdnsNotBuilt,
    MdnsName {
        name: String,
        reason: &'static str,
    },
    MdnsInterfaces {
        count: usize,
    },
    /// `autoip=on` in a build whose lwIP tree has no ACD module.
    AutoipNotBuilt,
    SnmpCommunity {
        reason: &'static str,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        match self {
            Rule::NoInterfaces => write!(f, "no interface given"),
            Rule::MdnsNotBuilt => write!(
                f,
                "--mdns: this lwip-tap's lwIP has no mDNS responder it can build (lwIP 2.2's \
                 apps/mdns; see lwip-tap --version)"
            ),
            Rule::MdnsName { name, reason } => {
                write!(f, "--mdns '{name}' is not a host name: {reason}")
            }
            Rule::MdnsInterfaces { count } => write!(
                f,
                "--mdns with {count} interfaces: the responder runs on at most {}",
                super::MDNS_MAX_INTERFACES
            ),
            Rule::SnmpCommunity { reason } => {
                write!(f, "--snmp: the community is not usable: {reason}")
            }
            Rule::AutoipNotBuilt => write!(
                f,
                "autoip=on: this lwip-tap's lwIP has no AutoIP with address conflict detection \
                 (lwIP 2.2's acd.c; see lwip-tap --version)"
            ),
            Rule::TooManyInterfaces { count } => {
                write!(f, "{count} interfaces given; lwIP supports at most {MAX_INTERFACES}")
            }
            Rule::NoDebugSupport => write!(
                f,
                "-d: this build has no lwIP debug support; rebuild with `cargo build --features debug`"
            ),
            Rule::TooManyClients { count } => write!(
                f,
                "{count} clients (--ping, --iperf-client, --resolve, --sntp) given; at most {MAX_CLIENTS} run at once"
            ),
            Rule::NameGivenTwice { name } => write!(f, "interface {name} is given more than once"),
            Rule::AddressGivenTwice { addr, first } => {
                let key = if addr.is_ipv4() { "addr" } else { "addr6" };
                write!(
                    f,
                    "{key}={addr} is already lwIP's address on interface {first}; \
                     each interface needs an address of its own"
                )
            }
            Rule::OffloadWithImpairment { device } => write!(
                f,
                "offload=on ({device}) cannot be combined with impairment: a frame the kernel \
                 vouched for skips lwIP's checksum checks, so damage would go unseen, and a 64 KiB \
                 segment stands for up to 44 wire frames; use offload=off"
            ),
            Rule::OffloadOnSome { device } => write!(
                f,
                "offload=on ({device}) on a router needs offload=on on every interface \
                 (super-frame pass-through): a 64 KiB super-frame forwarded to an interface \
                 without it would have to be cut to that side's MTU"
            ),
            Rule::PingCount { target, count } => write!(
                f,
                "--count {count} (--ping {target}): the count of echo requests must be from {} to {}",
                PING_COUNT_RANGE.start(),
                PING_COUNT_RANGE.end()
            ),
            Rule::PingInterval { target, interval } => write!(
                f,
                "--interval {} (--ping {target}): the interval must be from {} to {} s",
                interval.as_secs_f64(),
                PING_INTERVAL_RANGE.start().as_secs_f64(),
                PING_INTERVAL_RANGE.end().as_secs()
            ),
            Rule::IperfTime { server, duration } => write!(
                f,
                "--time {} (--iperf-client {server}): the duration must be from {} to {} s",
                duration.as_secs_f64(),
                IPERF_TIME_RANGE.start().as_secs_f64(),
                IPERF_TIME_RANGE.end().as_secs()
            ),
            Rule::IperfPortZero { server } => write!(f, "--iperf-client {server}: port 0 is not a port"),
            Rule::Mqtt { flag, problem } => write!(f, "{flag}: {problem}"),
            Rule::NotOneHost { flag, target } => write!(
                f,
                "{flag} {target}: not the address of one host (lwIP sends to unicast addresses)"
            ),
            Rule::ResolveName { name, why } => write!(f, "--resolve '{name}': {why}"),
            Rule::SntpTwice => write!(f, "--sntp is given more than once; lwIP's SNTP client asks one server"),
            Rule::TooManyDnsServers { given, limit } => write!(
                f,
                "{given} dns= given; lwIP asks at most {limit} DNS servers (DNS_MAX_SERVERS)"
            ),
            Rule::DnsServerNotOneHost { addr } => {
                write!(f, "dns={addr}: not the address of one host")
            }
            Rule::NameEmpty => write!(f, "name is empty"),
            Rule::NameTooLong { name } => {
                write!(f, "name '{name}' is too long (at most {} characters)", IFNAMSIZ - 1)
            }
            Rule::NameInvalid { name } => write!(f, "name '{name}' is not a valid interface name"),
            Rule::NameCharacter { name, character } => write!(
                f,
                "name '{name}' contains '{character}', which is not allowed in an interface name"
            ),
            Rule::Mtu { mtu } => write!(
                f,
                "mtu={mtu} is not a number from {} to {}",
                MTU_RANGE.start(),
                MTU_RANGE.end()
            ),
            Rule::Snaplen { snaplen } => write!(
                f,
                "snaplen={snaplen} is not a number from {} to {}",
                SNAPLEN_RANGE.start(),
                SNAPLEN_RANGE.end()
            ),
            Rule::PcapEmpty => write!(f, "pcap= is empty"),
            Rule::NetmaskNotContiguous { netmask } => {
                write!(f, "netmask={netmask} is not contiguous (like 255.255.255.0)")
            }
            Rule::AddressIsNetworkOrBroadcast { addr, prefix } => write!(
                f,
                "addr={addr} is the network or broadcast address of its /{prefix} subnet"
            ),
            Rule::GatewayIsAddress { gw } => write!(f, "gw={gw} is the same as addr="),
            Rule::GatewayOutsideSubnet { gw, subnet } => write!(f, "gw={gw} is outside {subnet}"),
            Rule::TransientNeedsStatic => write!(
                f,
                "a transient TAP needs a static address: its host side has no DHCP server to lease one"
            ),
            Rule::TransientNeedsHostIpv4 => write!(
                f,
                "a transient TAP with an IPv4 address needs a host-side IPv4 address (gw=)"
            ),
            Rule::HostNeedsAddress { host } => write!(
                f,
                "the transient TAP's host address {host} needs an IPv4 address (addr=)"
            ),
            Rule::TransientNeedsHostIpv6 => write!(
                f,
                "a transient TAP with addr6= needs a host-side IPv6 address (gw6=); without one \
                 the host could not reach lwIP's address"
            ),
            Rule::TransientNeedsHost => {
                write!(f, "a transient TAP needs a host-side address (gw= or gw6=)")
            }
            Rule::HostIsLwip { host } => {
                write!(f, "the transient TAP's host address {host} is lwIP's own address")
            }
            Rule::HostOutsideSubnet { host, subnet } => {
                write!(f, "the transient TAP's host address {host} is outside {subnet}")
            }
            Rule::HostOutsideIpv6Prefixes { host } => write!(
                f,
                "the transient TAP's host address {host} is outside the /64 of every addr6="
            ),
            Rule::TooManyIpv6Addresses { given, limit } => write!(
                f,
                "{given} addr6= given; lwIP has room for {limit} besides the link-local address \
                 (LWIP_IPV6_NUM_ADDRESSES is {})",
                limit + 1
            ),
            Rule::Ipv6Multicast { key, addr } => write!(f, "{key}={addr} is a multicast address"),
            Rule::Ipv6NotUnicast { key, addr } => write!(f, "{key}={addr} is not a unicast address"),
            Rule::Ipv6Mapped { key, addr } => write!(
                f,
                "{key}={addr} is an IPv4-mapped address; give IPv4 with addr= and gw="
            ),
            Rule::Addr6LinkLocal { addr } => write!(
                f,
                "addr6={addr} is a link-local address; lwIP forms the link-local address itself \
                 (from the MAC), addr6= is for global or unique local addresses"
            ),
            Rule::Addr6GivenTwice { addr } => write!(f, "addr6={addr} is given more than once"),
            Rule::Gw6WithoutAddr6 { gw } => write!(
                f,
                "gw6={gw} needs an addr6=: a router is only of use to an address it can route for"
            ),
            Rule::Gw6IsAddr6 { gw } => write!(f, "gw6={gw} is the same as an addr6="),
            Rule::Gw6OffLink { gw } => write!(
                f,
                "gw6={gw} is neither link-local nor inside the /64 of an addr6=, so lwIP cannot reach it"
            ),
            Rule::DelayTooLong { way, delay } => write!(
                f,
                "delay{way}={} ms is over {} ms",
                delay.as_millis(),
                MAX_DELAY.as_millis()
            ),
            Rule::JitterOverDelay {
                jitter_way,
                delay_way,
                jitter,
                delay,
            } => write!(
                f,
                "jitter{jitter_way}={} ms is more than delay{delay_way}={} ms (a frame cannot leave \
                 before it came)",
                ms(jitter),
                ms(delay)
            ),
            Rule::RateTooLow { way } => write!(
                f,
                "rate{way}= is below the lowest rate, {} Mbit/s",
                MIN_RATE as f64 / 1e6
            ),
            Rule::MaxFrameZero { way } => write!(f, "max-frame{way}=0 would drop every frame"),
        }
    }
}

impl std::error::Error for Rule {}
