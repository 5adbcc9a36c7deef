//! Least privilege once setup is done: the process gives up root (for
//! `nobody` by default, or the user of `-Z USER`), every capability
//! (bounding set included), sets `no_new_privs`, and confines itself to the
//! system calls its event loop needs with a seccomp filter.
//!
//! Setup (opening and creating TAPs, host-side addresses, MTU, offload,
//! capture files) needs privileges; parsing frames from the network does not.
//! [`Sandbox::prepare`] resolves the user before anything is created, so a
//! bad `-Z` is refused with nothing to undo; [`Sandbox::enter`] runs after
//! setup. The filter's allow list is [`allowed_syscalls`], in one place.
//!
//! A call outside the list traps (SECCOMP_RET_TRAP): the SIGSYS handler
//! writes one line naming the call's number to stderr and aborts, so the
//! process dies by SIGABRT. Nothing runs on after a forbidden call.
//!
//! Files after setup: only beneath one directory opened during setup
//! (`Directory`, for `--tftp`), through `openat2` with `RESOLVE_BENEATH`
//! relative to that directory's descriptor, which the filter pins
//! ([`FileAccess`]).
//!
//! This module does not touch lwIP or any device; it only changes the
//! process's credentials, installs the filter and opens files beneath the
//! one directory.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::Error;

/// The user a root process switches to when `-Z` is not given (as dnsmasq
/// and tcpdump do).
pub const DEFAULT_USER: &str = "nobody";

/// Whether the seccomp filter is installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SeccompMode {
    /// Installed; a kernel without seccomp gets a warning and no filter.
    #[default]
    On,
    /// Not installed (to run under valgrind, gdb or strace).
    Off,
    /// Installed, and a kernel without seccomp is an error.
    Required,
}

/// What the process gives up after setup, as asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The user to run as (`-Z`); `None` is [`DEFAULT_USER`] when started
    /// as root and the current user otherwise. A user whose uid is 0
    /// (`-Z root`) keeps root and every capability.
    pub user: Option<String>,
    pub seccomp: SeccompMode,
}

/// A user account, resolved.
#[derive(Debug, Clone)]
struct Account {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
    /// Supplementary groups, as `initgroups` would set them.
    groups: Vec<libc::gid_t>,
}

/// Who the process becomes after setup.
#[derive(Debug)]
enum Identity {
    /// Started as root: switch to this (non-root) account.
    Switch(Account),
    /// Started as root and asked to stay root (`-Z` naming uid 0).
    KeepRoot(String),
    /// Not started as root: stay who we are, shed any capabilities.
    Unprivileged,
}

/// The decisions made before setup, carried out after it.
#[derive(Debug)]
pub struct Sandbox {
    identity: Identity,
    seccomp: SeccompMode,
    files: Option<FileAccess>,
}

/// The files the process may open after setup: those beneath one
/// directory, whose descriptor was opened during setup
/// ([`Stack::file_access`](crate::stack::Stack::file_access)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAccess {
    dir: RawFd,
    /// Whether files may be created and written too (`--tftp-write`).
    write: bool,
}

/// A directory opened during setup, and the files beneath it opened after:
/// with `openat2` relative to its descriptor and `RESOLVE_BENEATH` (no
/// absolute name, no `..` above it), `RESOLVE_NO_SYMLINKS` (no symbolic
/// link anywhere in the name), `RESOLVE_NO_XDEV` (no other mount), and
/// `O_NONBLOCK` (a FIFO cannot stall the event loop). The kernel enforces
/// all of it, whatever the name.
#[derive(Debug)]
pub(crate) struct Directory {
    fd: OwnedFd,
    write: bool,
}

impl Directory {
    /// Opens `path`, and checks that the kernel has `openat2` (Linux 5.6).
    pub(crate) fn open(path: &Path, write: bool) -> Result<Directory, Error> {
        let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            Error::io(
                format!("--tftp {}", path.display()),
                io::Error::from(io::ErrorKind::InvalidInput),
            )
        })?;
        // SAFETY: a NUL-terminated path; the result is checked.
        let fd = unsafe {
            libc::open(
                cpath.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::io(
                format!("--tftp {}: cannot open the directory", path.display()),
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: a descriptor just opened, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let dir = Directory { fd, write };
        match dir.open_beneath(c".", libc::O_PATH) {
            Ok(_) => Ok(dir),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Err(Error::io(
                format!(
                    "--tftp {}: this kernel has no openat2 (Linux 5.6 or later), which keeps \
                     every file the server opens inside the directory",
                    path.display()
                ),
                e,
            )),
            Err(e) => Err(Error::io(
                format!("--tftp {}: cannot open files beneath it", path.display()),
                e,
            )),
        }
    }

    /// What the seccomp filter must let through for this directory.
    pub(crate) fn access(&self) -> FileAccess {
        FileAccess {
            dir: self.fd.as_raw_fd(),
            write: self.write,
        }
    }

    /// Opens `name` beneath the directory to read it, or (`write`, if the
    /// directory was opened for writing) to write it, created with mode
    /// 0644 or emptied.
    pub(crate) fn open_file(&self, name: &[u8], write: bool) -> io::Result<File> {
        let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let flags = if !write {
            libc::O_RDONLY
        } else if self.write {
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC
        } else {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        };
        let fd = self.open_beneath(&name, flags | libc::O_NOFOLLOW | libc::O_NONBLOCK)?;
        Ok(File::from(fd))
    }

    fn open_beneath(&self, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
        let mut how: libc::open_how = {
            // SAFETY: open_how is plain integers; zero is a valid value.
            unsafe { std::mem::zeroed() }
        };
        how.flags = (flags | libc::O_CLOEXEC) as u64;
        how.mode = if flags & libc::O_CREAT != 0 { 0o644 } else { 0 };
        how.resolve = libc::RESOLVE_BENEATH
            | libc::RESOLVE_NO_SYMLINKS
            | libc::RESOLVE_NO_MAGICLINKS
            | libc::RESOLVE_NO_XDEV;
        // SAFETY: a valid directory descriptor, a NUL-terminated name and an
        // open_how of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.fd.as_raw_fd(),
                name.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened, owned from here on.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

impl Sandbox {
    /// Resolves the user to run as, before any device exists: an unknown
    /// user, or one a non-root process cannot become, is refused here.
    pub fn prepare(config: &SandboxConfig) -> Result<Sandbox, Error> {
        // SAFETY: getuid and geteuid have no preconditions.
        let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
        let identity = if euid == 0 {
            let name = config.user.as_deref().unwrap_or(DEFAULT_USER);
            let account = lookup(name)?;
            match (account.uid, &config.user) {
                (0, Some(_)) => Identity::KeepRoot(account.name),
                (0, None) => {
                    return Err(Error::privileges(format!(
                        "user {name} is root; name an unprivileged user with -Z USER \
                         (or -Z root to keep root)"
                    )))
                }
                _ => Identity::Switch(account),
            }
        } else {
            if let Some(name) = &config.user {
                let account = lookup(name)?;
                if account.uid != uid || account.uid != euid {
                    return Err(Error::privileges(format!(
                        "cannot switch to user {name} (uid {}): only root can; \
                         leave out -Z to stay uid {euid}",
                        account.uid
                    )));
                }
            }
            Identity::Unprivileged
        };
        Ok(Sandbox {
            identity,
            seccomp: config.seccomp,
            files: None,
        })
    }

    /// Lets the process open files beneath one directory after setup
    /// (`--tftp`); by default it opens none.
    pub fn allow_files(&mut self, files: Option<FileAccess>) {
        self.files = files;
    }

    /// Gives up what setup needed: the user switch and every capability,
    /// then `no_new_privs` and the seccomp filter. Logs once who the
    /// process now runs as. Call it on the only thread, after setup.
    pub fn enter(self) -> Result<(), Error> {
        let who = match &self.identity {
            Identity::Switch(account) => {
                switch_user(account)?;
                format!(
                    "running as {} (uid {}, gid {}) without capabilities",
                    account.name, account.uid, account.gid
                )
            }
            Identity::KeepRoot(name) => format!("running as {name} (uid 0) with every capability"),
            Identity::Unprivileged => {
                // File capabilities or ambient ones, if any.
                drop_bounding_set()?;
                clear_capabilities()?;
                // SAFETY: geteuid and getegid have no preconditions.
                let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                format!("running as uid {uid} (gid {gid}) without capabilities")
            }
        };
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(os_error("cannot set no_new_privs"));
        }
        let filter = match self.seccomp {
            SeccompMode::Off => "seccomp filter off (--seccomp off)".to_string(),
            SeccompMode::On | SeccompMode::Required => match install_filter(self.files) {
                Ok(n) => {
                    panic_without_backtrace();
                    format!("seccomp filter on ({n} system calls allowed)")
                }
                Err(reason) if self.seccomp == SeccompMode::Required => {
                    return Err(Error::privileges(format!(
                        "cannot install the seccomp filter ({reason}) and --seccomp required \
                         was given"
                    )));
                }
                Err(reason) => {
                    log::warn!(
                        "cannot install the seccomp filter ({reason}); running without it \
                         (--seccomp required makes this an error)"
                    );
                    "no seccomp filter".to_string()
                }
            },
        };
        if matches!(self.identity, Identity::KeepRoot(_)) {
            log::warn!("{who} (-Z); {filter}");
        } else {
            log::info!("{who}; {filter}");
        }
        Ok(())
    }
}

/// Panics print their message as usual, but never a backtrace: reading the
/// binary's debug information needs calls (open, getcwd, …) the filter
/// forbids, and a panic must not turn into a seccomp kill.
fn panic_without_backtrace() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        eprintln!(
            "\nthread '{name}' {info}\nnote: no backtrace under the seccomp filter \
             (--seccomp off shows one with RUST_BACKTRACE=1)"
        );
    }));
}

fn os_error(what: &str) -> Error {
    Error::privileges_io(what, io::Error::last_os_error())
}

/// The account `name`, with its supplementary groups.
fn lookup(name: &str) -> Result<Account, Error> {
    let unknown = || {
        Error::privileges(format!(
            "-Z {name}: no such user; name an existing user (default {DEFAULT_USER}), \
             or -Z root to keep root"
        ))
    };
    let cname = CString::new(name).map_err(|_| unknown())?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: passwd is plain data that getpwnam_r fills in.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call, `buf` for its length.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(Error::privileges_io(
                format!("-Z {name}: cannot look up the user"),
                io::Error::from_raw_os_error(rc),
            ));
        }
        if found.is_null() {
            return Err(unknown());
        }
        // SAFETY: getpwnam_r succeeded, so pw_name points into `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned();
        let groups = supplementary_groups(&cname, pwd.pw_gid);
        return Ok(Account {
            name,
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            groups,
        });
    }
}

/// The groups `user` belongs to, `gid` included (what `initgroups` sets).
fn supplementary_groups(user: &CStr, gid: libc::gid_t) -> Vec<libc::gid_t> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: `groups` holds `n` entries; getgrouplist writes at most
        // that many and sets `n` to how many there are.
        let rc = unsafe { libc::getgrouplist(user.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n as usize);
            return groups;
        }
        if n as usize <= groups.len() || n > 65536 {
            // Nothing better to go on: the primary group alone.
            return vec![gid];
        }
        groups.resize(n as usize, 0);
    }
}

/// Root becomes `account`, keeping no capability.
fn switch_user(account: &Account) -> Result<(), Error> {
    // The bounding set first: dropping from it needs CAP_SETPCAP, which
    // the switch below takes away.
    drop_bounding_set()?;
    // SAFETY: setgroups reads `groups.len()` entries; the others take
    // integers. Every result is checked.
    unsafe {
        if libc::setgroups(account.groups.len(), account.groups.as_ptr()) != 0 {
            return Err(os_error("cannot set the supplementary groups"));
        }
        if libc::setresgid(account.gid, account.gid, account.gid) != 0 {
            return Err(os_error(&format!("cannot switch to group {}", account.gid)));
        }
        // Without PR_SET_KEEPCAPS (never set here) this also empties the
        // permitted and effective capability sets.
        if libc::setresuid(account.uid, account.uid, account.uid) != 0 {
            return Err(os_error(&format!("cannot switch to user {}", account.name)));
        }
    }
    // Inheritable and ambient are not cleared by the switch.
    clear_capabilities()?;
    // Make sure there is no way back.
    // SAFETY: setuid and setgid take integers.
    if unsafe { libc::setuid(0) } == 0 || unsafe { libc::setgid(0) } == 0 {
        return Err(Error::privileges(
            "switched user, but could still become root again; refusing to run",
        ));
    }
    Ok(())
}

/// `struct __user_cap_header_struct` of capget(2)/capset(2).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`; version 3 takes two of them.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// linux/capability.h: the capability that may drop from the bounding set.
const CAP_SETPCAP: u32 = 8;

/// Empties the bounding set, so that no capability can ever come back
/// (through an exec). It needs CAP_SETPCAP; a process without it skips
/// this, as it has nothing to lose that it could regain: with
/// `no_new_privs` set and exec forbidden there is no way back in.
fn drop_bounding_set() -> Result<(), Error> {
    if !has_capability(CAP_SETPCAP) {
        return Ok(());
    }
    // Up to the kernel's last capability: PR_CAPBSET_READ fails past it.
    // SAFETY: prctl with integer arguments only.
    for cap in (0..64).take_while(|&c| unsafe { libc::prctl(libc::PR_CAPBSET_READ, c) } >= 0) {
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap) } != 0 {
            return Err(os_error(&format!(
                "cannot drop capability {cap} from the bounding set"
            )));
        }
    }
    Ok(())
}

/// Empties the effective, permitted, inheritable and ambient capability
/// sets (lowering them needs no privilege).
fn clear_capabilities() -> Result<(), Error> {
    // Kernels before 4.3 have no ambient set (EINVAL): nothing to clear.
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(os_error("cannot clear the ambient capabilities"));
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads a version-3 header and two data structs.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(os_error("cannot drop the capabilities"));
    }
    Ok(())
}

/// Whether `cap` is in the effective set.
fn has_capability(cap: u32) -> bool {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes a version-3 header and two data structs.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return false;
    }
    data[(cap / 32) as usize].effective & (1 << (cap % 32)) != 0
}

/// One allowed system call: its number, why the loop needs it, and the
/// conditions on its arguments (none: any arguments).
struct Allowed {
    number: libc::c_long,
    why: &'static str,
    rules: Vec<SeccompRule>,
}

fn allow(number: libc::c_long, why: &'static str) -> Allowed {
    Allowed {
        number,
        why,
        rules: Vec::new(),
    }
}

/// A rule matching when argument `index` (an int) has none of the bits of
/// `mask`.
fn without_bits(index: u8, mask: u64) -> SeccompRule {
    let condition = SeccompCondition::new(
        index,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(mask),
        0,
    )
    .expect("a valid argument index");
    SeccompRule::new(vec![condition]).expect("a rule with a condition")
}

/// A rule matching when argument `index` (an int) equals `value`.
fn equal(index: u8, value: u64) -> SeccompRule {
    let condition = SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
        .expect("a valid argument index");
    SeccompRule::new(vec![condition]).expect("a rule with a condition")
}

/// Every system call lwip-tap may make after setup, and why. Found by
/// running every service, `-d`, SIGUSR1 statistics, capture, impairment,
/// DHCP, a TAP deleted under it, SIGINT and SIGTERM under `strace -f`, and
/// by the failure paths (a panic's message, an lwIP assertion's log line,
/// then abort). Anything else traps, including what only a threaded program
/// would need (`mprotect` and `madvise` for malloc's other arenas, `exit`
/// for a thread), and every socket call: the host side is configured (by
/// ioctl and rtnetlink) during setup only.
pub fn allowed_syscalls() -> Vec<(libc::c_long, &'static str)> {
    allow_list(None)
        .into_iter()
        .map(|a| (a.number, a.why))
        .collect()
}

/// The calls a stack that opens files beneath a directory (`--tftp`) needs
/// besides: `openat2` only relative to that directory's descriptor (the
/// kernel keeps the name beneath it: see [`Directory`]), and `read`.
/// Writing uses `write`, which is allowed anyway. The filter cannot read
/// `openat2`'s flags (they are in a struct it is given a pointer to), so a
/// read-only directory is kept read-only by [`Directory::open_file`] and
/// by the file permissions of the user lwip-tap runs as.
fn file_calls(files: FileAccess) -> Vec<Allowed> {
    vec![
        Allowed {
            number: libc::SYS_openat2,
            why: if files.write {
                "open a file to serve or to write beneath the --tftp directory, relative to its \
                 descriptor only (RESOLVE_BENEATH, no symbolic links)"
            } else {
                "open a file to serve beneath the --tftp directory, relative to its descriptor \
                 only (RESOLVE_BENEATH, no symbolic links)"
            },
            rules: vec![equal(0, files.dir as u64)],
        },
        allow(libc::SYS_read, "read a file the TFTP server sends"),
    ]
}

fn allow_list(files: Option<FileAccess>) -> Vec<Allowed> {
    let mut list = base_list();
    list.extend(files.map(file_calls).unwrap_or_default());
    list
}

fn base_list() -> Vec<Allowed> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    let no_exec = || vec![without_bits(2, libc::PROT_EXEC as u64)];
    vec![
        // The event loop.
        allow(
            libc::SYS_ppoll,
            "wait for frames, timers and signals (signals unblocked only here)",
        ),
        allow(
            libc::SYS_readv,
            "receive a frame from a TAP into lwIP's pbufs",
        ),
        allow(
            libc::SYS_writev,
            "send a frame to a TAP (virtio-net header + pbuf chain)",
        ),
        allow(
            libc::SYS_sched_yield,
            "let a client on this core run while busy-polling",
        ),
        allow(
            libc::SYS_clock_gettime,
            "lwIP's clock, the loop's and the log's (when the vDSO falls back)",
        ),
        allow(
            libc::SYS_getrandom,
            "lwIP's random numbers (TCP ISNs, DHCP xids, ports)",
        ),
        // Output.
        allow(
            libc::SYS_write,
            "log lines to stderr, capture records to their file, --stats=json to stdout, the \
             ready line to the ready file and READY=1 to systemd's connected notification \
             socket, panic messages",
        ),
        // Signals.
        allow(
            libc::SYS_rt_sigreturn,
            "return from the SIGINT/SIGTERM/SIGHUP/SIGUSR1 handler",
        ),
        allow(
            libc::SYS_rt_sigprocmask,
            "abort() blocks signals before raising SIGABRT",
        ),
        allow(
            libc::SYS_rt_sigaction,
            "abort() resets SIGABRT to its default action",
        ),
        allow(
            libc::SYS_getpid,
            "abort() raises SIGABRT at its own process",
        ),
        allow(libc::SYS_gettid, "abort() raises SIGABRT at its own thread"),
        Allowed {
            number: libc::SYS_tgkill,
            why: "abort() raises SIGABRT, only at this process",
            rules: vec![equal(0, pid)],
        },
        // Memory.
        allow(libc::SYS_brk, "malloc growing the heap"),
        Allowed {
            number: libc::SYS_mmap,
            why: "malloc of large blocks (capture buffers); never executable memory",
            rules: no_exec(),
        },
        allow(libc::SYS_munmap, "free of large blocks; std's exit cleanup"),
        allow(libc::SYS_mremap, "realloc of large blocks"),
        Allowed {
            number: libc::SYS_futex,
            why:
                "a panic's unwinder finishing its pthread_once (wake only: one thread never waits)",
            rules: vec![
                equal(1, (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as u64),
                equal(1, libc::FUTEX_WAKE as u64),
            ],
        },
        // Exit.
        allow(
            libc::SYS_sigaltstack,
            "std removes the main thread's signal stack on exit",
        ),
        allow(
            libc::SYS_close,
            "closing the TAPs (a transient TAP goes away) and capture files",
        ),
        Allowed {
            number: libc::SYS_fcntl,
            why: "std checks that a descriptor is open before closing it (F_GETFD only)",
            rules: vec![equal(1, libc::F_GETFD as u64)],
        },
        allow(
            libc::SYS_exit_group,
            "exit (of the process: there is one thread)",
        ),
    ]
}

/// The filter for this architecture; `Err` says why there is none.
fn compile_filter(files: Option<FileAccess>) -> Result<(BpfProgram, usize), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| format!("no seccomp filter for {}", std::env::consts::ARCH))?;
    let list = allow_list(files);
    let count = list.len();
    let rules: BTreeMap<i64, Vec<SeccompRule>> =
        list.into_iter().map(|a| (a.number, a.rules)).collect();
    let filter = SeccompFilter::new(rules, SeccompAction::Trap, SeccompAction::Allow, arch)
        .map_err(|e| e.to_string())?;
    let program = BpfProgram::try_from(filter).map_err(|e| e.to_string())?;
    Ok((program, count))
}

/// Installs the SIGSYS handler and the filter; returns how many calls it
/// allows.
fn install_filter(files: Option<FileAccess>) -> Result<usize, String> {
    let (program, count) = compile_filter(files)?;
    // SAFETY: sigaction is plain data; the handler only calls
    // async-signal-safe functions (write, abort).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigsys as extern "C" fn(_, _, _) as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) != 0 {
            return Err(format!(
                "cannot handle SIGSYS: {}",
                io::Error::last_os_error()
            ));
        }
    }
    seccompiler::apply_filter(&program).map_err(|e| match e {
        seccompiler::Error::Seccomp(err) => format!("the kernel refused it: {err}"),
        other => other.to_string(),
    })?;
    Ok(count)
}

/// The SIGSYS part of `siginfo_t` (`_sigsys`) on 64-bit Linux: after
/// signo, errno, code and padding come the calling address, the system
/// call number and the audit architecture. Only used where there is a
/// filter, on the 64-bit architectures seccompiler knows.
#[repr(C)]
struct SigsysInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    call_addr: *mut libc::c_void,
    syscall: libc::c_int,
    arch: libc::c_uint,
}

/// A call outside the list: one line on stderr, then abort (SIGABRT).
/// Only async-signal-safe calls, both in the allow list.
extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a siginfo_t for a SA_SIGINFO handler, and
    // for SIGSYS it holds the `_sigsys` fields.
    let number = unsafe { (*info.cast::<SigsysInfo>()).syscall };
    let mut line = [0u8; 256];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let n = bytes.len().min(line.len() - len);
        line[len..len + n].copy_from_slice(&bytes[..n]);
        len += n;
    };
    put(b"lwip-tap: the seccomp filter stopped system call ");
    put(decimal(number.unsigned_abs(), &mut [0u8; 10]));
    put(b" (");
    put(std::env::consts::ARCH.as_bytes());
    put(
        b"), which lwip-tap does not use after setup; aborting. Please report this; \
        --seccomp off runs without the filter\n",
    );
    // SAFETY: writes `len` bytes of `line` to stderr; abort never returns.
    unsafe {
        libc::write(2, line.as_ptr().cast(), len);
        libc::abort();
    }
}

/// `n` in decimal, in `buf`, without allocating.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_without_allocation() {
        assert_eq!(decimal(0, &mut [0; 10]), b"0");
        assert_eq!(decimal(257, &mut [0; 10]), b"257");
        assert_eq!(decimal(u32::MAX, &mut [0; 10]), b"4294967295");
    }

    #[test]
    fn the_allow_list_compiles_and_names_each_call_once() {
        let list = allowed_syscalls();
        let mut numbers: Vec<_> = list.iter().map(|(n, _)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), list.len(), "a call is listed twice");
        assert!(list.iter().all(|(_, why)| !why.is_empty()));
        for forbidden in [
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_ioctl,
            libc::SYS_setuid,
            libc::SYS_ptrace,
        ] {
            assert!(!numbers.contains(&forbidden), "{forbidden} is allowed");
        }
        let (program, count) = compile_filter(None).unwrap();
        assert_eq!(count, list.len());
        assert!(!program.is_empty());
        let files = FileAccess {
            dir: 3,
            write: false,
        };
        let with_files = allow_list(Some(files));
        assert!(with_files.iter().any(|a| a.number == libc::SYS_openat2));
        assert!(!with_files.iter().any(|a| a.number == libc::SYS_openat));
        assert_eq!(compile_filter(Some(files)).unwrap().1, list.len() + 2);
    }

    #[test]
    fn an_unknown_user_is_one_line() {
        let e = lookup("no-such-user-lwip-tap").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("no such user"), "{text}");
        assert_eq!(text.lines().count(), 1);
        assert_eq!(e.exit_code(), 1);
        assert_eq!(lookup("root").unwrap().uid, 0);
    }
}
