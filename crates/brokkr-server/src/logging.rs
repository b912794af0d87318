//! The broker's log, in FlashMQ's line format: `[YYYY-MM-DD HH:MM:SS.mmm] [LEVEL] [T n|main]
//! message`, to stdout or to `log_file`, filtered by `log_level` (debug, info, notice, warning,
//! error, none). SIGUSR1 reopens the file (logrotate).
//!
//! It is a backend for the `log` facade, so dependencies that log (rustls, later) land in the
//! same file. Times are UTC (FlashMQ writes local time; a broker's log compared across hosts
//! reads better in one zone, and local time needs the C library's time zone state, which
//! cannot be read safely once threads run). Nothing logs passwords or payloads: callers pass
//! client ids, addresses and reason codes only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

/// FlashMQ's log levels; `Notice` sits between info and warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Connections and disconnections, start-up.
    Info,
    /// Notable events.
    Notice,
    /// Something is wrong but the broker copes.
    Warning,
    /// Something failed.
    Error,
    /// Nothing at all.
    None,
}

impl LogLevel {
    /// The name in a log line.
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Notice => "NOTICE",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::None => "NONE",
        }
    }

    /// The config value's level (`log_level`), if it is one.
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "notice" => LogLevel::Notice,
            "warning" => LogLevel::Warning,
            "error" => LogLevel::Error,
            "none" => LogLevel::None,
            _ => return None,
        })
    }
}

/// Where and what to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `log_file`; stdout when absent.
    pub file: Option<PathBuf>,
    /// `log_level`.
    pub level: LogLevel,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            file: None,
            level: LogLevel::Info,
        }
    }
}

struct Sink {
    settings: LogSettings,
    file: Option<File>,
}

struct Logger {
    sink: Mutex<Sink>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

thread_local! {
    /// This thread's tag in log lines: `main` or `T n` for worker n.
    static TAG: std::cell::RefCell<String> = std::cell::RefCell::new("main".to_string());
}

/// Name this thread in log lines (`T n` for worker `n`).
pub fn set_thread_tag(worker: usize) {
    TAG.with(|t| *t.borrow_mut() = format!("T {worker}"));
}

/// Start logging with `settings` (or apply new settings: reload). The file is opened for
/// appending; if it cannot be, the error is returned and the previous settings stay.
pub fn configure(settings: LogSettings) -> std::io::Result<()> {
    let file = match &settings.file {
        Some(path) => Some(open(path)?),
        None => None,
    };
    let logger = LOGGER.get_or_init(|| Logger {
        sink: Mutex::new(Sink {
            settings: LogSettings::default(),
            file: None,
        }),
    });
    let level = settings.level;
    {
        let mut sink = logger.sink.lock().unwrap_or_else(PoisonError::into_inner);
        *sink = Sink { settings, file };
    }
    // `set_logger` succeeds once per process; later calls only change the filter.
    let _ = log::set_logger(logger);
    log::set_max_level(filter(level));
    Ok(())
}

/// Reopen the log file (SIGUSR1, after logrotate moved it).
pub fn reopen() -> std::io::Result<()> {
    let Some(logger) = LOGGER.get() else {
        return Ok(());
    };
    let mut sink = logger.sink.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = sink.settings.file.clone() {
        sink.file = Some(open(&path)?);
    }
    Ok(())
}

fn open(path: &std::path::Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn filter(level: LogLevel) -> log::LevelFilter {
    match level {
        LogLevel::Debug => log::LevelFilter::Trace,
        LogLevel::Info | LogLevel::Notice => log::LevelFilter::Info,
        LogLevel::Warning => log::LevelFilter::Warn,
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::None => log::LevelFilter::Off,
    }
}

/// The FlashMQ level of a `log` record: `notice` is an info record with target "notice".
fn level_of(record: &log::Record<'_>) -> LogLevel {
    match record.level() {
        log::Level::Error => LogLevel::Error,
        log::Level::Warn => LogLevel::Warning,
        log::Level::Info if record.target() == NOTICE => LogLevel::Notice,
        log::Level::Info => LogLevel::Info,
        log::Level::Debug | log::Level::Trace => LogLevel::Debug,
    }
}

/// The `log` target that marks a record as FlashMQ's NOTICE level: `log::info!(target:
/// NOTICE, ...)`.
pub const NOTICE: &str = "notice";

/// One log line, without the newline.
pub fn format_line(unix_ms: u64, level: LogLevel, tag: &str, message: &str) -> String {
    format!(
        "[{}] [{}] [{tag}] {message}",
        timestamp(unix_ms),
        level.label()
    )
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
fn timestamp(unix_ms: u64) -> String {
    let secs = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX);
    let millis = unix_ms % 1000;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{millis:03}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{unix_ms}"),
    }
}

/// Debug and trace records of other crates (rustls logs every handshake message at debug):
/// `log_level debug` is about the broker, not its libraries; their warnings and errors stay.
/// rustls' warnings are about one client's handshake (an IP address sent as SNI by every
/// mosquitto client, say): the broker logs the failures that matter itself.
fn foreign_chatter(metadata: &log::Metadata<'_>) -> bool {
    let target = metadata.target();
    if target.starts_with("brokkr") {
        return false;
    }
    let floor = if target.starts_with("rustls") {
        log::Level::Error
    } else {
        log::Level::Info
    };
    metadata.level() > floor
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level() && !foreign_chatter(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if foreign_chatter(record.metadata()) {
            return;
        }
        let level = level_of(record);
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if level < sink.settings.level {
            return; // e.g. info records when the level is notice
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let line = TAG.with(|t| format_line(now, level, &t.borrow(), &record.args().to_string()));
        let written = match sink.file.as_mut() {
            Some(f) => writeln!(f, "{line}"),
            None => writeln!(std::io::stdout(), "{line}"),
        };
        // A full disk must not take the broker down; the line is lost.
        let _ = written;
    }

    fn flush(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = sink.file.as_mut() {
            let _ = f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_flashmq_layout() {
        // 2026-11-25 16:21:23.045 UTC
        let line = format_line(1_795_623_683_045, LogLevel::Notice, "T 3", "hello");
        assert_eq!(line, "[2026-11-25 16:21:23.045] [NOTICE] [T 3] hello");
    }

    #[test]
    fn levels_parse_as_flashmq_writes_them() {
        assert_eq!(LogLevel::parse("Warning"), Some(LogLevel::Warning));
        assert_eq!(LogLevel::parse("notice"), Some(LogLevel::Notice));
        assert_eq!(LogLevel::parse("loud"), None);
        assert!(LogLevel::Notice > LogLevel::Info && LogLevel::Notice < LogLevel::Warning);
    }
}
