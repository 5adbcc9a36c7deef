//! lwip-tap against the Linux kernel, in network namespaces made (and
//! removed) by the test harness, tests/common. `bench/run --help`, which is
//! `cargo bench --bench kernel -- --help`, says what it measures and how.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "kernel/drill.rs"]
mod drill;
#[path = "kernel/lab.rs"]
mod lab;
#[path = "kernel/reflector.rs"]
mod reflector;

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::tools::{
    clock_ticks_per_second, cpu_ticks, cpu_usable, cpus_allowed, parse_ab, parse_iperf, parse_ping,
    status_kb, AbReport, IperfResult, PingSummary,
};
use common::{have_tool, LwipTap, Netns, LWIP_ADDR, LWIP_TAP, TRANSIENT_SPEC};

const USAGE: &str = "\
lwip-tap benchmark: lwip-tap (transient TAP) against the Linux kernel (veth
pair), all inside network namespaces created (and removed) by the benchmark.

  bench/run [--rounds N] [--time T] [--quick] [--same-core]
  bench/run --sink [--rounds N] [--time T] [--same-core]
  bench/run --router [--rounds N] [--time T] [--same-core]
  bench/run --soak SECONDS [--same-core]
  bench/run --drill

bench/run is `cargo bench --bench kernel -- ARGS` (benches/kernel.rs). Needs
root, iperf (iperf2), ping (iputils), ab (apache2-utils), nc
(netcat-openbsd), taskset. Measurements alternate between lwip-tap and the
kernel inside each round; the table shows medians over the rounds. Every
load is bounded (count and timeout). No traffic leaves the namespaces.
Each round also measures a two-interface lwip-tap router (by default, with
offload=on, with --busy-poll) against the kernel's forwarding (a Linux
bridge on each side of both), lwip-tap's CPU
at 100 and 500 pings/s, ping with --busy-poll, and ping to a minimal TAP
reflector (sleeping and polling: the limit); after the rounds, 200
idle instances on one bridge (50 with --quick).
Options:
  --rounds N       rounds (default 3; 1 with --quick)
  --time T         seconds per iperf run (default 10; 2 with --quick)
  --quick          fast development run: 2 s iperf, 1 round, ab -n 500,
                   16 MiB echo, 200 pings
Each round also runs the sink (iperf), HTTP (c=4) and ping on two fresh
instances of the binary, with its seccomp filter and with --seccomp off, for
the filter's cost.
  --cc NAME        TCP congestion control of every Linux iperf client (iperf
                   -Z NAME; default: the host's, which the header names).
                   When it is bbr, which paces the sender, the sink rows are
                   measured a second time with the clients on cubic
  --same-core      pin lwip-tap / iperf server and the clients all to CPU 0
                   (default: server side on CPU 1, clients on CPU 0)
  --sink           the sink rows alone (iperf into lwip-tap at MTU 1500 and
                   65000, each against the kernel), interleaved, 5 rounds
                   unless --rounds says otherwise
  --router         the router rows alone (default mode, offload=on,
                   --busy-poll, the kernel), 3 rounds unless --rounds says
                   otherwise
  --drill          lwip-drill's rows alone (no root needed): the wall time of
                   our corpus of scripts and of one spanning over 120 s of
                   virtual time
  --soak SECONDS   reliability soak: one lwip-tap, mixed bounded load in a
                   loop (1 MiB echo + cmp, 200 ab requests, 2 s iperf),
                   RSS sampled every 10 s; exits non-zero on any error
  -h, --help       this help";

const ME: &str = "bench/run";
/// lwip-tap instances on one bridge for the idle-cost row (fewer with
/// --quick).
const CROWD: usize = 200;

/// The kernel's iperf server, at the far end of the veth pair.
const K_SRV: &str = "10.99.0.2";
/// The same over IPv6 (a second iperf -s, on port 5002).
const K_SRV6: &str = "fd00:99::2";
/// lwip-tap's IPv6 address on its transient TAP, and the host side's.
const LWIP6: &str = "2001:db8:1::2";
/// lwIP as the sender (`--iperf-client`): a transient TAP of its own, to
/// the kernel's `iperf -s` on [`SENDER_PORT`] in lwip-tap's namespace.
const SENDER_SPEC: &str = "addr=172.16.9.2,netmask=255.255.255.0,gw=172.16.9.1";
const SENDER_PORT: u16 = 5003;
const HOST6: &str = "2001:db8:1::1";
const JUMBO_MTU: u32 = 65000;

fn main() -> ExitCode {
    let cfg = match Config::from_args(std::env::args().skip(1)) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{ME}: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg.drill_only {
        return drill_rows(&cfg);
    }
    if let Err(e) = check_machine() {
        eprintln!("{ME}: {e}");
        return ExitCode::FAILURE;
    }
    common::clean_up_on_signals(ME);
    let outcome = match cfg.soak {
        Some(seconds) => soak(&cfg, seconds),
        None if cfg.router_only => Ok(router_rounds(&cfg)),
        None => benchmark(&cfg),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{ME}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check_machine() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (network namespaces, TAP devices)".into());
    }
    if let Some(tool) = ["ip", "iperf", "ping", "ab", "nc", "taskset", "ss"]
        .into_iter()
        .find(|t| !have_tool(t))
    {
        return Err(format!(
            "'{tool}' not found (apt-get install -y iperf iputils-ping apache2-utils netcat-openbsd)"
        ));
    }
    let nc = Command::new("nc").arg("-h").output();
    if !nc
        .is_ok_and(|o| String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).contains("OpenBSD"))
    {
        return Err("nc must be netcat-openbsd (needs -N)".into());
    }
    Ok(())
}

struct Config {
    rounds: u64,
    /// Seconds per iperf run.
    time: u64,
    ab_n: u64,
    echo_mib: usize,
    ping_n: u64,
    soak: Option<u64>,
    /// Only the sink rows (`--sink`).
    sink_only: bool,
    /// Only lwip-drill's rows (`--drill`).
    drill_only: bool,
    /// Only the router rows (`--router`).
    router_only: bool,
    /// lwip-tap and the kernel's iperf -s.
    srv_cpu: usize,
    /// iperf -c, ping, ab, nc.
    cli_cpu: usize,
    placement: &'static str,
    /// `--cc`: the congestion control of the kernel's iperf clients.
    cc: Option<String>,
    /// The iperf clients pace (`bbr`): the sink rows are measured again
    /// with senders on [`UNPACED_CC`].
    unpaced: bool,
}

/// The congestion control of the sink's second measurement when the run's
/// senders pace: it sends as fast as the receiver takes.
const UNPACED_CC: &str = "cubic";

/// Which congestion control a sink measurement's iperf client runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Senders {
    /// The run's: `--cc`, else the host's.
    Run,
    /// [`UNPACED_CC`].
    Unpaced,
}

impl Senders {
    /// The `-Z` argument, if any.
    fn cc(self, cfg: &Config) -> Option<&str> {
        match self {
            Senders::Run => cfg.cc.as_deref(),
            Senders::Unpaced => Some(UNPACED_CC),
        }
    }

    /// The sink's measurement key: "lw_iperf1500", "k_iperf65000_unpaced".
    fn key(self, who: &str, mtu: u32) -> String {
        match self {
            Senders::Run => format!("{who}_iperf{mtu}"),
            Senders::Unpaced => format!("{who}_iperf{mtu}_unpaced"),
        }
    }

    /// How a line of the raw values names the measurement.
    fn label(self) -> String {
        match self {
            Senders::Run => String::new(),
            Senders::Unpaced => format!(" (senders on {UNPACED_CC})"),
        }
    }
}

/// The host's TCP congestion control ("?" when it cannot be read).
fn host_cc() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map_or("?".to_string(), |s| s.trim().to_string())
}

impl Config {
    /// The congestion controls each sink row is measured with.
    fn senders(&self) -> &'static [Senders] {
        if self.unpaced {
            &[Senders::Run, Senders::Unpaced]
        } else {
            &[Senders::Run]
        }
    }

    /// None for --help.
    fn from_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
        let (mut rounds, mut time, mut soak) = (None, None, None);
        let (mut quick, mut same_core, mut sink_only) = (false, false, false);
        let (mut drill_only, mut router_only) = (false, false);
        let mut cc = None;
        let positive = |value: Option<String>, what: &str| -> Result<u64, String> {
            // (`cargo bench` appends --bench: a missing value, too.)
            let value = value
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| format!("{what} needs a number"))?;
            match value.parse::<u64>() {
                Ok(n) if n > 0 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                _ => Err(format!("{what} must be a positive integer")),
            }
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--rounds" => rounds = Some(positive(args.next(), "--rounds")?),
                "--time" => time = Some(positive(args.next(), "--time")?),
                "--soak" => soak = Some(positive(args.next(), "--soak")?),
                "--quick" => quick = true,
                "--sink" => sink_only = true,
                "--drill" => drill_only = true,
                "--router" => router_only = true,
                "--cc" => {
                    let name = args.next().filter(|n| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                    cc = Some(name.ok_or("--cc needs a congestion control's name")?);
                }
                "--same-core" => same_core = true,
                "-h" | "--help" => return Ok(None),
                // `cargo bench` adds this for harness = false targets.
                "--bench" => {}
                _ => return Err(format!("unknown argument: {arg} (see --help)")),
            }
        }
        let (srv_cpu, placement) = if same_core {
            (0, "same core: lwip-tap and kernel iperf -s on CPU 0, clients (iperf -c, ping, ab, nc) on CPU 0")
        } else if cpus_allowed() >= 2 && cpu_usable(1) {
            (1, "split: lwip-tap and kernel iperf -s on CPU 1, clients (iperf -c, ping, ab, nc) on CPU 0")
        } else {
            (0, "same core (only one CPU usable): everything on CPU 0")
        };
        let (ab_n, echo_mib, ping_n) = if quick {
            (500, 16, 200)
        } else {
            (2000, 64, 1000)
        };
        Ok(Some(Config {
            rounds: rounds.unwrap_or(match (quick, sink_only) {
                (true, _) => 1,
                (false, true) => 5,
                (false, false) => 3,
            }),
            time: time.unwrap_or(if quick { 2 } else { 10 }),
            ab_n,
            echo_mib,
            ping_n,
            soak,
            sink_only,
            drill_only,
            router_only,
            srv_cpu,
            cli_cpu: 0,
            placement,
            unpaced: cc.clone().unwrap_or_else(host_cc) == "bbr",
            cc,
        }))
    }
}

/// "?" for a figure that could not be read.
fn or_unknown(x: Option<impl Display>) -> String {
    x.map_or("?".to_string(), |x| x.to_string())
}

/// The run's header: what ran where.
fn header(cfg: &Config, what: &str) {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output();
    let date = date.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(": ").map(|x| x.1));
    println!("# lwip-tap benchmark{what}\n");
    println!("- date: {}", date.unwrap_or_default());
    println!("- kernel: {}", kernel.trim());
    println!("- CPU: {}, nproc {}", or_unknown(model), cpus_allowed());
    println!("- placement: {}", cfg.placement);
    let host_cc = host_cc();
    match &cfg.cc {
        Some(cc) => println!(
            "- TCP congestion control of the iperf clients: {cc} (--cc; the host's is {host_cc})"
        ),
        None => println!("- TCP congestion control of the iperf clients: {host_cc} (the host's)"),
    }
    if cfg.unpaced && !cfg.router_only && cfg.soak.is_none() {
        println!(
            "- the sink rows are measured again with the iperf clients on {UNPACED_CC} \
             (bbr paces the sender below what the receiver takes)"
        );
    }
    println!("- binary: {LWIP_TAP}");
}

/// `n` random bytes, and a file in `dir` that holds them.
fn random_file(dir: &Path, name: &str, n: usize) -> (Vec<u8>, PathBuf) {
    let mut bytes = Vec::with_capacity(n);
    std::fs::File::open("/dev/urandom")
        .and_then(|f| f.take(n as u64).read_to_end(&mut bytes))
        .expect("read /dev/urandom");
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write the echo input");
    (bytes, path)
}

fn log_tail(lwip: &LwipTap) -> String {
    format!(
        "--- last lines of lwip-tap's log ---\n{}\n---",
        lwip.log_tail(30)
    )
}

/// Starts `lwip-tap -i TRANSIENT_SPEC[,mtu=MTU] -s -E -H [EXTRA]` on the
/// server CPU (at the default MTU with IPv6 too: LWIP6, host side HOST6) and
/// waits until it answers ping. None (after saying so) if the binary refuses
/// `mtu` (exit status 2, error mentioning mtu).
fn start_lwip(
    ns: &Netns,
    cfg: &Config,
    mtu: Option<u32>,
    extra: &[&str],
) -> Result<Option<LwipTap>, String> {
    let spec = match mtu {
        Some(mtu) => format!("{TRANSIENT_SPEC},mtu={mtu}"),
        None => format!("{TRANSIENT_SPEC},addr6={LWIP6},gw6={HOST6}"),
    };
    let mut args = vec!["-i", &spec, "-s", "-E", "-H"];
    args.extend_from_slice(extra);
    let mut lwip = ns.spawn_lwip_tap_on_cpu(cfg.srv_cpu, &args);
    match lwip.wait_until_answering(ns, LWIP_ADDR, Duration::from_secs(10)) {
        Ok(()) => Ok(Some(lwip)),
        Err(Some(status)) => {
            let log = lwip.log();
            let mtu_line = log.lines().find(|l| l.to_lowercase().contains("mtu"));
            if let (Some(_), Some(2), Some(line)) = (mtu, status.code(), mtu_line) {
                println!("jumbo: not supported by this build ({line})");
                return Ok(None);
            }
            let why = format!("lwip-tap (-i {spec}) exited with {status} during startup");
            Err(format!("{why}\n{}", log_tail(&lwip)))
        }
        Err(None) => Err(format!(
            "lwip-tap did not answer ping within 10 s\n{}",
            log_tail(&lwip)
        )),
    }
}

/// SIGTERM, wait up to 5 s (then SIGKILL); false (after a warning) unless
/// lwip-tap exits with status 0.
fn stop_lwip(mut lwip: LwipTap) -> bool {
    let (status, killed) = lwip.terminate(Duration::from_secs(5));
    if killed {
        eprintln!("{ME}: lwip-tap ignored SIGTERM, killed it");
    }
    if !status.success() {
        eprintln!("{ME}: warning: lwip-tap exited with {status} on SIGTERM");
        eprintln!("{}", log_tail(&lwip));
    }
    status.success()
}

/// An error (that ends the run) if lwip-tap is no longer running.
fn check_lwip(lwip: &mut LwipTap, when: &str) -> Result<(), String> {
    match lwip.exit_status() {
        None => Ok(()),
        Some(status) => Err(format!(
            "lwip-tap died ({when}; {status})\n{}",
            log_tail(lwip)
        )),
    }
}

/// `iperf -c dst -p port` (with -V for an IPv6 `dst`).
fn iperf_client(
    ns: &Netns,
    cfg: &Config,
    dst: &str,
    port: u16,
    seconds: u64,
) -> Option<IperfResult> {
    iperf_client_on(ns, cfg, dst, port, seconds, cfg.cc.as_deref())
}

/// [`iperf_client`] with the congestion control `cc` (`-Z`), if any.
fn iperf_client_on(
    ns: &Netns,
    cfg: &Config,
    dst: &str,
    port: u16,
    seconds: u64,
    cc: Option<&str>,
) -> Option<IperfResult> {
    let v6 = if dst.contains(':') { "-V " } else { "" };
    let cc = cc.map_or(String::new(), |cc| format!(" -Z {cc}"));
    let run = ns.run_on_cpu(
        cfg.cli_cpu,
        &format!("iperf {v6}-c {dst} -p {port} -t {seconds} -f m{cc}"),
        None,
        Duration::from_secs(seconds + 30),
        libc::SIGTERM,
    );
    let result = parse_iperf(&run.text()).filter(|_| run.success());
    if result.is_none() {
        let (why, output) = (run.describe(), run.tail(8));
        eprintln!("{ME}: iperf -c {dst} failed ({why}); its output:\n{output}");
    }
    result
}

/// `ping -c ping_n -i 0.001` from `ns` to `dst` (the benchmark's ping
/// rows); says why on stderr when it gives no round-trip summary.
fn ping_flood(ns: &Netns, cfg: &Config, dst: &str) -> Option<PingSummary> {
    let run = ns.run_on_cpu(
        cfg.cli_cpu,
        &format!("ping -c {} -i 0.001 -q -w 30 {dst}", cfg.ping_n),
        None,
        Duration::from_secs(60),
        libc::SIGTERM,
    );
    let summary = parse_ping(&run.text());
    if summary.as_ref().and_then(PingSummary::avg_ms).is_none() {
        let (why, output) = (run.describe(), run.tail(5));
        eprintln!("{ME}: ping {dst} gave no rtt summary ({why}); its output:\n{output}");
    }
    summary
}

/// The two halves of Linux's default ephemeral port range (32768-60999,
/// `net.ipv4.ip_local_port_range`), in the order ab runs take them.
const EPHEMERAL_HALVES: [(u16, u16); 2] = [(46884, 60999), (32768, 46883)];

/// `ab -r -s 10 -n N -c C` against lwip-tap's httpd: -r counts a failed
/// receive as a failed request instead of ending ab, and SIGINT after 120 s
/// makes ab print what it has so far. Err: why ab gave up.
///
/// Each run takes its source ports from the other half of the ephemeral
/// range than the run before: lwIP keeps the connections it closed in
/// TIME-WAIT (its newest ~125 of them, as many as its PCBs allow), answers a
/// SYN that reuses one's ports with an ACK of the old connection and ignores
/// the client's RST (tests/drill/tcp/syn_in_time_wait.pkt). A run that
/// started among the last run's ports would wait out ab's time-out with all
/// its connections in SYN-SENT; within one run the ports do not come round
/// again before lwIP has let them go.
fn ab_run(ns: &Netns, cfg: &Config, n: u64, c: u64) -> Result<AbReport, String> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (first, last) = EPHEMERAL_HALVES[RUNS.fetch_add(1, Ordering::Relaxed) % 2];
    ns.sh(&format!(
        "echo {first} {last} > /proc/sys/net/ipv4/ip_local_port_range"
    ));
    let run = ns.run_on_cpu(
        cfg.cli_cpu,
        &format!("ab -r -q -s 10 -n {n} -c {c} http://{LWIP_ADDR}/"),
        None,
        Duration::from_secs(120),
        libc::SIGINT,
    );
    let report = parse_ab(&run.text());
    if run.success() && report.requests_per_sec.is_some() && report.failed.is_some() {
        return Ok(report);
    }
    let why = match (run.timed_out, report.apr_error) {
        (true, Some(apr)) => format!("timed out after 120 s; {apr}"),
        (true, None) => "timed out after 120 s".to_string(),
        (false, Some(apr)) => apr,
        (false, None) => run.describe(),
    };
    let done = or_unknown(report.completed_before_abort.or(report.complete));
    let abort = format!("aborted after {done}/{n}: {why}");
    eprintln!(
        "{ME}: ab -n {n} -c {c}: {abort}; its output:\n{}",
        run.tail(4)
    );
    Err(abort)
}

/// `nc -N LWIP_ADDR 7 < path` (which holds `input`): Ok(seconds) if
/// exactly `input` came back, as `cmp` would check.
fn echo(ns: &Netns, cfg: &Config, input: &[u8], path: &Path, limit: u64) -> Result<f64, String> {
    let run = ns.run_on_cpu(
        cfg.cli_cpu,
        &format!("nc -N {LWIP_ADDR} 7"),
        Some(path),
        Duration::from_secs(limit),
        libc::SIGTERM,
    );
    let (got, want) = (run.stdout.len(), input.len());
    if !run.success() || got != want {
        return Err(format!(
            "got {got} of {want} bytes back ({})",
            run.describe()
        ));
    }
    if run.stdout != input {
        return Err(format!("{got} bytes back, but they differ from those sent"));
    }
    Ok(run.elapsed.as_secs_f64())
}

/// The measurements of all rounds by key ("lw_iperf1500", …), None where
/// one failed; remarks for the table; failures.
#[derive(Default)]
struct Results {
    round: u64,
    values: BTreeMap<String, Vec<Option<f64>>>,
    notes: BTreeMap<String, Vec<String>>,
    fails: Vec<String>,
}

impl Results {
    fn rec(&mut self, key: &str, value: Option<f64>) {
        self.values.entry(key.to_string()).or_default().push(value);
    }

    fn note(&mut self, key: &str, text: &str) {
        let text = format!("round {}: {text}", self.round);
        self.notes.entry(key.to_string()).or_default().push(text);
    }

    fn fail(&mut self, what: &str) {
        let what = format!("round {}: {what}", self.round);
        eprintln!("{ME}: FAILED: {what}");
        self.fails.push(what);
    }

    fn say(&self, what: &str) {
        println!("  [round {}] {what}", self.round);
    }

    fn valid(&self, key: &str) -> Vec<f64> {
        let values = self.values.get(key).map(Vec::as_slice).unwrap_or_default();
        values.iter().flatten().copied().collect()
    }

    fn median(&self, key: &str) -> Option<f64> {
        let mut xs = self.valid(key);
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(xs[n / 2]),
            _ => Some((xs[n / 2 - 1] + xs[n / 2]) / 2.0),
        }
    }

    fn sum(&self, key: &str) -> u64 {
        self.valid(key).iter().map(|&x| x as u64).sum()
    }
}

/// The namespaces and the figures of one benchmark run.
struct Bench<'a> {
    cfg: &'a Config,
    /// lwip-tap and its host side (transient TAP).
    lw: Netns,
    /// The kernel's iperf client side (10.99.0.1, vk1)…
    k1: Netns,
    /// …and server side (10.99.0.2, vk2).
    k2: Netns,
    echo: (Vec<u8>, PathBuf),
    res: Results,
    /// The lwip-tap being measured, the prefix of its keys: "lw" (the main
    /// rows), "filteron" or "nofilter" (the seccomp comparison).
    who: &'static str,
}

impl Bench<'_> {
    fn label(&self) -> &'static str {
        match self.who {
            "filteron" => "filter on",
            "nofilter" => "filter off",
            _ => "lwip-tap",
        }
    }

    /// iperf to lwip-tap, the client on `senders`' congestion control;
    /// with `cpu` also CPU seconds per GB, from /proc/PID/stat around the
    /// test.
    fn lwip_iperf(
        &mut self,
        lwip: &mut LwipTap,
        mtu: u32,
        cpu: bool,
        senders: Senders,
    ) -> Result<(), String> {
        let reports = |lwip: &LwipTap| lwip.log().matches(": done, ").count();
        let before = reports(lwip);
        let t0 = cpu_ticks(lwip.pid()).unwrap_or(0);
        let (time, cc) = (self.cfg.time, senders.cc(self.cfg));
        let key = senders.key(self.who, mtu);
        let label = senders.label();
        let Some(iperf) = iperf_client_on(&self.lw, self.cfg, LWIP_ADDR, 5001, time, cc) else {
            check_lwip(lwip, "during iperf")?;
            self.res.fail(&format!("lwip-tap iperf MTU {mtu}{label}"));
            self.res.rec(&key, None);
            return Ok(());
        };
        // lwip-tap logs "iperf: ... done, N bytes in ..." when the test ends.
        let logged = common::wait_until(Duration::from_secs(5), || reports(lwip) > before);
        let t1 = cpu_ticks(lwip.pid()).unwrap_or(t0);
        if !logged {
            self.res
                .fail(&format!("lwip-tap logged no iperf report for MTU {mtu}"));
        }
        // Bytes as the client counts them: lwiperf's own counter is 32 bits
        // and wraps after 4 GiB, which a 10 s test at these rates exceeds.
        let bytes = (iperf.mbytes * 1_048_576.0) as u64;
        let rate = iperf.mbits_per_sec;
        self.res.rec(&key, Some(rate));
        if !cpu {
            self.res.say(&format!(
                "{:<9} iperf MTU {mtu}{label}: {rate} Mbit/s",
                self.label()
            ));
            return check_lwip(lwip, "after iperf");
        }
        let (hz, ticks) = (clock_ticks_per_second(), t1 - t0);
        let per_gb = (bytes > 0).then(|| ticks as f64 / hz as f64 / (bytes as f64 / 1e9));
        self.res.rec(&format!("{}_cpu_per_gb", self.who), per_gb);
        self.res.say(&format!(
            "{:<9} iperf MTU {mtu}: {rate} Mbit/s; {bytes} bytes (from iperf client), \
             CPU {ticks} ticks @{hz} Hz = {} s/GB",
            self.label(),
            or_unknown(per_gb.map(|x| format!("{x:.3}")))
        ));
        check_lwip(lwip, "after iperf")
    }

    /// iperf between the kernel's namespaces, the client on `senders`'
    /// congestion control.
    fn kernel_iperf(&mut self, mtu: u32, senders: Senders) {
        self.k1.set_mtu("vk1", mtu);
        self.k2.set_mtu("vk2", mtu);
        let (time, cc) = (self.cfg.time, senders.cc(self.cfg));
        let iperf = iperf_client_on(&self.k1, self.cfg, K_SRV, 5001, time, cc);
        let rate = iperf.map(|i| i.mbits_per_sec);
        self.res.rec(&senders.key("k", mtu), rate);
        let label = senders.label();
        match rate {
            Some(rate) => self
                .res
                .say(&format!("kernel    iperf MTU {mtu}{label}: {rate} Mbit/s")),
            None => self.res.fail(&format!("kernel iperf MTU {mtu}{label}")),
        }
        self.k1.set_mtu("vk1", 1500);
        self.k2.set_mtu("vk2", 1500);
    }

    /// iperf over IPv6 (MTU 1500) to lwip-tap, then to the kernel's
    /// iperf -s over the veth pair.
    fn iperf6(&mut self, lwip: &mut LwipTap) -> Result<(), String> {
        // lwIP's address is usable once duplicate address detection passed.
        let usable = format!("IPv6 {LWIP6}/64");
        if !common::wait_until(Duration::from_secs(10), || lwip.log().contains(&usable)) {
            return Err(format!(
                "lwip-tap never logged {usable}\n{}",
                log_tail(lwip)
            ));
        }
        let time = self.cfg.time;
        for (who, ns, dst, port) in [("lw", &self.lw, LWIP6, 5001), ("k", &self.k1, K_SRV6, 5002)] {
            let rate = iperf_client(ns, self.cfg, dst, port, time).map(|i| i.mbits_per_sec);
            self.res.rec(&format!("{who}_iperf6"), rate);
            let label = if who == "lw" { "lwip-tap" } else { "kernel  " };
            match rate {
                Some(rate) => self
                    .res
                    .say(&format!("{label}  iperf IPv6 MTU 1500: {rate} Mbit/s")),
                None => self.res.fail(&format!("{label} iperf over IPv6")),
            }
        }
        check_lwip(lwip, "after iperf over IPv6")
    }

    /// lwIP sending: `lwip-tap --iperf-client` on a transient TAP of its
    /// own (on the server CPU) to the kernel's `iperf -s` (on the client
    /// CPU), against the kernel-to-kernel figure over the veth pair.
    fn lwip_sends(&mut self) {
        let time = self.cfg.time.to_string();
        let server = format!("172.16.9.1:{SENDER_PORT}");
        let args = [
            "-i",
            SENDER_SPEC,
            "--iperf-client",
            &server,
            "--time",
            &time,
        ];
        let log = self.lw.dir.path().join("kernel-iperf-s-receiver.log");
        let summaries =
            |log: &Path| std::fs::read_to_string(log).map_or(0, |t| t.matches("Mbits/sec").count());
        let before = summaries(&log);
        let mut lwip = self.lw.spawn_lwip_tap_on_cpu(self.cfg.srv_cpu, &args);
        let status = lwip.wait(Duration::from_secs(self.cfg.time + 30));
        // The rate the kernel's iperf -s received. (lwIP's own report,
        // "iperf client: ...: done, N bytes in S s, R Mbit/s", counts in
        // 32 bits: lwiperf's byte count wraps after 4 GiB, 6 s at
        // 5.7 Gbit/s.)
        let _ = common::wait_until(Duration::from_secs(5), || summaries(&log) > before);
        let rate = (summaries(&log) > before)
            .then(|| std::fs::read_to_string(&log).ok())
            .flatten()
            .and_then(|t| parse_iperf(&t))
            .map(|r| r.mbits_per_sec)
            .filter(|_| status.is_some_and(|s| s.success()));
        self.res.rec("lw_send1500", rate);
        match rate {
            Some(rate) => self.res.say(&format!(
                "lwip-tap  iperf sending (--iperf-client) MTU 1500: {rate} Mbit/s"
            )),
            None => {
                eprintln!("{ME}: lwip-tap --iperf-client failed\n{}", log_tail(&lwip));
                self.res.fail("lwip-tap --iperf-client");
            }
        }
    }

    /// `who` is "lw" (lwip-tap, from its namespace) or "k" (the kernel,
    /// from the client end of the veth pair).
    fn ping(&mut self, who: &str) {
        let (ns, dst, label) = match who {
            "lw" => (&self.lw, LWIP_ADDR, self.label()),
            _ => (&self.k1, K_SRV, "kernel"),
        };
        let summary = ping_flood(ns, self.cfg, dst);
        let rtt = summary
            .as_ref()
            .and_then(|s| Some((s.avg_ms()?, s.max_ms()?)));
        let who = if who == "lw" { self.who } else { who };
        self.res.rec(&format!("{who}_ping_avg"), rtt.map(|r| r.0));
        self.res.rec(&format!("{who}_ping_max"), rtt.map(|r| r.1));
        let Some((avg, max)) = rtt else {
            self.res.fail(&format!("ping {dst}"));
            return;
        };
        let loss = or_unknown(summary.map(|s| s.loss_percent));
        let n = self.cfg.ping_n;
        self.res.say(&format!(
            "{label:<9} ping x{n}: avg {avg} ms, max {max} ms, loss {loss}%"
        ));
    }

    fn http(&mut self, lwip: &mut LwipTap, c: u64) -> Result<(), String> {
        let n = self.cfg.ab_n;
        let key = format!("{}_http_c{c}", self.who);
        let label = self.label();
        match ab_run(&self.lw, self.cfg, n, c) {
            Ok(ab) => {
                let failed = ab.failed.unwrap_or(0);
                self.res.rec(&format!("{key}_rps"), ab.requests_per_sec);
                self.res.rec(&format!("{key}_failed"), Some(failed as f64));
                self.res
                    .rec(&format!("{key}_non2xx"), Some(ab.non_2xx as f64));
                let detail = ab
                    .failed_detail
                    .map_or(String::new(), |d| format!(" ({d})"));
                self.res.say(&format!(
                    "{label:<9} ab -n {n} -c {c}: {} req/s, complete {}, failed {failed}{detail}, \
                     non-2xx {}",
                    or_unknown(ab.requests_per_sec),
                    or_unknown(ab.complete),
                    ab.non_2xx
                ));
            }
            Err(abort) => {
                check_lwip(lwip, &format!("during ab -c {c}"))?;
                self.res.fail(&format!("ab -c {c}: {abort}"));
                self.res.rec(&format!("{key}_rps"), None);
                self.res.note(&key, &abort);
                self.res
                    .say(&format!("{label:<9} ab -n {n} -c {c}: {abort}"));
            }
        }
        check_lwip(lwip, &format!("after ab -c {c}"))
    }

    fn echo(&mut self, lwip: &mut LwipTap) -> Result<(), String> {
        let (input, path) = &self.echo;
        match echo(&self.lw, self.cfg, input, path, 120) {
            Ok(seconds) => {
                let (bytes, mib) = (input.len(), self.cfg.echo_mib);
                let mbs = bytes as f64 / 1e6 / seconds;
                self.res.rec("lw_echo_mbs", Some(mbs));
                self.res.say(&format!(
                    "lwip-tap  TCP echo {mib} MiB: {bytes} bytes back in {seconds:.3} s = \
                     {mbs:.1} MB/s"
                ));
            }
            Err(e) => {
                check_lwip(lwip, "during echo")?;
                self.res.fail(&format!("TCP echo: {e}"));
                self.res.rec("lw_echo_mbs", None);
            }
        }
        check_lwip(lwip, "after echo")
    }

    /// The filter's cost: the sink (iperf), HTTP (c=4) and ping rows on
    /// two fresh instances of the same binary, one as shipped (filter on)
    /// and one with `--seccomp off`, each through the same steps; which goes
    /// first alternates between rounds.
    fn filter_comparison(&mut self) -> Result<(), String> {
        let mut order = [("filteron", "on"), ("nofilter", "off")];
        if self.res.round.is_multiple_of(2) {
            order.reverse();
        }
        for (who, mode) in order {
            let flags = ["--seccomp", mode];
            let started = start_lwip(&self.lw, self.cfg, None, &flags)?;
            let mut lwip = started.ok_or("lwip-tap refused to start")?;
            if !lwip.log().contains(&format!("seccomp filter {mode}")) {
                let tail = log_tail(&lwip);
                return Err(format!("--seccomp {mode} did not show in the log\n{tail}"));
            }
            self.who = who;
            let result = self.filter_rows(&mut lwip);
            self.who = "lw";
            result?;
            if !stop_lwip(lwip) {
                self.res
                    .fail(&format!("lwip-tap --seccomp {mode} exit status on SIGTERM"));
            }
        }
        Ok(())
    }

    fn filter_rows(&mut self, lwip: &mut LwipTap) -> Result<(), String> {
        self.lwip_iperf(lwip, 1500, true, Senders::Run)?;
        self.ping("lw");
        check_lwip(lwip, "during ping")?;
        self.http(lwip, 4)
    }

    fn peak_rss(&mut self, lwip: &LwipTap, key: &str, what: &str) {
        let hwm = status_kb(lwip.pid(), "VmHWM");
        self.res.rec(key, hwm.map(|kb| kb as f64));
        let hwm = or_unknown(hwm);
        self.res
            .say(&format!("lwip-tap  peak RSS (VmHWM){what}: {hwm} kB"));
    }
}

fn benchmark(cfg: &Config) -> Result<bool, String> {
    header(cfg, "");
    println!(
        "- rounds: {} (medians in the table), iperf -t {} -f m, ping -c {} -i 0.001, \
         ab -r -s 10 -n {}, TCP echo {} MiB (nc -N)\n",
        cfg.rounds, cfg.time, cfg.ping_n, cfg.ab_n, cfg.echo_mib
    );
    let (lw, k1, k2) = (
        Netns::new("bench-lw"),
        Netns::new("bench-k1"),
        Netns::new("bench-k2"),
    );
    k1.add_veth_pair("vk1", "10.99.0.1/24", &k2, "vk2", "10.99.0.2/24");
    k1.sh("ip addr add fd00:99::1/64 dev vk1 nodad");
    k2.sh(&format!("ip addr add {K_SRV6}/64 dev vk2 nodad"));
    for (port, family) in [(5001, None), (5002, Some("-V"))] {
        let mut server = k2.command_on_cpu(cfg.srv_cpu, "iperf");
        server.args(["-s", "-p", &port.to_string()]).args(family);
        k2.start_helper(server, &format!("kernel-iperf-s-{port}.log"));
        if !k2.wait_for_tcp_listener(port, Duration::from_secs(10)) {
            return Err(format!(
                "kernel iperf -s on port {port} did not start listening"
            ));
        }
    }
    if !k1
        .run(&format!("ping -c 1 -W 2 -q {K_SRV}"))
        .status
        .success()
    {
        return Err(format!("veth peer {K_SRV} does not answer ping"));
    }
    let mut receiver = lw.command_on_cpu(cfg.cli_cpu, "iperf");
    receiver.args(["-s", "-f", "m", "-p", &SENDER_PORT.to_string()]);
    lw.start_helper(receiver, "kernel-iperf-s-receiver.log");
    if !lw.wait_for_tcp_listener(SENDER_PORT, Duration::from_secs(10)) {
        return Err(format!(
            "kernel iperf -s on port {SENDER_PORT} did not start listening"
        ));
    }
    let echo = random_file(lw.dir.path(), "echo.in", cfg.echo_mib << 20);
    let res = Results::default();
    let mut b = Bench {
        cfg,
        lw,
        k1,
        k2,
        echo,
        res,
        who: "lw",
    };

    let mut jumbo = true;
    println!("Raw values per round:");
    if cfg.sink_only {
        return sink_rounds(&mut b);
    }
    for round in 1..=cfg.rounds {
        b.res.round = round;
        // lwip-tap at the default MTU: every lwip-tap test, alternating
        // with the kernel.
        let mut lwip = start_lwip(&b.lw, cfg, None, &[])?.ok_or("lwip-tap refused to start")?;
        for &from in cfg.senders() {
            // CPU per GB for the run's senders only.
            b.lwip_iperf(&mut lwip, 1500, from == Senders::Run, from)?;
            b.kernel_iperf(1500, from);
        }
        b.lwip_sends();
        b.iperf6(&mut lwip)?;
        b.ping("lw");
        check_lwip(&mut lwip, "during ping")?;
        b.ping("k");
        for c in [1, 4, 32] {
            b.http(&mut lwip, c)?;
        }
        b.echo(&mut lwip)?;
        b.peak_rss(&lwip, "lw_rss_kb", " after all tests");
        if !stop_lwip(lwip) {
            b.res.fail("lwip-tap exit status on SIGTERM");
        }
        b.filter_comparison()?;

        if jumbo {
            match start_lwip(&b.lw, cfg, Some(JUMBO_MTU), &[])? {
                None => jumbo = false,
                Some(mut lwip) => {
                    if !lwip.log().contains(&format!("mtu {JUMBO_MTU}")) {
                        eprintln!("{ME}: warning: lwip-tap's log does not show mtu {JUMBO_MTU}");
                    }
                    for &from in cfg.senders() {
                        b.lwip_iperf(&mut lwip, JUMBO_MTU, false, from)?;
                    }
                    let what = format!(", MTU {JUMBO_MTU} instance");
                    b.peak_rss(&lwip, "lw_rss_jumbo_kb", &what);
                    if !stop_lwip(lwip) {
                        let what = format!("lwip-tap (MTU {JUMBO_MTU}) exit status on SIGTERM");
                        b.res.fail(&what);
                    }
                }
            }
        }
        for &from in cfg.senders() {
            b.kernel_iperf(JUMBO_MTU, from);
        }
        lab::router(cfg, &mut b.res);
        lab::loop_costs(cfg, &mut b.res)?;
        drill::measure(&mut b.res);
    }
    let instances = if cfg.rounds == 1 { CROWD / 4 } else { CROWD };
    let crowd = lab::crowd(cfg, instances)?;
    println!(
        "  {} instances on one bridge: started in {:.1} s, RSS {:.0} MB in all, idle CPU {:.1} % \
         of a core, {} answering ping",
        crowd.instances, crowd.start_s, crowd.rss_mb, crowd.idle_cpu, crowd.answering
    );
    if crowd.answering != crowd.instances {
        b.res.fail(&format!(
            "only {} of {} instances answered ping",
            crowd.answering, crowd.instances
        ));
    }
    println!();
    print!("{}", table(&b.res, cfg, jumbo, &crowd));
    if b.res.fails.is_empty() {
        return Ok(true);
    }
    println!();
    eprintln!("{ME}: {} measurement(s) failed:", b.res.fails.len());
    for f in &b.res.fails {
        eprintln!("  - {f}");
    }
    Ok(false)
}

/// lwip-drill's rows of the table.
fn drill_table_rows(res: &Results, single: &mut impl FnMut(String, String)) {
    let f = |x: Option<f64>, digits: usize| x.map_or("n/a".into(), |x| format!("{x:.digits$}"));
    let n = res.median("drill_scripts").unwrap_or(0.0);
    single(
        format!("lwip-drill: our corpus, {n:.0} scripts, one at a time (s)"),
        f(res.median("drill_corpus_j1_s"), 2),
    );
    single(
        format!("lwip-drill: our corpus, {n:.0} scripts, on every core (s)"),
        f(res.median("drill_corpus_jn_s"), 2),
    );
    single(
        format!(
            "lwip-drill: {}, {} s of virtual time (ms)",
            drill::LONG_SCRIPT,
            f(res.median("drill_long_virtual_s"), 0)
        ),
        f(res.median("drill_long_ms"), 1),
    );
}

/// `--drill`: lwip-drill's rows alone, over `cfg.rounds` rounds.
fn drill_rows(cfg: &Config) -> ExitCode {
    let mut res = Results::default();
    println!("Raw values per round:");
    for round in 1..=cfg.rounds {
        res.round = round;
        drill::measure(&mut res);
    }
    let mut rows: Vec<[String; 2]> = Vec::new();
    drill_table_rows(&res, &mut |name, cell| rows.push([name, cell]));
    println!("\n| measurement | value |\n| --- | ---: |");
    for [name, cell] in rows {
        println!("| {name} | {cell} |");
    }
    if res.fails.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--router`: the router rows alone, over `cfg.rounds` rounds, then their
/// medians.
fn router_rounds(cfg: &Config) -> bool {
    header(cfg, " (router rows)");
    let mut res = Results::default();
    println!("Raw values per round:");
    for round in 1..=cfg.rounds {
        res.round = round;
        lab::router(cfg, &mut res);
    }
    println!(
        "\n| router, median of {} rounds | lwip-tap | kernel | ratio |",
        cfg.rounds
    );
    println!("| --- | ---: | ---: | ---: |");
    for (who, mode) in ROUTER_MODES {
        for (row, key, scale) in [
            ("iperf (Gbit/s)", "iperf", 1000.0),
            ("ping avg (ms)", "ping", 1.0),
        ] {
            let (a, k) = (
                res.median(&format!("{who}_router_{key}")),
                res.median(&format!("k_router_{key}")),
            );
            let f = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{:.3}", x / scale));
            println!("| {row}{mode} | {} | {} | {} |", f(a), f(k), ratio(a, k));
        }
    }
    res.fails.is_empty()
}

/// lwip-tap's router modes in the bench: key prefix, and the row's suffix.
const ROUTER_MODES: [(&str, &str); 3] = [
    ("lw", ""),
    ("lwpt", ", offload=on (super-frames pass through)"),
    ("lwbusy", ", --busy-poll"),
];

/// `--sink`: the sink rows alone, interleaved (lwip-tap at MTU 1500, the
/// kernel, lwip-tap at MTU 65000, the kernel), then their medians.
fn sink_rounds(b: &mut Bench) -> Result<bool, String> {
    let cfg = b.cfg;
    let senders = cfg.senders();
    for round in 1..=cfg.rounds {
        b.res.round = round;
        for mtu in [1500, JUMBO_MTU] {
            let mtu_key = (mtu != 1500).then_some(mtu);
            let mut lwip = start_lwip(&b.lw, cfg, mtu_key, &[])?
                .ok_or_else(|| format!("lwip-tap refused to start at MTU {mtu}"))?;
            for &from in senders {
                b.lwip_iperf(&mut lwip, mtu, false, from)?;
            }
            if !stop_lwip(lwip) {
                b.res.fail("lwip-tap exit status on SIGTERM");
            }
            for &from in senders {
                b.kernel_iperf(mtu, from);
            }
        }
    }
    println!();
    println!(
        "| sink, median of {} rounds | lwip-tap (Gbit/s) | kernel (Gbit/s) | ratio |",
        cfg.rounds
    );
    println!("| --- | ---: | ---: | ---: |");
    for &from in senders {
        for mtu in [1500, JUMBO_MTU] {
            let (a, k) = (
                b.res.median(&from.key("lw", mtu)),
                b.res.median(&from.key("k", mtu)),
            );
            let f = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{:.2}", x / 1000.0));
            let label = from.label();
            println!(
                "| iperf MTU {mtu}{label} | {} | {} | {} |",
                f(a),
                f(k),
                ratio(a, k)
            );
        }
    }
    Ok(b.res.fails.is_empty())
}

/// lwip-tap's figure over the kernel's, to two decimals ("-" without both).
fn ratio(lwip: Option<f64>, kernel: Option<f64>) -> String {
    match (lwip, kernel) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    }
}

/// The markdown table of medians, with footnotes.
fn table(res: &Results, cfg: &Config, jumbo: bool, crowd: &lab::Crowd) -> String {
    let f = |x: Option<f64>, digits: usize| x.map_or("n/a".into(), |x| format!("{x:.digits$}"));
    let mut rows: Vec<[String; 4]> = Vec::new();
    // lwip-tap against the kernel, with the ratio.
    let mut compared = |name: String, a: Option<f64>, b: Option<f64>, digits: usize| {
        rows.push([name, f(a, digits), f(b, digits), ratio(a, b)]);
    };
    let gbit = |key: String| res.median(&key).map(|m| m / 1000.0);
    for &from in cfg.senders() {
        for mtu in [1500, JUMBO_MTU] {
            let (a, b) = (gbit(from.key("lw", mtu)), gbit(from.key("k", mtu)));
            let label = from.label();
            compared(format!("iperf MTU {mtu}{label} (Gbit/s)"), a, b, 2);
        }
    }
    let (a, b) = (gbit("lw_iperf6".into()), gbit("k_iperf6".into()));
    compared("iperf over IPv6, MTU 1500 (Gbit/s)".into(), a, b, 2);
    let (a, b) = (gbit("lw_send1500".into()), gbit("k_iperf1500".into()));
    compared(
        "iperf, lwIP sending (--iperf-client), MTU 1500 (Gbit/s)".into(),
        a,
        b,
        2,
    );
    for (who, mode) in ROUTER_MODES {
        let (a, b) = (
            gbit(format!("{who}_router_iperf")),
            gbit("k_router_iperf".into()),
        );
        compared(
            format!("router iperf, MTU 1500, Linux bridges on both sides{mode} (Gbit/s)"),
            a,
            b,
            2,
        );
        let (a, b) = (
            res.median(&format!("{who}_router_ping")),
            res.median("k_router_ping"),
        );
        compared(format!("ping through the router{mode}, avg (ms)"), a, b, 3);
    }
    for stat in ["avg", "max"] {
        let (a, b) = (
            res.median(&format!("lw_ping_{stat}")),
            res.median(&format!("k_ping_{stat}")),
        );
        compared(format!("ping {stat} (ms)"), a, b, 3);
    }
    for stat in ["avg", "max"] {
        let (a, b) = (
            res.median(&format!("busy_ping_{stat}")),
            res.median(&format!("k_ping_{stat}")),
        );
        compared(format!("ping {stat} with --busy-poll (ms)"), a, b, 3);
    }
    for (key, what) in [
        ("refl_sleep_ping_avg", "sleeping"),
        ("refl_poll_ping_avg", "polling"),
    ] {
        let (a, b) = (res.median(key), res.median("k_ping_avg"));
        compared(
            format!("ping avg, a minimal TAP reflector, {what} (the limit) (ms)"),
            a,
            b,
            3,
        );
    }
    if !jumbo {
        rows[1][1] = "not supported".into();
        rows[1][3] = "-".into();
    }
    // lwip-tap only.
    let mut single = |name: String, cell: String| rows.push([name, cell, "-".into(), "-".into()]);
    let mut footnotes = Vec::new();
    for c in [1, 4, 32] {
        let key = format!("lw_http_c{c}");
        let notes = res.notes.get(&key).map(Vec::as_slice).unwrap_or_default();
        let mut cell = "ab aborted".to_string();
        if !res.valid(&format!("{key}_rps")).is_empty() {
            let rps = f(res.median(&format!("{key}_rps")), 0);
            cell = format!("{rps} (failed {}", res.sum(&format!("{key}_failed")));
            let non2xx = res.sum(&format!("{key}_non2xx"));
            if non2xx > 0 {
                let _ = write!(cell, ", non-2xx {non2xx}");
            }
            cell.push(')');
            if !notes.is_empty() {
                let _ = write!(cell, "; {} run(s) aborted", notes.len());
            }
        }
        footnotes.extend(notes.iter().map(|n| format!("HTTP c={c}, {n}")));
        single(format!("HTTP c={c} (req/s)"), cell);
    }
    for rate in [100, 500] {
        let cpu = f(res.median(&format!("lw_cpu_ping{rate}")), 1);
        single(format!("CPU at {rate} pings/s (% of a core)"), cpu);
    }
    let n = crowd.instances;
    single(
        format!("{n} instances on one bridge: start all (s)"),
        format!("{:.1}", crowd.start_s),
    );
    single(
        format!("{n} instances: total RSS (MB)"),
        format!("{:.0}", crowd.rss_mb),
    );
    single(
        format!("{n} instances: idle CPU over 10 s (% of a core)"),
        format!("{:.1}", crowd.idle_cpu),
    );
    single(
        format!("{n} instances: answering ping"),
        format!("{}", crowd.answering),
    );
    let echo = f(res.median("lw_echo_mbs"), 1);
    single(format!("TCP echo {} MiB (MB/s)", cfg.echo_mib), echo);
    let cpu = f(res.median("lw_cpu_per_gb"), 3);
    single("CPU s per GB received (iperf MTU 1500)".into(), cpu);
    let mb = |key: &str| f(res.median(key).map(|kb| kb / 1024.0), 1);
    single("peak RSS (MB)".into(), mb("lw_rss_kb"));
    if jumbo {
        single(
            format!("peak RSS, MTU {JUMBO_MTU} instance (MB)"),
            mb("lw_rss_jumbo_kb"),
        );
    }

    drill_table_rows(res, &mut single);

    let mut out = String::from("| measurement | lwip-tap | Linux kernel (veth) | ratio |\n");
    let filter = filter_table(res);
    out.push_str("| --- | ---: | ---: | ---: |\n");
    for r in &rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
    for n in &footnotes {
        let _ = writeln!(out, "- {n}");
    }
    if !footnotes.is_empty() {
        out.push('\n');
    }
    out.push_str(
        "Medians over rounds; ratio = lwip-tap / kernel; HTTP \"failed\" is the total over \
         all rounds as ab counts it (lwIP's httpd sends no Content-Length, so ab may count \
         length mismatches); MB/s = 10^6 bytes/s; RSS MB = 2^20 bytes (VmHWM).\n",
    );
    out.push_str(&filter);
    out
}

/// What the seccomp filter costs: the same binary with and without it
/// (`--seccomp off`), two fresh instances through the same steps in each
/// round.
fn filter_table(res: &Results) -> String {
    let f = |x: Option<f64>, digits: usize| x.map_or("n/a".into(), |x| format!("{x:.digits$}"));
    let mut out = String::from(
        "\n| with and without the seccomp filter | filter on | filter off | cost |\n\
         | --- | ---: | ---: | ---: |\n",
    );
    // (row, key after the prefix, digits, whether more is better)
    let rows = [
        ("sink: iperf MTU 1500 (Mbit/s)", "iperf1500", 0, true),
        ("sink: CPU s per GB received", "cpu_per_gb", 3, false),
        ("HTTP c=4 (req/s)", "http_c4_rps", 0, true),
        ("ping avg (ms)", "ping_avg", 3, false),
    ];
    for (name, key, digits, more_is_better) in rows {
        let on = res.median(&format!("filteron_{key}"));
        let off = res.median(&format!("nofilter_{key}"));
        let cost = match (on, off) {
            (Some(on), Some(off)) if on > 0.0 && off > 0.0 => {
                let cost = if more_is_better {
                    off / on - 1.0
                } else {
                    on / off - 1.0
                };
                format!("{:+.1} %", cost * 100.0)
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {cost} |",
            f(on, digits),
            f(off, digits)
        );
    }
    out.push_str(
        "\nCost: how much slower the binary is with its filter (as shipped) than with \
         --seccomp off, medians over rounds; negative means faster, i.e. noise.\n",
    );
    out
}

/// One lwip-tap under mixed bounded load for `seconds`: 1 MiB echo
/// compared byte for byte, 200 HTTP requests, a 2 s iperf; RSS every 10 s.
fn soak(cfg: &Config, seconds: u64) -> Result<bool, String> {
    header(cfg, &format!(" (soak, {seconds} s)"));
    println!("- load per round: TCP echo 1 MiB (nc + cmp), ab -n 200 -c 4, iperf -t 2\n");
    let ns = Netns::new("bench-soak");
    let mut lwip = start_lwip(&ns, cfg, None, &[])?.ok_or("lwip-tap refused to start")?;
    let (input, path) = random_file(ns.dir.path(), "soak.in", 1 << 20);

    let start = Instant::now();
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut sample = |lwip: &LwipTap| {
        if let Some(kb) = status_kb(lwip.pid(), "VmRSS") {
            samples.push((start.elapsed().as_secs(), kb));
        }
        Instant::now()
    };
    let mut last_sample = sample(&lwip);
    let (mut rounds, mut errors, mut died) = (0u64, 0u64, None);
    'soak: while start.elapsed() < Duration::from_secs(seconds) {
        rounds += 1;
        for step in ["echo", "ab", "iperf"] {
            let error = match step {
                "echo" => echo(&ns, cfg, &input, &path, 30)
                    .err()
                    .map(|e| format!("echo: {e}")),
                "ab" => match ab_run(&ns, cfg, 200, 4) {
                    Err(_) => Some("ab failed".to_string()),
                    Ok(ab)
                        if ab.complete != Some(200) || ab.failed != Some(0) || ab.non_2xx != 0 =>
                    {
                        Some(format!(
                            "ab: complete {}, failed {} {}, non-2xx {}",
                            or_unknown(ab.complete),
                            or_unknown(ab.failed),
                            ab.failed_detail.unwrap_or_default(),
                            ab.non_2xx
                        ))
                    }
                    Ok(_) => None,
                },
                _ => iperf_client(&ns, cfg, LWIP_ADDR, 5001, 2)
                    .is_none()
                    .then(|| "iperf failed".to_string()),
            };
            if let Some(error) = error {
                errors += 1;
                let t = start.elapsed().as_secs();
                eprintln!("  soak round {rounds} (t={t} s): ERROR: {error}");
            }
            died = lwip.exit_status();
            if died.is_some() {
                break 'soak;
            }
            if last_sample.elapsed() >= Duration::from_secs(10) {
                last_sample = sample(&lwip);
            }
        }
    }
    match died {
        Some(status) => {
            errors += 1;
            eprintln!(
                "{ME}: lwip-tap died during the soak ({status})\n{}",
                log_tail(&lwip)
            );
        }
        None => {
            sample(&lwip);
        }
    }
    println!("\n| time (s) | VmRSS (kB) |\n| ---: | ---: |");
    for (t, kb) in &samples {
        println!("| {t} | {kb} |");
    }
    println!();
    if died.is_none() && !stop_lwip(lwip) {
        errors += 1;
    }
    let kb = |x: Option<&(u64, u64)>| or_unknown(x.map(|s| s.1));
    let (first, last) = (kb(samples.first()), kb(samples.last()));
    let max = kb(samples.iter().max_by_key(|s| s.1));
    println!(
        "soak: {rounds} rounds, {errors} errors, RSS first {first} kB last {last} kB max {max} kB"
    );
    Ok(errors == 0 && died.is_none())
}
