//! Retained messages: one per topic, found by topic filter when a client subscribes.
//!
//! The store is a tree of topic levels in an arena, with ordered children, so a walk over the
//! messages matching a filter can stop after a budget of nodes and resume later from where it
//! was, even if the store changed in between. A subscriber to `#` on a store of a million
//! messages therefore costs the worker a bounded slice of time per loop turn, and memory for its
//! walk's position only, never a copy of the matching set.

mod message;
mod quota;
mod store;
mod walk;

pub use message::RetainedMessage;
pub use store::RetainedStore;
pub use walk::{RetainedWalk, WalkProgress};
