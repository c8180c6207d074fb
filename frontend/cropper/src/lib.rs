//! The avatar cropper: a WASM of its own, loaded only by the Dashboard, so the sign-in pages
//! never download it (their budget stays where it was). It brings the server-rendered **Edit
//! avatar** dialog (`app::components::avatar_editor`) to life; without it the Dashboard's plain
//! upload form works, and the server centre-crops.
//!
//! - The frame's geometry is core's `values::crop::Frame`, unit-tested there; this crate only
//!   draws what it says and turns events into its calls.
//! - Keyboard: on the frame, the arrow keys pan and + / − zoom; the slider, **Rotate** and
//!   **Reset** are ordinary controls; every change is announced (live region).
//! - Pointer: drag to pan, the wheel zooms about the pointer, two fingers pinch.
//! - The modal `<dialog>` traps the focus and closes on Escape (the browser's own behaviour);
//!   closing it stops the camera.

mod dom;
mod editor;
mod send;
mod sources;

use dom::{document, listen};
use editor::{Editor, Elements, Shared, VIEW};
use gatehouse_core::values::crop::PAN_STEP;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DragEvent, Event, HtmlInputElement, KeyboardEvent, PointerEvent, WheelEvent};

#[wasm_bindgen(start)]
pub fn start() {
    // A page without the dialog, or one rendered differently, is left alone.
    let _ = run();
}

fn run() -> Result<(), JsValue> {
    let doc = document()?;
    if doc.get_element_by_id("avatar-dialog").is_none() {
        return Ok(());
    }
    let ed = Editor::new(Elements::find(&doc)?);
    wire_dialog(&ed);
    wire_sources(&ed);
    wire_frame(&ed);
    ed.borrow().el.edit.set_hidden(false);
    doc.document_element()
        .map(|h| h.set_attribute("data-cropper", "ready"))
        .transpose()?;
    Ok(())
}

/// Runs `f` on the editor for each `name` event of the element `pick` chooses.
fn on(
    ed: &Shared,
    pick: impl Fn(&Elements) -> web_sys::EventTarget,
    name: &str,
    f: impl Fn(&Shared, Event) + 'static,
) {
    let target = pick(&ed.borrow().el);
    let ed = ed.clone();
    listen(&target, name, move |ev| f(&ed, ev));
}

fn wire_dialog(ed: &Shared) {
    on(
        ed,
        |e| e.edit.clone().into(),
        "click",
        |ed, _| {
            let e = ed.borrow();
            e.say_error(None);
            let _ = e.el.dialog.show_modal();
        },
    );
    on(
        ed,
        |e| e.close.clone().into(),
        "click",
        |ed, _| {
            ed.borrow().el.dialog.close();
        },
    );
    on(
        ed,
        |e| e.dialog.clone().into(),
        "close",
        |ed, _| {
            ed.borrow_mut().stop_camera();
        },
    );
    on(
        ed,
        |e| e.update.clone().into(),
        "click",
        |ed, _| {
            spawn_local(send::update(ed.clone()));
        },
    );
    on(
        ed,
        |e| e.remove.clone().into(),
        "click",
        |ed, _| {
            spawn_local(send::remove(ed.clone()));
        },
    );
}

fn wire_sources(ed: &Shared) {
    on(
        ed,
        |e| e.upload.clone().into(),
        "click",
        |ed, _| {
            ed.borrow().el.file.click();
        },
    );
    on(
        ed,
        |e| e.file.clone().into(),
        "change",
        |ed, _| {
            let file = ed.borrow().el.file.files().and_then(|f| f.get(0));
            if let Some(file) = file {
                spawn_local(sources::load_blob(ed.clone(), file.into()));
            }
            ed.borrow().el.file.set_value("");
        },
    );
    // Drag and drop onto the dialog.
    on(
        ed,
        |e| e.dialog.clone().into(),
        "dragover",
        |_, ev| {
            ev.prevent_default();
        },
    );
    on(
        ed,
        |e| e.dialog.clone().into(),
        "drop",
        |ed, ev| {
            ev.prevent_default();
            let file = ev
                .dyn_ref::<DragEvent>()
                .and_then(|d| d.data_transfer())
                .and_then(|t| t.files())
                .and_then(|f| f.get(0));
            if let Some(file) = file {
                spawn_local(sources::load_blob(ed.clone(), file.into()));
            }
        },
    );
    on(
        ed,
        |e| e.camera.clone().into(),
        "click",
        |ed, _| {
            spawn_local(sources::start_camera(ed.clone()));
        },
    );
    on(
        ed,
        |e| e.capture.clone().into(),
        "click",
        |ed, _| {
            spawn_local(sources::capture(ed.clone()));
        },
    );
    on(
        ed,
        |e| e.choose.clone().into(),
        "click",
        |ed, _| {
            let e = ed.borrow();
            let open = e.el.builtins.hidden();
            e.el.builtins.set_hidden(!open);
            let _ =
                e.el.choose
                    .set_attribute("aria-expanded", if open { "true" } else { "false" });
        },
    );
    // `click`, not `change`: picking the avatar already checked loads it again (a radio gets
    // the click for the arrow keys and Space too).
    on(
        ed,
        |e| e.builtins.clone().into(),
        "click",
        |ed, ev| {
            let radio = ev
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .filter(|i| i.type_() == "radio");
            if let Some(input) = radio {
                spawn_local(sources::load_builtin(ed.clone(), input.value()));
            }
        },
    );
}

fn wire_frame(ed: &Shared) {
    on(
        ed,
        |e| e.zoom.clone().into(),
        "input",
        |ed, _| {
            let z = ed.borrow().el.zoom.value_as_number();
            ed.borrow_mut().change(|f| f.zoom_to(z, None), None);
        },
    );
    on(
        ed,
        |e| e.rotate.clone().into(),
        "click",
        |ed, _| {
            ed.borrow_mut().change(|f| f.rotate(), None);
        },
    );
    on(
        ed,
        |e| e.reset.clone().into(),
        "click",
        |ed, _| {
            ed.borrow_mut().change(|f| f.reset(), None);
        },
    );
    on(
        ed,
        |e| e.canvas.clone().into(),
        "keydown",
        |ed, ev| {
            let Some(k) = ev.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            let (dx, dy, said) = match k.key().as_str() {
                "ArrowLeft" => (-PAN_STEP, 0.0, "Moved left"),
                "ArrowRight" => (PAN_STEP, 0.0, "Moved right"),
                "ArrowUp" => (0.0, -PAN_STEP, "Moved up"),
                "ArrowDown" => (0.0, PAN_STEP, "Moved down"),
                "+" | "=" => {
                    ev.prevent_default();
                    ed.borrow_mut().change(|f| f.zoom_step(true), None);
                    return;
                }
                "-" | "_" => {
                    ev.prevent_default();
                    ed.borrow_mut().change(|f| f.zoom_step(false), None);
                    return;
                }
                _ => return,
            };
            ev.prevent_default();
            ed.borrow_mut().change(|f| f.pan_by(dx, dy), Some(said));
        },
    );
    on(
        ed,
        |e| e.canvas.clone().into(),
        "wheel",
        |ed, ev| {
            let Some(w) = ev.dyn_ref::<WheelEvent>() else {
                return;
            };
            ev.prevent_default();
            let factor = (-w.delta_y() * 0.0015).exp();
            let anchor = (
                f64::from(w.offset_x()) - VIEW / 2.0,
                f64::from(w.offset_y()) - VIEW / 2.0,
            );
            ed.borrow_mut()
                .change(|f| f.zoom_to(f.zoom() * factor, Some(anchor)), None);
        },
    );
    on(
        ed,
        |e| e.canvas.clone().into(),
        "pointerdown",
        |ed, ev| {
            let Some(p) = ev.dyn_ref::<PointerEvent>() else {
                return;
            };
            let mut e = ed.borrow_mut();
            let _ = e.el.canvas.set_pointer_capture(p.pointer_id());
            e.pointers.retain(|(id, _, _)| *id != p.pointer_id());
            e.pointers.push((
                p.pointer_id(),
                f64::from(p.client_x()),
                f64::from(p.client_y()),
            ));
        },
    );
    on(
        ed,
        |e| e.canvas.clone().into(),
        "pointermove",
        |ed, ev| {
            if let Some(p) = ev.dyn_ref::<PointerEvent>() {
                pointer_moved(ed, p);
            }
        },
    );
    for name in ["pointerup", "pointercancel"] {
        on(
            ed,
            |e| e.canvas.clone().into(),
            name,
            |ed, ev| {
                if let Some(p) = ev.dyn_ref::<PointerEvent>() {
                    ed.borrow_mut()
                        .pointers
                        .retain(|(id, _, _)| *id != p.pointer_id());
                }
            },
        );
    }
}

/// One finger drags; two pinch (zoom about their midpoint by the change of their distance).
fn pointer_moved(ed: &Shared, p: &PointerEvent) {
    let mut e = ed.borrow_mut();
    let (x, y) = (f64::from(p.client_x()), f64::from(p.client_y()));
    let Some(i) = e
        .pointers
        .iter()
        .position(|(id, _, _)| *id == p.pointer_id())
    else {
        return;
    };
    let before = e.pointers.clone();
    e.pointers[i] = (p.pointer_id(), x, y);
    match before.len() {
        1 => {
            let (_, px, py) = before[0];
            e.change(|f| f.pan_by(x - px, y - py), Some("Moved"));
        }
        2 => {
            let dist = |v: &[(i32, f64, f64)]| (v[0].1 - v[1].1).hypot(v[0].2 - v[1].2);
            let (d0, d1) = (dist(&before), dist(&e.pointers));
            if d0 > 0.0 {
                let rect = e.el.canvas.get_bounding_client_rect();
                let mid = (
                    (e.pointers[0].1 + e.pointers[1].1) / 2.0 - rect.left() - VIEW / 2.0,
                    (e.pointers[0].2 + e.pointers[1].2) / 2.0 - rect.top() - VIEW / 2.0,
                );
                e.change(|f| f.zoom_to(f.zoom() * d1 / d0, Some(mid)), None);
            }
        }
        _ => {}
    }
}
