//! Message templates: every outgoing email as plain text plus HTML, and the short text messages.
//!
//! F3: links are built only from the configured public base URL passed in by the caller, never from
//! a request's Host header. User-supplied text (names) is HTML-escaped.

use crate::mechanisms::outbox::{Channel, Message};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#1b1f24;max-width:36rem;margin:2rem auto;padding:0 1rem\">\
         <h1 style=\"font-size:1.25rem\">{t}</h1>{body}\
         <p style=\"color:#5b6470;font-size:.875rem\">Gatehouse — you receive this because of activity on your account.</p></body></html>",
        t = escape(title)
    )
}

fn email(to: &str, subject: &str, text: String, html_body: String) -> Message {
    Message {
        channel: Channel::Email,
        recipient: to.to_string(),
        subject: subject.to_string(),
        html: html_page(subject, &html_body),
        text,
    }
}

fn button(href: &str, label: &str) -> String {
    format!(
        "<p><a href=\"{h}\" style=\"display:inline-block;background:#2454d6;color:#fff;padding:.6rem 1rem;border-radius:.4rem;text-decoration:none\">{l}</a></p>",
        h = escape(href),
        l = escape(label)
    )
}

/// E1: the verification link for a new account.
pub fn verify_email(to: &str, first_name: &str, link: &str) -> Message {
    let text = format!(
        "Hello {first_name},\n\nWelcome to Gatehouse. Confirm your email address to finish creating your account:\n\n\
         Verify my email: {link}\n\nThe link expires in 24 hours. If you did not create an account, ignore this email.\n"
    );
    let html = format!(
        "<p>Hello {},</p><p>Welcome to Gatehouse. Confirm your email address to finish creating your account.</p>{}\
         <p>The link expires in 24 hours. If you did not create an account, ignore this email.</p>",
        escape(first_name),
        button(link, "Verify my email")
    );
    email(to, "Verify your email address", text, html)
}

/// E1: someone tried to register an address that already has an account.
pub fn registration_attempt(to: &str, login_link: &str) -> Message {
    let text = format!(
        "Someone tried to create a Gatehouse account with this email address, which already has one.\n\n\
         If it was you, sign in instead: {login_link}\nIf it was not you, you can ignore this email; nothing changed.\n"
    );
    let html = format!(
        "<p>Someone tried to create a Gatehouse account with this email address, which already has one.</p>\
         <p>If it was you, sign in instead.</p>{}<p>If it was not you, you can ignore this email; nothing changed.</p>",
        button(login_link, "Sign in")
    );
    email(
        to,
        "Someone tried to register with your address",
        text,
        html,
    )
}

/// M1/M2: the sign-in code.
pub fn login_code(to: &str, code: &str, ttl_minutes: i64) -> Message {
    let text = format!(
        "Your Gatehouse sign-in code is {code}\n\nIt expires in {ttl_minutes} minutes. Never share it: Gatehouse staff will never ask for it.\n\
         If you are not signing in, someone knows your password: change it.\n"
    );
    let html = format!(
        "<p>Your sign-in code is</p><p style=\"font-size:2rem;letter-spacing:.3rem;font-weight:700\">{}</p>\
         <p>It expires in {ttl_minutes} minutes. Never share it: Gatehouse staff will never ask for it.</p>\
         <p>If you are not signing in, someone knows your password: change it.</p>",
        escape(code)
    );
    email(to, "Your sign-in code", text, html)
}

/// R5: the account was soft-locked after too many failed sign-ins.
pub fn account_locked(to: &str, minutes: i64, login_link: &str) -> Message {
    let text = format!(
        "There were too many failed attempts to sign in to your Gatehouse account, so sign-in is paused for {minutes} minutes.\n\n\
         The pause ends by itself. If these attempts were not yours, choose a new password after it ends: {login_link}\n"
    );
    let html = format!(
        "<p>There were too many failed attempts to sign in to your Gatehouse account, so sign-in is paused for {minutes} minutes.</p>\
         <p>The pause ends by itself. If these attempts were not yours, choose a new password after it ends.</p>{}",
        button(login_link, "Go to sign-in")
    );
    email(to, "Sign-in to your account is paused", text, html)
}

/// Support's email change: the confirmation link, sent to the new address.
pub fn email_change_confirm(to: &str, first_name: &str, link: &str, hours: i64) -> Message {
    let text = format!(
        "Hello {first_name},\n\nGatehouse support was asked to make this address the email of your account.\n\
         Confirm it to finish:\n\nConfirm my new email: {link}\n\nThe link expires in {hours} hours. \
         Nothing changes until it is used. If you did not ask for this, ignore this email.\n"
    );
    let html = format!(
        "<p>Hello {},</p><p>Gatehouse support was asked to make this address the email of your account. Confirm it to finish.</p>{}\
         <p>The link expires in {hours} hours. Nothing changes until it is used. If you did not ask for this, ignore this email.</p>",
        escape(first_name),
        button(link, "Confirm my new email")
    );
    email(to, "Confirm your new email address", text, html)
}

/// Support's email change, to the address in use now: what was asked, and its own
/// confirmation link (both addresses must confirm).
pub fn email_change_confirm_old(to: &str, new_masked: &str, link: &str, hours: i64) -> Message {
    let what = format!(
        "Gatehouse support started changing the email of your account to {new_masked}. \
         Nothing changes until both that address and this one confirm it."
    );
    let text = format!(
        "{what}\n\nIf you asked for it, confirm here: {link}\n\nThe link expires in {hours} hours. \
         If you did not ask for this, do not confirm, and contact support at once.\n"
    );
    let html = format!(
        "<p>{}</p>{}<p>The link expires in {hours} hours. If you did not ask for this, do not confirm, and contact support at once.</p>",
        escape(&what),
        button(link, "Confirm the change")
    );
    email(
        to,
        "A change of your email address was requested",
        text,
        html,
    )
}

/// Support's email change is made: the notice to the address the account no longer uses.
pub fn email_change_done(to: &str, new_masked: &str) -> Message {
    let what = format!(
        "Your Gatehouse account now uses {new_masked} to sign in. This address no longer does."
    );
    let text = format!("{what}\n\nIf you did not ask for this, contact support at once.\n");
    let html = format!(
        "<p>{}</p><p>If you did not ask for this, contact support at once.</p>",
        escape(&what)
    );
    email(to, "Your email address was changed", text, html)
}

/// M8: support reset the sign-in method to email codes.
pub fn mfa_reset(to: &str, login_link: &str) -> Message {
    let text = format!(
        "At your request, Gatehouse support reset how you confirm sign-ins: codes now come by email.\n\n\
         Your authenticator app and your recovery codes no longer work. After signing in you can set up an app again\n\
         from the Security tab: {login_link}\n\nIf you did not ask for this, contact support at once.\n"
    );
    let html = format!(
        "<p>At your request, Gatehouse support reset how you confirm sign-ins: codes now come by email.</p>\
         <p>Your authenticator app and your recovery codes no longer work. After signing in you can set up an app again from the Security tab.</p>{}\
         <p>If you did not ask for this, contact support at once.</p>",
        button(login_link, "Sign in")
    );
    email(to, "Your sign-in method was reset", text, html)
}

/// R1: support lifted the pause on sign-in.
pub fn account_unlocked(to: &str, login_link: &str) -> Message {
    let text = format!(
        "Gatehouse support lifted the pause on signing in to your account after failed attempts. You can sign in again:\n\n\
         {login_link}\n\nIf you did not ask for this, change your password and contact support.\n"
    );
    let html = format!(
        "<p>Gatehouse support lifted the pause on signing in to your account after failed attempts. You can sign in again.</p>{}\
         <p>If you did not ask for this, change your password and contact support.</p>",
        button(login_link, "Sign in")
    );
    email(to, "Your account was unlocked", text, html)
}

/// F2/F3: the reset link (built from the public URL by the caller), valid `minutes`.
pub fn password_reset(to: &str, first_name: &str, link: &str, minutes: i64) -> Message {
    let text = format!(
        "Hello {first_name},\n\nSomeone (we hope you) asked to reset the password of your Gatehouse account.\n\n\
         Reset My Password: {link}\n\nThe link works once and expires in {minutes} minutes. If you did not ask, ignore this\n\
         email: your password stays as it is.\n"
    );
    let html = format!(
        "<p>Hello {},</p><p>Someone (we hope you) asked to reset the password of your Gatehouse account.</p>{}\
         <p>The link works once and expires in {minutes} minutes. If you did not ask, ignore this email: your password stays as it is.</p>",
        escape(first_name),
        button(link, "Reset My Password")
    );
    email(to, "Reset your password", text, html)
}

/// F8: the reset link by text message (a 128-bit token keeps it short).
pub fn password_reset_sms(to: &str, link: &str, minutes: i64) -> Message {
    Message {
        channel: Channel::Sms,
        recipient: to.to_string(),
        subject: String::new(),
        text: format!("Gatehouse: reset your password at {link} (works once, {minutes} min)."),
        html: String::new(),
    }
}

/// A password reset was asked for from an address this account was never used from.
pub fn reset_from_new_place(to: &str, ip: &str, when: &str, forgot_link: &str) -> Message {
    let text = format!(
        "Someone asked to reset the password of your Gatehouse account from a place we have not seen\n\
         before (address {ip}, {when}). If it was you, nothing to do. If not, your password still works,\n\
         and nobody can reset it without your email or phone; you can ask for a reset yourself: {forgot_link}\n"
    );
    let html = format!(
        "<p>Someone asked to reset the password of your Gatehouse account from a place we have not seen before (address {}, {}).</p>\
         <p>If it was you, nothing to do. If not, your password still works, and nobody can reset it without your email or phone.</p>",
        escape(ip),
        escape(when)
    );
    email(to, "Password reset requested from a new place", text, html)
}

/// F5/P7: the password was changed (by reset or from the Security tab).
pub fn password_changed(to: &str, forgot_link: &str) -> Message {
    let text = format!(
        "The password of your Gatehouse account was just changed, and every other session was signed out.\n\n\
         If this was not you, reset your password at once: {forgot_link}\n"
    );
    let html = format!(
        "<p>The password of your Gatehouse account was just changed, and every other session was signed out.</p>\
         <p>If this was not you, reset your password at once.</p>{}",
        button(forgot_link, "Reset my password")
    );
    email(to, "Your password was changed", text, html)
}

/// M1/M9: a code by text message; short, no link, says what it is for and not to share it.
pub fn sms_code(to: &str, code: &str, ttl_minutes: i64) -> Message {
    Message {
        channel: Channel::Sms,
        recipient: to.to_string(),
        subject: String::new(),
        text: format!(
            "Your Gatehouse code is {code}. It expires in {ttl_minutes} min. Never share it."
        ),
        html: String::new(),
    }
}

/// What the owner is told on the old channel when the sign-in method changes (M7).
pub struct MethodChange<'a> {
    /// How codes will come from now on, in words ("an authenticator app", "text messages to +•••0200").
    pub new_method: &'a str,
    /// True when the change waits for the next sign-in (an authenticator is set up then).
    pub pending: bool,
    pub security_link: &'a str,
}

/// M7: the sign-in method changed (or will at the next sign-in), told on the old channel.
pub fn mfa_changed_email(to: &str, c: &MethodChange<'_>) -> Message {
    let what = if c.pending {
        format!(
            "At your next sign-in you will set up {}; after that, codes come from there.",
            c.new_method
        )
    } else {
        format!("From now on, sign-in codes come from {}.", c.new_method)
    };
    let text = format!(
        "The way you confirm sign-ins to Gatehouse was changed. {what}\n\n\
         If this was not you, sign in and check the Security tab at once, then contact support: {}\n",
        c.security_link
    );
    let html = format!(
        "<p>The way you confirm sign-ins to Gatehouse was changed. {}</p>\
         <p>If this was not you, sign in and check the Security tab at once, then contact support.</p>{}",
        escape(&what),
        button(c.security_link, "Open the Security tab")
    );
    email(to, "Your sign-in method was changed", text, html)
}

/// M7: the same notice by text message, when the old method was SMS.
pub fn mfa_changed_sms(to: &str) -> Message {
    Message {
        channel: Channel::Sms,
        recipient: to.to_string(),
        subject: String::new(),
        text: "Gatehouse: your sign-in method was changed and codes no longer come to this number. Not you? Contact support.".into(),
        html: String::new(),
    }
}

/// M7: the account's phone changed (`new_masked`) or was removed (`None`), told by email.
pub fn phone_changed_email(to: &str, new_masked: Option<&str>, security_link: &str) -> Message {
    let what = match new_masked {
        Some(p) => format!("The phone number on your Gatehouse account is now {p}."),
        None => "The phone number on your Gatehouse account was removed.".to_string(),
    };
    let text = format!(
        "{what}\n\nIf this was not you, sign in and check the Security tab at once, then contact support: {security_link}\n"
    );
    let html = format!(
        "<p>{}</p><p>If this was not you, sign in and check the Security tab at once, then contact support.</p>{}",
        escape(&what),
        button(security_link, "Open the Security tab")
    );
    email(to, "Your phone number was changed", text, html)
}

/// M7: the old number is told it no longer belongs to the account.
pub fn phone_replaced_sms(to: &str) -> Message {
    Message {
        channel: Channel::Sms,
        recipient: to.to_string(),
        subject: String::new(),
        text: "Gatehouse: this number was removed from your account and gets no more codes. Not you? Contact support.".into(),
        html: String::new(),
    }
}

/// Issue 14: an invitation to an organization. E1: the same words whether or not the address
/// has an account; the link's page tells the person what to do next.
pub fn invitation(
    to: &str,
    org_name: &str,
    inviter: &str,
    role: &str,
    link: &str,
    days: i64,
) -> Message {
    // R7: the organization's name and the inviter's are typed by whoever sends this: quoted
    // as data inside the text, never the subject's first words (no phishing headline on our
    // domain), and the reader is told they may ignore it.
    let text = format!(
        "Someone using Gatehouse invited you to an organization.\n\n\
         Organization name (as its owner typed it): \"{org_name}\"\n\
         Invited by: {inviter}\nRole: {role}\n\n\
         View invitation: {link}\n\nThe invitation expires in {days} days. If you do not expect it \
         or do not know who sent it, you can ignore this email: nothing happens unless you accept.\n"
    );
    let html = format!(
        "<p>Someone using Gatehouse invited you to an organization.</p>\
         <p>Organization name (as its owner typed it): &ldquo;{}&rdquo;<br>Invited by: {}<br>Role: {}</p>{}\
         <p>The invitation expires in {days} days. If you do not expect it or do not know who sent it, \
         you can ignore this email: nothing happens unless you accept.</p>",
        escape(org_name),
        escape(inviter),
        escape(role),
        button(link, "View invitation"),
    );
    email(to, INVITATION_SUBJECT, text, html)
}

/// R7: the subject of every invitation, the same whoever sends it.
pub const INVITATION_SUBJECT: &str = "Invitation to an organization on Gatehouse";

/// Issue 14: ownership of an organization changed hands; both people get this (`you_received`
/// says which side the recipient is on).
pub fn ownership_transferred(
    to: &str,
    org_name: &str,
    other: &str,
    you_received: bool,
    link: &str,
) -> Message {
    let what = if you_received {
        format!("{other} made you an owner of {org_name} and is now an admin there.")
    } else {
        format!("You handed over ownership of {org_name} to {other}; you are now an admin there.")
    };
    let text = format!("{what}\n\n{link}\n\nIf this was not expected, contact support at once.\n");
    let html = format!(
        "<p>{}</p>{}<p>If this was not expected, contact support at once.</p>",
        escape(&what),
        button(link, "Open the organization")
    );
    email(to, &format!("Ownership of {org_name} changed"), text, html)
}

/// F7: a reset was asked for by a way the person's organizations do not allow; nothing was
/// sent that way. `rule` says what they allow.
pub fn recovery_not_allowed(to: &str, tried: &str, rule: &str, forgot_link: &str) -> Message {
    let text = format!(
        "Someone asked to reset the password of this account by {tried}. Nothing was sent that way: {rule}\n\n\
         {forgot_link}\n\nIf it was not you, you can ignore this email; nothing changed.\n"
    );
    let html = format!(
        "<p>Someone asked to reset the password of this account by {}. Nothing was sent that way: {}</p>{}\
         <p>If it was not you, you can ignore this email; nothing changed.</p>",
        escape(tried),
        escape(rule),
        button(forgot_link, "Reset password")
    );
    email(to, "Your password reset request", text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_have_text_and_escaped_html() {
        let m = verify_email(
            "a@example.com",
            "<b>Ada</b>",
            "https://id.example.com/verify-email?token=t",
        );
        assert!(m
            .text
            .contains("Verify my email: https://id.example.com/verify-email?token=t"));
        assert!(m.html.contains("&lt;b&gt;Ada&lt;/b&gt;"));
        assert!(!m.html.contains("<b>Ada"));
        assert!(m.html.contains(">Verify my email</a>"));
    }

    #[test]
    fn g1_message_debug_hides_bodies() {
        let m = login_code("a@example.com", "123456", 10);
        assert!(m.text.contains("123456"));
        assert!(!format!("{m:?}").contains("123456"));
    }
}
