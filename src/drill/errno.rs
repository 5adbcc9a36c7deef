//! The errno a socket call reports for each lwIP error, as lwIP's own
//! sockets layer maps them (`err_to_errno` in lwIP's `api/err.c`), and
//! errno names.

use crate::lwip::LwipError;

/// An errno, by its name (`ECONNRESET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub &'static str);

impl Errno {
    pub const EAGAIN: Errno = Errno("EAGAIN");
    pub const EBADF: Errno = Errno("EBADF");
    pub const EINVAL: Errno = Errno("EINVAL");
    pub const EINPROGRESS: Errno = Errno("EINPROGRESS");
    pub const EALREADY: Errno = Errno("EALREADY");
    pub const EISCONN: Errno = Errno("EISCONN");
    pub const ENOTCONN: Errno = Errno("ENOTCONN");
    pub const EPIPE: Errno = Errno("EPIPE");
    pub const EOPNOTSUPP: Errno = Errno("EOPNOTSUPP");
    pub const EAFNOSUPPORT: Errno = Errno("EAFNOSUPPORT");
    pub const EPROTONOSUPPORT: Errno = Errno("EPROTONOSUPPORT");
    pub const ENOPROTOOPT: Errno = Errno("ENOPROTOOPT");
    pub const EDESTADDRREQ: Errno = Errno("EDESTADDRREQ");
    pub const ENOMEM: Errno = Errno("ENOMEM");
    pub const ENOBUFS: Errno = Errno("ENOBUFS");
    pub const EHOSTUNREACH: Errno = Errno("EHOSTUNREACH");
    pub const EADDRINUSE: Errno = Errno("EADDRINUSE");
    pub const ECONNABORTED: Errno = Errno("ECONNABORTED");
    pub const ECONNRESET: Errno = Errno("ECONNRESET");
    pub const EIO: Errno = Errno("EIO");

    /// What lwIP's sockets layer reports for `error` (its `err_to_errno`).
    /// `ERR_IF` has no errno there (-1); it is reported as EIO.
    pub fn of(error: LwipError) -> Errno {
        match error {
            LwipError::Memory => Errno::ENOMEM,
            LwipError::Buffer => Errno::ENOBUFS,
            LwipError::Timeout | LwipError::WouldBlock => Errno::EAGAIN,
            LwipError::Route => Errno::EHOSTUNREACH,
            LwipError::InProgress => Errno::EINPROGRESS,
            LwipError::Value => Errno::EINVAL,
            LwipError::InUse => Errno::EADDRINUSE,
            LwipError::Already => Errno::EALREADY,
            LwipError::IsConnected => Errno::EISCONN,
            LwipError::NotConnected | LwipError::Closed => Errno::ENOTCONN,
            LwipError::Aborted => Errno::ECONNABORTED,
            LwipError::Reset => Errno::ECONNRESET,
            LwipError::Interface | LwipError::Argument | LwipError::Other(_) => Errno::EIO,
        }
    }

    /// The number Linux gives it (for `getsockopt(SO_ERROR)`).
    pub fn number(self) -> i64 {
        linux_number(self.0).unwrap_or(i64::from(libc::EIO))
    }

    /// Whether the script's name for an errno means this one (`EWOULDBLOCK`
    /// is `EAGAIN` on Linux).
    pub fn is(self, name: &str) -> bool {
        self.0 == name || (self.0 == "EAGAIN" && name == "EWOULDBLOCK")
    }
}

/// Linux's numbers of the errno names the runner knows (scripts write them
/// as constants too: `getsockopt(..., SO_ERROR, [ECONNREFUSED], [4])`).
/// `EWOULDBLOCK` is `EAGAIN`'s number, found by name only.
const LINUX: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EINVAL", libc::EINVAL),
    ("ENOSPC", libc::ENOSPC),
    ("EPIPE", libc::EPIPE),
    ("ENOTSOCK", libc::ENOTSOCK),
    ("EDESTADDRREQ", libc::EDESTADDRREQ),
    ("EMSGSIZE", libc::EMSGSIZE),
    ("EPROTOTYPE", libc::EPROTOTYPE),
    ("ENOPROTOOPT", libc::ENOPROTOOPT),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETDOWN", libc::ENETDOWN),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ESHUTDOWN", libc::ESHUTDOWN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTDOWN", libc::EHOSTDOWN),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
];

/// Linux's number for an errno name the runner knows.
pub(crate) fn linux_number(name: &str) -> Option<i64> {
    let name = if name == "EWOULDBLOCK" {
        "EAGAIN"
    } else {
        name
    };
    LINUX
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| i64::from(*number))
}

impl Errno {
    /// The errno Linux reported as `number` (a number the table does not
    /// name is shown as one).
    pub(crate) fn from_linux(number: i32) -> Errno {
        match LINUX.iter().find(|(_, n)| *n == number) {
            Some((name, _)) => Errno(name),
            // Rare, and in a process that runs one script: leaking the
            // name keeps Errno a plain `&'static str`.
            None => Errno(Box::leak(format!("errno {number}").into_boxed_str())),
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The table behind [`Errno::of`], for the documentation and its test.
pub const TABLE: &[(LwipError, Errno)] = &[
    (LwipError::Memory, Errno::ENOMEM),
    (LwipError::Buffer, Errno::ENOBUFS),
    (LwipError::Timeout, Errno::EAGAIN),
    (LwipError::Route, Errno::EHOSTUNREACH),
    (LwipError::InProgress, Errno::EINPROGRESS),
    (LwipError::Value, Errno::EINVAL),
    (LwipError::WouldBlock, Errno::EAGAIN),
    (LwipError::InUse, Errno::EADDRINUSE),
    (LwipError::Already, Errno::EALREADY),
    (LwipError::IsConnected, Errno::EISCONN),
    (LwipError::NotConnected, Errno::ENOTCONN),
    (LwipError::Interface, Errno::EIO),
    (LwipError::Aborted, Errno::ECONNABORTED),
    (LwipError::Reset, Errno::ECONNRESET),
    (LwipError::Closed, Errno::ENOTCONN),
    (LwipError::Argument, Errno::EIO),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_mapping() {
        for (error, errno) in TABLE {
            assert_eq!(Errno::of(*error), *errno, "{error}");
        }
        assert!(Errno::EAGAIN.is("EWOULDBLOCK"));
    }

    #[test]
    fn names_are_linux_numbers() {
        assert_eq!(linux_number("ENOTCONN"), Some(107));
        assert_eq!(linux_number("ECONNREFUSED"), Some(111));
        assert_eq!(linux_number("EWOULDBLOCK"), linux_number("EAGAIN"));
        assert_eq!(linux_number("SO_ERROR"), None);
        assert_eq!(Errno::ECONNRESET.number(), 104);
        assert_eq!(Errno::from_linux(libc::ECONNREFUSED), Errno("ECONNREFUSED"));
        assert_eq!(Errno::from_linux(libc::EWOULDBLOCK), Errno::EAGAIN);
    }
}
