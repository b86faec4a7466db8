//! Measured runs and their summaries: bounded sampling loops, rates, latency
//! percentiles, and medians across runs.

use std::time::{Duration, Instant};

/// Collects one run's latencies, and says when the run must stop: after
/// `max_ops` operations or `max_time`, whichever comes first.
pub struct Sampler {
    started: Instant,
    max_ops: usize,
    max_time: Duration,
    latencies: Vec<Duration>,
    items: usize,
}

impl Sampler {
    pub fn new(max_ops: usize, max_time: Duration) -> Sampler {
        Sampler {
            started: Instant::now(),
            max_ops,
            max_time,
            latencies: Vec::with_capacity(max_ops.min(1 << 20)),
            items: 0,
        }
    }

    /// True while the run may do one more operation.
    pub fn more(&self) -> bool {
        self.latencies.len() < self.max_ops && self.started.elapsed() < self.max_time
    }

    /// True while the run may start one more operation with `in_flight`
    /// others started and not yet recorded.
    pub fn more_beside(&self, in_flight: usize) -> bool {
        self.latencies.len() + in_flight < self.max_ops && self.started.elapsed() < self.max_time
    }

    /// Records one operation that handled `items` items (commits, messages).
    pub fn record(&mut self, latency: Duration, items: usize) {
        self.latencies.push(latency);
        self.items += items;
    }

    pub fn finish(self) -> Run {
        Run::new(self.items, self.started.elapsed(), self.latencies)
    }
}

/// One run: items handled, wall time, and each operation's latency.
#[derive(Debug, Clone)]
pub struct Run {
    pub items: usize,
    pub elapsed: Duration,
    /// Sorted ascending.
    latencies: Vec<Duration>,
}

impl Run {
    pub fn new(items: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Run {
        latencies.sort_unstable();
        Run {
            items,
            elapsed,
            latencies,
        }
    }

    /// Items per second of wall time.
    pub fn rate(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile of the operations' latencies (`q` in 0..=1).
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// The median run of several: each figure is the median of that figure.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub rate: f64,
    /// Lowest and highest rate of the runs: how noisy the machine was.
    pub rate_min: f64,
    pub rate_max: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Smallest number of items in one run (to show how many samples stand behind the figures).
    pub min_items: usize,
    pub min_ops: usize,
}

impl Summary {
    pub fn of(runs: &[Run]) -> Summary {
        Summary {
            rate: median(runs.iter().map(Run::rate).collect()),
            rate_min: runs.iter().map(Run::rate).fold(f64::INFINITY, f64::min),
            rate_max: runs.iter().map(Run::rate).fold(0.0, f64::max),
            p50: Duration::from_secs_f64(median(
                runs.iter()
                    .map(|r| r.percentile(0.50).as_secs_f64())
                    .collect(),
            )),
            p99: Duration::from_secs_f64(median(
                runs.iter()
                    .map(|r| r.percentile(0.99).as_secs_f64())
                    .collect(),
            )),
            min_items: runs.iter().map(|r| r.items).min().unwrap_or(0),
            min_ops: runs.iter().map(|r| r.latencies.len()).min().unwrap_or(0),
        }
    }
}

/// The median (the mean of the two middle values for an even count; 0 for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Milliseconds with enough digits for sub-millisecond figures.
pub fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1_000.0;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let ms = Duration::from_millis;
        let run = Run::new(
            100,
            Duration::from_secs(2),
            (1..=100).rev().map(ms).collect(),
        );
        assert_eq!(run.rate(), 50.0);
        assert_eq!(run.percentile(0.50), ms(50));
        assert_eq!(run.percentile(0.99), ms(99));
        assert_eq!(run.percentile(1.0), ms(100));
    }
}
