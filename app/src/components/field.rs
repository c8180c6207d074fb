//! Form fields: a real `<label for>` on every input (Playwright and screen readers find fields by
//! label), the server's message right under the field (`aria-describedby`, `aria-invalid`), and
//! what the person typed kept on error. Password fields never get a value back (P8) but get a
//! show/hide toggle and, for new passwords, the live strength meter and policy hint (P3) computed
//! by the same Rust code the server runs — the one island here, everything else is server-only.

use gatehouse_core::values::password::{strength, PasswordPolicy, MAX_LENGTH};
use leptos::prelude::*;

fn opt(s: &'static str) -> Option<&'static str> {
    (!s.is_empty()).then_some(s)
}

/// A labelled text-like input with its error and hint.
#[component]
pub fn Field(
    #[prop(into)] id: String,
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(default = None)] error: Option<String>,
    #[prop(default = None)] hint: Option<String>,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] inputmode: &'static str,
    #[prop(optional)] disabled: bool,
    #[prop(optional)] autofocus: bool,
    #[prop(default = None)] maxlength: Option<usize>,
    /// File inputs: the types offered in the picker (the server decides what it takes).
    #[prop(optional)]
    accept: &'static str,
    /// An empty value means something (no phone): the browser must not insist.
    #[prop(optional)]
    optional: bool,
) -> impl IntoView {
    let err_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = match (&error, &hint) {
        (Some(_), Some(_)) => Some(format!("{err_id} {hint_id}")),
        (Some(_), None) => Some(err_id.clone()),
        (None, Some(_)) => Some(hint_id.clone()),
        (None, None) => None,
    };
    let invalid = error.is_some().then_some("true");
    let has_error = error.is_some();
    view! {
        <div class="field" class:field--error=has_error>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                value=value
                required=!optional
                disabled=disabled
                autofocus=autofocus
                autocomplete=opt(autocomplete)
                inputmode=opt(inputmode)
                maxlength=maxlength
                accept=opt(accept)
                aria-invalid=invalid
                aria-describedby=described
            />
            {hint.map(|h| view! { <p class="field__hint" id=hint_id>{h}</p> })}
            {error.map(|e| view! { <p class="field__error" id=err_id>{e}</p> })}
        </div>
    }
}

/// A password input with show/hide and, when `policy` is given, a live strength meter and
/// length hint. The server renders the whole field (the hint reads "At least N characters"
/// before any script runs); the [`PasswordInput`] island makes it live.
#[component]
pub fn PasswordField(
    #[prop(into)] id: String,
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    #[prop(default = None)] error: Option<String>,
    #[prop(default = "current-password")] autocomplete: &'static str,
    #[prop(default = None)] policy: Option<PasswordPolicy>,
    #[prop(optional)] disabled: bool,
    #[prop(optional)] autofocus: bool,
) -> impl IntoView {
    view! {
        <PasswordInput
            id=id
            label=label
            name=name
            error=error
            autocomplete=autocomplete.to_string()
            min_length=policy.map(|p| p.min_length)
            disabled=disabled
            autofocus=autofocus
        />
    }
}

/// P3: the hint under a new password, from the same policy code the server enforces.
fn password_hint(typed: &str, min: usize) -> (u8, String) {
    let s = strength(typed);
    let count = PasswordPolicy::normalize(typed).chars().count();
    let hint = if typed.is_empty() {
        format!("At least {min} characters. A few unusual words make a strong password.")
    } else if count < min {
        format!("{} more character(s) needed.", min - count)
    } else if count > MAX_LENGTH {
        format!("Use at most {MAX_LENGTH} characters.")
    } else {
        format!("Strength: {}", s.label())
    };
    (s.0, hint)
}

/// The island behind [`PasswordField`]. P8: a password is never given back as a value, so the
/// field is empty after every submission.
#[island]
fn PasswordInput(
    id: String,
    label: String,
    name: String,
    error: Option<String>,
    autocomplete: String,
    min_length: Option<usize>,
    disabled: bool,
    autofocus: bool,
) -> impl IntoView {
    let err_id = format!("{id}-error");
    let live_id = format!("{id}-live");
    let (shown, set_shown) = signal(false);
    let (hydrated, set_hydrated) = signal(false);
    let (typed, set_typed) = signal(String::new());
    Effect::new(move |_| set_hydrated.set(true));
    let described = match (&error, min_length) {
        (Some(_), Some(_)) => Some(format!("{err_id} {live_id}")),
        (Some(_), None) => Some(err_id.clone()),
        (None, Some(_)) => Some(live_id.clone()),
        (None, None) => None,
    };
    let has_error = error.is_some();
    view! {
        <div class="field field--password" class:field--error=has_error>
            <label for=id.clone()>{label}</label>
            <div class="field__row">
                <input
                    id=id
                    name=name
                    type=move || if shown.get() { "text" } else { "password" }
                    required=true
                    disabled=disabled
                    autofocus=autofocus
                    autocomplete=autocomplete
                    aria-invalid=has_error.then_some("true")
                    aria-describedby=described
                    on:input=move |ev| set_typed.set(event_target_value(&ev))
                />
                <button
                    type="button"
                    class="button button--ghost field__toggle"
                    hidden=move || !hydrated.get()
                    aria-pressed=move || if shown.get() { "true" } else { "false" }
                    on:click=move |_| set_shown.update(|s| *s = !*s)
                >
                    {move || if shown.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            {min_length.map(|min| {
                let meter = move || typed.with(|t| password_hint(t, min));
                view! {
                    <div class="meter" id=live_id aria-live="polite">
                        <meter
                            min="0"
                            max="4"
                            low="2"
                            high="3"
                            optimum="4"
                            value=move || meter().0
                            aria-label="Password strength"
                            hidden=move || typed.with(String::is_empty)
                        ></meter>
                        <p class="field__hint">{move || meter().1}</p>
                    </div>
                }
            })}
            {error.map(|e| view! { <p class="field__error" id=err_id>{e}</p> })}
        </div>
    }
}

/// A message for the whole form: an error (role=alert) or a notice (role=status).
#[component]
pub fn FormMessage(
    #[prop(default = None)] error: Option<String>,
    #[prop(default = None)] notice: Option<String>,
) -> impl IntoView {
    view! {
        {error.map(|e| view! { <div class="message message--error" role="alert">{e}</div> })}
        {notice.map(|n| view! { <div class="message message--notice" role="status">{n}</div> })}
    }
}
