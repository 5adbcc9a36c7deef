//! What a script can run against besides the lwIP compiled in: another lwIP
//! (Debian's 2.1.3, or any tree), optionally with another options file, and
//! the Linux kernel. A target other than the pinned lwIP and Linux is a
//! build of this very crate with `LWIP_SRC_DIR` and `LWIP_TAP_OPTS` set, kept
//! in a target directory of its own under the cache, so cargo reuses it
//! until something changes. The build proves its bindings against that
//! tree as every build does; when they do not match, it is repeated with
//! `buildtime_bindgen` (which needs libclang).
//!
//! A target is written `lwip`, `lwip-2.1.3`, `linux` or the path of an
//! lwIP tree, optionally followed by `:FILE.h`, an options file
//! (`LWIP_TAP_OPTS`) for that lwIP: `lwip:tests/drill/opts/no_ooseq.h`.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Debian's source package of lwIP 2.1.3: the suite that carries it and
/// the version its headers must declare.
const DEBIAN_SUITE: &str = "bookworm";
const DEBIAN_PACKAGE: &str = "lwip";
const DEBIAN_VERSION: &str = "2.1.3";
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// The lwIP a target runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lwip {
    /// The lwIP this binary was built with (the pinned package unless it
    /// was built with `LWIP_SRC_DIR`).
    Pinned,
    /// lwIP 2.1.3 from Debian's source package, fetched on first use.
    Debian213,
    /// An lwIP source tree (`src/`, and `contrib/` if it has one).
    Tree(PathBuf),
}

/// One target of a run or a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Lwip { lwip: Lwip, opts: Option<PathBuf> },
    Linux,
}

/// A target as the user wrote it, and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub name: String,
    pub target: Target,
}

impl TargetSpec {
    /// Reads `lwip`, `lwip-2.1.3`, `linux` or a tree's path, each but
    /// `linux` optionally followed by `:OPTIONS.h`.
    pub fn parse(text: &str) -> Result<TargetSpec, String> {
        let (base, opts) = match text.rsplit_once(':') {
            Some((base, opts)) if opts.ends_with(".h") => (base, Some(PathBuf::from(opts))),
            _ => (text, None),
        };
        let lwip = match base {
            "" => return Err("a target cannot be empty".into()),
            "linux" if opts.is_some() => {
                return Err(format!(
                    "{text}: an options file is for lwIP targets, not linux"
                ))
            }
            "linux" => {
                return Ok(TargetSpec {
                    name: text.to_string(),
                    target: Target::Linux,
                })
            }
            "lwip" => Lwip::Pinned,
            "lwip-2.1.3" => Lwip::Debian213,
            path if path.contains('/') || Path::new(path).is_dir() => {
                Lwip::Tree(PathBuf::from(path))
            }
            other => {
                return Err(format!(
                    "{other}: not a target (lwip, lwip-2.1.3, linux, or the path of an lwIP \
                     tree, each optionally followed by :OPTIONS.h)"
                ))
            }
        };
        if let Some(file) = &opts {
            if !file.is_file() {
                return Err(format!("{text}: no options file {}", file.display()));
            }
        }
        if let Lwip::Tree(dir) = &lwip {
            if !dir.join("src/include/lwip/init.h").is_file() {
                return Err(format!(
                    "{text}: {} is not an lwIP tree (no src/include/lwip/init.h)",
                    dir.display()
                ));
            }
        }
        Ok(TargetSpec {
            name: text.to_string(),
            target: Target::Lwip { lwip, opts },
        })
    }

    /// Whether this binary runs the target itself (no other build needed).
    pub fn is_built_in(&self) -> bool {
        matches!(
            self.target,
            Target::Linux
                | Target::Lwip {
                    lwip: Lwip::Pinned,
                    opts: None
                }
        )
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// How to run scripts on a target: a lwip-drill executable and the
/// arguments that select the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub exe: PathBuf,
    pub args: Vec<String>,
}

/// Where builds and fetched sources are kept: `LWIP_DRILL_CACHE`, else
/// `$XDG_CACHE_HOME/lwip-drill`, else `~/.cache/lwip-drill`.
pub fn default_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("LWIP_DRILL_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("lwip-drill");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/lwip-drill")
}

/// The lwip-tap source tree a target is built from: `LWIP_TAP_SOURCE_DIR`,
/// else the tree this binary was built from.
fn crate_source() -> Result<PathBuf, String> {
    let dir = std::env::var_os("LWIP_TAP_SOURCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    if dir.join("Cargo.toml").is_file() && dir.join("build.rs").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "building another lwIP needs lwip-tap's source tree, and {} is not one \
             (set LWIP_TAP_SOURCE_DIR)",
            dir.display()
        ))
    }
}

/// Makes `spec` runnable: fetches and builds what it needs (reusing what
/// is there), and returns how to run it. `this_exe` is the running
/// lwip-drill. Progress goes to `note`, one line per step.
pub fn prepare(
    spec: &TargetSpec,
    this_exe: &Path,
    cache: &Path,
    note: &mut dyn FnMut(&str),
) -> Result<Runner, String> {
    let fail = |e: String| format!("{spec}: {e}");
    let (lwip, opts) = match &spec.target {
        Target::Linux => {
            return Ok(Runner {
                exe: this_exe.to_path_buf(),
                args: vec!["--target".into(), "linux".into()],
            })
        }
        Target::Lwip {
            lwip: Lwip::Pinned,
            opts: None,
        } => {
            return Ok(Runner {
                exe: this_exe.to_path_buf(),
                args: Vec::new(),
            })
        }
        Target::Lwip { lwip, opts } => (lwip, opts),
    };
    let tree = match lwip {
        Lwip::Pinned => None,
        Lwip::Debian213 => Some(fetch_debian(cache, note).map_err(fail)?),
        Lwip::Tree(dir) => Some(
            dir.canonicalize()
                .map_err(|e| fail(format!("{}: {e}", dir.display())))?,
        ),
    };
    let opts = match opts {
        Some(file) => Some(
            file.canonicalize()
                .map_err(|e| fail(format!("{}: {e}", file.display())))?,
        ),
        None => None,
    };
    let exe = build(tree.as_deref(), opts.as_deref(), cache, note).map_err(fail)?;
    Ok(Runner {
        exe,
        args: Vec::new(),
    })
}

/// A short, stable name for a build: what it is built from, readable, and
/// a hash of the full paths so two trees of the same name stay apart.
fn build_key(tree: Option<&Path>, opts: Option<&Path>) -> String {
    let mut key = match tree {
        None => "lwip".to_string(),
        Some(dir) => dir
            .file_name()
            .map_or("tree".into(), |n| n.to_string_lossy().into_owned()),
    };
    if let Some(file) = opts {
        key.push('+');
        key.push_str(
            &file
                .file_stem()
                .map_or("opts".into(), |n| n.to_string_lossy()),
        );
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{tree:?}{opts:?}").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}-{:08x}", file_name_of(&key), hash as u32)
}

/// `text` made fit for a file name: letters, digits and `-_.+` kept,
/// anything else `_`.
pub fn file_name_of(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Builds lwip-drill from this crate's source with `tree` (None: the
/// pinned package) and options file `opts`, in a target directory of its
/// own; returns the executable.
fn build(
    tree: Option<&Path>,
    opts: Option<&Path>,
    cache: &Path,
    note: &mut dyn FnMut(&str),
) -> Result<PathBuf, String> {
    let source = crate_source()?;
    let target_dir = cache.join("builds").join(build_key(tree, opts));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let cargo = |bindgen: bool| {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .args(["build", "--quiet", "--bin", "lwip-drill", "--manifest-path"])
            .arg(source.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("LWIP_SRC_DIR")
            .env_remove("LWIP_TAP_OPTS")
            .env_remove("RUSTFLAGS")
            .stdin(Stdio::null());
        if profile == "release" {
            command.arg("--release");
        }
        if bindgen {
            command.args(["--features", "buildtime_bindgen"]);
        }
        if let Some(dir) = tree {
            command.env("LWIP_SRC_DIR", dir);
        }
        if let Some(file) = opts {
            command.env("LWIP_TAP_OPTS", file);
        }
        command
    };
    let exe = target_dir.join(profile).join("lwip-drill");
    if !exe.is_file() {
        note(&format!(
            "building lwip-drill with {}{} in {} (once; later runs reuse it)",
            tree.map_or("the pinned lwIP".into(), |d| d.display().to_string()),
            opts.map(|f| format!(" and {}", f.display()))
                .unwrap_or_default(),
            target_dir.display()
        ));
    }
    let output = cargo(false)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !stderr.contains("do not match") {
            return Err(format!(
                "the build failed: {}",
                telling_line(&stderr, &["error"])
            ));
        }
        note("the committed bindings do not match this lwIP: generating them (buildtime_bindgen, needs libclang)");
        let output = cargo(true)
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "the build failed: {}",
                telling_line(&stderr, &["error"])
            ));
        }
    }
    if exe.is_file() {
        Ok(exe)
    } else {
        Err(format!("the build made no {}", exe.display()))
    }
}

/// The line of `text` that says what went wrong, for a one-line message:
/// the first that starts with one of `marks` (in the order of `marks`),
/// else the last line with something on it.
fn telling_line<'a>(text: &'a str, marks: &[&str]) -> &'a str {
    marks
        .iter()
        .find_map(|mark| text.lines().find(|l| l.trim_start().starts_with(mark)))
        .or_else(|| text.lines().rfind(|l| !l.trim().is_empty()))
        .unwrap_or("no message")
        .trim()
}

/// Debian's lwIP 2.1.3 source tree under the cache, fetched with
/// `apt-get source` through a private apt directory (the machine's apt
/// configuration is neither read for sources nor changed) and unpacked
/// with Debian's patches by `dpkg-source`.
fn fetch_debian(cache: &Path, note: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    let sources = cache.join("sources");
    let tree = sources.join(format!("lwip-{DEBIAN_VERSION}"));
    fs::create_dir_all(&sources).map_err(|e| format!("{}: {e}", sources.display()))?;
    // Two lwip-drill runs sharing the cache fetch it once.
    let lock = fs::File::create(sources.join(".lock"))
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|e| format!("cannot lock {}: {e}", sources.display()))?;
    if tree.join("src/include/lwip/init.h").is_file() {
        return Ok(tree);
    }
    let mirror = std::env::var("LWIP_DRILL_DEBIAN_MIRROR").unwrap_or_else(|_| DEBIAN_MIRROR.into());
    note(&format!(
        "fetching Debian's lwIP {DEBIAN_VERSION} source ({DEBIAN_SUITE}) from {mirror}"
    ));
    let apt = cache.join("apt");
    for dir in ["lists/partial", "cache/archives/partial", "sources.list.d"] {
        fs::create_dir_all(apt.join(dir))
            .map_err(|e| format!("{}: {e}", apt.join(dir).display()))?;
    }
    let list = apt.join("sources.list.d/lwip-drill.list");
    fs::write(&list, format!("deb-src {mirror} {DEBIAN_SUITE} main\n"))
        .map_err(|e| format!("{}: {e}", list.display()))?;
    let download = sources.join("download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download).map_err(|e| format!("{}: {e}", download.display()))?;
    let apt_get = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command
            .args(["-q", "-o", "Dir::Etc::SourceList=/dev/null"])
            .arg("-o")
            .arg(format!(
                "Dir::Etc::SourceParts={}",
                apt.join("sources.list.d").display()
            ))
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", apt.join("lists").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", apt.join("cache").display()))
            .args(["-o", "Debug::NoLocking=1", "-o", "Acquire::Retries=0"])
            .args(["-o", "Acquire::http::Timeout=20"])
            .args(args)
            .current_dir(&download)
            .stdin(Stdio::null());
        run(command, "apt-get")
    };
    apt_get(&["update", "--error-on=any"])
        .map_err(|e| format!("cannot fetch Debian's lwIP source: {e}"))?;
    apt_get(&["source", "--download-only", DEBIAN_PACKAGE])
        .map_err(|e| format!("cannot fetch Debian's lwIP source: {e}"))?;
    let dsc = fs::read_dir(&download)
        .map_err(|e| format!("{}: {e}", download.display()))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .find(|p| p.extension().is_some_and(|e| e == "dsc"))
        .ok_or("apt-get source downloaded no .dsc file")?;
    let unpacked = download.join("tree");
    let mut command = Command::new("dpkg-source");
    command
        .arg("-x")
        .arg(&dsc)
        .arg(&unpacked)
        .current_dir(&download)
        .stdin(Stdio::null());
    run(command, "dpkg-source").map_err(|e| {
        format!(
            "cannot unpack {}: {e} (dpkg-source is in the package dpkg-dev)",
            dsc.display()
        )
    })?;
    let init = fs::read_to_string(unpacked.join("src/include/lwip/init.h"))
        .map_err(|e| format!("the unpacked source has no src/include/lwip/init.h: {e}"))?;
    let declares = |name: &str, value: &str| {
        init.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 3 && words[0] == "#define" && words[1] == name && words[2] == value
        })
    };
    let mut parts = DEBIAN_VERSION.split('.');
    let wanted = [
        ("LWIP_VERSION_MAJOR", parts.next().unwrap_or("")),
        ("LWIP_VERSION_MINOR", parts.next().unwrap_or("")),
        ("LWIP_VERSION_REVISION", parts.next().unwrap_or("")),
    ];
    if !wanted.iter().all(|(n, v)| declares(n, v)) {
        return Err(format!(
            "Debian's {DEBIAN_SUITE} package {DEBIAN_PACKAGE} is no longer lwIP {DEBIAN_VERSION}"
        ));
    }
    fs::rename(&unpacked, &tree).map_err(|e| format!("{}: {e}", tree.display()))?;
    let _ = fs::remove_dir_all(&download);
    drop(lock);
    Ok(tree)
}

/// Runs `command`; on failure, its last line of output as the error.
fn run(mut command: Command, name: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    // apt names the unreachable file first, then sums up.
    let line = telling_line(&text, &["W: Failed to fetch", "E:"]);
    Err(format!("{name} failed: {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_as_written() {
        let pinned = TargetSpec::parse("lwip").unwrap();
        assert!(pinned.is_built_in());
        assert_eq!(
            TargetSpec::parse("lwip-2.1.3").unwrap().target,
            Target::Lwip {
                lwip: Lwip::Debian213,
                opts: None
            }
        );
        assert_eq!(TargetSpec::parse("linux").unwrap().target, Target::Linux);
        let error = TargetSpec::parse("linux:x.h").unwrap_err();
        assert!(error.contains("not linux"), "{error}");
        let error = TargetSpec::parse("bsd").unwrap_err();
        assert!(error.starts_with("bsd: not a target"), "{error}");
        let error = TargetSpec::parse("lwip:/no/such/opts.h").unwrap_err();
        assert!(error.contains("no options file"), "{error}");
        let error = TargetSpec::parse("/no/such/tree").unwrap_err();
        assert!(error.contains("not an lwIP tree"), "{error}");
    }

    #[test]
    fn builds_of_different_trees_and_options_stay_apart() {
        let a = build_key(Some(Path::new("/a/lwip")), None);
        let b = build_key(Some(Path::new("/b/lwip")), None);
        let c = build_key(
            Some(Path::new("/a/lwip")),
            Some(Path::new("/o/small_wnd.h")),
        );
        assert!(a.starts_with("lwip-") && b.starts_with("lwip-"), "{a} {b}");
        assert_ne!(a, b);
        assert!(c.starts_with("lwip+small_wnd-"), "{c}");
        assert_eq!(a, build_key(Some(Path::new("/a/lwip")), None));
    }
}
