//! One module per route.

pub mod confirm_email;
pub mod consent;
pub mod details;
pub mod forgot;
pub mod gallery;
pub mod invitation;
pub mod login;
pub mod not_found;
pub mod oidc_reauth;
pub mod org;
pub mod orgs;
pub mod profile;
pub mod register;
pub mod reset;
pub mod security;
pub mod support;
pub mod verify;
