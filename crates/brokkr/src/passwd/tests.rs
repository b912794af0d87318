use super::*;
use brokkr_auth::PasswordDb;

fn parsed(args: &[&str]) -> Parsed {
    parse(
        std::iter::once("passwd")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect(),
    )
}

fn args(list: &[&str]) -> PasswdArgs {
    match parsed(list) {
        Parsed::Command(Command::Passwd(a)) => a,
        other => panic!("{other:?}"),
    }
}

fn exit_code(list: &[&str]) -> i32 {
    match parsed(list) {
        Parsed::Exit { code, .. } => code,
        other => panic!("{other:?}"),
    }
}

#[test]
fn mosquitto_passwd_flags_parse() {
    let a = args(&["-c", "-b", "f", "u", "p"]);
    assert!(a.create && !a.delete);
    assert_eq!(
        (a.file.to_str(), a.username.as_str(), a.password.as_deref()),
        (Some("f"), "u", Some("p"))
    );
    assert_eq!(a.hash, HashKind::Pbkdf2Sha512);
    let a = args(&["-D", "f", "u"]);
    assert!(a.delete && a.password.is_none());
    assert_eq!(
        args(&["-H", "sha512", "-b", "f", "u", "p"]).hash,
        HashKind::Sha512
    );
    assert!(!format!("{:?}", args(&["-b", "f", "u", "secretpw"])).contains("secretpw"));
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    for bad in [
        &["-c", "-D", "f", "u"][..],
        &["-D", "-b", "f", "u", "p"],
        &["f", "u", "p"],
        &["-b", "f", "u"],
        &["f"],
        &[],
        &["-H", "md5", "f", "u"],
        &["-x", "f", "u"],
    ] {
        assert_eq!(exit_code(bad), EXIT_PASSWD_ERROR, "{bad:?}");
    }
    assert_eq!(exit_code(&["-h"]), 0);
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brokkr-passwd-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn run_with(a: &PasswdArgs, stdin: &str) -> (i32, String) {
    let mut err = Vec::new();
    let term = Terminal {
        input: &mut stdin.as_bytes(),
        out: &mut Vec::new(),
        err: &mut err,
        is_tty: false,
    };
    let code = run(a, term);
    (code, String::from_utf8(err).unwrap())
}

#[test]
fn create_update_delete_and_prompted_passwords() {
    let path = temp_file("pw");
    let p = path.to_str().unwrap();
    assert_eq!(run_with(&args(&["-c", "-b", p, "alice", "one"]), "").0, 0);
    assert_eq!(run_with(&args(&[p, "bob"]), "two\r\ntwo\n").0, 0);
    let (code, err) = run_with(&args(&[p, "carol"]), "x\ny\n");
    assert_eq!((code, err.trim()), (1, "Error: Passwords do not match."));
    assert_eq!(
        run_with(&args(&["-H", "sha512", "-b", p, "alice", "uno"]), "").0,
        0
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("alice:$6$") && text.contains("\nbob:$7$101$"),
        "{text}"
    );
    let (db, warnings) = PasswordDb::parse(&text, &Limits::DEFAULT);
    assert!(warnings.is_empty());
    assert!(db.verify("alice", b"uno").is_ok() && db.verify("bob", b"two").is_ok());
    assert_eq!(run_with(&args(&["-D", p, "alice"]), "").0, 0);
    let (code, err) = run_with(&args(&["-D", p, "alice"]), "");
    assert_eq!(
        (code, err.trim()),
        (1, "Error: User alice not found in password file.")
    );
    let (code, err) = run_with(&args(&["-b", p, "a:b", "x"]), "");
    assert_eq!(code, 1, "{err}");
    let missing = temp_file("missing");
    let (code, err) = run_with(
        &args(&["-b", missing.to_str().unwrap(), "u", "secretpw"]),
        "",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read") && !err.contains("secretpw"),
        "{err}"
    );
}
