//! The Profile tab's form, enhanced by an island (seed 001: "a change saved on one tab shows
//! everywhere at once").
//!
//! Without JavaScript (or before the WASM runs) it is a plain POST → 303 with its outcome in the
//! flash, like every form. Once hydrated, a save that changes only the names calls
//! `save_profile` directly: the answer is the same `Flash` (nothing is stored for a script
//! caller), shown in place — the notice in a live region, each refusal next to its field with
//! `aria-invalid` — and on success the top bar's name and initials change without a reload.
//! A save that changes the phone opens new steps (its code, a re-authentication) that the
//! server renders, so it stays a plain post. A second submit while one is in flight is ignored.

use crate::api::profile::SaveProfile;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// `<form>` around the server-rendered fields (children).
#[island]
pub fn ProfileForm(children: Children) -> impl IntoView {
    let busy = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        enhance::submit(ev, busy, notice, problem);
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <form method="post" action=SaveProfile::url() class="method-form" on:submit=on_submit
            aria-busy=move || busy.get().then_some("true")>
            <div class="message message--notice" role="status" hidden=move || notice.get().is_none()>{move || notice.get()}</div>
            <div class="message message--error" role="alert" hidden=move || problem.get().is_none()>{move || problem.get()}</div>
            {children()}
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod enhance {
    use crate::api::profile::save_profile;
    use crate::wire::{initials, AppError, Flash};
    use leptos::prelude::*;
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::{Element, HtmlFormElement, HtmlInputElement};

    const FIELDS: [&str; 3] = ["first_name", "last_name", "phone"];

    fn input(form: &HtmlFormElement, name: &str) -> Option<HtmlInputElement> {
        form.elements()
            .named_item(name)
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
    }

    pub fn submit(
        ev: leptos::ev::SubmitEvent,
        busy: RwSignal<bool>,
        notice: RwSignal<Option<String>>,
        problem: RwSignal<Option<String>>,
    ) {
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
        else {
            return;
        };
        let (Some(first), Some(last), Some(phone)) = (
            input(&form, "first_name"),
            input(&form, "last_name"),
            input(&form, "phone"),
        ) else {
            return;
        };
        // A new phone number: the server renders its next steps; the plain post goes ahead.
        if phone.value() != phone.default_value() {
            return;
        }
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let flash = save_profile(first.value(), last.value(), phone.value())
                .await
                .unwrap_or_else(|_| Flash::for_form("profile").with_failure(AppError::Internal));
            show(&form, &flash);
            notice.set(flash.notice.clone());
            problem.set(flash.form_error.clone());
            if flash.errors.is_empty() && flash.form_error.is_none() {
                saved(&first, &last);
            }
            busy.set(false);
        });
    }

    /// Each field's message from the answer (and none where there is none now).
    fn show(form: &HtmlFormElement, flash: &Flash) {
        let doc = document();
        for name in FIELDS {
            let Some(el) = input(form, name) else {
                continue;
            };
            let err_id = format!("{}-error", el.id());
            if let Some(old) = doc.get_element_by_id(&err_id) {
                old.remove();
            }
            let hint_id = format!("{}-hint", el.id());
            let hint = doc.get_element_by_id(&hint_id).map(|_| hint_id);
            let message = flash.error(name);
            let described = match (&message, &hint) {
                (Some(_), Some(h)) => Some(format!("{err_id} {h}")),
                (Some(_), None) => Some(err_id.clone()),
                (None, h) => h.clone(),
            };
            let _ = match described {
                Some(d) => el.set_attribute("aria-describedby", &d),
                None => el.remove_attribute("aria-describedby"),
            };
            let field = el.parent_element();
            match (message, field) {
                (Some(m), Some(field)) => {
                    let _ = el.set_attribute("aria-invalid", "true");
                    let _ = field.class_list().add_1("field--error");
                    if let Ok(p) = doc.create_element("p") {
                        p.set_class_name("field__error");
                        p.set_id(&err_id);
                        p.set_text_content(Some(&m));
                        let _ = field.append_child(&p);
                    }
                }
                (_, field) => {
                    let _ = el.remove_attribute("aria-invalid");
                    if let Some(f) = field {
                        let _ = f.class_list().remove_1("field--error");
                    }
                }
            }
        }
    }

    /// The names as stored (trimmed, like the server) in the form and in the top bar.
    fn saved(first: &HtmlInputElement, last: &HtmlInputElement) {
        let (f, l) = (
            first.value().trim().to_string(),
            last.value().trim().to_string(),
        );
        for (el, v) in [(first, &f), (last, &l)] {
            el.set_value(v);
            el.set_default_value(v);
        }
        let doc = document();
        let set = |selector: &str, text: &str| {
            if let Ok(Some(el)) = doc.query_selector(selector) {
                let el: Element = el;
                el.set_text_content(Some(text));
            }
        };
        set(".user-menu__name", format!("{f} {l}").trim());
        set(".user-menu__button span.avatar", &initials(&f, &l));
    }
}
