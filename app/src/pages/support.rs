//! `/support`: the support console (instance role `support`; everyone else gets 404).
//!
//! **Email** + **Find** (a GET: searching changes nothing), then for the person found: their
//! **Recent security activity** and the actions **Reset MFA to email**, **Unlock account** and
//! **Change email** (**New email**). Every action needs "Confirm it is you" within ten minutes
//! (S5), is recorded in the person's activity naming the support person, and tells the person
//! by email (G1).

use crate::api::support::{get_support_view, SupportChangeEmail, SupportResetMfa, SupportUnlock};
use crate::components::{
    server_view, ActivityList, Field, FormMessage, PostForm, ReauthBox, ServerFn, SiteFooter,
    SubmitButton, TopBar,
};
use crate::pages::not_found::NotFound;
use crate::wire::support::{Person, SupportView};
use gatehouse_core::values::factors::MfaMethod;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SupportPage() -> impl IntoView {
    let email = use_query_map()
        .get_untracked()
        .get("email")
        .unwrap_or_default();
    server_view(get_support_view(email), |r| match r {
        Ok(v) => page(v).into_any(),
        Err(_) => view! { <NotFound /> }.into_any(),
    })
}

fn page(v: SupportView) -> impl IntoView {
    let f = v.flash.clone();
    let person = v.found.clone().map(|p| person(&v, p));
    view! {
        <Title text="Support" />
        <TopBar me=v.me.clone() />
        <main class="page" id="main">
            <h1>"Support"</h1>
            <div class="panel">
                <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
                <section class="panel__section" aria-labelledby="find-title">
                    <h2 id="find-title">"Find a person"</h2>
                    <form method="get" action="/support" class="inline-form">
                        <Field id="support-email" label="Email" name="email" kind="email" autocomplete="off" value=v.query.clone() error=f.error("email") />
                        <SubmitButton label="Find" />
                    </form>
                </section>
                {person}
            </div>
        </main>
        <SiteFooter />
    }
}

fn person(v: &SupportView, p: Person) -> impl IntoView + use<> {
    let f = v.flash.clone();
    let method = match p.mfa_method {
        MfaMethod::Email => "Codes by email",
        MfaMethod::Sms => "Codes by text message",
        MfaMethod::Authenticator => "Authenticator app",
    };
    let state = if p.locked {
        "Sign-in paused after failed attempts"
    } else {
        "Can sign in"
    };
    let fresh = v.reauth.fresh();
    let reauth = (!fresh).then(|| {
        view! { <ReauthBox reauth=v.reauth.clone() flash=f.clone() tab=format!("support:{}", p.email) why="To act for this person" /> }
    });
    let actions = fresh.then(|| actions(&p, &f));
    let (name, email, activity) = (p.name.clone(), p.email.clone(), p.activity.clone());
    view! {
        <section class="panel__section" aria-labelledby="person-title">
            <h2 id="person-title">{name}</h2>
            <dl class="facts">
                <div><dt>"Email"</dt><dd>{email}</dd></div>
                <div><dt>"Sign-in codes"</dt><dd>{method}</dd></div>
                <div><dt>"Sign-in"</dt><dd>{state}</dd></div>
            </dl>
            {reauth}
            {actions}
        </section>
        <section class="panel__section" aria-labelledby="their-activity">
            <h2 id="their-activity">"Recent security activity"</h2>
            <ActivityList items=activity />
        </section>
    }
}

fn actions(p: &Person, f: &crate::wire::Flash) -> impl IntoView + use<> {
    let (e1, e2, e3) = (p.email.clone(), p.email.clone(), p.email.clone());
    let (new_email, new_error, error) = (
        f.value("new_email"),
        f.error("new_email"),
        f.error("actions"),
    );
    view! {
        {error.map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
        <div class="row-actions">
            <PostForm to=SupportResetMfa::url()>
                <input type="hidden" name="email" value=e1 />
                <SubmitButton label="Reset MFA to email" secondary=true />
            </PostForm>
            <PostForm to=SupportUnlock::url()>
                <input type="hidden" name="email" value=e2 />
                <SubmitButton label="Unlock account" secondary=true />
            </PostForm>
        </div>
        <PostForm to=SupportChangeEmail::url() class="inline-form">
            <input type="hidden" name="email" value=e3 />
            <Field id="support-new-email" label="New email" name="new_email" kind="email" autocomplete="off" value=new_email error=new_error />
            <SubmitButton label="Change email" secondary=true />
        </PostForm>
        <p class="field__hint">"Each action is recorded in their activity with your name, and they get an email."</p>
    }
}
