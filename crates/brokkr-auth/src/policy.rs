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
//! what the MQTT 5 reason codes mean. Password checks cost a PBKDF2 or argon2 run: the broker
//! should run [`AuthPolicy::authenticate`] off its event loop when argon2 hashes are in use.

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
    /// global one.
    pub fn authenticate_on_listener(
        &self,
        listener_allow_anonymous: Option<bool>,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<Identity, Refusal> {
        let allow_anonymous = listener_allow_anonymous.unwrap_or(self.allow_anonymous);
        let username = match username {
            Some(u) if !(u.is_empty() && self.zero_byte_username_is_anonymous) => u,
            _ if allow_anonymous => return Ok(Identity::Anonymous),
            _ => return Err(Refusal::NotAuthorized),
        };
        let username = std::str::from_utf8(username).map_err(|_| Refusal::BadUsernameOrPassword)?;
        let password = password.unwrap_or_default();
        match &self.password_db {
            Some(db) if db.contains(username) => db
                .verify(username, password)
                .map(Identity::Authenticated)
                .map_err(|_| Refusal::BadUsernameOrPassword),
            _ if allow_anonymous => Ok(Identity::Unverified {
                username: username.into(),
            }),
            _ => Err(Refusal::BadUsernameOrPassword),
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
