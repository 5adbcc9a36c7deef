//! The one error type. Every message names what was wrong and, where there
//! is something to do about it, says what; the error it comes from (an OS
//! error, an lwIP error code) is its [`source`](std::error::Error::source).
//! `{}` shows the message, `{:#}` the message and its sources, as one line.

use std::fmt;
use std::io;

use crate::config::ConfigError;
use crate::lwip::LwipError;

/// What went wrong, by kind; each variant carries what a caller needs to
/// act on it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A bad command line; reported before any device is touched.
    Usage(String),
    /// A configuration that breaks a rule (see `Config::validate`);
    /// reported before any device is touched.
    Config(ConfigError),
    /// A TAP device could not be opened, attached, created or configured.
    Tap {
        name: String,
        reason: String,
        source: Option<io::Error>,
    },
    /// lwIP refused something.
    Lwip {
        context: String,
        source: Option<LwipError>,
    },
    /// An interface stopped working while running (it was deleted, say).
    Link {
        name: String,
        reason: String,
        source: Option<io::Error>,
    },
    /// The user to run as cannot be used, or privileges cannot be dropped
    /// (see `sandbox`).
    Privileges {
        message: String,
        source: Option<io::Error>,
    },
    /// Any other system failure.
    Io { context: String, source: io::Error },
    /// A client (`--ping`, `--iperf-client`) did not succeed.
    Clients(String),
}

impl Error {
    pub(crate) fn tap(name: &str, reason: impl Into<String>) -> Error {
        Error::Tap {
            name: name.to_string(),
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn tap_io(name: &str, reason: impl Into<String>, source: io::Error) -> Error {
        Error::Tap {
            name: name.to_string(),
            reason: reason.into(),
            source: Some(source),
        }
    }

    pub(crate) fn lwip(context: impl Into<String>, source: LwipError) -> Error {
        Error::Lwip {
            context: context.into(),
            source: Some(source),
        }
    }

    pub(crate) fn link(name: &str, reason: impl Into<String>, source: io::Error) -> Error {
        Error::Link {
            name: name.to_string(),
            reason: reason.into(),
            source: Some(source),
        }
    }

    pub(crate) fn privileges(message: impl Into<String>) -> Error {
        Error::Privileges {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn privileges_io(message: impl Into<String>, source: io::Error) -> Error {
        Error::Privileges {
            message: message.into(),
            source: Some(source),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The process exit status for this error: 2 for usage and
    /// configuration errors (as clap uses), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config(_) => 2,
            _ => 1,
        }
    }

    /// The kind of the OS error behind this one, if there is one.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Tap { source, .. }
            | Error::Link { source, .. }
            | Error::Privileges { source, .. } => source.as_ref().map(io::Error::kind),
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Clients(msg) => write!(f, "{msg}")?,
            Error::Config(e) => write!(f, "{e}")?,
            Error::Tap { name, reason, .. } | Error::Link { name, reason, .. } => {
                write!(f, "{name}: {reason}")?
            }
            Error::Lwip { context, .. } => write!(f, "lwIP: {context}")?,
            Error::Privileges { message, .. } => write!(f, "{message}")?,
            Error::Io { context, .. } => write!(f, "{context}")?,
        }
        if f.alternate() {
            let mut source = std::error::Error::source(self);
            while let Some(e) = source {
                write!(f, ": {e}")?;
                source = e.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Tap { source, .. }
            | Error::Link { source, .. }
            | Error::Privileges { source, .. } => source.as_ref().map(|e| e as _),
            Error::Lwip { source, .. } => source.as_ref().map(|e| e as _),
            Error::Io { source, .. } => Some(source),
            Error::Usage(_) | Error::Clients(_) => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}
