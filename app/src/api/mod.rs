//! Server functions: thin adapters from forms to `gatehouse_core`'s flows, one module per flow
//! (`core/src/flows/<flow>.rs` ↔ `app/src/api/<flow>.rs`).
//!
//! Each one reads the session from the cookie (never a user id from arguments), calls core once,
//! and reports a refusal with `ctx::fail` (core says where its message goes). Endpoint names are
//! stable (`/api/<name>`): the no-JS forms post to them directly.

pub mod accounts;
pub mod login;
pub mod profile;
pub mod recovery;
pub mod security;
