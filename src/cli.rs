//! The command line: clap for the flags, and a small pure parser for the
//! original's `-i key=value[,key=value…]` interface specs. It only parses:
//! the result is a library [`Config`], checked by the library's own rules
//! (reported here with the `-i` argument they concern), before any device is
//! touched.

use std::collections::HashSet;
use std::ffi::OsString;
use std::net::Ipv4Addr;

use clap::{Arg, ArgAction, ArgMatches};

use crate::config::{Addressing, Config, DeviceConfig, InterfaceConfig, Services};
use crate::error::Error;

/// The keys `-i` accepts.
const KEYS: &str = "name, addr, netmask, gw, mtu or offload";

/// What to run, as parsed from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub config: Config,
    /// Log lwIP's statistics when exiting.
    pub stats: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Options),
    /// Print this text to stdout and exit 0 (`-h`, `--version`).
    Help(String),
}

fn command() -> clap::Command {
    clap::Command::new("lwip-tap")
        .about("Runs the lwIP TCP/IP stack in user space on Linux TAP devices")
        .override_usage(
            "lwip-tap -i name=TAP,addr=A,netmask=M,gw=G [-i ...] [-E] [-C] [-H] [-s] [-d] [-h]",
        )
        .after_help(
            "Without name= a transient TAP is created (gw= is then its host-side address) and \
             removed on exit.\nWithout addr/netmask/gw the interface is configured by DHCP.\n\
             Several -i make lwip-tap a router between them.",
        )
        .disable_version_flag(true)
        .arg(
            Arg::new("interface")
                .short('i')
                .value_name("name=TAP,addr=A,netmask=M,gw=G,mtu=N")
                .action(ArgAction::Append)
                .allow_hyphen_values(false)
                .help("Add an interface (repeatable; the first is the default route)"),
        )
        .arg(flag("echo", 'E', "Echo server on TCP and UDP port 7"))
        .arg(flag("chargen", 'C', "Character generator on TCP port 19"))
        .arg(flag("http", 'H', "HTTP server on TCP port 80"))
        .arg(flag("iperf", 's', "iperf2 server on TCP port 5001"))
        .arg(flag(
            "debug",
            'd',
            "Print lwIP's debug output (needs a `--features debug` build)",
        ))
        .arg(
            Arg::new("stats")
                .long("stats")
                .action(ArgAction::SetTrue)
                .help("Log lwIP's memory and protocol statistics on exit (SIGUSR1: at any time)"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print lwip-tap's and lwIP's versions, where lwIP came from and its key options"),
        )
}

fn flag(name: &'static str, short: char, help: &'static str) -> Arg {
    Arg::new(name)
        .short(short)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

/// Parses the whole command line (including argv[0]).
pub fn parse<I, T>(args: I) -> Result<Invocation, Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cmd = command();
    let matches = match cmd.try_get_matches_from_mut(args) {
        Ok(m) => m,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            return Ok(Invocation::Help(cmd.render_help().to_string()));
        }
        Err(e) => return Err(Error::Usage(one_line(&e))),
    };
    if matches.get_flag("version") {
        return Ok(Invocation::Help(crate::version::text()));
    }
    options(&matches, &mut cmd).map(Invocation::Run)
}

/// clap's error without its multi-line usage footer.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (see lwip-tap -h)")
}

fn options(matches: &ArgMatches, cmd: &mut clap::Command) -> Result<Options, Error> {
    let specs: Vec<&String> = matches
        .get_many::<String>("interface")
        .map(|v| v.collect())
        .unwrap_or_default();
    if specs.is_empty() {
        return Err(Error::Usage(format!(
            "no interface given; add at least one -i\n{}",
            cmd.render_usage()
        )));
    }
    let mut interfaces = Vec::with_capacity(specs.len());
    for text in &specs {
        interfaces
            .push(parse_interface(text).map_err(|e| Error::Usage(format!("-i '{text}': {e}")))?);
    }
    let config = Config {
        interfaces,
        services: Services {
            echo: matches.get_flag("echo"),
            chargen: matches.get_flag("chargen"),
            http: matches.get_flag("http"),
            iperf: matches.get_flag("iperf"),
        },
        lwip_debug: matches.get_flag("debug"),
    };
    config.validate().map_err(|e| {
        Error::Usage(match e.interface {
            Some(n) => format!("-i '{}': {}", specs[n], e.message),
            None => e.message,
        })
    })?;
    Ok(Options {
        config,
        stats: matches.get_flag("stats"),
    })
}

/// The keys of one `-i` value as given, before they mean anything.
#[derive(Default)]
struct Keys {
    name: Option<String>,
    addr: Option<Ipv4Addr>,
    netmask: Option<Ipv4Addr>,
    gw: Option<Ipv4Addr>,
    mtu: Option<u32>,
    offload: Option<bool>,
}

/// Parses one `-i` value, e.g. `name=tap0,addr=172.16.0.2,netmask=255.255.255.0`,
/// into a checked interface. Spaces around keys and values are ignored, as
/// the original does. Without `name=` the interface is a transient TAP whose
/// host side gets `gw=`.
pub fn parse_interface(text: &str) -> Result<InterfaceConfig, String> {
    let mut keys = Keys::default();
    let mut seen = HashSet::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err("empty key=value pair".into());
        }
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("'{item}' is not key=value (keys: {KEYS})"))?;
        let (key, value) = (key.trim(), value.trim());
        if !seen.insert(key.to_string())
            && matches!(key, "name" | "addr" | "netmask" | "gw" | "mtu" | "offload")
        {
            return Err(format!("{key}= is given more than once"));
        }
        if value.is_empty() {
            return Err(format!("{key}= has an empty value"));
        }
        match key {
            "name" => {
                crate::config::check_name(value)?;
                keys.name = Some(value.to_string());
            }
            "addr" => keys.addr = Some(parse_ipv4(key, value)?),
            "netmask" => keys.netmask = Some(parse_netmask(value)?),
            "gw" => keys.gw = Some(parse_ipv4(key, value)?),
            "mtu" => keys.mtu = Some(parse_mtu(value)?),
            "offload" => keys.offload = Some(parse_on_off(key, value)?),
            _ => return Err(format!("unknown key '{key}' (keys: {KEYS})")),
        }
    }
    let interface = keys.into_config()?;
    interface.validate()?;
    Ok(interface)
}

impl Keys {
    /// What the keys mean: DHCP without addresses, a transient TAP without
    /// a name (whose host side is the gateway).
    fn into_config(self) -> Result<InterfaceConfig, String> {
        let addressing = match (self.addr, self.netmask, self.gw) {
            (None, None, None) => Addressing::Dhcp,
            (Some(addr), Some(netmask), gw) => Addressing::Static { addr, netmask, gw },
            (None, _, _) => {
                return Err("netmask= and gw= need addr= (or omit all three for DHCP)".into())
            }
            (Some(_), None, _) => return Err("addr= needs netmask=".into()),
        };
        let device = match (self.name, addressing) {
            (Some(name), _) => DeviceConfig::Tap { name },
            (None, Addressing::Static { gw: Some(host), .. }) => {
                DeviceConfig::TransientTap { host }
            }
            (None, Addressing::Static { gw: None, .. }) => {
                return Err(
                    "a transient TAP (no name=) needs gw=, the address of its host side".into(),
                )
            }
            // A transient TAP's host side needs an address to be useful,
            // and there is no DHCP server behind it to lease one from.
            (None, Addressing::Dhcp) => {
                return Err("a transient TAP (no name=) needs addr=, netmask= and gw= \
                            (gw= becomes its host-side address); give name= to use DHCP"
                    .into())
            }
        };
        Ok(InterfaceConfig {
            device,
            addressing,
            mtu: self.mtu,
            offload: self.offload,
        })
    }
}

fn parse_mtu(value: &str) -> Result<u32, String> {
    let range = crate::config::MTU_RANGE;
    match value.parse::<u32>() {
        Ok(mtu) if range.contains(&mtu) => Ok(mtu),
        _ => Err(format!(
            "mtu={value} is not a number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

fn parse_on_off(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{key}={value}: expected on or off")),
    }
}

fn parse_ipv4(key: &str, value: &str) -> Result<Ipv4Addr, String> {
    value
        .parse()
        .map_err(|_| format!("{key}='{value}' is not an IPv4 address (a.b.c.d, each 0-255)"))
}

fn parse_netmask(value: &str) -> Result<Ipv4Addr, String> {
    let mask = parse_ipv4("netmask", value)?;
    if !crate::config::is_contiguous(mask) {
        return Err(format!(
            "netmask={value} is not contiguous (like 255.255.255.0)"
        ));
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MAX_INTERFACES;

    fn run(args: &[&str]) -> Result<Options, Error> {
        let mut full = vec!["lwip-tap"];
        full.extend_from_slice(args);
        match parse(full)? {
            Invocation::Run(o) => Ok(o),
            Invocation::Help(_) => panic!("unexpected help"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match run(args) {
            Err(Error::Usage(msg)) => msg,
            other => panic!("expected a usage error for {args:?}, got {other:?}"),
        }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn full_static_spec() {
        let spec = parse_interface("name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1")
            .unwrap();
        assert_eq!(spec.device.name(), Some("tap0"));
        assert_eq!(
            spec.addressing,
            Addressing::Static {
                addr: ip("172.16.0.2"),
                netmask: ip("255.255.255.0"),
                gw: Some(ip("172.16.0.1"))
            }
        );
    }

    #[test]
    fn spaces_around_keys_and_values_are_ignored() {
        let spec =
            parse_interface(" name = tap0 , addr= 10.0.0.2,netmask =255.0.0.0 ,gw=10.0.0.1 ")
                .unwrap();
        assert_eq!(spec.device.name(), Some("tap0"));
        assert_eq!(
            spec.addressing,
            Addressing::Static {
                addr: ip("10.0.0.2"),
                netmask: ip("255.0.0.0"),
                gw: Some(ip("10.0.0.1"))
            }
        );
    }

    #[test]
    fn keys_in_any_order() {
        let spec = parse_interface("addr=172.16.0.3,netmask=255.255.255.0,gw=172.16.0.1,name=tap2")
            .unwrap();
        assert_eq!(spec.device.name(), Some("tap2"));
        assert!(
            matches!(spec.addressing, Addressing::Static { addr, .. } if addr == ip("172.16.0.3"))
        );
    }

    #[test]
    fn name_only_means_dhcp() {
        let spec = parse_interface("name=tap0").unwrap();
        assert_eq!(spec.addressing, Addressing::Dhcp);
    }

    #[test]
    fn gateway_is_optional_on_a_named_tap() {
        let spec = parse_interface("name=tap1,addr=172.16.1.1,netmask=255.255.255.0").unwrap();
        assert_eq!(
            spec.addressing,
            Addressing::Static {
                addr: ip("172.16.1.1"),
                netmask: ip("255.255.255.0"),
                gw: None
            }
        );
    }

    #[test]
    fn transient_tap_spec() {
        let spec = parse_interface("addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1").unwrap();
        assert_eq!(
            spec.device,
            DeviceConfig::TransientTap {
                host: ip("172.16.0.1")
            }
        );
    }

    #[test]
    fn mtu_key() {
        let spec = parse_interface("name=tap0,mtu=65000").unwrap();
        assert_eq!(spec.mtu, Some(65000));
        assert_eq!(parse_interface("name=tap0,mtu=68").unwrap().mtu, Some(68));
        assert_eq!(
            parse_interface("name=tap0,mtu=65521").unwrap().mtu,
            Some(65521)
        );
        for bad in ["67", "65522", "-1", "1500.0", "big", "99999999999"] {
            let e = parse_interface(&format!("name=tap0,mtu={bad}")).unwrap_err();
            assert!(e.contains("68 to 65521"), "{bad}: {e}");
        }
        assert!(parse_interface("name=tap0,mtu=1500,mtu=9000")
            .unwrap_err()
            .contains("more than once"));
    }

    #[test]
    fn offload_key() {
        assert_eq!(
            parse_interface("name=t,offload=off").unwrap().offload,
            Some(false)
        );
        assert_eq!(
            parse_interface("name=t,offload=on").unwrap().offload,
            Some(true)
        );
        assert_eq!(parse_interface("name=t").unwrap().offload, None);
        let e = parse_interface("name=t,offload=yes").unwrap_err();
        assert!(e.contains("expected on or off"), "{e}");
        let e = usage_error(&["-i", "name=a,offload=on", "-i", "name=b"]);
        assert!(e.contains("offload=on (a) needs a single interface"), "{e}");
        assert!(run(&["-i", "name=a,offload=off", "-i", "name=b"]).is_ok());
    }

    #[test]
    fn rejects_unknown_key() {
        let e = parse_interface("name=tap0,mac=1").unwrap_err();
        assert!(e.contains("unknown key 'mac'"), "{e}");
    }

    #[test]
    fn rejects_duplicate_key() {
        let e = parse_interface("name=tap0,name=tap1").unwrap_err();
        assert!(e.contains("name= is given more than once"), "{e}");
        let e =
            parse_interface("name=tap0,addr=1.2.3.4,addr=1.2.3.5,netmask=255.0.0.0").unwrap_err();
        assert!(e.contains("addr= is given more than once"), "{e}");
    }

    #[test]
    fn rejects_empty_value_and_missing_equals() {
        assert!(parse_interface("name=")
            .unwrap_err()
            .contains("empty value"));
        assert!(parse_interface("name=tap0,addr= ")
            .unwrap_err()
            .contains("empty value"));
        assert!(parse_interface("name")
            .unwrap_err()
            .contains("not key=value"));
        assert!(parse_interface("name=tap0,,addr=1.2.3.4")
            .unwrap_err()
            .contains("empty"));
        assert!(parse_interface("").unwrap_err().contains("empty"));
    }

    #[test]
    fn rejects_malformed_and_out_of_range_addresses() {
        for bad in [
            "1.2.3",
            "256.1.1.1",
            "1.2.3.4.5",
            "a.b.c.d",
            "1.2.3.-4",
            "::1",
        ] {
            let e = parse_interface(&format!("name=tap0,addr={bad},netmask=255.255.255.0"))
                .unwrap_err();
            assert!(
                e.contains(&format!("addr='{bad}' is not an IPv4 address")),
                "{e}"
            );
        }
        let e =
            parse_interface("name=tap0,addr=10.0.0.2,netmask=255.0.0.0,gw=10.0.0.300").unwrap_err();
        assert!(e.contains("gw='10.0.0.300'"), "{e}");
    }

    #[test]
    fn rejects_non_contiguous_netmask() {
        for bad in [
            "255.0.255.0",
            "255.255.255.1",
            "0.255.255.255",
            "254.255.255.0",
        ] {
            let e = parse_interface(&format!("name=tap0,addr=10.0.0.2,netmask={bad}")).unwrap_err();
            assert!(e.contains("not contiguous"), "{bad}: {e}");
        }
        for good in [
            "255.255.255.255",
            "255.255.255.254",
            "255.255.255.0",
            "255.128.0.0",
            "128.0.0.0",
        ] {
            assert!(parse_netmask(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        let e = parse_interface("name=abcdefghijklmnop").unwrap_err();
        assert!(e.contains("too long"), "{e}");
        assert!(
            parse_interface("name=abcdefghijklmno").is_ok(),
            "15 characters fit"
        );
        for bad in ["a/b", "a:b", "a b", ".", ".."] {
            let e = parse_interface(&format!("name={bad}")).unwrap_err();
            assert!(e.contains("name"), "{bad}: {e}");
        }
    }

    #[test]
    fn rejects_incomplete_addressing() {
        assert!(parse_interface("name=tap0,addr=10.0.0.2")
            .unwrap_err()
            .contains("needs netmask"));
        assert!(parse_interface("name=tap0,netmask=255.0.0.0")
            .unwrap_err()
            .contains("need addr"));
        assert!(parse_interface("name=tap0,gw=10.0.0.1")
            .unwrap_err()
            .contains("need addr"));
        let e = parse_interface("addr=10.0.0.2,netmask=255.0.0.0").unwrap_err();
        assert!(e.contains("transient TAP"), "{e}");
        let e = parse_interface("addr=10.0.0.2").unwrap_err();
        assert!(e.contains("netmask"), "{e}");
    }

    #[test]
    fn rejects_inconsistent_addresses() {
        let e =
            parse_interface("name=t,addr=10.0.0.2,netmask=255.255.255.0,gw=10.0.1.1").unwrap_err();
        assert!(e.contains("outside 10.0.0.0/24"), "{e}");
        let e =
            parse_interface("name=t,addr=10.0.0.2,netmask=255.255.255.0,gw=10.0.0.2").unwrap_err();
        assert!(e.contains("same as addr"), "{e}");
        let e = parse_interface("name=t,addr=10.0.0.0,netmask=255.255.255.0").unwrap_err();
        assert!(e.contains("network or broadcast"), "{e}");
        let e = parse_interface("name=t,addr=10.0.0.255,netmask=255.255.255.0").unwrap_err();
        assert!(e.contains("network or broadcast"), "{e}");
    }

    #[test]
    fn transient_tap_without_addresses_is_refused() {
        let e = usage_error(&["-i", "addr=10.0.0.2,netmask=255.0.0.0"]);
        assert!(e.contains("gw="), "{e}");
    }

    #[test]
    fn command_line_with_flags_in_any_order() {
        let o = run(&["-E", "-i", "name=tap0", "-H", "-i", "name=tap1", "-C", "-s"]).unwrap();
        assert_eq!(o.config.interfaces.len(), 2);
        assert_eq!(o.config.interfaces[0].device.name(), Some("tap0"));
        assert_eq!(o.config.interfaces[1].device.name(), Some("tap1"));
        let s = o.config.services;
        assert!(s.echo && s.chargen && s.http && s.iperf && !o.config.lwip_debug && !o.stats);
        let o = run(&["--stats", "-i", "name=tap0"]).unwrap();
        assert!(o.stats && !o.config.services.echo);
    }

    #[test]
    fn same_name_twice_is_refused() {
        let e = usage_error(&["-i", "name=tap0", "-i", "name=tap0"]);
        assert!(e.contains("tap0 is given more than once"), "{e}");
    }

    #[test]
    fn errors_name_the_bad_argument_in_one_line() {
        let e = usage_error(&["-i", "name=tap0,addr=1.2.3.4.5,netmask=255.0.0.0"]);
        assert!(
            e.starts_with("-i 'name=tap0,addr=1.2.3.4.5,netmask=255.0.0.0': "),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = usage_error(&["-i", "name=tap0", "-x"]);
        assert!(e.contains("'-x'"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = usage_error(&["-i", "name=tap0", "stray"]);
        assert!(e.contains("'stray'"), "{e}");
        let e = usage_error(&["-i"]);
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn no_interface_prints_usage() {
        let e = usage_error(&[]);
        assert!(e.contains("no interface given"), "{e}");
        assert!(e.contains("Usage:"), "{e}");
    }

    #[test]
    fn help_is_not_an_error() {
        match parse(["lwip-tap", "-h"]).unwrap() {
            Invocation::Help(text) => assert!(text.contains("-i <name=TAP")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn interface_limit_is_lwips() {
        let mut args: Vec<String> = vec!["lwip-tap".into()];
        for n in 0..MAX_INTERFACES {
            args.push("-i".into());
            args.push(format!("name=t{n}"));
        }
        assert!(
            matches!(parse(args.clone()), Ok(Invocation::Run(o)) if o.config.interfaces.len() == MAX_INTERFACES)
        );
        args.push("-i".into());
        args.push("name=one-too-many".into());
        match parse(args) {
            Err(Error::Usage(msg)) => assert!(msg.contains("at most 255"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
