//! The Profile tab's form, enhanced by an island (seed 001: "a change saved on one tab shows
//! everywhere at once").
//!
//! Without JavaScript (or before the WASM runs) it is a plain POST → 303 with its outcome in the
//! flash, like every form. Once hydrated, a save that changes only the names calls
//! `save_profile` with the browser's fetch (`Accept: application/json`; not the server-function
//! client, which would add ~22 KiB of WASM to every page): the answer is the same `Flash`
//! (nothing is stored for a script caller), shown in place — the notice in a live region, each refusal next to its field with
//! `aria-invalid` — and on success the top bar's name and initials change without a reload.
//! A save that changes the phone opens new steps (its code, a re-authentication) that the
//! server renders, so it stays a plain post. A second submit while one is in flight is ignored.

use crate::api::profile::SaveProfile;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// `<form>` around the server-rendered fields (children). No signals: the handler works on the
/// DOM directly, which keeps the island a few KiB in the WASM every page loads.
#[island]
pub fn ProfileForm(children: Children) -> impl IntoView {
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        enhance::submit(ev);
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <form method="post" action=SaveProfile::url() class="method-form" on:submit=on_submit>
            // Live regions present (and empty, so invisible) from the start: screen readers announce
            // what is put into them later.
            <div role="status" data-outcome="notice"></div>
            <div role="alert" data-outcome="problem"></div>
            {children()}
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod enhance {
    use crate::wire::initials;
    use js_sys::{Array, Object, Reflect};
    use leptos::prelude::document;
    use wasm_bindgen::JsCast;
    use web_sys::{
        Element, FormData, HtmlFormElement, HtmlInputElement, RequestInit, Response,
        UrlSearchParams,
    };

    const FIELDS: [&str; 3] = ["first_name", "last_name", "phone"];
    const OOPS: &str = "Something went wrong on our side. Please try again.";

    /// The answer's `Flash`, read with the browser's JSON (no serde in the WASM for it).
    #[derive(Default)]
    struct Outcome {
        notice: Option<String>,
        problem: Option<String>,
        errors: Vec<(String, String)>,
    }

    fn input(form: &HtmlFormElement, name: &str) -> Option<HtmlInputElement> {
        form.elements()
            .named_item(name)
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
    }

    pub fn submit(ev: leptos::ev::SubmitEvent) {
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
        // One save at a time: a second submit while one is in flight is ignored.
        if form.has_attribute("aria-busy") {
            return;
        }
        let _ = form.set_attribute("aria-busy", "true");
        wasm_bindgen_futures::spawn_local(async move {
            let out = post(&form).await.unwrap_or_else(|| Outcome {
                problem: Some(OOPS.into()),
                ..Outcome::default()
            });
            show(&form, &out.errors);
            let ok = out.errors.is_empty() && out.problem.is_none();
            say(&form, "notice", out.notice.as_deref());
            say(&form, "problem", out.problem.as_deref());
            if ok {
                saved(&first, &last);
            }
            let _ = form.remove_attribute("aria-busy");
        });
    }

    /// The form to `save_profile` as a script caller (`Accept: application/json`): the answer
    /// is the `Flash` itself. `None` when the server could not be reached or answered oddly.
    async fn post(form: &HtmlFormElement) -> Option<Outcome> {
        let body = UrlSearchParams::new_with_str_sequence_sequence(
            &FormData::new_with_form(form).ok()?.into(),
        )
        .ok()?;
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&body);
        let headers = Object::new();
        Reflect::set(&headers, &"Accept".into(), &"application/json".into()).ok()?;
        init.set_headers(&headers);
        let w = web_sys::window()?;
        let res: Response =
            wasm_bindgen_futures::JsFuture::from(w.fetch_with_str_and_init(&form.action(), &init))
                .await
                .ok()?
                .dyn_into()
                .ok()?;
        // M5: signed out meanwhile — the server sent the way to the sign-in page.
        if res.redirected() || !res.ok() {
            if res.redirected() {
                let _ = w.location().assign("/login");
            }
            return None;
        }
        let json = wasm_bindgen_futures::JsFuture::from(res.json().ok()?)
            .await
            .ok()?;
        let text = |key: &str| {
            Reflect::get(&json, &key.into())
                .ok()
                .and_then(|v| v.as_string())
        };
        let errors = Reflect::get(&json, &"errors".into())
            .ok()
            .and_then(|e| e.dyn_into::<Object>().ok())
            .map(|e| {
                Object::entries(&e)
                    .iter()
                    .filter_map(|pair| {
                        let pair: Array = pair.dyn_into().ok()?;
                        Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Outcome {
            notice: text("notice"),
            problem: text("form_error"),
            errors,
        })
    }

    /// Fills (or empties) the form's live region for `which` outcome ("notice" or "problem").
    fn say(form: &HtmlFormElement, which: &str, text: Option<&str>) {
        if let Ok(Some(el)) = form.query_selector(&format!("[data-outcome={which}]")) {
            el.set_text_content(text);
            let class = match (text, which) {
                (None, _) => "",
                (Some(_), "notice") => "message message--notice",
                (Some(_), _) => "message message--error",
            };
            el.set_class_name(class);
        }
    }

    /// Each field's message from the answer (and none where there is none now).
    fn show(form: &HtmlFormElement, errors: &[(String, String)]) {
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
            let message = errors.iter().find(|(k, _)| k == name).map(|(_, m)| m);
            let described = match (message, &hint) {
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
                        p.set_text_content(Some(m));
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
