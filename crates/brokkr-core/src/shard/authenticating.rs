//! The Authenticating phase: a CONNECT whose login the access policy deferred
//! ([`LoginCheck::Deferred`](crate::access::LoginCheck)) waits here for its verdict.
//!
//! Everything a CONNECT does that depends on the verdict (the will's ACL check, the takeover of
//! a live client id, the session lookup, CONNACK) happens only once the verdict arrives, in the
//! same code and order as for an immediate login (`connect.rs`, `complete_connect`). Meanwhile
//! the connection's later bytes stay unframed in its read buffer, bounded by the pre-CONNECT
//! packet cap, and are handled in order right after a successful verdict; the CONNECT timeout
//! keeps running. The shard never runs a job itself: the server takes them
//! ([`Shard::take_auth_jobs`]) and hands each verdict back ([`Shard::auth_verdict`]) with the
//! token it came with, so a verdict for a connection that closed meanwhile, or for an earlier
//! use of its id, changes nothing.
//!
//! A connection whose session is homed on another shard moves there before its CONNECT is
//! handled (`Shard::hand_off`), so its login runs exactly once, on the home shard.

use super::conn::Phase;
use super::connect::Checked;
use super::{ConnId, Shard};
use crate::access::{LoginJob, LoginResult};
use brokkr_codec::{DecodeError, ReasonCode};

/// A connection waiting for its login verdict.
#[derive(Debug)]
pub struct Authenticating {
    /// The CONNECT, checked for everything but the credentials.
    pub(super) checked: Checked,
    /// The token its job was handed out with.
    pub(super) token: AuthToken,
}

/// Tells one deferred login from any other on the same shard: a verdict counts only for the
/// connection and token its job named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthToken(u64);

/// A deferred login for the server to run off the event loop; its verdict goes back through
/// [`Shard::auth_verdict`] with `conn` and `token`.
#[derive(Debug)]
pub struct AuthJob {
    /// The connection waiting for it.
    pub conn: ConnId,
    /// The token to give back with the verdict.
    pub token: AuthToken,
    /// The slow part of the login (a password hash to verify).
    pub job: LoginJob,
}

impl Shard {
    /// Park `conn` until the verdict of `job` arrives.
    pub(super) fn defer_login(&mut self, conn: ConnId, checked: Checked, job: LoginJob) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        self.auth_seq = self.auth_seq.wrapping_add(1);
        let token = AuthToken(self.auth_seq);
        c.phase = Phase::Authenticating(Box::new(Authenticating { checked, token }));
        self.auth_jobs.push(AuthJob { conn, token, job });
    }

    /// Deferred logins to run, taken once, in the order their CONNECTs arrived. Jobs of
    /// connections that closed meanwhile are left out.
    pub fn take_auth_jobs(&mut self) -> Vec<AuthJob> {
        let mut jobs = std::mem::take(&mut self.auth_jobs);
        jobs.retain(|j| self.awaits_verdict(j.conn, j.token));
        jobs
    }

    /// True if a deferred login waits to be taken.
    pub fn has_auth_jobs(&self) -> bool {
        !self.auth_jobs.is_empty()
    }

    /// The verdict of the job handed out for `conn` with `token`. A success completes the
    /// CONNECT (takeover, session, CONNACK) and then handles the bytes that arrived meanwhile;
    /// a refusal answers CONNACK with its code and closes. A verdict nobody waits for (the
    /// connection closed, timed out, or the token is not its own) is ignored.
    pub fn auth_verdict(&mut self, now_ms: u64, conn: ConnId, token: AuthToken, v: LoginResult) {
        if !self.awaits_verdict(conn, token) {
            return;
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        // Back to AwaitingConnect for the moment: completing moves it on to Connected, a
        // refusal to Closing.
        let Phase::Authenticating(waiting) =
            std::mem::replace(&mut c.phase, Phase::AwaitingConnect)
        else {
            return;
        };
        self.refresh_policy();
        let version = waiting.checked.connect.protocol.0;
        match v {
            Ok(login) => self.complete_connect(now_ms, conn, waiting.checked, login),
            Err(reason) => {
                let client_id = waiting.checked.client_id;
                self.refuse(now_ms, conn, version, reason, &client_id)
            }
        }
        debug_assert!(
            self.conns
                .get(conn)
                .is_none_or(|c| !matches!(c.phase, Phase::AwaitingConnect)),
            "a verdict leaves the connection connected or closing"
        );
        self.process(now_ms, conn);
    }

    /// The server could not take the job handed out for `conn` with `token` (its login queue
    /// is full): the CONNECT is answered 0x89 Server busy (3.x: return code 3, server
    /// unavailable) and the client may retry.
    pub fn auth_busy(&mut self, now_ms: u64, conn: ConnId, token: AuthToken) {
        self.auth_verdict(now_ms, conn, token, Err(ReasonCode::ServerBusy));
    }

    /// Run every deferred login here and now, in order (for harnesses without a thread pool:
    /// `--fuzz-file`, simulations, tests).
    pub fn run_auth_jobs(&mut self, now_ms: u64) {
        for j in self.take_auth_jobs() {
            let verdict = j.job.run();
            self.auth_verdict(now_ms, j.conn, j.token, verdict);
        }
    }

    /// Whether `conn` is authenticating with the job handed out as `token`.
    fn awaits_verdict(&self, conn: ConnId, token: AuthToken) -> bool {
        self.conns
            .get(conn)
            .is_some_and(|c| matches!(&c.phase, Phase::Authenticating(a) if a.token == token))
    }

    /// Bytes arrived on an authenticating connection: they wait, unframed, for the verdict;
    /// more than one pre-CONNECT packet's worth closes the connection as a packet over the
    /// cap would.
    pub(super) fn hold_while_authenticating(&mut self, now_ms: u64, conn: ConnId) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let Phase::Authenticating(a) = &c.phase else {
            return;
        };
        if c.io.as_ref().map_or(0, |io| io.read.len()) <= self.limits.packet_cap(false) {
            return;
        }
        let version = Some(a.checked.connect.protocol.0);
        let e = DecodeError::limit(
            ReasonCode::PacketTooLarge,
            "bytes sent while authenticating exceed the pre-CONNECT cap",
        );
        self.fail(now_ms, conn, version, &e);
    }
}
