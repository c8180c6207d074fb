//! What people paste or links carry: six-digit codes (M2), recovery codes (M6), emailed-link
//! tokens (F2: only their digest is ever looked up) and avatar URL segments (U2). None of them
//! panics on any text; an accepted code is exactly six ASCII digits; a recovery code's canonical
//! form is stable; a token's digest is 64 hex digits and equal only to itself.
#![no_main]
use gatehouse_core::mechanisms::challenges::six_digits;
use gatehouse_core::mechanisms::recovery_codes::canonical;
use gatehouse_core::mechanisms::secret::{ct_eq, digest};
use gatehouse_core::values::photo::AvatarSize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(code) = six_digits(input) {
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    }
    let c = canonical(input);
    assert_eq!(canonical(&c), c, "canonical twice is canonical once");
    let d = digest(input);
    assert!(d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(ct_eq(&d, &digest(input)));
    if !input.is_empty() {
        assert!(!ct_eq(&d, &digest(&format!("{input}x"))));
    }
    if let Some(size) = AvatarSize::parse(input) {
        assert_eq!(size.pixels().to_string(), input);
    }
});
