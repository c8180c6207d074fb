//! The submit button: disabled and `aria-busy` while its action is in flight, so a double click
//! cannot send a form twice.

use leptos::prelude::*;

#[component]
pub fn SubmitButton(
    #[prop(into)] label: String,
    #[prop(optional, into)] pending: Signal<bool>,
    #[prop(optional)] secondary: bool,
    #[prop(optional)] disabled: bool,
    #[prop(default = None)] name: Option<String>,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            name=name
            class="button"
            class:button--secondary=secondary
            disabled=move || disabled || pending.get()
            aria-busy=move || if pending.get() { Some("true") } else { None }
        >
            <span class="button__spinner" aria-hidden="true"></span>
            {label}
        </button>
    }
}
