//! lwip-drill: runs packetdrill scripts against the lwIP compiled into
//! lwip-tap, in process, on a virtual clock; or, with `--target linux`,
//! against the Linux kernel of this machine, each script in a network
//! namespace of its own on the real clock. Each script runs in a process
//! of its own (lwIP's state is global; the namespace is the process's),
//! several at a time.
//!
//! Output: one line per script (`ok FILE`, `FAIL FILE:LINE: ...` with the
//! expected and actual packet or result after it, `skipped: ... at
//! FILE:LINE`, `error: FILE:LINE:COLUMN: ...`), then `N passed, N failed,
//! N skipped` (errors count as failed). Exit status 0 only when every
//! script passed.
//!
//! `--target` runs the scripts against another lwIP (built on first use)
//! or Linux; `--compare` runs them against several targets and prints one
//! table (exit status 0 only when the targets agree on every script).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Arg, ArgAction};

use lwip_tap::drill::compare::{Cell, Comparison, Row};
use lwip_tap::drill::targets::Target;
use lwip_tap::drill::targets::{self, Runner, TargetSpec};
use lwip_tap::drill::{self, settings::KNOWN, Options, TargetKind, Verdict};

/// How long one script may take on the wall clock before it is called
/// hung (a script spanning an hour of virtual time takes a second).
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// The same for a script on Linux, which takes its own time (a SYN
/// retried until the kernel gives up takes two minutes).
const LINUX_SCRIPT_LIMIT: Duration = Duration::from_secs(600);

/// Exit statuses of a child running one script.
const CHILD_PASS: i32 = 0;
const CHILD_FAIL: i32 = 1;
const CHILD_SKIPPED: i32 = 3;

fn command() -> clap::Command {
    let mut command = clap::Command::new("lwip-drill")
        .about(
            "Runs packetdrill scripts against lwIP, in process, on a virtual clock \
             (or against another lwIP, or this machine's Linux kernel: --target, --compare)",
        )
        .override_usage("lwip-drill [OPTIONS] SCRIPT...")
        .after_help(
            "Each script runs on a fresh lwIP in a process of its own; no root, TAP or network \
             namespace is needed.\nWith --target linux each script runs against this machine's \
             kernel instead, as packetdrill's local mode does: in a network namespace of its own \
             (root, or CAP_NET_ADMIN in a user namespace), through a TUN device tun0, on the real \
             clock; its shell commands and --init_scripts run there with sh -c. Real time \
             jitters: give a generous --tolerance_usecs on a busy machine.\nOutput: one line \
             per script (ok, FAIL, skipped, error), then a summary; exit status 0 only when \
             every script passed.\npacketdrill's options (--ip_version=ipv4|ipv6, --local_ip, \
             --remote_ip, --gateway_ip, --netmask_ip, --mtu, --tolerance_usecs, \
             --tolerance_percent, --bind_port, --connect_port, --init_scripts) are accepted; a \
             script's own header options win.",
        )
        .arg(
            Arg::new("scripts")
                .value_name("SCRIPT")
                .num_args(1..)
                .required_unless_present("probe")
                .value_parser(clap::value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("jobs")
                .short('j')
                .long("jobs")
                .value_name("N")
                .help("scripts run at once (default: the number of cores)")
                .value_parser(clap::value_parser!(u16).range(1..)),
        )
        .arg(
            Arg::new("pcap")
                .long("pcap")
                .value_name("DIR")
                .help("write a pcapng of each script's frames, with their virtual times, into DIR")
                .value_parser(clap::value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::SetTrue)
                .help("show each event as it happens, with its virtual time"),
        )
        .arg(
            Arg::new("define")
                .short('D')
                .long("define")
                .value_name("NAME=VALUE")
                .action(ArgAction::Append)
                .help("a definition the scripts use (packetdrill's -D)"),
        )
        .arg(Arg::new("target").long("target").value_name("TARGET").help(
            "run against TARGET: lwip (the lwIP built in, the default), lwip-2.1.3 \
                     (Debian's source, fetched and built on first use), linux (this machine's \
             kernel, real clock), or the path of an lwIP tree; an lwIP target may end in \
             :FILE.h, an LWIP_TAP_OPTS options file",
        ))
        .arg(
            Arg::new("lwip")
                .long("lwip")
                .value_name("PATH")
                .conflicts_with_all(["target", "compare"])
                .help("run against the lwIP tree at PATH (--target PATH)"),
        )
        .arg(
            Arg::new("compare")
                .long("compare")
                .value_name("TARGET,TARGET,...")
                .conflicts_with("target")
                .help(
                    "run every script on each target and print one table; exit status 0 only \
                     when the targets agree on every script",
                ),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_name("FORMAT")
                .requires("compare")
                .value_parser(["markdown", "json"])
                .help("the --compare report: markdown (the default) or json"),
        )
        .arg(
            Arg::new("cache")
                .long("cache")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help(
                    "where other lwIP builds and Debian's source are kept (default: \
                     $LWIP_DRILL_CACHE, else ~/.cache/lwip-drill)",
                ),
        )
        .arg(
            Arg::new("one")
                .long("run-one")
                .action(ArgAction::SetTrue)
                .hide(true),
        )
        .arg(
            Arg::new("probe")
                .long("probe-linux")
                .action(ArgAction::SetTrue)
                .hide(true),
        );
    for name in KNOWN.iter().filter(|n| **n != "define") {
        command = command.arg(
            Arg::new(*name)
                .long(*name)
                .value_name("VALUE")
                .help("packetdrill's option of that name"),
        );
    }
    command
}

fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            eprintln!("lwip-drill: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    if matches.get_flag("probe") {
        // A child that tells its parent whether a network namespace can
        // be had here, before any script runs.
        return match drill::linux::probe() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lwip-drill: {e}");
                ExitCode::from(2)
            }
        };
    }
    let mut options = Options {
        pcap: matches.get_one::<PathBuf>("pcap").cloned(),
        verbose: matches.get_flag("verbose"),
        ..Options::default()
    };
    for name in KNOWN.iter().filter(|n| **n != "define") {
        if let Some(value) = matches.get_one::<String>(name) {
            options.values.push((name.to_string(), value.clone()));
        }
    }
    for definition in matches.get_many::<String>("define").into_iter().flatten() {
        let Some((name, value)) = definition.split_once('=') else {
            eprintln!("lwip-drill: -D {definition}: expected NAME=VALUE");
            return ExitCode::from(2);
        };
        options.defines.push((name.to_string(), value.to_string()));
    }
    let scripts: Vec<PathBuf> = matches
        .get_many::<PathBuf>("scripts")
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let parse = |text: &str| {
        TargetSpec::parse(text).map_err(|e| {
            eprintln!("lwip-drill: {e}");
            ExitCode::from(2)
        })
    };
    let target = match matches
        .get_one::<String>("target")
        .or(matches.get_one::<String>("lwip"))
    {
        Some(text) => match parse(text) {
            Ok(spec) => Some(spec),
            Err(code) => return code,
        },
        None => None,
    };
    let Some(first) = scripts.first() else {
        eprintln!("lwip-drill: give at least one SCRIPT");
        return ExitCode::from(2);
    };
    if matches.get_flag("one") {
        return run_one(first, &options, target.as_ref());
    }
    if let Some(dir) = &options.pcap {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!(
                "lwip-drill: --pcap {}: cannot create it: {e}",
                dir.display()
            );
            return ExitCode::from(2);
        }
    }
    let jobs = matches
        .get_one::<u16>("jobs")
        .map(|j| usize::from(*j))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("lwip-drill: cannot find its own executable: {e}");
            return ExitCode::from(1);
        }
    };
    let cache = matches
        .get_one::<PathBuf>("cache")
        .cloned()
        .unwrap_or_else(targets::default_cache);
    let prepare = |spec: &TargetSpec| {
        targets::prepare(spec, &exe, &cache, &mut |line| {
            eprintln!("lwip-drill: {spec}: {line}")
        })
        .map_err(|e| {
            eprintln!("lwip-drill: {e}");
            ExitCode::from(1)
        })
    };
    if let Some(list) = matches.get_one::<String>("compare") {
        let mut specs = Vec::new();
        for text in list.split(',') {
            match parse(text) {
                Ok(spec) => specs.push(spec),
                Err(code) => return code,
            }
        }
        if specs.iter().any(|s| s.target == Target::Linux) {
            if let Err(message) = probe_linux() {
                eprintln!("{message}");
                return ExitCode::from(2);
            }
        }
        let mut runners = Vec::new();
        for spec in &specs {
            match prepare(spec) {
                Ok(runner) => runners.push(runner),
                Err(code) => return code,
            }
        }
        let json = matches
            .get_one::<String>("format")
            .is_some_and(|f| f == "json");
        return compare(&specs, &runners, &options, &scripts, jobs, json);
    }
    if target.as_ref().is_some_and(|s| s.target == Target::Linux) {
        if let Err(message) = probe_linux() {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    }
    let runner = match &target {
        Some(spec) => match prepare(spec) {
            Ok(runner) => runner,
            Err(code) => return code,
        },
        None => Runner {
            exe: exe.clone(),
            args: Vec::new(),
        },
    };
    run_all(&runner, &forwarded(&options), &scripts, jobs)
}

/// The options a child gets to run one script as this run would.
fn forwarded(options: &Options) -> Vec<String> {
    let mut args = Vec::new();
    for (name, value) in &options.values {
        args.push(format!("--{name}={value}"));
    }
    for (name, value) in &options.defines {
        args.push(format!("--define={name}={value}"));
    }
    if let Some(dir) = &options.pcap {
        args.push(format!("--pcap={}", dir.display()));
    }
    if options.verbose {
        args.push("--verbose".into());
    }
    args
}

/// Whether a child of this process can have a network namespace of its
/// own; the one line saying why not, if not.
fn probe_linux() -> Result<(), String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("lwip-drill: cannot find its own executable: {e}"))?;
    let output = Command::new(exe)
        .arg("--probe-linux")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("lwip-drill: cannot start a process: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(stderr
        .lines()
        .next()
        .unwrap_or("lwip-drill: --target linux cannot run here")
        .to_string())
}

/// Runs one script in this process and prints its report.
fn run_one(path: &Path, options: &Options, target: Option<&TargetSpec>) -> ExitCode {
    let mut options = options.clone();
    if let Some(dir) = &options.pcap {
        let stem = path
            .file_stem()
            .map_or("script".into(), |s| s.to_string_lossy().into_owned());
        options.pcap = Some(dir.join(format!("{stem}.pcapng")));
    }
    match target {
        Some(spec) if !spec.is_built_in() => {
            println!(
                "FAIL {}:0: --run-one runs the lwIP built in or linux, not {spec}",
                path.display()
            );
            return ExitCode::from(CHILD_FAIL as u8);
        }
        Some(spec) if spec.target == Target::Linux => options.target = TargetKind::Linux,
        _ => {}
    }
    let report = drill::run_file(path, &options);
    for line in &report.log {
        println!("  {line}");
    }
    println!("{}", report.verdict.report(&path.display().to_string()));
    ExitCode::from(match report.verdict {
        Verdict::Pass => CHILD_PASS,
        Verdict::Skipped { .. } => CHILD_SKIPPED,
        _ => CHILD_FAIL,
    } as u8)
}

/// Runs every script on `runner`, `jobs` at a time; prints the reports in
/// the scripts' order, then the summary.
fn run_all(runner: &Runner, forwarded: &[String], scripts: &[PathBuf], jobs: usize) -> ExitCode {
    let work: Vec<Job> = scripts
        .iter()
        .map(|script| Job {
            runner,
            forwarded,
            script,
        })
        .collect();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    schedule(&work, jobs, |_, status, text| {
        print!("{text}");
        match status {
            CHILD_PASS => passed += 1,
            CHILD_SKIPPED => skipped += 1,
            _ => failed += 1,
        }
    });
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 && skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs every script on every target and prints the comparison.
fn compare(
    specs: &[TargetSpec],
    runners: &[Runner],
    options: &Options,
    scripts: &[PathBuf],
    jobs: usize,
    json: bool,
) -> ExitCode {
    let forwarded: Vec<Vec<String>> = specs
        .iter()
        .map(|spec| {
            let mut options = options.clone();
            if let Some(dir) = &options.pcap {
                options.pcap = Some(dir.join(targets::file_name_of(&spec.name)));
            }
            forwarded(&options)
        })
        .collect();
    for args in &forwarded {
        if let Some(dir) = args.iter().find_map(|a| a.strip_prefix("--pcap=")) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("lwip-drill: --pcap {dir}: cannot create it: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let work: Vec<Job> = scripts
        .iter()
        .flat_map(|script| {
            runners
                .iter()
                .zip(&forwarded)
                .map(move |(runner, forwarded)| Job {
                    runner,
                    forwarded,
                    script,
                })
        })
        .collect();
    let mut cells = Vec::with_capacity(work.len());
    schedule(&work, jobs, |_, status, text| {
        // The report from its verdict line on (log lines are indented).
        let report: String = text
            .lines()
            .skip_while(|l| l.starts_with("  "))
            .map(|l| format!("{l}\n"))
            .collect();
        cells.push(match status {
            CHILD_PASS => Cell::Ok,
            CHILD_SKIPPED => Cell::Skip(report),
            _ => Cell::Fail(report),
        });
    });
    let mut cells = cells.into_iter();
    let comparison = Comparison {
        targets: specs.iter().map(|s| s.name.clone()).collect(),
        rows: scripts
            .iter()
            .map(|script| Row {
                script: script.display().to_string(),
                cells: cells.by_ref().take(specs.len()).collect(),
            })
            .collect(),
    };
    if json {
        print!("{}", comparison.json());
    } else {
        print!("{}", comparison.markdown());
    }
    if comparison.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// One script to run on one target.
struct Job<'a> {
    runner: &'a Runner,
    forwarded: &'a [String],
    script: &'a PathBuf,
}

impl Job<'_> {
    /// How long the script may take on the wall clock.
    fn limit(&self) -> Duration {
        if self.runner.args.iter().any(|a| a == "linux") {
            LINUX_SCRIPT_LIMIT
        } else {
            SCRIPT_LIMIT
        }
    }
}

/// One script running in a child process. Its output is read as it
/// comes, so a long report (`-v`) never fills the pipe and stalls it.
struct Running {
    child: Child,
    started: Instant,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    fn new(mut child: Child) -> Running {
        fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_string(&mut text);
                }
                text
            })
        }
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Running {
            child,
            started: Instant::now(),
            stdout,
            stderr,
        }
    }
}

/// Runs each job in a child process, `parallel` at a time, and hands
/// `done` each one's index, status and report in the jobs' order.
fn schedule(work: &[Job], parallel: usize, mut done: impl FnMut(usize, i32, String)) {
    let mut running: BTreeMap<usize, Running> = BTreeMap::new();
    let mut finished: BTreeMap<usize, (i32, String)> = BTreeMap::new();
    let (mut next, mut reported) = (0, 0);
    while reported < work.len() {
        while running.len() < parallel && next < work.len() {
            let job = &work[next];
            let child = Command::new(&job.runner.exe)
                .args(&job.runner.args)
                .args(job.forwarded)
                .arg("--run-one")
                .arg(job.script)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn();
            match child {
                Ok(child) => {
                    running.insert(next, Running::new(child));
                }
                Err(e) => {
                    finished.insert(
                        next,
                        (
                            CHILD_FAIL,
                            format!(
                                "FAIL {}:0: cannot start a process for it: {e}\n",
                                job.script.display()
                            ),
                        ),
                    );
                }
            }
            next += 1;
        }
        let ended: Vec<usize> = running
            .iter_mut()
            .filter_map(|(i, r)| match r.child.try_wait() {
                Ok(Some(_)) => Some(*i),
                Ok(None) if r.started.elapsed() > work[*i].limit() => {
                    let _ = r.child.kill();
                    Some(*i)
                }
                _ => None,
            })
            .collect();
        for i in ended {
            if let Some(r) = running.remove(&i) {
                finished.insert(i, collect(r, work[i].script, work[i].limit()));
            }
        }
        while let Some((status, text)) = finished.remove(&reported) {
            done(reported, status, text);
            reported += 1;
        }
        if reported < work.len() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A finished (or killed) child's status and report.
fn collect(mut r: Running, script: &Path, limit: Duration) -> (i32, String) {
    let status = r.child.wait();
    let out = r.stdout.join().unwrap_or_default();
    let err = r.stderr.join().unwrap_or_default();
    let file = script.display();
    match status.ok().and_then(|s| s.code()) {
        Some(code) if [CHILD_PASS, CHILD_FAIL, CHILD_SKIPPED].contains(&code) => (code, out),
        _ if r.started.elapsed() > limit => (
            CHILD_FAIL,
            format!(
                "{out}FAIL {file}:0: did not finish in {} s (a hang in the stack or the runner)\n",
                limit.as_secs()
            ),
        ),
        _ => {
            let last = err
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("no message")
                .to_string();
            (
                CHILD_FAIL,
                format!("{out}FAIL {file}:0: the run crashed: {last}\n"),
            )
        }
    }
}
