//! Email addresses as typed into every form (E1, E2): parsing never panics, and whatever it
//! accepts is already normalised (parsing it again gives the same address) and maskable.
#![no_main]
use gatehouse_core::values::email::Email;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(e) = Email::parse(input) {
        let again = Email::parse(e.as_str()).expect("an accepted address parses again");
        assert_eq!(again.as_str(), e.as_str());
        assert!(!e.local_part().is_empty());
        let _ = e.masked();
    }
});
