//! Who may connect, publish and receive: the core asks an [`AccessPolicy`] and obeys.
//!
//! The policy is injected (brokkr-auth's password and ACL files in the server; [`AllowAll`]
//! without a config file, in tests and under `--fuzz-file`), so the core stays free of files
//! and of password hashing code. A CONNECT that the policy accepts yields a [`Login`], the
//! proof every later check needs (STYLE rule 6): the session keeps it, and each PUBLISH a
//! client sends (write) and each message delivered to it (read) is checked against it.

use brokkr_codec::{ReasonCode, TopicName};
use std::fmt;
use std::sync::Arc;

/// Proof that a CONNECT passed the policy: the name its ACL uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Login {
    /// The username the ACL applies to; `None` for an anonymous client.
    pub username: Option<Arc<str>>,
}

/// The broker's authentication and authorization rules. Implementations must be cheap for
/// `may_read` (it runs per delivered message when [`AccessPolicy::checks_reads`] is true) and
/// must never block for long in `login` (it runs on a worker thread).
pub trait AccessPolicy: Send + Sync + fmt::Debug {
    /// Check a CONNECT's credentials on listener `listener` (its index in the server's list).
    /// The error is the CONNACK reason code (0x86 or 0x87; 3.x clients get the matching return
    /// code).
    fn login(
        &self,
        listener: u16,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<Login, ReasonCode>;

    /// May this client publish to `topic` (also checked for its will at CONNECT)?
    fn may_write(&self, login: &Login, client_id: &str, topic: &TopicName) -> bool;

    /// May this client receive a message on `topic`?
    fn may_read(&self, login: &Login, client_id: &str, topic: &TopicName) -> bool;

    /// False when every read is allowed (no ACL loaded): deliveries then skip `may_read`.
    fn checks_reads(&self) -> bool;

    /// False when every client PUBLISH is allowed: the shard then skips `may_write` for them
    /// (wills are still checked at CONNECT).
    fn checks_writes(&self) -> bool {
        true
    }
}

/// Everyone may connect, publish and receive: the embedded default configuration (loopback
/// only), the tests and the fuzzers.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn login(
        &self,
        _listener: u16,
        username: Option<&[u8]>,
        _password: Option<&[u8]>,
    ) -> Result<Login, ReasonCode> {
        let username = username
            .and_then(|u| std::str::from_utf8(u).ok())
            .map(Arc::from);
        Ok(Login { username })
    }

    fn may_write(&self, _login: &Login, _client_id: &str, _topic: &TopicName) -> bool {
        true
    }

    fn may_read(&self, _login: &Login, _client_id: &str, _topic: &TopicName) -> bool {
        true
    }

    fn checks_reads(&self) -> bool {
        false
    }

    fn checks_writes(&self) -> bool {
        false
    }
}
