//! Deferred logins (password hashes: PBKDF2, argon2id) run off the event loops, on a small pool
//! of threads shared by every worker and fed by one bounded queue; each verdict goes back to the
//! worker whose shard asked, through that worker's own channel.
//!
//! A full queue never makes a worker wait: the CONNECT is answered at once with 0x89 Server
//! busy (3.x: return code 3, server unavailable) and the client may retry. Verdicts travel on
//! an unbounded channel, bounded by construction: at most [`AUTH_QUEUE_CAPACITY`] jobs wait
//! and one runs per thread, so no more verdicts than that are ever in flight. Nothing here
//! decides anything about a login; the job (from the access policy) does, the shard acts.

use super::Shared;
use brokkr_core::access::LoginResult;
use brokkr_core::shard::{AuthJob, AuthToken, ConnId};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Deferred logins waiting for a pool thread, for the whole broker. Beyond this a CONNECT is
/// answered Server busy. At 20 ms an argon2id check, one thread works through a full queue in
/// about 5 s, inside the default 10 s CONNECT timeout.
pub const AUTH_QUEUE_CAPACITY: usize = 256;

/// Pool threads: half the CPUs (the other half keep serving), at least 1, at most
/// [`AUTH_THREADS_MAX`].
pub fn auth_threads() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    (cpus / 2).clamp(1, AUTH_THREADS_MAX)
}

/// The most pool threads, however many CPUs there are.
pub const AUTH_THREADS_MAX: usize = 4;

/// A verdict on its way back to the worker that asked.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub conn: ConnId,
    pub token: AuthToken,
    pub result: LoginResult,
}

/// One queued login and where its verdict goes.
struct Task {
    job: AuthJob,
    reply: UnboundedSender<Verdict>,
}

/// The login threads and their queue. Dropping the last handle closes the queue; the threads
/// finish the job at hand and end.
pub(crate) struct AuthPool {
    queue: SyncSender<Task>,
}

impl std::fmt::Debug for AuthPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthPool")
    }
}

impl AuthPool {
    /// `threads` threads sharing a queue of `capacity` jobs.
    pub fn start(threads: usize, capacity: usize) -> std::io::Result<AuthPool> {
        let (queue, rx) = sync_channel::<Task>(capacity);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("brokkr-auth-{i}"))
                .spawn(move || run(&rx))?;
        }
        Ok(AuthPool { queue })
    }

    /// Queue `job`, its verdict to go to `reply`; the job back if the queue is full (or the
    /// pool is gone).
    pub fn submit(&self, job: AuthJob, reply: &UnboundedSender<Verdict>) -> Result<(), AuthJob> {
        let task = Task {
            job,
            reply: reply.clone(),
        };
        match self.queue.try_send(task) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(t) | TrySendError::Disconnected(t)) => Err(t.job),
        }
    }
}

/// One pool thread: take a job, run it, send the verdict back; until the queue closes.
fn run(rx: &Mutex<Receiver<Task>>) {
    loop {
        // The lock is held while waiting: one idle thread waits on the queue, the others on
        // the lock; either way a job is taken as soon as one arrives.
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Task { job, reply }) = next else {
            return; // every sender is gone: the broker stopped
        };
        let verdict = Verdict {
            conn: job.conn,
            token: job.token,
            result: job.job.run(),
        };
        // The worker may have stopped meanwhile; then nobody waits for this verdict.
        let _ = reply.send(verdict);
    }
}

/// A worker's end of the pool: where its jobs go and its verdicts come back.
pub(super) struct WorkerAuth {
    pool: Arc<AuthPool>,
    reply: UnboundedSender<Verdict>,
    /// Logins refused because the queue was full, since it last had room (for the log).
    busy_refusals: u64,
}

impl WorkerAuth {
    /// This worker's link to `pool`, and the receiver its verdicts arrive on.
    pub fn new(pool: Arc<AuthPool>) -> (WorkerAuth, UnboundedReceiver<Verdict>) {
        let (reply, verdicts) = unbounded_channel();
        let auth = WorkerAuth {
            pool,
            reply,
            busy_refusals: 0,
        };
        (auth, verdicts)
    }

    /// Queue `job`; the job back if the pool is busy (logged at the start of each busy spell
    /// and when it ends).
    pub fn submit(&mut self, job: AuthJob) -> Result<(), AuthJob> {
        match self.pool.submit(job, &self.reply) {
            Ok(()) => {
                if self.busy_refusals > 0 {
                    log::warn!(
                        "the login queue has room again; {} CONNECTs were answered Server busy",
                        self.busy_refusals
                    );
                    self.busy_refusals = 0;
                }
                Ok(())
            }
            Err(job) => {
                if self.busy_refusals == 0 {
                    log::warn!(
                        "the login queue is full ({AUTH_QUEUE_CAPACITY} password checks waiting): \
                         answering CONNECTs with Server busy"
                    );
                }
                self.busy_refusals += 1;
                Err(job)
            }
        }
    }
}

/// Hand each verdict to the shard (which completes or refuses the CONNECT) and flush.
pub(super) async fn verdict_loop(mut verdicts: UnboundedReceiver<Verdict>, worker: Shared) {
    while let Some(v) = verdicts.recv().await {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        w.shard.auth_verdict(now, v.conn, v.token, v.result);
        w.flush_outputs();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokkr_core::access::{AccessPolicy, Login, LoginCheck, LoginJob};
    use brokkr_core::limits::Limits;
    use brokkr_core::shard::{Placement, Shard, SharedState};
    use std::time::Duration;

    /// Every login is deferred; each job counts itself in `started`, then waits for `open`
    /// (at most 5 s) before answering.
    #[derive(Debug, Default)]
    struct Gate {
        open: Mutex<bool>,
        changed: std::sync::Condvar,
        started: std::sync::atomic::AtomicUsize,
    }

    #[derive(Debug)]
    struct Gated(Arc<Gate>);

    impl AccessPolicy for Gated {
        fn login(&self, _: u16, _: Option<&[u8]>, _: Option<&[u8]>) -> LoginCheck {
            let gate = Arc::clone(&self.0);
            LoginCheck::Deferred(LoginJob::new(move || {
                gate.started
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut open = gate.open.lock().unwrap_or_else(PoisonError::into_inner);
                for _ in 0..500 {
                    if *open {
                        break;
                    }
                    open = gate
                        .changed
                        .wait_timeout(open, Duration::from_millis(10))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                Ok(Login::default())
            }))
        }
        fn may_write(&self, _: &Login, _: &str, _: &brokkr_codec::TopicName) -> bool {
            true
        }
        fn may_read(&self, _: &Login, _: &str, _: &brokkr_codec::TopicName) -> bool {
            true
        }
        fn checks_reads(&self) -> bool {
            false
        }
    }

    /// A v3.1.1 CONNECT for `id`: fixed header, "MQTT", level 4, clean session, keep alive 0.
    fn connect_bytes(id: &str) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 0];
        body.extend_from_slice(&u16::try_from(id.len()).unwrap_or(0).to_be_bytes());
        body.extend_from_slice(id.as_bytes());
        let mut out = vec![0x10, u8::try_from(body.len()).unwrap_or(0)];
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn a_full_login_queue_refuses_with_server_busy_and_the_rest_complete() {
        let gate = Arc::new(Gate::default());
        let shared = SharedState::new();
        shared.set_policy(Arc::new(Gated(Arc::clone(&gate))));
        let mut shard = Shard::with_placement(Limits::default(), 1, Placement::SOLE, shared);
        // One thread, one queue slot: the first job runs (and blocks), the second waits, the
        // third finds the queue full.
        let pool = Arc::new(AuthPool::start(1, 1).unwrap_or_else(|e| panic!("{e}")));
        let (mut auth, mut verdicts) = WorkerAuth::new(pool);
        let conns: Vec<_> = (0..3).map(|_| shard.accept(0)).collect();
        let mut refused = Vec::new();
        for (i, &c) in conns.iter().enumerate() {
            shard.bytes_received(0, c, &connect_bytes(&format!("c{i}")));
            for job in shard.take_auth_jobs() {
                if let Err(job) = auth.submit(job) {
                    refused.push(job.conn);
                    shard.auth_busy(0, job.conn, job.token);
                }
            }
            if i == 0 {
                // Wait (boundedly) until the thread took the first job off the queue.
                for _ in 0..500 {
                    if gate.started.load(std::sync::atomic::Ordering::SeqCst) == 1 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        assert_eq!(refused, [conns[2]]);
        // 3.1.1: Server busy goes out as return code 3.
        assert_eq!(shard.write_buffer(conns[2]), [0x20, 2, 0, 3]);
        assert!(shard.write_buffer(conns[0]).is_empty());
        *gate.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        gate.changed.notify_all();
        for _ in 0..2 {
            let v = verdicts
                .blocking_recv()
                .unwrap_or_else(|| panic!("verdict"));
            shard.auth_verdict(0, v.conn, v.token, v.result);
        }
        assert_eq!(shard.write_buffer(conns[0]), [0x20, 2, 0, 0]);
        assert_eq!(shard.write_buffer(conns[1]), [0x20, 2, 0, 0]);
    }
}
