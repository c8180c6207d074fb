//! The server's parts, as a library so that the `gatehouse` binary, its benchmark and the fuzz
//! targets (`server/fuzz`: the config file and the server functions' form bodies, issue 12)
//! share one copy: configuration, HTTP routes and middleware, mail and SMS transports, the
//! outbox worker, metrics and the dev mailbox.

pub mod clients;
pub mod config;
pub mod http_out;
pub mod mailbox;
pub mod metrics;
pub mod middleware;
pub mod oidc;
pub mod routes;
pub mod serve;
pub mod sms;
pub mod smtp;
pub mod worker;
