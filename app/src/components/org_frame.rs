//! The signed-in frame of an organization's page: top bar, the organization's name as the
//! heading, and its tabs (the profile's [`TabList`], real links) — **Members** for everyone,
//! **Invitations** and **Settings** for those whose role manages them.

use crate::components::profile_frame::{tab_id, TabList};
use crate::components::{SiteFooter, TopBar};
use crate::wire::orgs::OrgTab;
use crate::wire::Me;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OrgFrame(
    me: Me,
    name: String,
    slug: String,
    active: OrgTab,
    /// The Invitations tab is shown.
    invitations: bool,
    /// The Settings tab is shown.
    settings: bool,
    children: Children,
) -> impl IntoView {
    let mut tabs = vec![("Members".to_string(), format!("/orgs/{slug}"))];
    if invitations {
        tabs.push((
            "Invitations".to_string(),
            format!("/orgs/{slug}/invitations"),
        ));
    }
    if settings {
        tabs.push(("Settings".to_string(), format!("/orgs/{slug}/settings")));
    }
    let (label, path) = match active {
        OrgTab::Members => ("Members", format!("/orgs/{slug}")),
        OrgTab::Invitations => ("Invitations", format!("/orgs/{slug}/invitations")),
        OrgTab::Settings => ("Settings", format!("/orgs/{slug}/settings")),
    };
    view! {
        <Title text=format!("{label} · {name}") />
        <TopBar me=me />
        <main class="page" id="main">
            <p class="breadcrumb"><a href="/orgs">"Organizations"</a></p>
            <h1>{name}</h1>
            <nav class="tabs" aria-label="Organization sections">
                <TabList tabs=tabs active=path label="Organization sections".to_string() />
            </nav>
            <div class="panel" role="tabpanel" aria-labelledby=tab_id(label)>
                {children()}
            </div>
        </main>
        <SiteFooter />
    }
}
