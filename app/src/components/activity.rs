//! G1: a list of security events (what, when, from where), on the Security tab and in the
//! support console.

use crate::wire::ActivityItem;
use leptos::prelude::*;

#[component]
pub fn ActivityList(items: Vec<ActivityItem>) -> impl IntoView {
    let empty = items.is_empty();
    let rows = items
        .into_iter()
        .map(|e| {
            view! {
                <li><span>{e.what}</span> <small>{format!(" · {} · {}", e.when, e.ip)}</small></li>
            }
        })
        .collect_view();
    view! {
        {empty.then(|| view! { <p class="empty">"Nothing recorded yet."</p> })}
        <ul class="activity" aria-label="Security events">{rows}</ul>
    }
}
