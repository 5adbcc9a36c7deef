//! What a stack is made of, as plain data: its interfaces (device, IPv4 and
//! IPv6 addressing, MTU, offload, capture, impairment), the services it
//! runs, the clients it starts (ping, iperf), the seed of impairment
//! decisions, the loop's polling and whether lwIP's debug output is on. The
//! command line parses into these types; library callers build them directly. [`Config::validate`] holds every rule, and
//! [`Stack::new`](crate::stack::Stack::new) applies it, so both get the same
//! errors before any device is touched.

mod rules;

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

pub use rules::{ConfigError, Rule};

/// lwIP numbers its netifs with a u8 and reserves 255, so one stack can hold
/// at most 255 of them.
pub const MAX_INTERFACES: usize = 255;

/// The MTU range a Linux TAP accepts.
pub const MTU_RANGE: std::ops::RangeInclusive<u32> = 68..=65521;

/// Linux's limit on interface names, including the terminating NUL.
pub const IFNAMSIZ: usize = libc::IFNAMSIZ;

/// The snap lengths a capture accepts; the largest (the default) keeps
/// every frame whole, since no frame is longer.
pub const SNAPLEN_RANGE: std::ops::RangeInclusive<u32> = 1..=65535;

/// The longest delay (and jitter) an impairment accepts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// The lowest rate limit an impairment accepts, in bit/s.
pub const MIN_RATE: u64 = 1000;

/// At most this many clients (lwIP's pools are sized for them, see
/// lwip/lwipopts.h).
pub const MAX_CLIENTS: usize = crate::sys::LWIP_TAP_MAX_CLIENTS as usize;

/// The echo requests one `--ping` may send.
pub const PING_COUNT_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000_000;

/// The intervals between echo requests a ping accepts.
pub const PING_INTERVAL_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(3600);

/// The durations an iperf client accepts: lwiperf counts time in hundredths
/// of a second, and its byte counter wraps at 4 GiB.
pub const IPERF_TIME_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(86_400);

/// The prefix length of every IPv6 address lwIP configures statically: it
/// treats each as a /64 on-link prefix, whatever the network's plan.
pub const IPV6_PREFIX_LEN: u8 = 64;

/// A whole stack: interfaces in order (the first is lwIP's default route),
/// services, clients and debugging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub interfaces: Vec<InterfaceConfig>,
    pub services: Services,
    /// Traffic lwIP starts itself, all at once (each when lwIP has a route
    /// to its target).
    pub clients: Vec<ClientConfig>,
    /// Print lwIP's own debug output (needs the `debug` cargo feature).
    pub lwip_debug: bool,
    /// The seed of every impairment decision; `None` picks one at random
    /// (and logs it, so the run can be repeated).
    pub seed: Option<u64>,
    /// Poll for frames for 2 ms after every frame instead of sleeping: the
    /// lowest latency for sparse traffic (a ping, a lone request), for a
    /// core's worth of CPU while any traffic flows. Off, the loop polls only
    /// while frames come in quick succession.
    pub busy_poll: bool,
    /// The clock lwIP reads: the system's, or a virtual one the caller
    /// moves ([`Stack::advance_clock`](crate::stack::Stack::advance_clock)).
    pub clock: crate::clock::Clock,
    /// How statistics are reported (SIGUSR1, `--stats`).
    pub stats_format: StatsFormat,
    /// Where the stack says it is ready (docs/readiness.md).
    pub ready: ReadyConfig,
    /// lwIP's DNS servers (`-i dns=`), asked in turn; a DHCP lease's
    /// servers replace them.
    pub dns_servers: Vec<IpAddr>,
    /// lwIP's mDNS responder on every interface, as this host name (one
    /// DNS label: NAME.local), announcing the services that run.
    pub mdns: Option<String>,
    /// lwIP's TFTP server on UDP port 69 (`--tftp`), serving one directory.
    pub tftp: Option<TftpConfig>,
    /// lwIP's SNMP agent on UDP port 161 (`--snmp`): MIB-2, SNMPv1 and v2c,
    /// read-only, answering requests with this community.
    pub snmp: Option<String>,
}

/// lwIP's TFTP server: the directory it serves, opened during setup; files
/// beneath it only (docs/protocols.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpConfig {
    pub dir: PathBuf,
    /// Clients may write files too (created or replaced, beneath `dir`);
    /// read-only by default.
    pub write: bool,
}

/// The most interfaces the mDNS responder runs on (lwIP's timer pool is
/// sized for them, see lwip/lwipopts.h).
pub const MDNS_MAX_INTERFACES: usize = 8;

/// The longest SNMP community `--snmp` takes (lwIP's
/// SNMP_MAX_COMMUNITY_STR_LEN, lwip/lwipopts.h).
pub const SNMP_COMMUNITY_MAX: usize = 32;

/// An SNMP community: 1 to 32 bytes of printable ASCII, no spaces.
pub fn check_snmp_community(community: &str) -> Result<(), Rule> {
    let bad = |reason: &'static str| Err(Rule::SnmpCommunity { reason });
    if community.is_empty() {
        return bad("it is empty");
    }
    if community.len() > SNMP_COMMUNITY_MAX {
        return bad("it is longer than 32 bytes, the most lwIP's agent compares");
    }
    if !community.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("only printable ASCII without spaces is allowed");
    }
    Ok(())
}

/// The longest mDNS host name: one DNS label.
pub const MDNS_NAME_MAX: usize = 63;

/// An mDNS host name is one DNS label of letters, digits and hyphens
/// (RFC 1123's host names; mDNS would take more, but other hosts' tools
/// may not), not starting or ending with a hyphen.
pub fn check_mdns_name(name: &str) -> Result<(), Rule> {
    let bad = |reason: &'static str| {
        Err(Rule::MdnsName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MDNS_NAME_MAX {
        return bad("it is longer than 63 bytes, the most a DNS label holds");
    }
    if name.contains('.') {
        return bad("it is one label: the responder adds .local");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return bad("only letters, digits and '-' are allowed");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("it cannot start or end with '-'");
    }
    Ok(())
}

/// How [`Stack::log_stats`](crate::stack::Stack::log_stats) reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatsFormat {
    /// Log lines; pools and protocols whose counters are all zero left out.
    #[default]
    Text,
    /// One JSON object with every counter, on one line of standard output.
    Json,
}

/// Who is told once the stack is ready: every configured address usable
/// and every service listening (see docs/readiness.md). The `ready` log
/// line is always written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyConfig {
    /// A file created empty at start (before privileges are dropped), into
    /// which the ready line is written once ready.
    pub file: Option<PathBuf>,
    /// systemd's notification socket (`NOTIFY_SOCKET`): a path, or `@NAME`
    /// in the abstract namespace; it gets `READY=1` once ready.
    pub notify_socket: Option<std::ffi::OsString>,
}

/// The built-in services; each listens on every interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Services {
    /// Echo (RFC 862) on TCP and UDP port 7.
    pub echo: bool,
    /// Character generator (RFC 864) on TCP port 19.
    pub chargen: bool,
    /// lwIP's httpd on TCP port 80.
    pub http: bool,
    /// lwIP's iperf2 server on TCP port 5001.
    pub iperf: bool,
}

impl Services {
    /// Whether any service is on (and so keeps the stack running).
    pub fn any(&self) -> bool {
        self.echo || self.chargen || self.http || self.iperf
    }
}

/// Traffic the stack starts itself, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientConfig {
    /// ICMP echo requests to `target`: `count` of them, `interval` apart.
    /// It succeeds if at least one is answered (like ping(8)).
    Ping {
        target: Ipv4Addr,
        count: u32,
        interval: Duration,
    },
    /// lwiperf's iperf2 client, sending to `server` for `duration`. It
    /// succeeds if it sends for the whole duration (and, where lwip-tap
    /// stops by itself, its connection then closes: the server has
    /// acknowledged everything).
    Iperf {
        server: SocketAddrV4,
        duration: Duration,
    },
    /// lwIP's DNS client asks its servers for `name`'s A and AAAA records.
    /// It succeeds if either is found.
    Resolve { name: String },
    /// lwIP's SNTP client asks `server` for the time once; the offset from
    /// the host's clock is logged (no clock is set). It succeeds on the
    /// first valid answer.
    Sntp { server: Ipv4Addr },
    /// lwIP's MQTT client: connects to `broker`, publishes `message` on
    /// `topic` with QoS 1, and disconnects. It succeeds once the broker has
    /// acknowledged the message (PUBACK).
    MqttPublish {
        broker: SocketAddrV4,
        topic: String,
        message: String,
    },
    /// lwIP's MQTT client: subscribes to `topic` (wildcards allowed) at
    /// `broker` and logs every message, for `duration` or until stopped.
    /// It succeeds if the broker acknowledged the subscription and kept the
    /// connection.
    MqttSubscribe {
        broker: SocketAddrV4,
        topic: String,
        duration: Option<Duration>,
    },
}

impl ClientConfig {
    /// The defaults of ping(8) and iperf's client, but for ping's count,
    /// which is finite so that a run ends.
    pub const PING_COUNT: u32 = 5;
    pub const PING_INTERVAL: Duration = Duration::from_secs(1);
    pub const IPERF_PORT: u16 = 5001;
    pub const IPERF_TIME: Duration = Duration::from_secs(10);
    pub const MQTT_PORT: u16 = 1883;
    /// The longest topic and message lwip-tap sends (lwIP's MQTT client
    /// queues a whole message in its output buffer, lwip/lwipopts.h).
    pub const MQTT_TOPIC_MAX: usize = 256;
    pub const MQTT_MESSAGE_MAX: usize = 1024;

    /// The rules for one client.
    pub fn validate(&self) -> Result<(), Rule> {
        match *self {
            ClientConfig::Resolve { ref name } => check_dns_name(name),
            ClientConfig::Sntp { server } => check_target(server, "--sntp"),
            ClientConfig::Ping {
                target,
                count,
                interval,
            } => {
                if !PING_COUNT_RANGE.contains(&count) {
                    return Err(Rule::PingCount { target, count });
                }
                if !PING_INTERVAL_RANGE.contains(&interval) {
                    return Err(Rule::PingInterval { target, interval });
                }
                check_target(target, "--ping")
            }
            ClientConfig::Iperf { server, duration } => {
                if !IPERF_TIME_RANGE.contains(&duration) {
                    return Err(Rule::IperfTime { server, duration });
                }
                if server.port() == 0 {
                    return Err(Rule::IperfPortZero { server });
                }
                check_target(*server.ip(), "--iperf-client")
            }
            ClientConfig::MqttPublish {
                broker,
                ref topic,
                ref message,
            } => {
                let flag = "--mqtt-publish";
                check_topic(flag, topic, false)?;
                if message.len() > Self::MQTT_MESSAGE_MAX {
                    return Err(Rule::Mqtt {
                        flag,
                        problem: format!(
                            "the message has {} bytes, more than the {} lwip-tap sends",
                            message.len(),
                            Self::MQTT_MESSAGE_MAX
                        ),
                    });
                }
                check_broker(flag, broker)
            }
            ClientConfig::MqttSubscribe {
                broker,
                ref topic,
                duration,
            } => {
                let flag = "--mqtt-subscribe";
                check_topic(flag, topic, true)?;
                if let Some(duration) = duration.filter(|d| !IPERF_TIME_RANGE.contains(d)) {
                    return Err(Rule::Mqtt {
                        flag,
                        problem: format!(
                            "--time {} must be from {} to {} s",
                            duration.as_secs_f64(),
                            IPERF_TIME_RANGE.start().as_secs_f64(),
                            IPERF_TIME_RANGE.end().as_secs()
                        ),
                    });
                }
                check_broker(flag, broker)
            }
        }
    }
}

/// The longest name `--resolve` accepts (RFC 1035's 253 characters
/// without the root's dot, within lwIP's DNS_MAX_NAME_LENGTH).
pub const DNS_NAME_MAX: usize = 253;

/// A name lwIP's DNS client can ask for: at most [`DNS_NAME_MAX`]
/// characters (one final dot aside), labels of 1 to 63 letters, digits,
/// hyphens or underscores.
fn check_dns_name(name: &str) -> Result<(), Rule> {
    let bad = |why: String| Rule::ResolveName {
        name: name.chars().take(80).collect::<String>() + if name.len() > 80 { "..." } else { "" },
        why,
    };
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err(bad("the name is empty".into()));
    }
    let limit = DNS_NAME_MAX.min(crate::lwip::dns::MAX_NAME_LENGTH);
    if bare.len() > limit {
        return Err(bad(format!(
            "the name is {} characters long; a DNS name has at most {limit}",
            bare.len()
        )));
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(bad(
                "the name has an empty label (two dots in a row?)".into()
            ));
        }
        if label.len() > 63 {
            return Err(bad(format!(
                "the label '{}...' is {} characters long; a DNS label has at most 63",
                label.chars().take(16).collect::<String>(),
                label.len()
            )));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(bad(format!(
                "'{}' is not allowed in a DNS name (letters, digits, '-' and '_' between dots)",
                c.escape_default()
            )));
        }
    }
    Ok(())
}

/// An MQTT topic: 1 to [`ClientConfig::MQTT_TOPIC_MAX`] bytes, no NUL, and
/// wildcards (`+`, `#`) only to subscribe.
fn check_topic(flag: &'static str, topic: &str, wildcards: bool) -> Result<(), Rule> {
    let problem = if topic.is_empty() {
        "the topic is empty".to_string()
    } else if topic.len() > ClientConfig::MQTT_TOPIC_MAX {
        format!(
            "the topic has {} bytes, more than {}",
            topic.len(),
            ClientConfig::MQTT_TOPIC_MAX
        )
    } else if topic.contains('\0') {
        "the topic has a NUL character".to_string()
    } else if !wildcards && topic.contains(['+', '#']) {
        format!("'{topic}' has a wildcard (+ or #): messages go to one topic")
    } else {
        return Ok(());
    };
    Err(Rule::Mqtt { flag, problem })
}

fn check_broker(flag: &'static str, broker: SocketAddrV4) -> Result<(), Rule> {
    if broker.port() == 0 {
        return Err(Rule::Mqtt {
            flag,
            problem: format!("{broker}: port 0 is not a port"),
        });
    }
    check_target(*broker.ip(), flag)
}

/// A client's target must be one host lwIP can send to.
fn check_target(target: Ipv4Addr, flag: &'static str) -> Result<(), Rule> {
    if target.is_unspecified() || target.is_broadcast() || target.is_multicast() {
        return Err(Rule::NotOneHost { flag, target });
    }
    Ok(())
}

/// How an interface takes frames from the kernel (`offload=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offload {
    /// Wire-sized frames with computed checksums: what lwIP would see on a
    /// wire. The default on a router.
    Off,
    /// Also TCP super-frames of up to 64 KiB (TSO) and frames whose
    /// checksums are left to the receiver, which lwIP then does not check.
    /// lwIP keeps the device's MTU. The default with one interface.
    Receive,
    /// Receive offload on every interface of a router, with lwIP's MTU
    /// raised to 64 KiB: lwIP forwards super-frames whole (its MTU and
    /// fragmentation checks see them as one packet) and the kernel cuts
    /// them into wire-sized segments on the way out, as it would have.
    PassThrough,
}

impl Offload {
    /// Whether the device hands over super-frames (TSO) and frames whose
    /// checksums are left to the receiver.
    pub fn receives_superframes(self) -> bool {
        self != Offload::Off
    }
}

/// One interface of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub device: DeviceConfig,
    pub addressing: Addressing,
    /// IPv6 beyond the link-local address every interface has.
    pub ipv6: Ipv6Config,
    /// The MTU to give the device (and so lwIP); `None` keeps the device's
    /// (1500 for an in-process device).
    pub mtu: Option<u32>,
    /// Offload (64 KiB TCP super-frames, checksums left to the receiver);
    /// see [`Offload`]. `None` means on for a stack with a single interface,
    /// off on a router. On a router it must be on for every interface or
    /// none. Never together with impairment.
    pub offload: Option<bool>,
    /// Record every frame lwIP receives and sends here in a pcapng file.
    pub capture: Option<CaptureConfig>,
    /// Damage, drop, delay or limit the frames, each way.
    pub impairments: Impairments,
}

/// An interface's IPv6 addressing. Every interface has a link-local address
/// (lwIP forms it from the MAC); these come on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Config {
    /// Static addresses, each a /64 on-link prefix (lwIP's rule). They share
    /// lwIP's address slots with SLAAC: [`ipv6_address_limit`] at most.
    pub addresses: Vec<Ipv6Addr>,
    /// A static default router: link-local, or inside the /64 of one of
    /// `addresses`. Routers learned from advertisements come after it.
    pub gateway: Option<Ipv6Addr>,
    /// Whether lwIP forms addresses from the prefixes in router
    /// advertisements (SLAAC).
    pub slaac: bool,
}

impl Default for Ipv6Config {
    /// Link-local only, with SLAAC on.
    fn default() -> Ipv6Config {
        Ipv6Config {
            addresses: Vec::new(),
            gateway: None,
            slaac: true,
        }
    }
}

impl Ipv6Config {
    /// Whether lwIP reaches `addr` directly: a link-local address, or one
    /// inside the /64 of a static address (lwIP's on-link rule).
    fn on_link(&self, addr: Ipv6Addr) -> bool {
        addr.is_unicast_link_local() || self.addresses.iter().any(|a| same_64(*a, addr))
    }

    /// The rules for one interface's IPv6.
    fn validate(&self) -> Result<(), Rule> {
        let limit = ipv6_address_limit();
        if self.addresses.len() > limit {
            return Err(Rule::TooManyIpv6Addresses {
                given: self.addresses.len(),
                limit,
            });
        }
        let mut seen = HashSet::new();
        for &addr in &self.addresses {
            check_ipv6_unicast("addr6", addr)?;
            if addr.is_unicast_link_local() {
                return Err(Rule::Addr6LinkLocal { addr });
            }
            if !seen.insert(addr) {
                return Err(Rule::Addr6GivenTwice { addr });
            }
        }
        if let Some(gw) = self.gateway {
            if self.addresses.is_empty() {
                return Err(Rule::Gw6WithoutAddr6 { gw });
            }
            check_ipv6_unicast("gw6", gw)?;
            if self.addresses.contains(&gw) {
                return Err(Rule::Gw6IsAddr6 { gw });
            }
            if !self.on_link(gw) {
                return Err(Rule::Gw6OffLink { gw });
            }
        }
        Ok(())
    }
}

/// How many static and SLAAC addresses an interface holds:
/// `LWIP_IPV6_NUM_ADDRESSES` of the lwIP build, less the link-local slot.
pub fn ipv6_address_limit() -> usize {
    crate::lwip::port::ipv6_address_slots().saturating_sub(1)
}

/// Refuses the unspecified, loopback and multicast addresses.
fn check_ipv6_unicast(key: &'static str, addr: Ipv6Addr) -> Result<(), Rule> {
    if addr.is_multicast() {
        return Err(Rule::Ipv6Multicast { key, addr });
    }
    if addr.is_unspecified() || addr.is_loopback() {
        return Err(Rule::Ipv6NotUnicast { key, addr });
    }
    if addr.to_ipv4_mapped().is_some() {
        return Err(Rule::Ipv6Mapped { key, addr });
    }
    Ok(())
}

/// True if `a` and `b` share their first 64 bits.
fn same_64(a: Ipv6Addr, b: Ipv6Addr) -> bool {
    a.octets()[..8] == b.octets()[..8]
}

/// A capture file for an interface's frames. Interfaces that name the same
/// path share one file (each is an interface of it, by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    pub path: PathBuf,
    /// Bytes kept of each frame (its full length is recorded too).
    pub snaplen: u32,
}

impl CaptureConfig {
    /// Whole frames into `path`.
    pub fn new(path: impl Into<PathBuf>) -> CaptureConfig {
        CaptureConfig {
            path: path.into(),
            snaplen: *SNAPLEN_RANGE.end(),
        }
    }
}

/// What happens to an interface's frames on their way into lwIP
/// (`inbound`) and out of it (`outbound`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Impairments {
    pub inbound: Impairment,
    pub outbound: Impairment,
}

impl Impairments {
    /// The same impairment both ways.
    pub fn both(impairment: Impairment) -> Impairments {
        Impairments {
            inbound: impairment,
            outbound: impairment,
        }
    }

    pub fn is_none(&self) -> bool {
        self.inbound.is_none() && self.outbound.is_none()
    }
}

/// What happens to the frames going one way through an interface, in this
/// order: frames over `max_frame` are dropped, then `loss` drops, `corrupt`
/// flips one bit or byte, `duplicate` delivers twice, `reorder` holds a
/// frame back behind the next one, `rate` queues frames to a bit rate and
/// `delay` ± `jitter` holds them back (frames keep their order, except the
/// ones `reorder` moves).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Impairment {
    pub loss: Percent,
    pub corrupt: Percent,
    pub duplicate: Percent,
    pub reorder: Percent,
    pub delay: Duration,
    /// Each frame's delay is `delay` plus or minus up to this (at most `delay`).
    pub jitter: Duration,
    /// A rate limit in bit/s (counting each frame's Ethernet header and
    /// payload): frames wait in a queue for their turn, a token bucket of
    /// 1 ms worth of bytes.
    pub rate: Option<u64>,
    /// Frames longer than this (Ethernet header and payload) are dropped.
    pub max_frame: Option<u32>,
}

impl Impairment {
    pub fn is_none(&self) -> bool {
        *self == Impairment::default()
    }

    /// The rules for one direction; `way` ("-in" or "-out") names its keys.
    fn validate(&self, way: &'static str) -> Result<(), Rule> {
        if self.delay > MAX_DELAY {
            return Err(Rule::DelayTooLong {
                way,
                delay: self.delay,
            });
        }
        if self.jitter > self.delay {
            return Err(Rule::JitterOverDelay {
                jitter_way: way,
                delay_way: way,
                jitter: self.jitter,
                delay: self.delay,
            });
        }
        if self.rate.is_some_and(|r| r < MIN_RATE) {
            return Err(Rule::RateTooLow { way });
        }
        if self.max_frame == Some(0) {
            return Err(Rule::MaxFrameZero { way });
        }
        Ok(())
    }
}

/// A probability, kept in millionths so that configurations compare
/// exactly: `Percent::new(5.0)` is 5 %.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u32);

impl Percent {
    pub const ZERO: Percent = Percent(0);
    /// The value of 100 %, in millionths.
    pub const MILLIONTHS: u32 = 1_000_000;

    /// `percent` % (rounded to a ten-thousandth of a percent); `None` unless
    /// it is a number from 0 to 100.
    pub fn new(percent: f64) -> Option<Percent> {
        (0.0..=100.0)
            .contains(&percent)
            .then(|| Percent((percent * 10_000.0).round() as u32))
    }

    pub fn millionths(self) -> u32 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", f64::from(self.0) / 10_000.0)
    }
}

/// What carries an interface's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceConfig {
    /// An existing TAP device, attached by name.
    Tap { name: String },
    /// A TAP created for this stack (the kernel picks its name) and removed
    /// when the stack ends. Its host side gets `host` with the interface's
    /// netmask and `host6` as a /64 (without duplicate address detection),
    /// so the host routes the subnets to lwIP. At least one is needed.
    TransientTap {
        host: Option<Ipv4Addr>,
        host6: Option<Ipv6Addr>,
    },
    /// No device: frames are handed to lwIP and collected in-process (tests,
    /// fuzzing, embedding). Its MAC is `mac`.
    InProcess { name: String, mac: [u8; 6] },
}

/// How an interface gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    Static {
        addr: Ipv4Addr,
        netmask: Ipv4Addr,
        gw: Option<Ipv4Addr>,
    },
    /// lwIP's DHCP client.
    Dhcp,
    /// lwIP's DHCP client, and AutoIP (RFC 3927: an address of
    /// 169.254.0.0/16 no other host on the link has) while no DHCP server
    /// answers; a lease, when one comes, replaces it.
    DhcpAutoip,
    /// No IPv4 address: an IPv6-only interface.
    None,
}

impl Config {
    /// Checks every rule: each interface on its own, then the set (a count
    /// lwIP supports, unique names, offload only where nothing is forwarded).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let whole = |rule: Rule| ConfigError {
            interface: None,
            rule,
        };
        if self.interfaces.is_empty() {
            return Err(whole(Rule::NoInterfaces));
        }
        if self.interfaces.len() > MAX_INTERFACES {
            return Err(whole(Rule::TooManyInterfaces {
                count: self.interfaces.len(),
            }));
        }
        if self.lwip_debug && !cfg!(feature = "debug") {
            return Err(whole(Rule::NoDebugSupport));
        }
        if self.clients.len() > MAX_CLIENTS {
            return Err(whole(Rule::TooManyClients {
                count: self.clients.len(),
            }));
        }
        for client in &self.clients {
            client.validate().map_err(whole)?;
        }
        let sntp = |c: &&ClientConfig| matches!(c, ClientConfig::Sntp { .. });
        if self.clients.iter().filter(sntp).count() > 1 {
            return Err(whole(Rule::SntpTwice));
        }
        let limit = crate::lwip::dns::MAX_SERVERS;
        if self.dns_servers.len() > limit {
            return Err(whole(Rule::TooManyDnsServers {
                given: self.dns_servers.len(),
                limit,
            }));
        }
        for &addr in &self.dns_servers {
            let one_host = match addr {
                IpAddr::V4(v4) => check_target(v4, "dns=").is_ok(),
                IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
            };
            if !one_host {
                return Err(whole(Rule::DnsServerNotOneHost { addr }));
            }
        }
        if let Some(name) = &self.mdns {
            if !crate::lwip::build::has_mdns() {
                return Err(whole(Rule::MdnsNotBuilt));
            }
            check_mdns_name(name).map_err(whole)?;
            if self.interfaces.len() > MDNS_MAX_INTERFACES {
                return Err(whole(Rule::MdnsInterfaces {
                    count: self.interfaces.len(),
                }));
            }
        }
        if let Some(community) = &self.snmp {
            check_snmp_community(community).map_err(whole)?;
        }
        let mut names = HashSet::new();
        let mut addresses = HashMap::new();
        for (n, interface) in self.interfaces.iter().enumerate() {
            let at = |rule: Rule| ConfigError {
                interface: Some(n),
                rule,
            };
            interface.validate().map_err(at)?;
            for addr in interface.static_addresses() {
                if let Some(&first) = addresses.get(&addr) {
                    return Err(at(Rule::AddressGivenTwice { addr, first }));
                }
                addresses.insert(addr, n);
            }
            if let Some(name) = interface.device.name() {
                if !names.insert(name) {
                    return Err(at(Rule::NameGivenTwice {
                        name: name.to_string(),
                    }));
                }
            }
            if interface.offload == Some(true) && !interface.impairments.is_none() {
                return Err(at(Rule::OffloadWithImpairment {
                    device: interface.device.describe().to_string(),
                }));
            }
        }
        let on = self.interfaces.iter().filter(|i| i.offload == Some(true));
        if on.clone().count() != self.interfaces.len() {
            if let Some(n) = self.interfaces.iter().position(|i| i.offload == Some(true)) {
                return Err(ConfigError {
                    interface: Some(n),
                    rule: Rule::OffloadOnSome {
                        device: self.interfaces[n].device.describe().to_string(),
                    },
                });
            }
        }
        Ok(())
    }

    /// The pairs of interfaces whose static subnets overlap (IPv4, or the
    /// /64 of an `addr6`). Allowed, since a lab may want it, but lwIP sends
    /// to the addresses they share through the first that matches only, so
    /// [`Stack::new`](crate::stack::Stack::new) warns about each.
    pub fn overlaps(&self) -> Vec<Overlap> {
        let subnets: Vec<(usize, Prefix)> = self
            .interfaces
            .iter()
            .enumerate()
            .flat_map(|(n, interface)| interface.prefixes().into_iter().map(move |p| (n, p)))
            .collect();
        let mut overlaps = Vec::new();
        for (i, (first, a)) in subnets.iter().enumerate() {
            for (second, b) in &subnets[i + 1..] {
                if first != second && a.overlaps(b) {
                    overlaps.push(Overlap {
                        first: (*first, a.to_string()),
                        second: (*second, b.to_string()),
                    });
                }
            }
        }
        overlaps
    }

    /// Whether the stack stops by itself once its clients are done: when it
    /// has clients and no service to keep running for.
    pub fn stops_after_clients(&self) -> bool {
        !self.clients.is_empty()
            && !self.services.any()
            && self.tftp.is_none()
            && self.snmp.is_none()
    }

    /// How each interface is built, decided once: its device, MTU,
    /// offload, merge stage, impairment (its decisions keyed by `seed`),
    /// capture and addressing. The device layer and the driver carry the
    /// plan out and decide nothing themselves.
    pub fn plans(&self, seed: u64) -> Vec<InterfacePlan> {
        let router = self.interfaces.len() > 1;
        self.interfaces
            .iter()
            .enumerate()
            .map(|(index, interface)| {
                // By default receive offload for a stack that forwards
                // nothing (a single interface) unless its frames are
                // impaired, wire-sized frames on a router; `offload=on` on
                // every interface of a router makes it pass super-frames
                // through.
                let offload = match interface.offload {
                    Some(true) if router => Offload::PassThrough,
                    Some(true) => Offload::Receive,
                    None if !router && interface.impairments.is_none() => Offload::Receive,
                    _ => Offload::Off,
                };
                InterfacePlan {
                    index,
                    device: interface.device.clone(),
                    mtu: interface.mtu,
                    offload,
                    // What lwIP sends passes the merge stage where lwIP
                    // takes wire frames on a router by default, and with
                    // receive offload (the host's super-frames in, so
                    // lwIP's own out); not with `offload=off`, and not where
                    // super-frames pass through anyway.
                    merge: match offload {
                        Offload::Off => router && interface.offload.is_none(),
                        Offload::Receive => true,
                        Offload::PassThrough => false,
                    },
                    impairments: interface.impairments,
                    seed,
                    capture: interface.capture.clone(),
                    addressing: interface.addressing,
                    ipv6: interface.ipv6.clone(),
                }
            })
            .collect()
    }
}

/// Two interfaces on overlapping subnets: each is the interface's index and
/// its address with the prefix length (`172.16.0.2/24`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub first: (usize, String),
    pub second: (usize, String),
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (interface {}) and {} (interface {}) overlap: lwIP reaches the addresses they \
             share through only one of them",
            self.first.1, self.first.0, self.second.1, self.second.0
        )
    }
}

/// A static address with its prefix length, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    V4(Subnet),
    V6(Ipv6Addr),
}

impl Prefix {
    fn overlaps(&self, other: &Prefix) -> bool {
        match (self, other) {
            // Contiguous masks: the shorter prefix contains the longer one
            // or they are apart.
            (Prefix::V4(a), Prefix::V4(b)) => {
                let mask = a.mask & b.mask;
                a.addr & mask == b.addr & mask
            }
            (Prefix::V6(a), Prefix::V6(b)) => a.segments()[..4] == b.segments()[..4],
            _ => false,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4(subnet) => {
                write!(f, "{}/{}", Ipv4Addr::from(subnet.addr), subnet.prefix)
            }
            Prefix::V6(addr) => write!(f, "{addr}/{IPV6_PREFIX_LEN}"),
        }
    }
}

/// How one interface is built: every choice about it, made once by
/// [`Config::plans`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfacePlan {
    /// Its place in the configuration (the first is lwIP's default route).
    pub index: usize,
    pub device: DeviceConfig,
    /// The MTU to give the device; `None` keeps the device's.
    pub mtu: Option<u32>,
    pub offload: Offload,
    /// Consecutive TCP segments lwIP sends are written as one super-frame
    /// the kernel cuts back into them (where the host side takes
    /// super-frames). With `Offload::Off` the host's super-frames are then
    /// cut to wire size on the way in, too.
    pub merge: bool,
    pub impairments: Impairments,
    /// The seed of the impairment decisions.
    pub seed: u64,
    pub capture: Option<CaptureConfig>,
    pub addressing: Addressing,
    pub ipv6: Ipv6Config,
}

impl InterfaceConfig {
    /// An interface with a static address on an in-process device.
    pub fn in_process(name: &str, mac: [u8; 6], addressing: Addressing) -> InterfaceConfig {
        InterfaceConfig {
            device: DeviceConfig::InProcess {
                name: name.to_string(),
                mac,
            },
            addressing,
            ipv6: Ipv6Config::default(),
            mtu: None,
            offload: None,
            capture: None,
            impairments: Impairments::default(),
        }
    }

    /// The rules for one interface.
    pub fn validate(&self) -> Result<(), Rule> {
        if let DeviceConfig::Tap { name } | DeviceConfig::InProcess { name, .. } = &self.device {
            check_name(name)?;
        }
        if let Some(mtu) = self.mtu {
            if !MTU_RANGE.contains(&mtu) {
                return Err(Rule::Mtu { mtu });
            }
        }
        if let Some(capture) = &self.capture {
            if !SNAPLEN_RANGE.contains(&capture.snaplen) {
                return Err(Rule::Snaplen {
                    snaplen: capture.snaplen,
                });
            }
            if capture.path.as_os_str().is_empty() {
                return Err(Rule::PcapEmpty);
            }
        }
        if self.addressing == Addressing::DhcpAutoip && !crate::lwip::build::has_autoip() {
            return Err(Rule::AutoipNotBuilt);
        }
        self.impairments.inbound.validate("-in")?;
        self.impairments.outbound.validate("-out")?;
        self.ipv6.validate()?;
        if let DeviceConfig::TransientTap { host, host6 } = self.device {
            self.validate_transient_hosts(host, host6)?;
        }
        let Addressing::Static { addr, netmask, gw } = self.addressing else {
            return Ok(());
        };
        if !is_contiguous(netmask) {
            return Err(Rule::NetmaskNotContiguous { netmask });
        }
        let subnet = Subnet::of(addr, netmask);
        if subnet.prefix < 31 && (addr == subnet.network() || addr == subnet.broadcast()) {
            return Err(Rule::AddressIsNetworkOrBroadcast {
                addr,
                prefix: subnet.prefix,
            });
        }
        if let Some(gw) = gw {
            if gw == addr {
                return Err(Rule::GatewayIsAddress { gw });
            }
            if !subnet.contains(gw) {
                return Err(Rule::GatewayOutsideSubnet {
                    gw,
                    subnet: subnet.to_string(),
                });
            }
        }
        if let DeviceConfig::TransientTap {
            host: Some(host), ..
        } = self.device
        {
            if host == addr {
                return Err(Rule::HostIsLwip { host: host.into() });
            }
            if !subnet.contains(host) {
                return Err(Rule::HostOutsideSubnet {
                    host,
                    subnet: subnet.to_string(),
                });
            }
        }
        Ok(())
    }
}

impl InterfaceConfig {
    /// lwIP's static addresses on this interface (not DHCP's or SLAAC's).
    fn static_addresses(&self) -> Vec<IpAddr> {
        let v4 = match self.addressing {
            Addressing::Static { addr, .. } => Some(IpAddr::from(addr)),
            _ => None,
        };
        v4.into_iter()
            .chain(self.ipv6.addresses.iter().map(|&a| IpAddr::from(a)))
            .collect()
    }

    /// The subnets of [`Self::static_addresses`].
    fn prefixes(&self) -> Vec<Prefix> {
        let v4 = match self.addressing {
            Addressing::Static { addr, netmask, .. } => Some(Prefix::V4(Subnet::of(addr, netmask))),
            _ => None,
        };
        v4.into_iter()
            .chain(self.ipv6.addresses.iter().map(|&a| Prefix::V6(a)))
            .collect()
    }

    /// A transient TAP's host side needs an address of each family lwIP
    /// has statically: DHCP and SLAAC have no server behind it.
    fn validate_transient_hosts(
        &self,
        host: Option<Ipv4Addr>,
        host6: Option<Ipv6Addr>,
    ) -> Result<(), Rule> {
        match (self.addressing, host) {
            (Addressing::Dhcp | Addressing::DhcpAutoip, _) => {
                return Err(Rule::TransientNeedsStatic)
            }
            (Addressing::Static { .. }, None) => return Err(Rule::TransientNeedsHostIpv4),
            (Addressing::None, Some(host)) => return Err(Rule::HostNeedsAddress { host }),
            _ => {}
        }
        match host6 {
            None if !self.ipv6.addresses.is_empty() => Err(Rule::TransientNeedsHostIpv6),
            None if host.is_none() => Err(Rule::TransientNeedsHost),
            Some(host6) if self.ipv6.addresses.contains(&host6) => {
                Err(Rule::HostIsLwip { host: host6.into() })
            }
            Some(host6) if !self.ipv6.on_link(host6) => {
                Err(Rule::HostOutsideIpv6Prefixes { host: host6 })
            }
            Some(host6) => check_ipv6_unicast("gw6", host6),
            None => Ok(()),
        }
    }
}

impl DeviceConfig {
    /// The device's name, where it has one before it exists.
    pub fn name(&self) -> Option<&str> {
        match self {
            DeviceConfig::Tap { name } | DeviceConfig::InProcess { name, .. } => Some(name),
            DeviceConfig::TransientTap { .. } => None,
        }
    }

    /// A name for messages.
    pub fn describe(&self) -> &str {
        self.name().unwrap_or("a transient TAP")
    }
}

/// Linux's rules for interface names (dev_valid_name): 1–15 bytes, not `.`
/// or `..`, no `/`, `:` or white space.
pub fn check_name(value: &str) -> Result<(), Rule> {
    if value.is_empty() {
        return Err(Rule::NameEmpty);
    }
    let name = || value.to_string();
    if value.len() >= IFNAMSIZ {
        return Err(Rule::NameTooLong { name: name() });
    }
    if value == "." || value == ".." {
        return Err(Rule::NameInvalid { name: name() });
    }
    if let Some(character) = value
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control() || *c == '%')
    {
        return Err(Rule::NameCharacter {
            name: name(),
            character,
        });
    }
    Ok(())
}

/// True if the ones of `netmask` are all at the top.
pub fn is_contiguous(netmask: Ipv4Addr) -> bool {
    let bits = u32::from(netmask);
    // !bits must be 2^n - 1.
    (!bits).wrapping_add(1) & !bits == 0
}

/// The netmask of a prefix length (`24` is 255.255.255.0); `None` above 32.
pub fn netmask_of_prefix(len: u8) -> Option<Ipv4Addr> {
    match len {
        0 => Some(Ipv4Addr::UNSPECIFIED),
        1..=32 => Some(Ipv4Addr::from(u32::MAX << (32 - u32::from(len)))),
        _ => None,
    }
}

/// The number of one bits in a (contiguous) netmask.
pub fn prefix_len(netmask: Ipv4Addr) -> u32 {
    u32::from(netmask).count_ones()
}

/// An IPv4 subnet: an address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Subnet {
    addr: u32,
    mask: u32,
    prefix: u32,
}

impl Subnet {
    fn of(addr: Ipv4Addr, netmask: Ipv4Addr) -> Subnet {
        Subnet {
            addr: u32::from(addr),
            mask: u32::from(netmask),
            prefix: prefix_len(netmask),
        }
    }

    fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr & self.mask)
    }

    fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr | !self.mask)
    }

    fn contains(&self, other: Ipv4Addr) -> bool {
        u32::from(other) & self.mask == self.addr & self.mask
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn static_on(device: DeviceConfig, addr: &str, gw: Option<&str>) -> InterfaceConfig {
        InterfaceConfig {
            device,
            addressing: Addressing::Static {
                addr: ip(addr),
                netmask: ip("255.255.255.0"),
                gw: gw.map(ip),
            },
            ipv6: Ipv6Config::default(),
            mtu: None,
            offload: None,
            capture: None,
            impairments: Impairments::default(),
        }
    }

    fn tap(name: &str) -> DeviceConfig {
        DeviceConfig::Tap { name: name.into() }
    }

    #[test]
    fn transient_tap_rules() {
        let host = |h: &str| DeviceConfig::TransientTap {
            host: Some(ip(h)),
            host6: None,
        };
        assert!(static_on(host("10.0.0.1"), "10.0.0.2", Some("10.0.0.1"))
            .validate()
            .is_ok());
        let e = static_on(host("10.0.1.1"), "10.0.0.2", None)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("outside 10.0.0.0/24"), "{e}");
        let e = static_on(host("10.0.0.2"), "10.0.0.2", None)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("lwIP's own address"), "{e}");
        let dhcp = InterfaceConfig {
            addressing: Addressing::Dhcp,
            ..static_on(host("10.0.0.1"), "10.0.0.2", None)
        };
        assert!(dhcp
            .validate()
            .unwrap_err()
            .to_string()
            .contains("static address"));
    }

    #[test]
    fn offload_only_where_nothing_is_forwarded() {
        let mut config = Config {
            interfaces: vec![static_on(tap("a"), "10.0.0.2", None)],
            ..Config::default()
        };
        assert_eq!(config.plans(0)[0].offload, Offload::Receive);
        config.interfaces[0].offload = Some(true);
        config.validate().unwrap();
        config
            .interfaces
            .push(static_on(tap("b"), "10.0.1.2", None));
        let e = config.validate().unwrap_err();
        assert_eq!(e.interface, Some(0));
        assert!(
            e.rule
                .to_string()
                .contains("needs offload=on on every interface"),
            "{e:?}"
        );
        config.interfaces[1].offload = Some(true);
        config.validate().unwrap();
        assert_eq!(config.plans(0)[0].offload, Offload::PassThrough);
        assert_eq!(config.plans(0)[1].offload, Offload::PassThrough);
        config.interfaces[0].offload = None;
        let e = config.validate().unwrap_err();
        assert_eq!(e.interface, Some(1));
        config.interfaces[1].offload = None;
        config.validate().unwrap();
        assert_eq!(
            (config.plans(0)[0].offload, config.plans(0)[1].offload),
            (Offload::Off, Offload::Off)
        );
        assert!(config.plans(0)[0].merge && config.plans(0)[1].merge);
        config.interfaces[1].offload = Some(false);
        assert!(config.plans(0)[0].merge && !config.plans(0)[1].merge);
        config.interfaces.pop();
        assert_eq!(config.plans(0)[0].offload, Offload::Receive);
        assert!(
            config.plans(0)[0].merge,
            "receive offload: lwIP's own segments"
        );
        config.interfaces[0].offload = Some(false);
        assert!(!config.plans(0)[0].merge);
    }

    #[test]
    fn set_rules() {
        let e = Config::default().validate().unwrap_err();
        assert!(e.rule.to_string().contains("no interface"), "{e:?}");
        let config = Config {
            interfaces: vec![
                static_on(tap("a"), "10.0.0.2", None),
                static_on(tap("a"), "10.0.1.2", None),
            ],
            ..Config::default()
        };
        let e = config.validate().unwrap_err();
        assert_eq!(e.interface, Some(1));
        let config = Config {
            interfaces: vec![InterfaceConfig {
                mtu: Some(67),
                ..static_on(tap("a"), "10.0.0.2", None)
            }],
            ..Config::default()
        };
        let e = crate::Error::from(config.validate().unwrap_err()).to_string();
        assert!(e.to_string().contains("interface 0: mtu=67"), "{e}");
    }

    #[test]
    fn impairment_turns_default_offload_off_and_refuses_offload_on() {
        let lossy = Impairments::both(Impairment {
            loss: Percent::new(5.0).unwrap(),
            ..Impairment::default()
        });
        let mut config = Config {
            interfaces: vec![InterfaceConfig {
                impairments: lossy,
                ..static_on(tap("a"), "10.0.0.2", None)
            }],
            ..Config::default()
        };
        config.validate().unwrap();
        assert_eq!(config.plans(0)[0].offload, Offload::Off);
        config.interfaces[0].offload = Some(true);
        let e = config.validate().unwrap_err();
        assert!(
            e.rule
                .to_string()
                .contains("cannot be combined with impairment"),
            "{e:?}"
        );
        config.interfaces[0].offload = Some(false);
        config.validate().unwrap();
    }

    #[test]
    fn impairment_rules() {
        let with = |inbound: Impairment| InterfaceConfig {
            impairments: Impairments {
                inbound,
                ..Impairments::default()
            },
            ..static_on(tap("a"), "10.0.0.2", None)
        };
        let ms = Duration::from_millis;
        let e = with(Impairment {
            delay: ms(10),
            jitter: ms(20),
            ..Impairment::default()
        })
        .validate()
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("jitter-in=20 ms is more than delay-in=10 ms"),
            "{e}"
        );
        let e = with(Impairment {
            delay: ms(60_001),
            ..Impairment::default()
        })
        .validate()
        .unwrap_err();
        assert!(
            e.to_string().contains("delay-in=60001 ms is over 60000 ms"),
            "{e}"
        );
        let e = with(Impairment {
            rate: Some(999),
            ..Impairment::default()
        })
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("rate-in= is below"), "{e}");
        let e = with(Impairment {
            max_frame: Some(0),
            ..Impairment::default()
        })
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("max-frame-in=0"), "{e}");
        with(Impairment {
            delay: ms(50),
            jitter: ms(50),
            rate: Some(1000),
            max_frame: Some(1),
            ..Impairment::default()
        })
        .validate()
        .unwrap();
    }

    #[test]
    fn percentages_are_exact_and_bounded() {
        assert_eq!(Percent::new(5.0).unwrap().millionths(), 50_000);
        assert_eq!(Percent::new(0.0001).unwrap().millionths(), 1);
        assert_eq!(
            Percent::new(100.0).unwrap().millionths(),
            Percent::MILLIONTHS
        );
        for bad in [-0.1, 100.01, f64::NAN, f64::INFINITY] {
            assert_eq!(Percent::new(bad), None, "{bad}");
        }
        assert_eq!(Percent::new(2.5).unwrap().to_string(), "2.5 %");
    }

    #[test]
    fn capture_rules() {
        let mut interface = InterfaceConfig {
            capture: Some(CaptureConfig::new("/tmp/x.pcapng")),
            ..static_on(tap("a"), "10.0.0.2", None)
        };
        interface.validate().unwrap();
        interface.capture.as_mut().unwrap().snaplen = 0;
        let e = interface.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("snaplen=0 is not a number from 1 to 65535"),
            "{e}"
        );
        interface.capture = Some(CaptureConfig::new(""));
        assert!(interface
            .validate()
            .unwrap_err()
            .to_string()
            .contains("pcap= is empty"));
    }

    #[test]
    fn the_same_address_on_two_interfaces_is_refused() {
        let config = Config {
            interfaces: vec![
                static_on(tap("a"), "172.16.0.2", None),
                static_on(tap("b"), "172.16.0.2", None),
            ],
            ..Config::default()
        };
        let e = config.validate().unwrap_err();
        assert_eq!(e.interface, Some(1));
        assert_eq!(
            e.rule.to_string(),
            "addr=172.16.0.2 is already lwIP's address on interface 0; each interface needs \
             an address of its own"
        );
        let six = |device, addr: &str| InterfaceConfig {
            ipv6: Ipv6Config {
                addresses: vec![addr.parse().unwrap()],
                ..Ipv6Config::default()
            },
            ..InterfaceConfig {
                addressing: Addressing::None,
                ..static_on(device, "10.0.0.2", None)
            }
        };
        let config = Config {
            interfaces: vec![six(tap("a"), "2001:db8::2"), six(tap("b"), "2001:db8::2")],
            ..Config::default()
        };
        let e = config.validate().unwrap_err();
        assert!(
            e.rule
                .to_string()
                .starts_with("addr6=2001:db8::2 is already"),
            "{e}"
        );
    }

    #[test]
    fn overlapping_subnets_are_allowed_and_named() {
        let wide = InterfaceConfig {
            addressing: Addressing::Static {
                addr: ip("172.16.1.2"),
                netmask: ip("255.255.0.0"),
                gw: None,
            },
            ..static_on(tap("b"), "10.0.0.2", None)
        };
        let config = Config {
            interfaces: vec![
                static_on(tap("a"), "172.16.0.2", None),
                wide,
                static_on(tap("c"), "10.0.0.2", None),
            ],
            ..Config::default()
        };
        config.validate().unwrap();
        let overlaps = config.overlaps();
        assert_eq!(overlaps.len(), 1, "{overlaps:?}");
        assert_eq!(
            overlaps[0].to_string(),
            "172.16.0.2/24 (interface 0) and 172.16.1.2/16 (interface 1) overlap: lwIP \
             reaches the addresses they share through only one of them"
        );
        let apart = Config {
            interfaces: vec![
                static_on(tap("a"), "172.16.0.2", None),
                static_on(tap("b"), "172.16.1.2", None),
            ],
            ..Config::default()
        };
        assert!(apart.overlaps().is_empty());
    }

    #[test]
    fn prefix_lengths_give_netmasks() {
        assert_eq!(netmask_of_prefix(24), Some(ip("255.255.255.0")));
        assert_eq!(netmask_of_prefix(0), Some(ip("0.0.0.0")));
        assert_eq!(netmask_of_prefix(32), Some(ip("255.255.255.255")));
        assert_eq!(netmask_of_prefix(9), Some(ip("255.128.0.0")));
        assert_eq!(netmask_of_prefix(33), None);
    }

    #[test]
    fn a_broken_rule_is_a_value_to_match_on() {
        let e = Config::default().validate().unwrap_err();
        assert_eq!((e.interface, e.rule), (None, Rule::NoInterfaces));
        let mut interface = static_on(tap("tap0"), "10.0.0.2", None);
        interface.mtu = Some(10);
        let config = Config {
            interfaces: vec![interface],
            ..Config::default()
        };
        let e = config.validate().unwrap_err();
        assert_eq!((e.interface, e.rule), (Some(0), Rule::Mtu { mtu: 10 }));
    }
}
