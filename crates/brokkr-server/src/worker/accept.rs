//! Worker 0's listeners: an accept loop per listening socket that spreads new connections over
//! the workers in turn (a refused peer is dropped before anything is read), and the reload
//! path that replaces the whole set when the configured listeners change.

use super::{Inbox, Shared, Worker};
use crate::cluster::{BoundListener, PeerFilter};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Spawn an accept loop per listener.
pub(super) fn start_accepting(
    listeners: Vec<BoundListener>,
    own: usize,
    worker: &Shared,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut accepting = Vec::new();
    for bound in listeners {
        match TcpListener::from_std(bound.socket) {
            Ok(l) => accepting.push(tokio::task::spawn_local(accept_loop(
                Accepting {
                    listener: l,
                    index: bound.index,
                    nodelay: bound.tcp_nodelay,
                    peers: bound.peers,
                },
                own,
                Rc::clone(worker),
            ))),
            Err(e) => log::error!("cannot use a listener: {e}"),
        }
    }
    accepting
}

/// A reload changed the listeners: every accept loop stops (its socket closes; established
/// connections stay), then the new list is bound and served.
pub(super) async fn listener_updates(
    mut updates: mpsc::UnboundedReceiver<Vec<crate::cluster::ListenerSpec>>,
    accepting: Rc<RefCell<Vec<tokio::task::JoinHandle<()>>>>,
    own: usize,
    worker: Shared,
) {
    while let Some(specs) = updates.recv().await {
        let old: Vec<_> = accepting.borrow_mut().drain(..).collect();
        for task in &old {
            task.abort();
        }
        for task in old {
            let _ = task.await; // the socket is closed once the task is gone
        }
        let bound = crate::cluster::bind_each(&specs);
        log::info!("listeners reloaded: {} listening", bound.len());
        let started = start_accepting(bound, own, &worker);
        accepting.borrow_mut().extend(started);
    }
}

/// One listener's accept loop settings.
struct Accepting {
    listener: TcpListener,
    index: u16,
    nodelay: bool,
    peers: Option<Arc<dyn PeerFilter>>,
}

/// Accept and spread connections over the workers in turn.
async fn accept_loop(accepting: Accepting, own: usize, worker: Shared) {
    let Accepting {
        listener,
        index,
        nodelay,
        peers,
    } = accepting;
    let mut next = own;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if peers.as_ref().is_some_and(|p| !p.allowed(peer.ip())) {
                    log::debug!("connection from {peer} refused by only_allow_from/deny_from");
                    continue; // dropped: closed before anything is read
                }
                if nodelay {
                    let _ = stream.set_nodelay(true);
                }
                let count = worker.borrow().peers.len().max(1);
                next = (next + 1) % count;
                if next == own {
                    let id = {
                        let mut w = worker.borrow_mut();
                        let now = w.now_ms();
                        w.shard.accept_on(now, index)
                    };
                    Worker::register(&worker, stream, id);
                    continue;
                }
                let peer = worker.borrow().peers.get(next).cloned();
                if let (Some(peer), Ok(std)) = (peer, stream.into_std()) {
                    // A full inbox means that worker is far behind: the socket is closed
                    // (dropped) and the client retries.
                    let _ = peer.try_send(Inbox::Accepted {
                        stream: std,
                        listener: index,
                    });
                }
            }
            Err(e) => {
                log::error!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
