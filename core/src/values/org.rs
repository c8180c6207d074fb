//! Organizations as values: names, slugs, roles, what each role may do, and an invitation's
//! state. Pure rules shared by the server and the pages (the WASM shows the same role words).
//!
//! - Roles: [`allows`] is the one table of who may do what (the README prints it). The server
//!   asks it before every change; the pages only hide buttons it would refuse anyway.
//! - The last-owner rule is not here: it depends on the other members, so the store checks it
//!   in the transaction that makes the change (`mechanisms::orgs`).
//! - An invitation's state is computed from its row and the clock, never stored as "expired".

use crate::values::factors::MfaMethod;
use serde::{Deserialize, Serialize};

/// The most code points an organization's name may have.
pub const ORG_NAME_MAX: usize = 80;
/// The longest slug made from a name (a number may follow it when the slug is taken).
pub const SLUG_MAX: usize = 40;

/// A person's role in one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// The stored (or posted) form read back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// The word the pages show.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Member => "Member",
        }
    }
}

/// Something a member does in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See who belongs (the Members tab).
    SeeMembers,
    /// See, resend and revoke invitations.
    ManageInvitations,
    /// Invite someone with this role.
    Invite(Role),
    /// Change a member's role.
    ChangeRole { from: Role, to: Role },
    /// Remove someone else who has this role.
    Remove(Role),
    /// F7: recovery methods, allowed MFA methods, SMS calling codes.
    EditSettings,
    /// Make an admin an owner and step down to admin (S5).
    TransferOwnership,
    /// Leave the organization oneself.
    Leave,
}

/// The role table: whether `role` may do `action`. Owners may do everything; admins manage
/// admins and members, invitations and settings, but never touch an owner or make one; members
/// see the member list and may leave. (The last owner can still not leave or be demoted: see
/// `mechanisms::orgs`.)
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    let not_owner = |r: Role| r != Role::Owner;
    match role {
        Role::Owner => true,
        Role::Admin => match action {
            SeeMembers | ManageInvitations | EditSettings | Leave => true,
            Invite(r) | Remove(r) => not_owner(r),
            ChangeRole { from, to } => not_owner(from) && not_owner(to),
            TransferOwnership => false,
        },
        Role::Member => matches!(action, SeeMembers | Leave),
    }
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationState {
    Pending,
    Expired,
    Accepted,
    Declined,
    Revoked,
}

/// How an invitation was answered (the stored `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Declined,
    Revoked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Declined => "declined",
            Outcome::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Accepted, Outcome::Declined, Outcome::Revoked]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl InvitationState {
    /// The state of an invitation answered with `outcome` (if at all) that works until
    /// `expires_at`, at `now`.
    pub fn at(outcome: Option<Outcome>, expires_at: i64, now: i64) -> Self {
        match outcome {
            Some(Outcome::Accepted) => Self::Accepted,
            Some(Outcome::Declined) => Self::Declined,
            Some(Outcome::Revoked) => Self::Revoked,
            None if now >= expires_at => Self::Expired,
            None => Self::Pending,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Expired => "Expired",
            Self::Accepted => "Accepted",
            Self::Declined => "Declined",
            Self::Revoked => "Revoked",
        }
    }

    /// Resend and Revoke apply to an invitation nobody answered yet.
    pub fn open(self) -> bool {
        matches!(self, Self::Pending | Self::Expired)
    }
}

/// F7: an organization's sign-in and recovery rules for its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Recovery by an emailed link.
    pub recovery_email: bool,
    /// Recovery by a code sent by text message.
    pub recovery_sms: bool,
    /// The MFA methods members may use (never empty).
    pub mfa: Vec<MfaMethod>,
    /// The calling codes ("+44") text messages may go to; empty: any the instance allows.
    pub sms_codes: Vec<String>,
}

impl Default for Policy {
    /// Everything the instance offers.
    fn default() -> Self {
        Self {
            recovery_email: true,
            recovery_sms: true,
            mfa: MFA_ORDER.to_vec(),
            sms_codes: Vec::new(),
        }
    }
}

/// The MFA methods in the order the pages list them.
pub const MFA_ORDER: [MfaMethod; 3] = [MfaMethod::Email, MfaMethod::Sms, MfaMethod::Authenticator];

/// F7/R4: the calling codes text messages to a person may go to — the instance's, narrowed by
/// the person's rules (`Policy::strictest` of their organizations) when they have any.
pub fn sms_codes(rules: Option<&Policy>, instance: &[String]) -> Vec<String> {
    match rules {
        Some(p) => p.sms_codes_within(instance),
        None => instance.to_vec(),
    }
}

/// An MFA method's name on the pages (the settings checkboxes use the same words).
pub fn mfa_label(m: MfaMethod) -> &'static str {
    match m {
        MfaMethod::Email => "Email",
        MfaMethod::Sms => "Text message (SMS)",
        MfaMethod::Authenticator => "Authenticator app",
    }
}

/// Why a settings form was refused, per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    NoRecovery,
    NoMfa,
    CallingCode(String),
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoRecovery => f.write_str("Keep at least one recovery method."),
            Self::NoMfa => f.write_str("Keep at least one sign-in method."),
            Self::CallingCode(c) => write!(
                f,
                "{c:?} is not a calling code. Write codes like +1 +44, separated by spaces."
            ),
        }
    }
}

impl PolicyError {
    /// The form field the message belongs next to.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NoRecovery => "recovery",
            Self::NoMfa => "mfa",
            Self::CallingCode(_) => "sms_codes",
        }
    }
}

impl Policy {
    /// The settings form: checkboxes and the calling codes as typed ("+1 +44" or "+1, +44").
    pub fn from_form(
        recovery_email: bool,
        recovery_sms: bool,
        mfa: &[MfaMethod],
        sms_codes: &str,
    ) -> Result<Self, PolicyError> {
        if !recovery_email && !recovery_sms {
            return Err(PolicyError::NoRecovery);
        }
        let mfa: Vec<MfaMethod> = MFA_ORDER.into_iter().filter(|m| mfa.contains(m)).collect();
        if mfa.is_empty() {
            return Err(PolicyError::NoMfa);
        }
        let mut codes = Vec::new();
        for c in sms_codes.split([' ', ',', ';']).filter(|c| !c.is_empty()) {
            let digits = c.strip_prefix('+').unwrap_or_default();
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(PolicyError::CallingCode(c.chars().take(12).collect()));
            }
            if !codes.iter().any(|k: &String| k == c) {
                codes.push(c.to_string());
            }
        }
        Ok(Self {
            recovery_email,
            recovery_sms,
            mfa,
            sms_codes: codes,
        })
    }

    /// F7, "the strictest wins": the rules of several organizations together — a recovery
    /// method, an MFA method or a calling code is allowed only when every one of them allows
    /// it (an organization without a calling-code list does not restrict numbers). `None` for
    /// a person in no organization (the instance's settings alone apply).
    pub fn strictest<'a>(all: impl IntoIterator<Item = &'a Policy>) -> Option<Policy> {
        all.into_iter().fold(None, |acc: Option<Policy>, p| {
            Some(match acc {
                None => p.clone(),
                Some(a) => Policy {
                    recovery_email: a.recovery_email && p.recovery_email,
                    recovery_sms: a.recovery_sms && p.recovery_sms,
                    mfa: a.mfa.into_iter().filter(|m| p.mfa.contains(m)).collect(),
                    sms_codes: match (a.sms_codes.is_empty(), p.sms_codes.is_empty()) {
                        (true, _) => p.sms_codes.clone(),
                        (_, true) => a.sms_codes,
                        _ => a
                            .sms_codes
                            .into_iter()
                            .filter(|c| p.sms_codes.contains(c))
                            .collect(),
                    },
                },
            })
        })
    }

    /// Whether members may confirm sign-ins with `m`.
    pub fn allows_mfa(&self, m: MfaMethod) -> bool {
        self.mfa.contains(&m)
    }

    /// F7: whether a person may use `m` under these rules — for text messages, only to a
    /// `phone` whose calling code both these rules and the instance (`instance_codes`) accept.
    /// The sign-in's enforcement and the Security tab's notice ask this one question.
    pub fn allows_method(
        &self,
        m: MfaMethod,
        phone: Option<&crate::values::phone::Phone>,
        instance_codes: &[String],
    ) -> bool {
        self.allows_mfa(m)
            && (m != MfaMethod::Sms
                || phone.is_some_and(|p| p.is_allowed(&self.sms_codes_within(instance_codes))))
    }

    /// F7: what the person is told when their method is not allowed (the Security tab, the
    /// sign-in's notice): which organizations, and what they allow.
    pub fn mfa_words(&self, orgs: &[String]) -> String {
        let allowed: Vec<&str> = self.mfa.iter().map(|m| mfa_label(*m)).collect();
        format!(
            "{} allow{} only these sign-in methods: {}.",
            orgs.join(", "),
            if orgs.len() == 1 { "s" } else { "" },
            allowed.join(", ")
        )
    }

    /// F7: what a person is told when they asked for a recovery method their organizations do
    /// not allow.
    pub fn recovery_words(&self, orgs: &[String]) -> String {
        let who = format!(
            "{} allow{}",
            orgs.join(", "),
            if orgs.len() == 1 { "s" } else { "" }
        );
        match (self.recovery_email, self.recovery_sms) {
            (true, true) => format!("{who} every recovery method."),
            (true, false) => format!("{who} only a link by email to reset your password: choose Email link on the forgot-password page."),
            (false, true) => format!("{who} only a code by text message to reset your password: choose Text message on the forgot-password page."),
            (false, false) => format!("{who} no self-service password reset together. Ask an administrator of your organization or support for help."),
        }
    }

    /// The calling codes text messages may go to, given the instance's list.
    pub fn sms_codes_within(&self, instance: &[String]) -> Vec<String> {
        instance
            .iter()
            .filter(|c| self.sms_codes.is_empty() || self.sms_codes.contains(c))
            .cloned()
            .collect()
    }
}

/// An organization's name as stored, or the message for its field: trimmed, 2–80 code points,
/// no control characters (they could forge lines in the invitation email).
pub fn org_name(input: &str) -> Result<String, String> {
    let t = input.trim();
    if t.chars().count() < 2 {
        Err("Enter a name of at least 2 characters.".into())
    } else if t.chars().count() > ORG_NAME_MAX {
        Err(format!("Use at most {ORG_NAME_MAX} characters."))
    } else if t.chars().any(char::is_control) {
        Err("Use letters, digits, spaces and punctuation only.".into())
    } else {
        Ok(t.to_string())
    }
}

/// The address part of `/orgs/{slug}` made from a name: lower-case ASCII letters and digits,
/// other runs become one `-`; accents are dropped. A name with no such character gets `org`.
pub fn slug_of(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
        if s.len() >= SLUG_MAX {
            break;
        }
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "org".into()
    } else {
        s
    }
}

/// Whether `s` could be a slug this code made (the router's `{slug}` is checked before any
/// query).
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SLUG_MAX + 8
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Role::*;

    /// Every action, for the matrix.
    fn actions() -> Vec<Action> {
        let mut v = vec![
            SeeMembers,
            ManageInvitations,
            EditSettings,
            TransferOwnership,
            Leave,
        ];
        for r in Role::ALL {
            v.push(Invite(r));
            v.push(Remove(r));
            for t in Role::ALL {
                v.push(ChangeRole { from: r, to: t });
            }
        }
        v
    }

    /// The role × action matrix, written out: what the README's table says.
    fn expected(role: Role, a: Action) -> bool {
        matches!(
            (role, a),
            (Owner, _)
                | (Admin, SeeMembers | ManageInvitations | EditSettings | Leave)
                | (Admin, Invite(Admin | Member) | Remove(Admin | Member))
                | (
                    Admin,
                    ChangeRole {
                        from: Admin | Member,
                        to: Admin | Member,
                    }
                )
                | (Member, SeeMembers | Leave)
        )
    }

    #[test]
    fn roles_may_do_what_the_table_says_and_nothing_more() {
        let mut checked = 0;
        for role in Role::ALL {
            for a in actions() {
                assert_eq!(allows(role, a), expected(role, a), "{role:?} {a:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 3 * (5 + 3 * 2 + 9));
        // The cases that matter most, spelled out.
        assert!(!allows(Admin, Invite(Owner)), "an admin cannot make owners");
        assert!(!allows(
            Admin,
            ChangeRole {
                from: Owner,
                to: Admin
            }
        ));
        assert!(!allows(Admin, Remove(Owner)));
        assert!(!allows(Admin, TransferOwnership));
        assert!(!allows(Member, Invite(Member)));
        assert!(!allows(Member, ManageInvitations));
        assert!(!allows(Member, EditSettings));
        assert!(allows(Owner, TransferOwnership));
    }

    #[test]
    fn roles_round_trip_and_refuse_other_words() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("superuser"), None);
        assert_eq!(Role::parse("Owner"), None, "the stored form is lower case");
    }

    #[test]
    fn an_invitation_expires_at_its_time_unless_answered() {
        assert_eq!(InvitationState::at(None, 100, 99), InvitationState::Pending);
        assert_eq!(
            InvitationState::at(None, 100, 100),
            InvitationState::Expired
        );
        assert_eq!(
            InvitationState::at(Some(Outcome::Accepted), 100, 500),
            InvitationState::Accepted
        );
        assert_eq!(
            InvitationState::at(Some(Outcome::Revoked), 100, 5),
            InvitationState::Revoked
        );
        assert!(InvitationState::Expired.open());
        assert!(!InvitationState::Declined.open());
    }

    #[test]
    fn f7_a_policy_keeps_one_recovery_and_one_mfa_method_and_plain_calling_codes() {
        use MfaMethod::*;
        assert_eq!(
            Policy::from_form(false, false, &[Email], ""),
            Err(PolicyError::NoRecovery)
        );
        assert_eq!(
            Policy::from_form(true, false, &[], ""),
            Err(PolicyError::NoMfa)
        );
        assert_eq!(
            Policy::from_form(true, false, &[Email], "+1 44"),
            Err(PolicyError::CallingCode("44".into()))
        );
        let p = Policy::from_form(true, false, &[Authenticator, Email], "+1, +44 +1").expect("ok");
        assert_eq!(p.mfa, vec![Email, Authenticator], "in page order");
        assert_eq!(p.sms_codes, vec!["+1".to_string(), "+44".to_string()]);
    }

    #[test]
    fn f7_the_strictest_rules_win_across_organizations() {
        use MfaMethod::*;
        assert_eq!(Policy::strictest([]), None);
        let a = Policy::from_form(true, true, &[Email, Authenticator], "").expect("a");
        let b = Policy::from_form(true, false, &[Authenticator, Sms], "+44").expect("b");
        let c = Policy::from_form(true, true, &[Email, Sms, Authenticator], "+1 +44").expect("c");
        let s = Policy::strictest([&a, &b, &c]).expect("some");
        assert!(s.recovery_email && !s.recovery_sms);
        assert_eq!(s.mfa, vec![Authenticator]);
        assert_eq!(s.sms_codes, vec!["+44".to_string()]);
        assert!(!s.allows_mfa(Email));
        let instance = vec!["+1".to_string(), "+44".to_string()];
        assert_eq!(s.sms_codes_within(&instance), vec!["+44".to_string()]);
        assert_eq!(a.sms_codes_within(&instance), instance);
        // Two organizations with no recovery method in common leave none.
        let email_only = Policy::from_form(true, false, &[Email], "").expect("e");
        let sms_only = Policy::from_form(false, true, &[Email], "").expect("s");
        let none = Policy::strictest([&email_only, &sms_only]).expect("some");
        assert!(!none.recovery_email && !none.recovery_sms);
    }

    #[test]
    fn names_are_bounded_and_slugs_are_plain() {
        assert_eq!(org_name("  Acme Corp "), Ok("Acme Corp".into()));
        assert!(org_name("A").is_err());
        assert!(org_name("Acme\r\nBcc: x").is_err());
        assert!(org_name(&"x".repeat(ORG_NAME_MAX + 1)).is_err());
        assert_eq!(slug_of("Acme Corp"), "acme-corp");
        assert_eq!(slug_of("  Zoë's  Bäckerei!! "), "zo-s-b-ckerei");
        assert_eq!(slug_of("日本"), "org");
        assert!(slug_of(&"ab ".repeat(50)).len() <= SLUG_MAX);
        assert!(is_slug("acme-corp-2"));
        assert!(!is_slug("../etc"));
        assert!(!is_slug("Acme"));
        assert!(!is_slug(""));
    }
}
