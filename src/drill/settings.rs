//! What a run is set up with: packetdrill's command-line options (given to
//! lwip-drill) and a script's own header options, which win. Addresses
//! default to packetdrill's: the stack at 192.168.0.2/16 behind gateway
//! 192.168.0.1, the remote end at 192.0.2.1 (TEST-NET-1); for IPv6 the
//! stack at fd3d:fa7b:d17d::2 and the remote end at 2001:db8::1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::target::Addresses;

/// The stack a script runs against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TargetKind {
    /// The lwIP compiled into this crate, in process, on a virtual clock.
    #[default]
    Lwip,
    /// The Linux kernel of this machine, in a network namespace of the
    /// process, on the real clock (packetdrill's local mode).
    Linux,
}

/// The options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub target: TargetKind,
    pub(crate) addresses: Addresses,
    /// `--init_scripts`: shell commands run before the script (Linux
    /// only), each with the script line that gave it (0: the command line).
    pub init_scripts: Vec<(String, u32)>,
    /// How far an event's time may be off, at least.
    pub tolerance_usecs: i64,
    /// How far, as a share of the time since the previous event, if more.
    pub tolerance_percent: f64,
    /// The port `bind(..., ...)` binds to and inbound connections go to.
    pub bind_port: u16,
    /// The port `connect(..., ...)` connects to.
    pub connect_port: u16,
    /// A pcapng file of every frame of the run.
    pub pcap: Option<PathBuf>,
    /// Log each event as it happens.
    pub verbose: bool,
}

/// The options as given on the command line, before a script's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// `--name=value` (or `--name value`) pairs, packetdrill's names.
    pub values: Vec<(String, String)>,
    /// `-D NAME=VALUE` definitions.
    pub defines: Vec<(String, String)>,
    pub target: TargetKind,
    pub pcap: Option<PathBuf>,
    pub verbose: bool,
}

/// The options lwip-drill reads, packetdrill's names.
pub const KNOWN: &[&str] = &[
    "ip_version",
    "local_ip",
    "remote_ip",
    "gateway_ip",
    "netmask_ip",
    "mtu",
    "tolerance_usecs",
    "tolerance_percent",
    "bind_port",
    "connect_port",
    "init_scripts",
    "define",
];

impl Settings {
    /// Settings from `options` then `header` (a script's `--name=value`
    /// lines, with their line numbers). An error names the option and
    /// what is wrong; an option lwip-drill does not know is `Err` with
    /// `unknown` set.
    pub(crate) fn resolve(
        options: &Options,
        header: &[(String, Option<String>, u32)],
    ) -> Result<Settings, OptionError> {
        let mut version = "ipv4".to_string();
        let mut local = None;
        let mut remote = None;
        let mut remote_prefix = None;
        let mut init_scripts = Vec::new();
        let mut gateway = None;
        let mut netmask = None;
        let mut mtu = 1500u32;
        let mut tolerance_usecs = 4000i64;
        let mut tolerance_percent = 12.5f64;
        let mut bind_port = 8080u16;
        let mut connect_port = 8080u16;
        let given = options
            .values
            .iter()
            .map(|(n, v)| (n.clone(), Some(v.clone()), 0))
            .chain(header.iter().cloned());
        for (name, value, line) in given {
            let text = value.clone().unwrap_or_default();
            let bad = |what: &str| OptionError {
                line,
                message: format!("--{name}={text}: {what}"),
                unknown: false,
            };
            match name.as_str() {
                "ip_version" => match text.as_str() {
                    "ipv4" | "ipv6" => version = text.clone(),
                    "ipv4-mapped-ipv6" => {
                        return Err(OptionError {
                            line,
                            message: "option --ip_version=ipv4-mapped-ipv6".into(),
                            unknown: true,
                        })
                    }
                    _ => return Err(bad("expected ipv4 or ipv6")),
                },
                "local_ip" => local = Some(address(&text).ok_or_else(|| bad("not an IP address"))?),
                "remote_ip" => {
                    let addr = address(&text).ok_or_else(|| bad("not an IP address"))?;
                    let most = if addr.is_ipv6() { 128 } else { 32 };
                    remote_prefix = Some(match text.split_once('/') {
                        Some((_, len)) => len
                            .parse()
                            .ok()
                            .filter(|len| *len <= most)
                            .ok_or_else(|| bad("not a prefix length"))?,
                        None => most,
                    });
                    remote = Some(addr);
                }
                "gateway_ip" => {
                    gateway = Some(address(&text).ok_or_else(|| bad("not an IP address"))?)
                }
                "netmask_ip" => {
                    netmask = Some(
                        text.parse::<Ipv4Addr>()
                            .map_err(|_| bad("not an IPv4 netmask"))?,
                    )
                }
                "mtu" => {
                    mtu = text
                        .parse()
                        .ok()
                        .filter(|m| crate::config::MTU_RANGE.contains(m))
                        .ok_or_else(|| bad("expected an MTU from 68 to 65521"))?
                }
                "tolerance_usecs" => {
                    tolerance_usecs = text.parse().map_err(|_| bad("expected microseconds"))?
                }
                "tolerance_percent" => {
                    tolerance_percent = text.parse().map_err(|_| bad("expected a percentage"))?
                }
                "bind_port" => bind_port = text.parse().map_err(|_| bad("expected a port"))?,
                "connect_port" => {
                    connect_port = text.parse().map_err(|_| bad("expected a port"))?
                }
                // Shell scripts run before the script, comma-separated (the
                // lwIP target reports them as skipped: they tune another OS).
                "init_scripts" => init_scripts.extend(
                    text.split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| (s.to_string(), line)),
                ),
                "define" => {}
                other => {
                    return Err(OptionError {
                        line,
                        message: format!("option --{other}"),
                        unknown: true,
                    })
                }
            }
        }
        let ipv6 = version == "ipv6";
        let local = local.unwrap_or(if ipv6 {
            IpAddr::V6(Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0, 0, 0, 0, 2))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 2))
        });
        let remote = remote.unwrap_or(if ipv6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        });
        let default_gateway = if ipv6 {
            IpAddr::V6(Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0x8888, 0, 0, 0, 0))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))
        };
        let gateway = match gateway {
            Some(gateway) => gateway,
            // A script may give the stack the default gateway's own address
            // (--local_ip=192.168.0.1), which Linux takes; lwIP cannot be
            // its own gateway, so the gateway moves to the next address (the
            // runner answers for every address but the stack's anyway).
            None if default_gateway == local => match local {
                IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(1))),
                IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(1))),
            },
            None => default_gateway,
        };
        if local.is_ipv6() != ipv6 || remote.is_ipv6() != ipv6 {
            return Err(OptionError {
                line: 0,
                message: format!(
                    "--local_ip={local} and --remote_ip={remote} must both be {}",
                    if ipv6 {
                        "IPv6 (--ip_version=ipv6)"
                    } else {
                        "IPv4 (or give --ip_version=ipv6)"
                    }
                ),
                unknown: false,
            });
        }
        Ok(Settings {
            target: options.target,
            addresses: Addresses {
                local,
                remote,
                remote_prefix: remote_prefix.unwrap_or(if ipv6 { 32 } else { 24 }),
                gateway,
                netmask: netmask.unwrap_or(Ipv4Addr::new(255, 255, 0, 0)),
                mtu,
            },
            init_scripts,
            tolerance_usecs,
            tolerance_percent,
            bind_port,
            connect_port,
            pcap: options.pcap.clone(),
            verbose: options.verbose,
        })
    }
}

/// An address, with a `/prefix` allowed after it (packetdrill's default
/// remote address is written `192.0.2.1/24`).
fn address(text: &str) -> Option<IpAddr> {
    text.split('/').next()?.parse().ok()
}

/// What is wrong with an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionError {
    /// The script line, 0 for the command line.
    pub line: u32,
    pub message: String,
    /// An option lwip-drill does not act on (the script is skipped).
    pub unknown: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_at_the_default_gateways_address_gets_another_gateway() {
        let header = [("local_ip".to_string(), Some("192.168.0.1".to_string()), 1)];
        let settings = Settings::resolve(&Options::default(), &header).unwrap();
        assert_eq!(
            settings.addresses.local,
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))
        );
        assert_eq!(
            settings.addresses.gateway,
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 2))
        );
        let settings = Settings::resolve(&Options::default(), &[]).unwrap();
        assert_eq!(
            settings.addresses.gateway,
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))
        );
    }
}
