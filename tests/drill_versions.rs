//! lwip-drill against other lwIPs: Debian's lwIP 2.1.3 (fetched with
//! apt-get source and built on first use), an lwIP tree given by path, and
//! the pinned lwIP with another options file, each compared with the
//! pinned 2.2.1 over our corpus. The builds are kept in the test target
//! directory, so only the first run pays for them.
//!
//! Where the two versions differ, a script in tests/drill/version/ pins the
//! difference: it passes on 2.2.1 and names, in a `// 2.1.3 fails: ...`
//! line, the first difference lwip-drill reports on 2.1.3.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::drill_scripts as scripts;

const LWIP_DRILL: &str = env!("CARGO_BIN_EXE_lwip-drill");

fn tests_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// The cache the suite's other-lwIP builds live in.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("lwip-drill-cache")
}

fn drill(args: &[&str], scripts: &[PathBuf]) -> Output {
    Command::new(LWIP_DRILL)
        .arg("--cache")
        .arg(cache())
        .args(args)
        .args(scripts)
        .output()
        .expect("run lwip-drill")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One cell of a comparison: the target, `ok`/`FAIL`/`skip`, the detail.
type Cell = (String, String, String);

/// The rows of a `--format json` comparison: each script and its cells.
fn cells(output: &Output) -> Vec<(String, Vec<Cell>)> {
    let json: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(output)));
    let targets: Vec<String> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    json["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let results = targets
                .iter()
                .map(|t| {
                    let cell = &row["results"][t];
                    (
                        t.clone(),
                        cell["result"].as_str().unwrap().to_string(),
                        cell["detail"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            (row["script"].as_str().unwrap().to_string(), results)
        })
        .collect()
}

#[test]
fn an_unreachable_archive_fails_in_one_line() {
    let empty = common::TempDir::new("drill-cache");
    let output = Command::new(LWIP_DRILL)
        .arg("--cache")
        .arg(empty.path())
        .args(["--target", "lwip-2.1.3"])
        .arg(tests_dir("drill/tcp/active_open.pkt"))
        .env("LWIP_DRILL_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("lwip-drill: lwip-2.1.3: cannot fetch Debian's lwIP source: ")
            && last.contains("127.0.0.1:9"),
        "{err}"
    );
    assert!(output.stdout.is_empty(), "no script ran");
}

#[test]
fn unknown_targets_are_refused_in_one_line() {
    let output = drill(
        &["--compare", "lwip,bsd"],
        &[tests_dir("drill/tcp/active_open.pkt")],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("lwip-drill: bsd: not a target"), "{err}");
}

/// Makes sure Debian's 2.1.3 is fetched and built; false (the test
/// skipped) when the archive cannot be reached.
fn have_lwip_2_1_3() -> bool {
    let output = drill(
        &["--target", "lwip-2.1.3"],
        &[tests_dir("drill/tcp/active_open.pkt")],
    );
    let err = stderr(&output);
    if err.contains("cannot fetch Debian's lwIP source") {
        common::skip(err.lines().last().unwrap_or("cannot fetch lwIP 2.1.3"));
        return false;
    }
    assert!(output.status.success(), "{err}");
    true
}

#[test]
fn the_corpus_on_lwip_2_2_1_and_2_1_3() {
    if !have_lwip_2_1_3() {
        return;
    }
    let corpus = scripts(&tests_dir("drill"));
    let output = drill(
        &["--compare", "lwip,lwip-2.1.3", "--format", "json"],
        &corpus,
    );
    let rows = cells(&output);
    assert_eq!(rows.len(), corpus.len(), "{}", stderr(&output));
    let mut differences = 0;
    for ((script, results), path) in rows.iter().zip(&corpus) {
        let source = std::fs::read_to_string(path).unwrap();
        let pinned = &results[0];
        let old = &results[1];
        assert_eq!(pinned.1, "ok", "{script} on 2.2.1: {}", pinned.2);
        match source
            .lines()
            .find_map(|l| l.strip_prefix("// 2.1.3 fails: "))
        {
            Some(expected) => {
                differences += 1;
                assert_eq!(old.1, "FAIL", "{script} should fail on 2.1.3");
                assert!(
                    old.2.contains(expected.trim()),
                    "{script} on 2.1.3: expected {expected:?} in\n{}",
                    old.2
                );
            }
            None => assert_eq!(old.1, "ok", "{script} on 2.1.3: {}", old.2),
        }
    }
    // The report agrees exactly when no script pins a difference.
    assert_eq!(output.status.success(), differences == 0);
}

#[test]
fn a_tree_given_by_path_is_a_target() {
    if !have_lwip_2_1_3() {
        return;
    }
    let tree = cache().join("sources/lwip-2.1.3");
    let output = Command::new(LWIP_DRILL)
        .arg("--cache")
        .arg(cache())
        .arg("--lwip")
        .arg(&tree)
        .arg(tests_dir("drill/tcp/passive_open.pkt"))
        .output()
        .unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    // The same tree as lwip-2.1.3: its build is reused, not repeated.
    assert!(!err.contains("building"), "{err}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed, 0 failed, 0 skipped"),
        "{err}"
    );
}

#[test]
fn an_options_file_is_a_target_of_its_own() {
    let opts = tests_dir("drill_opts/no_ooseq.h");
    let variant = format!("lwip:{}", opts.display());
    let script = tests_dir("drill/tcp/ooseq_kept_until_hole_filled.pkt");
    let output = drill(
        &["--compare", &format!("lwip,{variant}")],
        std::slice::from_ref(&script),
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    assert!(out.contains("| **ok** | **FAIL** |"), "{out}");
    // Without the out-of-order queue, lwIP acknowledges only up to the hole.
    assert!(
        out.contains("ack: expected 4381 but the packet has 1461"),
        "{out}"
    );
    assert!(
        out.contains("The targets disagree on 1 of 1 scripts."),
        "{out}"
    );
}
