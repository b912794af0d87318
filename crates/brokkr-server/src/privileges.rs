//! `run_as_user` and `run_as_group` (brokkr's own directives; FlashMQ has none): once every
//! listener is bound, the state files are loaded and the journal is open, a broker started as
//! root gives root up for good, before it serves a single client.
//!
//! The order is the one that works: supplementary groups (the user's, with `initgroups`), then
//! the group, then the user (after `setuid` the process may no longer change its groups). The
//! result is checked (real, effective and saved ids all changed) and so is that root cannot be
//! regained; any failure refuses the start-up. glibc applies each change to every thread of
//! the process (the journal and login threads already run). This file is the only code that
//! changes the process's credentials.

use nix::unistd::{Gid, Group, Uid, User};
use std::ffi::CString;
use std::io;

/// Who the broker runs as once it is ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The user name (`run_as_user`).
    pub user: String,
    /// The group name (`run_as_group`); `None`: the user's primary group.
    pub group: Option<String>,
}

/// What [`drop_privileges`] did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The user's id.
    pub uid: u32,
    /// The group's id.
    pub gid: u32,
    /// The process already ran as them (started by that user, not by root): nothing changed.
    pub already: bool,
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, what)
}

/// The user and group `run_as` names, looked up in the system's databases.
fn resolve(run_as: &RunAs) -> io::Result<(User, Gid)> {
    let user = User::from_name(&run_as.user)
        .map_err(|e| refused(format!("run_as_user '{}': {e}", run_as.user)))?
        .ok_or_else(|| refused(format!("run_as_user '{}': no such user", run_as.user)))?;
    let gid = match &run_as.group {
        None => user.gid,
        Some(name) => {
            Group::from_name(name)
                .map_err(|e| refused(format!("run_as_group '{name}': {e}")))?
                .ok_or_else(|| refused(format!("run_as_group '{name}': no such group")))?
                .gid
        }
    };
    Ok((user, gid))
}

/// Switch the whole process to `run_as` (see the module documentation).
pub fn drop_privileges(run_as: &RunAs) -> io::Result<Dropped> {
    let (user, gid) = resolve(run_as)?;
    let dropped = Dropped {
        uid: user.uid.as_raw(),
        gid: gid.as_raw(),
        already: false,
    };
    if !Uid::effective().is_root() {
        if Uid::current() == user.uid && Uid::effective() == user.uid && Gid::current() == gid {
            return Ok(Dropped {
                already: true,
                ..dropped
            });
        }
        return Err(refused(format!(
            "run_as_user '{}': brokkr must be started as root to switch users (it runs as uid \
             {})",
            run_as.user,
            Uid::effective()
        )));
    }
    let name = CString::new(user.name.as_bytes())
        .map_err(|_| refused(format!("run_as_user '{}': a NUL in the name", run_as.user)))?;
    let step = |what: &str, r: nix::Result<()>| {
        r.map_err(|e| refused(format!("run_as_user '{}': {what}: {e}", run_as.user)))
    };
    step("initgroups", nix::unistd::initgroups(&name, gid))?;
    step("setgid", nix::unistd::setgid(gid))?;
    step("setuid", nix::unistd::setuid(user.uid))?;
    verify(run_as, user.uid, gid)?;
    Ok(dropped)
}

/// The switch took: every id is the target's, and root cannot be taken back.
fn verify(run_as: &RunAs, uid: Uid, gid: Gid) -> io::Result<()> {
    let uids = nix::unistd::getresuid()?;
    let gids = nix::unistd::getresgid()?;
    let all_uids = [uids.real, uids.effective, uids.saved];
    let all_gids = [gids.real, gids.effective, gids.saved];
    if all_uids.iter().any(|&u| u != uid) || all_gids.iter().any(|&g| g != gid) {
        return Err(refused(format!(
            "run_as_user '{}': ids after the switch are uid {all_uids:?}, gid {all_gids:?}",
            run_as.user
        )));
    }
    if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(refused(format!(
            "run_as_user '{}': root could be regained after the switch",
            run_as.user
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_user_or_group_is_refused_by_name() {
        let nobody_such = RunAs {
            user: "brokkr-no-such-user-3f9a".into(),
            group: None,
        };
        let e = drop_privileges(&nobody_such).unwrap_err();
        assert!(e.to_string().contains("no such user"), "{e}");
        let root = User::from_uid(Uid::from_raw(0)).unwrap().unwrap();
        let bad_group = RunAs {
            user: root.name,
            group: Some("brokkr-no-such-group-3f9a".into()),
        };
        let e = drop_privileges(&bad_group).unwrap_err();
        assert!(e.to_string().contains("no such group"), "{e}");
    }
}
