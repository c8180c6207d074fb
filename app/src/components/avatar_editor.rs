//! The **Edit avatar** dialog, rendered on the server and brought to life by the cropper
//! (`frontend/cropper`, its own small WASM loaded only on the Dashboard, so the sign-in pages
//! never carry it).
//!
//! - The button starts `hidden`: without the cropper it would do nothing, and the Dashboard's
//!   plain **Photo** / **Upload photo** form serves instead. The cropper un-hides it.
//! - A modal `<dialog>` (the browser traps the focus and closes it on Escape) with three ways in
//!   (**Upload a photo**, **Take a photo**, **Choose an avatar**), the frame tools (**Zoom**,
//!   **Rotate**, **Reset**, arrow keys and +/− on the frame, announced in a live region),
//!   **Update** and **Remove avatar**. Messages show inside the dialog (`role="alert"`).
//! - H1: the camera is asked for only when **Take a photo** is pressed (Permissions-Policy
//!   allows it for this origin alone).

use leptos::prelude::*;

/// The built-in avatars shipped in `public/builtin-avatars/` (name, file).
pub const BUILT_IN: [(&str, &str); 8] = [
    ("Fox", "fox"),
    ("Owl", "owl"),
    ("Cat", "cat"),
    ("Whale", "whale"),
    ("Mountain", "mountain"),
    ("Sun", "sun"),
    ("Leaf", "leaf"),
    ("Rocket", "rocket"),
];

#[component]
pub fn AvatarEditor(
    has_avatar: bool,
    /// Shown again when the picture is removed.
    initials: String,
    /// The upload and removal endpoints (`/api/upload_avatar`, `/api/remove_avatar`).
    upload_to: String,
    remove_to: String,
) -> impl IntoView {
    let choices = BUILT_IN
        .iter()
        .map(|(label, file)| {
            let id = format!("builtin-{file}");
            let src = format!("/builtin-avatars/{file}.svg");
            view! {
                <div class="builtin">
                    <input type="radio" name="builtin" id=id.clone() value=src.clone() />
                    <label for=id>
                        <img src=src alt="" width="48" height="48" />
                        <span>{*label}</span>
                    </label>
                </div>
            }
        })
        .collect_view();
    view! {
        <button type="button" class="button button--secondary avatar-edit" id="avatar-edit" hidden=true
            data-upload=upload_to data-remove=remove_to data-initials=initials aria-haspopup="dialog">
            "Edit avatar"
        </button>
        <p class="message message--notice" id="avatar-notice" role="status" hidden=true></p>
        <dialog id="avatar-dialog" class="avatar-dialog" aria-labelledby="avatar-dialog-title" aria-describedby="avatar-dialog-help">
            <h2 id="avatar-dialog-title">"Edit avatar"</h2>
            <p id="avatar-dialog-help" class="field__hint">"Choose a photo, then drag it (or use the arrow keys) to place your face in the circle."</p>
            <p class="message message--error" id="avatar-error" role="alert" hidden=true></p>
            <div class="avatar-dialog__sources">
                <button type="button" class="button button--secondary" id="avatar-upload">"Upload a photo"</button>
                <input type="file" id="avatar-file" accept="image/png,image/jpeg,image/webp" hidden=true />
                <button type="button" class="button button--secondary" id="avatar-camera">"Take a photo"</button>
                <button type="button" class="button button--secondary" id="avatar-choose" aria-expanded="false" aria-controls="avatar-builtins">"Choose an avatar"</button>
            </div>
            <div class="avatar-dialog__camera" id="avatar-camera-box" hidden=true>
                <video id="avatar-video" muted=true playsinline=true aria-label="Camera preview"></video>
                <button type="button" class="button" id="avatar-capture">"Capture"</button>
            </div>
            <fieldset class="choice builtins" id="avatar-builtins" hidden=true>
                <legend>"Built-in avatars"</legend>
                {choices}
            </fieldset>
            <div class="avatar-dialog__stage" id="avatar-stage" hidden=true>
                <canvas id="avatar-canvas" width="320" height="320" tabindex="0" role="img"
                    aria-label="Your photo in the frame. Drag it, or use the arrow keys to move it and plus or minus to zoom."></canvas>
                <div class="avatar-dialog__mask" aria-hidden="true"></div>
            </div>
            <div class="avatar-dialog__tools" id="avatar-tools" hidden=true>
                <div class="field">
                    <label for="avatar-zoom">"Zoom"</label>
                    <input type="range" id="avatar-zoom" min="1" max="8" step="any" value="1" />
                </div>
                <button type="button" class="button button--secondary" id="avatar-rotate">"Rotate"</button>
                <button type="button" class="button button--secondary" id="avatar-reset">"Reset"</button>
            </div>
            <p class="visually-hidden" id="avatar-status" aria-live="polite"></p>
            <div class="avatar-dialog__actions">
                <button type="button" class="button" id="avatar-update" disabled=true>"Update"</button>
                <button type="button" class="button button--secondary" id="avatar-remove" hidden=!has_avatar>"Remove avatar"</button>
                <button type="button" class="button button--ghost" id="avatar-close">"Cancel"</button>
            </div>
        </dialog>
        <CropperLoader />
    }
}

/// Loads the cropper's own WASM once the browser is idle (never on any other page). If it is
/// missing, the button stays hidden and the plain upload form serves.
#[component]
fn CropperLoader() -> impl IntoView {
    let script = r#"const load = () => import("/pkg/cropper.js").then((m) => m.default({ module_or_path: "/pkg/cropper_bg.wasm" })).catch(() => {});
if ("requestIdleCallback" in window) { requestIdleCallback(load); } else { load(); }"#;
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
}
