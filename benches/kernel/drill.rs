//! lwip-drill's rows: how long our whole corpus of scripts takes on the
//! wall clock (one at a time, and on every core), and how long one script
//! spanning over two minutes of lwIP's time takes: the virtual clock's
//! point is that this is milliseconds (the target is under 50 ms).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::common::drill_scripts as scripts;
use super::Results;

const LWIP_DRILL: &str = env!("CARGO_BIN_EXE_lwip-drill");
/// The script that spans the most virtual time (RTO back-off to give-up).
pub const LONG_SCRIPT: &str = "tests/drill/tcp/rto_backoff_to_give_up.pkt";

/// Seconds `lwip-drill ARGS` takes, if every script passed.
fn timed(args: &[&str], scripts: &[PathBuf]) -> Option<f64> {
    let start = Instant::now();
    let out = Command::new(LWIP_DRILL)
        .args(args)
        .args(scripts)
        .output()
        .ok()?;
    let seconds = start.elapsed().as_secs_f64();
    out.status.success().then_some(seconds)
}

/// Measures the rows into `res` (keys `drill_corpus_j1_s`,
/// `drill_corpus_jn_s`, `drill_long_ms`, `drill_scripts`,
/// `drill_long_virtual_s`).
pub fn measure(res: &mut Results) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = scripts(&root.join("tests/drill"));
    res.rec("drill_scripts", Some(corpus.len() as f64));
    let one = timed(&["-j", "1"], &corpus);
    let all = timed(&[], &corpus);
    let long = root.join(LONG_SCRIPT);
    // The long script alone, in the process lwip-drill runs each script in:
    // the best of five (the first run pays for the page cache).
    let long_ms = (0..5)
        .filter_map(|_| {
            let start = Instant::now();
            let out = Command::new(LWIP_DRILL)
                .arg("--run-one")
                .arg(&long)
                .output()
                .ok()?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            out.status.success().then_some(ms)
        })
        .min_by(f64::total_cmp);
    // How much virtual time it spans: the time of its last event, from -v.
    let spanned = Command::new(LWIP_DRILL)
        .args(["-v", "--run-one"])
        .arg(&long)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
                .fold(None, |max: Option<f64>, t| {
                    Some(max.map_or(t, |m| m.max(t)))
                })
        });
    res.say(&format!(
        "lwip-drill: {} scripts in {} s one at a time, {} s on every core; {LONG_SCRIPT} ({} s of virtual time) in {} ms",
        corpus.len(),
        one.map_or("?".into(), |s| format!("{s:.2}")),
        all.map_or("?".into(), |s| format!("{s:.2}")),
        spanned.map_or("?".into(), |s| format!("{s:.0}")),
        long_ms.map_or("?".into(), |ms| format!("{ms:.1}")),
    ));
    if one.is_none() || all.is_none() || long_ms.is_none() {
        res.fail("lwip-drill: a script of the corpus did not pass");
    }
    res.rec("drill_corpus_j1_s", one);
    res.rec("drill_corpus_jn_s", all);
    res.rec("drill_long_ms", long_ms);
    res.rec("drill_long_virtual_s", spanned);
}
