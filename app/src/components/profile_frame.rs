//! The signed-in frame of the profile pages: top bar, page heading and the tabs (ARIA tablist
//! whose tabs are real links, so they work without JavaScript), then the active tab's panel.
//! The [`TabList`] island adds the arrow keys (and Home/End) between tabs; an organization's
//! page (`OrgFrame`) uses the same tabs.

use crate::components::{SiteFooter, TopBar};
use crate::wire::Me;
use leptos::prelude::*;
use leptos_meta::Title;

/// The profile tabs that exist so far: (label, path).
const TABS: [(&str, &str); 3] = [
    ("Dashboard", "/profile"),
    ("Profile", "/profile/details"),
    ("Security", "/profile/security"),
];

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
                <TabList
                    tabs=TABS.iter().map(|(l, p)| (l.to_string(), p.to_string())).collect()
                    active=active.to_string()
                    label="Profile sections".to_string()
                />
            </nav>
            <div class="panel" role="tabpanel" aria-labelledby=tab_id(panel_label)>
                {children()}
            </div>
        </main>
        <SiteFooter />
    }
}

/// The id of a tab, which its panel names in `aria-labelledby`.
pub(crate) fn tab_id(label: &str) -> String {
    format!("tab-{}", label.to_lowercase())
}

/// Where an arrow key moves the focus among `n` tabs from tab `i` (wrapping, as ARIA says).
fn next_tab(key: &str, i: usize, n: usize) -> Option<usize> {
    match key {
        "ArrowRight" => Some((i + 1) % n),
        "ArrowLeft" => Some((i + n - 1) % n),
        "Home" => Some(0),
        "End" => Some(n - 1),
        _ => None,
    }
}

/// Tabs as links: (label, path) each; `active` is the current path, `label` names the list.
#[island]
pub(crate) fn TabList(tabs: Vec<(String, String)>, active: String, label: String) -> impl IntoView {
    let n = tabs.len();
    let refs: Vec<NodeRef<leptos::html::A>> = (0..n).map(|_| NodeRef::new()).collect();
    let links = tabs
        .into_iter()
        .enumerate()
        .map(|(i, (label, path))| {
            let on = path == active;
            let refs = refs.clone();
            let id = tab_id(&label);
            view! {
                <a role="tab" href=path id=id
                    node_ref=refs[i]
                    aria-selected=if on { "true" } else { "false" }
                    aria-current=on.then_some("page")
                    class="tabs__tab" class:tabs__tab--active=on
                    on:keydown=move |ev| {
                        if let Some(el) = next_tab(&ev.key(), i, n).and_then(|j| refs[j].get()) {
                            ev.prevent_default();
                            let _ = el.focus();
                        }
                    }
                >{label}</a>
            }
        })
        .collect_view();
    view! { <div role="tablist" aria-label=label>{links}</div> }
}

#[cfg(test)]
mod tests {
    use super::next_tab;

    #[test]
    fn arrow_keys_wrap_and_home_end_jump() {
        assert_eq!(next_tab("ArrowRight", 1, 2), Some(0));
        assert_eq!(next_tab("ArrowLeft", 0, 2), Some(1));
        assert_eq!(next_tab("Home", 1, 3), Some(0));
        assert_eq!(next_tab("End", 0, 3), Some(2));
        assert_eq!(next_tab("a", 0, 3), None);
    }
}
