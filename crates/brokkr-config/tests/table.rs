//! Table-driven tests: every directive in the option table parses its example in its scope,
//! changes the config, renders and re-parses to the same config, leaves the config untouched
//! when given its documented default, refuses a malformed value, and is refused in a scope it
//! does not belong to. A directive added to the table is tested here without further work (or
//! fails here until its example and context are right).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_config::options::{self, DefaultValue, OptionDesc, Scope, Support};
use brokkr_config::{Config, ErrorKind, MemIncludes, ValueKind, parse_str};

/// Lines a directive needs next to it to make its block valid.
fn companions(name: &str) -> &'static str {
    match name {
        "fullchain" => "privkey /k.pem\n",
        "privkey" => "fullchain /c.pem\n",
        "client_verification_ca_file" | "client_verification_ca_dir" => {
            "fullchain /c.pem\nprivkey /k.pem\n"
        }
        "unix_socket_path" => "inet_protocol unix\n",
        _ => "",
    }
}

fn key(o: &OptionDesc) -> String {
    o.name.replace('*', "name")
}

/// A config text with `directive` (possibly empty) placed in `scope`, with its companions.
fn in_scope(scope: Scope, name: &str, directive: &str) -> String {
    let extra = if directive.is_empty() {
        ""
    } else {
        companions(name)
    };
    match scope {
        Scope::Global => directive.to_owned(),
        Scope::Listen => format!("listen {{\n{extra}{directive}}}\n"),
        Scope::Bridge => format!("bridge {{\naddress example.org\n{directive}}}\n"),
    }
}

fn includes() -> MemIncludes {
    let mut m = MemIncludes::default();
    m.files
        .insert("/etc/brokkr/conf.d/a.conf".into(), "max_qos 1\n".into());
    m
}

fn parse(text: &str) -> Config {
    match parse_str(text, "t.conf", &includes()) {
        Ok(c) => c.without_provenance(),
        Err(e) => panic!("{e}\n--- config:\n{text}"),
    }
}

#[test]
fn every_directive_parses_its_example_and_round_trips() {
    for o in options::all() {
        let baseline = parse(&in_scope(o.scope(), o.name, ""));
        let text = in_scope(o.scope(), o.name, &format!("{} {}\n", key(o), o.example));
        let config = parse(&text);
        let stores = !matches!(o.support, Support::Deprecated { .. });
        if stores {
            assert_ne!(config, baseline, "{}: the example changed nothing", o.name);
        }
        let rendered = config.render();
        assert_eq!(
            parse(&rendered),
            config,
            "{}: render round trip:\n{rendered}",
            o.name
        );
    }
}

#[test]
fn every_documented_default_is_the_default() {
    for o in options::all() {
        let DefaultValue::Is(default) = o.default else {
            continue;
        };
        let baseline = parse(&in_scope(o.scope(), o.name, ""));
        let text = in_scope(o.scope(), o.name, &format!("{} {}\n", key(o), default));
        assert_eq!(
            parse(&text),
            baseline,
            "{}: `{default}` is not the default",
            o.name
        );
    }
}

#[test]
fn every_checked_directive_refuses_a_malformed_value() {
    for o in options::all() {
        if matches!(o.kind, ValueKind::Text | ValueKind::Path | ValueKind::Word) {
            continue;
        }
        let text = in_scope(o.scope(), o.name, &format!("{} x/#/%bad\n", key(o)));
        let err = parse_str(&text, "t.conf", &includes()).expect_err(o.name);
        assert!(
            matches!(err.kind, ErrorKind::BadValue { .. }),
            "{}: {err}",
            o.name
        );
        assert!(err.to_string().contains("expected"), "{}: {err}", o.name);
    }
}

#[test]
fn every_directive_is_refused_outside_its_scopes() {
    for o in options::all() {
        for scope in Scope::ALL {
            if options::find(scope, &key(o)).is_some() {
                continue;
            }
            let text = in_scope(scope, o.name, &format!("{} {}\n", key(o), o.example));
            let err = parse_str(&text, "t.conf", &includes()).expect_err(o.name);
            let wrong_scope = matches!(err.kind, ErrorKind::WrongScope { .. });
            let plugin_opt = o.name == options::PLUGIN_OPT;
            assert!(wrong_scope || plugin_opt, "{} in {scope:?}: {err}", o.name);
        }
    }
}

#[test]
fn no_directives_gives_flashmq_defaults() {
    let c = parse("");
    assert_eq!(c, Config::flashmq_defaults());
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.listeners[0].port(), 1883);
    assert_eq!(
        c.listeners[0].inet_protocol,
        brokkr_config::types::InetProtocol::Ip4Ip6
    );
    assert!(!c.allow_anonymous);
    assert_eq!(c.max_qos_msg_pending_per_client, 512);
}

#[test]
fn default_limits_match_the_core() {
    let base = brokkr_core::limits::Limits::default();
    assert_eq!(Config::flashmq_defaults().to_limits(&base), base);
}
