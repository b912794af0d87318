//! brokkr: a multi-core MQTT broker. See README.md.

#![forbid(unsafe_code)]

use brokkr::cli::{self, Command, EXIT_CONFIG, EXIT_STARTUP, Parsed};
use std::io::{IsTerminal as _, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os()) {
        Parsed::Command(command) => command,
        Parsed::Exit {
            text,
            code,
            to_stderr,
        } => {
            if to_stderr {
                print_err(&text);
            } else {
                print_out(&text);
            }
            return exit(code);
        }
    };
    exit(run(command))
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run(command: Command) -> i32 {
    match command {
        Command::Version | Command::License => {
            print_out(&brokkr::version_text());
            0
        }
        Command::Passwd(args) => {
            let is_tty = std::io::stdin().is_terminal();
            let term = brokkr::passwd::Terminal {
                input: &mut std::io::stdin().lock(),
                out: &mut std::io::stdout(),
                err: &mut std::io::stderr(),
                is_tty,
            };
            brokkr::passwd::run(&args, term)
        }
        Command::Fuzz { file } => match brokkr::fuzz::run_file(&file) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("brokkr: cannot read fuzz file '{}': {e}", file.display());
                EXIT_STARTUP
            }
        },
        Command::TestConfig { config_file } => match config_file {
            None => {
                print_out("No config file given: brokkr would run on its embedded defaults. OK");
                0
            }
            Some(path) => match brokkr::serve::load(&path) {
                Ok((config, _)) => {
                    // Accepted, but worth knowing: directives without effect in brokkr.
                    config.no_effect_notes().iter().for_each(|n| print_err(n));
                    print_out(&format!("Config '{}' OK", path.display()));
                    0
                }
                Err(refused) => {
                    refused.0.iter().for_each(|line| print_err(line));
                    1
                }
            },
        },
        Command::Run {
            config_file: Some(path),
        } => match brokkr::serve::load(&path) {
            Ok((config, server)) => match brokkr::serve::run_with(&config, server, &path) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("brokkr: {e}");
                    EXIT_STARTUP
                }
            },
            Err(refused) => {
                refused.0.iter().for_each(|line| print_err(line));
                EXIT_CONFIG
            }
        },
        Command::Run { config_file: None } => match brokkr::serve::run_default() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("brokkr: {e}");
                EXIT_STARTUP
            }
        },
    }
}

/// Print to stdout; a closed pipe (`brokkr -h | head`) is not an error worth a panic.
fn print_out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn print_err(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
