//! Aggregation of per-round results: medians per (workload, broker), the ratio to a baseline
//! broker measured in the same run, and how many rounds the generator rather than the broker
//! was the bottleneck. Pure functions over numbers: no I/O.

/// A generator at or above this share of its core may be what limits the round.
pub const GEN_SATURATED_CPU: f64 = 0.95;

/// Median of the values (mean of the two middle ones for an even count); `None` when empty
/// or when a value is not a number.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() {
        0 => None,
        n if n % 2 == 1 => v.get(mid).copied(),
        _ => Some((v.get(mid - 1)? + v.get(mid)?) / 2.0),
    }
}

/// `value / baseline`, when the baseline is a positive number.
pub fn ratio(value: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0 && baseline.is_finite() && value.is_finite()).then(|| value / baseline)
}

/// One round of one workload on one broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The headline figure (deliveries/s, p99 µs, connects/s, bytes, ms).
    pub value: f64,
    /// Broker CPU as a share of one core.
    pub broker_cpu: Option<f64>,
    /// Generator CPU as a share of one core.
    pub gen_cpu: Option<f64>,
    /// Broker RSS at the end of the round.
    pub broker_rss_bytes: Option<u64>,
    /// CPU used by everything else on the machine, in cores.
    pub others_cpu: Option<f64>,
}

/// Medians of a workload's rounds on one broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub rounds: usize,
    pub value: Option<f64>,
    pub broker_cpu: Option<f64>,
    pub gen_cpu: Option<f64>,
    pub broker_rss_bytes: Option<f64>,
    pub others_cpu: Option<f64>,
    /// Rounds where the generator's CPU reached [`GEN_SATURATED_CPU`].
    pub gen_bound_rounds: usize,
}

fn median_of(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    median(&v)
}

/// Summarize the rounds of one workload on one broker.
pub fn summarize(samples: &[Sample]) -> Summary {
    Summary {
        rounds: samples.len(),
        value: median_of(samples.iter().map(|s| Some(s.value))),
        broker_cpu: median_of(samples.iter().map(|s| s.broker_cpu)),
        gen_cpu: median_of(samples.iter().map(|s| s.gen_cpu)),
        broker_rss_bytes: median_of(samples.iter().map(|s| s.broker_rss_bytes.map(|b| b as f64))),
        others_cpu: median_of(samples.iter().map(|s| s.others_cpu)),
        gen_bound_rounds: samples
            .iter()
            .filter(|s| s.gen_cpu.is_some_and(|c| c >= GEN_SATURATED_CPU))
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(value: f64, gen_cpu: f64) -> Sample {
        Sample {
            value,
            broker_cpu: Some(1.0),
            gen_cpu: Some(gen_cpu),
            broker_rss_bytes: Some(1000),
            others_cpu: None,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn median_ignores_one_outlier_round() {
        assert_eq!(median(&[100.0, 101.0, 99.0, 5.0, 100.5]), Some(100.0));
    }

    #[test]
    fn ratio_needs_a_positive_baseline() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
        assert_eq!(ratio(f64::INFINITY, 2.0), None);
    }

    #[test]
    fn summary_counts_generator_bound_rounds() {
        let s = summarize(&[sample(10.0, 0.5), sample(30.0, 0.97), sample(20.0, 0.95)]);
        assert_eq!(s.rounds, 3);
        assert_eq!(s.value, Some(20.0));
        assert_eq!(s.gen_cpu, Some(0.95));
        assert_eq!(s.gen_bound_rounds, 2);
        assert_eq!(s.broker_rss_bytes, Some(1000.0));
    }
}
