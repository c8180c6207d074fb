//! Gatehouse domain crate, in four layers; arrows point only down (flows → mechanisms →
//! store/values), so a reader finds a rule in one guess and no module depends on one above it.
//!
//! - [`values`]: parsed-at-the-edge types and pure rules (email syntax, password policy P1–P3,
//!   MFA methods, challenge kinds). They compile everywhere, including the WASM front end, so the
//!   browser shows the same messages the server enforces.
//! - [`store`]: connections, migrations, transactions (SQLite embedded, PostgreSQL shared).
//! - [`mechanisms`]: reusable machinery with no feature knowledge — randomness, crypto, hashing,
//!   rate limits, challenges, sessions, factors, outbox, events.
//! - [`flows`]: one module per thing a person does (register, sign in, recover, the Security tab).
//!   A flow never calls another flow; what two flows share lives in a mechanism.
//!
//! Everything that needs the operating system sits behind the `server` feature.

pub mod values;

#[cfg(feature = "server")]
pub mod flows;
#[cfg(feature = "server")]
pub mod mechanisms;
#[cfg(feature = "server")]
pub mod store;
