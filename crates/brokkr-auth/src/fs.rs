//! The file-system side of password and ACL files: bounded reads, atomic writes that never leave
//! a half-written password file behind, and new `$7$` hashes with a salt from the OS's random
//! source. This is the only module besides [`crate::watch`] that does I/O.

use crate::acl::{Acl, AclError};
use crate::limits::Limits;
use crate::passwd::{
    MOSQUITTO_DEFAULT_ITERATIONS, ParseWarning, PasswordDb, PasswordHash, SALT_BYTES,
};
use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// Why a password or ACL file could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// Opening or reading failed.
    Io(PathBuf, io::Error),
    /// Larger than [`Limits::file_bytes_max`].
    TooLarge(PathBuf),
    /// Not UTF-8.
    NotUtf8(PathBuf),
    /// An ACL file with a bad line (the whole file is rejected).
    Acl(PathBuf, AclError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(p, e) => write!(f, "cannot read '{}': {e}", p.display()),
            LoadError::TooLarge(p) => write!(f, "'{}' is too large", p.display()),
            LoadError::NotUtf8(p) => write!(f, "'{}' is not valid UTF-8", p.display()),
            LoadError::Acl(p, e) => write!(f, "'{}': {e}", p.display()),
        }
    }
}

impl std::error::Error for LoadError {}

/// Read a whole text file of at most `limits.file_bytes_max` bytes.
pub fn read_text(path: &Path, limits: &Limits) -> Result<String, LoadError> {
    let io_err = |e| LoadError::Io(path.to_owned(), e);
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    file.take(limits.file_bytes_max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limits.file_bytes_max {
        return Err(LoadError::TooLarge(path.to_owned()));
    }
    String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8(path.to_owned()))
}

/// Load a password file; skipped lines come back as warnings for the caller to log.
pub fn load_password_file(
    path: &Path,
    limits: &Limits,
) -> Result<(PasswordDb, Vec<ParseWarning>), LoadError> {
    Ok(PasswordDb::parse(&read_text(path, limits)?, limits))
}

/// Load an ACL file; any bad line rejects it.
pub fn load_acl_file(path: &Path, limits: &Limits) -> Result<Acl, LoadError> {
    Acl::parse(&read_text(path, limits)?, limits).map_err(|e| LoadError::Acl(path.to_owned(), e))
}

/// Replace `path` with `text` atomically: write a temporary file next to it, flush it to disk,
/// rename it over the old one. A new file gets mode 0600; an existing file keeps its mode.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = write_then_rename(path, &tmp, text);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(path: &Path, tmp: &Path, text: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    if let Ok(meta) = std::fs::metadata(path) {
        file.set_permissions(meta.permissions())?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)
}

/// A fresh salt from the OS's random source.
pub fn random_salt() -> io::Result<[u8; SALT_BYTES]> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(salt)
}

/// A new `$7$` hash of `password` as Mosquitto writes it: a random 12-byte salt and
/// [`MOSQUITTO_DEFAULT_ITERATIONS`] iterations.
pub fn new_password_hash(password: &[u8]) -> io::Result<PasswordHash> {
    Ok(PasswordHash::new_pbkdf2(
        password,
        random_salt()?,
        MOSQUITTO_DEFAULT_ITERATIONS,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh empty directory under the system temp dir.
    pub(crate) fn temp_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("brokkr-auth-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_atomic_round_trips_with_private_mode() {
        let dir = temp_dir();
        let path = dir.join("passwd");
        let hash = new_password_hash(b"pw").unwrap().encode();
        write_atomic(&path, &format!("u:{hash}\n")).unwrap();
        let (db, warnings) = load_password_file(&path, &Limits::DEFAULT).unwrap();
        assert!(warnings.is_empty());
        assert!(db.verify("u", b"pw").is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// FlashMQ's test_loading_acl_file: assertions once fired when the broker's own `$SYS`
    /// publishes (no username, an empty client id) went through the ACL of a loaded file.
    #[test]
    fn flashmq_test_loading_acl_file() {
        use crate::acl::{Access, ClientIdentity};
        let dir = temp_dir();
        let path = dir.join("acl");
        std::fs::write(&path, "topic readwrite one/two\n").unwrap();
        let acl = load_acl_file(&path, &Limits::DEFAULT).unwrap();
        let broker = ClientIdentity {
            username: None,
            client_id: "",
        };
        for topic in ["$SYS/broker/uptime", "$SYS/broker/clients/total", "one/two"] {
            for access in [Access::Read, Access::Write] {
                let allowed = acl.check_str(&broker, topic, access).is_allowed();
                assert_eq!(allowed, topic == "one/two", "{topic}");
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn salts_differ() {
        assert_ne!(random_salt().unwrap(), random_salt().unwrap());
    }

    #[test]
    fn oversized_and_non_utf8_files_are_refused() {
        let dir = temp_dir();
        let path = dir.join("f");
        std::fs::write(&path, b"topic a\n").unwrap();
        let small = Limits {
            file_bytes_max: 4,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            load_acl_file(&path, &small),
            Err(LoadError::TooLarge(_))
        ));
        std::fs::write(&path, b"topic \xff\n").unwrap();
        assert!(matches!(
            load_acl_file(&path, &Limits::DEFAULT),
            Err(LoadError::NotUtf8(_))
        ));
        std::fs::write(&path, b"topic a\nnope\n").unwrap();
        let e = load_acl_file(&path, &Limits::DEFAULT).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("ACL file line 2: expected 'user', 'topic' or 'pattern'"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
