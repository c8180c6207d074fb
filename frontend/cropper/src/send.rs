//! **Update** and **Remove avatar**: the cropped square goes to the same endpoint the no-JS form
//! uses (`/api/upload_avatar`, as `multipart/form-data`), and the answer — the outcome and the
//! new avatar id (`wire::AvatarAnswer`) — comes straight back as JSON: no redirect, no flash.
//! The server checks and re-encodes everything again (U1); this side only keeps the upload small
//! (a 512-pixel JPEG of at most 200 KiB).
//!
//! After a change the avatar is replaced where it shows (the top bar's menu button and the
//! Dashboard) without reloading the page.

use crate::dom::{document, resolve, window};
use crate::editor::Shared;
use gatehouse_core::values::photo::{AvatarSize, PictureError};
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, Element, FormData, HtmlCanvasElement, RequestInit, Response};

/// The most the browser sends (the server takes up to 5 MiB, but 512 pixels never need it).
const MAX_UPLOAD: f64 = 200.0 * 1024.0;

/// The canvas as a JPEG, at the best quality that fits in [`MAX_UPLOAD`].
async fn encode(canvas: &HtmlCanvasElement) -> Result<Blob, JsValue> {
    let mut last = None;
    for quality in [0.92, 0.85, 0.75, 0.6, 0.45] {
        let c = canvas.clone();
        let p = js_sys::Promise::new(&mut |done, _| {
            let cb = Closure::once(move |b: JsValue| {
                let _ = done.call1(&JsValue::NULL, &b);
            });
            let _ = c.to_blob_with_type_and_encoder_options(
                cb.as_ref().unchecked_ref(),
                "image/jpeg",
                &JsValue::from_f64(quality),
            );
            cb.forget();
        });
        let blob: Blob = resolve(Ok(p)).await?;
        if blob.size() <= MAX_UPLOAD {
            return Ok(blob);
        }
        last = Some(blob);
    }
    last.ok_or_else(|| JsValue::from_str("no blob"))
}

/// What the server answered: the message for the person, and the avatar id afterwards.
struct Answer {
    error: Option<String>,
    notice: Option<String>,
    avatar: Option<String>,
}

fn text_at(v: &JsValue, path: &[&str]) -> Option<String> {
    let mut cur = v.clone();
    for key in path {
        cur = Reflect::get(&cur, &JsValue::from_str(key)).ok()?;
    }
    cur.as_string()
}

async fn post(url: &str, body: Option<&FormData>) -> Answer {
    let failed = |msg: &str| Answer {
        error: Some(msg.to_string()),
        notice: None,
        avatar: None,
    };
    let init = RequestInit::new();
    init.set_method("POST");
    if let Some(b) = body {
        init.set_body(b);
    }
    let headers = js_sys::Object::new();
    let _ = Reflect::set(&headers, &"Accept".into(), &"application/json".into());
    init.set_headers(&headers);
    let res: Response = match window() {
        Ok(w) => match resolve(Ok(w.fetch_with_str_and_init(url, &init))).await {
            Ok(r) => r,
            Err(_) => {
                return failed(
                    "The server could not be reached. Check your connection and try again.",
                )
            }
        },
        Err(_) => return failed("The server could not be reached."),
    };
    match res.status() {
        200 => {}
        413 => return failed(&PictureError::TooLarge.to_string()),
        503 => return failed(&PictureError::Busy.to_string()),
        _ => return failed("Something went wrong on our side. Please try again."),
    }
    let json = match res.json() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
            .await
            .unwrap_or(JsValue::NULL),
        Err(_) => JsValue::NULL,
    };
    Answer {
        error: text_at(&json, &["flash", "errors", "photo"])
            .or_else(|| text_at(&json, &["flash", "form_error"])),
        notice: text_at(&json, &["flash", "notice"]),
        avatar: text_at(&json, &["avatar"]),
    }
}

/// **Update**: crop, encode, upload; on success the new picture shows everywhere.
pub async fn update(ed: Shared) {
    let (url, canvas) = {
        let mut e = ed.borrow_mut();
        if e.busy {
            return;
        }
        let Ok(doc) = document() else { return };
        let Ok(canvas) = e.output(&doc) else {
            e.say_error(Some("Choose a photo first."));
            return;
        };
        e.busy = true;
        e.el.update.set_disabled(true);
        let _ = e.el.update.set_attribute("aria-busy", "true");
        (
            e.el.edit.get_attribute("data-upload").unwrap_or_default(),
            canvas,
        )
    };
    let answer = match encode(&canvas).await {
        Ok(blob) => match FormData::new() {
            Ok(form) => {
                let _ = form.append_with_blob_and_filename("photo", &blob, "avatar.jpg");
                post(&url, Some(&form)).await
            }
            Err(_) => post(&url, None).await,
        },
        Err(_) => Answer {
            error: Some(PictureError::Internal.to_string()),
            notice: None,
            avatar: None,
        },
    };
    finish(&ed, answer, true);
}

/// **Remove avatar**: the initials come back.
pub async fn remove(ed: Shared) {
    let url = {
        let mut e = ed.borrow_mut();
        if e.busy {
            return;
        }
        e.busy = true;
        e.el.edit.get_attribute("data-remove").unwrap_or_default()
    };
    let answer = post(&url, None).await;
    finish(&ed, answer, false);
}

fn finish(ed: &Shared, a: Answer, uploaded: bool) {
    let mut e = ed.borrow_mut();
    e.busy = false;
    e.el.update.set_disabled(e.image.is_none());
    let _ = e.el.update.remove_attribute("aria-busy");
    if let Some(err) = a.error {
        e.say_error(Some(&err));
        return;
    }
    if uploaded && a.avatar.is_none() {
        e.say_error(Some("Something went wrong on our side. Please try again."));
        return;
    }
    if let Ok(doc) = document() {
        let initials = e.el.edit.get_attribute("data-initials").unwrap_or_default();
        show_avatar(&doc, a.avatar.as_deref(), &initials);
    }
    e.el.remove.set_hidden(a.avatar.is_none());
    e.el.notice.set_text_content(a.notice.as_deref());
    e.el.notice.set_hidden(a.notice.is_none());
    e.stop_camera();
    e.el.dialog.close();
    let _ = e.el.edit.focus();
}

/// Puts the avatar (or the initials) in the top bar and on the Dashboard.
fn show_avatar(doc: &web_sys::Document, id: Option<&str>, initials: &str) {
    let spots = [
        (".user-menu__button .avatar", AvatarSize::Small, ""),
        (
            ".dashboard__avatar .avatar",
            AvatarSize::Large,
            "Your profile picture",
        ),
    ];
    for (selector, size, alt) in spots {
        let Ok(Some(old)) = doc.query_selector(selector) else {
            continue;
        };
        let class = old.get_attribute("class").unwrap_or_default();
        let new: Result<Element, JsValue> = match id {
            Some(id) => doc.create_element("img").and_then(|img| {
                img.set_attribute("src", &size.path(id))?;
                img.set_attribute("alt", alt)?;
                img.set_attribute("width", &size.shown().to_string())?;
                img.set_attribute("height", &size.shown().to_string())?;
                Ok(img)
            }),
            None => doc.create_element("span").and_then(|s| {
                s.set_attribute("aria-hidden", "true")?;
                s.set_text_content(Some(initials));
                Ok(s)
            }),
        };
        if let Ok(new) = new {
            let _ = new.set_attribute("class", &class);
            let _ = old.replace_with_with_node_1(&new);
        }
    }
}
