//! Builds lwIP 2.2.1 from its C sources with our port headers in `lwip/`.
//!
//! The sources come from `LWIP_SRC_DIR` when it is set, otherwise from the
//! registry package `lwip =0.4.0` (declared under a never-true `cfg`, so it
//! is downloaded but never compiled), found through `cargo metadata`.
//! Bindings are committed in `src/sys/bindings.rs`; the `buildtime_bindgen`
//! feature regenerates them into `OUT_DIR` instead.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    "src/core/tcp_in.c",
    "src/core/tcp_out.c",
    "src/core/timeouts.c",
    "src/core/udp.c",
    "src/core/ipv4/dhcp.c",
    "src/core/ipv4/etharp.c",
    "src/core/ipv4/icmp.c",
    "src/core/ipv4/ip4.c",
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
    "src/apps/http/fs.c",
    "contrib/apps/tcpecho_raw/tcpecho_raw.c",
    "contrib/apps/udpecho_raw/udpecho_raw.c",
];

/// lwIP C files compiled by being included from one of our `lwip/` files.
const GLUED_SOURCES: &[&str] = &["src/apps/lwiperf/lwiperf.c"];

/// Include directories inside the lwIP tree.
const LWIP_INCLUDES: &[&str] = &[
    "src/include",
    "contrib/apps/tcpecho_raw",
    "contrib/apps/udpecho_raw",
    "src/apps/lwiperf",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let port_dir = manifest_dir.join("lwip");
    let lwip_dir = match find_lwip_sources(&manifest_dir) {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    };
    println!("cargo:rustc-env=LWIP_TAP_LWIP_DIR={}", lwip_dir.display());

    compile_lwip(&lwip_dir, &port_dir);
    bindings(&lwip_dir, &port_dir);
}

/// Where lwIP's sources are: `LWIP_SRC_DIR`, else the carrier package.
fn find_lwip_sources(manifest_dir: &Path) -> Result<PathBuf, String> {
    println!("cargo:rerun-if-env-changed=LWIP_SRC_DIR");
    if let Some(dir) = env::var_os("LWIP_SRC_DIR") {
        let dir = PathBuf::from(dir);
        return match check_lwip_tree(&dir) {
            Ok(()) => Ok(dir),
            Err(e) => Err(format!(
                "LWIP_SRC_DIR={}: {e}; point it at an lwIP 2.2.x tree that has src/ and contrib/",
                dir.display()
            )),
        };
    }
    let dir = carrier_dir(manifest_dir).map_err(|e| {
        format!(
            "cannot locate the lwIP sources: {e}. They come from the crates.io package \
             `{CARRIER} ={CARRIER_VERSION}` (run `cargo fetch` with access to crates.io), or set \
             LWIP_SRC_DIR to an lwIP 2.2.x source tree that has src/ and contrib/"
        )
    })?;
    check_lwip_tree(&dir)
        .map(|()| dir.clone())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

fn check_lwip_tree(dir: &Path) -> Result<(), String> {
    for file in LWIP_SOURCES.iter().chain(GLUED_SOURCES) {
        if !dir.join(file).is_file() {
            return Err(format!("{file} is missing"));
        }
    }
    Ok(())
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

fn compile_lwip(lwip_dir: &Path, port_dir: &Path) {
    for file in ["lwipopts.h", "arch/cc.h", "shim.c", "lwiperf_glue.c"] {
        println!("cargo:rerun-if-changed={}", port_dir.join(file).display());
    }
    let mut build = cc::Build::new();
    build.include(port_dir);
    for include in LWIP_INCLUDES {
        build.include(lwip_dir.join(include));
    }
    for file in LWIP_SOURCES {
        build.file(lwip_dir.join(file));
    }
    build.file(port_dir.join("shim.c"));
    build.file(port_dir.join("lwiperf_glue.c"));
    if env::var_os("CARGO_FEATURE_DEBUG").is_some() {
        build.define("LWIP_TAP_DEBUG", None);
    }
    // lwIP casts between unsigned widths and leaves parameters unused on
    // purpose in many places; -Wextra's sign/unused checks only add noise.
    build
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .flag_if_supported("-Wno-missing-field-initializers")
        // clang (used for fuzzing builds) flags LWIP_MIN(TCP_WND / 2, mss).
        .flag_if_supported("-Wno-tautological-constant-out-of-range-compare");
    build.compile("lwip");
}

#[cfg(not(feature = "buildtime_bindgen"))]
fn bindings(_lwip_dir: &Path, _port_dir: &Path) {}

#[cfg(feature = "buildtime_bindgen")]
fn bindings(lwip_dir: &Path, port_dir: &Path) {
    let header = port_dir.join("bindings.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg(format!("-I{}", port_dir.display()));
    for include in LWIP_INCLUDES {
        builder = builder.clang_arg(format!("-I{}", lwip_dir.join(include).display()));
    }
    let names = "(lwip|netif|pbuf|tcp|udp|dhcp|etharp|ethernet|ethip6|sys|ip|ip4|ip6|ipaddr|\
                 ip4addr|httpd|lwiperf|tcpecho_raw|udpecho_raw|stats|mem|memp|err)_.*";
    let bindings = builder
        .allowlist_function(names)
        .allowlist_type(names)
        .allowlist_var(names)
        .allowlist_var("(ERR|NETIF_FLAG|NETIF_CHECKSUM|TCP|PBUF|ETH|IPADDR_TYPE|IP_ADDR|LWIP|SYS|DHCP_STATE)_.*")
        .allowlist_type("dhcp|err_enum_t|lwip_ip_addr_type|pbuf_layer|pbuf_type|tcp_state")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .generate()
        .expect("bindgen failed to generate the lwIP bindings");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .expect("cannot write the generated bindings");
}
