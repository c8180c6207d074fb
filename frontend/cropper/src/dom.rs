//! Small DOM helpers: finding the server-rendered elements by id, listening to events, and
//! turning a promise into a value. No element is created here except the output canvas.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Event, EventTarget, Window};

pub fn window() -> Result<Window, JsValue> {
    web_sys::window().ok_or_else(|| JsValue::from_str("no window"))
}

pub fn document() -> Result<Document, JsValue> {
    window()?
        .document()
        .ok_or_else(|| JsValue::from_str("no document"))
}

/// The element with `id`, as `T`.
pub fn by_id<T: JsCast>(doc: &Document, id: &str) -> Result<T, JsValue> {
    doc.get_element_by_id(id)
        .ok_or_else(|| JsValue::from_str(id))?
        .dyn_into::<T>()
        .map_err(|_| JsValue::from_str(id))
}

/// Calls `f` on every `name` event of `target`, for the life of the page.
pub fn listen(target: &EventTarget, name: &str, f: impl FnMut(Event) + 'static) {
    let cb = Closure::<dyn FnMut(Event)>::new(f);
    let _ = target.add_event_listener_with_callback(name, cb.as_ref().unchecked_ref());
    cb.forget();
}

/// Awaits a promise and casts what it resolves to.
pub async fn resolve<T: JsCast>(p: Result<js_sys::Promise, JsValue>) -> Result<T, JsValue> {
    JsFuture::from(p?).await?.dyn_into::<T>()
}

/// A `DOMException`'s name (`NotAllowedError`, …), or empty.
pub fn error_name(e: &JsValue) -> String {
    e.dyn_ref::<web_sys::DomException>()
        .map(|d| d.name())
        .unwrap_or_default()
}
