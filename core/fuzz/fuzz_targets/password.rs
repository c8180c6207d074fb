//! The password policy (P1–P4), the same code the browser runs: normalising, checking against
//! the policy with context words, and the strength meter never panic on any text; an accepted
//! password is the normalised one.
#![no_main]
use gatehouse_core::values::password::{strength, Context, PasswordPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let Ok(policy) = PasswordPolicy::new(8) else {
        return;
    };
    let (password, word) = input.split_once('\u{1f}').unwrap_or((input, "ada"));
    let ctx = Context { words: vec![word, "lovelace"] };
    if let Ok(accepted) = policy.check(password, &ctx) {
        assert_eq!(accepted, PasswordPolicy::normalize(password));
    }
    let _ = strength(password);
});
