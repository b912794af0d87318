//! brokkr-auth: who may connect, and what they may read and write.
//!
//! This crate owns the Mosquitto-compatible password file (`$6$` salted SHA-512, `$7$`
//! PBKDF2-HMAC-SHA512 and `$argon2id$` PHC strings), the Mosquitto-format ACL file with FlashMQ's
//! semantics, the `only_allow_from`/`deny_from` network lists, and the login policy
//! (`allow_anonymous`, `zero_byte_username_is_anonymous`) that maps a CONNECT's credentials to an
//! [`Identity`] or a [`Refusal`] with its MQTT reason code.
//!
//! Parsing and checking are pure functions over `&str` and never touch a file, a clock or a
//! socket, so they run the same in the broker, in tests and in fuzz targets. The only I/O lives in
//! [`fs`] (reading a file, writing one atomically, drawing a random salt for a new hash) and
//! [`watch`] (re-reading a file when it changes). Nothing here ever puts a password or a hash in
//! an error, a warning or a `Debug` output.

#![forbid(unsafe_code)]

pub mod acl;
pub mod fs;
pub mod fuzzing;
pub mod limits;
pub mod net;
pub mod passwd;
pub mod policy;
pub mod watch;

pub use acl::{Access, Acl, AclDecision, AclError, ClientIdentity};
pub use limits::Limits;
pub use net::{Network, NetworkList, NetworkParseError};
pub use policy::{AuthPolicy, Identity, PendingVerification, Precheck, Refusal};

pub use passwd::{Authenticated, ParseWarning, PasswordDb, PasswordHash, PasswordRejected};
