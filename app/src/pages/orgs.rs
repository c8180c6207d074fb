//! `/orgs`: the person's organizations (each a link, with their role) and **Create
//! organization** (label **Name**); the new organization's owner lands on its page.

use crate::api::orgs::{get_orgs_view, CreateOrg};
use crate::components::{
    server_view, Field, FormMessage, PostForm, ServerFn, SiteFooter, SubmitButton, TopBar,
};
use crate::wire::orgs::OrgsView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn OrgsPage() -> impl IntoView {
    server_view(get_orgs_view(), |r| match r {
        Ok(Some(v)) => page(v).into_any(),
        _ => view! { <Redirect path="/login" /> }.into_any(),
    })
}

fn page(v: OrgsView) -> impl IntoView {
    let f = v.flash;
    let list = v.me.orgs.clone();
    let empty = list.is_empty();
    view! {
        <Title text="Organizations" />
        <TopBar me=v.me />
        <main class="page" id="main">
            <h1>"Organizations"</h1>
            <FormMessage notice=f.notice.clone() />
            <section class="panel__section" aria-labelledby="yours-title">
                <h2 id="yours-title">"Yours"</h2>
                {empty.then(|| view! { <p class="empty">"You do not belong to an organization yet."</p> })}
                <ul class="org-list">
                    {list.into_iter().map(|o| view! {
                        <li><a href=o.href()>{o.name.clone()}</a> <span class="badge">{o.role.label()}</span></li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="panel__section" aria-labelledby="create-title">
                <h2 id="create-title">"New organization"</h2>
                <PostForm to=CreateOrg::url() class="inline-form">
                    <Field id="org-name" label="Name" name="name" autocomplete="organization" value=f.value("name") error=f.error("name") />
                    <SubmitButton label="Create organization" />
                </PostForm>
            </section>
        </main>
        <SiteFooter />
    }
}
