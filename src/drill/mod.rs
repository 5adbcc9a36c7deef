//! lwip-drill: packetdrill scripts run against the lwIP compiled into this
//! crate, in process, through the same in-process device as any other
//! frame, on a virtual clock. No root, no TAP, no network namespace: it runs
//! in any CI. The same scripts run against the Linux kernel of this machine
//! too ([`linux`], `--target linux`), as packetdrill's local mode runs them.
//!
//! - [`script`]: the language (reading, printing);
//! - `runner`: the timeline, packets and system calls against lwIP;
//! - `packets`: inbound lines made into packets, lwIP's packets read back
//!   into the script's terms and compared;
//! - `sockets`: the system calls, acted out on lwIP's raw API;
//! - `target`: what the runner drives; lwIP with one in-process interface,
//!   answering ARP and neighbour discovery for the remote end;
//! - [`linux`]: the Linux kernel in a network namespace, behind a TUN;
//! - [`settings`]: packetdrill's options;
//! - [`targets`]: the other lwIPs scripts can run against, built on demand;
//! - [`compare`]: the side-by-side report of several targets.
//!
//! [`run_file`] runs one script in this process (lwIP is one per process:
//! run each script in a process of its own).

pub mod compare;
mod errno;
pub mod linux;
mod packets;
mod runner;
pub mod script;
pub mod settings;
mod sockets;
mod target;
pub mod targets;

use std::fmt;
use std::path::Path;

pub use errno::{Errno, TABLE as ERRNO_TABLE};
pub use settings::{Options, Settings, TargetKind};

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every line happened as written.
    Pass,
    /// Line `line` did not: `message` says what differed (the expected and
    /// the actual packet or result on the lines after the first).
    Fail { line: u32, message: String },
    /// The script uses something lwip-drill cannot act out, at `line`.
    Skipped { line: u32, reason: String },
    /// The script does not parse (or cannot be read).
    Error {
        line: u32,
        column: u32,
        message: String,
    },
}

impl Verdict {
    /// The verdict's line for `file`: `ok FILE`, `FAIL FILE:LINE: ...`,
    /// `skipped: ... at FILE:LINE` or `error: FILE:LINE:COLUMN: ...`; a
    /// failure's details follow on further lines.
    pub fn report(&self, file: &str) -> String {
        match self {
            Verdict::Pass => format!("ok {file}"),
            Verdict::Fail { line, message } => format!("FAIL {file}:{line}: {message}"),
            Verdict::Skipped { line, reason } => format!("skipped: {reason} at {file}:{line}"),
            Verdict::Error {
                line,
                column,
                message,
            } => format!("error: {file}:{line}:{column}: {message}"),
        }
    }

    pub fn passed(&self) -> bool {
        *self == Verdict::Pass
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report("script"))
    }
}

/// What running one script gave: the verdict and the run's log (events
/// with `verbose`, shell commands skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub verdict: Verdict,
    pub log: Vec<String>,
}

/// Reads, parses and runs the script at `path` on a fresh lwIP, in this
/// process (which must not have started lwIP before); with
/// `TargetKind::Linux`, on the kernel, in a network namespace this process
/// moves into.
pub fn run_file(path: &Path, options: &Options) -> Report {
    match std::fs::read_to_string(path) {
        Ok(text) => run_text(&text, options),
        Err(e) => Report {
            verdict: Verdict::Error {
                line: 0,
                column: 0,
                message: format!("cannot read it: {e}"),
            },
            log: Vec::new(),
        },
    }
}

/// Parses and runs a script's text on a fresh lwIP, in this process.
pub fn run_text(text: &str, options: &Options) -> Report {
    let defines: Vec<(&str, &str)> = options
        .defines
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parsed = script::parse_with_definitions(text, &defines)
        .and_then(|script| script::check_times(&script).map(|()| script));
    let script = match parsed {
        Ok(script) => script,
        Err(e) => {
            return Report {
                verdict: Verdict::Error {
                    line: e.line,
                    column: e.column,
                    message: e.message,
                },
                log: Vec::new(),
            }
        }
    };
    let header: Vec<(String, Option<String>, u32)> = script
        .options
        .iter()
        .map(|o| (o.name.clone(), o.value.clone(), o.line))
        .collect();
    let settings = match Settings::resolve(options, &header) {
        Ok(settings) => settings,
        Err(e) if e.unknown => {
            return Report {
                verdict: Verdict::Skipped {
                    line: e.line,
                    reason: format!("unsupported {}", e.message),
                },
                log: Vec::new(),
            }
        }
        Err(e) => {
            return Report {
                verdict: Verdict::Fail {
                    line: e.line,
                    message: e.message,
                },
                log: Vec::new(),
            }
        }
    };
    let mut log = Vec::new();
    for (name, value, line) in &header {
        if name == "init_scripts" && settings.target == TargetKind::Lwip {
            log.push(format!(
                "skipped: --init_scripts={} at line {line} (shell scripts tune another OS)",
                value.as_deref().unwrap_or("")
            ));
        }
    }
    if let (Some(command), TargetKind::Lwip) = (&script.init_command, settings.target) {
        log.push(format!(
            "skipped: shell command at line {} (it tunes another OS)",
            command.line
        ));
    }
    let verdict = runner::run(&script, &settings, &mut log);
    Report { verdict, log }
}
