//! The command line, as FlashMQ's: the same flags, the same exit codes.
//!
//! Parsing is done by clap; this module maps clap's outcomes onto FlashMQ's conventions (help and
//! usage errors exit 16, `--version` and `--license` exit 0, positional arguments are refused with
//! a hint) and returns a validated [`Command`] for `main` to run.

use clap::{Arg, ArgAction, ArgMatches, Command as ClapCommand, error::ErrorKind};
use std::path::PathBuf;

/// Exit code for `--help`, unknown options and other usage errors (FlashMQ's value).
pub const EXIT_USAGE: i32 = 16;
/// Exit code for a configuration error at start-up (FlashMQ's value).
pub const EXIT_CONFIG: i32 = 99;
/// Exit code for any other start-up error.
pub const EXIT_STARTUP: i32 = 1;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start the broker, with a config file or the embedded defaults.
    Run { config_file: Option<PathBuf> },
    /// Parse and validate the config file, print the verdict, exit 0 or 1.
    TestConfig { config_file: Option<PathBuf> },
    /// Feed one file through the broker's input path and exit (`--fuzz-file`).
    Fuzz { file: PathBuf },
    /// Print the version (`-V`, `-v`, `--version`) or the licence (`-l`, `--license`).
    Version,
    /// Print the licence.
    License,
    /// `brokkr passwd ...`: manage a Mosquitto-format password file.
    Passwd(crate::passwd::PasswdArgs),
}

/// The outcome of parsing: a command, or text to print and an exit code.
#[derive(Debug)]
pub enum Parsed {
    /// Run this.
    Command(Command),
    /// Print `text` (to stdout if `code` is 0 or 16 for help, else stderr) and exit with `code`.
    Exit {
        text: String,
        code: i32,
        to_stderr: bool,
    },
}

fn clap_command() -> ClapCommand {
    ClapCommand::new("brokkr")
        .about("brokkr: a multi-core MQTT 3.1, 3.1.1 and 5.0 broker, a drop-in replacement for FlashMQ")
        .after_help(
            "Without --config-file, brokkr reads /etc/brokkr/brokkr.conf if it is readable, \
             else it runs on its embedded defaults: MQTT on 127.0.0.1:1883 and [::1]:1883, \
             anonymous clients allowed on loopback only.\n\n\
             `brokkr passwd [-c | -D] [-b] passwordfile username [password]` manages a \
             Mosquitto-format password file, as mosquitto_passwd (see `brokkr passwd -h`).\n\n\
             Signals: SIGHUP reloads the config, SIGTERM and SIGINT stop the broker, \
             SIGUSR1 reopens the log file, SIGUSR2 trims memory.",
        )
        .disable_version_flag(true)
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Print this help"),
        )
        .arg(
            Arg::new("config-file")
                .short('c')
                .long("config-file")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Config file (FlashMQ syntax)"),
        )
        .arg(
            Arg::new("test-config")
                .short('t')
                .long("test-config")
                .action(ArgAction::SetTrue)
                .help("Test the config file and exit: 0 if valid, 1 if not"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .short_alias('v')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version and exit"),
        )
        .arg(
            Arg::new("license")
                .short('l')
                .long("license")
                .action(ArgAction::SetTrue)
                .help("Print the licence and exit"),
        )
        .arg(
            Arg::new("fuzz-file")
                .short('z')
                .long("fuzz-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Run FILE's bytes through the input path once and exit (for AFL)"),
        )
        .arg(Arg::new("positional").num_args(0..).hide(true).action(ArgAction::Append))
}

/// The help text.
pub fn help_text() -> String {
    clap_command().render_help().to_string()
}

/// Parse `args` (including the program name).
pub fn parse<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    if args.get(1).is_some_and(|a| a == "passwd") {
        return crate::passwd::parse(args.into_iter().skip(1).collect());
    }
    match clap_command().try_get_matches_from(args) {
        Ok(matches) => from_matches(&matches),
        Err(err) if err.kind() == ErrorKind::DisplayHelp => Parsed::Exit {
            text: help_text(),
            code: EXIT_USAGE,
            to_stderr: false,
        },
        Err(err) => Parsed::Exit {
            text: format!("{}\n{}", err.render().to_string().trim_end(), help_text()),
            code: EXIT_USAGE,
            to_stderr: true,
        },
    }
}

fn from_matches(m: &ArgMatches) -> Parsed {
    if let Some(first) = m
        .get_many::<String>("positional")
        .and_then(|mut p| p.next())
    {
        return Parsed::Exit {
            text: format!(
                "error: unexpected argument '{first}'. Did you mean --config-file {first}?"
            ),
            code: EXIT_USAGE,
            to_stderr: true,
        };
    }
    let config_file = m.get_one::<PathBuf>("config-file").cloned();
    let command = if m.get_flag("version") {
        Command::Version
    } else if m.get_flag("license") {
        Command::License
    } else if let Some(file) = m.get_one::<PathBuf>("fuzz-file") {
        Command::Fuzz { file: file.clone() }
    } else if m.get_flag("test-config") {
        Command::TestConfig { config_file }
    } else {
        Command::Run { config_file }
    };
    Parsed::Command(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Command {
        match parse(std::iter::once("brokkr").chain(args.iter().copied())) {
            Parsed::Command(c) => c,
            Parsed::Exit { text, code, .. } => panic!("exit {code}: {text}"),
        }
    }

    fn exit_code(args: &[&str]) -> i32 {
        match parse(std::iter::once("brokkr").chain(args.iter().copied())) {
            Parsed::Command(c) => panic!("parsed {c:?}"),
            Parsed::Exit { code, .. } => code,
        }
    }

    #[test]
    fn flashmq_flags_parse() {
        assert_eq!(cmd(&[]), Command::Run { config_file: None });
        assert_eq!(
            cmd(&["-c", "a.conf"]),
            Command::Run {
                config_file: Some("a.conf".into())
            }
        );
        assert_eq!(
            cmd(&["--config-file", "a.conf", "-t"]),
            Command::TestConfig {
                config_file: Some("a.conf".into())
            }
        );
        assert_eq!(cmd(&["-V"]), Command::Version);
        assert_eq!(cmd(&["-v"]), Command::Version);
        assert_eq!(cmd(&["--version"]), Command::Version);
        assert_eq!(cmd(&["-l"]), Command::License);
        assert_eq!(cmd(&["-z", "f"]), Command::Fuzz { file: "f".into() });
        assert_eq!(
            cmd(&["--fuzz-file", "f"]),
            Command::Fuzz { file: "f".into() }
        );
    }

    #[test]
    fn help_unknown_and_positional_exit_16() {
        assert_eq!(exit_code(&["-h"]), EXIT_USAGE);
        assert_eq!(exit_code(&["--help"]), EXIT_USAGE);
        assert_eq!(exit_code(&["--bogus"]), EXIT_USAGE);
        assert_eq!(exit_code(&["-c"]), EXIT_USAGE);
        assert_eq!(exit_code(&["flashmq.conf"]), EXIT_USAGE);
    }

    #[test]
    fn passwd_is_a_subcommand_only_in_first_position() {
        assert!(matches!(
            cmd(&["passwd", "-b", "f", "u", "p"]),
            Command::Passwd(_)
        ));
        assert_eq!(exit_code(&["-c", "x.conf", "passwd"]), EXIT_USAGE);
    }
}
