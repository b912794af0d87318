//! The Mosquitto password file: `username:hash` per line, parsed from text into a
//! [`PasswordDb`], and checked with [`PasswordDb::verify`], whose success is the
//! [`Authenticated`] proof that later steps (the ACL, the session) require.
//!
//! Parsing never fails as a whole: as in Mosquitto and FlashMQ, a bad line is skipped and
//! reported as a [`ParseWarning`] with its line number, for the caller to log. Warnings name the
//! line and the reason, never the hash and never a password. Blank lines and lines starting with
//! `#` are ignored; a trailing `\r` is stripped. When a user appears twice the last line wins (with
//! a warning), as when Mosquitto reloads a file edited by hand.

mod edit;
mod hash;

pub use edit::{EditError, USERNAME_BYTES_MAX, delete_user, set_user, validate_username};
pub use hash::{HashError, MOSQUITTO_DEFAULT_ITERATIONS, PasswordHash, SALT_BYTES};

use crate::limits::Limits;
use rustc_hash::FxHashMap;
use std::fmt;
use std::sync::LazyLock;

/// A skipped line of a password file. Holds no part of the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line number.
    pub line: usize,
    /// Why the line was skipped or overridden.
    pub reason: WarningReason,
}

/// Why a password-file line produced a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningReason {
    /// Longer than [`Limits::line_bytes_max`].
    LineTooLong,
    /// No `:` between username and hash.
    NoSeparator,
    /// Empty username.
    EmptyUsername,
    /// The hash was refused.
    Hash(HashError),
    /// More users than [`Limits::users_max`]; this and later lines are skipped.
    TooManyUsers,
    /// The user already appeared on an earlier line; this line replaces it.
    DuplicateUser,
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line;
        match self.reason {
            WarningReason::LineTooLong => write!(f, "password file line {line}: line too long"),
            WarningReason::NoSeparator => {
                write!(
                    f,
                    "password file line {line}: no ':' between username and hash"
                )
            }
            WarningReason::EmptyUsername => write!(f, "password file line {line}: empty username"),
            WarningReason::Hash(e) => write!(f, "password file line {line}: {e}"),
            WarningReason::TooManyUsers => {
                write!(f, "password file line {line}: too many users, skipped")
            }
            WarningReason::DuplicateUser => write!(
                f,
                "password file line {line}: user already defined earlier; this line replaces it"
            ),
        }
    }
}

/// Proof that a username's password was checked against the password file. Only this crate can
/// make one.
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated {
    username: Box<str>,
}

impl Authenticated {
    /// The verified username.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Authenticated {{ username: {:?} }}", self.username)
    }
}

/// Why [`PasswordDb::verify`] said no. Deliberately one value for both cases, so no caller can
/// leak which one it was to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRejected;

impl fmt::Display for PasswordRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown user or wrong password")
    }
}

impl std::error::Error for PasswordRejected {}

/// The users of a password file and their hashes.
#[derive(Clone, Default)]
pub struct PasswordDb {
    users: FxHashMap<Box<str>, PasswordHash>,
    /// The user whose hash an unknown username is checked against (the result thrown away),
    /// so that refusing an unknown user costs what checking most known users costs: one of
    /// the users with the file's most common scheme and cost ([`decoy_user`]).
    decoy: Option<Box<str>>,
}

impl fmt::Debug for PasswordDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordDb {{ users: {} }}", self.users.len())
    }
}

/// A hash the same cost as Mosquitto's default, checked for unknown users when the file has
/// no user at all.
static DUMMY: LazyLock<PasswordHash> =
    LazyLock::new(|| PasswordHash::new_pbkdf2(b"", [0; SALT_BYTES], MOSQUITTO_DEFAULT_ITERATIONS));

impl PasswordDb {
    /// Parse a password file's text. Bad lines become warnings; see the module docs.
    pub fn parse(text: &str, limits: &Limits) -> (PasswordDb, Vec<ParseWarning>) {
        let mut db = PasswordDb::default();
        let mut warnings = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index.saturating_add(1);
            let warn = |reason| ParseWarning { line, reason };
            match parse_line(raw, limits) {
                Ok(None) => {}
                Ok(Some((user, hash))) => {
                    if db.users.contains_key(user) {
                        warnings.push(warn(WarningReason::DuplicateUser));
                    } else if db.users.len() >= limits.users_max {
                        warnings.push(warn(WarningReason::TooManyUsers));
                        continue;
                    }
                    db.users.insert(user.into(), hash);
                }
                Err(reason) => warnings.push(warn(reason)),
            }
        }
        db.decoy = decoy_user(&db.users);
        (db, warnings)
    }

    /// Check `password` for `username`. An unknown user costs what most known users cost: its
    /// password is checked against the decoy user's hash (the file's most common scheme and
    /// cost) and refused whatever the outcome.
    pub fn verify(
        &self,
        username: &str,
        password: &[u8],
    ) -> Result<Authenticated, PasswordRejected> {
        match self.users.get(username) {
            Some(hash) if hash.verify(password) => Ok(Authenticated {
                username: username.into(),
            }),
            Some(_) => Err(PasswordRejected),
            None => {
                let decoy = self.decoy.as_deref().and_then(|u| self.users.get(u));
                let _ = decoy.unwrap_or(&DUMMY).verify(password);
                Err(PasswordRejected)
            }
        }
    }

    /// Whether the file names this user.
    pub fn contains(&self, username: &str) -> bool {
        self.users.contains_key(username)
    }

    /// The hash of one user, if present.
    pub fn get(&self, username: &str) -> Option<&PasswordHash> {
        self.users.get(username)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Every user and hash, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PasswordHash)> {
        self.users.iter().map(|(u, h)| (&**u, h))
    }
}

/// What a hash costs to check: its scheme and parameters (salts and digests aside).
type CostClass = (u8, u32, u32, u32);

fn cost_class(hash: &PasswordHash) -> CostClass {
    match hash {
        PasswordHash::Sha512 { .. } => (0, 0, 0, 0),
        PasswordHash::Pbkdf2Sha512 { iterations, .. } => (1, *iterations, 0, 0),
        PasswordHash::Argon2id {
            memory_kib,
            passes,
            lanes,
            ..
        } => (2, *memory_kib, *passes, *lanes),
    }
}

/// The decoy for unknown usernames: a user of the most common cost class (the costlier class on
/// a tie; the smallest name within it, so the choice does not depend on map order). Timing then
/// tells an unknown user from a known one only for users of a rarer scheme or cost.
fn decoy_user(users: &FxHashMap<Box<str>, PasswordHash>) -> Option<Box<str>> {
    let mut classes: std::collections::BTreeMap<CostClass, (usize, &str)> = Default::default();
    for (name, hash) in users {
        let entry = classes.entry(cost_class(hash)).or_insert((0, name));
        entry.0 += 1;
        entry.1 = entry.1.min(name);
    }
    classes
        .iter()
        .max_by_key(|(class, (count, _))| (*count, **class))
        .map(|(_, (_, name))| Box::from(*name))
}

/// One line: `Ok(None)` for blank and comment lines.
fn parse_line<'a>(
    raw: &'a str,
    limits: &Limits,
) -> Result<Option<(&'a str, PasswordHash)>, WarningReason> {
    if raw.len() > limits.line_bytes_max {
        return Err(WarningReason::LineTooLong);
    }
    let line = raw.strip_suffix('\r').unwrap_or(raw);
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (user, hash) = line.split_once(':').ok_or(WarningReason::NoSeparator)?;
    if user.is_empty() {
        return Err(WarningReason::EmptyUsername);
    }
    let hash = PasswordHash::parse(hash.trim_end(), limits).map_err(WarningReason::Hash)?;
    Ok(Some((user, hash)))
}

#[cfg(test)]
mod tests;
