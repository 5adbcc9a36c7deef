//! The benchmark's rows beyond one instance against the kernel's TCP:
//! lwip-tap as a router against the kernel's own forwarding, what the loop
//! costs at steady ping rates (and the ping rows with `--busy-poll`), and
//! many idle instances on one bridge.

use std::time::{Duration, Instant};

use super::common::tools::{clock_ticks_per_second, cpu_ticks};
use super::common::{LwipTap, Netns, LWIP_ADDR, TRANSIENT_SPEC};
use super::reflector::{Reflector, REFLECTOR};
use super::{Config, Results};

/// A router between two hosts, each behind its own Linux bridge:
///
///     left 10.70.0.100 -- br0 -- [router] -- br1 -- right 10.71.0.100
///
/// The router is lwip-tap on two TAPs, or the kernel (`ip_forward=1`) on
/// two veths plugged into the same bridges, so both have the same bridges
/// on both sides.
struct Routed {
    router: Netns,
    left: Netns,
    right: Netns,
}

impl Routed {
    fn new(cfg: &Config) -> Routed {
        let net = Routed {
            router: Netns::new("bench-router"),
            left: Netns::new("bench-rleft"),
            right: Netns::new("bench-rright"),
        };
        for (n, host) in [&net.left, &net.right].into_iter().enumerate() {
            net.router.add_bridge(&format!("br{n}"), None);
            net.router.sh(&format!(
                "ip link add vb{n} type veth peer name eth0 netns {} && \
                 ip link set vb{n} master br{n} up",
                host.name()
            ));
            host.sh(&format!(
                "ip addr add 10.7{n}.0.100/24 dev eth0 && ip link set eth0 up && \
                 ip route add default via 10.7{n}.0.1"
            ));
        }
        let mut server = net.right.command_on_cpu(cfg.srv_cpu, "iperf");
        server.args(["-s", "-p", "5001"]);
        net.right.start_helper(server, "iperf-s.log");
        net
    }

    /// The kernel as the router: a veth from each bridge into a namespace
    /// side with the router's address, and forwarding on.
    fn kernel_router(&self) {
        for n in 0..2 {
            self.router.sh(&format!(
                "ip link add vr{n} type veth peer name vx{n} && \
                 ip link set vr{n} master br{n} up && \
                 ip addr add 10.7{n}.0.1/24 dev vx{n} && ip link set vx{n} up"
            ));
        }
        self.router.sh("sysctl -qw net.ipv4.ip_forward=1");
    }

    /// lwip-tap as the router, on two TAPs plugged into the bridges, in
    /// `mode`.
    fn lwip_router(&self, cfg: &Config, mode: RouterMode) -> LwipTap {
        for n in 0..2 {
            self.router.add_tap(&format!("tap{n}"), None);
            self.router
                .sh(&format!("ip link set dev tap{n} master br{n}"));
        }
        let (keys, flags): (&str, &[&str]) = match mode {
            RouterMode::Default => ("", &[]),
            RouterMode::PassThrough => (",offload=on", &[]),
            RouterMode::BusyPoll => ("", &["--busy-poll"]),
        };
        let left = format!("name=tap0,addr=10.70.0.1,netmask=255.255.255.0{keys}");
        let right = format!("name=tap1,addr=10.71.0.1,netmask=255.255.255.0{keys}");
        let mut args = vec!["-i", &left, "-i", &right];
        args.extend_from_slice(flags);
        self.router.spawn_lwip_tap_on_cpu(cfg.srv_cpu, &args)
    }

    /// iperf left to right (Mbit/s) and ping's average (ms), recorded as
    /// `{who}_router_iperf` and `{who}_router_ping`.
    fn measure(&self, cfg: &Config, res: &mut Results, who: &str) {
        let answering = super::common::wait_until(Duration::from_secs(10), || {
            self.left
                .run("ping -c 1 -W 1 -q 10.71.0.100")
                .status
                .success()
        });
        if !answering {
            res.fail(&format!("{who} router: the right host never answered"));
            return;
        }
        let right = "10.71.0.100";
        let rate =
            super::iperf_client(&self.left, cfg, right, 5001, cfg.time).map(|i| i.mbits_per_sec);
        res.rec(&format!("{who}_router_iperf"), rate);
        let avg = super::ping_flood(&self.left, cfg, right).and_then(|p| p.avg_ms());
        res.rec(&format!("{who}_router_ping"), avg);
        let label = match who {
            "k" => "kernel  ",
            "lwpt" => "lwip-tap offload=on",
            "lwbusy" => "lwip-tap --busy-poll",
            _ => "lwip-tap",
        };
        res.say(&format!(
            "{label}  router: iperf {} Mbit/s, ping avg {} ms",
            super::or_unknown(rate),
            super::or_unknown(avg)
        ));
        if rate.is_none() || avg.is_none() {
            res.fail(&format!("{label} router measurement"));
        }
    }
}

/// How lwip-tap routes in a router row.
#[derive(Clone, Copy)]
enum RouterMode {
    /// lwIP forwards wire-sized frames (recorded as `lw_router_*`).
    Default,
    /// `offload=on` on both interfaces: super-frames pass through
    /// (`lwpt_router_*`).
    PassThrough,
    /// `--busy-poll` (`lwbusy_router_*`).
    BusyPoll,
}

/// One round of the router rows: lwip-tap's router in each mode, then the
/// kernel's, in fresh namespaces each.
pub(super) fn router(cfg: &Config, res: &mut Results) {
    for (mode, who) in [
        (RouterMode::Default, "lw"),
        (RouterMode::PassThrough, "lwpt"),
        (RouterMode::BusyPoll, "lwbusy"),
    ] {
        let net = Routed::new(cfg);
        let mut lwip = net.lwip_router(cfg, mode);
        net.measure(cfg, res, who);
        if lwip.exit_status().is_some() {
            res.fail(&format!(
                "lwip-tap router ({who}) died:\n{}",
                lwip.log_tail(20)
            ));
        }
    }
    let net = Routed::new(cfg);
    net.kernel_router();
    net.measure(cfg, res, "k");
}

/// lwip-tap's CPU use (% of a core) while it answers pings at 100 and 500
/// per second, in the default mode (`lw_cpu_ping100`, `lw_cpu_ping500`),
/// and the main ping rows again with `--busy-poll` (`busy_ping_avg`,
/// `busy_ping_max`).
pub(super) fn loop_costs(cfg: &Config, res: &mut Results) -> Result<(), String> {
    let ns = Netns::new("bench-cpu");
    let mut lwip = ns.spawn_lwip_tap_on_cpu(cfg.srv_cpu, &["-i", TRANSIENT_SPEC]);
    lwip.wait_until_answering(&ns, LWIP_ADDR, Duration::from_secs(10))
        .map_err(|_| format!("lwip-tap did not answer\n{}", lwip.log_tail(20)))?;
    let seconds = if cfg.rounds == 1 { 3 } else { 5 };
    for rate in [100, 500] {
        let (pid, hz) = (lwip.pid(), clock_ticks_per_second() as f64);
        let (t0, w0) = (cpu_ticks(pid), Instant::now());
        let count = rate * seconds;
        let interval = 1.0 / rate as f64;
        ns.run_on_cpu(
            cfg.cli_cpu,
            &format!("ping -c {count} -i {interval} -q {LWIP_ADDR}"),
            None,
            Duration::from_secs(seconds + 30),
            libc::SIGINT,
        );
        let (t1, wall) = (cpu_ticks(pid), w0.elapsed().as_secs_f64());
        let percent = t0.zip(t1).map(|(a, b)| (b - a) as f64 / hz / wall * 100.0);
        res.rec(&format!("lw_cpu_ping{rate}"), percent);
        res.say(&format!(
            "lwip-tap  CPU at {rate} pings/s: {} % of a core",
            super::or_unknown(percent.map(|p| format!("{p:.1}")))
        ));
    }
    drop(lwip);
    let mut lwip = ns.spawn_lwip_tap_on_cpu(cfg.srv_cpu, &["-i", TRANSIENT_SPEC, "--busy-poll"]);
    lwip.wait_until_answering(&ns, LWIP_ADDR, Duration::from_secs(10))
        .map_err(|_| format!("lwip-tap --busy-poll did not answer\n{}", lwip.log_tail(20)))?;
    let summary = super::ping_flood(&ns, cfg, LWIP_ADDR);
    let (avg, max) = (
        summary.as_ref().and_then(|s| s.avg_ms()),
        summary.as_ref().and_then(|s| s.max_ms()),
    );
    res.rec("busy_ping_avg", avg);
    res.rec("busy_ping_max", max);
    res.say(&format!(
        "lwip-tap --busy-poll ping x{}: avg {} ms, max {} ms",
        cfg.ping_n,
        super::or_unknown(avg),
        super::or_unknown(max)
    ));
    drop(lwip);
    for (polling, key, what) in [
        (false, "refl_sleep_ping_avg", "sleeping"),
        (true, "refl_poll_ping_avg", "polling"),
    ] {
        let reflector = Reflector::start(&ns, cfg.srv_cpu, polling)?;
        let summary = super::ping_flood(&ns, cfg, REFLECTOR);
        let answered = reflector.stop()?;
        let avg = summary.as_ref().and_then(|s| s.avg_ms());
        res.rec(key, avg);
        res.say(&format!(
            "TAP reflector ({what}) ping x{}: avg {} ms ({answered} answered)",
            cfg.ping_n,
            super::or_unknown(avg)
        ));
    }
    Ok(())
}

/// What `instances` lwip-tap processes on one bridge cost: seconds to start
/// them all, their total RSS (MB), their idle CPU over 10 s (% of a core,
/// after 20 s to let start-up chatter settle), and how many answer ping.
pub(super) struct Crowd {
    pub start_s: f64,
    pub rss_mb: f64,
    pub idle_cpu: f64,
    pub answering: usize,
    pub instances: usize,
}

pub(super) fn crowd(cfg: &Config, instances: usize) -> Result<Crowd, String> {
    let ns = Netns::new("bench-crowd");
    ns.add_bridge("br0", Some("10.200.0.1/16"));
    let addr = |i: usize| format!("10.200.{}.{}", i / 250, i % 250 + 2);
    ns.sh(&format!(
        "for i in $(seq 0 {}); do ip tuntap add dev t$i mode tap && \
         ip link set dev t$i master br0 up; done",
        instances - 1
    ));
    let start = Instant::now();
    let mut all: Vec<LwipTap> = (0..instances)
        .map(|i| {
            let spec = format!("name=t{i},addr={},netmask=255.255.0.0", addr(i));
            ns.spawn_lwip_tap_on_cpu(cfg.srv_cpu, &["-i", &spec])
        })
        .collect();
    for (i, lwip) in all.iter_mut().enumerate() {
        lwip.wait_for_log(&format!("t{i}: mac"), Duration::from_secs(30));
    }
    let start_s = start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(20));
    let ticks = |all: &[LwipTap]| all.iter().filter_map(|l| cpu_ticks(l.pid())).sum::<u64>();
    let (t0, w0) = (ticks(&all), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let (t1, wall) = (ticks(&all), w0.elapsed().as_secs_f64());
    let idle_cpu = (t1 - t0) as f64 / clock_ticks_per_second() as f64 / wall * 100.0;
    let rss_kb: u64 = all
        .iter()
        .filter_map(|l| super::common::tools::status_kb(l.pid(), "VmRSS"))
        .sum();
    let script = format!(
        "n=0; for i in $(seq 0 {}); do ping -c 1 -W 1 -q 10.200.$((i / 250)).$((i % 250 + 2)) \
         >/dev/null && n=$((n + 1)); done; echo $n",
        instances - 1
    );
    let answering = ns.sh(&script).trim().parse().unwrap_or(0);
    for lwip in &mut all {
        lwip.terminate(Duration::from_secs(5));
    }
    Ok(Crowd {
        start_s,
        rss_mb: rss_kb as f64 / 1024.0,
        idle_cpu,
        answering,
        instances,
    })
}
