//! Test topologies in throwaway network namespaces.
//!
//! Every test that touches the network makes its own namespace with
//! [`Netns::new`], builds TAPs, veths and bridges inside it, and runs the
//! real `lwip-tap` binary and the real tools (ping, curl, nc, iperf) there.
//! Dropping the `Netns` kills whatever still runs inside it and deletes it,
//! also when the test fails, so no traffic or state leaves the test.
//!
//! [`Netns`] and [`LwipTap`] have one `impl` block each, in sections: the
//! commands, links, lwip-tap, tools and background helpers of a namespace;
//! what lwip-tap logs and its process.
#![allow(dead_code)]

pub mod launch;
pub mod tools;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const LWIP_TAP: &str = env!("CARGO_BIN_EXE_lwip-tap");

/// A UDP and TCP checker for forwarding tests (see the script's header).
pub const CHECKER: &str = include_str!("checker.py");

/// Returns false (after saying why) when this machine cannot run network
/// tests: not root, or a tool is missing. Under CI=true that is a failure.
pub fn can_run_network_tests(tools: &[&str]) -> bool {
    let mut reasons = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        reasons.push("not running as root (network namespaces and TAPs need it)".to_string());
    }
    for tool in ["ip"].iter().chain(tools) {
        if !have_tool(tool) {
            reasons.push(format!(
                "`{tool}` is not installed (scripts/test installs it)"
            ));
        }
    }
    if reasons.is_empty() {
        return true;
    }
    skip(&reasons.join("; "));
    false
}

/// True when libclang (which bindgen needs) is installed; otherwise the
/// calling test is recorded as skipped (see [`skip`]).
pub fn libclang_or_skip() -> bool {
    let found = Command::new("sh")
        .args(["-c", "ldconfig -p | grep -q 'libclang.*\\.so'"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip("libclang is not installed (apt-get install libclang-dev)");
    }
    found
}

/// Reports that the calling test cannot run here and is skipped, not
/// passed: it says so on stderr and appends the test's name to the file
/// named by `LWIP_TAP_SKIP_LOG` (scripts/test counts those in its closing
/// line). Under CI=true a test that cannot run fails instead.
pub fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {test} cannot run: {reason}");
    }
    eprintln!("SKIPPED: {test}: {reason}");
    if let Some(path) = std::env::var_os("LWIP_TAP_SKIP_LOG") {
        use std::io::Write;
        let file = fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{test}");
        }
    }
}

/// Skips the calling test (returns) unless it can run; see
/// [`can_run_network_tests`].
/// Generates one test per scenario and switch kind: `linux_bridge::NAME`
/// and `open_vswitch::NAME` call `NAME(Switch::Linux)` and
/// `NAME(Switch::Ovs)` (the calling file imports `Switch`).
#[macro_export]
macro_rules! on_both_switches {
    ($($scenario:ident),* $(,)?) => {
        mod linux_bridge {
            $(#[test] fn $scenario() { super::$scenario(super::Switch::Linux) })*
        }
        mod open_vswitch {
            $(#[test] fn $scenario() { super::$scenario(super::Switch::Ovs) })*
        }
    };
}

#[macro_export]
macro_rules! require_network {
    ($($tool:expr),* $(,)?) => {
        if !$crate::common::can_run_network_tests(&[$($tool),*]) {
            return;
        }
    };
}

pub fn have_tool(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lwip-tap-test-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A network namespace of our own, deleted (with everything in it) on drop.
pub struct Netns {
    name: String,
    pub dir: TempDir,
    /// Background helpers (dnsmasq, …), killed and reaped on drop.
    helpers: std::cell::RefCell<Vec<Child>>,
}

impl Netns {
    /// Creates the namespace `lwt-TAG-PID-N`, with lo up.
    pub fn new(tag: &str) -> Netns {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "lwt-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip netns add");
        assert!(status.success(), "ip netns add {name} failed");
        let dir = TempDir::new(tag);
        live_namespaces().push((name.clone(), dir.path().to_path_buf()));
        let ns = Netns {
            name,
            dir,
            helpers: Default::default(),
        };
        ns.sh("ip link set lo up");
        ns
    }

    // Commands inside the namespace.

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program args…` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// A command that runs `program args…` inside the namespace, pinned to
    /// `cpu` with taskset.
    pub fn command_on_cpu(&self, cpu: usize, program: &str) -> Command {
        let mut cmd = self.command("taskset");
        cmd.args(["-c", &cpu.to_string(), program]);
        cmd
    }

    /// Runs a shell command inside the namespace.
    pub fn run(&self, script: &str) -> Output {
        self.command("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .output()
            .expect("run ip netns exec")
    }

    /// Runs a shell command inside the namespace, failing the test if it
    /// fails; returns its stdout.
    pub fn sh(&self, script: &str) -> String {
        let out = self.run(script);
        assert!(
            out.status.success(),
            "in {}: `{script}` failed ({}):\n{}{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// [`tools::run_bounded`] on `command_line` (split at whitespace; no shell),
    /// inside the namespace and pinned to `cpu`.
    pub fn run_on_cpu(
        &self,
        cpu: usize,
        command_line: &str,
        input: Option<&Path>,
        limit: Duration,
        signal: i32,
    ) -> tools::Bounded {
        let mut words = command_line.split_whitespace();
        let program = words.next().expect("a command line");
        let mut cmd = self.command_on_cpu(cpu, program);
        cmd.args(words);
        tools::run_bounded(&mut cmd, input, limit, signal)
    }

    // Links: TAPs, bridges, Open vSwitch, veth pairs.

    /// Creates a persistent TAP `name`, up, optionally with a host address.
    pub fn add_tap(&self, name: &str, host_cidr: Option<&str>) {
        self.sh(&format!(
            "ip tuntap add dev {name} mode tap && ip link set dev {name} up"
        ));
        if let Some(cidr) = host_cidr {
            self.sh(&format!("ip addr add {cidr} dev {name}"));
        }
    }

    /// Creates a Linux bridge, up, optionally with a host address.
    pub fn add_bridge(&self, name: &str, host_cidr: Option<&str>) {
        self.sh(&format!(
            "ip link add name {name} type bridge && ip link set dev {name} up"
        ));
        if let Some(cidr) = host_cidr {
            self.sh(&format!("ip addr add {cidr} dev {name}"));
        }
    }

    /// Adds a switch, up, optionally with a host address.
    pub fn add_switch(&self, kind: Switch, name: &str, host_cidr: Option<&str>) {
        match kind {
            Switch::Linux => self.add_bridge(name, host_cidr),
            Switch::Ovs => {
                self.ovs_vsctl(&format!(
                    "add-br {name} -- set bridge {name} datapath_type=netdev"
                ));
                self.sh(&format!("ip link set dev {name} up"));
                if let Some(cidr) = host_cidr {
                    self.sh(&format!("ip addr add {cidr} dev {name}"));
                }
            }
        }
    }

    /// Plugs the device `dev` into the switch `bridge`.
    pub fn add_port(&self, kind: Switch, bridge: &str, dev: &str) {
        match kind {
            Switch::Linux => {
                self.sh(&format!("ip link set dev {dev} master {bridge}"));
            }
            Switch::Ovs => {
                self.ovs_vsctl(&format!("add-port {bridge} {dev}"));
            }
        }
    }

    /// Creates a persistent TAP `tap` (up) and plugs it into `bridge`.
    pub fn add_tap_port(&self, kind: Switch, bridge: &str, tap: &str) {
        self.add_tap(tap, None);
        self.add_port(kind, bridge, tap);
    }

    /// A veth pair: `dev` here with `cidr`, `peer_dev` in `peer` with
    /// `peer_cidr`, both up.
    pub fn add_veth_pair(
        &self,
        dev: &str,
        cidr: &str,
        peer: &Netns,
        peer_dev: &str,
        peer_cidr: &str,
    ) {
        self.sh(&format!(
            "ip link add {dev} type veth peer name {peer_dev} netns {} && \
             ip addr add {cidr} dev {dev} && ip link set {dev} up",
            peer.name()
        ));
        peer.sh(&format!(
            "ip addr add {peer_cidr} dev {peer_dev} && ip link set {peer_dev} up"
        ));
    }

    pub fn set_mtu(&self, dev: &str, mtu: u32) {
        self.sh(&format!("ip link set dev {dev} mtu {mtu}"));
    }

    pub fn link_exists(&self, name: &str) -> bool {
        self.run(&format!("ip link show dev {name}"))
            .status
            .success()
    }

    /// `ovs-vsctl` against this namespace's database.
    pub fn ovs_vsctl(&self, args: &str) -> String {
        self.ensure_ovs();
        let d = self.dir.path().join("ovs");
        self.sh(&format!(
            "ovs-vsctl --db=unix:{}/db.sock --timeout=10 {args}",
            d.display()
        ))
    }

    /// Starts ovsdb-server and ovs-vswitchd inside the namespace (once), with
    /// their database, sockets, pid and log files in the namespace's temp
    /// directory. They die with the namespace.
    fn ensure_ovs(&self) {
        let dir = self.dir.path().join("ovs");
        if dir.join("ovs-vswitchd.pid").exists() {
            return;
        }
        fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        self.sh(&format!(
            "export OVS_RUNDIR={d} OVS_LOGDIR={d} OVS_DBDIR={d} OVS_SYSCONFDIR={d}; \
             ovsdb-tool create {d}/conf.db /usr/share/openvswitch/vswitch.ovsschema && \
             ovsdb-server {d}/conf.db --remote=punix:{d}/db.sock --pidfile={d}/ovsdb-server.pid \
               --detach --log-file={d}/ovsdb-server.log && \
             ovs-vsctl --db=unix:{d}/db.sock --no-wait init && \
             ovs-vswitchd unix:{d}/db.sock --pidfile={d}/ovs-vswitchd.pid --detach \
               --log-file={d}/ovs-vswitchd.log"
        ));
    }

    // lwip-tap inside the namespace.

    /// Starts `lwip-tap args…` inside the namespace, logging to a file.
    pub fn spawn_lwip_tap(&self, args: &[&str]) -> LwipTap {
        self.spawn_lwip_tap_with(LWIP_TAP, args, &[])
    }

    /// Starts a given lwip-tap binary with extra environment variables.
    pub fn spawn_lwip_tap_with(
        &self,
        binary: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> LwipTap {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let log = self.dir.path().join(format!(
            "lwip-tap-{}.log",
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let file = fs::File::create(&log).expect("create log file");
        let mut cmd = self.command(binary);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone log file"))
            .stderr(file);
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let child = cmd.spawn().expect("spawn lwip-tap");
        LwipTap { child, log }
    }

    /// [`Netns::spawn_lwip_tap`] pinned to `cpu` with taskset.
    pub fn spawn_lwip_tap_on_cpu(&self, cpu: usize, args: &[&str]) -> LwipTap {
        self.spawn_lwip_tap_after(&["taskset", "-c", &cpu.to_string()], args)
    }

    /// [`Netns::spawn_lwip_tap`] under `launch`: with a /dev/net of its
    /// own, as nobody (see [`launch::Launch`]).
    pub fn spawn_lwip_tap_under(&self, launch: &launch::Launch, args: &[&str]) -> LwipTap {
        let words = launch.words();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        self.spawn_lwip_tap_after(&words, args)
    }

    /// Starts `PREFIX… lwip-tap ARGS…` as [`Netns::spawn_lwip_tap`] does.
    fn spawn_lwip_tap_after(&self, prefix: &[&str], args: &[&str]) -> LwipTap {
        let Some((program, prefix)) = prefix.split_first() else {
            return self.spawn_lwip_tap(args);
        };
        let mut all = prefix.to_vec();
        all.push(LWIP_TAP);
        all.extend_from_slice(args);
        self.spawn_lwip_tap_with(program, &all, &[])
    }

    /// Starts lwip-tap on a transient TAP (172.16.0.2, host 172.16.0.1)
    /// with `flags`, and waits until it answers ping.
    pub fn transient_lwip_tap(&self, flags: &[&str]) -> LwipTap {
        self.transient_lwip_tap_with(LWIP_TAP, flags, &[])
    }

    /// [`Netns::transient_lwip_tap`] with a given lwip-tap binary and extra
    /// environment variables (see [`Netns::spawn_lwip_tap_with`]).
    pub fn transient_lwip_tap_with(
        &self,
        binary: &str,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> LwipTap {
        let mut args = vec!["-i", TRANSIENT_SPEC];
        args.extend_from_slice(flags);
        let mut lwip = self.spawn_lwip_tap_with(binary, &args, env);
        lwip.wait_for_log(": mac", Duration::from_secs(10));
        assert!(
            self.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)),
            "no ping reply:\n{}",
            lwip.log()
        );
        lwip
    }

    /// Runs `PREFIX lwip-tap ARGS` through the shell in the namespace
    /// (PREFIX may wrap it, e.g. [`launch::Launch::shell_prefix`]), asserts
    /// that it exits with `code` and explains itself in one line on stderr,
    /// and returns that line.
    pub fn lwip_tap_refuses(&self, prefix: &str, args: &str, code: i32) -> String {
        let out = self.run(&format!("{prefix} {LWIP_TAP} {args}"));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args}: {err}");
        assert_eq!(err.lines().count(), 1, "{args}: {err}");
        assert!(err.starts_with("lwip-tap: "), "{args}: {err}");
        err
    }

    // The tools, against what runs here.

    /// `ping -c count -i interval addr`; returns the number of replies.
    pub fn ping(&self, addr: &str, count: u32, interval: &str) -> u32 {
        let out = self.run(&format!("ping -n -c {count} -i {interval} -W 1 {addr}"));
        let text = String::from_utf8_lossy(&out.stdout);
        parse_received(&text).unwrap_or_else(|| panic!("unexpected ping output:\n{text}"))
    }

    /// Pings until the first reply arrives or `timeout` passes.
    pub fn wait_for_ping(&self, addr: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.ping(addr, 1, "0.2") == 1)
    }

    /// Sends `bytes` random bytes from here with nc to the echo service at
    /// `addr` (IPv6 if it has a colon) `port`, nc waiting up to `wait` s for
    /// more, and compares what comes back. Err with what nc and cmp said if
    /// either fails.
    pub fn tcp_echo(&self, addr: &str, port: u16, bytes: usize, wait: u32) -> Result<(), String> {
        let dir = self.dir.path().display();
        let (sent, back) = (format!("{dir}/echo-in"), format!("{dir}/echo-out"));
        self.sh(&format!("head -c {bytes} /dev/urandom > {sent}"));
        let v6 = if addr.contains(':') { "-6 " } else { "" };
        let out = self.run(&format!(
            "nc {v6}-N -w {wait} {addr} {port} < {sent} > {back} && cmp {sent} {back}"
        ));
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "TCP echo of {bytes} bytes via {addr} port {port} ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Waits until something listens on TCP `port` here (`ss -ltn`).
    pub fn wait_for_tcp_listener(&self, port: u16, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let out = self.run(&format!("ss -Hltn 'sport = :{port}'"));
            out.status.success() && !out.stdout.is_empty()
        })
    }

    // Background helpers, killed and reaped on drop.

    /// Starts `cmd` (made with [`Netns::command`] or
    /// [`Netns::command_on_cpu`]) in the background with its output in
    /// `log_name` in the namespace's directory; it is killed on drop.
    pub fn start_helper(&self, mut cmd: Command, log_name: &str) {
        let log = fs::File::create(self.dir.path().join(log_name)).expect("create log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        self.helpers.borrow_mut().push(child);
    }

    /// The path of [`CHECKER`] in this namespace's directory (written on
    /// first use), for `python3 PATH send …`.
    pub fn checker(&self) -> String {
        let path = self.dir.path().join("checker.py");
        if !path.exists() {
            fs::write(&path, CHECKER).expect("write checker.py");
        }
        path.display().to_string()
    }

    /// Starts `checker.py MODE PORT` (`serve` or `echo`) here as a
    /// background helper and waits until it listens.
    pub fn start_checker(&self, mode: &str, port: u16) {
        let out = self.dir.path().join(format!("{mode}-{port}.out"));
        let child = self
            .command("python3")
            .args([&self.checker(), mode, &port.to_string()])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("create checker output"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        self.helpers.borrow_mut().push(child);
        assert!(
            wait_until(Duration::from_secs(5), || {
                fs::read_to_string(&out).is_ok_and(|s| s.contains("ready"))
            }),
            "{mode} on port {port} in {} did not start",
            self.name
        );
    }

    /// Starts dnsmasq as a DHCP server (no DNS) on `dev`, handing out
    /// `first`..`last` in a /24 with a `lease` such as "2m". Its lease file
    /// is returned; the process dies with the namespace.
    pub fn start_dhcp_server(&self, dev: &str, first: &str, last: &str, lease: &str) -> PathBuf {
        self.start_dhcp_server_with(dev, first, last, lease, &[])
    }

    /// [`Netns::start_dhcp_server`] with extra dnsmasq options.
    pub fn start_dhcp_server_with(
        &self,
        dev: &str,
        first: &str,
        last: &str,
        lease: &str,
        extra: &[&str],
    ) -> PathBuf {
        let dir = self.dir.path();
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let leases = dir.join(format!(
            "{dev}-{}.leases",
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let log = fs::File::create(dir.join(format!("dnsmasq-{dev}.log"))).unwrap();
        let child = self
            .command("dnsmasq")
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--user=root",
                "--port=0",
                "--bind-interfaces",
                "--log-dhcp",
            ])
            .arg(format!("--interface={dev}"))
            .arg(format!("--dhcp-range={first},{last},255.255.255.0,{lease}"))
            .arg(format!("--dhcp-leasefile={}", leases.display()))
            .arg(format!(
                "--pid-file={}",
                dir.join(format!("dnsmasq-{dev}.pid")).display()
            ))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dnsmasq");
        self.helpers.borrow_mut().push(child);
        assert!(
            wait_until(Duration::from_secs(5), || leases.exists()),
            "dnsmasq did not start (see {})",
            dir.display()
        );
        leases
    }

    /// Kills and reaps the background helpers started so far.
    pub fn stop_helpers(&self) {
        for mut child in self.helpers.borrow_mut().drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.stop_helpers();
        live_namespaces().retain(|(name, _)| *name != self.name);
        // Kill anything still running inside, then delete the namespace.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "for p in $(ip netns pids {0}); do kill -9 $p; done; sleep 0.1; ip netns del {0}",
                self.name
            ))
            .status();
    }
}

/// The namespaces of this process that are not dropped yet, with their
/// temp directories, for [`clean_up_on_signals`].
fn live_namespaces() -> MutexGuard<'static, Vec<(String, PathBuf)>> {
    static LIVE: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes SIGINT and SIGTERM delete the namespaces (and what runs in them)
/// and temp directories that drops would have removed, then exit with
/// 128 + the signal, after `program: interrupted` (or `terminated`) on
/// stderr. For a program of its own (the benchmark), not for libtest; call
/// it before starting any thread, as it blocks both signals in the calling
/// thread (child processes start with an empty mask all the same).
pub fn clean_up_on_signals(program: &'static str) {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset; the
    // calls only read and write the set and this thread's mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal = 0;
        // SAFETY: waits for a signal of `set`, which every thread blocks.
        while unsafe { libc::sigwait(&set, &mut signal) } != 0 {}
        // The other threads go on until they next print: hold the output.
        let _stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr().lock();
        let what = if signal == libc::SIGINT {
            "interrupted"
        } else {
            "terminated"
        };
        let _ = writeln!(stderr, "{program}: {what}");
        let live: Vec<(String, PathBuf)> = live_namespaces().drain(..).collect();
        // Unnamed first, so that nothing more can enter them, then emptied.
        let inodes: Vec<u64> = live
            .iter()
            .filter_map(|(name, _)| {
                use std::os::unix::fs::MetadataExt;
                let inode = fs::metadata(format!("/var/run/netns/{name}")).ok()?.ino();
                let _ = Command::new("ip").args(["netns", "del", name]).status();
                Some(inode)
            })
            .collect();
        for _ in 0..3 {
            kill_processes_in_netns(&inodes);
            std::thread::sleep(Duration::from_millis(50));
        }
        for (_, dir) in live {
            let _ = fs::remove_dir_all(dir);
        }
        std::process::exit(128 + signal);
    });
}

/// SIGKILLs every process whose network namespace is one of `inodes`.
fn kill_processes_in_netns(inodes: &[u64]) {
    let Ok(procs) = fs::read_dir("/proc") else {
        return;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(link) = fs::read_link(entry.path().join("ns/net")) else {
            continue;
        };
        // The link reads "net:[INODE]".
        let link = link.to_string_lossy();
        let inode = link
            .strip_prefix("net:[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse::<u64>().ok());
        if inode.is_some_and(|i| inodes.contains(&i)) {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The "N received" figure of ping's summary.
pub fn parse_received(ping_output: &str) -> Option<u32> {
    let line = ping_output
        .lines()
        .find(|l| l.contains("packets transmitted"))?;
    let part = line.split(',').find(|p| p.contains("received"))?;
    part.split_whitespace().next()?.parse().ok()
}

/// A running lwip-tap. Killed on drop if still running.
pub struct LwipTap {
    child: Child,
    log: PathBuf,
}

impl LwipTap {
    // What it logs.

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits until the log contains `text`; panics with the log if it does
    /// not within `timeout` or if lwip-tap exits first.
    pub fn wait_for_log(&mut self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(text)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("lwip-tap exited ({status}) before logging {text:?}:\n{log}");
            }
            if start.elapsed() > timeout {
                panic!("lwip-tap did not log {text:?} within {timeout:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// lwIP's MAC on `iface`, from the line lwip-tap logs when it sets the
    /// interface up.
    pub fn mac(&mut self, iface: &str) -> String {
        let line = self.wait_for_log(&format!("{iface}: mac "), Duration::from_secs(10));
        let rest = line.split("mac ").nth(1).unwrap_or_default();
        rest.split(',').next().unwrap_or_default().to_string()
    }

    /// Asks for statistics with SIGUSR1 and returns the pools' use from the
    /// block it logs (pools never used are left out of it).
    pub fn stats(&mut self) -> Stats {
        // The line that ends each block.
        const END: &str = "unused pools and protocols left out";
        let blocks = |log: &str| log.matches(END).count();
        let before = blocks(&self.log());
        self.signal(libc::SIGUSR1);
        let done = wait_until(Duration::from_secs(5), || blocks(&self.log()) > before);
        assert!(done, "no statistics after SIGUSR1:\n{}", self.log());
        let log = self.log();
        let mut blocks = log.rsplit(END);
        blocks.next();
        let block = blocks.next().unwrap();
        let mut pools = Vec::new();
        for line in block.lines() {
            let Some(rest) = line.split("stats: ").nth(1) else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.len() >= 3 && words[1] == "used" {
                pools.push((words[0].to_string(), words[2].parse().unwrap()));
            }
        }
        Stats(pools)
    }

    // Its process.

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on our child's pid.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// The exit status, if the process has exited (it is reaped then).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Waits until `addr` answers a ping from `ns`. Err(Some(status)) if
    /// lwip-tap exits first, Err(None) if nothing answers within `timeout`.
    pub fn wait_until_answering(
        &mut self,
        ns: &Netns,
        addr: &str,
        timeout: Duration,
    ) -> Result<(), Option<ExitStatus>> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Err(Some(status));
            }
            if ns
                .run(&format!("ping -c 1 -W 1 -q {addr}"))
                .status
                .success()
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits (up to `timeout`) for lwip-tap to exit by itself, as it does
    /// when its clients are done; panics with the log if it does not.
    pub fn finish(&mut self, timeout: Duration) -> ExitStatus {
        self.wait(timeout)
            .unwrap_or_else(|| panic!("lwip-tap still runs after {timeout:?}:\n{}", self.log()))
    }

    /// [`LwipTap::finish`], then fails the test (showing the log) unless
    /// lwip-tap exited with `code`; returns the log. For lwip-tap with
    /// clients (`--ping`, `--iperf-client`) and no service.
    pub fn exits_with(&mut self, code: i32, timeout: Duration) -> String {
        let status = self.finish(timeout);
        let log = self.log();
        assert_eq!(status.code(), Some(code), "{status}:\n{log}");
        log
    }

    /// Sends `signal` and waits (up to 10 s) for the process to exit.
    pub fn stop_with(&mut self, signal: i32) -> ExitStatus {
        self.signal(signal);
        self.wait(Duration::from_secs(10)).unwrap_or_else(|| {
            panic!(
                "lwip-tap did not exit after signal {signal}:\n{}",
                self.log()
            )
        })
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`. Returns
    /// the exit status and whether it took SIGKILL.
    pub fn terminate(&mut self, grace: Duration) -> (ExitStatus, bool) {
        self.signal(libc::SIGTERM);
        if let Some(status) = self.wait(grace) {
            return (status, false);
        }
        let _ = self.child.kill();
        (self.child.wait().expect("wait for lwip-tap"), true)
    }
}

impl Drop for LwipTap {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The target directory the tests' own builds of this crate share (the
/// debug feature, stock lwIP, fresh bindings, other lwIP trees): each
/// feature set keeps its artifacts, and the dependencies build once.
pub fn builds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("builds")
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many packets tcpdump says the kernel dropped, from the statistics
/// it prints on stderr when it stops (`N packets dropped by kernel`).
pub fn tcpdump_dropped(stats: &str) -> Option<u64> {
    let line = stats
        .lines()
        .find(|l| l.ends_with("packets dropped by kernel"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Runs `cmd` (outside any namespace) to its end, failing the test with
/// its stderr unless it succeeds; returns its output.
pub fn successful_output(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs lwip-tap to completion outside any namespace (for arguments that
/// must be refused before any device is touched).
pub fn run_lwip_tap(args: &[&str]) -> Output {
    Command::new(LWIP_TAP)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lwip-tap")
}

/// The addresses of the single-TAP examples: lwIP at 172.16.0.2, the host
/// side at 172.16.0.1.
pub const LWIP_ADDR: &str = "172.16.0.2";
pub const TRANSIENT_SPEC: &str = "addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1";

/// lwIP's pool use as logged by `stats: NAME used N max N avail N err N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats(pub Vec<(String, u64)>);

impl Stats {
    /// The pool's use; 0 for a pool never used (left out of the block).
    pub fn used(&self, pool: &str) -> u64 {
        self.0
            .iter()
            .find(|(name, _)| name == pool)
            .map_or(0, |(_, used)| *used)
    }
}

/// The pools an app's traffic borrows and must give back.
pub const APP_POOLS: &[&str] = &["PBUF_POOL", "PBUF", "UDP_PCB", "SYS_TIMEOUT", "HEAP"];

/// Runs `calls` with scapy in `ns`: Python lines that call
/// `to_port(data, sport=40000)`, which sends `data` in a UDP datagram to
/// lwIP's address ([`LWIP_ADDR`]) on `port`. Fails the test with
/// Python's stderr unless the script succeeds.
pub fn scapy_to_udp_port(ns: &Netns, port: u16, calls: &str) {
    let script = format!(
        "from scapy.all import IP, UDP, Raw, send\n\
         def to_port(data, sport=40000):\n\
         \x20   send(IP(dst='{LWIP_ADDR}')/UDP(sport=sport, dport={port})/Raw(data), verbose=0)\n\
         {calls}"
    );
    let path = ns.dir.path().join("to_port.py");
    fs::write(&path, script).unwrap();
    let out = ns.run(&format!("/usr/bin/python3 {}", path.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits up to 5 s for every pool of [`APP_POOLS`] to be back at (or
/// below) its use in `before`; fails with both reports and the log.
pub fn assert_pools_back(lwip: &mut LwipTap, before: &Stats) {
    let back = wait_until(Duration::from_secs(5), || {
        let now = lwip.stats();
        APP_POOLS.iter().all(|p| now.used(p) <= before.used(p))
    });
    assert!(
        back,
        "before {before:?}, now {:?}\n{}",
        lwip.stats(),
        lwip.log()
    );
}

/// The two kinds of switch the topologies are built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// A Linux bridge (`ip link add … type bridge`).
    Linux,
    /// Open vSwitch on its userspace datapath (`datapath_type=netdev`), with
    /// ovsdb-server and ovs-vswitchd running inside the namespace.
    Ovs,
}

impl Switch {
    /// The tools a test on this switch needs.
    pub fn tools(self) -> &'static [&'static str] {
        match self {
            Switch::Linux => &[],
            Switch::Ovs => &["ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool"],
        }
    }
}

/// Runs lwip-tap (and `-i` specs) and waits until it has set up every
/// interface named in them.
pub fn start_lwip_tap(ns: &Netns, args: &[&str]) -> LwipTap {
    let mut lwip = ns.spawn_lwip_tap(args);
    for arg in args {
        if let Some(name) = arg
            .split(',')
            .find_map(|kv| kv.trim().strip_prefix("name="))
        {
            lwip.wait_for_log(&format!("{name}: mac"), Duration::from_secs(10));
        }
    }
    lwip
}

/// Every `.pkt` file below `dir` (lwip-drill's scripts), sorted.
pub fn drill_scripts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "pkt") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
