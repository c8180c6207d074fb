//! Wire types of the organization pages (`/orgs`, `/orgs/{slug}`, `/invitation`) and the
//! Dashboard's invitations.

use super::{Flash, Me, ReauthView};
use gatehouse_core::values::org::{InvitationState, Role};
use serde::{Deserialize, Serialize};

/// An organization in the top-bar menu and on `/orgs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgLink {
    pub name: String,
    pub slug: String,
    pub role: Role,
}

impl OrgLink {
    pub fn href(&self) -> String {
        format!("/orgs/{}", self.slug)
    }
}

/// `/orgs`: the person's organizations and the create form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgsView {
    pub me: Me,
    pub flash: Flash,
}

/// The tab of `/orgs/{slug}` shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgTab {
    Members,
    Invitations,
    Settings,
}

/// One person on the Members tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberItem {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub me: bool,
}

/// One invitation on the Invitations tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationItem {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub state: InvitationState,
    /// "Expires 2026-12-10 09:00 UTC", "Accepted 2026-12-03 …".
    pub when: String,
    pub invited_by: Option<String>,
}

/// `/orgs/{slug}` and its tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    pub me: Me,
    pub name: String,
    pub slug: String,
    pub my_role: Role,
    pub members: Vec<MemberItem>,
    /// `None`: the person's role does not see them.
    pub invitations: Option<Vec<InvitationItem>>,
    /// Roles the person may give (invite with, change to).
    pub grantable: Vec<Role>,
    /// The person may change roles / remove / hand over ownership at all.
    pub manages: bool,
    pub owner: bool,
    /// How long an invitation link works.
    pub invitation_days: i64,
    /// F7: the rules, for those whose role edits them (`None`: no Settings tab).
    pub policy: Option<gatehouse_core::values::org::Policy>,
    /// SMS can be sent at all on this instance.
    pub sms_available: bool,
    pub reauth: ReauthView,
    pub flash: Flash,
}

/// A pending invitation on the Dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingItem {
    pub id: String,
    pub org_name: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub expires: String,
}

/// `/invitation?token=…`: what the link shows (it changes nothing, E4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationLinkView {
    Unknown,
    Found(Box<LinkFound>),
}

/// A known invitation link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFound {
    pub item: WaitingItem,
    pub email: String,
    pub state: InvitationState,
    /// `None`: signed out; `Some(false)`: signed in as someone else.
    pub for_me: Option<bool>,
    pub token: String,
    pub flash: Flash,
}
