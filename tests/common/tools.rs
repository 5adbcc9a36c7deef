//! Bounded runs of the standard tools (iperf, ping, ab, nc) and parsers for
//! what they report; which CPUs taskset can use; a process's CPU time and
//! memory from /proc. Used by the benchmark (benches/kernel.rs) and open to
//! the tests. What runs them inside a namespace (`Netns::run_on_cpu`, …) is
//! with the rest of `Netns`, in mod.rs.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a command run by [`run_bounded`] ended, and what it wrote.
pub struct Bounded {
    pub status: ExitStatus,
    /// The time limit passed and the command was signalled.
    pub timed_out: bool,
    /// The time limit that applied.
    pub limit: Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// From the start until the process exited.
    pub elapsed: Duration,
}

impl Bounded {
    /// Exited by itself with status 0.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.success()
    }

    /// Stdout, then stderr, as text.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&self.stderr));
        text
    }

    /// "status N", "signal N" or "timed out after N s".
    pub fn describe(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        if self.timed_out {
            format!("timed out after {} s", self.limit.as_secs())
        } else if let Some(code) = self.status.code() {
            format!("status {code}")
        } else {
            format!("signal {}", self.status.signal().unwrap_or(0))
        }
    }

    /// The last `n` non-empty lines of [`Bounded::text`], each indented by
    /// four spaces, for an error report.
    pub fn tail(&self, n: usize) -> String {
        let text = self.text();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let from = lines.len().saturating_sub(n);
        lines[from..].iter().map(|l| format!("    {l}\n")).collect()
    }
}

/// Runs `cmd` with stdin from `input` (or /dev/null), capturing stdout and
/// stderr. After `limit` it sends `signal` (SIGTERM, or SIGINT for tools
/// that report what they have so far), and SIGKILL 5 s later.
pub fn run_bounded(
    cmd: &mut Command,
    input: Option<&Path>,
    limit: Duration,
    signal: i32,
) -> Bounded {
    let stdin = match input {
        Some(path) => Stdio::from(
            fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())),
        ),
        None => Stdio::null(),
    };
    let start = Instant::now();
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id() as i32;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    // A waiter thread notes the exact exit time; this one keeps the clock.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let status = child.wait().expect("wait for a bounded command");
        let _ = tx.send((status, start.elapsed()));
    });
    let mut timed_out = false;
    let (status, elapsed) = match rx.recv_timeout(limit.saturating_sub(start.elapsed())) {
        Ok(done) => done,
        Err(_) => {
            timed_out = true;
            // SAFETY: kill(2) on our child, which the waiter has not reaped.
            unsafe { libc::kill(pid, signal) };
            rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                rx.recv().expect("the waiter reports the exit")
            })
        }
    };
    Bounded {
        status,
        timed_out,
        limit,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed,
    }
}

/// The number of CPUs this process may run on, as `nproc` counts them.
pub fn cpus_allowed() -> usize {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set) as usize
    }
}

/// Whether `taskset -c cpu` can place a process on `cpu`.
pub fn cpu_usable(cpu: usize) -> bool {
    Command::new("taskset")
        .args(["-c", &cpu.to_string(), "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `utime + stime` of process `pid` in clock ticks (fields 14 and 15 of
/// /proc/PID/stat); see [`clock_ticks_per_second`].
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; count from after it.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The clock ticks per second of [`cpu_ticks`] (`getconf CLK_TCK`).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// A kB figure (`VmRSS`, `VmHWM`, …) of /proc/PID/status.
pub fn status_kb(pid: i32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The summary of an `iperf -f m` (iperf2) client run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IperfResult {
    pub mbytes: f64,
    pub mbits_per_sec: f64,
}

/// The last `N MBytes  N Mbits/sec` report in iperf2's output.
pub fn parse_iperf(output: &str) -> Option<IperfResult> {
    output.lines().rev().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.windows(4).find_map(|w| match w {
            [bytes, "MBytes", rate, "Mbits/sec"] => Some(IperfResult {
                mbytes: bytes.parse().ok()?,
                mbits_per_sec: rate.parse().ok()?,
            }),
            _ => None,
        })
    })
}

/// The summary of a `ping -c N` run (iputils).
#[derive(Debug, Clone, PartialEq)]
pub struct PingSummary {
    pub transmitted: u32,
    pub received: u32,
    pub loss_percent: f64,
    /// min/avg/max/mdev in ms; None when nothing came back.
    pub rtt: Option<[f64; 4]>,
}

impl PingSummary {
    pub fn avg_ms(&self) -> Option<f64> {
        self.rtt.map(|r| r[1])
    }

    pub fn max_ms(&self) -> Option<f64> {
        self.rtt.map(|r| r[2])
    }
}

pub fn parse_ping(output: &str) -> Option<PingSummary> {
    let counts = output.lines().find(|l| l.contains("packets transmitted"))?;
    let mut transmitted = None;
    let mut received = None;
    let mut loss_percent = None;
    for part in counts.split(',') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        match what {
            "packets" => transmitted = number.parse().ok(),
            "received" => received = number.parse().ok(),
            "packet" => loss_percent = number.strip_suffix('%').and_then(|n| n.parse().ok()),
            _ => {}
        }
    }
    let rtt = output.lines().find_map(|l| {
        let values = l.split_once("min/avg/max/mdev = ")?.1;
        let values = values.split_whitespace().next()?;
        let v: Vec<f64> = values.split('/').filter_map(|x| x.parse().ok()).collect();
        <[f64; 4]>::try_from(v).ok()
    });
    Some(PingSummary {
        transmitted: transmitted?,
        received: received?,
        loss_percent: loss_percent?,
        rtt,
    })
}

/// What ApacheBench (`ab`) reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AbReport {
    pub complete: Option<u64>,
    pub failed: Option<u64>,
    /// "Non-2xx responses" (0 when ab prints no such line).
    pub non_2xx: u64,
    pub requests_per_sec: Option<f64>,
    /// The breakdown of failed requests: "Connect: 0, Receive: 0, …".
    pub failed_detail: Option<String>,
    /// "Total of N requests completed", printed when ab gives up.
    pub completed_before_abort: Option<u64>,
    /// The last `apr_…: reason (code)` error ab printed.
    pub apr_error: Option<String>,
}

pub fn parse_ab(output: &str) -> AbReport {
    let mut report = AbReport::default();
    let field = |line: &str, name: &str| -> Option<String> {
        Some(
            line.strip_prefix(name)?
                .split_whitespace()
                .next()?
                .to_string(),
        )
    };
    for line in output.lines() {
        if let Some(v) = field(line, "Requests per second:") {
            report.requests_per_sec = v.parse().ok();
        } else if let Some(v) = field(line, "Failed requests:") {
            report.failed = v.parse().ok();
        } else if let Some(v) = field(line, "Complete requests:") {
            report.complete = v.parse().ok();
        } else if let Some(v) = field(line, "Non-2xx responses:") {
            report.non_2xx = v.parse().unwrap_or(0);
        } else if let Some(v) = field(line, "Total of") {
            report.completed_before_abort = v.parse().ok().or(report.completed_before_abort);
        }
        let trimmed = line.trim();
        if let Some(inner) = trimmed
            .strip_prefix("(Connect:")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            report.failed_detail = Some(format!("Connect:{inner}"));
        }
        if let Some(at) = line.find("apr_") {
            let error = &line[at..];
            if let Some(end) = error.rfind(')') {
                report.apr_error = Some(error[..=end].to_string());
            }
        }
    }
    report
}
