//! Reusable building blocks. Every one of them appears in `/dev/gallery` in each of its states.

pub mod activity;
pub mod avatar;
pub mod avatar_editor;
pub mod button;
pub mod field;
pub mod layout;
pub mod mfa_choice;
pub mod org_frame;
pub mod page;
pub mod profile_form;
pub mod profile_frame;
pub mod reauth;
pub mod recovery_codes;
pub mod top_bar;

pub use activity::ActivityList;
pub use avatar::AvatarImage;
pub use avatar_editor::AvatarEditor;
pub use button::SubmitButton;
pub use field::{Field, FormMessage, PasswordField};
pub use layout::{AuthCard, SiteFooter, SiteHeader};
pub use leptos::server_fn::ServerFn;
pub use mfa_choice::MfaMethodChoice;
pub use org_frame::OrgFrame;
pub use page::{failed_card, server_view, PostForm};
pub use profile_form::ProfileForm;
pub use profile_frame::ProfileFrame;
pub use reauth::{ReauthBox, SentCodeBox};
pub use recovery_codes::RecoveryCodesList;
pub use top_bar::TopBar;
