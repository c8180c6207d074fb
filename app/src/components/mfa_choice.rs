//! The **MFA method** radio group, shared by registration and the Security tab: Email, Text
//! message (SMS) with its **Phone** field, Authenticator app.
//!
//! - M9: the SMS option says it may cost and is weaker than an app; where text messages are off
//!   it says they are not available. The phone field shows when SMS is picked — by CSS
//!   (`:has(:checked)`), so it works before (and without) the WASM.
//! - M11: the authenticator is described as the strongest choice; the UI never names an app (M4).

use gatehouse_core::values::factors::MfaMethod;
use leptos::prelude::*;

#[component]
pub fn MfaMethodChoice(
    /// Prefix for element ids, unique per page ("reg", "sec").
    #[prop(into)]
    id: String,
    /// The option checked (email when nothing was chosen yet).
    #[prop(default = MfaMethod::Email)]
    selected: MfaMethod,
    #[prop(optional, into)] phone: String,
    #[prop(default = None)] phone_error: Option<String>,
    #[prop(default = None)] error: Option<String>,
    /// Calling codes SMS may go to; empty when text messages are off.
    sms_country_codes: Vec<String>,
    /// What the email option says (e.g. where codes go).
    #[prop(into)]
    email_note: String,
    /// What the authenticator option says.
    #[prop(into)]
    totp_note: String,
) -> impl IntoView {
    let sms_on = !sms_country_codes.is_empty();
    let option = |method: MfaMethod, label: &'static str, note: String| {
        let value = method.as_str();
        let input_id = format!("{id}-mfa-{value}");
        let desc_id = format!("{input_id}-desc");
        let checked = selected == method;
        let disabled = method == MfaMethod::Sms && !sms_on;
        view! {
            <div class="choice__option">
                <input type="radio" id=input_id.clone() name="mfa_method" value=value checked=checked disabled=disabled aria-describedby=desc_id.clone() />
                <label for=input_id>{label}</label>
                <small id=desc_id>{note}</small>
            </div>
        }
    };
    let sms_note = if sms_on {
        "A code by text message. Messages may cost money, and SMS is weaker than an app: numbers can be hijacked.".to_string()
    } else {
        "Text messages are not available in your area.".to_string()
    };
    let phone_id = format!("{id}-phone");
    let phone_hint = format!(
        "With the country code, like +1 555 010 0200. Text messages can go to numbers starting {}.",
        sms_country_codes.join(", ")
    );
    let hint_id = format!("{phone_id}-hint");
    let err_id = format!("{phone_id}-error");
    let described = if phone_error.is_some() {
        format!("{err_id} {hint_id}")
    } else {
        hint_id.clone()
    };
    let group_err = format!("{id}-mfa-error");
    let has_phone_error = phone_error.is_some();
    view! {
        <fieldset class="choice" aria-describedby=format!("{id}-mfa-hint")>
            <legend>"MFA method"</legend>
            <p class="field__hint" id=format!("{id}-mfa-hint")>"Every sign-in asks for a six-digit code after your password."</p>
            {option(MfaMethod::Email, "Email", email_note)}
            {option(MfaMethod::Sms, "Text message (SMS)", sms_note)}
            {sms_on.then(|| view! {
                <div class="field choice__phone" class:field--error=has_phone_error>
                    <label for=phone_id.clone()>"Phone"</label>
                    <input id=phone_id name="phone" type="tel" autocomplete="tel" inputmode="tel" value=phone aria-invalid=phone_error.as_ref().map(|_| "true") aria-describedby=described />
                    <p class="field__hint" id=hint_id>{phone_hint}</p>
                    {phone_error.map(|e| view! { <p class="field__error" id=err_id>{e}</p> })}
                </div>
            })}
            {option(MfaMethod::Authenticator, "Authenticator app", totp_note)}
            {error.map(|e| view! { <p class="field__error" id=group_err>{e}</p> })}
        </fieldset>
    }
}
