//! The command lwip-tap is started under when a test changes what it may
//! open or who it runs as: a /dev/net of its own (no /dev/net/tun, or one
//! anyone may open) and the user nobody. Used with
//! [`Netns::spawn_lwip_tap_under`](super::Netns::spawn_lwip_tap_under) and,
//! as shell text, [`Netns::lwip_tap_refuses`](super::Netns::lwip_tap_refuses).

/// What the private /dev/net of a [`Launch`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tun {
    /// Nothing: lwip-tap finds no /dev/net/tun, as on a machine without
    /// the tun module.
    Missing,
    /// A tun node anyone may open (mode 666), as most distributions ship
    /// it; this machine's own may be root-only.
    WorldUsable,
}

/// How lwip-tap is started. By default as the test runs: as root, with the
/// machine's /dev/net/tun. A test of what an ordinary user can do needs the
/// user nobody and a /dev/net/tun anyone may open (this machine's may be
/// root-only); a test of the error without the tun module needs no
/// /dev/net/tun at all. Both without touching the machine's /dev, which
/// other tests running at the same time use.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    dev_net: Option<Tun>,
    user_nobody: bool,
}

impl Launch {
    /// As the test runs; see the builder methods.
    pub fn new() -> Launch {
        Launch::default()
    }

    /// Runs lwip-tap in a mount namespace of its own (`unshare -m`) with a
    /// fresh tmpfs on /dev/net that holds what `tun` says. The mount must be
    /// made in the process tree that then runs lwip-tap, and this way the
    /// machine's /dev/net/tun is hidden from that tree only.
    pub fn private_dev_net(mut self, tun: Tun) -> Launch {
        self.dev_net = Some(tun);
        self
    }

    /// Runs lwip-tap as nobody:nogroup without supplementary groups
    /// (`setpriv`), as an ordinary user starts it; after the /dev/net
    /// set-up, which needs root.
    pub fn user_nobody(mut self) -> Launch {
        self.user_nobody = true;
        self
    }

    /// The words that come before lwip-tap's path and arguments (none
    /// for the default).
    pub fn words(&self) -> Vec<String> {
        let mut words = Vec::new();
        if let Some(tun) = self.dev_net {
            let node = match tun {
                Tun::Missing => "",
                Tun::WorldUsable => "mknod -m 666 /dev/net/tun c 10 200 && ",
            };
            words.extend(["unshare", "-m", "sh", "-c"].map(String::from));
            words.push(format!(
                "mount -t tmpfs none /dev/net && {node}exec \"$0\" \"$@\""
            ));
        }
        if self.user_nobody {
            words.extend(
                [
                    "setpriv",
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                ]
                .map(String::from),
            );
        }
        words
    }

    /// [`Launch::words`] as shell text.
    pub fn shell_prefix(&self) -> String {
        let quote = |word: String| {
            if word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=/.,:".contains(c))
            {
                word
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        };
        let words: Vec<String> = self.words().into_iter().map(quote).collect();
        words.join(" ")
    }
}
