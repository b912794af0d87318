//! FlashMQ's config tests (reference section 4 E) in our terms, plus quoting, booleans,
//! include_dir on a real directory, the example configs, support reporting and docs drift.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_config::options::{self, Scope, Support};
use brokkr_config::types::*;
use brokkr_config::{Config, ErrorKind, NoIncludes, load_file, parse_str};
use std::path::{Path, PathBuf};

fn parse(text: &str) -> Config {
    parse_str(text, "t.conf", &NoIncludes).unwrap_or_else(|e| panic!("{e}"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// FlashMQ test_loading_second_value: multi-value keys; extra values are refused.
#[test]
fn loading_second_value() {
    let c = parse("bridge {\naddress x\npublish a/b 1\npublish c/#\nsubscribe '+/d' 2\n}\n");
    let b = &c.bridges[0];
    assert_eq!(
        b.publish,
        [
            BridgeTopic {
                filter: "a/b".into(),
                qos: 1
            },
            BridgeTopic {
                filter: "c/#".into(),
                qos: 0
            },
        ]
    );
    assert_eq!(
        b.subscribe,
        [BridgeTopic {
            filter: "+/d".into(),
            qos: 2
        }]
    );
    let e = parse_str("bridge {\naddress x\npublish a 1 2\n}\n", "t", &NoIncludes).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::WrongValueCount { found: 3, .. }
    ));
    let e = parse_str("max_qos 1 1\n", "t", &NoIncludes).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::WrongValueCount { found: 2, .. }
    ));
}

/// FlashMQ test_parsing_numbers: trailing junk is refused.
#[test]
fn parsing_numbers() {
    assert_eq!(parse("max_packet_size 1024\n").max_packet_size, 1024);
    for bad in ["1024k", "1024 ", "10.5", "-5", "+5", "0x400", "1e3"] {
        let text = format!("max_packet_size \"{bad}\"\n");
        let e = parse_str(&text, "t", &NoIncludes).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadValue { .. }), "{bad}: {e}");
    }
}

/// FlashMQ testConfigSuggestion: a suggestion for typos, none for gibberish.
#[test]
fn config_suggestion() {
    let suggestion = |text: &str| match parse_str(text, "t", &NoIncludes).unwrap_err().kind {
        ErrorKind::UnknownKey { suggestion, .. } => suggestion,
        other => panic!("{other:?}"),
    };
    assert_eq!(suggestion("thread_cont 4\n"), Some("thread_count"));
    assert_eq!(suggestion("storagedir /x\n"), Some("storage_dir"));
    assert_eq!(
        suggestion("mosquitto_pasword_file /x\n"),
        Some("mosquitto_password_file")
    );
    assert_eq!(suggestion("sdkjfhskdjfh 1\n"), None);
    assert_eq!(
        suggestion("listen {\nadress x\n}\n"),
        None,
        "listeners have no `address`"
    );
}

/// FlashMQ testStringValuesParsing and testStringValuesParsingEscaping.
#[test]
fn string_values_parsing_and_escaping() {
    let log_file = |v: &str| parse(&format!("log_file {v}\n")).log_file.unwrap();
    assert_eq!(log_file("/a/b"), "/a/b");
    assert_eq!(log_file("\"/a b/c\""), "/a b/c");
    assert_eq!(log_file("'/a b/c'"), "/a b/c");
    assert_eq!(log_file(r#""/with \"quotes\"""#), r#"/with "quotes""#);
    assert_eq!(
        log_file(r#"'/single \' and " double'"#),
        r#"/single ' and " double"#
    );
    assert_eq!(log_file(r"'/back\\slash'"), r"/back\slash");
    assert_eq!(log_file(r"/back\\slash"), r"/back\slash");
    let c = parse("plugin_opt_greeting \"hello  world\"\nplugin_opt_empty \"\"\n");
    assert_eq!(c.plugin_opts["greeting"], "hello  world");
    assert_eq!(c.plugin_opts["empty"], "");
}

/// FlashMQ testStringValuesInvalid: unterminated quotes and invalid escapes.
#[test]
fn string_values_invalid() {
    for bad in [
        r#""abc"#, r"'abc", r#""a\b""#, r"a\n", r#"a"b""#, r#""a"b"#, r"abc\",
    ] {
        let e = parse_str(&format!("log_file {bad}\n"), "t", &NoIncludes).unwrap_err();
        let quoting = matches!(
            e.kind,
            ErrorKind::UnterminatedQuote
                | ErrorKind::InvalidEscape { .. }
                | ErrorKind::AmbiguousQuote
        );
        assert!(quoting, "{bad}: {e}");
    }
}

/// FlashMQ testStringValuesFuzz: random printable lines never panic, and every value that
/// parses renders back to itself.
#[test]
fn string_values_fuzz() {
    let alphabet: Vec<char> = "ab \t\"'\\#{}/".chars().collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        let mut v = String::new();
        for _ in 0..(state % 12) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            v.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        if let Ok(c) = parse_str(&format!("log_file x{v}\n"), "t", &NoIncludes) {
            let rendered = c.render();
            assert_eq!(
                parse(&rendered).without_provenance(),
                c.without_provenance(),
                "{v:?}"
            );
        }
    }
}

/// FlashMQ testPreviouslyValidConfigFile: an old-style config using every syntax variant.
#[test]
fn previously_valid_config_file() {
    let text = "\
# comment
   # indented comment
\r
allow_anonymous yes\r
log_debug   off
quiet\tTRUE
wills_enabled On
max_qos_msg_pending_per_client 1024
retained_messages_mode ENABLED
expire_retained_messages_time_budget_ms 100
rebuild_subscription_tree_interval_seconds 60
retained_messages_delivery_limit 500
plugin_opt_one 1
plugin_opt_two 'two words'

listen{
  protocol mqtt
  port 1883
  inet4_bind_address 127.0.0.1
  inet6_bind_address ::0
  haproxy off
}
  listen {
    port 8883
    fullchain \"/etc/ssl/my cert.pem\"
    privkey '/etc/ssl/my key.pem'
    client_verification_ca_file /etc/ssl/ca.pem
  }
bridge {
  address ::1
  clientid_prefix one
  connection_count auto
}
";
    let c = parse(text);
    assert!(c.allow_anonymous && c.quiet && c.wills_enabled && !c.log_debug);
    assert_eq!(c.max_qos_msg_pending_per_client, 1024);
    assert_eq!(c.listeners.len(), 2);
    assert_eq!(
        c.listeners[0].inet6_bind_address,
        std::net::Ipv6Addr::UNSPECIFIED
    );
    assert_eq!(
        c.listeners[1].fullchain.as_deref(),
        Some("/etc/ssl/my cert.pem")
    );
    assert_eq!(c.listeners[1].port(), 8883);
    assert_eq!(c.bridges[0].connection_count, ConnectionCount::Auto);
    assert_eq!(c.plugin_opts.len(), 2);
    assert_eq!(c.deprecation_warnings().len(), 3);
}

#[test]
fn booleans_in_every_spelling() {
    for (word, value) in [
        ("yes", true),
        ("no", false),
        ("true", true),
        ("false", false),
    ]
    .into_iter()
    .chain([
        ("on", true),
        ("off", false),
        ("YES", true),
        ("False", false),
    ]) {
        assert_eq!(
            parse(&format!("wills_enabled {word}\n")).wills_enabled,
            value,
            "{word}"
        );
    }
}

#[test]
fn repeatable_directives_accumulate_and_others_take_the_last() {
    let c = parse(
        "max_qos 1\nmax_qos 0\nwebsocket_set_real_ip_from 10.0.0.0/8\n\
                   websocket_set_real_ip_from ::1\n",
    );
    assert_eq!(c.max_qos, 0);
    assert_eq!(c.websocket_set_real_ip_from.len(), 2);
}

#[test]
fn not_yet_names_the_line() {
    let c = parse(
        "plugin /usr/lib/x.so\nmax_packet_size 1000\nlisten {\nprotocol acme\nport 8080\n}\n\
                   bridge {\naddress x\n}\n",
    );
    let lines: Vec<String> = c.not_yet().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "t.conf:1: `plugin` is not supported yet by brokkr (it needs plugins)",
            "t.conf:4: `protocol acme` is not supported yet by brokkr (it needs ACME listeners)",
            "t.conf:7: `bridge` blocks are not supported yet by brokkr",
            "t.conf:8: `address` is not supported yet by brokkr (it needs bridges)",
        ]
    );
    assert!(
        parse("retained_messages_mode enabled\nlisten {\nport 1\n}\n")
            .not_yet()
            .is_empty()
    );
    // A directive brokkr lacks, written with its default value, asks for nothing.
    assert!(
        parse("wills_enabled yes\nplugin_serialize_init false\nmax_qos 2\n")
            .not_yet()
            .is_empty()
    );
    assert_eq!(parse("plugin_serialize_init true\n").not_yet().len(), 1);
}

#[test]
fn issue_4_only_bridges_plugins_and_acme_are_not_supported_yet() {
    for o in options::all() {
        if let Support::NotYet { feature } = o.support {
            let allowed = o.scope() == Scope::Bridge
                || o.name.starts_with("plugin")
                || o.name.starts_with("acme");
            assert!(allowed, "{} is still not supported yet ({feature})", o.name);
        }
        for (value, feature) in o.not_yet_values {
            assert_eq!(
                (o.name, *value),
                ("protocol", "acme"),
                "{} {value} is still not supported yet ({feature})",
                o.name
            );
        }
    }
}

#[test]
fn tuning_directives_without_effect_are_named_at_start_up() {
    let c = parse(
        "subscription_node_lifetime 60\nmax_qos 1\nretained_message_node_lifetime 0\n\
         set_retained_message_defer_timeout 100\nset_retained_message_defer_timeout_spread 5\n",
    );
    let notes = c.no_effect_notes();
    let named: Vec<&str> = notes
        .iter()
        .map(|n| n.split('`').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        named,
        [
            "subscription_node_lifetime",
            "retained_message_node_lifetime",
            "set_retained_message_defer_timeout",
            "set_retained_message_defer_timeout_spread"
        ]
    );
    assert!(
        notes[0].starts_with("t.conf:1: `subscription_node_lifetime` has no effect in brokkr: ")
    );
    assert!(c.not_yet().is_empty());
    assert!(parse("max_qos 1\n").no_effect_notes().is_empty());
}

#[test]
fn the_new_limits_reach_the_core() {
    use brokkr_core::limits::{Limits, RetainedCreationLimit};
    let c = parse(
        "retained_messages_node_limit 500\nretained_messages_node_creation_limit 20\n\
         retained_messages_node_creation_limit_enforcement_depth 1\n\
         retained_messages_node_creation_limit_enforcement_mode log\n\
         client_initial_buffer_size 8192\n",
    );
    let l = c.to_limits(&Limits::default());
    assert_eq!(l.retained_walk_nodes_max, 500);
    assert_eq!(
        l.retained_creation_limit,
        Some(RetainedCreationLimit {
            depth_levels: 1,
            nodes_max: 20,
            reject: false
        })
    );
    assert_eq!(l.idle_buffer_bytes_max, 8192);
    assert_eq!(l.retained_mode, brokkr_core::limits::RetainedMode::Enabled);
    assert!(c.persists_retained());
    for (mode, core) in [
        (
            "enabled_without_persistence",
            brokkr_core::limits::RetainedMode::Enabled,
        ),
        (
            "enabled_without_retaining",
            brokkr_core::limits::RetainedMode::WithoutRetaining,
        ),
        ("downgrade", brokkr_core::limits::RetainedMode::Downgrade),
        ("drop", brokkr_core::limits::RetainedMode::Drop),
        (
            "disconnect_with_error",
            brokkr_core::limits::RetainedMode::DisconnectWithError,
        ),
    ] {
        let c = parse(&format!("retained_messages_mode {mode}\n"));
        assert_eq!(
            c.to_limits(&Limits::default()).retained_mode,
            core,
            "{mode}"
        );
        assert!(
            !c.persists_retained(),
            "{mode} neither loads nor saves retained messages"
        );
    }
    // Without a depth the creation limit is off, as in FlashMQ.
    let off = parse("retained_messages_node_creation_limit 20\n").to_limits(&Limits::default());
    assert_eq!(off.retained_creation_limit, None);
}

#[test]
fn listener_overrides_reach_the_core() {
    use brokkr_codec::QoS;
    let c = parse(
        "max_qos 1\nlisten {\nport 1\n}\nlisten {\nport 2\nmax_qos 0\nmax_buffer_size 8192\n\
         mqtt3_qos_exceed_action drop\noverload_mode close_new_clients\n}\n",
    );
    assert_eq!(c.listeners[0].overrides(), Default::default());
    let o = c.listeners[1].overrides();
    assert_eq!(o.max_qos, Some(QoS::AtMostOnce));
    assert_eq!(o.write_buffer_bytes_max, Some(8192));
    assert_eq!(o.mqtt3_qos_exceed_disconnects, Some(false));
    assert!(c.not_yet().is_empty());
}

#[test]
fn include_dir_merges_conf_files_in_name_order() {
    let dir = std::env::temp_dir().join(format!("brokkr-config-{}", std::process::id()));
    let conf_d = dir.join("conf.d");
    std::fs::create_dir_all(&conf_d).unwrap();
    std::fs::write(conf_d.join("20-second.conf"), "max_qos 0\n").unwrap();
    std::fs::write(
        conf_d.join("10-first.conf"),
        "max_qos 1\nlisten {\nport 1884\n}\n",
    )
    .unwrap();
    std::fs::write(conf_d.join("30-ignored.conf.bak"), "bogus\n").unwrap();
    std::fs::write(conf_d.join(".hidden.conf"), "bogus\n").unwrap();
    let main = dir.join("main.conf");
    let text = format!(
        "max_qos 2\ninclude_dir {}\nlog_level debug\n",
        conf_d.display()
    );
    std::fs::write(&main, text).unwrap();
    let c = load_file(&main).unwrap();
    assert_eq!(c.max_qos, 0, "20-second.conf is read after 10-first.conf");
    assert_eq!(c.listeners[0].port, Some(1884));
    assert_eq!(c.log_level, LogLevel::Debug);
    let from: Vec<&str> = c.directives.iter().map(|d| d.origin.as_str()).collect();
    assert!(from[2].ends_with("10-first.conf"), "{from:?}");
    std::fs::write(&main, "include_dir /nonexistent/brokkr\n").unwrap();
    let e = load_file(&main).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Include { .. }), "{e}");
    assert!(matches!(
        load_file(&dir.join("missing.conf")).unwrap_err().kind,
        ErrorKind::Io { .. }
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn example_configs_parse() {
    let examples = workspace().join("docs/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        let c = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.listeners.is_empty());
        let again = parse(&c.render());
        assert_eq!(
            again.without_provenance(),
            c.without_provenance(),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 4);
    let bridge = load_file(&examples.join("bridge.conf")).unwrap();
    assert_eq!(bridge.bridges[0].publish[0].qos, 1);
    assert!(
        !format!("{bridge:?}").contains("battery"),
        "passwords stay out of Debug"
    );
}

#[test]
fn committed_docs_match_the_option_table() {
    let root = workspace();
    for (path, generated) in [
        (
            brokkr_config::docs::MARKDOWN_PATH,
            brokkr_config::docs::markdown(),
        ),
        (
            brokkr_config::docs::MAN_PAGE_PATH,
            brokkr_config::docs::man_page(),
        ),
    ] {
        let committed = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        assert!(
            committed == generated,
            "{path} is stale: run `cargo run -p brokkr-config --bin gen-config-docs`"
        );
    }
}

#[test]
fn fuzz_oracle_holds_on_examples_and_edge_cases() {
    for entry in std::fs::read_dir(workspace().join("docs/examples")).unwrap() {
        brokkr_config::fuzzing::config_round_trip(&std::fs::read(entry.unwrap().path()).unwrap());
    }
    for text in [
        "include_dir inc\n",
        "log_file \"{\"\r\nplugin_opt_a '}'\n",
        "listen {\n}\nlisten {\ninet_protocol unix\nunix_socket_path '/a b'\nunix_socket_mode 0600\n}\n",
        "persistence_data_to_save !all\n",
        "bridge {\naddress x\nremote_password \"\\\"\\\\'\"\nconnection_count 0001\n}\n",
        "websocket_set_real_ip_from ::ffff:1.2.3.4/128\n",
    ] {
        brokkr_config::fuzzing::config_round_trip(text.as_bytes());
    }
    for text in ["log_file \"{\"\r\n", "persistence_data_to_save !all\n"] {
        parse(text);
    }
}
