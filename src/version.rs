//! What this binary is made of, for `--version` and the first log line:
//! lwip-tap's version, the lwIP version compiled in (read from the lwIP
//! headers the build used, release-candidate/development flag included),
//! where lwIP's sources came from, the options file, lwIP's key options and
//! lwIP's apps compiled in, and whether the debug feature is in.

use crate::lwip::build;

/// Where build.rs found lwIP's sources.
const SOURCE: &str = env!("LWIP_TAP_LWIP_SOURCE");
/// lwIP's applications compiled in, separated by spaces.
const APPS: &str = env!("LWIP_TAP_APPS");

/// lwIP's applications compiled in (`httpd`, `dns`, `sntp`...).
pub fn lwip_apps() -> Vec<&'static str> {
    APPS.split_whitespace().collect()
}

/// The apps build.rs left out, and why (`mdns (the tree has no
/// src/apps/mdns/mdns_out.c)`), or empty.
const APPS_LEFT_OUT: &str = env!("LWIP_TAP_APPS_LEFT_OUT");
/// The LWIP_TAP_OPTS file compiled in, or empty.
const OPTS_FILE: &str = env!("LWIP_TAP_OPTS_FILE");

/// lwIP's version string as its headers give it (e.g. `2.2.1d`), and what
/// its release flag means.
pub fn lwip_version() -> String {
    let version = build::version();
    let kind = match build::version_rc() {
        255 => "release".to_string(),
        0 => "development: its init.h has LWIP_VERSION_RC = LWIP_RC_DEVELOPMENT".to_string(),
        n => format!("release candidate {n}"),
    };
    format!("{version} ({kind})")
}

/// lwIP's key options as compiled (`TCP_WND=262144 ...`).
pub fn lwip_options() -> String {
    build::options()
}

/// The multi-line text of `lwip-tap --version`.
pub fn text() -> String {
    let mut text = format!(
        "lwip-tap {}\nlwIP {}\nlwIP sources: {SOURCE}\n",
        env!("CARGO_PKG_VERSION"),
        lwip_version()
    );
    if SOURCE.starts_with("pinned") {
        text += "  (the pinned package carries the lwIP 2.2.1 release files, but its init.h \
                 marks them as a development version, so lwIP reports itself as such)\n";
    }
    let opts = if OPTS_FILE.is_empty() {
        "lwip/lwipopts.h".to_string()
    } else {
        format!("lwip/lwipopts.h, then LWIP_TAP_OPTS={OPTS_FILE}")
    };
    text += &format!("lwIP options: {opts}\n  {}\n", lwip_options());
    text += &format!("lwIP apps compiled in: {}\n", apps());
    text += &format!(
        "debug feature: {}\n",
        if cfg!(feature = "debug") {
            "on (-d shows lwIP's debug output)"
        } else {
            "off"
        }
    );
    text
}

/// The apps of lwIP compiled in, and those this tree lacks.
pub fn apps() -> String {
    let mut text = lwip_apps().join(", ");
    if !APPS_LEFT_OUT.is_empty() {
        text += &format!("; left out, the tree lacks them: {APPS_LEFT_OUT}");
    }
    text
}

/// One line for the log at start.
pub fn summary() -> String {
    let opts = if OPTS_FILE.is_empty() {
        String::new()
    } else {
        format!(", options {OPTS_FILE}")
    };
    format!(
        "lwip-tap {} with lwIP {} from {SOURCE}{opts}{}",
        env!("CARGO_PKG_VERSION"),
        lwip_version(),
        if cfg!(feature = "debug") {
            ", debug build"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    /// A binary handed on does not tell where its builder keeps lwIP.
    #[test]
    fn version_names_the_sources_without_the_builders_path() {
        let text = super::text();
        assert!(text.contains("lwIP sources: "), "{text}");
        assert!(!text.contains(env!("LWIP_TAP_LWIP_DIR")), "{text}");
        assert!(!super::summary().contains(env!("LWIP_TAP_LWIP_DIR")));
    }
}
