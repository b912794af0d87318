//! Every error kind, with its exact `file:line:col: message`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_config::{ConfigError, ErrorKind, MemIncludes, NoIncludes, parse_bytes, parse_str};

fn err(text: &str) -> ConfigError {
    parse_str(text, "b.conf", &NoIncludes).expect_err(text)
}

fn msg(text: &str) -> String {
    err(text).to_string()
}

#[test]
fn unknown_key_suggests_the_nearest() {
    assert_eq!(
        msg("# c\n\nalow_anonymous yes\n"),
        "b.conf:3:1: unknown directive `alow_anonymous`; did you mean `allow_anonymous`?"
    );
    assert_eq!(
        msg("listen {\n  prot 1883\n}\n"),
        "b.conf:2:3: unknown directive `prot`; did you mean `port`?"
    );
    assert_eq!(
        msg("qwertyuiop 1\n"),
        "b.conf:1:1: unknown directive `qwertyuiop`"
    );
}

#[test]
fn wrong_scope_names_the_right_one() {
    assert_eq!(
        msg("port 1883\n"),
        "b.conf:1:1: `port` is only valid inside a listen block or inside a bridge block, \
         not at the top level"
    );
    assert_eq!(
        msg("listen {\n    log_level debug\n}\n"),
        "b.conf:2:5: `log_level` is only valid at the top level, not inside a listen block"
    );
    assert_eq!(
        msg("bridge {\naddress x\nfullchain /a\nhaproxy on\n}\n"),
        "b.conf:4:1: `haproxy` is only valid inside a listen block, not inside a bridge block"
    );
    assert_eq!(
        msg("listen {\ninclude_dir /x\n}\n"),
        "b.conf:2:1: `include_dir` is only valid at the top level, not inside a listen block"
    );
}

#[test]
fn bad_values_name_the_expected_form() {
    assert_eq!(
        msg("listen {\nport 1883x\n}\n"),
        "b.conf:2:6: invalid value \"1883x\" for `port`: expected a whole number from 0 to 65535"
    );
    assert_eq!(
        msg("allow_anonymous maybe\n"),
        "b.conf:1:17: invalid value \"maybe\" for `allow_anonymous`: expected a boolean: \
         yes/no, true/false or on/off"
    );
    assert_eq!(
        msg("log_level loud\n"),
        "b.conf:1:11: invalid value \"loud\" for `log_level`: expected one of: debug, info, \
         notice, warning, error, none"
    );
    assert_eq!(
        msg("expire_sessions_after_seconds 30\n"),
        "b.conf:1:31: invalid value \"30\" for `expire_sessions_after_seconds`: expected 0 \
         (never) or at least 60 seconds"
    );
    assert_eq!(
        msg("client_initial_buffer_size 1000\n"),
        "b.conf:1:28: invalid value \"1000\" for `client_initial_buffer_size`: expected a power \
         of two from 1 to 1073741824 bytes"
    );
    assert_eq!(
        msg("bridge {\naddress x\npublish a/# 3\n}\n"),
        "b.conf:3:13: invalid value \"3\" for `publish`: expected a topic filter, optionally \
         followed by a QoS (0, 1 or 2)"
    );
}

#[test]
fn secrets_are_not_echoed() {
    // remote_password takes any text, so only a setter error could echo it; the value count
    // error does not repeat values either.
    let e = msg("bridge {\naddress x\nremote_password a b\n}\n");
    assert_eq!(e, "b.conf:3:19: `remote_password` takes 1 value, found 2");
}

#[test]
fn value_counts() {
    assert_eq!(
        msg("max_qos 1 2\n"),
        "b.conf:1:11: `max_qos` takes 1 value, found 2"
    );
    assert_eq!(
        msg("bridge {\naddress x\nsubscribe a/b 1 extra\n}\n"),
        "b.conf:3:17: `subscribe` takes 1 to 2 values, found 3"
    );
    assert_eq!(
        msg("listen {\nport 1883 # the default\n}\n"),
        "b.conf:2:11: `port` takes 1 value, found 4; comments must be on a line of their own"
    );
    assert_eq!(msg("log_level\n"), "b.conf:1:1: `log_level` needs a value");
}

#[test]
fn quoting_errors() {
    assert_eq!(
        msg("log_file \"/var/log\n"),
        "b.conf:1:10: this quote is never closed"
    );
    assert_eq!(
        msg("log_file \"a\\tb\"\n"),
        "b.conf:1:12: invalid escape `\\t`: only \\\", \\' and \\\\ are escapes"
    );
    assert_eq!(
        msg("log_file a\"b\"\n"),
        "b.conf:1:11: a quote must start a value and its closing quote must end it; quote the \
         whole value"
    );
}

#[test]
fn block_errors() {
    assert_eq!(
        msg("listen {\nlisten {\n"),
        "b.conf:2:1: blocks cannot be nested; close this one first"
    );
    assert_eq!(msg("\n  }\n"), "b.conf:2:3: `}` without an open block");
    assert_eq!(
        msg("listen {\nport 1\n"),
        "b.conf:1: the `listen` block opened on line 1 is not closed with `}` before the end of \
         the file"
    );
    assert_eq!(
        msg("listn {\n}\n"),
        "b.conf:1:1: `listn` is not a block; blocks are `listen` and `bridge`; did you mean `listen`?"
    );
    assert_eq!(
        msg("listen { port 1 }\n"),
        "b.conf:1:8: invalid line: `{` must end a block's first line and `}` must stand alone on \
         its line"
    );
    assert_eq!(
        msg("bridge {\nport 1883\n}\n"),
        "b.conf:3:1: a bridge needs an `address`"
    );
    assert_eq!(
        msg("listen {\nfullchain /c\n}\n"),
        "b.conf:3:1: a TLS listener needs both `fullchain` and `privkey`"
    );
    assert_eq!(
        msg("bridge {\naddress a\n}\nbridge {\naddress b\n}\n"),
        "b.conf:6:1: two bridges have clientid_prefix `fmqbridge`; it names the bridge, so each \
         bridge needs its own"
    );
}

#[test]
fn size_limits() {
    let long = format!("log_file /{}\n", "x".repeat(250));
    assert_eq!(
        msg(&long),
        "b.conf:1: the line is 260 bytes long; lines may be at most 256 bytes"
    );
    let huge = "#\n".repeat(brokkr_config::FILE_BYTES_MAX / 2 + 1);
    assert!(matches!(err(&huge).kind, ErrorKind::FileTooLarge { .. }));
    assert_eq!(err(&huge).line, 0);
}

#[test]
fn invalid_utf8_is_located() {
    let e = parse_bytes(b"max_qos 1\nlog_file /a\xffb\n", "u.conf", &NoIncludes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "u.conf:2:12: invalid line: the file is not valid UTF-8 here"
    );
}

#[test]
fn include_errors() {
    assert_eq!(
        msg("include_dir /nowhere\n"),
        "b.conf:1:1: include_dir \"/nowhere\": include_dir is not available when parsing a single text"
    );
    let mut m = MemIncludes::default();
    m.files
        .insert("d/a.conf".into(), "max_qos 1\nbogus 2\n".into());
    let e = parse_str("include_dir d\n", "main.conf", &m).unwrap_err();
    assert_eq!(e.to_string(), "d/a.conf:2:1: unknown directive `bogus`");
    let mut looped = MemIncludes::default();
    looped
        .files
        .insert("d/a.conf".into(), "include_dir d\n".into());
    let e = parse_str("include_dir d\n", "main.conf", &looped).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("d/a.conf:1:1: include_dir \"d\": includes nest more than 8"),
        "{e}"
    );
    let mut unclosed = MemIncludes::default();
    unclosed
        .files
        .insert("d/a.conf".into(), "listen {\n".into());
    let e = parse_str("include_dir d\n}\n", "main.conf", &unclosed).unwrap_err();
    assert_eq!(e.origin, "d/a.conf");
    assert!(matches!(e.kind, ErrorKind::UnclosedBlock { .. }));
}
