//! The WASM entry point: hydrates the islands on the server-rendered page (and nothing else —
//! pages, layout and forms are server-only and work before and without this module). Built with
//! `panic=immediate-abort` (see .ci/setup), a panic stops the module without a message, so no
//! panic hook is installed.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Links the app crate, whose `#[island]`s export the functions the island script calls.
    app::islands_linked();
    leptos::mount::hydrate_islands();
}
