//! Who may connect, publish and receive: the core asks an [`AccessPolicy`] and obeys.
//!
//! The policy is injected (brokkr-auth's password and ACL files in the server; [`AllowAll`]
//! without a config file, in tests and under `--fuzz-file`), so the core stays free of files
//! and of password hashing code. A CONNECT that the policy accepts yields a [`Login`], the
//! proof every later check needs (STYLE rule 6): the session keeps it, and each PUBLISH a
//! client sends (write) and each message delivered to it (read) is checked against it.
//!
//! A login that costs real time (a password hash: PBKDF2 with many iterations, argon2id) is
//! answered [`LoginCheck::Deferred`]: the shard parks the connection in its authenticating
//! phase and the server runs the [`LoginJob`] off the event loop, so one slow hash never
//! stalls the other clients of a worker.

use brokkr_codec::{ReasonCode, TopicName};
use std::fmt;
use std::sync::Arc;

/// Proof that a CONNECT passed the policy: the name its ACL uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Login {
    /// The username the ACL applies to; `None` for an anonymous client.
    pub username: Option<Arc<str>>,
}

/// A username the transport proved before the CONNECT: the Common Name of a client certificate
/// the listener verified (mTLS), or the one a trusted PROXY header reports in the
/// `client_verification` modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportUser {
    /// The name the ACL applies to; it replaces the CONNECT's username.
    pub name: Arc<str>,
    /// Also check the CONNECT's password against the policy with this name
    /// (`client_verification_still_do_authn`, `haproxy client_verification_with_authn`);
    /// otherwise the certificate alone logs the client in.
    pub still_authenticate: bool,
}

/// The outcome of a login: a CONNACK code (an error) or the proof a session needs.
pub type LoginResult = Result<Login, ReasonCode>;

/// Work a login still needs, run by the server off the event loop (a password hash to verify).
/// It owns copies of whatever it checks; it must not touch the shard.
pub struct LoginJob(Box<dyn FnOnce() -> LoginResult + Send>);

impl LoginJob {
    /// A job that computes its verdict with `check`.
    pub fn new(check: impl FnOnce() -> LoginResult + Send + 'static) -> LoginJob {
        LoginJob(Box::new(check))
    }

    /// Compute the verdict (slow: call it where a worker's clients do not wait for it).
    pub fn run(self) -> LoginResult {
        (self.0)()
    }
}

impl fmt::Debug for LoginJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginJob(..)") // never shows the credentials it holds
    }
}

/// What [`AccessPolicy::login`] answers.
#[derive(Debug)]
pub enum LoginCheck {
    /// The verdict is known now (no hash to verify, or a refusal that needs none).
    Now(LoginResult),
    /// The verdict needs slow work: the connection waits in the authenticating phase until
    /// the server hands the job's result back.
    Deferred(LoginJob),
}

/// The broker's authentication and authorization rules. Implementations must be cheap for
/// `may_read` (it runs per delivered message when [`AccessPolicy::checks_reads`] is true) and
/// must answer `login` at once, deferring any slow work ([`LoginCheck::Deferred`]): it runs on
/// a worker thread.
pub trait AccessPolicy: Send + Sync + fmt::Debug {
    /// Check a CONNECT's credentials on listener `listener` (its index in the server's list).
    /// A refusal is the CONNACK reason code (0x86 or 0x87; 3.x clients get the matching return
    /// code).
    fn login(&self, listener: u16, username: Option<&[u8]>, password: Option<&[u8]>) -> LoginCheck;

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
    ) -> LoginCheck {
        let username = username
            .and_then(|u| std::str::from_utf8(u).ok())
            .map(Arc::from);
        LoginCheck::Now(Ok(Login { username }))
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
