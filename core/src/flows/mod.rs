//! Flows: one module per thing a person does. A flow calls mechanisms, never another flow, and
//! answers with its own error enum; the app maps each to its one wire error.

pub mod accounts;
pub mod caller;
pub mod email_change;
pub mod login;
pub mod oidc;
pub mod orgs;
pub mod profile;
pub mod recovery;
pub mod security;
pub mod support;
