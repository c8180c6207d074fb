//! The signed-in frame of the profile pages: top bar, page heading and the tabs (ARIA tablist
//! whose tabs are real links, so they work without JavaScript), then the active tab's panel.

use crate::components::{SiteFooter, TopBar};
use crate::wire::Me;
use leptos::prelude::*;
use leptos_meta::Title;

/// The profile tabs that exist so far: (label, path).
const TABS: [(&str, &str); 2] = [("Dashboard", "/profile"), ("Security", "/profile/security")];

#[component]
pub fn ProfileFrame(
    me: Me,
    /// Path of the active tab.
    active: &'static str,
    children: Children,
) -> impl IntoView {
    let panel_label = TABS
        .iter()
        .find(|(_, p)| *p == active)
        .map(|(l, _)| *l)
        .unwrap_or("Dashboard");
    view! {
        <Title text=format!("{panel_label} · Your account") />
        <TopBar me=me />
        <main class="page" id="main">
            <h1>"Your account"</h1>
            <nav class="tabs" aria-label="Profile sections">
                <div role="tablist" aria-label="Profile sections">
                    {TABS.iter().map(|(label, path)| {
                        let on = *path == active;
                        view! {
                            <a role="tab" href=*path id=format!("tab-{}", label.to_lowercase())
                                aria-selected=if on { "true" } else { "false" }
                                aria-current=on.then_some("page")
                                class="tabs__tab" class:tabs__tab--active=on>{*label}</a>
                        }
                    }).collect_view()}
                </div>
            </nav>
            <div class="panel" role="tabpanel" aria-labelledby=format!("tab-{}", panel_label.to_lowercase())>
                {children()}
            </div>
        </main>
        <SiteFooter />
    }
}
