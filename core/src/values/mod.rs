//! Values: parsed-at-the-edge types and pure rules. No storage, no randomness, no clock reads;
//! everything here except `netaddr` also compiles to WASM, so the browser and the server apply
//! the same rules (P3).

pub mod clock;
pub mod crop;
pub mod email;
pub mod factors;
pub mod failure;
pub mod name;
#[cfg(feature = "server")]
pub mod netaddr;
#[cfg(feature = "server")]
pub mod oidc;
pub mod org;
pub mod password;
pub mod phone;
pub mod photo;
