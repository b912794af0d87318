//! `persistence_journal`: the journal thread. Workers send it each loop turn's records with a
//! ticket (a per-worker turn number); it appends everything that arrived meanwhile, makes it
//! durable with one `fdatasync` (group commit: every acknowledgement of the group shares it),
//! then tells each worker the last ticket now durable. A worker holds back the bytes a turn
//! wrote (its acknowledgements among them) until that turn's ticket is durable
//! (`worker.rs`, `Worker::hold`).
//!
//! At each snapshot the worker that saves asks the thread to rotate: the current journal is
//! made durable, and records from then on go to the next generation, which the snapshot does
//! not cover. A journal that cannot be written stops the process: the broker could no longer
//! keep the promise its acknowledgements make, and a restart replays what was durable.

use brokkr_core::journal::JournalRecord;
use brokkr_persist::JournalWriter;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use tokio::sync::Notify;

/// Commands the journal thread takes.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// Records of worker `worker`'s turn `ticket`, in order.
    Append {
        worker: usize,
        ticket: u64,
        records: Vec<JournalRecord>,
    },
    /// Make the current journal durable, start the next generation and reply with it.
    Rotate(tokio::sync::oneshot::Sender<u64>),
}

/// The last durable ticket of one worker, and the wake-up that says it moved.
#[derive(Debug, Default)]
pub(crate) struct Durable {
    pub ticket: AtomicU64,
    pub notify: Notify,
}

/// Commands gathered into one group commit at most (the rest go to the next group).
const GROUP_COMMANDS_MAX: usize = 65_536;

/// Encoded bytes gathered into one group commit at most.
const GROUP_BYTES_MAX: usize = 16 << 20;

/// The running journal thread.
#[derive(Debug)]
pub(crate) struct JournalThread {
    pub tx: Sender<Cmd>,
    pub durable: Vec<Arc<Durable>>,
    /// The generation it started with: this process's boot ([`brokkr_core::journal::JournalId`]).
    pub boot: u64,
    handle: JoinHandle<()>,
}

impl JournalThread {
    /// Create `dir/journal.<generation>` and start the thread for `workers` workers; it waits
    /// `sync_delay` before each sync (a slow disk, for tests; zero otherwise).
    pub(crate) fn start(
        dir: &Path,
        generation: u64,
        workers: usize,
        sync_delay: std::time::Duration,
    ) -> std::io::Result<JournalThread> {
        let writer = JournalWriter::create(dir, generation, generation)?;
        let durable: Vec<Arc<Durable>> = (0..workers).map(|_| Arc::default()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let group = Group {
            writer,
            dir: dir.to_path_buf(),
            boot: generation,
            buf: Vec::new(),
            done: vec![0; workers],
            durable: durable.clone(),
            sync_delay,
        };
        let handle = std::thread::Builder::new()
            .name("brokkr-journal".into())
            .spawn(move || run(group, &rx))?;
        log::info!("journal {}: appending", generation);
        Ok(JournalThread {
            tx,
            durable,
            boot: generation,
            handle,
        })
    }

    /// Rotate from outside the workers' runtimes (the final save); `None` if the thread is gone.
    pub(crate) fn rotate_blocking(&self) -> Option<u64> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx.send(Cmd::Rotate(reply)).ok()?;
        rx.blocking_recv().ok()
    }

    /// Let the thread write what it has and end (every worker's sender must be gone too).
    pub(crate) fn stop(self) {
        drop(self.tx);
        let _ = self.handle.join();
    }
}

/// The journal thread's state.
struct Group {
    writer: JournalWriter,
    dir: std::path::PathBuf,
    boot: u64,
    /// Records encoded for the group being gathered.
    buf: Vec<u8>,
    /// The last ticket of each worker in the group.
    done: Vec<u64>,
    durable: Vec<Arc<Durable>>,
    sync_delay: std::time::Duration,
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn run(mut group: Group, rx: &Receiver<Cmd>) {
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(cmd) = next.take() {
            group.take(cmd);
            taken += 1;
            if taken < GROUP_COMMANDS_MAX && group.buf.len() < GROUP_BYTES_MAX {
                next = rx.try_recv().ok();
            }
        }
        group.commit();
    }
    group.commit();
}

impl Group {
    fn take(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Append {
                worker,
                ticket,
                records,
            } => {
                let now = wall_ms();
                for r in &records {
                    if let Err(e) = brokkr_persist::encode_record(&mut self.buf, now, r) {
                        // Only a value the broker should never hold; the record is lost.
                        log::error!("journal: record not written: {e}");
                    }
                }
                if let Some(done) = self.done.get_mut(worker) {
                    *done = (*done).max(ticket);
                }
            }
            Cmd::Rotate(reply) => {
                self.commit();
                let generation = self.writer.generation() + 1;
                match JournalWriter::create(&self.dir, generation, self.boot) {
                    Ok(w) => self.writer = w,
                    Err(e) => fatal("creating the next journal", &e),
                }
                let _ = reply.send(generation);
            }
        }
    }

    /// Write and fsync the group, then release every worker's acknowledgements.
    fn commit(&mut self) {
        if !self.buf.is_empty() {
            if let Err(e) = self.writer.append(&self.buf) {
                fatal("appending to the journal", &e);
            }
            if !self.sync_delay.is_zero() {
                std::thread::sleep(self.sync_delay);
            }
            if let Err(e) = self.writer.sync() {
                fatal("syncing the journal", &e);
            }
            self.buf.clear();
        }
        for (done, durable) in self.done.iter().zip(&self.durable) {
            if durable.ticket.load(Ordering::Acquire) < *done {
                durable.ticket.store(*done, Ordering::Release);
                durable.notify.notify_one();
            }
        }
    }
}

/// The journal cannot be written: stop rather than acknowledge what could be lost.
fn fatal(what: &str, e: &std::io::Error) -> ! {
    log::error!("journal: {what} failed: {e}; stopping (acknowledgements can no longer be kept)");
    std::process::exit(1)
}
