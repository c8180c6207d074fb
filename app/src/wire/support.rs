//! Wire types of the support console (`/support`).

use super::{ActivityItem, Flash, Me, ReauthView};
use gatehouse_core::values::factors::MfaMethod;
use serde::{Deserialize, Serialize};

/// The console: the search, and the person found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportView {
    pub me: Me,
    /// What was searched for.
    pub query: String,
    /// The person found, if any; `query` without a person: no account.
    pub found: Option<Person>,
    pub reauth: ReauthView,
    pub flash: Flash,
}

/// A person as support sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub mfa_method: MfaMethod,
    pub locked: bool,
    pub activity: Vec<ActivityItem>,
}
