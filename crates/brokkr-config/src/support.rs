//! What brokkr cannot do yet: the directives and blocks a config uses that must stop the broker
//! from starting, and the deprecated ones that deserve a warning. Never silently ignored.

use crate::config::Config;
use crate::options::{self, Support};
use std::fmt;

/// One use of something brokkr does not support yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotYetUse {
    /// The file.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// What was used: a key (`fullchain`), a key and value (`protocol websockets`), or a block.
    pub what: String,
    /// True when `what` is a block name.
    pub is_block: bool,
    /// The missing feature.
    pub feature: &'static str,
}

impl fmt::Display for NotYetUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_block {
            write!(
                f,
                "{}:{}: `{}` blocks are not supported yet by brokkr",
                self.origin, self.line, self.what
            )
        } else {
            write!(
                f,
                "{}:{}: `{}` is not supported yet by brokkr (it needs {})",
                self.origin, self.line, self.what, self.feature
            )
        }
    }
}

/// The feature a block needs, if brokkr lacks it.
pub fn block_not_yet(name: &str) -> Option<&'static str> {
    (name == "bridge").then_some("bridges")
}

impl Config {
    /// Every directive and block used that brokkr does not support yet, in file order. The
    /// broker must refuse to start when this is not empty.
    pub fn not_yet(&self) -> Vec<NotYetUse> {
        let mut found = Vec::new();
        for d in &self.directives {
            let use_of = |what: String, is_block, feature| NotYetUse {
                origin: d.origin.clone(),
                line: d.line,
                what,
                is_block,
                feature,
            };
            if d.is_block {
                if let Some(feature) = block_not_yet(&d.key) {
                    found.push(use_of(d.key.clone(), true, feature));
                }
                continue;
            }
            let Some(desc) = options::find(d.scope, &d.key) else {
                continue;
            };
            if let Some(feature) = desc.not_yet_feature(&d.first_value) {
                let what = if matches!(desc.support, Support::NotYet { .. }) {
                    d.key.clone()
                } else {
                    format!("{} {}", d.key, d.first_value)
                };
                found.push(use_of(what, false, feature));
            }
        }
        found
    }

    /// A line for each directive used that has no effect in brokkr (a FlashMQ tuning knob its
    /// design makes meaningless), for the log at start-up: never silently ignored.
    pub fn no_effect_notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.directives.iter().filter(|d| !d.is_block) {
            let reason = options::find(d.scope, &d.key).and_then(|o| match o.support {
                Support::NoEffect { reason } => Some(reason),
                _ => None,
            });
            if let Some(reason) = reason {
                out.push(format!(
                    "{}:{}: `{}` has no effect in brokkr: {reason}",
                    d.origin, d.line, d.key
                ));
            }
        }
        out
    }

    /// A warning for each deprecated directive used (accepted and ignored, as FlashMQ does).
    pub fn deprecation_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.directives.iter().filter(|d| !d.is_block) {
            let deprecated =
                options::all()
                    .filter(|o| o.name == d.option)
                    .find_map(|o| match o.support {
                        Support::Deprecated { note } => Some(note),
                        _ => None,
                    });
            if let Some(note) = deprecated {
                out.push(format!(
                    "{}:{}: `{}` is deprecated and ignored: {note}",
                    d.origin, d.line, d.key
                ));
            }
        }
        out
    }
}
