//! M6: recovery codes on their one showing — one list item each (the contract), a download as
//! plain text, and the button that ends the showing.

use leptos::prelude::*;

#[component]
pub fn RecoveryCodesList(codes: Vec<String>) -> impl IntoView {
    let download = format!("data:text/plain;charset=utf-8,{}", codes.join("%0A"));
    view! {
        <ul class="codes" aria-label="Recovery codes">
            {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
        </ul>
        <p><a href=download download="gatehouse-recovery-codes.txt">"Download as text"</a></p>
    }
}
