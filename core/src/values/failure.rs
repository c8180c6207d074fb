//! How a refused action reaches a person. Every error enum of a flow says, per variant, where its
//! message belongs; the app turns that into its one wire error and never decides it again.
//!
//! - Bad input gets its message next to the field it is about (or next to each field of a form
//!   that failed validation), and everything the person typed except passwords is kept.
//! - A flow-level refusal (the flow expired, re-authentication needed) is said for the whole form.
//! - P6: "busy" answers 503 with Retry-After.
//! - A fault is logged by the app and never shown; the person reads a generic message (G1: no
//!   internals, no secrets in what the browser sees).

/// Where a refusal is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Next to the field the action was about (the caller names it).
    Field,
    /// Next to each named field (a whole form's validation).
    Fields(Vec<(&'static str, String)>),
    /// For the whole form.
    Form,
    /// P6: the server is busy.
    Busy,
    /// A fault: logged, never shown.
    Internal,
}

/// An error a person can be told about; its `Display` is the message.
pub trait Refusal: std::fmt::Display + std::fmt::Debug {
    fn shown(&self) -> Shown;
}

/// The named fields that carry a message, in form order.
pub fn fields<const N: usize>(pairs: [(&'static str, &Option<String>); N]) -> Shown {
    Shown::Fields(
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect(),
    )
}

impl<T: Refusal + ?Sized> Refusal for &T {
    fn shown(&self) -> Shown {
        (**self).shown()
    }
}

impl Refusal for crate::values::email::EmailError {
    fn shown(&self) -> Shown {
        Shown::Field
    }
}

impl Refusal for crate::values::phone::PhoneError {
    fn shown(&self) -> Shown {
        Shown::Field
    }
}
