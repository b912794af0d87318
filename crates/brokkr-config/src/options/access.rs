//! Small helpers the option table's setters and getters are written with.
//!
//! Setters receive a [`Value`] already checked against the descriptor's kind; the accessors
//! here turn it into the field's type. A mismatch between a kind and its setter is a table bug,
//! reported as an error (the table tests run every setter, so it cannot ship). Getters return
//! lines of values; `one`, `opt` and `each` build them.

use crate::types::{BridgeTopic, Cidr, ConnectionCount, PersistenceData};
use crate::value::Value;
use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr};

fn mismatch<T>(v: &Value) -> Result<T, String> {
    Err(format!(
        "a value of another kind (option table bug: got {v:?})"
    ))
}

impl Value {
    pub(crate) fn flag(self) -> Result<bool, String> {
        match self {
            Value::Bool(b) => Ok(b),
            v => mismatch(&v),
        }
    }

    pub(crate) fn num<T: TryFrom<u64>>(self) -> Result<T, String> {
        match self {
            Value::Int(n) => T::try_from(n).map_err(|_| format!("a smaller number than {n}")),
            v => mismatch(&v),
        }
    }

    pub(crate) fn text(self) -> Result<String, String> {
        match self {
            Value::Text(s) => Ok(s),
            v => mismatch(&v),
        }
    }

    pub(crate) fn keyword<T>(self, from_name: fn(&str) -> Option<T>) -> Result<T, String> {
        match self {
            Value::Keyword(w) => from_name(w).map_or_else(|| mismatch(&Value::Keyword(w)), Ok),
            v => mismatch(&v),
        }
    }

    pub(crate) fn cidr(self) -> Result<Cidr, String> {
        match self {
            Value::Cidr(c) => Ok(c),
            v => mismatch(&v),
        }
    }

    pub(crate) fn ipv4(self) -> Result<Ipv4Addr, String> {
        match self {
            Value::Ipv4(a) => Ok(a),
            v => mismatch(&v),
        }
    }

    pub(crate) fn ipv6(self) -> Result<Ipv6Addr, String> {
        match self {
            Value::Ipv6(a) => Ok(a),
            v => mismatch(&v),
        }
    }

    pub(crate) fn topic(self) -> Result<BridgeTopic, String> {
        match self {
            Value::Topic(t) => Ok(t),
            v => mismatch(&v),
        }
    }

    pub(crate) fn persistence(self) -> Result<PersistenceData, String> {
        match self {
            Value::Persistence(p) => Ok(p),
            v => mismatch(&v),
        }
    }

    pub(crate) fn count(self) -> Result<ConnectionCount, String> {
        match self {
            Value::Count(c) => Ok(c),
            v => mismatch(&v),
        }
    }
}

/// One line with one value.
pub(crate) fn one(v: impl Display) -> Vec<Vec<String>> {
    vec![vec![v.to_string()]]
}

/// One line if set, none if not.
pub(crate) fn opt<T: Display>(v: &Option<T>) -> Vec<Vec<String>> {
    v.iter().map(|v| vec![v.to_string()]).collect()
}

/// One line per element.
pub(crate) fn each<T: Display>(v: &[T]) -> Vec<Vec<String>> {
    v.iter().map(|v| vec![v.to_string()]).collect()
}

/// Bridge topics: a line of filter and QoS per element.
pub(crate) fn topics(v: &[BridgeTopic]) -> Vec<Vec<String>> {
    v.iter()
        .map(|t| vec![t.filter.clone(), t.qos.to_string()])
        .collect()
}

/// Nothing to render (deprecated directives that store nothing).
pub(crate) fn nothing() -> Vec<Vec<String>> {
    Vec::new()
}

/// Octal permission bits.
pub(crate) fn octal(v: Option<u32>) -> Vec<Vec<String>> {
    v.iter().map(|m| vec![format!("{m:o}")]).collect()
}
