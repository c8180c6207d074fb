//! Phone numbers (M9, R4): parsing never panics; an accepted number is E.164 (`+` and 8–15
//! digits), parses to itself again, and the allowed-calling-code check agrees with itself.
#![no_main]
use gatehouse_core::values::phone::Phone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(p) = Phone::parse(input) {
        let s = p.as_str();
        assert!(s.starts_with('+') && s[1..].bytes().all(|b| b.is_ascii_digit()), "{s}");
        assert_eq!(Phone::parse(s).expect("again").as_str(), s);
        let allowed = vec!["+1".to_string(), "+44".to_string()];
        assert_eq!(
            Phone::parse_allowed(input, &allowed).is_ok(),
            p.is_allowed(&allowed)
        );
        let _ = p.masked();
    }
});
