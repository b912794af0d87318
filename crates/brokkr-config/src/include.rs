//! Where `include_dir` gets its files: a small trait, so the parser stays a pure function.
//!
//! [`FsIncludes`] reads the real file system (the only file access besides `load_file`);
//! [`NoIncludes`] refuses every `include_dir` (for fuzzing and for callers that parse a single
//! text); [`MemIncludes`] serves files from a map, for tests. FlashMQ globs `<dir>/*.conf`: names
//! ending in `.conf`, not starting with a dot, in sorted order; so do these.

use crate::error::ErrorKind;
use std::collections::BTreeMap;
use std::io::Read;

/// Lists and reads the files `include_dir` brings in.
pub trait IncludeResolver {
    /// The `*.conf` files of `dir`, sorted by name, as names to pass to [`Self::read`]. A
    /// missing directory is an error (the message says why).
    fn list(&self, dir: &str) -> Result<Vec<String>, String>;
    /// The text of one listed file, at most [`crate::FILE_BYTES_MAX`] bytes.
    fn read(&self, file: &str) -> Result<String, ErrorKind>;
}

/// Whether FlashMQ's `*.conf` glob takes this file name.
pub fn is_conf_name(name: &str) -> bool {
    name.len() > ".conf".len() && name.ends_with(".conf") && !name.starts_with('.')
}

/// Refuses every `include_dir`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIncludes;

impl IncludeResolver for NoIncludes {
    fn list(&self, _dir: &str) -> Result<Vec<String>, String> {
        Err("include_dir is not available when parsing a single text".to_owned())
    }

    fn read(&self, _file: &str) -> Result<String, ErrorKind> {
        Err(ErrorKind::Io {
            message: "include_dir is not available here".to_owned(),
        })
    }
}

/// Files from a map of full path to text; a directory exists if some file is inside it.
#[derive(Debug, Clone, Default)]
pub struct MemIncludes {
    /// `dir/name.conf` to text.
    pub files: BTreeMap<String, String>,
}

impl IncludeResolver for MemIncludes {
    fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let inside: Vec<&String> = self
            .files
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .collect();
        if inside.is_empty() {
            return Err("no such directory".to_owned());
        }
        Ok(inside
            .into_iter()
            .filter(|k| {
                k.get(prefix.len()..)
                    .is_some_and(|n| !n.contains('/') && is_conf_name(n))
            })
            .cloned()
            .collect())
    }

    fn read(&self, file: &str) -> Result<String, ErrorKind> {
        self.files.get(file).cloned().ok_or_else(|| ErrorKind::Io {
            message: "no such file".to_owned(),
        })
    }
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsIncludes;

impl IncludeResolver for FsIncludes {
    fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
            if is_conf_name(&name) && is_file {
                names.push(name);
            }
        }
        names.sort();
        let dir = dir.trim_end_matches('/');
        Ok(names.into_iter().map(|n| format!("{dir}/{n}")).collect())
    }

    fn read(&self, file: &str) -> Result<String, ErrorKind> {
        read_config_file(std::path::Path::new(file))
    }
}

/// Read a config file's bytes: at most [`crate::FILE_BYTES_MAX`].
pub(crate) fn read_config_bytes(path: &std::path::Path) -> Result<Vec<u8>, ErrorKind> {
    let io = |e: std::io::Error| ErrorKind::Io {
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let cap = u64::try_from(crate::FILE_BYTES_MAX).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > crate::FILE_BYTES_MAX {
        let size = std::fs::metadata(path).map_or(cap + 1, |m| m.len());
        return Err(ErrorKind::FileTooLarge { bytes: size });
    }
    Ok(bytes)
}

/// Read a config file: at most [`crate::FILE_BYTES_MAX`] bytes of UTF-8.
pub(crate) fn read_config_file(path: &std::path::Path) -> Result<String, ErrorKind> {
    String::from_utf8(read_config_bytes(path)?).map_err(|e| ErrorKind::Io {
        message: format!(
            "not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_names_as_the_glob() {
        assert!(is_conf_name("a.conf"));
        assert!(!is_conf_name(".hidden.conf"));
        assert!(!is_conf_name(".conf"));
        assert!(!is_conf_name("a.conf.bak"));
        assert!(!is_conf_name("a.config"));
    }

    #[test]
    fn mem_includes_list_one_level_sorted() {
        let mut m = MemIncludes::default();
        for name in ["d/b.conf", "d/a.conf", "d/x.txt", "d/sub/c.conf"] {
            m.files.insert(name.to_owned(), String::new());
        }
        assert_eq!(m.list("d/").unwrap(), ["d/a.conf", "d/b.conf"]);
        assert!(m.list("e").is_err());
    }
}
