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

/// Which figure the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// The median of the headline figure (summary lines).
    Median,
    /// Per round, the headline figure divided by the broker's CPU share (deliveries or connects
    /// per second of broker CPU), then the median: less sensitive to other load on the machine.
    /// Throughput and storm rows only.
    PerBrokerCpu,
}

/// What a per-second metric counts, for the per-CPU table (throughput and connection storms).
fn per_cpu_unit(metric: &str) -> Option<&'static str> {
    match metric {
        "deliveries/s" => Some("deliveries"),
        "connects/s" => Some("connects"),
        _ => None,
    }
}

/// One cell's source: broker, row label, value, generator-bound.
type Cell = (String, String, f64, bool);

/// The cell a line contributes to the table of `figure`, if any.
fn cell_of(fields: &BTreeMap<String, String>, figure: Figure) -> Option<Cell> {
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
    let kind = fields.get("kind").map(String::as_str);
    let metric = fields.get("metric").map_or("", String::as_str);
    let label = fields.get("label")?;
    let (label, value, gen_bound) = match figure {
        Figure::Median if kind == Some("summary") => (
            format!("{label} ({metric})"),
            num("median")?,
            fields.get("gen_bound_rounds").is_some_and(|g| g != "0"),
        ),
        Figure::PerBrokerCpu if kind == Some("round") && per_cpu_unit(metric).is_some() => (
            format!("{label} ({} per broker CPU-second)", per_cpu_unit(metric)?),
            num("value")? / num("broker_cpu").filter(|c| *c > 0.0)?,
            num("gen_cpu").is_some_and(|c| c >= crate::stats::GEN_SATURATED_CPU),
        ),
        _ => return None,
    };
    Some((fields.get("broker")?.clone(), label, value, gen_bound))
}

/// Rows in first-seen order; per row, broker to (median of its values, any generator-bound).
type Rows = Vec<(String, BTreeMap<String, (f64, bool)>)>;

/// Per broker, every value of a row and whether any was generator-bound.
type Gathered = BTreeMap<String, (Vec<f64>, bool)>;

fn collect(text: &str, figure: Figure) -> (Vec<String>, Rows) {
    let mut brokers: Vec<String> = Vec::new();
    let mut rows: Vec<(String, Gathered)> = Vec::new();
    for (broker, label, v, g) in text
        .lines()
        .filter_map(parse_flat)
        .filter_map(|f| cell_of(&f, figure))
    {
        if !brokers.contains(&broker) {
            brokers.push(broker.clone());
        }
        let i = rows
            .iter()
            .position(|(l, _)| *l == label)
            .unwrap_or_else(|| {
                rows.push((label, BTreeMap::new()));
                rows.len() - 1
            });
        if let Some((_, cells)) = rows.get_mut(i) {
            let e = cells.entry(broker).or_default();
            e.0.push(v);
            e.1 |= g;
        }
    }
    let rows = rows
        .into_iter()
        .map(|(l, cells)| {
            let cells = cells
                .into_iter()
                .filter_map(|(b, (v, g))| Some((b, (crate::stats::median(&v)?, g))))
                .collect();
            (l, cells)
        })
        .collect();
    (brokers, rows)
}

/// The markdown table of `figure` from the lines in `text`, ratios relative to `baseline`.
/// A value marked `(g)` had a round where the generator used 95% of its core or more.
pub fn markdown(text: &str, baseline: &str, figure: Figure) -> String {
    let (brokers, rows) = collect(text, figure);
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
            let cell = cells.get(b).map_or_else(String::new, |(v, g)| {
                let mark = if *g { " (g)" } else { "" };
                format!("{}{mark}", crate::report::human(Some(*v)))
            });
            let _ = write!(out, " {cell} |");
        }
        let base = cells.get(baseline).map(|c| c.0);
        for b in &others {
            let r = cells
                .get(*b)
                .zip(base)
                .and_then(|((v, _), base)| crate::stats::ratio(*v, base));
            let r = r.map_or_else(String::new, |r| format!("{r:.2}"));
            let _ = write!(out, " {r} |");
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
        let t = markdown(text, "fm", Figure::Median);
        assert!(t.contains("| workload | fm | bk | bk / fm |"), "{t}");
        assert!(
            t.contains("| fan-in (d/s) | 200.0 | 300.0 (g) | 1.50 |"),
            "{t}"
        );
    }

    #[test]
    fn per_cpu_figures_divide_each_round_by_its_broker_cpu() {
        let text = concat!(
            r#"{"kind":"round","broker":"bk","label":"x","metric":"deliveries/s","value":100.0,"broker_cpu":0.5,"gen_cpu":0.1}"#,
            "\n",
            r#"{"kind":"round","broker":"bk","label":"x","metric":"deliveries/s","value":90.0,"broker_cpu":0.9,"gen_cpu":0.1}"#,
            "\n",
            r#"{"kind":"round","broker":"bk","label":"x","metric":"deliveries/s","value":300.0,"broker_cpu":1.0,"gen_cpu":0.1}"#,
        );
        let t = markdown(text, "bk", Figure::PerBrokerCpu);
        assert!(t.contains("| 200.0 |"), "{t}");
    }

    #[test]
    fn per_cpu_figures_cover_storms_but_not_latency() {
        let text = concat!(
            r#"{"kind":"round","broker":"bk","label":"storm tls","metric":"connects/s","value":500.0,"broker_cpu":0.25,"gen_cpu":0.1}"#,
            "\n",
            r#"{"kind":"round","broker":"bk","label":"lat","metric":"p99 µs","value":900.0,"broker_cpu":0.5,"gen_cpu":0.1}"#,
        );
        let t = markdown(text, "bk", Figure::PerBrokerCpu);
        assert!(
            t.contains("| storm tls (connects per broker CPU-second) | 2000.0 |"),
            "{t}"
        );
        assert!(!t.contains("lat"), "{t}");
    }
}
