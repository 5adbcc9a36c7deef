//! The one error type. Every message names what was wrong and, where there
//! is something to do about it, says what.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A bad command line; reported before any device is touched.
    Usage(String),
    /// A configuration that breaks a rule (see `Config::validate`); reported
    /// before any device is touched.
    Config(String),
    /// A TAP device could not be opened, attached, created or configured.
    Tap { name: String, reason: String },
    /// lwIP refused something (the message says what).
    Lwip(String),
    /// An interface stopped working while running (e.g. it was deleted).
    Link { name: String, reason: String },
    /// The user to run as cannot be used, or privileges cannot be dropped
    /// (see `sandbox`).
    Privileges(String),
    /// Any other system failure.
    Io(String),
    /// A client (`--ping`, `--iperf-client`) did not succeed.
    Clients(String),
}

impl Error {
    /// The process exit status for this error: 2 for usage errors (as clap
    /// uses), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Config(msg) => write!(f, "{msg}"),
            Error::Tap { name, reason } => write!(f, "{name}: {reason}"),
            Error::Lwip(msg) => write!(f, "lwIP: {msg}"),
            Error::Link { name, reason } => write!(f, "{name}: {reason}"),
            Error::Privileges(msg) | Error::Io(msg) | Error::Clients(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}
