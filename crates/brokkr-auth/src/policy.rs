//! The login policy: a CONNECT's username and password, the global and per-listener
//! `allow_anonymous`, `zero_byte_username_is_anonymous` and the password file, turned into an
//! [`Identity`] (the proof the session and the ACL checks need) or a [`Refusal`] with its MQTT
//! reason code. The rules are FlashMQ's, checked against its tests `testMosquittoPasswordFile`,
//! `testOverrideAllowAnonymousTo{True,False}`, `testKeepAllowAnonymousFalse` and
//! `testAllowAnonymousWithoutPasswordsLoaded`:
//!
//! 1. No username, or an empty one with `zero_byte_username_is_anonymous`, is anonymous: allowed
//!    only if `allow_anonymous` (listener override first).
//! 2. A username in the password file must have the right password, whatever `allow_anonymous`
//!    says (an empty or absent password is a wrong password, not anonymity).
//! 3. A username not in the file (or with no file loaded) is let in only if `allow_anonymous`;
//!    it keeps its claimed username for the ACL ([`Identity::Unverified`]), as in FlashMQ.
//!
//! FlashMQ answers every refusal with 0x87 (not authorized); we answer 0x86 (bad user name or
//! password) when credentials were checked and failed, and 0x87 for refused anonymity, which is
//! what the MQTT 5 reason codes mean.
//!
//! Password checks cost a PBKDF2 or argon2 run (milliseconds to tens of milliseconds), so the
//! login is split in two: [`AuthPolicy::precheck_on_listener`] answers at once whatever needs
//! no hash ([`Precheck::Decided`]: anonymous clients, anonymity refused, a non-UTF-8 username,
//! a username let in unverified, any name when no password file is loaded), and hands back a
//! [`PendingVerification`] for the rest, which the broker runs off its event loop.
//!
//! Timing must not tell which users exist. When anonymous clients are refused, an unknown
//! username therefore takes the very path of a known one with a wrong password: it is deferred
//! too, and its password is checked against a decoy hash of the file's most common scheme and
//! cost ([`PasswordDb::verify`]), so both wait in the same queue and cost the same hash. (When
//! anonymous clients are allowed an unknown username is let in at once: its acceptance already
//! says it is not in the file, so there is nothing for timing to hide. With no password file
//! loaded there is no user to hide either.)

use crate::acl::{Access, Acl, AclDecision, ClientIdentity};
use crate::passwd::{Authenticated, PasswordDb};
use brokkr_codec::{ReasonCode, TopicName};
use std::fmt;
use std::sync::Arc;

/// Who a client is, once its CONNECT was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The password was checked against the password file.
    Authenticated(Authenticated),
    /// No username (or an empty one with `zero_byte_username_is_anonymous`).
    Anonymous,
    /// A username the password file does not know (or no file is loaded), let in because
    /// anonymous clients are allowed. Its ACL is that username's, as in FlashMQ: an operator who
    /// removes a user from the password file should remove its `user` block too.
    Unverified {
        /// The claimed username.
        username: Box<str>,
    },
}

impl Identity {
    /// The username the ACL uses: `None` for anonymous clients.
    pub fn username(&self) -> Option<&str> {
        match self {
            Identity::Authenticated(a) => Some(a.username()),
            Identity::Anonymous => None,
            Identity::Unverified { username } => Some(username),
        }
    }

    /// The identity an ACL check needs, with the connection's client id.
    pub fn acl_identity<'a>(&'a self, client_id: &'a str) -> ClientIdentity<'a> {
        ClientIdentity {
            username: self.username(),
            client_id,
        }
    }
}

/// Why a CONNECT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Credentials were checked and failed: an unknown user (anonymous not allowed), a wrong
    /// password, or a username that is not UTF-8. MQTT 5 0x86, MQTT 3 return code 4.
    BadUsernameOrPassword,
    /// An anonymous client where anonymous clients are not allowed. MQTT 5 0x87, MQTT 3 return
    /// code 5.
    NotAuthorized,
}

impl Refusal {
    /// The CONNACK reason code (the codec maps it to a 3.x return code).
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Refusal::BadUsernameOrPassword => ReasonCode::BadUserNameOrPassword,
            Refusal::NotAuthorized => ReasonCode::NotAuthorized,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::BadUsernameOrPassword => "bad username or password",
            Refusal::NotAuthorized => "anonymous clients are not allowed",
        })
    }
}

impl std::error::Error for Refusal {}

/// The authentication and authorization settings of the broker (global values; listeners may
/// override `allow_anonymous`).
#[derive(Debug, Clone, Default)]
pub struct AuthPolicy {
    /// `allow_anonymous` (FlashMQ's default is false).
    pub allow_anonymous: bool,
    /// `zero_byte_username_is_anonymous`.
    pub zero_byte_username_is_anonymous: bool,
    /// The loaded `mosquitto_password_file`, if any.
    pub password_db: Option<Arc<PasswordDb>>,
    /// The loaded `mosquitto_acl_file`, if any.
    pub acl: Option<Arc<Acl>>,
}

/// The cheap half of a login: a verdict, or the hash check still to run.
#[derive(Debug)]
pub enum Precheck {
    /// Known without checking a hash.
    Decided(Result<Identity, Refusal>),
    /// A password to check against the password file (slow: run it off the event loop).
    NeedsHash(PendingVerification),
}

/// A password still to check: owns the credentials and the password file as loaded when the
/// CONNECT arrived, so it can run on any thread, after any reload.
pub struct PendingVerification {
    db: Arc<PasswordDb>,
    username: Box<str>,
    password: Box<[u8]>,
}

impl PendingVerification {
    /// Check the password: [`Identity::Authenticated`] or [`Refusal::BadUsernameOrPassword`]
    /// (an unknown username costs a decoy hash and is refused).
    pub fn verify(self) -> Result<Identity, Refusal> {
        self.db
            .verify(&self.username, &self.password)
            .map(Identity::Authenticated)
            .map_err(|_| Refusal::BadUsernameOrPassword)
    }
}

impl fmt::Debug for PendingVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the password nor whether the user exists.
        write!(f, "PendingVerification {{ username: {:?} }}", self.username)
    }
}

impl AuthPolicy {
    /// Check a CONNECT's credentials with the global `allow_anonymous`.
    pub fn authenticate(
        &self,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<Identity, Refusal> {
        self.authenticate_on_listener(None, username, password)
    }

    /// Check a CONNECT's credentials on a listener whose `allow_anonymous` may override the
    /// global one, hash included (on the calling thread).
    pub fn authenticate_on_listener(
        &self,
        listener_allow_anonymous: Option<bool>,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<Identity, Refusal> {
        match self.precheck_on_listener(listener_allow_anonymous, username, password) {
            Precheck::Decided(verdict) => verdict,
            Precheck::NeedsHash(pending) => pending.verify(),
        }
    }

    /// Everything about a login that needs no hash; see the module docs for what is deferred
    /// and why unknown usernames are deferred too when anonymity is refused.
    pub fn precheck_on_listener(
        &self,
        listener_allow_anonymous: Option<bool>,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Precheck {
        let allow_anonymous = listener_allow_anonymous.unwrap_or(self.allow_anonymous);
        let username = match username {
            Some(u) if !(u.is_empty() && self.zero_byte_username_is_anonymous) => u,
            _ if allow_anonymous => return Precheck::Decided(Ok(Identity::Anonymous)),
            _ => return Precheck::Decided(Err(Refusal::NotAuthorized)),
        };
        let Ok(username) = std::str::from_utf8(username) else {
            // No file holds such a name: nothing about its users can leak.
            return Precheck::Decided(Err(Refusal::BadUsernameOrPassword));
        };
        let pending = |db: &Arc<PasswordDb>| {
            Precheck::NeedsHash(PendingVerification {
                db: Arc::clone(db),
                username: username.into(),
                password: password.unwrap_or_default().into(),
            })
        };
        match &self.password_db {
            Some(db) if db.contains(username) => pending(db),
            _ if allow_anonymous => Precheck::Decided(Ok(Identity::Unverified {
                username: username.into(),
            })),
            // Unknown, and refused: the same path and cost as a wrong password.
            Some(db) => pending(db),
            None => Precheck::Decided(Err(Refusal::BadUsernameOrPassword)),
        }
    }

    /// The ACL verdict; everything is allowed when no ACL file is loaded.
    pub fn check_acl(
        &self,
        identity: &Identity,
        client_id: &str,
        topic: &TopicName,
        access: Access,
    ) -> AclDecision {
        match &self.acl {
            Some(acl) => acl.check(&identity.acl_identity(client_id), topic, access),
            None => AclDecision::Allowed,
        }
    }
}

#[cfg(test)]
mod tests;
