//! Mechanisms: machinery shared by the flows, with no knowledge of any one flow. A mechanism
//! may use values, the store and lower mechanisms; never a flow. Each has its own error enum.

pub mod avatars;
pub mod challenges;
pub mod credentials;
pub mod crypto;
pub mod email_links;
pub mod events;
pub mod hashing;
pub mod invitations;
pub mod messages;
pub mod mfa;
pub mod oidc_clients;
pub mod oidc_grants;
pub mod oidc_logout;
pub mod orgs;
pub mod outbox;
pub mod picture;
pub mod ratelimit;
pub mod reauth;
pub mod recovery_codes;
pub mod secret;
pub mod service;
pub mod sessions;
pub mod signing;
pub mod staff;
pub mod sweep;
pub mod tally;
pub mod totp;
pub mod users;
