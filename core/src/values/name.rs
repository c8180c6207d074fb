//! A person's first or last name, as registration and the Profile tab accept it: trimmed,
//! 1–[`NAME_MAX`] code points, no control characters (which could forge lines in mail or logs).
//! Shared with the browser (WASM) like the password policy.

/// The most code points a name may have.
pub const NAME_MAX: usize = 100;

/// The name as stored, or the message shown next to its field; `what` names the field in the
/// message ("first name", "last name").
pub fn person_name(input: &str, what: &str) -> Result<String, String> {
    let t = input.trim();
    if t.is_empty() {
        Err(format!("Enter your {what}."))
    } else if t.chars().count() > NAME_MAX {
        Err(format!("Use at most {NAME_MAX} characters."))
    } else if t.chars().any(char::is_control) {
        Err("Use letters, spaces and punctuation only.".into())
    } else {
        Ok(t.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(person_name("  Ada ", "first name"), Ok("Ada".into()));
        assert_eq!(
            person_name("   ", "first name"),
            Err("Enter your first name.".into())
        );
        assert_eq!(
            person_name(&"é".repeat(NAME_MAX), "x").map(|n| n.chars().count()),
            Ok(NAME_MAX)
        );
        assert_eq!(
            person_name(&"é".repeat(NAME_MAX + 1), "x"),
            Err("Use at most 100 characters.".into())
        );
        assert_eq!(
            person_name("Ada\nBcc: x", "x"),
            Err("Use letters, spaces and punctuation only.".into())
        );
        assert_eq!(
            person_name("Zoë O'Brien-Łukasz", "x"),
            Ok("Zoë O'Brien-Łukasz".into())
        );
    }
}
