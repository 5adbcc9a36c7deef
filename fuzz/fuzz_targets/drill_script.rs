//! lwip-drill's script parser on any bytes: never a panic; what parses
//! prints back to text that parses and prints the same (positions aside:
//! comments are not printed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lwip_tap::drill::script;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = script::parse(&text) {
        let printed = parsed.to_string();
        let again = script::parse(&printed).expect("a printed script parses");
        assert_eq!(again.to_string(), printed);
    }
});
