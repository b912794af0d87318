//! `Config` back to config text, through the option table.
//!
//! Only values that differ from FlashMQ's defaults are written, plus every listener and bridge
//! block (an empty `listen { }` stands for a default listener). Values are quoted only when
//! they must be: empty or containing whitespace (quoted with whichever quote needs fewer
//! escapes); otherwise quotes and backslashes are escaped in place. Parsing the result gives an
//! equal config (the fuzz target checks it). `include_dir` and deprecated directives are not
//! written: what the included files set is already in the config.

use crate::config::{BridgeConfig, Config, ListenerConfig};
use crate::lexer::is_space;
use crate::options::{self, Getter, PLUGIN_OPT_PREFIX, Scope};

impl Config {
    /// The config as text that parses back to an equal config (ignoring provenance).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let defaults = Config::default();
        for o in options::in_scope(Scope::Global) {
            if let Getter::Global(get) = o.get {
                lines(&mut out, "", o.name, get(self), get(&defaults));
            }
        }
        for (name, value) in &self.plugin_opts {
            line(
                &mut out,
                "",
                &format!("{PLUGIN_OPT_PREFIX}{name}"),
                std::slice::from_ref(value),
            );
        }
        let listener_defaults = ListenerConfig::default();
        for l in &self.listeners {
            out.push_str("\nlisten {\n");
            for o in options::in_scope(Scope::Listen) {
                if let Getter::Listen(get) = o.get {
                    lines(&mut out, "    ", o.name, get(l), get(&listener_defaults));
                }
            }
            out.push_str("}\n");
        }
        let bridge_defaults = BridgeConfig::default();
        for b in &self.bridges {
            out.push_str("\nbridge {\n");
            for o in options::in_scope(Scope::Bridge) {
                if let Getter::Bridge(get) = o.get {
                    lines(&mut out, "    ", o.name, get(b), get(&bridge_defaults));
                }
            }
            out.push_str("}\n");
        }
        out
    }
}

fn lines(
    out: &mut String,
    indent: &str,
    key: &str,
    values: Vec<Vec<String>>,
    defaults: Vec<Vec<String>>,
) {
    if values != defaults {
        for v in &values {
            line(out, indent, key, v);
        }
    }
}

fn line(out: &mut String, indent: &str, key: &str, values: &[String]) {
    out.push_str(indent);
    out.push_str(key);
    for v in values {
        out.push(' ');
        out.push_str(&quote(v));
    }
    out.push('\n');
}

/// One value as the lexer will read it back.
pub fn quote(value: &str) -> String {
    let brace = value == "{" || value == "}";
    if !value.is_empty() && !brace && !value.contains(is_space) {
        let mut s = String::with_capacity(value.len());
        for c in value.chars() {
            if matches!(c, '"' | '\'' | '\\') {
                s.push('\\');
            }
            s.push(c);
        }
        return s;
    }
    let doubles = value.matches('"').count();
    let singles = value.matches('\'').count();
    let q = if singles < doubles { '\'' } else { '"' };
    let mut s = String::with_capacity(value.len() + 2);
    s.push(q);
    for c in value.chars() {
        if c == q || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push(q);
    s
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote(r"a\b"), r"a\\b");
        assert_eq!(quote("it's"), r"it\'s");
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote("a b"), r#""a b""#);
        assert_eq!(quote(r#"say "hi" there"#), r#"'say "hi" there'"#);
        assert_eq!(quote("{"), r#""{""#);
    }
}
