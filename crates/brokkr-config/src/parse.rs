//! The parse driver: lines to a [`Config`], block by block, through the option table.
//!
//! It owns scoping (root, `listen`, `bridge`), key lookup with "did you mean", value counts,
//! value checks, the checks of a block as a whole when it closes, and `include_dir`, whose
//! files it gets from an [`IncludeResolver`] so this module itself never touches the file
//! system. Include nesting and the number and size of included files are bounded. Each file
//! must close the blocks it opens.

use crate::config::{BridgeConfig, Config, ListenerConfig, UsedDirective};
use crate::error::{ConfigError, ErrorKind};
use crate::include::IncludeResolver;
use crate::lexer::{Line, Token, lex_line};
use crate::options::{self, OptionDesc, PLUGIN_OPT, PLUGIN_OPT_PREFIX, Scope, Setter};

const BLOCKS: [&str; 2] = ["listen", "bridge"];

/// A block being filled, with the line that opened it.
enum Open {
    Listen(ListenerConfig, usize),
    Bridge(BridgeConfig, usize),
}

pub(crate) struct Parser<'r> {
    includes: &'r dyn IncludeResolver,
    config: Config,
    included_files: usize,
    included_bytes: usize,
}

impl<'r> Parser<'r> {
    pub(crate) fn new(includes: &'r dyn IncludeResolver) -> Self {
        Parser {
            includes,
            config: Config::default(),
            included_files: 0,
            included_bytes: 0,
        }
    }

    /// The config, with FlashMQ's default listener if the files had none.
    pub(crate) fn finish(mut self) -> Config {
        if self.config.listeners.is_empty() {
            self.config.listeners.push(ListenerConfig::default());
        }
        self.config
    }

    pub(crate) fn parse_text(
        &mut self,
        text: &str,
        origin: &str,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if text.len() > crate::FILE_BYTES_MAX {
            let bytes = u64::try_from(text.len()).unwrap_or(u64::MAX);
            return Err(ConfigError::at(
                origin,
                0,
                0,
                ErrorKind::FileTooLarge { bytes },
            ));
        }
        let mut block: Option<Open> = None;
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let at = |col, kind| ConfigError::at(origin, line, col, kind);
            let lexed = lex_line(raw).map_err(|(col, kind)| at(col, kind))?;
            match lexed {
                None => {}
                Some(Line::BlockStart { name }) => {
                    if block.is_some() {
                        return Err(at(name.col, ErrorKind::NestedBlock));
                    }
                    block = Some(match name.text.as_str() {
                        "listen" => Open::Listen(ListenerConfig::default(), line),
                        "bridge" => Open::Bridge(BridgeConfig::default(), line),
                        other => {
                            let suggestion = options::suggest(other, BLOCKS.into_iter());
                            return Err(at(
                                name.col,
                                ErrorKind::UnknownBlock {
                                    name: other.to_owned(),
                                    suggestion,
                                },
                            ));
                        }
                    });
                    let option = if name.text == "listen" {
                        "listen"
                    } else {
                        "bridge"
                    };
                    self.record(&name, (option, Scope::Global), true, "", origin, line);
                }
                Some(Line::BlockEnd { col }) => match block.take() {
                    Some(open) => self
                        .close(open)
                        .map_err(|m| at(col, ErrorKind::Invalid { message: m }))?,
                    None => return Err(at(col, ErrorKind::UnexpectedBlockEnd)),
                },
                Some(Line::Directive { key, values }) => {
                    self.directive(&mut block, &key, &values, origin, line, depth)?;
                }
            }
        }
        match block {
            None => Ok(()),
            Some(Open::Listen(_, opened_line)) | Some(Open::Bridge(_, opened_line)) => {
                let name = if matches!(block, Some(Open::Listen(..))) {
                    "listen"
                } else {
                    "bridge"
                };
                let kind = ErrorKind::UnclosedBlock { name, opened_line };
                Err(ConfigError::at(origin, opened_line, 0, kind))
            }
        }
    }

    fn record(
        &mut self,
        key: &Token,
        option: (&'static str, Scope),
        is_block: bool,
        first: &str,
        origin: &str,
        line: usize,
    ) {
        self.config.directives.push(UsedDirective {
            key: key.text.clone(),
            option: option.0,
            is_block,
            scope: option.1,
            first_value: first.to_owned(),
            origin: origin.to_owned(),
            line,
            col: key.col,
        });
    }

    fn directive(
        &mut self,
        block: &mut Option<Open>,
        key: &Token,
        values: &[Token],
        origin: &str,
        line: usize,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let at = |col, kind| ConfigError::at(origin, line, col, kind);
        let scope = match block {
            None => Scope::Global,
            Some(Open::Listen(..)) => Scope::Listen,
            Some(Open::Bridge(..)) => Scope::Bridge,
        };
        let desc = lookup(scope, &key.text).map_err(|kind| at(key.col, kind))?;
        let (first, rest) = check_count(desc, key, values).map_err(|(col, kind)| at(col, kind))?;
        let value = desc
            .kind
            .check(first, rest)
            .map_err(|bad| at(bad.col, bad_value(desc, &key.text, bad, None)))?;
        let shown = if is_secret(desc) {
            "***"
        } else {
            first.text.as_str()
        };
        self.record(key, (desc.name, scope), false, shown, origin, line);
        if desc.name == "include_dir" && scope == Scope::Global {
            return self.include(&first.text, origin, line, key.col, depth);
        }
        if desc.name == PLUGIN_OPT {
            let name = key.text.get(PLUGIN_OPT_PREFIX.len()..).unwrap_or_default();
            self.config
                .plugin_opts
                .insert(name.to_owned(), first.text.clone());
            return Ok(());
        }
        let result = match (desc.set, block) {
            (Setter::Global(set), None) => set(&mut self.config, value),
            (Setter::Listen(set), Some(Open::Listen(l, _))) => set(l, value),
            (Setter::Bridge(set), Some(Open::Bridge(b, _))) => set(b, value),
            _ => Err("a directive of this scope (option table bug)".to_owned()),
        };
        result.map_err(|expected| at(first.col, bad_value(desc, &key.text, first, Some(expected))))
    }

    fn include(
        &mut self,
        dir: &str,
        origin: &str,
        line: usize,
        col: usize,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let fail = |message: String| {
            ConfigError::at(
                origin,
                line,
                col,
                ErrorKind::Include {
                    dir: dir.to_owned(),
                    message,
                },
            )
        };
        if depth >= crate::INCLUDE_DEPTH_MAX {
            return Err(fail(format!(
                "includes nest more than {} levels deep (does a directory include itself?)",
                crate::INCLUDE_DEPTH_MAX
            )));
        }
        let files = self.includes.list(dir).map_err(fail)?;
        for file in files {
            self.included_files += 1;
            if self.included_files > crate::INCLUDED_FILES_MAX {
                return Err(fail(format!(
                    "more than {} files included",
                    crate::INCLUDED_FILES_MAX
                )));
            }
            let text = self
                .includes
                .read(&file)
                .map_err(|kind| ConfigError::at(&file, 0, 0, kind))?;
            self.included_bytes = self.included_bytes.saturating_add(text.len());
            if self.included_bytes > crate::INCLUDED_BYTES_MAX {
                return Err(fail(format!(
                    "more than {} bytes included",
                    crate::INCLUDED_BYTES_MAX
                )));
            }
            self.parse_text(&text, &file, depth + 1)?;
        }
        Ok(())
    }

    /// Check a block as a whole and add it to the config.
    fn close(&mut self, open: Open) -> Result<(), String> {
        match open {
            Open::Listen(l, _) => {
                check_listener(&l)?;
                self.config.listeners.push(l);
            }
            Open::Bridge(b, _) => {
                if b.address.is_empty() {
                    return Err("a bridge needs an `address`".to_owned());
                }
                if self
                    .config
                    .bridges
                    .iter()
                    .any(|o| o.clientid_prefix == b.clientid_prefix)
                {
                    return Err(format!(
                        "two bridges have clientid_prefix `{}`; it names the bridge, so each \
                         bridge needs its own",
                        b.clientid_prefix
                    ));
                }
                self.config.bridges.push(b);
            }
        }
        Ok(())
    }
}

fn check_listener(l: &ListenerConfig) -> Result<(), String> {
    use crate::types::InetProtocol::Unix;
    if l.fullchain.is_some() != l.privkey.is_some() {
        return Err("a TLS listener needs both `fullchain` and `privkey`".to_owned());
    }
    if (l.inet_protocol == Unix) != l.unix_socket_path.is_some() {
        return Err("`inet_protocol unix` and `unix_socket_path` go together".to_owned());
    }
    let verify = l.client_verification_ca_file.is_some() || l.client_verification_ca_dir.is_some();
    if verify && !l.is_tls() {
        return Err(
            "client verification needs a TLS listener (`fullchain` and `privkey`)".to_owned(),
        );
    }
    Ok(())
}

/// The table entry for `key` here, or why there is none.
fn lookup(scope: Scope, key: &str) -> Result<&'static OptionDesc, ErrorKind> {
    if let Some(desc) = options::find(scope, key) {
        return Ok(desc);
    }
    if BLOCKS.contains(&key) {
        let reason = "`listen` and `bridge` open a block: write `listen {` on its own line";
        return Err(ErrorKind::InvalidLine { reason });
    }
    let valid_in = options::other_scopes(scope, key);
    if !valid_in.is_empty() {
        return Err(ErrorKind::WrongScope {
            key: key.to_owned(),
            here: scope,
            valid_in,
        });
    }
    let suggestion = options::suggest(key, options::in_scope(scope).map(|o| o.name));
    Err(ErrorKind::UnknownKey {
        key: key.to_owned(),
        suggestion,
    })
}

/// The values, split into first and rest, if their number fits the directive.
fn check_count<'t>(
    desc: &OptionDesc,
    key: &Token,
    values: &'t [Token],
) -> Result<(&'t Token, &'t [Token]), (usize, ErrorKind)> {
    let (min, max) = desc.kind.arity();
    let found = values.len();
    if (min..=max).contains(&found)
        && let Some((first, rest)) = values.split_first()
    {
        return Ok((first, rest));
    }
    let surplus = values.get(max);
    let comment = surplus.is_some_and(|t| !t.quoted && t.text.starts_with('#'));
    let col = surplus.map_or(key.col, |t| t.col);
    Err((
        col,
        ErrorKind::WrongValueCount {
            key: key.text.clone(),
            min,
            max,
            found,
            comment,
        },
    ))
}

/// Directives whose values must not appear in errors, provenance or logs.
fn is_secret(desc: &OptionDesc) -> bool {
    desc.name == "remote_password"
}

fn bad_value(desc: &OptionDesc, key: &str, bad: &Token, expected: Option<String>) -> ErrorKind {
    let secret = is_secret(desc);
    ErrorKind::BadValue {
        key: key.to_owned(),
        value: if secret {
            "***".to_owned()
        } else {
            bad.text.clone()
        },
        expected: expected.unwrap_or_else(|| desc.kind.expected()),
    }
}
