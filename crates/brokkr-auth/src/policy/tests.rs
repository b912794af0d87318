use super::*;
use crate::Limits;

/// FlashMQ's test user "one" with password "one".
const ONE: &str = "one:$6$JCNyGIZwxpaB++iTCwiT2e80YX6mEFymRCkRpHkm50dNP8IfHMWz97BdadZVsZCCC9yr7/OXxAbdfAVk71xqyA==$AL25hdhMm0CkQ3/nxtgGJ96xfSv6hCAf7aHZby8mZWnkNxmvRnuu6fHWi6yvyr1EjPD4P9vmIvKwqvdKEVDLLQ==";

fn policy(allow_anonymous: bool, with_file: bool) -> AuthPolicy {
    AuthPolicy {
        allow_anonymous,
        password_db: with_file.then(|| Arc::new(PasswordDb::parse(ONE, &Limits::DEFAULT).0)),
        ..AuthPolicy::default()
    }
}

type Outcome = Result<Identity, Refusal>;

fn login(
    p: &AuthPolicy,
    listener: Option<bool>,
    user: Option<&str>,
    pass: Option<&str>,
) -> Outcome {
    p.authenticate_on_listener(listener, user.map(str::as_bytes), pass.map(str::as_bytes))
}

fn ok(o: &Outcome) -> bool {
    o.is_ok()
}

#[test]
fn flashmq_test_override_allow_anonymous_to_true() {
    let p = policy(false, true);
    for listener in [Some(true), None] {
        assert!(
            matches!(login(&p, listener, Some("one"), Some("one")), Ok(Identity::Authenticated(a)) if a.username() == "one")
        );
        assert_eq!(
            login(&p, listener, Some("one"), Some("wrong")),
            Err(Refusal::BadUsernameOrPassword)
        );
    }
    assert_eq!(login(&p, Some(true), None, None), Ok(Identity::Anonymous));
    assert_eq!(login(&p, None, None, None), Err(Refusal::NotAuthorized));
    assert!(ok(&login(
        &p,
        Some(true),
        Some("doesntexist"),
        Some("asdf")
    )));
    assert_eq!(
        login(&p, None, Some("doesntexist"), Some("asdf")),
        Err(Refusal::BadUsernameOrPassword)
    );
    // An existing user with an empty password is not anonymous.
    assert_eq!(
        login(&p, Some(true), Some("one"), Some("")),
        Err(Refusal::BadUsernameOrPassword)
    );
    assert_eq!(
        login(&p, Some(true), Some("one"), None),
        Err(Refusal::BadUsernameOrPassword)
    );
}

#[test]
fn flashmq_test_override_allow_anonymous_to_false() {
    let mut p = policy(true, true);
    p.zero_byte_username_is_anonymous = true;
    for listener in [Some(false), None] {
        assert!(ok(&login(&p, listener, Some("one"), Some("one"))));
        assert_eq!(
            login(&p, listener, Some("one"), Some("wrong")),
            Err(Refusal::BadUsernameOrPassword)
        );
    }
    assert_eq!(
        login(&p, Some(false), None, None),
        Err(Refusal::NotAuthorized)
    );
    assert_eq!(login(&p, None, None, None), Ok(Identity::Anonymous));
    // zero_byte_username_is_anonymous: an empty username is anonymous, its password ignored.
    assert_eq!(
        login(&p, None, Some(""), Some("wrong")),
        Ok(Identity::Anonymous)
    );
    assert_eq!(
        login(&p, Some(false), Some("doesntexist"), Some("asdf")),
        Err(Refusal::BadUsernameOrPassword)
    );
    assert_eq!(
        login(&p, None, Some("doesntexist"), Some("asdf")),
        Ok(Identity::Unverified {
            username: "doesntexist".into()
        })
    );
}

#[test]
fn flashmq_test_keep_allow_anonymous_false() {
    let p = policy(false, true);
    for listener in [Some(false), None] {
        assert!(ok(&login(&p, listener, Some("one"), Some("one"))));
        assert!(!ok(&login(&p, listener, Some("one"), Some("wrong"))));
        assert_eq!(login(&p, listener, None, None), Err(Refusal::NotAuthorized));
    }
}

#[test]
fn flashmq_test_allow_anonymous_without_passwords_loaded() {
    let p = policy(true, false);
    for listener in [Some(true), None] {
        assert!(ok(&login(&p, listener, Some("one"), Some("one"))));
        assert!(ok(&login(&p, listener, Some("one"), Some("wrong"))));
        assert_eq!(login(&p, listener, None, None), Ok(Identity::Anonymous));
    }
    assert_eq!(
        login(&p, Some(false), None, None),
        Err(Refusal::NotAuthorized)
    );
    assert_eq!(
        login(&p, Some(false), Some("one"), Some("one")),
        Err(Refusal::BadUsernameOrPassword)
    );
}

#[test]
fn empty_username_without_the_option_is_a_username() {
    let p = policy(false, true);
    assert_eq!(
        login(&p, None, Some(""), Some("x")),
        Err(Refusal::BadUsernameOrPassword)
    );
    let p = policy(true, true);
    assert_eq!(
        login(&p, None, Some(""), None),
        Ok(Identity::Unverified {
            username: "".into()
        })
    );
}

#[test]
fn non_utf8_username_is_refused() {
    let p = policy(true, true);
    assert_eq!(
        p.authenticate(Some(&[0xff, 0xfe]), None),
        Err(Refusal::BadUsernameOrPassword)
    );
}

#[test]
fn refusals_map_to_mqtt_reason_codes() {
    assert_eq!(Refusal::BadUsernameOrPassword.reason_code() as u8, 0x86);
    assert_eq!(Refusal::NotAuthorized.reason_code() as u8, 0x87);
    let v3 = brokkr_codec::reason::connack_return_code_v3;
    assert_eq!(v3(Refusal::BadUsernameOrPassword.reason_code()), 4);
    assert_eq!(v3(Refusal::NotAuthorized.reason_code()), 5);
}

#[test]
fn acl_uses_the_identity() {
    let mut p = policy(true, true);
    p.acl = Some(Arc::new(
        Acl::parse(
            "topic read public/#\nuser one\ntopic readwrite one/#\npattern read c/%c",
            &Limits::DEFAULT,
        )
        .unwrap(),
    ));
    let topic = |t| TopicName::new(t).unwrap();
    let one = login(&p, None, Some("one"), Some("one")).unwrap();
    let anon = login(&p, None, None, None).unwrap();
    assert!(
        p.check_acl(&one, "c1", &topic("one/x"), Access::Write)
            .is_allowed()
    );
    assert!(
        !p.check_acl(&one, "c1", &topic("public/x"), Access::Read)
            .is_allowed()
    );
    assert!(
        p.check_acl(&anon, "c1", &topic("public/x"), Access::Read)
            .is_allowed()
    );
    assert!(
        p.check_acl(&anon, "c1", &topic("c/c1"), Access::Read)
            .is_allowed()
    );
    assert!(
        !p.check_acl(&anon, "c1", &topic("one/x"), Access::Read)
            .is_allowed()
    );
    p.acl = None;
    assert!(
        p.check_acl(&anon, "c1", &topic("one/x"), Access::Write)
            .is_allowed()
    );
}

/// Whether the login needs a hash (deferred by the broker) or is decided at once.
fn deferred(p: &AuthPolicy, listener: Option<bool>, user: Option<&str>, pass: &str) -> bool {
    let pre = p.precheck_on_listener(listener, user.map(str::as_bytes), Some(pass.as_bytes()));
    matches!(pre, Precheck::NeedsHash(_))
}

#[test]
fn only_logins_that_verify_a_hash_are_deferred() {
    let strict = policy(false, true);
    assert!(deferred(&strict, None, Some("one"), "one"));
    assert!(deferred(&strict, None, Some("one"), "wrong"));
    // Anonymity refused or allowed, by the global setting or the listener's: no hash.
    assert!(!deferred(&strict, None, None, ""));
    assert!(!deferred(&strict, Some(true), None, ""));
    let open = policy(true, true);
    assert!(!deferred(&open, None, Some("stranger"), "x"));
    assert!(deferred(&open, None, Some("one"), "x"));
    // No password file: no user exists, nothing to verify or to hide.
    assert!(!deferred(&policy(false, false), None, Some("one"), "one"));
}

#[test]
fn an_unknown_user_takes_the_same_path_as_a_wrong_password() {
    // Refused either way; both are deferred, so neither answers sooner than the other.
    let p = policy(false, true);
    assert!(deferred(&p, None, Some("doesntexist"), "asdf"));
    let Precheck::NeedsHash(pending) =
        p.precheck_on_listener(None, Some(b"doesntexist"), Some(b"asdf"))
    else {
        panic!("an unknown user is deferred");
    };
    assert!(
        !format!("{pending:?}").contains("asdf"),
        "no password in Debug"
    );
    assert_eq!(pending.verify(), Err(Refusal::BadUsernameOrPassword));
    let Precheck::NeedsHash(pending) = p.precheck_on_listener(None, Some(b"one"), Some(b"one"))
    else {
        panic!("a known user is deferred");
    };
    assert!(matches!(pending.verify(), Ok(Identity::Authenticated(a)) if a.username() == "one"));
}
