//! `/invitation?token=…`: the page behind **View invitation** in the email. It only reads
//! (E4: a mail scanner following the link answers nothing); **Accept** / **Decline** are posts.
//!
//! Signed in as the invited address: the answer buttons. Signed in as someone else: it says so
//! (the invitation names its address; that is the person who holds the email). Signed out:
//! **Sign in** with the address filled in, or **Create account** through the invitation (the
//! new account joins once its address is verified). E1: nothing here tells whether the address
//! has an account.

use crate::api::orgs::{get_invitation_link_view, AnswerInvitation};
use crate::components::{
    failed_card, server_view, AuthCard, FormMessage, PostForm, ServerFn, SubmitButton,
};
use crate::wire::orgs::InvitationLinkView;
use gatehouse_core::values::org::InvitationState;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

const TITLE: &str = "Invitation";

#[component]
pub fn InvitationPage() -> impl IntoView {
    let token = use_query_map()
        .get_untracked()
        .get("token")
        .unwrap_or_default();
    server_view(get_invitation_link_view(token), |r| {
        match r {
        Ok(InvitationLinkView::Found(found)) => {
            let crate::wire::orgs::LinkFound {
                item,
                email,
                state,
                for_me,
                token,
                flash,
            } = *found;
            let title = format!("Join {}", item.org_name);
            let by = item
                .invited_by
                .clone()
                .map(|b| format!("{b} invited {email}"))
                .unwrap_or_else(|| format!("{email} is invited"));
            let what = format!("{by} to join {} as {}.", item.org_name, item.role.label());
            let body = match (state, for_me) {
                (InvitationState::Pending, Some(true)) => view! {
                    <PostForm to=AnswerInvitation::url() class="consent__actions">
                        <input type="hidden" name="invitation" value=item.id.clone() />
                        <SubmitButton label="Accept" name=Some("answer".to_string()) value="accept" />
                        <SubmitButton label="Decline" secondary=true name=Some("answer".to_string()) value="decline" />
                    </PostForm>
                    <p class="card__aside">{format!("The invitation expires {}.", item.expires)}</p>
                }
                .into_any(),
                (InvitationState::Pending, Some(false)) => view! {
                    <p>{format!("You are signed in with another address. Sign out, then sign in as {email} to answer.")}</p>
                }
                .into_any(),
                (InvitationState::Pending, None) => {
                    let q = crate::wire::query_value(&email);
                    let login = format!("/login?email={q}");
                    let register = format!("/register?email={q}&invitation={}", crate::wire::query_value(&token));
                    view! {
                        <p>"To answer, sign in with that address. No account yet? Create one: you join when you confirm the address."</p>
                        <p class="consent__actions">
                            <a class="button" href=login>"Sign in"</a>
                            <a class="button button--secondary" href=register>"Create account"</a>
                        </p>
                    }
                    .into_any()
                }
                (state, _) => view! {
                    <FormMessage error=Some(format!("This invitation is {}. Ask for a new one if you still want to join.", state.label().to_lowercase())) />
                }
                .into_any(),
            };
            view! {
                <AuthCard title=title>
                    <FormMessage error=flash.form_error.clone() notice=flash.notice.clone() />
                    <p>{what}</p>
                    {body}
                </AuthCard>
            }
            .into_any()
        }
        Ok(InvitationLinkView::Unknown) => view! {
            <AuthCard title=TITLE>
                <FormMessage error=Some("This invitation link does not work: it was replaced by a newer one, or never existed.".to_string()) />
            </AuthCard>
        }
        .into_any(),
        Err(e) => failed_card(TITLE, e),
    }
    })
}
