//! Editing a password file's text, as `mosquitto_passwd` does: set (add or update) a user's hash,
//! or delete a user, keeping every other line (comments, other users, even lines we cannot parse)
//! exactly as it was. Pure functions on text; reading and writing the file is [`crate::fs`]'s job.

use std::fmt;

/// Longest username `mosquitto_passwd`-style tools accept here (an MQTT string's maximum).
pub const USERNAME_BYTES_MAX: usize = 65_535;

/// Why an edit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// Empty username.
    EmptyUsername,
    /// The username contains `:` (the file's separator) or a line break.
    InvalidUsername,
    /// The username is longer than [`USERNAME_BYTES_MAX`].
    UsernameTooLong,
    /// `delete_user` found no such user.
    UserNotFound,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EditError::EmptyUsername => "username must not be empty",
            EditError::InvalidUsername => "username must not contain ':' or a line break",
            EditError::UsernameTooLong => "username too long",
            EditError::UserNotFound => "user not found",
        })
    }
}

impl std::error::Error for EditError {}

/// Check a username for use in a password file.
pub fn validate_username(username: &str) -> Result<(), EditError> {
    if username.is_empty() {
        return Err(EditError::EmptyUsername);
    }
    if username.len() > USERNAME_BYTES_MAX {
        return Err(EditError::UsernameTooLong);
    }
    if username.contains([':', '\n', '\r']) {
        return Err(EditError::InvalidUsername);
    }
    Ok(())
}

/// Whether `line` is the entry of `username`.
fn is_entry_of(line: &str, username: &str) -> bool {
    line.strip_prefix(username)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// `text` with `username`'s entry set to `encoded_hash` (from [`super::PasswordHash::encode`]):
/// the first entry is replaced in place, later duplicates are dropped, a missing user is
/// appended. The result always ends with a newline.
pub fn set_user(text: &str, username: &str, encoded_hash: &str) -> Result<String, EditError> {
    validate_username(username)?;
    let mut out = String::with_capacity(text.len() + username.len() + encoded_hash.len() + 2);
    let mut done = false;
    for line in text.lines() {
        if is_entry_of(line, username) {
            if done {
                continue;
            }
            done = true;
            push_entry(&mut out, username, encoded_hash);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !done {
        push_entry(&mut out, username, encoded_hash);
    }
    Ok(out)
}

/// `text` without any entry of `username`.
pub fn delete_user(text: &str, username: &str) -> Result<String, EditError> {
    validate_username(username)?;
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for line in text.lines() {
        if is_entry_of(line, username) {
            found = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if found {
        Ok(out)
    } else {
        Err(EditError::UserNotFound)
    }
}

fn push_entry(out: &mut String, username: &str, encoded_hash: &str) {
    out.push_str(username);
    out.push(':');
    out.push_str(encoded_hash);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_appends_replaces_and_dedups() {
        let t = set_user("", "a", "H1").unwrap();
        assert_eq!(t, "a:H1\n");
        let t = set_user("# c\nab:X\na:old\nb:Y\na:dup", "a", "H2").unwrap();
        assert_eq!(t, "# c\nab:X\na:H2\nb:Y\n");
    }

    #[test]
    fn delete_keeps_others_and_reports_missing() {
        assert_eq!(delete_user("a:1\nb:2\na:3\n", "a").unwrap(), "b:2\n");
        assert_eq!(delete_user("b:2\n", "a"), Err(EditError::UserNotFound));
    }

    #[test]
    fn usernames_are_validated() {
        assert_eq!(set_user("", "", "h"), Err(EditError::EmptyUsername));
        assert_eq!(set_user("", "a:b", "h"), Err(EditError::InvalidUsername));
        assert_eq!(set_user("", "a\nb", "h"), Err(EditError::InvalidUsername));
        let long = "x".repeat(USERNAME_BYTES_MAX + 1);
        assert_eq!(set_user("", &long, "h"), Err(EditError::UsernameTooLong));
    }
}
