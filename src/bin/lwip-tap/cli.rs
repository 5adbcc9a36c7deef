//! The command line: clap for the flags, and a small pure parser for the
//! original's `-i key=value[,key=value…]` interface specs. It only parses:
//! the result is a library [`Config`], checked by the library's own rules
//! (reported here with the `-i` argument they concern), before any device is
//! touched.

use std::collections::HashSet;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches};
use log::LevelFilter;

use lwip_tap::config::{
    Addressing, CaptureConfig, ClientConfig, Config, DeviceConfig, Impairment, Impairments,
    InterfaceConfig, Ipv6Config, Percent, ReadyConfig, Rule, Services, StatsFormat, TftpConfig,
    IPV6_PREFIX_LEN, MAX_DELAY, MIN_RATE, SNAPLEN_RANGE,
};
use lwip_tap::sandbox::{SandboxConfig, SeccompMode, DEFAULT_USER};
use lwip_tap::Error;

/// The keys `-i` accepts.
const KEYS: &str =
    "name, addr, netmask, gw, autoip, addr6, gw6, slaac, dns, mtu, offload, pcap, snaplen, \
                    loss, corrupt, dup, reorder, delay, jitter, rate or max-frame \
                    (each of the last eight also with -in or -out)";

/// The highest rate limit, in Mbit/s.
const MAX_RATE_MBITS: f64 = 100_000.0;

/// What to run, as parsed from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub config: Config,
    /// Log lwIP's statistics when exiting.
    pub stats: bool,
    /// What the process gives up once set up (`-Z`, `--seccomp`).
    pub sandbox: SandboxConfig,
    /// The log level of `-q`, `-v` or `--log-level`; `None` leaves it to
    /// `RUST_LOG` (info by default).
    pub log_level: Option<LevelFilter>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Box<Options>),
    /// Print this text to stdout and exit 0 (`-h`, `--help`, `--version`,
    /// `--completions`, `--man`).
    Help(String),
}

/// The usage line of `-h`, `--help` and a missing `-i`: every option.
const USAGE: &str = "lwip-tap -i name=TAP,addr=A[/LEN],netmask=M,gw=G[,KEY=VALUE...] [-i ...]
         [-E] [-C] [-H] [-s] [--mdns NAME] [--tftp DIR [--tftp-write]] [--snmp COMMUNITY]
         [--ping ADDR [--count N] [--interval S]] [--iperf-client ADDR[:PORT] [--time S]]
         [--resolve NAME] [--sntp ADDR] [--mqtt-publish URL MSG] [--mqtt-subscribe URL [--time S]]
         [-Z USER] [--seccomp on|off|required] [--stats[=json]] [--ready-file PATH] [--seed N]
         [--busy-poll] [-q | -v | --log-level LEVEL] [-d] [-V] [-h | --help]";

/// What `-h` says after the options: every key of `-i`, in short.
const KEYS_HELP: &str = "\
Interface keys (-i KEY=VALUE,KEY=VALUE,...: commas between keys, no spaces):
  name=TAP  addr=A[/LEN]  netmask=M  gw=G  autoip=on|off  addr6=A6[/64]  gw6=R6  slaac=on|off
  dns=ADDR  mtu=N  offload=on|off  pcap=FILE  snaplen=N
  loss=PCT  corrupt=PCT  dup=PCT  reorder=PCT  delay=MS  jitter=MS  rate=MBIT  max-frame=BYTES
    impair both ways; KEY-in= (into lwIP) or KEY-out= (from lwIP) one way: loss=20 drops a
    ping's request or its reply (~36 % of pings lost), loss-in=20 loses 20 %
--help explains each key and option.";

/// What `--help` says after the options.
const LONG_HELP: &str = "\
Interface keys (-i KEY=VALUE,KEY=VALUE,...: commas between keys, no spaces; each key once,
except addr6):
  name=TAP         an existing TAP to attach to; without it a transient TAP is created and
                   removed on exit (gw= and gw6= are then its host-side addresses)
  addr=A[/LEN]     lwIP's IPv4 address; with /LEN, netmask= is not needed
  netmask=M        its netmask (contiguous, like 255.255.255.0)
  gw=G             the IPv4 gateway
                   Without addr, netmask and gw, DHCP configures the interface (needs name=),
                   unless it has addr6= (IPv6 only).
  autoip=on|off    with DHCP: take a 169.254/16 address (AutoIP, RFC 3927) while no DHCP
                   server answers (default off)
  addr6=A6[/64]    a static IPv6 address (repeatable); every interface also has a link-local one
  gw6=R6           a static IPv6 default router
  slaac=on|off     form addresses from router advertisements (default on)
  dns=ADDR         a DNS server for lwIP's DNS client (IPv4 or IPv6; up to 2 in all -i, asked
                   in turn); a DHCP lease's DNS servers replace them
  mtu=N            the TAP's MTU, 68-65521
  offload=on|off   receive offload (default: on with one interface, off on a router or when
                   impaired)
  pcap=FILE        capture every frame lwIP receives and sends into this pcapng file
  snaplen=N        bytes of each frame captured, 1-65535 (default 65535)
  loss=PCT, corrupt=PCT, dup=PCT, reorder=PCT
                   frames dropped, damaged, delivered twice, held behind the next (0-100)
  delay=MS, jitter=MS
                   each frame held back delay +- up to jitter ms (jitter <= delay <= 60000)
  rate=MBIT        a rate limit in Mbit/s; max-frame=BYTES: longer frames are dropped
                   Impairment keys apply both ways: loss=20 drops a ping's request or its reply,
                   so about 36 % of pings go unanswered. KEY-in= (frames into lwIP) or KEY-out=
                   (frames lwIP sends) set one way and win over the plain key: loss-in=20 loses
                   20 % of pings.
Several -i make lwip-tap a router between them; no two may have the same address.
Clients (--ping, --iperf-client, --resolve, each repeatable, and --sntp) all start at once, each \
when lwIP has a route to its target (after a DHCP lease, say). Without -E/-C/-H/-s lwip-tap exits when they are done: \
status 0 if every client succeeded (a ping with at least one reply, an iperf test that ran its \
time and had its data acknowledged, a name with an A or AAAA record, a valid SNTP answer), 1 if \
not. With a service it keeps running until stopped, \
and the exit status still says how the clients did.
Started as root, lwip-tap sets everything up, then runs as nobody (or -Z USER) with no \
capabilities, no_new_privs and a seccomp filter; -Z root keeps root.
Logs go to stderr at info; -q, -v and --log-level set the level, else RUST_LOG does (like \
RUST_LOG=debug or RUST_LOG=warn,lwip_tap::apps=debug).
Bad arguments: one line on stderr, exit status 2. Shell completion: lwip-tap --completions \
bash|zsh|fish|elvish|powershell; a man page: lwip-tap --man.";

fn command() -> clap::Command {
    clap::Command::new("lwip-tap")
        // For the man page; -V prints its own text.
        .version(env!("CARGO_PKG_VERSION"))
        .about("Runs the lwIP TCP/IP stack in user space on Linux TAP devices")
        .override_usage(USAGE)
        .after_help(KEYS_HELP)
        .after_long_help(LONG_HELP)
        .disable_version_flag(true)
        .arg(
            Arg::new("interface")
                .short('i')
                .value_name("name=TAP,addr=A[/LEN],...")
                .action(ArgAction::Append)
                .allow_hyphen_values(false)
                .help("Add an interface (repeatable; the first is the default route)"),
        )
        .arg(flag("echo", 'E', "Echo server on TCP and UDP port 7"))
        .arg(flag("chargen", 'C', "Character generator on TCP port 19"))
        .arg(flag("http", 'H', "HTTP server on TCP port 80"))
        .arg(flag("iperf", 's', "iperf2 server on TCP port 5001"))
        .arg(
            Arg::new("mdns")
                .long("mdns")
                .value_name("NAME")
                .help("Answer mDNS for NAME.local on every interface and announce the services")
                .long_help(
                    "Run lwIP's mDNS responder on every interface (at most 8): it answers for \
                     NAME.local (one label of letters, digits and '-') with the interface's \
                     addresses, and announces the services that run as NAME._echo._tcp, \
                     NAME._echo._udp, NAME._chargen._tcp, NAME._http._tcp and NAME._iperf._tcp",
                ),
        )
        .arg(
            Arg::new("tftp")
                .long("tftp")
                .value_name("DIR")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .help("TFTP server (UDP port 69) for the files beneath DIR, read-only")
                .long_help(
                    "TFTP server on UDP port 69 serving the files beneath DIR (octet mode, one \
                     transfer at a time); read-only unless --tftp-write",
                ),
        )
        .arg(
            Arg::new("tftp-write")
                .long("tftp-write")
                .action(ArgAction::SetTrue)
                .help("Let TFTP clients write files beneath DIR too")
                .long_help("Let TFTP clients write files too (created or replaced, beneath DIR)"),
        )
        .arg(
            Arg::new("snmp")
                .long("snmp")
                .value_name("COMMUNITY")
                .help("SNMP agent (UDP port 161): MIB-2, v1/v2c, read-only, for COMMUNITY")
                .long_help(
                    "lwIP's SNMP agent on UDP port 161: MIB-2 (system, interfaces, ip, icmp, tcp, \
                     udp, snmp) over SNMPv1 and v2c, read-only; requests with another community, \
                     and every SET, get no answer",
                ),
        )
        .arg(
            Arg::new("ping")
                .long("ping")
                .value_name("ADDR")
                .action(ArgAction::Append)
                .help("Send ICMP echo requests to ADDR and log each round trip and the loss"),
        )
        .arg(
            Arg::new("count")
                .long("count")
                .value_name("N")
                .allow_negative_numbers(true)
                .help("Echo requests of each --ping (default 5)"),
        )
        .arg(
            Arg::new("interval")
                .long("interval")
                .value_name("SECONDS")
                .allow_negative_numbers(true)
                .help("Seconds between echo requests of a --ping (default 1; fractions allowed)"),
        )
        .arg(
            Arg::new("iperf-client")
                .long("iperf-client")
                .value_name("ADDR[:PORT]")
                .action(ArgAction::Append)
                .help("Run an iperf2 test sending to ADDR (port 5001 by default) and log the report"),
        )
        .arg(
            Arg::new("mqtt-publish")
                .long("mqtt-publish")
                .value_names(["URL", "MSG"])
                .num_args(2)
                .action(ArgAction::Append)
                .help("Publish MSG at URL, mqtt://ADDR[:PORT]/TOPIC (QoS 1); done when acknowledged")
                .long_help(
                    "Publish MSG on TOPIC at the MQTT broker of URL, [mqtt://]ADDR[:PORT]/TOPIC \
                     (port 1883 by default), with QoS 1; done when the broker acknowledges it",
                ),
        )
        .arg(
            Arg::new("mqtt-subscribe")
                .long("mqtt-subscribe")
                .value_name("URL")
                .action(ArgAction::Append)
                .help("Log each MQTT message at URL, mqtt://ADDR[:PORT]/TOPIC (until stopped, or --time)")
                .long_help(
                    "Subscribe to TOPIC (wildcards allowed) at the MQTT broker of URL, \
                     [mqtt://]ADDR[:PORT]/TOPIC (port 1883 by default), and log each message, \
                     until stopped or for --time seconds",
                ),
        )
        .arg(
            Arg::new("time")
                .long("time")
                .value_name("SECONDS")
                .allow_negative_numbers(true)
                .help("Seconds of each --iperf-client (default 10) or --mqtt-subscribe")
                .long_help(
                    "Seconds each --iperf-client sends (default 10; fractions allowed), or each \
                     --mqtt-subscribe listens (default: until stopped)",
                ),
        )
        .arg(
            Arg::new("resolve")
                .long("resolve")
                .value_name("NAME")
                .action(ArgAction::Append)
                .help("Ask lwIP's DNS client for NAME's A and AAAA records and log them"),
        )
        .arg(
            Arg::new("sntp")
                .long("sntp")
                .value_name("ADDR")
                .help("Ask the NTP server ADDR for the time and log the host clock's offset"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_name("N")
                .value_parser(clap::value_parser!(u64))
                .help("Seed of the impairment decisions, to repeat a run (default: random, logged)"),
        )
        .arg(
            Arg::new("busy-poll")
                .long("busy-poll")
                .action(ArgAction::SetTrue)
                .help("Poll for 2 ms after every frame instead of sleeping: lowest latency")
                .long_help(
                    "Poll for 2 ms after every frame instead of sleeping: lowest latency for \
                     sparse traffic, at the cost of a core while traffic flows",
                ),
        )
        .arg(
            Arg::new("user")
                .short('Z')
                .long("user")
                .value_name("USER")
                .help(format!("After setup, run as USER (default: {DEFAULT_USER})"))
                .long_help(user_help())
                .value_parser(clap::builder::NonEmptyStringValueParser::new()),
        )
        .arg(
            Arg::new("seccomp")
                .long("seccomp")
                .value_name("MODE")
                .value_parser(["on", "off", "required"])
                .help("System call filter after setup (default on)")
                .long_help(
                    "System call filter after setup: on (default; a kernel without seccomp gets a \
                     warning), required (that is an error), or off to debug with valgrind, gdb or \
                     strace (a process that gave up root is not dumpable: trace it as root)",
                ),
        )
        .arg(
            Arg::new("stats")
                .long("stats")
                .value_name("FORMAT")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("text")
                .value_parser(["text", "json"])
                .help("Log lwIP's statistics on exit (SIGUSR1: any time); =json: one JSON line on stdout")
                .long_help(
                    "Log lwIP's memory and protocol statistics on exit (SIGUSR1: at any time); \
                     --stats=json prints every counter as one JSON line on stdout instead",
                ),
        )
        .arg(
            Arg::new("ready-file")
                .long("ready-file")
                .value_name("PATH")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .help("Write the ready line into PATH (created empty at start) once lwIP is ready")
                .long_help(
                    "Create PATH empty at start and write the ready line into it once every \
                     address is usable and every service listens",
                ),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .conflicts_with_all(["verbose", "log-level"])
                .help("Log warnings and errors only"),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::Count)
                .conflicts_with("log-level")
                .help("Log more: -v debug, -vv trace"),
        )
        .arg(
            Arg::new("log-level")
                .long("log-level")
                .value_name("LEVEL")
                .value_parser(["off", "error", "warn", "info", "debug", "trace"])
                .help("Log at LEVEL (default info, or what RUST_LOG says)"),
        )
        .arg(flag(
            "debug",
            'd',
            "Print lwIP's debug output (needs a `--features debug` build)",
        ))
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print lwip-tap's and lwIP's versions, where lwIP came from and its key options"),
        )
        .arg(
            Arg::new("completions")
                .long("completions")
                .value_name("SHELL")
                .value_parser(clap::value_parser!(clap_complete::Shell))
                .hide(true)
                .help("Write the completion script of SHELL to stdout"),
        )
        .arg(
            Arg::new("man")
                .long("man")
                .action(ArgAction::SetTrue)
                .hide(true)
                .help("Write the man page (roff) to stdout"),
        )
}

fn user_help() -> String {
    format!(
        "After setup, run as USER instead of root (default: {DEFAULT_USER}); -Z root keeps root \
         and every capability"
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
        // -h or --help: clap renders the short or the long form.
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            return Ok(Invocation::Help(e.render().to_string()));
        }
        Err(e) => return Err(Error::Usage(one_line(&e))),
    };
    if matches.get_flag("version") {
        return Ok(Invocation::Help(lwip_tap::version::text()));
    }
    if let Some(&shell) = matches.get_one::<clap_complete::Shell>("completions") {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "lwip-tap", &mut script);
        return Ok(Invocation::Help(
            String::from_utf8_lossy(&script).into_owned(),
        ));
    }
    if matches.get_flag("man") {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| Error::Usage(format!("--man: {e}")))?;
        return Ok(Invocation::Help(
            String::from_utf8_lossy(&page).into_owned(),
        ));
    }
    options(&matches, &mut cmd).map(|o| Invocation::Run(Box::new(o)))
}

/// clap's error in one line, without its usage footer but with what the
/// footer would have helped with: the values an option takes, or that a
/// stray `KEY=VALUE` belongs after a comma.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let hint = match (err.kind(), err.get(ContextKind::InvalidArg)) {
        (ErrorKind::InvalidValue, _) => match err.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(values)) => format!(": expected {}", alternatives(values)),
            _ => String::new(),
        },
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg)))
            if arg.contains('=') && !arg.starts_with('-') =>
        {
            "; the keys of one -i are separated by commas, not spaces".to_string()
        }
        _ => String::new(),
    };
    format!("{first}{hint} (see lwip-tap -h)")
}

/// `a, b or c`.
fn alternatives(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
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
    let mut dns_servers = Vec::new();
    for text in &specs {
        let (interface, dns) =
            parse_interface_keys(text).map_err(|e| Error::Usage(format!("-i '{text}': {e}")))?;
        interfaces.push(interface);
        dns_servers.extend(dns);
    }
    if matches.get_flag("tftp-write") && !matches.contains_id("tftp") {
        return Err(Error::Usage("--tftp-write needs --tftp DIR".to_string()));
    }
    let config = Config {
        interfaces,
        dns_servers,
        clients: clients(matches)?,
        services: Services {
            echo: matches.get_flag("echo"),
            chargen: matches.get_flag("chargen"),
            http: matches.get_flag("http"),
            iperf: matches.get_flag("iperf"),
        },
        lwip_debug: matches.get_flag("debug"),
        seed: matches.get_one::<u64>("seed").copied(),
        busy_poll: matches.get_flag("busy-poll"),
        stats_format: match matches.get_one::<String>("stats").map(String::as_str) {
            Some("json") => StatsFormat::Json,
            _ => StatsFormat::Text,
        },
        ready: ReadyConfig {
            file: matches.get_one::<std::path::PathBuf>("ready-file").cloned(),
            notify_socket: None,
        },
        mdns: matches.get_one::<String>("mdns").cloned(),
        snmp: matches.get_one::<String>("snmp").cloned(),
        tftp: matches
            .get_one::<std::path::PathBuf>("tftp")
            .map(|dir| TftpConfig {
                dir: dir.clone(),
                write: matches.get_flag("tftp-write"),
            }),
        ..Config::default()
    };
    config.validate().map_err(|e| {
        Error::Usage(match e.interface {
            Some(n) => format!("-i '{}': {}", specs[n], e.rule),
            None => e.rule.to_string(),
        })
    })?;
    let seccomp = match matches.get_one::<String>("seccomp").map(String::as_str) {
        Some("off") => SeccompMode::Off,
        Some("required") => SeccompMode::Required,
        _ => SeccompMode::On,
    };
    Ok(Options {
        config,
        log_level: log_level(matches),
        stats: matches.contains_id("stats"),
        sandbox: SandboxConfig {
            user: matches.get_one::<String>("user").cloned(),
            seccomp,
        },
    })
}

/// The level `-q`, `-v` or `--log-level` asks for (clap lets only one of
/// them through).
fn log_level(matches: &ArgMatches) -> Option<LevelFilter> {
    if matches.get_flag("quiet") {
        return Some(LevelFilter::Warn);
    }
    match matches.get_count("verbose") {
        0 => {}
        1 => return Some(LevelFilter::Debug),
        _ => return Some(LevelFilter::Trace),
    }
    matches
        .get_one::<String>("log-level")
        .and_then(|level| level.parse().ok())
}

/// The clients of `--ping`, `--iperf-client`, `--resolve` and `--sntp`, in
/// that order, with the settings of `--count`, `--interval` and `--time`.
fn clients(matches: &ArgMatches) -> Result<Vec<ClientConfig>, Error> {
    let values = |id: &str| -> Vec<&String> {
        matches
            .get_many::<String>(id)
            .map(|v| v.collect())
            .unwrap_or_default()
    };
    let (pings, iperfs) = (values("ping"), values("iperf-client"));
    let (publishes, subscribes) = (values("mqtt-publish"), values("mqtt-subscribe"));
    let timed: Vec<&String> = iperfs.iter().chain(&subscribes).copied().collect();
    let setting = |id: &str| matches.get_one::<String>(id).map(String::as_str);
    for (id, client, of) in [
        ("count", "--ping", &pings),
        ("interval", "--ping", &pings),
        ("time", "--iperf-client or --mqtt-subscribe", &timed),
    ] {
        if setting(id).is_some() && of.is_empty() {
            return Err(Error::Usage(format!("--{id} needs {client}")));
        }
    }
    let count = match setting("count") {
        Some(value) => parse_count(value).map_err(Error::Usage)?,
        None => ClientConfig::PING_COUNT,
    };
    let interval = match setting("interval") {
        Some(value) => parse_seconds("--interval", value).map_err(Error::Usage)?,
        None => ClientConfig::PING_INTERVAL,
    };
    let time = match setting("time") {
        Some(value) => Some(parse_seconds("--time", value).map_err(Error::Usage)?),
        None => None,
    };
    let duration = time.unwrap_or(ClientConfig::IPERF_TIME);
    let mut clients = Vec::new();
    for target in pings {
        clients.push(ClientConfig::Ping {
            target: parse_ipv4("--ping", target).map_err(Error::Usage)?,
            count,
            interval,
        });
    }
    for server in iperfs {
        clients.push(ClientConfig::Iperf {
            server: parse_server("--iperf-client", server, ClientConfig::IPERF_PORT)
                .map_err(Error::Usage)?,
            duration,
        });
    }
    for name in values("resolve") {
        clients.push(ClientConfig::Resolve { name: name.clone() });
    }
    if let Some(server) = setting("sntp") {
        clients.push(ClientConfig::Sntp {
            server: parse_ipv4("--sntp", server).map_err(Error::Usage)?,
        });
    }
    // clap hands over each occurrence's values in order, all in one list.
    for args in publishes.chunks(2) {
        let [url, message] = args else {
            continue;
        };
        let (broker, topic) = parse_mqtt_url("--mqtt-publish", url).map_err(Error::Usage)?;
        clients.push(ClientConfig::MqttPublish {
            broker,
            topic,
            message: message.to_string(),
        });
    }
    for url in subscribes {
        let (broker, topic) = parse_mqtt_url("--mqtt-subscribe", url).map_err(Error::Usage)?;
        clients.push(ClientConfig::MqttSubscribe {
            broker,
            topic,
            duration: time,
        });
    }
    Ok(clients)
}

/// `[mqtt://]ADDR[:PORT]/TOPIC` (as mosquitto_pub's `-L`): the broker
/// (port 1883 by default) and the topic, everything after the first `/`.
fn parse_mqtt_url(flag: &str, value: &str) -> Result<(SocketAddrV4, String), String> {
    let rest = value.strip_prefix("mqtt://").unwrap_or(value);
    let Some((broker, topic)) = rest.split_once('/') else {
        return Err(format!(
            "{flag} '{value}' names no topic: give [mqtt://]ADDR[:PORT]/TOPIC"
        ));
    };
    let broker = parse_server(flag, broker, ClientConfig::MQTT_PORT)?;
    Ok((broker, topic.to_string()))
}

/// `ADDR` or `ADDR:PORT` (IPv4; `default_port` without one).
fn parse_server(flag: &str, value: &str, default_port: u16) -> Result<SocketAddrV4, String> {
    let bad = || {
        format!(
            "{flag} '{value}' is not an IPv4 address with an optional port \
             (a.b.c.d or a.b.c.d:PORT, PORT 1-65535)"
        )
    };
    let (addr, port) = match value.split_once(':') {
        Some((addr, port)) => (addr, port.parse::<u16>().map_err(|_| bad())?),
        None => (value, default_port),
    };
    let addr = addr.parse::<Ipv4Addr>().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok(SocketAddrV4::new(addr, port))
}

fn parse_count(value: &str) -> Result<u32, String> {
    parse_in_range(
        value,
        lwip_tap::config::PING_COUNT_RANGE,
        &format!("--count {value} is not a number of echo requests"),
    )
}

/// A whole number in `range`; otherwise "`what` from A to B".
fn parse_in_range(
    value: &str,
    range: std::ops::RangeInclusive<u32>,
    what: &str,
) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("{what} from {} to {}", range.start(), range.end())),
    }
}

/// Seconds, fractions allowed, more than zero (the range itself is checked
/// with the config).
fn parse_seconds(flag: &str, value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{flag} {value} is not a number of seconds greater than zero"
        )),
    }
}

/// The keys of one `-i` value as given, before they mean anything.
#[derive(Default)]
struct Keys {
    name: Option<String>,
    addr: Option<Ipv4Addr>,
    /// The prefix length of `addr=A/LEN`.
    prefix: Option<u8>,
    netmask: Option<Ipv4Addr>,
    gw: Option<Ipv4Addr>,
    addr6: Vec<Ipv6Addr>,
    gw6: Option<Ipv6Addr>,
    slaac: Option<bool>,
    autoip: Option<bool>,
    mtu: Option<u32>,
    offload: Option<bool>,
    pcap: Option<PathBuf>,
    snaplen: Option<u32>,
    /// Impairment keys without a direction, and with -in and -out (which
    /// win over the former).
    both: ImpairmentKeys,
    inbound: ImpairmentKeys,
    outbound: ImpairmentKeys,
}

/// The impairment keys given for one direction (or both).
#[derive(Default, Clone, Copy)]
struct ImpairmentKeys {
    loss: Option<Percent>,
    corrupt: Option<Percent>,
    duplicate: Option<Percent>,
    reorder: Option<Percent>,
    delay: Option<Duration>,
    jitter: Option<Duration>,
    rate: Option<u64>,
    max_frame: Option<u32>,
}

impl ImpairmentKeys {
    /// Sets the impairment `key` (without direction) from `value`; false if
    /// `key` is not an impairment key.
    fn set(&mut self, key: &str, full_key: &str, value: &str) -> Result<bool, String> {
        match key {
            "loss" => self.loss = Some(parse_percent(full_key, value)?),
            "corrupt" => self.corrupt = Some(parse_percent(full_key, value)?),
            "dup" => self.duplicate = Some(parse_percent(full_key, value)?),
            "reorder" => self.reorder = Some(parse_percent(full_key, value)?),
            "delay" => self.delay = Some(parse_millis(full_key, value)?),
            "jitter" => self.jitter = Some(parse_millis(full_key, value)?),
            "rate" => self.rate = Some(parse_rate(full_key, value)?),
            "max-frame" => self.max_frame = Some(parse_max_frame(full_key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// This direction's impairment: its own keys, else those for both.
    fn over(self, both: ImpairmentKeys) -> Impairment {
        Impairment {
            loss: self.loss.or(both.loss).unwrap_or_default(),
            corrupt: self.corrupt.or(both.corrupt).unwrap_or_default(),
            duplicate: self.duplicate.or(both.duplicate).unwrap_or_default(),
            reorder: self.reorder.or(both.reorder).unwrap_or_default(),
            delay: self.delay.or(both.delay).unwrap_or_default(),
            jitter: self.jitter.or(both.jitter).unwrap_or_default(),
            rate: self.rate.or(both.rate),
            max_frame: self.max_frame.or(both.max_frame),
        }
    }
}

/// Parses one `-i` value, e.g. `name=tap0,addr=172.16.0.2,netmask=255.255.255.0`,
/// into a checked interface. Spaces around keys and values are ignored, as
/// the original does. Without `name=` the interface is a transient TAP whose
/// host side gets `gw=`.
#[cfg(test)]
pub fn parse_interface(text: &str) -> Result<InterfaceConfig, String> {
    parse_interface_keys(text).map(|(interface, _)| interface)
}

/// [`parse_interface`], with the DNS servers of its `dns=` keys, which are
/// lwIP's for the whole stack.
pub fn parse_interface_keys(text: &str) -> Result<(InterfaceConfig, Vec<IpAddr>), String> {
    let mut dns = Vec::new();
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
        // addr6= is the one key that may repeat: an interface can have
        // several IPv6 addresses.
        if !seen.insert(key.to_string()) && key != "addr6" && key != "dns" {
            return Err(format!("{key}= is given more than once"));
        }
        if value.is_empty() {
            return Err(format!("{key}= has an empty value"));
        }
        // `-i 'addr=A netmask=M'`: one value that swallowed the next key.
        if value.contains('=') && value.contains(char::is_whitespace) {
            let first = value.split_whitespace().next().unwrap_or_default();
            return Err(format!(
                "a space after {key}={first}: the keys of one -i are separated by commas, not \
                 spaces"
            ));
        }
        match key {
            "name" => {
                lwip_tap::config::check_name(value).map_err(|e| e.to_string())?;
                keys.name = Some(value.to_string());
            }
            "addr" => (keys.addr, keys.prefix) = parse_ipv4_prefix(value)?,
            "netmask" => keys.netmask = Some(parse_netmask(value)?),
            "gw" => keys.gw = Some(parse_ipv4(key, value)?),
            "addr6" => keys.addr6.push(parse_ipv6_prefix(value)?),
            "gw6" => keys.gw6 = Some(parse_ipv6(key, value)?),
            "slaac" => keys.slaac = Some(parse_on_off(key, value)?),
            "dns" => dns.push(
                value
                    .parse::<IpAddr>()
                    .map_err(|_| format!("dns={value} is not an IPv4 or IPv6 address"))?,
            ),
            "autoip" => keys.autoip = Some(parse_on_off(key, value)?),
            "mtu" => keys.mtu = Some(parse_mtu(value)?),
            "offload" => keys.offload = Some(parse_on_off(key, value)?),
            "pcap" => keys.pcap = Some(PathBuf::from(value)),
            "snaplen" => keys.snaplen = Some(parse_snaplen(value)?),
            _ => {
                let (base, way) = if let Some(base) = key.strip_suffix("-in") {
                    (base, &mut keys.inbound)
                } else if let Some(base) = key.strip_suffix("-out") {
                    (base, &mut keys.outbound)
                } else {
                    (key, &mut keys.both)
                };
                if !way.set(base, key, value)? {
                    return Err(format!("unknown key '{key}' (keys: {KEYS})"));
                }
            }
        }
    }
    let interface = keys.to_config()?;
    interface
        .validate()
        .map_err(|rule| keys.as_typed(rule).to_string())?;
    Ok((interface, dns))
}

impl Keys {
    /// The netmask of `netmask=` or of `addr=A/LEN`; both must agree.
    fn netmask(&self) -> Result<Option<Ipv4Addr>, String> {
        let Some(len) = self.prefix else {
            return Ok(self.netmask);
        };
        let of_prefix = lwip_tap::config::netmask_of_prefix(len);
        match (self.netmask, self.addr, of_prefix) {
            (Some(netmask), Some(addr), Some(mask)) if netmask != mask => Err(format!(
                "addr={addr}/{len} and netmask={netmask} disagree (/{len} is {mask}); give one \
                 of them"
            )),
            _ => Ok(of_prefix),
        }
    }

    /// `rule` with its impairment keys named as they were typed:
    /// `jitter=` rather than `jitter-in=` when the key for both ways gave
    /// the value. (The parser already refuses what the other impairment
    /// rules catch.)
    fn as_typed(&self, rule: Rule) -> Rule {
        let Rule::JitterOverDelay {
            jitter_way: way,
            jitter,
            delay,
            ..
        } = rule
        else {
            return rule;
        };
        let one_way = if way == "-in" {
            &self.inbound
        } else {
            &self.outbound
        };
        let named = |own: bool, both: bool| if !own && both { "" } else { way };
        Rule::JitterOverDelay {
            jitter_way: named(one_way.jitter.is_some(), self.both.jitter.is_some()),
            delay_way: named(one_way.delay.is_some(), self.both.delay.is_some()),
            jitter,
            delay,
        }
    }

    /// What the keys mean: DHCP without addresses, a transient TAP without
    /// a name (whose host side is the gateway).
    fn to_config(&self) -> Result<InterfaceConfig, String> {
        let addressing = match (self.addr, self.netmask()?, self.gw) {
            // IPv6 only: DHCP would look for an IPv4 server nobody asked for.
            (None, None, None) if !self.addr6.is_empty() => Addressing::None,
            (None, None, None) if self.autoip == Some(true) => Addressing::DhcpAutoip,
            (None, None, None) => Addressing::Dhcp,
            (Some(addr), Some(netmask), gw) => Addressing::Static { addr, netmask, gw },
            (None, _, _) => {
                return Err("netmask= and gw= need addr= (or omit all three for DHCP)".into())
            }
            (Some(_), None, _) => {
                return Err("addr= needs netmask= (or a prefix length: addr=A/24)".into())
            }
        };
        if self.autoip == Some(true) && addressing != Addressing::DhcpAutoip {
            return Err(
                "autoip=on is DHCP's fallback: it needs an interface without addr=, \
                        netmask=, gw= and addr6="
                    .into(),
            );
        }
        let device = match (&self.name, addressing) {
            (Some(name), _) => DeviceConfig::Tap { name: name.clone() },
            // A transient TAP's host side needs an address to be useful,
            // and there is no DHCP server behind it to lease one from.
            (None, Addressing::Dhcp | Addressing::DhcpAutoip) => {
                return Err("a transient TAP (no name=) needs addr=, netmask= and gw= \
                            (gw= becomes its host-side address); give name= to use DHCP"
                    .into())
            }
            (None, Addressing::Static { gw: None, .. }) => {
                return Err(
                    "a transient TAP (no name=) needs gw=, the address of its host side".into(),
                )
            }
            (None, _) => DeviceConfig::TransientTap {
                host: match addressing {
                    Addressing::Static { gw, .. } => gw,
                    _ => None,
                },
                host6: self.gw6,
            },
        };
        let capture = match (&self.pcap, self.snaplen) {
            (Some(path), snaplen) => Some(CaptureConfig {
                snaplen: snaplen.unwrap_or(*SNAPLEN_RANGE.end()),
                ..CaptureConfig::new(path)
            }),
            (None, Some(_)) => return Err("snaplen= needs pcap=, the file to capture into".into()),
            (None, None) => None,
        };
        Ok(InterfaceConfig {
            device,
            addressing,
            ipv6: Ipv6Config {
                addresses: self.addr6.clone(),
                gateway: self.gw6,
                slaac: self.slaac.unwrap_or(true),
            },
            mtu: self.mtu,
            offload: self.offload,
            capture,
            impairments: Impairments {
                inbound: self.inbound.over(self.both),
                outbound: self.outbound.over(self.both),
            },
        })
    }
}

fn parse_mtu(value: &str) -> Result<u32, String> {
    let what = format!("mtu={value} is not a number");
    parse_in_range(value, lwip_tap::config::MTU_RANGE, &what)
}

fn parse_snaplen(value: &str) -> Result<u32, String> {
    let what = format!("snaplen={value} is not a number");
    parse_in_range(value, SNAPLEN_RANGE, &what)
}

/// A percentage from 0 to 100, `%` optional: `5`, `0.5`, `5%`.
fn parse_percent(key: &str, value: &str) -> Result<Percent, String> {
    let number = value.strip_suffix('%').unwrap_or(value).trim();
    number
        .parse::<f64>()
        .ok()
        .and_then(Percent::new)
        .ok_or_else(|| format!("{key}={value} is not a percentage from 0 to 100"))
}

/// Milliseconds, from 0 to [`MAX_DELAY`]: `50`, `0.5`.
fn parse_millis(key: &str, value: &str) -> Result<Duration, String> {
    let max = MAX_DELAY.as_millis() as f64;
    match value.parse::<f64>() {
        Ok(ms) if (0.0..=max).contains(&ms) => Ok(Duration::from_nanos((ms * 1e6).round() as u64)),
        _ => Err(format!(
            "{key}={value} is not a number of milliseconds from 0 to {max}"
        )),
    }
}

/// A rate in Mbit/s, as bit/s.
fn parse_rate(key: &str, value: &str) -> Result<u64, String> {
    let min = MIN_RATE as f64 / 1e6;
    match value.parse::<f64>() {
        Ok(mbits) if (min..=MAX_RATE_MBITS).contains(&mbits) => Ok((mbits * 1e6).round() as u64),
        _ => Err(format!(
            "{key}={value} is not a rate in Mbit/s from {min} to {MAX_RATE_MBITS}"
        )),
    }
}

fn parse_max_frame(key: &str, value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=u32::from(u16::MAX)).contains(&n) => Ok(n),
        _ => Err(format!(
            "{key}={value} is not a number of bytes from 1 to {}",
            u16::MAX
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
    let sep = if key.starts_with('-') { " " } else { "=" };
    value
        .parse()
        .map_err(|_| format!("{key}{sep}'{value}' is not an IPv4 address (a.b.c.d, each 0-255)"))
}

/// `addr=A` or `addr=A/LEN`, LEN from 0 to 32.
fn parse_ipv4_prefix(value: &str) -> Result<(Option<Ipv4Addr>, Option<u8>), String> {
    let Some((addr, len)) = value.split_once('/') else {
        return Ok((Some(parse_ipv4("addr", value)?), None));
    };
    let addr = parse_ipv4("addr", addr.trim())?;
    match len.trim().parse::<u8>() {
        Ok(len) if len <= 32 => Ok((Some(addr), Some(len))),
        _ => Err(format!(
            "addr={value}: '{len}' is not a prefix length (0 to 32)"
        )),
    }
}

fn parse_ipv6(key: &str, value: &str) -> Result<Ipv6Addr, String> {
    value
        .parse()
        .map_err(|_| format!("{key}='{value}' is not an IPv6 address (like 2001:db8::1)"))
}

/// `addr6=ADDR` or `addr6=ADDR/64`: lwIP takes every static address as a
/// /64 on-link prefix, so no other length can mean what it says.
fn parse_ipv6_prefix(value: &str) -> Result<Ipv6Addr, String> {
    let (addr, len) = match value.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (value, None),
    };
    let addr = parse_ipv6("addr6", addr.trim())?;
    if let Some(len) = len {
        match len.trim().parse::<u8>() {
            Ok(IPV6_PREFIX_LEN) => {}
            Ok(n) if n <= 128 => {
                return Err(format!(
                    "addr6={value}: lwIP treats every static address as a /{IPV6_PREFIX_LEN} \
                     on-link prefix, so /{n} is not possible; give /{IPV6_PREFIX_LEN} or no length"
                ))
            }
            _ => return Err(format!("addr6={value}: '{len}' is not a prefix length")),
        }
    }
    Ok(addr)
}

fn parse_netmask(value: &str) -> Result<Ipv4Addr, String> {
    let mask = parse_ipv4("netmask", value)?;
    if !lwip_tap::config::is_contiguous(mask) {
        return Err(format!(
            "netmask={value} is not contiguous (like 255.255.255.0)"
        ));
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lwip_tap::config::{MAX_CLIENTS, MAX_INTERFACES};

    fn run(args: &[&str]) -> Result<Options, Error> {
        let mut full = vec!["lwip-tap"];
        full.extend_from_slice(args);
        match parse(full)? {
            Invocation::Run(o) => Ok(*o),
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
                host: Some(ip("172.16.0.1")),
                host6: None
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
        assert!(
            e.contains("offload=on (a) on a router needs offload=on on every"),
            "{e}"
        );
        assert!(run(&["-i", "name=a,offload=on", "-i", "name=b,offload=on"]).is_ok());
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
        match parse(["lwip-tap", "--help"]).unwrap() {
            Invocation::Help(text) => {
                assert!(text.contains("-i <name=TAP"));
                assert!(text.contains("--iperf-client <ADDR[:PORT]>"), "{text}");
                assert!(text.contains("exits when they are done"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    fn help(args: &[&str]) -> String {
        let mut full = vec!["lwip-tap"];
        full.extend_from_slice(args);
        match parse(full).unwrap() {
            Invocation::Help(text) => text,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    /// Every key `-i` takes, as the parser knows them.
    const KEY_NAMES: &[&str] = &[
        "name",
        "addr",
        "netmask",
        "gw",
        "addr6",
        "gw6",
        "slaac",
        "mtu",
        "offload",
        "pcap",
        "snaplen",
        "loss",
        "corrupt",
        "dup",
        "reorder",
        "delay",
        "jitter",
        "rate",
        "max-frame",
    ];

    #[test]
    fn short_help_names_every_option_and_key_and_long_help_explains_them() {
        let short = help(&["-h"]);
        let long = help(&["--help"]);
        // One screen (50 lines); the long form says more of everything.
        assert!(short.lines().count() <= 50, "{short}");
        assert!(short.len() < long.len() && !short.contains("exits when they are done"));
        for arg in command().get_arguments().filter(|a| !a.is_hide_set()) {
            let names: Vec<String> = arg
                .get_long()
                .map(|l| format!("--{l}"))
                .into_iter()
                .chain(arg.get_short().map(|s| format!("-{s}")))
                .collect();
            let usage = short.split("Options:").next().unwrap();
            assert!(
                names.iter().any(|n| usage.contains(n.as_str())),
                "{names:?} missing from the usage line:\n{usage}"
            );
            for text in [&short, &long] {
                assert!(names.iter().all(|n| text.contains(n.as_str())), "{names:?}");
            }
        }
        for key in KEY_NAMES {
            // Each key is a known one, and both helps show it.
            if let Err(e) = parse_interface(&format!("name=t,{key}=?")) {
                assert!(!e.contains("unknown key"), "{key}: {e}");
            }
            for text in [&short, &long] {
                assert!(
                    text.contains(&format!(" {key}=")),
                    "{key}= missing:\n{text}"
                );
            }
        }
        assert!(short.contains("loss-in=20 loses 20 %"), "{short}");
        assert!(short.contains("KEY-in="), "{short}");
        assert!(long.contains("RUST_LOG"), "{long}");
        assert!(!short.contains("--completions"), "a hidden flag: {short}");
    }

    #[test]
    fn completions_and_the_man_page_come_from_the_same_definition() {
        let bash = help(&["--completions", "bash"]);
        assert!(bash.contains("complete -F _lwip__tap"), "{bash}");
        for option in ["--iperf-client", "--seccomp", "--log-level", "--stats"] {
            assert!(bash.contains(option), "{option} missing:\n{bash}");
        }
        let zsh = help(&["--completions", "zsh"]);
        assert!(zsh.starts_with("#compdef lwip-tap"), "{zsh}");
        let man = help(&["--man"]);
        assert!(man.contains(".TH lwip-tap 1"), "{man}");
        for text in ["\\-\\-iperf\\-client", "addr=A[/LEN]", "RUST_LOG"] {
            assert!(man.contains(text), "{text} missing:\n{man}");
        }
        let e = usage_error(&["--completions", "tcsh"]);
        assert!(
            e.contains("expected bash, elvish, fish, powershell or zsh"),
            "{e}"
        );
    }

    #[test]
    fn addresses_with_a_prefix_length() {
        let spec = parse_interface("addr=172.16.0.2/24,gw=172.16.0.1").unwrap();
        assert_eq!(
            spec.addressing,
            Addressing::Static {
                addr: ip("172.16.0.2"),
                netmask: ip("255.255.255.0"),
                gw: Some(ip("172.16.0.1"))
            }
        );
        // The same netmask twice is no conflict.
        let both = parse_interface("name=t, addr = 10.1.2.3 / 16 ,netmask=255.255.0.0").unwrap();
        assert!(
            matches!(both.addressing, Addressing::Static { netmask, .. } if netmask == ip("255.255.0.0"))
        );
        for (spec, expected) in [
            (
                "name=t,addr=10.0.0.2/24,netmask=255.255.0.0",
                "addr=10.0.0.2/24 and netmask=255.255.0.0 disagree (/24 is 255.255.255.0); \
                 give one of them",
            ),
            (
                "name=t,addr=10.0.0.2/33",
                "addr=10.0.0.2/33: '33' is not a prefix length (0 to 32)",
            ),
            (
                "name=t,addr=10.0.0.2/",
                "addr=10.0.0.2/: '' is not a prefix length (0 to 32)",
            ),
            (
                "name=t,addr=10.0.0/24",
                "addr='10.0.0' is not an IPv4 address (a.b.c.d, each 0-255)",
            ),
            (
                "name=t,addr=10.0.0.0/24",
                "addr=10.0.0.0 is the network or broadcast address of its /24 subnet",
            ),
        ] {
            assert_eq!(parse_interface(spec).unwrap_err(), expected, "{spec}");
        }
    }

    #[test]
    fn the_same_address_on_two_interfaces_is_refused() {
        let e = usage_error(&[
            "-i",
            "addr=172.16.0.2/24,gw=172.16.0.1",
            "-i",
            "addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.3",
        ]);
        assert_eq!(
            e,
            "-i 'addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.3': addr=172.16.0.2 is \
             already lwIP's address on interface 0; each interface needs an address of its own"
        );
        // Overlapping subnets are allowed (Stack::new warns).
        let o = run(&[
            "-i",
            "addr=172.16.0.2/24,gw=172.16.0.1",
            "-i",
            "addr=172.16.0.3/16,gw=172.16.0.4",
        ])
        .unwrap();
        assert_eq!(o.config.overlaps().len(), 1);
    }

    #[test]
    fn messages_name_the_keys_as_typed() {
        for (spec, expected) in [
            (
                "name=t,delay=10,jitter=20",
                "jitter=20 ms is more than delay=10 ms (a frame cannot leave before it came)",
            ),
            (
                "name=t,delay=10,jitter-out=20",
                "jitter-out=20 ms is more than delay=10 ms (a frame cannot leave before it came)",
            ),
            (
                "name=t,delay-in=10,jitter=20",
                "jitter=20 ms is more than delay-in=10 ms (a frame cannot leave before it came)",
            ),
            (
                "name=t,jitter-in=5",
                "jitter-in=5 ms is more than delay-in=0 ms (a frame cannot leave before it came)",
            ),
            (
                "addr=172.16.0.2 netmask=255.255.255.0",
                "a space after addr=172.16.0.2: the keys of one -i are separated by commas, not \
                 spaces",
            ),
        ] {
            assert_eq!(parse_interface(spec).unwrap_err(), expected, "{spec}");
        }
        let e = usage_error(&[
            "-i",
            "addr=172.16.0.2/24,gw=172.16.0.1",
            "netmask=255.255.255.0",
        ]);
        assert_eq!(
            e,
            "unexpected argument 'netmask=255.255.255.0' found; the keys of one -i are \
             separated by commas, not spaces (see lwip-tap -h)"
        );
        let e = usage_error(&["-i", "name=t", "--log-level", "loud"]);
        assert_eq!(
            e,
            "invalid value 'loud' for '--log-level <LEVEL>': expected off, error, warn, info, \
             debug or trace (see lwip-tap -h)"
        );
    }

    #[test]
    fn log_level_flags() {
        assert_eq!(run(&["-i", "name=t"]).unwrap().log_level, None);
        for (args, level) in [
            (&["-q"][..], LevelFilter::Warn),
            (&["-v"], LevelFilter::Debug),
            (&["-vv"], LevelFilter::Trace),
            (&["--log-level", "error"], LevelFilter::Error),
            (&["--log-level", "off"], LevelFilter::Off),
        ] {
            let mut all = vec!["-i", "name=t"];
            all.extend_from_slice(args);
            assert_eq!(run(&all).unwrap().log_level, Some(level), "{args:?}");
        }
        let e = usage_error(&["-i", "name=t", "-q", "-v"]);
        assert!(e.contains("cannot be used with"), "{e}");
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

    #[test]
    fn capture_keys() {
        let spec = parse_interface("name=t,pcap=/tmp/t.pcapng").unwrap();
        assert_eq!(spec.capture, Some(CaptureConfig::new("/tmp/t.pcapng")));
        assert_eq!(spec.capture.unwrap().snaplen, 65535);
        let spec = parse_interface("name=t,pcap=/tmp/t.pcapng,snaplen=96").unwrap();
        assert_eq!(spec.capture.unwrap().snaplen, 96);
        let e = parse_interface("name=t,snaplen=96").unwrap_err();
        assert!(e.contains("snaplen= needs pcap="), "{e}");
        for bad in ["0", "65536", "-1", "big"] {
            let e = parse_interface(&format!("name=t,pcap=x,snaplen={bad}")).unwrap_err();
            assert!(e.contains("from 1 to 65535"), "{bad}: {e}");
        }
        let e = parse_interface("name=t,pcap=").unwrap_err();
        assert!(e.contains("empty value"), "{e}");
        assert_eq!(parse_interface("name=t").unwrap().capture, None);
    }

    #[test]
    fn impairment_keys_set_both_directions_or_one() {
        let ms = Duration::from_millis;
        let pct = |p: f64| Percent::new(p).unwrap();
        let spec = parse_interface(
            "name=t,loss=5,loss-out=1,corrupt-in=0.5%,dup=2,reorder-out=3,delay=50,jitter-in=10,\
             rate=50,max-frame-out=1000",
        )
        .unwrap();
        let (i, o) = (spec.impairments.inbound, spec.impairments.outbound);
        assert_eq!((i.loss, o.loss), (pct(5.0), pct(1.0)));
        assert_eq!((i.corrupt, o.corrupt), (pct(0.5), Percent::ZERO));
        assert_eq!((i.duplicate, o.duplicate), (pct(2.0), pct(2.0)));
        assert_eq!((i.reorder, o.reorder), (Percent::ZERO, pct(3.0)));
        assert_eq!((i.delay, o.delay), (ms(50), ms(50)));
        assert_eq!((i.jitter, o.jitter), (ms(10), Duration::ZERO));
        assert_eq!((i.rate, o.rate), (Some(50_000_000), Some(50_000_000)));
        assert_eq!((i.max_frame, o.max_frame), (None, Some(1000)));
        // The direction wins, in whichever order the keys come.
        let spec = parse_interface("name=t,loss-in=1,loss=5").unwrap();
        assert_eq!(spec.impairments.inbound.loss, pct(1.0));
        assert_eq!(spec.impairments.outbound.loss, pct(5.0));
        assert!(parse_interface("name=t").unwrap().impairments.is_none());
    }

    #[test]
    fn bad_impairment_values_are_refused_in_one_line() {
        for (spec, expected) in [
            ("loss=-1", "loss=-1 is not a percentage from 0 to 100"),
            (
                "loss-in=101",
                "loss-in=101 is not a percentage from 0 to 100",
            ),
            ("corrupt=x", "corrupt=x is not a percentage"),
            ("dup-out=nan", "dup-out=nan is not a percentage"),
            ("reorder=inf", "reorder=inf is not a percentage"),
            (
                "delay=-5",
                "delay=-5 is not a number of milliseconds from 0 to 60000",
            ),
            ("delay=60001", "delay=60001 is not a number of milliseconds"),
            ("jitter=abc", "jitter=abc is not a number of milliseconds"),
            (
                "delay=10,jitter=20",
                "jitter=20 ms is more than delay=10 ms",
            ),
            (
                "rate=0",
                "rate=0 is not a rate in Mbit/s from 0.001 to 100000",
            ),
            ("rate-in=fast", "rate-in=fast is not a rate in Mbit/s"),
            (
                "max-frame=0",
                "max-frame=0 is not a number of bytes from 1 to 65535",
            ),
            (
                "max-frame-out=70000",
                "max-frame-out=70000 is not a number of bytes",
            ),
            ("lose=5", "unknown key 'lose'"),
            ("loss-up=5", "unknown key 'loss-up'"),
            ("name-in=x", "unknown key 'name-in'"),
            ("loss=1,loss=2", "loss= is given more than once"),
        ] {
            let arg = format!("name=t,{spec}");
            let e = usage_error(&["-i", &arg]);
            assert!(e.contains(expected), "{spec}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn impairment_and_offload_on_are_refused_together() {
        let e = usage_error(&["-i", "name=t,loss=1,offload=on"]);
        assert!(e.contains("cannot be combined with impairment"), "{e}");
        let o = run(&["-i", "name=t,loss=1"]).unwrap();
        assert_eq!(o.config.plans(0)[0].offload, lwip_tap::config::Offload::Off);
        assert!(run(&["-i", "name=t,loss=1,offload=off"]).is_ok());
    }

    #[test]
    fn resolve_sntp_and_dns_servers() {
        let o = run(&[
            "-i",
            "name=t,dns=10.0.0.53",
            "-i",
            "name=u,dns=fd00::53,addr=10.1.0.2/24",
            "--resolve",
            "www.example.org",
            "--sntp",
            "10.0.0.123",
            "--resolve",
            "example.org.",
        ])
        .unwrap();
        assert_eq!(
            o.config.dns_servers,
            vec![
                ip("10.0.0.53").into(),
                "fd00::53".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(
            o.config.clients,
            vec![
                ClientConfig::Resolve {
                    name: "www.example.org".into()
                },
                ClientConfig::Resolve {
                    name: "example.org.".into()
                },
                ClientConfig::Sntp {
                    server: ip("10.0.0.123")
                },
            ]
        );
        let long = "a".repeat(64);
        let longer = "abc.".repeat(64);
        for (args, expected) in [
            (&["--resolve", ""][..], "--resolve '': the name is empty"),
            (&["--resolve", "a..b"], "empty label"),
            (
                &["--resolve", &long],
                "is 64 characters long; a DNS label has at most 63",
            ),
            (&["--resolve", &longer], "a DNS name has at most 253"),
            (&["--resolve", "a/b"], "'/' is not allowed in a DNS name"),
            (&["--resolve", "é.org"], "is not allowed in a DNS name"),
            (&["--sntp", "host"], "--sntp 'host' is not an IPv4 address"),
            (
                &["--sntp", "0.0.0.0"],
                "--sntp 0.0.0.0: not the address of one host",
            ),
        ] {
            let mut all = vec!["-i", "name=t"];
            all.extend_from_slice(args);
            let e = run(&all).unwrap_err().to_string();
            assert!(e.contains(expected), "{args:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        for (spec, expected) in [
            ("name=t,dns=x", "dns=x is not an IPv4 or IPv6 address"),
            ("name=t,dns=1.1.1.1,dns=2.2.2.2,dns=3.3.3.3", "3 dns= given"),
            ("name=t,dns=255.255.255.255", "not the address of one host"),
        ] {
            let e = run(&["-i", spec]).unwrap_err().to_string();
            assert!(e.contains(expected), "{spec}: {e}");
        }
    }

    #[test]
    fn clients_with_their_settings_and_defaults() {
        let o = run(&[
            "-i",
            "name=t",
            "--ping",
            "10.0.0.1",
            "--iperf-client",
            "10.0.0.2:5002",
            "--count",
            "3",
            "--interval",
            "0.2",
            "--time",
            "1.5",
            "--ping",
            "10.0.0.3",
        ])
        .unwrap();
        let ping = |a: &str| ClientConfig::Ping {
            target: ip(a),
            count: 3,
            interval: Duration::from_millis(200),
        };
        assert_eq!(
            o.config.clients,
            vec![
                ping("10.0.0.1"),
                ping("10.0.0.3"),
                ClientConfig::Iperf {
                    server: "10.0.0.2:5002".parse().unwrap(),
                    duration: Duration::from_millis(1500),
                },
            ]
        );
        assert!(o.config.stops_after_clients());
        let o = run(&[
            "-i",
            "name=t",
            "--ping",
            "10.0.0.1",
            "--iperf-client",
            "10.0.0.2",
            "-E",
        ])
        .unwrap();
        assert_eq!(
            o.config.clients,
            vec![
                ClientConfig::Ping {
                    target: ip("10.0.0.1"),
                    count: 5,
                    interval: Duration::from_secs(1),
                },
                ClientConfig::Iperf {
                    server: "10.0.0.2:5001".parse().unwrap(),
                    duration: Duration::from_secs(10),
                },
            ]
        );
        assert!(!o.config.stops_after_clients(), "-E keeps it running");
        let o = run(&["-i", "name=t"]).unwrap();
        assert!(o.config.clients.is_empty() && !o.config.stops_after_clients());
    }

    #[test]
    fn bad_client_arguments_are_refused_in_one_line() {
        for (args, expected) in [
            (
                &["--ping", "10.0.0.300"][..],
                "--ping '10.0.0.300' is not an IPv4 address",
            ),
            (&["--ping", "::1"], "--ping '::1' is not an IPv4 address"),
            (&["--ping", "host"], "--ping 'host' is not an IPv4 address"),
            (&["--ping", "0.0.0.0"], "not the address of one host"),
            (
                &["--ping", "255.255.255.255"],
                "not the address of one host",
            ),
            (&["--ping", "224.0.0.1"], "not the address of one host"),
            (
                &["--iperf-client", "10.0.0.1:0"],
                "--iperf-client '10.0.0.1:0' is not an IPv4 address with an optional port",
            ),
            (&["--iperf-client", "10.0.0.1:65536"], "'10.0.0.1:65536'"),
            (&["--iperf-client", "10.0.0.1:x"], "'10.0.0.1:x'"),
            (&["--iperf-client", "10.0.0.1:"], "'10.0.0.1:'"),
            (&["--iperf-client", ":5001"], "':5001'"),
            (&["--iperf-client", "10.0.0"], "'10.0.0'"),
            (
                &["--ping", "10.0.0.1", "--count", "0"],
                "--count 0 is not a number of echo requests from 1 to 1000000",
            ),
            (
                &["--ping", "10.0.0.1", "--count", "-1"],
                "--count -1 is not",
            ),
            (
                &["--ping", "10.0.0.1", "--count", "2.5"],
                "--count 2.5 is not",
            ),
            (
                &["--ping", "10.0.0.1", "--interval", "0"],
                "--interval 0 is not a number of seconds greater than zero",
            ),
            (
                &["--ping", "10.0.0.1", "--interval", "-1"],
                "--interval -1 is not",
            ),
            (
                &["--ping", "10.0.0.1", "--interval", "0.0001"],
                "the interval must be from 0.001 to 3600 s",
            ),
            (
                &["--iperf-client", "10.0.0.1", "--time", "0"],
                "--time 0 is not a number of seconds greater than zero",
            ),
            (
                &["--iperf-client", "10.0.0.1", "--time", "-5"],
                "--time -5 is not",
            ),
            (
                &["--iperf-client", "10.0.0.1", "--time", "nan"],
                "--time nan is not",
            ),
            (
                &["--iperf-client", "10.0.0.1", "--time", "inf"],
                "--time inf is not",
            ),
            (
                &["--iperf-client", "10.0.0.1", "--time", "0.001"],
                "the duration must be from 0.01 to 86400 s",
            ),
            (
                &["--iperf-client", "10.0.0.1", "--time", "100000"],
                "the duration must be from 0.01 to 86400 s",
            ),
            (&["--count", "3"], "--count needs --ping"),
            (&["--interval", "1"], "--interval needs --ping"),
            (
                &["--iperf-client", "10.0.0.1", "--count", "3"],
                "--count needs --ping",
            ),
            (
                &["--ping", "10.0.0.1", "--time", "3"],
                "--time needs --iperf-client",
            ),
            (&["--ping"], "--ping <ADDR>"),
        ] {
            let mut all = vec!["-i", "name=t"];
            all.extend_from_slice(args);
            let e = usage_error(&all);
            assert!(e.contains(expected), "{args:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let mut many = vec!["-i", "name=t"];
        for _ in 0..=MAX_CLIENTS {
            many.extend_from_slice(&["--ping", "10.0.0.1"]);
        }
        let e = usage_error(&many);
        assert!(e.contains("17 clients"), "{e}");
    }

    #[test]
    fn user_and_seccomp_options() {
        let o = run(&["-i", "name=t"]).unwrap();
        assert_eq!(o.sandbox, SandboxConfig::default());
        assert_eq!(o.sandbox.seccomp, SeccompMode::On);
        let o = run(&["-i", "name=t", "-Z", "daemon", "--seccomp", "off"]).unwrap();
        assert_eq!(o.sandbox.user.as_deref(), Some("daemon"));
        assert_eq!(o.sandbox.seccomp, SeccompMode::Off);
        let o = run(&["--user", "root", "--seccomp", "required", "-i", "name=t"]).unwrap();
        assert_eq!(o.sandbox.user.as_deref(), Some("root"));
        assert_eq!(o.sandbox.seccomp, SeccompMode::Required);
        for bad in [&["-Z", ""][..], &["--seccomp", "maybe"], &["-Z"]] {
            let mut args = vec!["-i", "name=t"];
            args.extend_from_slice(bad);
            let e = usage_error(&args);
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let e = usage_error(&["-i", "name=t", "--seccomp", "maybe"]);
        assert_eq!(
            e,
            "invalid value 'maybe' for '--seccomp <MODE>': expected on, off or required \
             (see lwip-tap -h)"
        );
        match parse(["lwip-tap", "--help"]).unwrap() {
            Invocation::Help(text) => {
                assert!(text.contains("-Z root keeps root"), "{text}");
                assert!(text.contains("not dumpable"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ipv6_keys() {
        let spec = parse_interface(
            "name=tap0,addr6=2001:db8::2,addr6=2001:db8:1::2/64,gw6=fe80::1,slaac=off",
        )
        .unwrap();
        assert_eq!(
            spec.ipv6,
            Ipv6Config {
                addresses: vec![
                    "2001:db8::2".parse().unwrap(),
                    "2001:db8:1::2".parse().unwrap()
                ],
                gateway: Some("fe80::1".parse().unwrap()),
                slaac: false,
            }
        );
        // IPv6 only: no DHCP.
        assert_eq!(spec.addressing, Addressing::None);
        let spec = parse_interface("name=tap0").unwrap();
        assert_eq!(spec.addressing, Addressing::Dhcp);
        assert!(spec.ipv6.slaac && spec.ipv6.addresses.is_empty());
        // Dual stack.
        let spec =
            parse_interface("name=tap0,addr=10.0.0.2,netmask=255.255.255.0,addr6=2001:db8::2")
                .unwrap();
        assert!(matches!(spec.addressing, Addressing::Static { .. }));
        assert_eq!(spec.ipv6.addresses.len(), 1);
    }

    #[test]
    fn transient_tap_with_ipv6() {
        let spec = parse_interface("addr6=2001:db8::2,gw6=2001:db8::1").unwrap();
        assert_eq!(
            spec.device,
            DeviceConfig::TransientTap {
                host: None,
                host6: Some("2001:db8::1".parse().unwrap())
            }
        );
        let spec = parse_interface(
            "addr=10.0.0.2,netmask=255.255.255.0,gw=10.0.0.1,addr6=2001:db8::2,gw6=fe80::1",
        )
        .unwrap();
        assert_eq!(
            spec.device,
            DeviceConfig::TransientTap {
                host: Some(ip("10.0.0.1")),
                host6: Some("fe80::1".parse().unwrap())
            }
        );
        let e = parse_interface("addr6=2001:db8::2").unwrap_err();
        assert!(e.contains("needs a host-side IPv6 address"), "{e}");
        let e = parse_interface("addr6=2001:db8::2,gw6=2001:db8::2").unwrap_err();
        assert!(e.contains("same as an addr6="), "{e}");
    }

    #[test]
    fn bad_ipv6_values() {
        for (spec, expect) in [
            ("name=t,addr6=::1", "not a unicast address"),
            ("name=t,addr6=::", "not a unicast address"),
            ("name=t,addr6=::ffff:10.0.0.1", "IPv4-mapped"),
            ("name=t,addr6=2001:db8::2/129", "not a prefix length"),
            ("name=t,addr6=2001:db8::2/128", "/128 is not possible"),
            ("name=t,addr6=2001:db8::2,gw6=ff02::1", "multicast"),
            (
                "name=t,addr6=2001:db8::2,gw6=2001:db8::2/64",
                "not an IPv6 address",
            ),
            ("name=t,gw6=fe80::1", "needs an addr6="),
            ("name=t,gw6=fe80::1,gw6=fe80::2", "more than once"),
        ] {
            let e = parse_interface(spec).unwrap_err();
            assert!(e.contains(expect), "{spec}: {e}");
        }
    }

    #[test]
    fn seed_option() {
        assert_eq!(run(&["-i", "name=t"]).unwrap().config.seed, None);
        let o = run(&["-i", "name=t", "--seed", "42"]).unwrap();
        assert_eq!(o.config.seed, Some(42));
        for bad in ["-1", "x", "18446744073709551616"] {
            let e = usage_error(&["-i", "name=t", "--seed", bad]);
            assert!(e.contains(bad), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn stats_format_and_ready_file() {
        let o = run(&["-i", "name=t"]).unwrap();
        assert!(!o.stats && o.config.stats_format == StatsFormat::Text);
        assert_eq!(o.config.ready, ReadyConfig::default());
        let o = run(&["-i", "name=t", "--stats"]).unwrap();
        assert!(o.stats && o.config.stats_format == StatsFormat::Text);
        let o = run(&["-i", "name=t", "--stats=json", "--ready-file", "/run/r"]).unwrap();
        assert!(o.stats && o.config.stats_format == StatsFormat::Json);
        assert_eq!(o.config.ready.file, Some("/run/r".into()));
        for bad in [
            &["--stats=xml"][..],
            &["--stats", "json"],
            &["--ready-file"],
        ] {
            let mut args = vec!["-i", "name=t"];
            args.extend_from_slice(bad);
            let e = usage_error(&args);
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn busy_poll_flag() {
        assert!(!run(&["-i", "name=t"]).unwrap().config.busy_poll);
        assert!(
            run(&["-i", "name=t", "--busy-poll"])
                .unwrap()
                .config
                .busy_poll
        );
    }
}

/// Property tests of the parser: no input panics it, every refusal is one
/// line, and well-formed specs always parse back.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{parse, parse_interface, Invocation};
    use lwip_tap::config::Addressing;

    fn parse_args(args: &[String]) -> Result<Invocation, lwip_tap::Error> {
        let mut full = vec!["lwip-tap".to_string()];
        full.extend_from_slice(args);
        parse(full)
    }

    /// Strings built from the pieces `-i` values are made of, so that the
    /// generator reaches the parser's corners (not just "unknown key").
    fn spec_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("name".to_string()),
            Just("addr".to_string()),
            Just("netmask".to_string()),
            Just("gw".to_string()),
            Just("mtu".to_string()),
            Just("=".to_string()),
            Just(",".to_string()),
            Just(" ".to_string()),
            Just(".".to_string()),
            "[0-9]{1,4}",
            "tap[0-9]{0,20}",
            "\\PC{0,6}",
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_arguments_never_panic(args in proptest::collection::vec("\\PC{0,24}", 0..6)) {
            let _ = parse_args(&args);
        }

        #[test]
        fn interface_specs_never_panic_and_errors_are_one_line(spec in spec_like()) {
            match parse_interface(&spec) {
                Ok(_) => {}
                Err(e) => prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}"),
            }
            if let Err(lwip_tap::Error::Usage(msg)) = parse_args(&["-i".into(), spec.clone()]) {
                prop_assert_eq!(msg.lines().count(), 1, "{}", msg);
            }
        }

        #[test]
        fn well_formed_static_specs_parse(
            a in 1u8..=254, b in any::<u8>(), c in any::<u8>(), host in 2u8..=253,
            name in "[a-z][a-z0-9]{0,14}", mtu in 68u32..=65521,
        ) {
            let spec = format!(
                "name={name},addr={a}.{b}.{c}.{host},netmask=255.255.255.0,gw={a}.{b}.{c}.1,mtu={mtu}"
            );
            let parsed = parse_interface(&spec).unwrap();
            prop_assert_eq!(parsed.device.name(), Some(name.as_str()));
            prop_assert_eq!(parsed.mtu, Some(mtu));
            let Addressing::Static { addr, .. } = parsed.addressing else {
                panic!("static addressing expected: {parsed:?}");
            };
            prop_assert_eq!(addr.octets(), [a, b, c, host]);
        }
    }
}
