//! Form fields: a real `<label for>` on every input (Playwright and screen readers find fields by
//! label), the server's message right under the field (`aria-describedby`, `aria-invalid`), and
//! what the person typed kept on error. Password fields never get a value back (P8) but get a
//! show/hide toggle and, for new passwords, the live strength meter and policy hint (P3) computed
//! by the same Rust code the server runs.

use gatehouse_core::password::{strength, PasswordPolicy};
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
                required=true
                disabled=disabled
                autofocus=autofocus
                autocomplete=opt(autocomplete)
                inputmode=opt(inputmode)
                maxlength=maxlength
                aria-invalid=invalid
                aria-describedby=described
            />
            {hint.map(|h| view! { <p class="field__hint" id=hint_id>{h}</p> })}
            {error.map(|e| view! { <p class="field__error" id=err_id>{e}</p> })}
        </div>
    }
}

/// A password input with show/hide (after hydration) and, when `policy` is given, a live
/// strength meter and length hint.
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
    /// P8: the field empties whenever this changes (e.g. the form's action completed), so a
    /// password never survives a submission, with or without JavaScript.
    #[prop(optional, into)]
    clear_on: Option<Signal<usize>>,
) -> impl IntoView {
    let err_id = format!("{id}-error");
    let live_id = format!("{id}-live");
    let (shown, set_shown) = signal(false);
    let (hydrated, set_hydrated) = signal(false);
    let (typed, set_typed) = signal(String::new());
    Effect::new(move |_| set_hydrated.set(true));
    let cleared = move || {
        if let Some(c) = clear_on {
            c.track();
        }
        String::new()
    };
    Effect::new(move |_| {
        if let Some(c) = clear_on {
            c.track();
            set_typed.set(String::new());
        }
    });
    let described = match (&error, policy) {
        (Some(_), Some(_)) => Some(format!("{err_id} {live_id}")),
        (Some(_), None) => Some(err_id.clone()),
        (None, Some(_)) => Some(live_id.clone()),
        (None, None) => None,
    };
    let min = policy.map(|p| p.min_length).unwrap_or(0);
    let meter = move || {
        let pw = typed.get();
        let s = strength(&pw);
        let count = PasswordPolicy::normalize(&pw).chars().count();
        let hint = if pw.is_empty() {
            format!("At least {min} characters. A few unusual words make a strong password.")
        } else if count < min {
            format!("{} more character(s) needed.", min - count)
        } else if count > gatehouse_core::password::MAX_LENGTH {
            format!(
                "Use at most {} characters.",
                gatehouse_core::password::MAX_LENGTH
            )
        } else {
            format!("Strength: {}", s.label())
        };
        (s.0, hint)
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
                    prop:value=cleared
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
            {policy.map(|_| view! {
                <div class="meter" id=live_id aria-live="polite">
                    <meter
                        min="0"
                        max="4"
                        low="2"
                        high="3"
                        optimum="4"
                        value=move || meter().0
                        aria-label="Password strength"
                        hidden=move || typed.get().is_empty()
                    ></meter>
                    <p class="field__hint">{move || meter().1}</p>
                </div>
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

/// After hydration a form posts through `fetch`; when the server refuses the call itself (a
/// body over the limit: 413, a malformed call: 400, a fault: 500) the page's own state has no
/// message for it, so the form says it here, by its button. Without JavaScript the same refusal
/// is a readable page instead.
pub fn action_failure<S>(action: ServerAction<S>) -> impl IntoView
where
    S: server_fn::ServerFn<Error = ServerFnError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    move || {
        action
            .value()
            .with(|v| match v {
                Some(Err(ServerFnError::ServerError(m))) => Some(m.clone()),
                Some(Err(_)) => {
                    Some("That form could not be sent. Reload the page and try again.".to_string())
                }
                _ => None,
            })
            .map(|m| view! { <div class="message message--error" role="alert">{m}</div> })
    }
}
