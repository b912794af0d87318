//! The option table: one [`OptionDesc`] per directive, the single source of truth.
//!
//! Each descriptor names the directive, its scope (derived from which settings it writes), the
//! kind of value it takes (which drives validation), FlashMQ's default, a one-paragraph doc, an
//! example value, and whether brokkr honours it yet. The parser looks keys up here, the docs
//! generator prints this table, `Config::render` reads values back through it, and the tests walk
//! it so a directive added without a working parse, default and render fails them. The table is
//! split by scope: `global.rs` (plugins, logging, authentication, limits), `broker.rs` (the
//! other global directives: persistence, QoS, retained messages, threads),
//! `listen.rs`, `bridge.rs`.

/// One table entry; see the fields of [`OptionDesc`]. `set: Scope |cfg, value| expr` writes
/// the checked value, `get: |cfg| lines` reads it back for rendering.
macro_rules! opt {
    (
        name: $name:literal,
        kind: $kind:expr,
        default: $default:expr,
        example: $example:literal,
        support: $support:expr,
        $(not_yet_values: $nyv:expr,)?
        doc: $doc:literal,
        set: $scope:ident |$c:ident, $v:ident| $set:expr,
        get: |$g:ident| $get:expr $(,)?
    ) => {
        $crate::options::OptionDesc {
            name: $name,
            kind: $kind,
            default: $default,
            example: $example,
            support: $support,
            not_yet_values: opt!(@nyv $($nyv)?),
            doc: $doc,
            set: $crate::options::Setter::$scope(|$c, $v| {
                $set;
                Ok(())
            }),
            get: $crate::options::Getter::$scope(|$g| $get),
        }
    };
    (@nyv) => { &[] };
    (@nyv $e:expr) => { $e };
}

mod access;
mod bridge;
mod broker;
mod global;
mod listen;

pub(crate) use access::*;

use crate::config::{BridgeConfig, Config, ListenerConfig};
use crate::value::{Value, ValueKind};

/// Where a directive may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Outside any block.
    Global,
    /// Inside `listen { }`.
    Listen,
    /// Inside `bridge { }`.
    Bridge,
}

impl Scope {
    /// "at the top level", "inside a listen block", ...
    pub fn place(self) -> &'static str {
        match self {
            Scope::Global => "at the top level",
            Scope::Listen => "inside a listen block",
            Scope::Bridge => "inside a bridge block",
        }
    }

    /// Every scope, in the order the docs list them.
    pub const ALL: [Scope; 3] = [Scope::Global, Scope::Listen, Scope::Bridge];
}

/// Whether brokkr does what the directive asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Parsed and acted on.
    Honoured,
    /// Parsed and checked, but the feature is missing: the broker must refuse to start.
    NotYet {
        /// The missing feature, as a noun phrase ("TLS listeners").
        feature: &'static str,
    },
    /// Accepted and ignored, as FlashMQ does; the broker should log a warning.
    Deprecated {
        /// What to use instead, or why it is gone.
        note: &'static str,
    },
    /// A FlashMQ tuning knob that brokkr's design makes meaningless: accepted, checked, and
    /// named in one log line at start-up ([`Config::no_effect_notes`](crate::Config)).
    NoEffect {
        /// Why it has no effect in brokkr.
        reason: &'static str,
    },
}

/// FlashMQ's default for a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// The default, as a value: writing `name value` changes nothing (the tests check it).
    Is(&'static str),
    /// A default that has no value spelling (unset, inherited, computed), described.
    Note(&'static str),
}

/// Kind shorthands for the table.
pub(crate) const fn int(min: u64, max: u64, unit: crate::value::Unit) -> ValueKind {
    ValueKind::Int { min, max, unit }
}
pub(crate) const U16: u64 = u16::MAX as u64;
pub(crate) const U32: u64 = u32::MAX as u64;
pub(crate) const I32: u64 = i32::MAX as u64;
pub(crate) const fn not_yet(feature: &'static str) -> Support {
    Support::NotYet { feature }
}
pub(crate) const fn no_effect(reason: &'static str) -> Support {
    Support::NoEffect { reason }
}

pub(crate) type SetResult = Result<(), String>;
type Lines = Vec<Vec<String>>;

/// How a directive writes its value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Setter {
    Global(fn(&mut Config, Value) -> SetResult),
    Listen(fn(&mut ListenerConfig, Value) -> SetResult),
    Bridge(fn(&mut BridgeConfig, Value) -> SetResult),
}

/// How a directive's value is read back for rendering: zero or more lines of values.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Getter {
    Global(fn(&Config) -> Lines),
    Listen(fn(&ListenerConfig) -> Lines),
    Bridge(fn(&BridgeConfig) -> Lines),
}

/// One directive.
#[derive(Debug)]
pub struct OptionDesc {
    /// The key (`plugin_opt_*` for the plugin option family).
    pub name: &'static str,
    /// What it takes.
    pub kind: ValueKind,
    /// FlashMQ's default.
    pub default: DefaultValue,
    /// A valid, non-default value (used by the docs and the table tests).
    pub example: &'static str,
    /// Whether brokkr honours it.
    pub support: Support,
    /// Values brokkr does not support yet even though the directive is honoured, with the
    /// feature each needs (`protocol websockets`).
    pub not_yet_values: &'static [(&'static str, &'static str)],
    /// One paragraph of documentation.
    pub doc: &'static str,
    pub(crate) set: Setter,
    pub(crate) get: Getter,
}

impl OptionDesc {
    /// The scope this directive belongs to.
    pub fn scope(&self) -> Scope {
        match self.set {
            Setter::Global(_) => Scope::Global,
            Setter::Listen(_) => Scope::Listen,
            Setter::Bridge(_) => Scope::Bridge,
        }
    }

    /// The feature this use of the directive needs, if brokkr lacks it. Writing a directive's
    /// default value asks for nothing brokkr lacks (`log_publishes false`, `wills_enabled
    /// true`), so it needs no feature.
    pub fn not_yet_feature(&self, first_value: &str) -> Option<&'static str> {
        match self.support {
            Support::NotYet { .. } if self.is_default_value(first_value) => None,
            Support::NotYet { feature } => Some(feature),
            _ => self
                .not_yet_values
                .iter()
                .find(|(v, _)| v.eq_ignore_ascii_case(first_value))
                .map(|(_, feature)| *feature),
        }
    }
}

impl OptionDesc {
    /// True when `value` spells this directive's default.
    fn is_default_value(&self, value: &str) -> bool {
        let DefaultValue::Is(default) = self.default else {
            return false;
        };
        match self.kind {
            ValueKind::Bool => {
                let v = crate::value::parse_bool(value);
                v.is_some() && v == crate::value::parse_bool(default)
            }
            _ => value.eq_ignore_ascii_case(default),
        }
    }
}

/// The name of the plugin option family's table entry.
pub const PLUGIN_OPT: &str = "plugin_opt_*";
/// The prefix of plugin option keys.
pub const PLUGIN_OPT_PREFIX: &str = "plugin_opt_";

/// Every directive, global ones first, then listener, then bridge.
pub fn all() -> impl Iterator<Item = &'static OptionDesc> {
    global::OPTIONS
        .iter()
        .chain(broker::OPTIONS)
        .chain(listen::OPTIONS)
        .chain(bridge::OPTIONS)
}

/// The directives of one scope.
pub fn in_scope(scope: Scope) -> impl Iterator<Item = &'static OptionDesc> {
    all().filter(move |o| o.scope() == scope)
}

/// The table entry for `key` in `scope` (`plugin_opt_<name>` finds `plugin_opt_*`).
pub fn find(scope: Scope, key: &str) -> Option<&'static OptionDesc> {
    let name = match key.strip_prefix(PLUGIN_OPT_PREFIX) {
        Some(rest) if !rest.is_empty() && scope == Scope::Global => PLUGIN_OPT,
        _ => key,
    };
    in_scope(scope).find(|o| o.name == name)
}

/// The scopes other than `scope` where `key` is valid.
pub fn other_scopes(scope: Scope, key: &str) -> Vec<Scope> {
    Scope::ALL
        .into_iter()
        .filter(|&s| s != scope && find(s, key).is_some())
        .collect()
}

/// The closest candidate to `key`, if close enough to be a likely typo.
pub fn suggest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let (best, distance) = candidates
        .filter(|c| *c != PLUGIN_OPT)
        .map(|c| (c, strsim::osa_distance(key, c)))
        .min_by_key(|&(_, d)| d)?;
    let len = key.chars().count().max(best.chars().count());
    (distance <= 1 || distance.saturating_mul(3) <= len).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_flashmq_directive() {
        // The reference's table lists 56 global keys (its heading says 52) plus plugin_opt_*,
        // and brokkr's own extensions.
        let extensions = ["persistence_journal"];
        assert_eq!(in_scope(Scope::Global).count(), 56 + 1 + extensions.len());
        assert_eq!(in_scope(Scope::Listen).count(), 26);
        assert_eq!(in_scope(Scope::Bridge).count(), 31);
    }

    #[test]
    fn names_are_unique_per_scope_and_documented() {
        for scope in Scope::ALL {
            let mut names: Vec<&str> = in_scope(scope).map(|o| o.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "duplicate names in {scope:?}");
        }
        for o in all() {
            assert!(o.doc.len() > 20 && o.doc.ends_with('.'), "{}: doc", o.name);
            assert!(!o.example.is_empty(), "{}: example", o.name);
        }
    }

    #[test]
    fn suggestions_for_typos_only() {
        let names = || in_scope(Scope::Global).map(|o| o.name);
        assert_eq!(suggest("alow_anonymous", names()), Some("allow_anonymous"));
        assert_eq!(suggest("log_levle", names()), Some("log_level"));
        assert_eq!(suggest("max_pakket_size", names()), Some("max_packet_size"));
        assert_eq!(suggest("qwertyuiop", names()), None);
        assert_eq!(suggest("xyz", names()), None);
        let ports = || in_scope(Scope::Listen).map(|o| o.name);
        assert_eq!(suggest("prot", ports()), Some("port"));
    }

    #[test]
    fn plugin_opts_match_the_family() {
        assert_eq!(
            find(Scope::Global, "plugin_opt_x").map(|o| o.name),
            Some(PLUGIN_OPT)
        );
        assert!(find(Scope::Global, "plugin_opt_").is_none());
        assert!(find(Scope::Listen, "plugin_opt_x").is_none());
    }
}
