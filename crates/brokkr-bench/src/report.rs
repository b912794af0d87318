//! Output: one JSON object per line per result (per round, and per summary), so the tables in
//! docs/benchmarks.md can be produced from a run's log, and a human table of medians with the
//! ratio to the baseline broker. JSON is written by hand: the fields are numbers and our own
//! names, escaped all the same.

use crate::stats::Summary;
use crate::workload::{Outcome, Workload};
use std::fmt::Write as _;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".to_owned()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "null".to_owned(), num)
}

/// The workload's fields, as the start of a JSON object.
fn workload_fields(w: &Workload) -> String {
    format!(
        "\"scenario\":\"{}\",\"label\":\"{}\",\"qos\":{},\"mqtt\":\"{}\",\"payload_bytes\":{},\
         \"clients\":{},\"count\":{},\"transport\":\"{}\",\"metric\":\"{}\"",
        w.scenario.name(),
        escape(&w.label()),
        w.qos.as_u8(),
        if w.version.is_v5() { "5" } else { "3.1.1" },
        w.payload_bytes,
        w.clients,
        w.count,
        w.transport.name(),
        escape(w.scenario.metric().0),
    )
}

/// One round's result.
pub fn round_line(
    round: usize,
    broker: &str,
    w: &Workload,
    o: &Outcome,
    rss: Option<u64>,
) -> String {
    let mut s = format!(
        "{{\"kind\":\"round\",\"round\":{round},\"broker\":\"{}\",{},\"value\":{},\
         \"broker_cpu\":{},\"gen_cpu\":{},\"others_cpu\":{},\"broker_rss_bytes\":{}",
        escape(broker),
        workload_fields(w),
        num(o.value),
        opt(o.usage.broker_cpu),
        opt(o.usage.gen_cpu),
        opt(o.usage.others_cpu),
        rss.map_or_else(|| "null".to_owned(), |r| r.to_string()),
    );
    for (k, v) in &o.extra {
        let _ = write!(s, ",\"{}\":{}", escape(k), num(*v));
    }
    s.push('}');
    s
}

/// One summary (medians over rounds) with its ratio to the baseline.
pub fn summary_line(broker: &str, w: &Workload, s: &Summary, ratio: Option<f64>) -> String {
    format!(
        "{{\"kind\":\"summary\",\"broker\":\"{}\",{},\"rounds\":{},\"median\":{},\
         \"ratio_to_baseline\":{},\"broker_cpu\":{},\"gen_cpu\":{},\"others_cpu\":{},\
         \"broker_rss_bytes\":{},\"gen_bound_rounds\":{}}}",
        escape(broker),
        workload_fields(w),
        s.rounds,
        opt(s.value),
        opt(ratio),
        opt(s.broker_cpu),
        opt(s.gen_cpu),
        opt(s.others_cpu),
        opt(s.broker_rss_bytes),
        s.gen_bound_rounds,
    )
}

/// A figure in a table cell: k/M suffixes for large numbers.
pub fn human(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if !v.is_finite() => "-".to_owned(),
        Some(v) if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.1}k", v / 1e3),
        Some(v) => format!("{v:.1}"),
    }
}

/// A table row of one broker's summary.
pub fn table_row(broker: &str, s: &Summary, ratio: Option<f64>) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |c| format!("{:.0}%", c * 100.0));
    format!(
        "| {broker} | {} | {} | {} | {} | {} | {} | {}/{} |",
        human(s.value),
        ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x")),
        pct(s.broker_cpu),
        pct(s.gen_cpu),
        pct(s.others_cpu),
        human(s.broker_rss_bytes.map(|b| b / 1024.0)),
        s.gen_bound_rounds,
        s.rounds,
    )
}

/// The header of a workload's table.
pub fn table_header(w: &Workload, baseline: &str) -> String {
    format!(
        "\n{} ({})\n| broker | median | vs {baseline} | broker CPU | gen CPU | others CPU | \
         broker RSS KiB | gen-bound rounds |\n|---|---|---|---|---|---|---|---|",
        w.label(),
        w.scenario.metric().0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Scenario;
    use brokkr_codec::QoS;

    #[test]
    fn round_lines_are_one_json_object() {
        let w = Workload::standard(Scenario::FanOut, QoS::AtLeastOnce, true);
        let o = Outcome {
            value: 1234.5,
            extra: vec![("lost", 0.0), ("odd", f64::NAN)],
            ..Outcome::default()
        };
        let line = round_line(2, "br\"k", &w, &o, Some(4096));
        assert!(line.starts_with('{') && line.ends_with('}'));
        assert!(line.contains("\"broker\":\"br\\\"k\""));
        assert!(line.contains("\"value\":1234.500"));
        assert!(line.contains("\"odd\":null"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn human_figures() {
        assert_eq!(human(Some(2_560_000.0)), "2.56M");
        assert_eq!(human(Some(29_000.0)), "29.0k");
        assert_eq!(human(Some(616.0)), "616.0");
        assert_eq!(human(None), "-");
    }
}
