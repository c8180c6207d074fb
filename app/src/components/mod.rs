//! Reusable building blocks. Every one of them appears in `/dev/gallery` in each of its states.

pub mod button;
pub mod field;
pub mod layout;
pub mod top_bar;

pub use button::SubmitButton;
pub use field::{Field, FormMessage, PasswordField};
pub use layout::{AuthCard, SiteFooter, SiteHeader};
pub use top_bar::TopBar;
