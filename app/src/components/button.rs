//! The submit button of a form. Forms are plain POSTs (the page reloads with the answer), so the
//! button has no client state; `busy` exists for the gallery's loading specimen.

use leptos::prelude::*;

#[component]
pub fn SubmitButton(
    #[prop(into)] label: String,
    #[prop(optional)] secondary: bool,
    #[prop(optional)] disabled: bool,
    #[prop(optional)] busy: bool,
    #[prop(default = None)] name: Option<String>,
    /// What the form sends under `name` when this button submits it (one of several choices).
    #[prop(optional)]
    value: Option<&'static str>,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            name=name
            value=value
            class="button"
            class:button--secondary=secondary
            disabled=disabled || busy
            aria-busy=busy.then_some("true")
        >
            <span class="button__spinner" aria-hidden="true"></span>
            {label}
        </button>
    }
}
