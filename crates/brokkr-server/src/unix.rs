//! Unix socket listeners (`inet_protocol unix`): the socket file, its owner and its mode.

use crate::cluster::UnixSocketSpec;
use crate::stream::StdListener;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

/// Bind `spec`: a socket file left at the path (by a broker that did not stop cleanly) is
/// replaced; any other kind of file there is an error, never deleted.
pub(crate) fn bind(spec: &UnixSocketSpec) -> io::Result<StdListener> {
    match std::fs::symlink_metadata(&spec.path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(&spec.path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; not replacing it",
                    spec.path.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = std::os::unix::net::UnixListener::bind(&spec.path)?;
    listener.set_nonblocking(true)?;
    if let Some(mode) = spec.mode {
        std::fs::set_permissions(&spec.path, std::fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if spec.user.is_some() || spec.group.is_some() {
        let uid = spec.user.as_deref().map(user_id).transpose()?;
        let gid = spec.group.as_deref().map(group_id).transpose()?;
        std::os::unix::fs::chown(&spec.path, uid, gid)?;
    }
    Ok(StdListener::Unix(listener))
}

/// A user by name or number.
fn user_id(name: &str) -> io::Result<u32> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => Ok(user.uid.as_raw()),
        Ok(None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("unix_socket_user: no user '{name}'"),
        )),
        Err(e) => Err(io::Error::other(format!("unix_socket_user '{name}': {e}"))),
    }
}

/// A group by name or number.
fn group_id(name: &str) -> io::Result<u32> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("unix_socket_group: no group '{name}'"),
        )),
        Err(e) => Err(io::Error::other(format!("unix_socket_group '{name}': {e}"))),
    }
}
