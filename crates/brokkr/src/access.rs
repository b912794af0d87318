//! The access policy a config file asks for: brokkr-auth's login rules and ACL behind the
//! core's [`AccessPolicy`], with each listener's `allow_anonymous` override, and a source that
//! re-reads the password and ACL files when they change (a broken new file keeps the old
//! rules and is logged, as FlashMQ).

use brokkr_auth::watch::{AclFileWatcher, PasswordFileWatcher, Reload};
use brokkr_auth::{
    Access, AuthPolicy, ClientIdentity, Identity, Limits as AuthLimits, Precheck, Refusal,
};
use brokkr_codec::TopicName;
use brokkr_config::Config;
use brokkr_core::access::{AccessPolicy, Login, LoginCheck, LoginJob, LoginResult};
use brokkr_server::PolicySource;
use std::sync::{Arc, Mutex, PoisonError};

/// Login rules and ACL for the whole broker.
#[derive(Debug)]
pub struct FilePolicy {
    auth: AuthPolicy,
    /// Each listener's `allow_anonymous` override, by listener index.
    listener_allow_anonymous: Vec<Option<bool>>,
}

impl AccessPolicy for FilePolicy {
    fn login(&self, listener: u16, username: Option<&[u8]>, password: Option<&[u8]>) -> LoginCheck {
        let allow = self
            .listener_allow_anonymous
            .get(usize::from(listener))
            .copied()
            .flatten();
        match self.auth.precheck_on_listener(allow, username, password) {
            Precheck::Decided(verdict) => LoginCheck::Now(to_login(verdict)),
            // A hash to verify (or a decoy, for an unknown user): off the event loop.
            Precheck::NeedsHash(pending) => {
                LoginCheck::Deferred(LoginJob::new(move || to_login(pending.verify())))
            }
        }
    }

    fn may_write(&self, login: &Login, client_id: &str, topic: &TopicName) -> bool {
        self.check(login, client_id, topic, Access::Write)
    }

    fn may_read(&self, login: &Login, client_id: &str, topic: &TopicName) -> bool {
        self.check(login, client_id, topic, Access::Read)
    }

    fn checks_reads(&self) -> bool {
        self.auth.acl.is_some()
    }

    fn checks_writes(&self) -> bool {
        self.auth.acl.is_some()
    }
}

/// The core's view of a brokkr-auth verdict.
fn to_login(verdict: Result<Identity, Refusal>) -> LoginResult {
    let identity = verdict.map_err(Refusal::reason_code)?;
    Ok(Login {
        username: identity.username().map(Arc::from),
    })
}

impl FilePolicy {
    fn check(&self, login: &Login, client_id: &str, topic: &TopicName, access: Access) -> bool {
        let Some(acl) = &self.auth.acl else {
            return true;
        };
        let who = ClientIdentity {
            username: login.username.as_deref(),
            client_id,
        };
        acl.check(&who, topic, access).is_allowed()
    }
}

/// The files behind a [`FilePolicy`], re-read when they change.
#[derive(Debug)]
pub struct FilePolicySource {
    allow_anonymous: bool,
    zero_byte_username_is_anonymous: bool,
    listener_allow_anonymous: Vec<Option<bool>>,
    files: Mutex<(Option<PasswordFileWatcher>, Option<AclFileWatcher>)>,
}

impl FilePolicySource {
    /// Load the files `config` names; `listener_allow_anonymous` has one entry per server
    /// listener. A file that cannot be read or (ACL) parsed is a start-up error.
    pub fn open(
        config: &Config,
        listener_allow_anonymous: Vec<Option<bool>>,
    ) -> Result<Self, String> {
        let limits = AuthLimits::default();
        let passwords = match &config.mosquitto_password_file {
            Some(path) => {
                let (w, warnings) = PasswordFileWatcher::open_password_file(path, limits)
                    .map_err(|e| format!("mosquitto_password_file: {e}"))?;
                for warning in warnings {
                    log::warn!("{path}: {warning}");
                }
                Some(w)
            }
            None => None,
        };
        let acl = match &config.mosquitto_acl_file {
            Some(path) => Some(
                AclFileWatcher::open_acl_file(path, limits)
                    .map_err(|e| format!("mosquitto_acl_file: {e}"))?,
            ),
            None => None,
        };
        Ok(FilePolicySource {
            allow_anonymous: config.allow_anonymous,
            zero_byte_username_is_anonymous: config.zero_byte_username_is_anonymous,
            listener_allow_anonymous,
            files: Mutex::new((passwords, acl)),
        })
    }

    /// The policy as the files stand now.
    pub fn policy(&self) -> Arc<dyn AccessPolicy> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        self.build(&files)
    }

    fn build(
        &self,
        (passwords, acl): &(Option<PasswordFileWatcher>, Option<AclFileWatcher>),
    ) -> Arc<dyn AccessPolicy> {
        Arc::new(FilePolicy {
            auth: AuthPolicy {
                allow_anonymous: self.allow_anonymous,
                zero_byte_username_is_anonymous: self.zero_byte_username_is_anonymous,
                password_db: passwords.as_ref().map(|w| Arc::clone(w.current())),
                acl: acl.as_ref().map(|w| Arc::clone(w.current())),
            },
            listener_allow_anonymous: self.listener_allow_anonymous.clone(),
        })
    }
}

/// Log one poll's outcome; true if the rules changed.
fn changed(what: &str, reload: Reload) -> bool {
    match reload {
        Reload::Unchanged => false,
        Reload::Reloaded { warnings } => {
            for warning in warnings {
                log::warn!("{what}: {warning}");
            }
            log::info!("{what} reloaded");
            true
        }
        Reload::Failed(e) => {
            log::error!("{what} not reloaded, the previous rules stay: {e}");
            false
        }
    }
}

impl PolicySource for FilePolicySource {
    fn refresh(&self) -> Option<Arc<dyn AccessPolicy>> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let (passwords, acl) = &mut *files;
        let mut any = false;
        if let Some(w) = passwords {
            any |= changed("mosquitto_password_file", w.poll());
        }
        if let Some(w) = acl {
            any |= changed("mosquitto_acl_file", w.poll());
        }
        any.then(|| self.build(&files))
    }
}

/// A listener's `only_allow_from` and `deny_from`, checked at accept time.
#[derive(Debug)]
struct Networks(brokkr_auth::NetworkList);

impl brokkr_server::PeerFilter for Networks {
    fn allowed(&self, addr: std::net::IpAddr) -> bool {
        self.0.allowed(addr)
    }
}

/// The peer filter for a listener's network lists; `None` when both are empty.
pub fn peer_filter(
    only_allow_from: &[brokkr_config::types::Cidr],
    deny_from: &[brokkr_config::types::Cidr],
) -> Result<Option<Arc<dyn brokkr_server::PeerFilter>>, String> {
    if only_allow_from.is_empty() && deny_from.is_empty() {
        return Ok(None);
    }
    let allow: Vec<String> = only_allow_from.iter().map(ToString::to_string).collect();
    let deny: Vec<String> = deny_from.iter().map(ToString::to_string).collect();
    let list = brokkr_auth::NetworkList::new(
        allow.iter().map(String::as_str),
        deny.iter().map(String::as_str),
    )
    .map_err(|e| format!("only_allow_from/deny_from: {e}"))?;
    Ok(Some(Arc::new(Networks(list))))
}
