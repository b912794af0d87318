//! `brokkr passwd`: manage a Mosquitto-format password file, as `mosquitto_passwd` does.
//!
//! ```text
//! brokkr passwd [-H sha512-pbkdf2 | -H sha512] [-c | -D] passwordfile username
//! brokkr passwd [-H sha512-pbkdf2 | -H sha512] [-c] -b passwordfile username password
//! ```
//!
//! `-c` creates (or overwrites) the file, `-D` deletes the user, `-b` takes the password from the
//! command line; otherwise it is asked for twice on the terminal (echo off when `stty` can turn
//! it off), or read as two lines from stdin when stdin is not a terminal. New hashes are `$7$`
//! (PBKDF2-HMAC-SHA512, 101 iterations, 12-byte random salt) unless `-H sha512` asks for `$6$`.
//! The file is replaced atomically; every other line is kept. Errors exit 1, like
//! `mosquitto_passwd`; the password never appears in any message.

use crate::cli::{Command, Parsed};
use brokkr_auth::Limits;
use brokkr_auth::passwd::{PasswordHash, delete_user, set_user, validate_username};
use clap::{Arg, ArgAction, ArgMatches, Command as ClapCommand, error::ErrorKind};
use std::fmt;
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Exit code of every `brokkr passwd` failure (as `mosquitto_passwd`).
pub const EXIT_PASSWD_ERROR: i32 = 1;

/// Which hash new entries get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// `$7$`, Mosquitto's default.
    Pbkdf2Sha512,
    /// `$6$`, Mosquitto 1.6's default; weak, accepted for compatibility.
    Sha512,
}

/// A parsed `brokkr passwd` command line.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswdArgs {
    /// `-c`: start from an empty file.
    pub create: bool,
    /// `-D`: delete the user.
    pub delete: bool,
    /// `-H`.
    pub hash: HashKind,
    /// The password file.
    pub file: PathBuf,
    /// The user.
    pub username: String,
    /// `-b`'s password.
    pub password: Option<String>,
}

impl fmt::Debug for PasswdArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswdArgs")
            .field("create", &self.create)
            .field("delete", &self.delete)
            .field("hash", &self.hash)
            .field("file", &self.file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn clap_command() -> ClapCommand {
    ClapCommand::new("brokkr passwd")
        .about("Manage a Mosquitto-format password file (as mosquitto_passwd)")
        .override_usage(
            "brokkr passwd [-H sha512-pbkdf2 | -H sha512] [-c | -D] passwordfile username\n       \
             brokkr passwd [-H sha512-pbkdf2 | -H sha512] [-c] -b passwordfile username password",
        )
        .disable_version_flag(true)
        .arg(flag(
            "create",
            'c',
            "Create a new password file, overwriting an existing one",
        ))
        .arg(flag(
            "delete",
            'D',
            "Delete the username instead of adding or updating it",
        ))
        .arg(flag(
            "batch",
            'b',
            "Batch mode: take the password from the command line",
        ))
        .arg(
            Arg::new("hash")
                .short('H')
                .value_name("ALGORITHM")
                .value_parser(["sha512-pbkdf2", "sha512"])
                .help("Hash for new entries: sha512-pbkdf2 ($7$, default) or sha512 ($6$)"),
        )
        .arg(Arg::new("file").required(true).value_name("passwordfile"))
        .arg(Arg::new("username").required(true))
        .arg(Arg::new("password"))
}

fn flag(id: &'static str, short: char, help: &'static str) -> Arg {
    Arg::new(id)
        .short(short)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn usage_error(text: String) -> Parsed {
    Parsed::Exit {
        text,
        code: EXIT_PASSWD_ERROR,
        to_stderr: true,
    }
}

/// Parse the arguments after `passwd`, starting with `passwd` itself as the program name.
pub fn parse(args: Vec<std::ffi::OsString>) -> Parsed {
    let m = match clap_command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            return Parsed::Exit {
                text: clap_command().render_help().to_string(),
                code: 0,
                to_stderr: false,
            };
        }
        Err(e) => return usage_error(e.render().to_string().trim_end().to_owned()),
    };
    match from_matches(&m) {
        Ok(args) => Parsed::Command(Command::Passwd(args)),
        Err(msg) => usage_error(format!("Error: {msg}\n{}", clap_command().render_usage())),
    }
}

fn from_matches(m: &ArgMatches) -> Result<PasswdArgs, &'static str> {
    let (create, delete, batch) = (
        m.get_flag("create"),
        m.get_flag("delete"),
        m.get_flag("batch"),
    );
    let password = m.get_one::<String>("password").cloned();
    if create && delete {
        return Err("-c and -D cannot be used together.");
    }
    if delete && (batch || password.is_some()) {
        return Err("-D takes no password.");
    }
    if batch != password.is_some() {
        return Err("a password on the command line needs -b, and -b needs a password.");
    }
    let hash = match m.get_one::<String>("hash").map(String::as_str) {
        Some("sha512") => HashKind::Sha512,
        _ => HashKind::Pbkdf2Sha512,
    };
    Ok(PasswdArgs {
        create,
        delete,
        hash,
        file: m
            .get_one::<String>("file")
            .map(PathBuf::from)
            .unwrap_or_default(),
        username: m.get_one::<String>("username").cloned().unwrap_or_default(),
        password,
    })
}

/// Where the password prompts read and write.
pub struct Terminal<'a> {
    /// Passwords, one per line.
    pub input: &'a mut dyn BufRead,
    /// Prompts.
    pub out: &'a mut dyn Write,
    /// Error messages.
    pub err: &'a mut dyn Write,
    /// Whether `input` is a terminal (echo is then turned off while a password is typed).
    pub is_tty: bool,
}

impl fmt::Debug for Terminal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Terminal {{ is_tty: {} }}", self.is_tty)
    }
}

/// Run the command. Returns the exit code.
pub fn run(args: &PasswdArgs, term: Terminal<'_>) -> i32 {
    let Terminal {
        input,
        out,
        err,
        is_tty,
    } = term;
    match execute(args, input, out, is_tty) {
        Ok(()) => 0,
        Err(msg) => {
            let _ = writeln!(err, "Error: {msg}");
            EXIT_PASSWD_ERROR
        }
    }
}

fn execute(
    args: &PasswdArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    is_tty: bool,
) -> Result<(), String> {
    validate_username(&args.username).map_err(|e| e.to_string())?;
    let limits = Limits::DEFAULT;
    let text = if args.create {
        String::new()
    } else {
        brokkr_auth::fs::read_text(&args.file, &limits).map_err(|e| e.to_string())?
    };
    let edited = if args.delete {
        delete_user(&text, &args.username)
            .map_err(|_| format!("User {} not found in password file.", args.username))?
    } else {
        let password = match &args.password {
            Some(p) => p.clone(),
            None => prompt_twice(input, out, is_tty)?,
        };
        let hash = new_hash(args.hash, password.as_bytes())?;
        set_user(&text, &args.username, &hash.encode()).map_err(|e| e.to_string())?
    };
    brokkr_auth::fs::write_atomic(&args.file, &edited)
        .map_err(|e| format!("cannot write '{}': {e}", args.file.display()))
}

fn new_hash(kind: HashKind, password: &[u8]) -> Result<PasswordHash, String> {
    let salted = brokkr_auth::fs::new_password_hash(password).map_err(|e| e.to_string())?;
    Ok(match (kind, salted) {
        (HashKind::Sha512, PasswordHash::Pbkdf2Sha512 { salt, .. }) => {
            PasswordHash::new_sha512(password, &salt)
        }
        (_, h) => h,
    })
}

fn prompt_twice(input: &mut dyn BufRead, out: &mut dyn Write, tty: bool) -> Result<String, String> {
    let first = prompt(input, out, "Password: ", tty)?;
    let second = prompt(input, out, "Reenter password: ", tty)?;
    if first != second {
        return Err("Passwords do not match.".to_owned());
    }
    Ok(first)
}

fn prompt(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    label: &str,
    tty: bool,
) -> Result<String, String> {
    let _ = write!(out, "{label}");
    let _ = out.flush();
    let echo_off = tty && stty("-echo");
    let mut line = String::new();
    let read = input.read_line(&mut line);
    if echo_off {
        stty("echo");
        let _ = writeln!(out);
    }
    match read {
        Ok(0) => Err("no password given (end of input).".to_owned()),
        Ok(_) => {
            let trimmed = line.strip_suffix('\n').unwrap_or(&line);
            Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
        }
        Err(e) => Err(format!("cannot read the password: {e}")),
    }
}

/// Best effort: run `stty ARG` on the controlling terminal.
fn stty(arg: &str) -> bool {
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    std::process::Command::new("stty")
        .arg(arg)
        .stdin(tty)
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests;
