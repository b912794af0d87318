//! SIGHUP: the config file is read and checked again, atomically. A file that fails (a syntax
//! error, a directive brokkr lacks, an unreadable password or ACL file) changes nothing and is
//! logged with its line. A valid one is applied at once where the running broker can: log
//! settings, the access policy (password and ACL files, `allow_anonymous`), the limits for
//! new connections and sessions (each listener's `max_qos`, `max_buffer_size` and
//! `mqtt3_qos_exceed_action` included), the overload settings, and the listeners (a changed
//! list is bound anew; established connections stay). What only a restart can change
//! (`thread_count`) is logged as such.

use crate::access::FilePolicySource;
use crate::serve::{
    Listeners, TlsCache, checked, limits, listeners, log_settings, overload_settings,
};
use brokkr_config::Config;
use brokkr_core::access::AccessPolicy;
use brokkr_server::{PolicySource, Reloaded};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The config file behind a running broker.
#[derive(Debug)]
pub struct ConfigSource {
    path: PathBuf,
    state: Mutex<(Config, FilePolicySource)>,
    /// The TLS listeners in use: a reload re-reads their files in place.
    tls: Mutex<TlsCache>,
}

impl ConfigSource {
    /// `config` and its policy files, as loaded from `path` at start-up.
    pub fn new(
        path: &Path,
        config: Config,
        files: FilePolicySource,
        tls: TlsCache,
    ) -> ConfigSource {
        ConfigSource {
            path: path.to_path_buf(),
            state: Mutex::new((config, files)),
            tls: Mutex::new(tls),
        }
    }

    fn try_reload(&self) -> Result<Reloaded, Vec<String>> {
        let config = checked(&self.path).map_err(|r| r.0)?;
        let Listeners {
            specs,
            allow_anonymous,
            overrides,
        } = {
            let mut tls = self.tls.lock().unwrap_or_else(PoisonError::into_inner);
            listeners(&config, &mut tls).map_err(|e| vec![e])?
        };
        let files = FilePolicySource::open(&config, allow_anonymous).map_err(|e| vec![e])?;
        if let Err(e) = brokkr_server::logging::configure(log_settings(&config)) {
            return Err(vec![format!("log_file: {e}")]);
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let old = &state.0;
        let listeners_changed = old.listeners != config.listeners;
        if old.thread_count != config.thread_count {
            log::warn!("thread_count changes take effect at the next restart");
        }
        for note in config.no_effect_notes() {
            log::info!(target: brokkr_server::logging::NOTICE, "{note}");
        }
        let reloaded = Reloaded {
            policy: files.policy(),
            limits: limits(&config, overrides),
            listeners: listeners_changed.then_some(specs),
            overload: overload_settings(&config),
        };
        *state = (config, files);
        Ok(reloaded)
    }
}

impl PolicySource for ConfigSource {
    fn refresh(&self) -> Option<Arc<dyn AccessPolicy>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1.refresh()
    }

    fn reload(&self) -> Option<Reloaded> {
        match self.try_reload() {
            Ok(reloaded) => {
                log::info!(
                    target: brokkr_server::logging::NOTICE,
                    "config '{}' reloaded",
                    self.path.display()
                );
                Some(reloaded)
            }
            Err(errors) => {
                for e in errors {
                    log::error!("config reload failed, the old settings stay: {e}");
                }
                None
            }
        }
    }
}
