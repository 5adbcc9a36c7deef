//! Builds lwIP from its C sources with our port in `lwip/`, and proves that
//! the Rust bindings in use describe the C that is built.
//!
//! The sources come from `LWIP_SRC_DIR` when it is set, otherwise from the
//! registry package `lwip =0.4.0` (declared under a never-true `cfg`, so it
//! is downloaded but never compiled), found through `cargo metadata`.
//! Bindings are committed in `src/sys/bindings.rs`; the `buildtime_bindgen`
//! feature regenerates them into `OUT_DIR` instead.
//!
//! `LWIP_TAP_OPTS=file.h` adds the user's lwIP options: the file is included
//! at the end of `lwip/lwipopts.h` (so it `#undef`s what it changes).
//!
//! Before lwIP is compiled, two checks run with the very compiler, flags,
//! include paths and defines lwIP is compiled with:
//! 1. `lwip/port_checks.h` refuses options lwip-tap cannot run with;
//! 2. a C file generated from the bindings in use (build/bindings_check.rs)
//!    asserts, at compile time, every size, alignment and field offset
//!    bindgen recorded, every integer constant, and the type of every
//!    function, variable and typedef.
//!
//! A tree or options that differ from the committed bindings thus fail the
//! build with one message naming the first difference, instead of
//! producing a binary that reads the wrong bytes.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/bindings_check.rs"]
mod bindings_check;

/// The lwIP release we build and the package that carries it.
const CARRIER: &str = "lwip";
const CARRIER_VERSION: &str = "0.4.0";

/// lwIP's C files, relative to the source root.
const LWIP_SOURCES: &[&str] = &[
    "src/api/err.c", // lwip_strerr(), used by debug output
    "src/core/init.c",
    "src/core/def.c",
    "src/core/inet_chksum.c",
    "src/core/ip.c",
    "src/core/mem.c",
    "src/core/memp.c",
    "src/core/netif.c",
    "src/core/pbuf.c",
    "src/core/raw.c",
    "src/core/stats.c",
    "src/core/sys.c",
    "src/core/tcp.c",
    "src/core/tcp_out.c",
    "src/core/udp.c",
    "src/core/ipv4/etharp.c",
    "src/core/ipv4/icmp.c",
    "src/core/ipv4/igmp.c",
    "src/core/ipv4/ip4_addr.c",
    "src/core/ipv4/ip4_frag.c",
    "src/core/ipv6/ethip6.c",
    "src/core/ipv6/icmp6.c",
    "src/core/ipv6/inet6.c",
    "src/core/ipv6/ip6.c",
    "src/core/ipv6/ip6_addr.c",
    "src/core/ipv6/ip6_frag.c",
    "src/core/ipv6/mld6.c",
    "src/core/ipv6/nd6.c",
    "src/netif/ethernet.c",
    "src/apps/http/httpd.c",
    "src/apps/sntp/sntp.c",
    "src/apps/snmp/snmp_asn1.c",
    "src/apps/snmp/snmp_core.c",
    "src/apps/snmp/snmp_mib2.c",
    "src/apps/snmp/snmp_mib2_icmp.c",
    "src/apps/snmp/snmp_mib2_interfaces.c",
    "src/apps/snmp/snmp_mib2_ip.c",
    "src/apps/snmp/snmp_mib2_snmp.c",
    "src/apps/snmp/snmp_mib2_system.c",
    "src/apps/snmp/snmp_mib2_tcp.c",
    "src/apps/snmp/snmp_mib2_udp.c",
    "src/apps/snmp/snmp_msg.c",
    "src/apps/snmp/snmp_scalar.c",
    "src/apps/snmp/snmp_table.c",
    "src/apps/snmp/snmp_traps.c",
];

/// lwIP's contrib apps we compile, relative to the root that has `contrib/`:
/// the tree's own, or the pinned package's when the tree has none (lwIP
/// 2.1.x shipped contrib as a separate archive, and Debian's source package
/// carries only `src/`).
const CONTRIB_SOURCES: &[&str] = &[
    "contrib/apps/tcpecho_raw/tcpecho_raw.c",
    "contrib/apps/udpecho_raw/udpecho_raw.c",
];

/// lwIP C files compiled by being included from one of our `lwip/*.c`
/// (`*_glue.c`, which patch them from outside), not on their own.
const GLUED_SOURCES: &[&str] = &[
    "src/apps/http/fs.c",
    "src/apps/snmp/snmp_pbuf_stream.c",
    "src/apps/lwiperf/lwiperf.c",
    "src/core/dns.c",
    "src/core/ipv4/dhcp.c",
    "src/core/ipv4/ip4.c",
    "src/core/tcp_in.c",
    "src/core/timeouts.c",
    "src/apps/snmp/snmp_raw.c",
];

/// lwIP's applications that every tree has (their files are in the lists
/// above), for `--version`; OPTIONAL_APPS and VERSIONED_APPS name the rest.
const CORE_APPS: &[&str] = &[
    "tcpecho_raw",
    "udpecho_raw",
    "httpd",
    "lwiperf",
    "dns",
    "sntp",
    "snmp",
];

/// lwIP apps that only some trees have (lwIP 2.1.x has no ACD module and an
/// older, single-file mDNS responder): each is built where the tree has all
/// its files, with `define` set to 1 for lwIP, our glue and bindgen; else
/// to 0, and `--version` names it as left out.
struct OptionalApp {
    /// For `--version`.
    name: &'static str,
    define: &'static str,
    /// Compiled on their own.
    sources: &'static [&'static str],
    /// Compiled by being included from one of our `lwip/*_glue.c`.
    glued: &'static [&'static str],
}

const OPTIONAL_APPS: &[OptionalApp] = &[
    OptionalApp {
        name: "mdns",
        define: "LWIP_TAP_APP_MDNS",
        sources: &["src/apps/mdns/mdns_out.c", "src/apps/mdns/mdns_domain.c"],
        glued: &["src/apps/mdns/mdns.c"],
    },
    OptionalApp {
        name: "autoip",
        define: "LWIP_TAP_APP_AUTOIP",
        sources: &[],
        glued: &["src/core/ipv4/autoip.c", "src/core/ipv4/acd.c"],
    },
];

impl OptionalApp {
    /// The app's files that `tree` lacks; none when it is built.
    fn missing(&self, tree: &Path) -> Vec<&'static str> {
        self.sources
            .iter()
            .chain(self.glued)
            .filter(|file| !tree.join(file).is_file())
            .copied()
            .collect()
    }

    /// Whether `tree` has every file of the app.
    fn in_tree(&self, tree: &Path) -> bool {
        self.missing(tree).is_empty()
    }
}

/// lwIP's apps that not every tree lwip-tap builds has, or has with another
/// API: each is compiled by its glue file in `lwip/`, which `#include`s the
/// file found, as the define says. For each define, the candidate files
/// with the define's value, in order; the first the tree has wins, and a
/// tree with none gets 0 (the glue then leaves the app out, and `--version`
/// says so).
const VERSIONED_APPS: &[VersionedApp] = &[
    VersionedApp {
        name: "tftp",
        define: "LWIP_TAP_TFTP",
        // lwIP 2.2: tftp_init_server(); 2.1: tftp_init(), no error callback.
        candidates: &[
            ("src/apps/tftp/tftp.c", "2"),
            ("src/apps/tftp/tftp_server.c", "1"),
        ],
    },
    VersionedApp {
        name: "mqtt",
        define: "LWIP_TAP_MQTT",
        candidates: &[("src/apps/mqtt/mqtt.c", "1")],
    },
];

struct VersionedApp {
    /// For `--version`.
    name: &'static str,
    define: &'static str,
    /// Each file with the define's value when the tree has it, in order.
    candidates: &'static [(&'static str, &'static str)],
}

impl VersionedApp {
    /// The define's value for `tree`: the first candidate it has, if any.
    fn value(&self, tree: &Path) -> Option<&'static str> {
        self.candidates
            .iter()
            .find(|(file, _)| tree.join(file).is_file())
            .map(|(_, value)| *value)
    }
}

/// Include directories inside the lwIP tree. `src` comes last: only the
/// glue files use it, to include lwIP's own `.c` files.
const LWIP_INCLUDES: &[&str] = &["src/include", "src/apps/lwiperf", "src"];

/// Include directories under the root that has `contrib/`.
const CONTRIB_INCLUDES: &[&str] = &["contrib/apps/tcpecho_raw", "contrib/apps/udpecho_raw"];

/// What bindgen binds (`buildtime_bindgen`); everything else in lwIP's
/// headers stays out of Rust's sight.
mod api {
    #![cfg_attr(not(feature = "buildtime_bindgen"), allow(dead_code))]

    /// The lwIP functions the Rust side calls.
    pub const API_FUNCTIONS: &[&str] = &[
        "lwip_init",
        "netif_set_default",
        "sys_check_timeouts",
        "pbuf_alloc",
        "pbuf_free",
        "pbuf_cat",
        "pbuf_realloc",
        "pbuf_take",
        "pbuf_copy_partial",
        "pbuf_alloced_custom",
        "raw_new",
        "raw_recv",
        "raw_sendto",
        "raw_remove",
        "tcp_new_ip_type",
        "tcp_bind",
        "tcp_listen_with_backlog",
        "tcp_accept",
        "tcp_arg",
        "tcp_recv",
        "tcp_sent",
        "tcp_poll",
        "tcp_write",
        "tcp_output",
        "tcp_close",
        "tcp_abort",
        "tcp_recved",
        "tcp_connect",
        "tcp_err",
        "tcp_shutdown",
        "tcp_backlog_delayed",
        "tcp_backlog_accepted",
        "sys_timeouts_sleeptime",
        "udp_new_ip_type",
        "udp_remove",
        "udp_bind",
        "udp_connect",
        "udp_disconnect",
        "udp_sendto",
        "udp_recv",
        "tcpecho_raw_init",
        "udpecho_raw_init",
        "httpd_init",
        "lwiperf_start_tcp_server",
        "dhcp_start",
        "dhcp_release_and_stop",
        "dhcp_supplied_address",
        "dhcp_cleanup",
        "dns_setserver",
        "dns_getserver",
        "dns_gethostbyname_addrtype",
        "sntp_setoperatingmode",
        "sntp_setserver",
        "sntp_init",
        "sntp_stop",
    ];

    /// Our own C API: everything this header of `lwip/` declares is bound
    /// (functions, structs, variables), so adding a declaration there is enough.
    pub const PORT_API_HEADER: &str = "lwip_tap.h";

    /// lwIP variables the Rust side reads.
    pub const API_VARS: &[&str] = &["ip_addr_any_type", "lwip_tap_debug_types"];

    /// Types the Rust side names. The callback typedefs are those the functions
    /// above take; bindgen adds whatever these refer to.
    pub const API_TYPES: &[&str] = &[
        "pbuf",
        "pbuf_custom",
        "ip_addr",
        "ip_addr_t",
        "ip4_addr_t",
        "ip6_addr_t",
        "err_t",
        "tcp_accept_fn",
        "tcp_recv_fn",
        "tcp_sent_fn",
        "tcp_poll_fn",
        "tcp_connected_fn",
        "tcp_err_fn",
        "udp_recv_fn",
        "raw_recv_fn",
        "lwiperf_report_fn",
        "netif_linkoutput_fn",
        "dns_found_callback",
        // Enums: allowlisting one brings all its values as constants
        // (ERR_*, PBUF_RAW/POOL/RAM, IPADDR_TYPE_*, LWIPERF_*, DHCP_STATE_*).
        "err_enum_t",
        "pbuf_layer",
        "pbuf_type",
        "lwip_ip_addr_type",
        "lwiperf_report_type",
        "dhcp_state_enum_t",
    ];

    /// The `#define`d constants the Rust side uses (exact names; enum
    /// values come with their types above). Each is bound through an alias
    /// defined after all headers, see [`FINAL_MACRO_PREFIX`].
    pub const API_CONSTANTS: &[&str] = &[
        "TCP_DEFAULT_LISTEN_BACKLOG",
        "TCP_WRITE_FLAG_COPY",
        "TCP_WRITE_FLAG_MORE",
        "SYS_TIMEOUTS_SLEEPTIME_INFINITE",
        "ETH_HWADDR_LEN",
        "LWIP_TAP_MAX_CLIENTS",
        "IP6_ADDR_INVALID",
        "IP6_ADDR_TENTATIVE",
        "IP6_ADDR_VALID",
        "IP6_ADDR_PREFERRED",
        "IP6_ADDR_DEPRECATED",
        "IP6_ADDR_DUPLICATED",
        "DNS_MAX_SERVERS",
        "DNS_MAX_NAME_LENGTH",
        "DNS_MAX_RETRIES",
        "LWIP_DNS_ADDRTYPE_IPV4",
        "LWIP_DNS_ADDRTYPE_IPV6",
        "SNTP_OPMODE_POLL",
        "SNTP_RECV_TIMEOUT",
    ];

    /// bindgen binds the first definition of a macro, C uses the last, and
    /// an LWIP_TAP_OPTS file redefines (`#undef`, `#define`) our options. So
    /// bindgen reads `#define LWIP_TAP_FINAL_X X` placed after all headers,
    /// which it evaluates with X's last definition, and the binding is
    /// renamed back to X.
    pub const FINAL_MACRO_PREFIX: &str = "LWIP_TAP_FINAL_";

    /// lwIP structs Rust only passes pointers to. Their layout depends on the
    /// lwIP tree and its options, so Rust must not see it: they are bound as
    /// zero-sized opaque types and reached through lwip_tap.h's accessors.
    pub const OPAQUE_TYPES: &[&str] = &["netif", "tcp_pcb", "udp_pcb", "raw_pcb", "dhcp", "stats_"];
}

/// Starts the message of every `#error` in lwip/port_checks.h, so that the
/// build can pick them out of the compiler's output.
const PORT_CHECK_MARK: &str = "lwip-tap-port: ";

/// Everything the steps below share.
struct Config {
    port_dir: PathBuf,
    out_dir: PathBuf,
    lwip: LwipTree,
    /// Absolute path of the `LWIP_TAP_OPTS` file, if any.
    opts_file: Option<PathBuf>,
}

/// An lwIP source tree and where it came from.
struct LwipTree {
    dir: PathBuf,
    /// Where `contrib/` comes from: `dir`, or the pinned package's
    /// directory when `dir` has no contrib apps.
    contrib: PathBuf,
    /// `pinned package lwip 0.4.0` or `LWIP_SRC_DIR`.
    origin: String,
    /// The release its headers declare, e.g. `2.2.1 (development)`.
    version: String,
}

impl LwipTree {
    fn describe(&self) -> String {
        format!(
            "lwIP {} from {} ({}){}",
            self.version,
            self.origin,
            self.dir.display(),
            self.contrib_note()
        )
    }

    /// `; contrib apps from ...` when they do not come from the tree.
    fn contrib_note(&self) -> String {
        if self.contrib == self.dir {
            String::new()
        } else {
            format!(
                "; its echo apps from the pinned package's contrib/ ({}): the tree has none",
                self.contrib.display()
            )
        }
    }
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let config = Config {
        port_dir: manifest_dir.join("lwip"),
        out_dir: PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")),
        lwip: find_lwip_sources(&manifest_dir).unwrap_or_else(|e| fail(&e)),
        opts_file: user_options().unwrap_or_else(|e| fail(&e)),
    };
    export_build_info(&config);

    let build = c_build(&config);
    let preprocessed = check_options(&config, &build);
    let bindings = bindings(&config, &manifest_dir);
    check_bindings(&config, &build, &bindings, &preprocessed);
    check_ip4_glue(&config);
    compile_lwip(&config, build);
}

/// Ends the build script with one error line (and the details after it).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

// ---- where things are ----

/// Where lwIP's sources are: `LWIP_SRC_DIR`, else the carrier package.
fn find_lwip_sources(manifest_dir: &Path) -> Result<LwipTree, String> {
    println!("cargo:rerun-if-env-changed=LWIP_SRC_DIR");
    let carrier = || {
        carrier_dir(manifest_dir).map_err(|e| {
            format!(
                "cannot locate the lwIP sources: {e}. They come from the crates.io package \
                 `{CARRIER} ={CARRIER_VERSION}` (run `cargo fetch` with access to crates.io), \
                 or set LWIP_SRC_DIR to an lwIP 2.1.x or 2.2.x source tree that has src/"
            )
        })
    };
    let (dir, origin) = match env::var_os("LWIP_SRC_DIR") {
        Some(dir) => (PathBuf::from(dir), "LWIP_SRC_DIR".to_string()),
        None => (
            carrier()?,
            format!("pinned package {CARRIER} {CARRIER_VERSION}"),
        ),
    };
    let version = check_lwip_tree(&dir).map_err(|e| {
        format!(
            "{origin} {}: {e}; it must be an lwIP 2.1.x or 2.2.x tree that has src/",
            dir.display()
        )
    })?;
    let has_contrib = |root: &Path| CONTRIB_SOURCES.iter().all(|f| root.join(f).is_file());
    let contrib = if has_contrib(&dir) {
        dir.clone()
    } else {
        let carrier = carrier()?;
        if !has_contrib(&carrier) {
            return Err(format!(
                "neither {} nor the pinned package ({}) has {}",
                dir.display(),
                carrier.display(),
                CONTRIB_SOURCES[0]
            ));
        }
        carrier
    };
    Ok(LwipTree {
        dir,
        contrib,
        origin,
        version,
    })
}

/// Checks that the tree has every file we compile; returns its version.
fn check_lwip_tree(dir: &Path) -> Result<String, String> {
    for file in LWIP_SOURCES.iter().chain(GLUED_SOURCES) {
        if !dir.join(file).is_file() {
            return Err(format!("{file} is missing"));
        }
    }
    lwip_version(&dir.join("src/include/lwip/init.h"))
}

/// The release an lwIP tree declares in `lwip/init.h`: `2.2.1 (release)`,
/// `2.2.1 (rc1)` or `2.2.1 (development)` (a Git snapshot).
fn lwip_version(init_h: &Path) -> Result<String, String> {
    let text =
        fs::read_to_string(init_h).map_err(|e| format!("cannot read {}: {e}", init_h.display()))?;
    let define = |name: &str| {
        text.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("#define") && words.next() == Some(name))
                .then(|| words.next().map(str::to_string))
                .flatten()
        })
    };
    let number = |name: &str| {
        define(name).ok_or_else(|| format!("{} does not define {name}", init_h.display()))
    };
    let rc = match number("LWIP_VERSION_RC")?.as_str() {
        "LWIP_RC_RELEASE" | "255" => "release".to_string(),
        "LWIP_RC_DEVELOPMENT" | "0" => "development".to_string(),
        n => format!("rc{n}"),
    };
    Ok(format!(
        "{}.{}.{} ({rc})",
        number("LWIP_VERSION_MAJOR")?,
        number("LWIP_VERSION_MINOR")?,
        number("LWIP_VERSION_REVISION")?
    ))
}

/// The directory of the carrier package, from `cargo metadata`.
fn carrier_dir(manifest_dir: &Path) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("metadata")
        .arg("--format-version=1")
        .arg("--manifest-path")
        .arg(manifest_dir.join("Cargo.toml"));
    if env::var_os("CARGO_NET_OFFLINE").is_some_and(|v| v == "true") {
        command.arg("--offline");
    }
    let output = command
        .output()
        .map_err(|e| format!("running `cargo metadata` failed: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("`cargo metadata` failed: {}", stderr.trim()));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    manifest_path_of(&json, CARRIER, CARRIER_VERSION)
        .and_then(|manifest| Path::new(&manifest).parent().map(Path::to_path_buf))
        .ok_or_else(|| format!("`cargo metadata` lists no package {CARRIER} {CARRIER_VERSION}"))
}

/// Finds `"manifest_path"` of the package `name`/`version` in `cargo
/// metadata` output. Package objects start with `"name":…,"version":…` and
/// carry their manifest path later in the same object; dependency entries
/// never have a `"version"` key right after `"name"`, so they do not match.
fn manifest_path_of(json: &str, name: &str, version: &str) -> Option<String> {
    let start = json.find(&format!("{{\"name\":\"{name}\",\"version\":\"{version}\","))?;
    let key = "\"manifest_path\":\"";
    let rest = &json[start..];
    let value = &rest[rest.find(key)? + key.len()..];
    let end = value.find('"')?;
    Some(value[..end].replace("\\\\", "\\"))
}

/// The user's options file, `LWIP_TAP_OPTS`, as an absolute path.
///
/// A relative path is taken from the directory cargo was started in. Cargo
/// runs build scripts in the package root but passes the environment on
/// untouched, so that directory is `PWD` as the shell set it; without a
/// usable `PWD` the package root is used. Errors show the resolved path.
fn user_options() -> Result<Option<PathBuf>, String> {
    println!("cargo:rerun-if-env-changed=LWIP_TAP_OPTS");
    let Some(value) = env::var_os("LWIP_TAP_OPTS").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let mut path = PathBuf::from(&value);
    if path.is_relative() {
        println!("cargo:rerun-if-env-changed=PWD");
        let base = env::var_os("PWD")
            .map(PathBuf::from)
            .filter(|pwd| pwd.is_absolute())
            .or_else(|| env::current_dir().ok())
            .unwrap_or_default();
        path = base.join(path);
    }
    if !path.is_file() {
        return Err(format!(
            "LWIP_TAP_OPTS={}: no such file ({})",
            value.to_string_lossy(),
            path.display()
        ));
    }
    let text = path.to_string_lossy();
    if text.contains(['"', '\n', '\\']) {
        return Err(format!(
            "LWIP_TAP_OPTS={text}: the path cannot be #included (it has a quote, backslash or newline)"
        ));
    }
    println!("cargo:rerun-if-changed={}", path.display());
    Ok(Some(path))
}

/// What `lwip-tap --version` shows about the build (the lwIP version and
/// option values come from C: lwip/build_info.c).
fn export_build_info(config: &Config) {
    let lwip = &config.lwip;
    // The apps compiled in, and those this tree lacks (with why).
    let mut apps = CORE_APPS.to_vec();
    let mut left_out = Vec::new();
    for app in OPTIONAL_APPS {
        match app.missing(&lwip.dir)[..] {
            [] => apps.push(app.name),
            ref missing => left_out.push(format!(
                "{} (the tree has no {})",
                app.name,
                missing.join(", ")
            )),
        }
    }
    for app in VERSIONED_APPS {
        match app.value(&lwip.dir) {
            Some(_) => apps.push(app.name),
            None => {
                let files: Vec<&str> = app.candidates.iter().map(|(file, _)| *file).collect();
                left_out.push(format!(
                    "{} (the tree has no {})",
                    app.name,
                    files.join(" or ")
                ));
            }
        }
    }
    println!("cargo:rustc-env=LWIP_TAP_APPS={}", apps.join(" "));
    println!("cargo:rustc-env=LWIP_TAP_LWIP_DIR={}", lwip.dir.display());
    // Where the sources came from without the builder's paths: a binary
    // handed on should not tell where its maker's home directory is.
    let tree = match lwip.dir.file_name() {
        Some(name) if lwip.origin == "LWIP_SRC_DIR" => format!(" ({})", name.to_string_lossy()),
        _ => String::new(),
    };
    let contrib = if lwip.contrib == lwip.dir {
        ""
    } else {
        "; its echo apps from the pinned package's contrib/: the tree has none"
    };
    println!(
        "cargo:rustc-env=LWIP_TAP_LWIP_SOURCE={}{tree}{contrib}",
        lwip.origin
    );
    println!(
        "cargo:rustc-env=LWIP_TAP_APPS_LEFT_OUT={}",
        left_out.join("; ")
    );
    let opts = config.opts_file.as_deref().and_then(Path::file_name);
    println!(
        "cargo:rustc-env=LWIP_TAP_OPTS_FILE={}",
        opts.map(|name| name.to_string_lossy()).unwrap_or_default()
    );
}

// ---- the C configuration shared by lwIP, the checks and bindgen ----

fn include_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs = vec![config.port_dir.clone()];
    dirs.extend(LWIP_INCLUDES.iter().map(|dir| config.lwip.dir.join(dir)));
    dirs.extend(
        CONTRIB_INCLUDES
            .iter()
            .map(|dir| config.lwip.contrib.join(dir)),
    );
    dirs
}

fn defines(config: &Config) -> Vec<(&'static str, String)> {
    let mut defines = Vec::new();
    if env::var_os("CARGO_FEATURE_DEBUG").is_some() {
        defines.push(("LWIP_TAP_DEBUG", "1".to_string()));
    }
    // lwIP as shipped: the glue files leave out their fixes.
    if env::var_os("CARGO_FEATURE_STOCK_LWIP").is_some() {
        defines.push(("LWIP_TAP_STOCK_LWIP", "1".to_string()));
    }
    if let Some(file) = &config.opts_file {
        defines.push(("LWIP_TAP_OPTS_FILE", format!("\"{}\"", file.display())));
    }
    for app in OPTIONAL_APPS {
        let on = app.in_tree(&config.lwip.dir);
        defines.push((app.define, u8::from(on).to_string()));
    }
    for app in VERSIONED_APPS {
        let value = app.value(&config.lwip.dir).unwrap_or("0");
        defines.push((app.define, value.to_string()));
    }
    defines
}

/// A `cc::Build` set up to compile lwIP; the checks use its compiler
/// command, so they see exactly what lwIP's compilation sees.
fn c_build(config: &Config) -> cc::Build {
    let mut build = cc::Build::new();
    for dir in include_dirs(config) {
        build.include(dir);
    }
    for (name, value) in defines(config) {
        build.define(name, value.as_str());
    }
    // lwIP casts between unsigned widths and leaves parameters unused on
    // purpose in many places; -Wextra's sign/unused checks only add noise.
    build
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .flag_if_supported("-Wno-missing-field-initializers")
        // clang (used for fuzzing builds) flags LWIP_MIN(TCP_WND / 2, mss).
        .flag_if_supported("-Wno-tautological-constant-out-of-range-compare");
    build
}

/// Runs the compiler `build` would use, with `args` added; returns whether
/// it succeeded and its stderr, which is also kept in `log`.
fn run_compiler(build: &cc::Build, args: &[&std::ffi::OsStr], log: &Path) -> (bool, String) {
    let compiler = build.get_compiler();
    let mut command = compiler.to_command();
    if compiler.is_like_clang() {
        // Every failed check, not clang's first 20 errors.
        command.arg("-ferror-limit=0");
    }
    command.args(args);
    let output = command
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run the C compiler ({command:?}): {e}")));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    let _ = fs::write(log, format!("{text}\n\n{stderr}"));
    (output.status.success(), stderr)
}

/// The message of the first of our `#error`s in the compiler's `stderr`.
fn port_check_error(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|line| {
        let text = &line[line.find(PORT_CHECK_MARK)? + PORT_CHECK_MARK.len()..];
        Some(text.split('"').next().unwrap_or(text).trim().to_string())
    })
}

fn first_error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|line| line.contains("error:"))
        .unwrap_or("(no error line)")
        .trim()
}

// ---- check 1: the options ----

/// Preprocesses `lwip/port_checks.h` and `lwip/bindings.h`: refuses options
/// lwip-tap cannot run with, watches every header this uses, and returns
/// the preprocessed text (for naming types in the bindings check).
fn check_options(config: &Config, build: &cc::Build) -> String {
    println!("cargo:rerun-if-changed={}", config.port_dir.display());
    let source = config.out_dir.join("lwip_tap_options.c");
    let output = config.out_dir.join("lwip_tap_options.i");
    let depfile = config.out_dir.join("lwip_tap_options.d");
    let log = config.out_dir.join("lwip_tap_options.log");
    write(
        &source,
        "/* Generated by build.rs. */\n#include \"port_checks.h\"\n#include \"bindings.h\"\n",
    );
    let (ok, stderr) = run_compiler(
        build,
        &[
            "-E".as_ref(),
            "-MMD".as_ref(),
            "-MF".as_ref(),
            depfile.as_os_str(),
            "-o".as_ref(),
            output.as_os_str(),
            source.as_os_str(),
        ],
        &log,
    );
    if !ok {
        let options = match &config.opts_file {
            Some(file) => format!("LWIP_TAP_OPTS={}", file.display()),
            None => "lwip/lwipopts.h".to_string(),
        };
        if let Some(message) = port_check_error(&stderr) {
            fail(&format!("{options}: {message}"));
        }
        fail(&format!(
            "{options}: the lwIP headers do not compile with these options: {}\n  \
             {}\n  compiler output: {}",
            first_error_line(&stderr),
            config.lwip.describe(),
            log.display()
        ));
    }
    watch_dependencies(config, &[depfile]);
    fs::read_to_string(&output)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", output.display())))
}

/// `cargo:rerun-if-changed` for every file the compiler's dependency files
/// (`-MMD`: no system headers) list, except our generated ones.
fn watch_dependencies(config: &Config, depfiles: &[PathBuf]) {
    let mut paths = std::collections::BTreeSet::new();
    for depfile in depfiles {
        if let Ok(text) = fs::read_to_string(depfile) {
            paths.extend(parse_depfile(&text));
        }
    }
    for path in paths {
        if !path.starts_with(&config.out_dir) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// The prerequisites in a make-style dependency file.
fn parse_depfile(text: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for rule in text.replace("\\\r\n", " ").replace("\\\n", " ").lines() {
        // The target ends at the first ": " (a path may hold a ':').
        let Some(colon) = rule.find(": ") else {
            continue;
        };
        let mut word = String::new();
        let mut chars = rule[colon + 2..].chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek().is_some_and(|n| *n == ' ' || *n == '#') => {
                    word.push(chars.next().unwrap());
                }
                '$' if chars.peek() == Some(&'$') => {
                    word.push(chars.next().unwrap());
                }
                c if c.is_whitespace() => {
                    if !word.is_empty() {
                        paths.push(PathBuf::from(std::mem::take(&mut word)));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            paths.push(PathBuf::from(word));
        }
    }
    paths
}

// ---- the bindings ----

/// The committed bindings, or (`buildtime_bindgen`) fresh ones in OUT_DIR.
#[cfg(not(feature = "buildtime_bindgen"))]
fn bindings(_config: &Config, manifest_dir: &Path) -> Bindings {
    let path = manifest_dir.join("src/sys/bindings.rs");
    println!("cargo:rerun-if-changed={}", path.display());
    Bindings {
        path,
        name: "the committed bindings (src/sys/bindings.rs)",
    }
}

#[cfg(feature = "buildtime_bindgen")]
fn bindings(config: &Config, _manifest_dir: &Path) -> Bindings {
    use api::*;
    println!("cargo:rerun-if-changed={}", config.port_dir.display());
    let header = config.out_dir.join("lwip_tap_bindgen.h");
    let mut text = "/* Generated by build.rs: the input to bindgen. */\n\
                    #include \"bindings.h\"\n"
        .to_string();
    for name in API_CONSTANTS {
        text += &format!("#define {FINAL_MACRO_PREFIX}{name} {name}\n");
    }
    write(&header, &text);
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .parse_callbacks(Box::new(FinalMacroNames));
    for dir in include_dirs(config) {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    for (name, value) in defines(config) {
        builder = builder.clang_arg(format!("-D{name}={value}"));
    }
    for function in API_FUNCTIONS {
        builder = builder.allowlist_function(function);
    }
    for ty in API_TYPES {
        builder = builder.allowlist_type(ty);
    }
    for var in API_VARS {
        builder = builder.allowlist_var(var);
    }
    for name in API_CONSTANTS {
        builder = builder.allowlist_var(format!("{FINAL_MACRO_PREFIX}{name}"));
    }
    builder = builder.allowlist_file(format!(".*/{}", PORT_API_HEADER.replace('.', "\\.")));
    for ty in OPAQUE_TYPES {
        // Opaque as well as blocklisted, or bindgen would still bind the
        // types their fields use.
        builder = builder.blocklist_type(ty).opaque_type(ty).raw_line(format!(
            "/// lwIP's `struct {ty}`: opaque, only ever behind a pointer.\n\
             #[repr(C)]\n\
             pub struct {ty} {{\n    \
             _private: [u8; 0],\n    \
             _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,\n\
             }}"
        ));
    }
    let generated = builder
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on the lwIP headers: {e}")));
    let path = config.out_dir.join("bindings.rs");
    generated
        .write_to_file(&path)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", path.display())));
    Bindings {
        path,
        name: "the bindings bindgen generated (buildtime_bindgen)",
    }
}

/// Names `LWIP_TAP_FINAL_X` back to `X` (see [`api::FINAL_MACRO_PREFIX`]).
#[cfg(feature = "buildtime_bindgen")]
#[derive(Debug)]
struct FinalMacroNames;

#[cfg(feature = "buildtime_bindgen")]
impl bindgen::callbacks::ParseCallbacks for FinalMacroNames {
    fn item_name(&self, name: &str) -> Option<String> {
        name.strip_prefix(api::FINAL_MACRO_PREFIX)
            .map(str::to_string)
    }
}

/// The bindings file the Rust side is built with.
struct Bindings {
    path: PathBuf,
    name: &'static str,
}

// ---- check 2: the bindings against the C ----

/// Compiles static assertions generated from the bindings in use against
/// lwIP's headers; on a difference, stops the build and says what differs
/// first, in which tree, and how to fix it.
fn check_bindings(config: &Config, build: &cc::Build, bindings: &Bindings, preprocessed: &str) {
    let rust = fs::read_to_string(&bindings.path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", bindings.path.display())));
    let items = bindings_check::parse(&rust).unwrap_or_else(|e| {
        fail(&format!(
            "cannot read {} ({}): {e}",
            bindings.name,
            bindings.path.display()
        ))
    });
    let checks = bindings_check::checks(&items, &bindings_check::CNames::new(preprocessed));
    let prelude = "#include <stddef.h>\n#include <stdint.h>\n#include \"bindings.h\"\n";
    let source = config.out_dir.join("lwip_tap_bindings_check.c");
    let log = config.out_dir.join("lwip_tap_bindings_check.log");
    write(&source, &bindings_check::source(&checks, prelude));
    let (ok, stderr) = run_compiler(build, &["-fsyntax-only".as_ref(), source.as_os_str()], &log);
    if ok {
        return;
    }
    let details = format!(
        "  lwIP tree: {}\n  options: lwip/lwipopts.h{}\n  check: {} (compiler output: {})",
        config.lwip.describe(),
        config
            .opts_file
            .as_deref()
            .map(|f| format!(" and LWIP_TAP_OPTS={}", f.display()))
            .unwrap_or_default(),
        source.display(),
        log.display()
    );
    let fix = if cfg!(feature = "buildtime_bindgen") {
        "bindgen (libclang) and the C compiler read these headers differently; \
         compare their targets and flags"
    } else {
        "rebuild with `--features buildtime_bindgen` (needs libclang, e.g. \
         `apt-get install libclang-dev`) to generate the bindings from this tree and these options"
    };
    let Some((index, count)) = bindings_check::failures(&stderr) else {
        // Typically a name the bindings have and C has not.
        fail(&format!(
            "{} do not match lwIP {} from {}: {}\n  fix: {fix}\n{details}",
            bindings.name,
            config.lwip.version,
            config.lwip.origin,
            first_error_line(&stderr)
        ));
    };
    let check = &checks.checks[index];
    // What C says instead, for a number: read back bit by bit.
    let in_c = match &check.value {
        Some(expr) => {
            let probe = config.out_dir.join("lwip_tap_value_probe.c");
            write(&probe, &bindings_check::value_probe_source(expr, prelude));
            let probe_log = config.out_dir.join("lwip_tap_value_probe.log");
            let args = ["-fsyntax-only".as_ref(), probe.as_os_str()];
            let (_, stderr) = run_compiler(build, &args, &probe_log);
            format!(
                "{} in C",
                bindings_check::probed_value(&stderr, check.negative)
            )
        }
        None => "different in C".to_string(),
    };
    let more = match count {
        1 => String::new(),
        2 => " (and 1 more difference)".to_string(),
        n => format!(" (and {} more differences)", n - 1),
    };
    fail(&format!(
        "{} do not match lwIP {} from {}: {}, {in_c}{more}\n  fix: {fix}\n{details}",
        bindings.name, config.lwip.version, config.lwip.origin, check.claim,
    ));
}

fn write(path: &Path, text: &str) {
    fs::write(path, text)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", path.display())));
}

// ---- compiling lwIP ----

/// Keeps GLUED_SOURCES true to the glue files: an lwIP file one of ours
/// `#include`s must not also be compiled on its own (duplicate symbols at
/// link time), and a glued file nothing includes would not be compiled.
fn check_glue(config: &Config, port_files: &[PathBuf]) {
    let mut glued = Vec::new();
    for file in port_files {
        let text = fs::read_to_string(file).unwrap_or_default();
        for line in text.lines() {
            let Some(name) = line
                .trim()
                .strip_prefix("#include")
                .map(|rest| rest.trim().trim_matches('"'))
                .filter(|name| name.ends_with(".c"))
            else {
                continue;
            };
            // Resolved like the compiler does, through the include path.
            if let Some(path) = include_dirs(config)
                .iter()
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
            {
                glued.push((path, file));
            }
        }
    }
    let name = |path: &Path| {
        path.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    for source in LWIP_SOURCES {
        if let Some((_, glue)) = glued
            .iter()
            .find(|(p, _)| *p == config.lwip.dir.join(source))
        {
            fail(&format!(
                "lwip/{} #includes {source}, which LWIP_SOURCES also compiles on its own: \
                 move it to GLUED_SOURCES in build.rs",
                name(glue)
            ));
        }
    }
    let optional = OPTIONAL_APPS
        .iter()
        .filter(|app| app.in_tree(&config.lwip.dir))
        .flat_map(|app| app.glued);
    for source in GLUED_SOURCES.iter().chain(optional) {
        if !glued
            .iter()
            .any(|(p, _)| *p == config.lwip.dir.join(source))
        {
            fail(&format!(
                "{source} is in GLUED_SOURCES, but no lwip/*.c #includes it, so it would not be \
                 compiled: move it back to LWIP_SOURCES in build.rs"
            ));
        }
    }
}

/// The switches lwip/ip4_glue.c turns off for ip4.c (each also in its
/// per-netif form, `NETIF_` + name).
const IP4_GLUE_SWITCHES: &[&str] = &["CHECKSUM_GEN_UDP", "CHECKSUM_GEN_TCP", "CHECKSUM_GEN_ICMP"];

/// lwip/ip4_glue.c turns the transport checksum switches off for all of
/// ip4.c, which is right only while ip4.c uses them for nothing but
/// ip4_forward's clearing of forwarded packets' checksums. Refuses a tree
/// whose ip4.c uses them anywhere else.
fn check_ip4_glue(config: &Config) {
    if env::var_os("CARGO_FEATURE_STOCK_LWIP").is_some() {
        return;
    }
    let path = config.lwip.dir.join("src/core/ipv4/ip4.c");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let forward = text
        .find("\nip4_forward(")
        .and_then(|start| Some(start..start + text[start..].find("\n}")?))
        .unwrap_or_else(|| fail(&format!("{}: no ip4_forward() found", path.display())));
    for name in IP4_GLUE_SWITCHES {
        for (at, _) in text.match_indices(name) {
            let next = text[at + name.len()..].chars().next().unwrap_or(' ');
            if (next.is_ascii_alphanumeric() || next == '_') || forward.contains(&at) {
                continue;
            }
            let line = text[..at].matches('\n').count() + 1;
            fail(&format!(
                "{}:{line} uses {name} outside ip4_forward(); lwip/ip4_glue.c turns it off for \
                 all of ip4.c, which would change more than ip4_forward's clearing of checksums \
                 (build with --features stock_lwip, or adapt lwip/ip4_glue.c to this tree)",
                path.display()
            ));
        }
    }
}

/// Compiles the lwIP sources and every `lwip/*.c` of our port.
fn compile_lwip(config: &Config, mut build: cc::Build) {
    for file in LWIP_SOURCES {
        build.file(config.lwip.dir.join(file));
    }
    for file in CONTRIB_SOURCES {
        build.file(config.lwip.contrib.join(file));
    }
    for app in OPTIONAL_APPS
        .iter()
        .filter(|app| app.in_tree(&config.lwip.dir))
    {
        for file in app.sources {
            build.file(config.lwip.dir.join(file));
        }
    }
    let mut port_files: Vec<PathBuf> = fs::read_dir(&config.port_dir)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", config.port_dir.display())))
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "c"))
        .collect();
    port_files.sort();
    check_glue(config, &port_files);
    build.files(port_files);
    // Dependency files next to the objects: every file lwIP's compilation
    // reads is watched below. Those of an earlier build (another tree, say)
    // go first.
    let depfiles = || {
        fs::read_dir(&config.out_dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "d"))
            .collect::<Vec<_>>()
    };
    for stale in depfiles() {
        let _ = fs::remove_file(stale);
    }
    build.flag("-MMD");
    build.compile("lwip");

    println!("cargo:rerun-if-changed={}", config.port_dir.display());
    watch_dependencies(config, &depfiles());
}
