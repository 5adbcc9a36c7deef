//! What build.rs checks before it compiles lwIP: the bindings in use
//! against the C headers (a changed lwIP struct is refused until the
//! bindings are regenerated), the user's options file (`LWIP_TAP_OPTS`),
//! and the options lwip-tap cannot run with.
//!
//! Each test runs `cargo build` on this package, in one target directory
//! they share (one at a time: a test runs the binary its build produced),
//! so they are slow; they need no network.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use common::TempDir;

/// Serializes the tests: they build into, and run from, one target dir.
fn build_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn target_dir() -> PathBuf {
    common::builds_dir()
}

/// `cargo build --bin lwip-tap` with `features` and `env` (and none of the
/// build's own variables inherited from the caller).
fn cargo_build(features: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--bin", "lwip-tap"])
        .arg("--target-dir")
        .arg(target_dir())
        .env_remove("LWIP_SRC_DIR")
        .env_remove("LWIP_TAP_OPTS")
        .envs(env.iter().copied());
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    command.output().expect("run cargo build")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `lwip-tap --version` of the last build; its stdout.
fn version_output() -> String {
    let binary = target_dir().join("debug/lwip-tap");
    let output = common::successful_output(Command::new(binary).arg("--version"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the build script printed when it failed (cargo shows it indented
/// under `--- stderr`), without the indentation and without cargo's own
/// note about other jobs that may follow it.
fn build_error(output: &Output) -> String {
    assert!(!output.status.success(), "the build succeeded");
    let text = stderr(output);
    let (_, script) = text
        .split_once("--- stderr")
        .unwrap_or_else(|| panic!("no stderr of the build script in:\n{text}"));
    let lines: Vec<&str> = script
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("warning: build failed"))
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

/// A copy (src/ and contrib/) of the lwIP tree this package was built
/// with: the pinned one, or the LWIP_SRC_DIR it was given; to change.
fn copy_of_the_lwip_tree() -> TempDir {
    let tree = TempDir::new("lwip-tree");
    let pinned = Path::new(env!("LWIP_TAP_LWIP_DIR"));
    for dir in ["src", "contrib"] {
        copy_dir(&pinned.join(dir), &tree.path().join(dir));
    }
    tree
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// `MAJOR.MINOR.REVISION` from an lwIP tree's `lwip/init.h`.
fn lwip_version(tree: &Path) -> String {
    let init_h = fs::read_to_string(tree.join("src/include/lwip/init.h")).expect("lwip/init.h");
    let number = |name: &str| {
        init_h
            .lines()
            .find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("#define") && words.next() == Some(name))
                    .then(|| words.next().map(str::to_string))
                    .flatten()
            })
            .unwrap_or_else(|| panic!("{name} in lwip/init.h"))
    };
    format!(
        "{}.{}.{}",
        number("LWIP_VERSION_MAJOR"),
        number("LWIP_VERSION_MINOR"),
        number("LWIP_VERSION_REVISION")
    )
}

#[test]
fn a_changed_lwip_struct_is_refused_until_the_bindings_are_regenerated() {
    // The lwIP tree with one field added to struct pbuf.
    let tree = copy_of_the_lwip_tree();
    let pbuf_h = tree.path().join("src/include/lwip/pbuf.h");
    let header = fs::read_to_string(&pbuf_h).expect("pbuf.h");
    // After the line of the last field (the file may have CRLF lines).
    let field = header
        .find("u8_t if_idx;")
        .expect("struct pbuf's if_idx field");
    let end = field + header[field..].find('\n').expect("a line end") + 1;
    let changed = format!(
        "{}  u32_t lwip_tap_test_field;\n{}",
        &header[..end],
        &header[end..]
    );
    fs::write(&pbuf_h, changed).expect("write pbuf.h");
    let version = lwip_version(tree.path());
    let env = [("LWIP_SRC_DIR", tree.path().as_os_str())];

    let _lock = build_lock();
    let error = build_error(&cargo_build(&[], &env));
    for expected in [
        "struct pbuf: size",
        version.as_str(),
        "LWIP_SRC_DIR",
        "--features buildtime_bindgen",
    ] {
        assert!(error.contains(expected), "no `{expected}` in: {error}");
    }

    if !common::libclang_or_skip() {
        return;
    }
    // With an options file that redefines a constant Rust uses, too: the
    // fresh bindings must carry the redefined value (bindgen on its own keeps
    // a macro's first definition), or the check refuses them.
    let opts = tree.path().join("backlog.h");
    fs::write(
        &opts,
        "#undef TCP_DEFAULT_LISTEN_BACKLOG\n#define TCP_DEFAULT_LISTEN_BACKLOG 8\n",
    )
    .expect("write options");
    let env = [env[0], ("LWIP_TAP_OPTS", opts.as_os_str())];
    let output = cargo_build(&["buildtime_bindgen"], &env);
    assert!(
        output.status.success(),
        "the changed tree does not build with buildtime_bindgen:\n{}",
        stderr(&output)
    );
    let version = version_output();
    let tree_name = tree.path().file_name().unwrap().to_string_lossy();
    assert!(
        version.contains(&format!("LWIP_SRC_DIR ({tree_name})")),
        "{version}"
    );
    // The tree by its name, not by the builder's path to it.
    assert!(
        !version.contains(&*tree.path().to_string_lossy()),
        "{version}"
    );
}

#[test]
fn user_options_are_built_in_and_shown_by_version() {
    let dir = TempDir::new("lwip-opts");
    let opts = dir.path().join("small.h");
    fs::write(
        &opts,
        "#undef TCP_WND\n#define TCP_WND (64 * 1024)\n\
         #undef MEMP_NUM_TCP_PCB\n#define MEMP_NUM_TCP_PCB 7\n",
    )
    .expect("write options");

    let _lock = build_lock();
    let output = cargo_build(&[], &[("LWIP_TAP_OPTS", opts.as_os_str())]);
    assert!(
        output.status.success(),
        "LWIP_TAP_OPTS={} does not build:\n{}",
        opts.display(),
        stderr(&output)
    );
    let version = version_output();
    for expected in [
        "TCP_WND=65536",
        "MEMP_NUM_TCP_PCB=7",
        "then LWIP_TAP_OPTS=small.h\n",
    ] {
        assert!(version.contains(expected), "no `{expected}` in:\n{version}");
    }
    assert!(
        !version.contains(&*dir.path().to_string_lossy()),
        "{version}"
    );
}

#[test]
fn options_lwip_tap_cannot_run_with_are_refused_with_one_line() {
    let dir = TempDir::new("lwip-opts");
    let opts = dir.path().join("threads.h");
    fs::write(&opts, "#undef NO_SYS\n#define NO_SYS 0\n").expect("write options");

    let _lock = build_lock();
    let output = cargo_build(&[], &[("LWIP_TAP_OPTS", opts.as_os_str())]);
    let error = build_error(&output);
    assert_eq!(
        error,
        format!(
            "error: LWIP_TAP_OPTS={}: NO_SYS must be 1: lwip-tap runs lwIP without an OS layer, \
             in one thread, through the raw API",
            opts.display()
        )
    );
}

#[test]
fn a_tree_whose_ip4_c_uses_the_transport_checksum_switches_elsewhere_is_refused() {
    // lwip/ip4_glue.c turns CHECKSUM_GEN_UDP/TCP/ICMP off for all of ip4.c,
    // which is right only while ip4_forward is their only user there.
    let tree = copy_of_the_lwip_tree();
    let ip4_c = tree.path().join("src/core/ipv4/ip4.c");
    let mut source = fs::read_to_string(&ip4_c).expect("ip4.c");
    source.push_str("\n#if CHECKSUM_GEN_TCP\n#endif\n");
    fs::write(&ip4_c, source).expect("write ip4.c");
    let env = [("LWIP_SRC_DIR", tree.path().as_os_str())];

    let _lock = build_lock();
    let error = build_error(&cargo_build(&[], &env));
    for expected in [
        "ip4.c:",
        "uses CHECKSUM_GEN_TCP outside ip4_forward()",
        "lwip/ip4_glue.c",
    ] {
        assert!(error.contains(expected), "no `{expected}` in: {error}");
    }
}
