//! Property tests of the command-line parser: no input panics it, every
//! refusal is one line, and well-formed specs always parse back.

use proptest::prelude::*;

use lwip_tap::cli::{self, Invocation};
use lwip_tap::config::Addressing;

fn parse(args: &[String]) -> Result<Invocation, lwip_tap::Error> {
    let mut full = vec!["lwip-tap".to_string()];
    full.extend_from_slice(args);
    cli::parse(full)
}

/// Strings built from the pieces `-i` values are made of, so that the
/// generator reaches the parser's corners (not just "unknown key").
fn spec_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("name".to_string()),
        Just("addr".to_string()),
        Just("netmask".to_string()),
        Just("gw".to_string()),
        Just("mtu".to_string()),
        Just("=".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just(".".to_string()),
        "[0-9]{1,4}",
        "tap[0-9]{0,20}",
        "\\PC{0,6}",
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_arguments_never_panic(args in proptest::collection::vec("\\PC{0,24}", 0..6)) {
        let _ = parse(&args);
    }

    #[test]
    fn interface_specs_never_panic_and_errors_are_one_line(spec in spec_like()) {
        match cli::parse_interface(&spec) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}"),
        }
        if let Err(lwip_tap::Error::Usage(msg)) = parse(&["-i".into(), spec.clone()]) {
            prop_assert_eq!(msg.lines().count(), 1, "{}", msg);
        }
    }

    #[test]
    fn well_formed_static_specs_parse(
        a in 1u8..=254, b in any::<u8>(), c in any::<u8>(), host in 2u8..=253,
        name in "[a-z][a-z0-9]{0,14}", mtu in 68u32..=65521,
    ) {
        let spec = format!(
            "name={name},addr={a}.{b}.{c}.{host},netmask=255.255.255.0,gw={a}.{b}.{c}.1,mtu={mtu}"
        );
        let parsed = cli::parse_interface(&spec).unwrap();
        prop_assert_eq!(parsed.device.name(), Some(name.as_str()));
        prop_assert_eq!(parsed.mtu, Some(mtu));
        let Addressing::Static { addr, .. } = parsed.addressing else {
            panic!("static addressing expected: {parsed:?}");
        };
        prop_assert_eq!(addr.octets(), [a, b, c, host]);
    }
}
