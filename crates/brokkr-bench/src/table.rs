//! Markdown tables from a run's JSON lines (`compare --json FILE`): one row per workload, one
//! column per broker (the median), then the ratio of every broker to the baseline and a mark
//! on medians where some round was generator-bound. Reads only the flat objects this tool
//! writes (string, number and null values); any other line is skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One flat JSON object's fields: strings unquoted, numbers as text, null as "null".
pub fn parse_flat(line: &str) -> Option<BTreeMap<String, String>> {
    let body = line.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut fields = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = string(rest.trim_start())?;
        let after = after.trim_start().strip_prefix(':')?.trim_start();
        let (value, after) = if after.starts_with('"') {
            string(after)?
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after.get(..end)?.trim().to_owned(), after.get(end..)?)
        };
        fields.insert(key, value);
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Some(fields)
}

/// A quoted string at the start of `s` and what follows it.
fn string(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, s.get(i + 2..)?)),
            '\\' => match chars.next()?.1 {
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                e => out.push(e),
            },
            c => out.push(c),
        }
    }
    None
}

/// A row's cells: broker to (median, some round generator-bound).
type Cells = BTreeMap<String, (f64, bool)>;

/// The markdown table of the summary lines in `text`, ratios relative to `baseline`.
pub fn markdown(text: &str, baseline: &str) -> String {
    let mut brokers: Vec<String> = Vec::new();
    let mut rows: Vec<(String, Cells)> = Vec::new();
    for fields in text.lines().filter_map(parse_flat) {
        if fields.get("kind").map(String::as_str) != Some("summary") {
            continue;
        }
        let (Some(broker), Some(label)) = (fields.get("broker"), fields.get("label")) else {
            continue;
        };
        let label = format!(
            "{} ({})",
            label,
            fields.get("metric").map_or("", String::as_str)
        );
        let median = fields.get("median").and_then(|m| m.parse::<f64>().ok());
        let gen_bound = fields.get("gen_bound_rounds").is_some_and(|g| g != "0");
        if !brokers.contains(broker) {
            brokers.push(broker.clone());
        }
        let row = match rows.iter().position(|(l, _)| *l == label) {
            Some(i) => rows.get_mut(i),
            None => {
                rows.push((label, BTreeMap::new()));
                rows.last_mut()
            }
        };
        if let (Some((_, cells)), Some(m)) = (row, median) {
            cells.insert(broker.clone(), (m, gen_bound));
        }
    }
    let others: Vec<&String> = brokers.iter().filter(|b| *b != baseline).collect();
    let mut out = String::from("| workload |");
    for b in &brokers {
        let _ = write!(out, " {b} |");
    }
    for b in &others {
        let _ = write!(out, " {b} / {baseline} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(brokers.len() + others.len()));
    for (label, cells) in &rows {
        let _ = write!(out, "\n| {label} |");
        for b in &brokers {
            let cell = cells.get(b).map_or_else(
                || "".to_owned(),
                |(v, g)| {
                    format!(
                        "{}{}",
                        crate::report::human(Some(*v)),
                        if *g { " (g)" } else { "" }
                    )
                },
            );
            let _ = write!(out, " {cell} |");
        }
        let base = cells.get(baseline).map(|c| c.0);
        for b in &others {
            let r = cells
                .get(*b)
                .zip(base)
                .and_then(|((v, _), base)| crate::stats::ratio(*v, base));
            let _ = write!(
                out,
                " {} |",
                r.map_or_else(String::new, |r| format!("{r:.2}"))
            );
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lines_this_tool_writes() {
        let f =
            parse_flat(r#"{"kind":"summary","broker":"a\"b","median":12.5,"ratio":null}"#).unwrap();
        assert_eq!(f["broker"], "a\"b");
        assert_eq!(f["median"], "12.5");
        assert_eq!(f["ratio"], "null");
        assert!(parse_flat("not json").is_none());
    }

    #[test]
    fn pivots_summaries_into_a_table() {
        let text = concat!(
            r#"{"kind":"summary","broker":"fm","label":"fan-in","metric":"d/s","median":200.0,"gen_bound_rounds":0}"#,
            "\n",
            r#"{"kind":"summary","broker":"bk","label":"fan-in","metric":"d/s","median":300.0,"gen_bound_rounds":2}"#,
            "\n",
            r#"{"kind":"round","broker":"bk","label":"fan-in","median":1.0}"#,
        );
        let t = markdown(text, "fm");
        assert!(t.contains("| workload | fm | bk | bk / fm |"), "{t}");
        assert!(
            t.contains("| fan-in (d/s) | 200.0 | 300.0 (g) | 1.50 |"),
            "{t}"
        );
    }
}
