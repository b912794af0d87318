//! Reloading a password or ACL file when it changes on disk, as FlashMQ does (it checks every
//! 2 s). The caller calls [`FileWatcher::poll`] from a timer; a change of the file's mtime, size,
//! ctime or inode triggers a re-read. A file that fails to load keeps the previous value in
//! force (the caller logs the error), and is not retried until it changes again.

use crate::acl::Acl;
use crate::fs::{LoadError, load_acl_file, load_password_file};
use crate::limits::Limits;
use crate::passwd::{ParseWarning, PasswordDb};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    ctime: (i64, i64),
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt as _;
    Ok(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        ctime: (meta.ctime(), meta.ctime_nsec()),
        #[cfg(unix)]
        inode: meta.ino(),
    })
}

/// How a file is turned into a value.
type Loader<T> = fn(&Path, &Limits) -> Result<(T, Vec<ParseWarning>), LoadError>;

/// The result of one [`FileWatcher::poll`].
#[derive(Debug)]
#[must_use]
pub enum Reload {
    /// The file did not change.
    Unchanged,
    /// The file changed and was loaded; log the warnings (skipped password-file lines).
    Reloaded {
        /// Skipped lines.
        warnings: Vec<ParseWarning>,
    },
    /// The file changed (or vanished) and could not be loaded; the old value stays.
    Failed(LoadError),
}

/// A file and the value last loaded from it.
#[derive(Debug)]
pub struct FileWatcher<T> {
    path: PathBuf,
    limits: Limits,
    load: Loader<T>,
    stamp: Option<Stamp>,
    current: Arc<T>,
}

/// Watches a `mosquitto_password_file`.
pub type PasswordFileWatcher = FileWatcher<PasswordDb>;
/// Watches a `mosquitto_acl_file`.
pub type AclFileWatcher = FileWatcher<Acl>;

fn load_acl(path: &Path, limits: &Limits) -> Result<(Acl, Vec<ParseWarning>), LoadError> {
    Ok((load_acl_file(path, limits)?, Vec::new()))
}

impl FileWatcher<PasswordDb> {
    /// Load a password file for the first time; failure here is a start-up error.
    pub fn open_password_file(
        path: impl Into<PathBuf>,
        limits: Limits,
    ) -> Result<(Self, Vec<ParseWarning>), LoadError> {
        FileWatcher::open(path.into(), limits, load_password_file)
    }
}

impl FileWatcher<Acl> {
    /// Load an ACL file for the first time; failure here is a start-up error.
    pub fn open_acl_file(path: impl Into<PathBuf>, limits: Limits) -> Result<Self, LoadError> {
        FileWatcher::open(path.into(), limits, load_acl).map(|(w, _)| w)
    }
}

impl<T> FileWatcher<T> {
    fn open(
        path: PathBuf,
        limits: Limits,
        load: Loader<T>,
    ) -> Result<(Self, Vec<ParseWarning>), LoadError> {
        let before = stamp(&path).ok();
        let (value, warnings) = load(&path, &limits)?;
        let watcher = FileWatcher {
            path,
            limits,
            load,
            stamp: before,
            current: Arc::new(value),
        };
        Ok((watcher, warnings))
    }

    /// The value in force.
    pub fn current(&self) -> &Arc<T> {
        &self.current
    }

    /// The watched path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-read the file if it changed since the last poll.
    pub fn poll(&mut self) -> Reload {
        let now = match stamp(&self.path) {
            Ok(s) => s,
            Err(e) => {
                // Report a vanished file once, then wait for it to come back.
                if self.stamp.take().is_some() {
                    return Reload::Failed(LoadError::Io(self.path.clone(), e));
                }
                return Reload::Unchanged;
            }
        };
        if self.stamp == Some(now) {
            return Reload::Unchanged;
        }
        self.stamp = Some(now);
        match (self.load)(&self.path, &self.limits) {
            Ok((value, warnings)) => {
                self.current = Arc::new(value);
                Reload::Reloaded { warnings }
            }
            Err(e) => Reload::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{Access, ClientIdentity};
    use crate::fs::tests::temp_dir;
    use crate::passwd::{PasswordHash, SALT_BYTES};

    fn entry(user: &str, pw: &[u8]) -> String {
        format!(
            "{user}:{}\n",
            PasswordHash::new_pbkdf2(pw, [3; SALT_BYTES], 1).encode()
        )
    }

    #[test]
    fn password_file_reloads_on_change_and_keeps_old_on_failure() {
        let dir = temp_dir();
        let path = dir.join("passwd");
        std::fs::write(&path, entry("a", b"1")).unwrap();
        let (mut w, warnings) =
            PasswordFileWatcher::open_password_file(&path, Limits::DEFAULT).unwrap();
        assert!(warnings.is_empty());
        assert!(matches!(w.poll(), Reload::Unchanged));
        std::fs::write(
            &path,
            format!("{}{}garbage\n", entry("a", b"2"), entry("b", b"3")),
        )
        .unwrap();
        match w.poll() {
            Reload::Reloaded { warnings } => assert_eq!(warnings.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(w.current().verify("a", b"2").is_ok());
        assert!(w.current().verify("b", b"3").is_ok());
        assert!(matches!(w.poll(), Reload::Unchanged));
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert!(matches!(w.poll(), Reload::Failed(LoadError::NotUtf8(_))));
        assert!(w.current().verify("a", b"2").is_ok(), "old db kept");
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(w.poll(), Reload::Failed(LoadError::Io(..))));
        assert!(matches!(w.poll(), Reload::Unchanged));
        std::fs::write(&path, entry("c", b"4")).unwrap();
        assert!(matches!(w.poll(), Reload::Reloaded { .. }));
        assert!(w.current().verify("c", b"4").is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn acl_file_with_a_bad_line_keeps_the_old_acl() {
        let dir = temp_dir();
        let path = dir.join("acl");
        std::fs::write(&path, "topic read a\n").unwrap();
        let mut w = AclFileWatcher::open_acl_file(&path, Limits::DEFAULT).unwrap();
        std::fs::write(&path, "topic read a\ntopic read b/#/c\n").unwrap();
        match w.poll() {
            Reload::Failed(LoadError::Acl(_, e)) => assert_eq!(e.line, 2),
            other => panic!("{other:?}"),
        }
        let who = ClientIdentity {
            username: None,
            client_id: "c",
        };
        assert!(w.current().check_str(&who, "a", Access::Read).is_allowed());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
