//! Worker 0's listeners: an accept loop per listening socket that spreads new connections over
//! the workers in turn (a refused peer is dropped before anything is read), and the reload
//! path that replaces the whole set when the configured listeners change.

use super::{Inbox, Shared, serve_accepted};
use crate::cluster::{BoundListener, PeerFilter};
use crate::stream::{Listener, Stream};
use crate::transport::TransportSpec;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Spawn an accept loop per listener.
pub(super) fn start_accepting(
    listeners: Vec<BoundListener>,
    own: usize,
    worker: &Shared,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut accepting = Vec::new();
    for bound in listeners {
        match Listener::from_std(bound.socket) {
            Ok(l) => accepting.push(tokio::task::spawn_local(accept_loop(
                Accepting {
                    listener: l,
                    index: bound.index,
                    nodelay: bound.tcp_nodelay,
                    peers: bound.peers,
                    transport: bound.transport,
                    overload_mode: bound.overload_mode,
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
    listener: Listener,
    index: u16,
    nodelay: bool,
    peers: Option<Arc<dyn PeerFilter>>,
    transport: Option<Arc<TransportSpec>>,
    overload_mode: Option<crate::overload::OverloadMode>,
}

/// Accept and spread connections over the workers in turn.
async fn accept_loop(accepting: Accepting, own: usize, worker: Shared) {
    let Accepting {
        listener,
        index,
        nodelay,
        peers,
        transport,
        overload_mode,
    } = accepting;
    let mut next = own;
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                if let Some(addr) = addr
                    && peers.as_ref().is_some_and(|p| !p.allowed(addr.ip()))
                {
                    log::debug!("connection from {addr} refused by only_allow_from/deny_from");
                    continue; // dropped: closed before anything is read
                }
                if worker.borrow().overload.refuse(overload_mode, addr) {
                    continue; // overload_mode close_new_clients: dropped, closed
                }
                if nodelay && let Stream::Tcp(s) = &stream {
                    let _ = s.set_nodelay(true);
                }
                let count = worker.borrow().peers.len().max(1);
                next = (next + 1) % count;
                if next == own {
                    serve_accepted(&worker, stream, index, transport.clone(), addr);
                    continue;
                }
                let peer = worker.borrow().peers.get(next).cloned();
                if let (Some(peer), Ok(std)) = (peer, stream.into_std()) {
                    // A full inbox means that worker is far behind: the socket is closed
                    // (dropped) and the client retries.
                    let _ = peer.try_send(Inbox::Accepted {
                        stream: std,
                        listener: index,
                        transport: transport.clone(),
                        peer: addr,
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
