//! Gatehouse domain crate.
//!
//! Pure rules (email syntax, password policy P1–P3) compile everywhere, including the WASM
//! front end, so the browser shows the same messages the server enforces. Everything that needs
//! the operating system — storage, hashing, randomness — sits behind the `server` feature.

pub mod clock;
pub mod email;
pub mod factors;
pub mod password;
pub mod phone;

#[cfg(feature = "server")]
pub mod accounts;
#[cfg(feature = "server")]
pub mod challenges;
#[cfg(feature = "server")]
pub mod crypto;
#[cfg(feature = "server")]
pub mod events;
#[cfg(feature = "server")]
pub mod hashing;
#[cfg(feature = "server")]
pub mod login;
#[cfg(feature = "server")]
pub mod messages;
#[cfg(feature = "server")]
pub mod mfa;
#[cfg(feature = "server")]
pub mod netaddr;
#[cfg(feature = "server")]
pub mod outbox;
#[cfg(feature = "server")]
pub mod ratelimit;
#[cfg(feature = "server")]
pub mod recovery;
#[cfg(feature = "server")]
pub mod recovery_codes;
#[cfg(feature = "server")]
pub mod recovery_sms;
#[cfg(feature = "server")]
pub mod secret;
#[cfg(feature = "server")]
pub mod security;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod sweep;
#[cfg(feature = "server")]
pub mod totp;
#[cfg(feature = "server")]
pub mod users;
