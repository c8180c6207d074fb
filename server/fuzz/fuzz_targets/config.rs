//! The config file and its environment overrides: any text (and any `GATEHOUSE_*` variables)
//! either loads or is refused with a message — never a panic — and G1 holds for whatever loads:
//! a password, token or sealing key given in the file never shows in the configuration's
//! `Debug` (which is what start-up logs print).
//!
//! Input: the file's text, then optionally U+001F and `NAME=value` lines for the environment.
//! Inputs naming a `*_file` key are skipped: those are paths the operator chose, and reading
//! arbitrary paths (`/dev/zero`) is not parsing.
#![no_main]
use gatehouse_server::config::from_sources;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if input.contains("_file") || input.contains("_FILE") {
        return;
    }
    let (file, env) = input.split_once('\u{1f}').unwrap_or((input, ""));
    let env: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loaded = match from_sources("fuzz.toml", file, &env) {
        Ok(loaded) => loaded,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let _ = loaded.settings();
    let shown = format!("{loaded:?}");
    let c = &loaded.config;
    let secrets = [
        c.smtp.as_ref().and_then(|s| s.password.clone()),
        c.sms.token.clone(),
        c.mfa.secret_key.clone(),
    ];
    for secret in secrets.into_iter().flatten() {
        // Only a secret that is distinctive (long, and written once in the input) can be looked
        // for: a short one may equal some other value by chance.
        if secret.len() >= 12 && input.matches(secret.as_str()).count() == 1 {
            assert!(
                !shown.contains(&secret),
                "G1: a secret shows in Debug: {shown}"
            );
        }
    }
});
