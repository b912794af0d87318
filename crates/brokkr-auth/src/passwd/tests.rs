use super::*;

/// The two entries of FlashMQ's testMosquittoPasswordFile: "one" ($6$) and "two" ($7$), whose
/// passwords equal their usernames.
const FLASHMQ_FILE: &str = "one:$6$JCNyGIZwxpaB++iTCwiT2e80YX6mEFymRCkRpHkm50dNP8IfHMWz97BdadZVsZCCC9yr7/OXxAbdfAVk71xqyA==$AL25hdhMm0CkQ3/nxtgGJ96xfSv6hCAf7aHZby8mZWnkNxmvRnuu6fHWi6yvyr1EjPD4P9vmIvKwqvdKEVDLLQ==\n\
two:$7$101$QVgLoPCu8Lb9A6HRYFhcsIsYqE1QR5elwDr7oioyNw7n5OMqdpM0Xk+Iacbj+ZvXiIVihFYEVDgJMkr8vAR08A==$xTJ1tbPTZcaJH+ie9gXUDumHqdJYpGCMXW/asC/qMrdobawqU2tpBHzvJnm2VfsYCwgchOCegI8RvYt1IAUivg==\n";

#[test]
fn flashmq_test_mosquitto_password_file() {
    let (db, warnings) = PasswordDb::parse(FLASHMQ_FILE, &Limits::DEFAULT);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(db.len(), 2);
    assert_eq!(db.verify("one", b"one").unwrap().username(), "one");
    assert_eq!(db.verify("two", b"two").unwrap().username(), "two");
    assert_eq!(
        db.verify("two", b"wrongpasswordforexistinguser"),
        Err(PasswordRejected)
    );
    assert_eq!(
        db.verify("erqwerq", b"nonexistinguser"),
        Err(PasswordRejected)
    );
    // An existing user with an empty password is not anonymous: it is a wrong password.
    assert_eq!(db.verify("one", b""), Err(PasswordRejected));
}

#[test]
fn bad_lines_are_skipped_with_line_numbers_and_no_secrets() {
    let text = format!(
        "# comment\n\nnocolon\n:$7$101$AAAA$BBBB\nbad:plaintextpassword\ntoo:$7$999999999$c2FsdA==$AAAA\n{FLASHMQ_FILE}"
    );
    let (db, warnings) = PasswordDb::parse(&text, &Limits::DEFAULT);
    assert_eq!(db.len(), 2);
    let lines: Vec<usize> = warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert_eq!(warnings[0].reason, WarningReason::NoSeparator);
    assert_eq!(warnings[1].reason, WarningReason::EmptyUsername);
    assert_eq!(
        warnings[2].reason,
        WarningReason::Hash(HashError::UnknownScheme)
    );
    assert_eq!(
        warnings[3].reason,
        WarningReason::Hash(HashError::CostOutOfBounds)
    );
    for w in &warnings {
        let msg = w.to_string();
        assert!(
            !msg.contains("plaintextpassword") && !msg.contains("AAAA"),
            "{msg}"
        );
        assert!(msg.contains(&format!("line {}", w.line)), "{msg}");
    }
}

#[test]
fn crlf_line_endings_are_accepted() {
    let text = FLASHMQ_FILE.replace('\n', "\r\n");
    let (db, warnings) = PasswordDb::parse(&text, &Limits::DEFAULT);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(db.verify("two", b"two").is_ok());
}

#[test]
fn duplicate_user_last_wins_with_warning() {
    let a = PasswordHash::new_pbkdf2(b"first", [1; SALT_BYTES], 1).encode();
    let b = PasswordHash::new_pbkdf2(b"second", [2; SALT_BYTES], 1).encode();
    let (db, warnings) = PasswordDb::parse(&format!("u:{a}\nu:{b}\n"), &Limits::DEFAULT);
    assert_eq!(
        warnings,
        [ParseWarning {
            line: 2,
            reason: WarningReason::DuplicateUser
        }]
    );
    assert!(db.verify("u", b"second").is_ok());
    assert!(db.verify("u", b"first").is_err());
}

#[test]
fn user_and_line_caps() {
    let h = PasswordHash::new_pbkdf2(b"p", [1; SALT_BYTES], 1).encode();
    let text = format!("a:{h}\nb:{h}\nc:{h}\n");
    let limits = Limits {
        users_max: 2,
        ..Limits::DEFAULT
    };
    let (db, warnings) = PasswordDb::parse(&text, &limits);
    assert_eq!(db.len(), 2);
    assert_eq!(
        warnings,
        [ParseWarning {
            line: 3,
            reason: WarningReason::TooManyUsers
        }]
    );
    let limits = Limits {
        line_bytes_max: 20,
        ..Limits::DEFAULT
    };
    let (db, warnings) = PasswordDb::parse(&text, &limits);
    assert!(db.is_empty());
    assert_eq!(warnings.len(), 3);
    assert!(
        warnings
            .iter()
            .all(|w| w.reason == WarningReason::LineTooLong)
    );
}

#[test]
fn debug_of_db_and_proof_shows_no_hash() {
    let (db, _) = PasswordDb::parse(FLASHMQ_FILE, &Limits::DEFAULT);
    let d = format!("{db:?}");
    assert_eq!(d, "PasswordDb { users: 2 }");
}

#[test]
fn the_decoy_for_unknown_users_has_the_most_common_cost() {
    let pbkdf2 = |pw: &[u8], i| PasswordHash::new_pbkdf2(pw, [7; SALT_BYTES], i).encode();
    let text = format!(
        "zed:{}\namy:{}\nbob:{}\ncat:{}\n",
        pbkdf2(b"z", 5),
        pbkdf2(b"a", 3),
        pbkdf2(b"b", 3),
        PasswordHash::new_sha512(b"c", b"salt").encode()
    );
    let (db, warnings) = PasswordDb::parse(&text, &Limits::DEFAULT);
    assert!(warnings.is_empty());
    // Two users at 3 iterations outnumber the others; the smallest name of them is picked.
    assert_eq!(db.decoy.as_deref(), Some("amy"));
    assert_eq!(db.verify("nobody", b"a"), Err(PasswordRejected));
    assert!(db.verify("amy", b"a").is_ok());
    assert_eq!(
        PasswordDb::default().verify("nobody", b""),
        Err(PasswordRejected)
    );
}

#[test]
fn a_new_argon2id_hash_round_trips_through_its_text_form() {
    let hash = PasswordHash::new_argon2id(b"secret", b"saltsalt", 64, 1, 1).unwrap();
    let text = hash.encode();
    assert!(text.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{text}");
    let parsed = PasswordHash::parse(&text, &Limits::DEFAULT).unwrap();
    assert!(parsed.verify(b"secret"));
    assert!(!parsed.verify(b"Secret"));
    assert!(PasswordHash::new_argon2id(b"x", b"short", 64, 1, 1).is_err());
}
