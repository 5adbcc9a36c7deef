//! The committed bindings (src/sys/bindings.rs) must be exactly what bindgen
//! generates from the current headers and lwipopts.h. Needs libclang
//! (`apt-get install libclang-dev`; scripts/test installs it).

use std::path::PathBuf;
use std::process::Command;

mod common;

#[test]
fn committed_bindings_match_a_fresh_generation() {
    if !common::libclang_or_skip() {
        return;
    }
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target_dir = common::builds_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&manifest_dir)
        .args([
            "build",
            "--lib",
            "--features",
            "buildtime_bindgen",
            "--message-format=json",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .expect("run cargo build");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo build --features buildtime_bindgen failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out_dir = stdout
        .lines()
        .filter(|l| l.contains("\"reason\":\"build-script-executed\"") && l.contains("lwip-tap"))
        .find_map(|l| {
            let key = "\"out_dir\":\"";
            let start = l.find(key)? + key.len();
            let end = start + l[start..].find('"')?;
            Some(PathBuf::from(&l[start..end]))
        })
        .expect("the build script's OUT_DIR in cargo's JSON messages");
    let fresh = std::fs::read_to_string(out_dir.join("bindings.rs")).expect("generated bindings");
    let committed = std::fs::read_to_string(manifest_dir.join("src/sys/bindings.rs")).unwrap();
    assert!(
        fresh == committed,
        "src/sys/bindings.rs is stale; regenerate it with\n  cargo build --features buildtime_bindgen && \
         cp {}/bindings.rs src/sys/bindings.rs",
        out_dir.display()
    );
}
