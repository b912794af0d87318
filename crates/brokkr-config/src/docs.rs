//! The config reference, generated from the option table: `docs/config.md` (Markdown) and
//! `docs/brokkr.conf.5` (roff). `cargo run -p brokkr-config --bin gen-config-docs` rewrites both;
//! a test fails when the committed files differ from what this module generates.

use crate::options::{self, DefaultValue, OptionDesc, Scope, Support};

const INTRO: &str = "brokkr reads FlashMQ's config format, directive for directive. \
One directive per line: `key value [value...]`. Values may be unquoted, or single- or \
double-quoted to hold spaces; a backslash escapes `\"`, `'` or `\\`. A line whose first non-blank \
character is `#` is a comment; there are no comments after a directive (`#` is an ordinary \
character there, as topic filters need it). Booleans are yes/no, true/false or on/off. Numbers are \
plain digits; the unit is part of the directive. Lines may be at most 256 bytes, the file at most \
10 MiB. `listen { }` and `bridge { }` blocks appear only at the top level, each brace line on its \
own. Without a `listen` block there is one listener: MQTT on port 1883, IPv4 and IPv6. A \
directive brokkr does not support yet stops the broker from starting, naming the line.";

fn scope_title(scope: Scope) -> &'static str {
    match scope {
        Scope::Global => "Global directives",
        Scope::Listen => "Listener directives (inside `listen { }`)",
        Scope::Bridge => "Bridge directives (inside `bridge { }`)",
    }
}

fn default_text(o: &OptionDesc) -> String {
    match o.default {
        DefaultValue::Is(v) => format!("`{v}`"),
        DefaultValue::Note(n) => n.to_owned(),
    }
}

fn support_text(o: &OptionDesc) -> String {
    let mut s = match o.support {
        Support::Honoured => "supported".to_owned(),
        Support::NotYet { feature } => format!("not yet (needs {feature})"),
        Support::Deprecated { note } => format!("deprecated, ignored ({note})"),
        Support::NoEffect { reason } => format!("accepted, no effect: {reason}"),
    };
    for (value, feature) in o.not_yet_values {
        s.push_str(&format!("; `{value}` not yet (needs {feature})"));
    }
    s
}

/// The Markdown reference.
pub fn markdown() -> String {
    let mut out = String::from(
        "# brokkr configuration reference\n\n\
         <!-- Generated from crates/brokkr-config/src/options by \
         `cargo run -p brokkr-config --bin gen-config-docs`; do not edit. -->\n\n",
    );
    out.push_str(INTRO);
    out.push_str("\n\nExamples: `docs/examples/`.\n");
    for scope in Scope::ALL {
        out.push_str(&format!("\n## {}\n", scope_title(scope)));
        for o in options::in_scope(scope) {
            out.push_str(&format!(
                "\n### `{}`\n\n{}\n\n- Value: {}\n- Default: {}\n- brokkr: {}\n- Example: `{} {}`\n",
                o.name,
                o.doc,
                o.kind.expected(),
                default_text(o),
                support_text(o),
                o.name.replace('*', "name"),
                o.example,
            ));
        }
    }
    out
}

/// Escape text for roff, turning `code` spans into bold.
fn roff(text: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '`' => {
                out.push_str(if bold { "\\fR" } else { "\\fB" });
                bold = !bold;
            }
            c => out.push(c),
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// The man page, `brokkr.conf(5)`.
pub fn man_page() -> String {
    let mut out = String::from(
        ".\\\" Generated from crates/brokkr-config/src/options by gen-config-docs; do not edit.\n\
         .TH BROKKR.CONF 5 \"\" \"brokkr\" \"File Formats\"\n\
         .SH NAME\n\
         brokkr.conf \\- configuration file of the brokkr MQTT broker (FlashMQ syntax)\n\
         .SH DESCRIPTION\n",
    );
    out.push_str(&roff(INTRO));
    out.push('\n');
    for scope in Scope::ALL {
        out.push_str(&format!(
            ".SH {}\n",
            roff(&scope_title(scope).to_uppercase())
        ));
        for o in options::in_scope(scope) {
            out.push_str(&format!(".TP\n.B {}\n{}\n", roff(o.name), roff(o.doc)));
            out.push_str(&format!(".br\nValue: {}.\n", roff(&o.kind.expected())));
            out.push_str(&format!(".br\nDefault: {}.\n", roff(&default_text(o))));
            out.push_str(&format!(".br\nbrokkr: {}.\n", roff(&support_text(o))));
        }
    }
    out.push_str(".SH SEE ALSO\n.BR brokkr (1),\n.BR flashmq.conf (5)\n");
    out
}

/// Where the generated files live, relative to the workspace root.
pub const MARKDOWN_PATH: &str = "docs/config.md";
/// See [`MARKDOWN_PATH`].
pub const MAN_PAGE_PATH: &str = "docs/brokkr.conf.5";
