//! Medians and percentiles of durations, one definition for every indicator.
//!
//! - the **median** of `n` values sorted ascending is the middle value when
//!   `n` is odd, the mean of the two middle values when `n` is even;
//! - the **p-th percentile** (`p` in 1..=100) is the nearest-rank value: the
//!   value at rank `ceil(p / 100 * n)` (1-based) of the sorted values, so it
//!   is always an observed value (the 90th of 10 values is the 9th).
//!
//! Both are `None` for no values.

/// The median of `values` (any order).
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted(values);
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)
    }
}

/// The nearest-rank `p`-th percentile of `values` (any order); `p` is clamped to 1..=100.
pub fn percentile(values: &[f64], p: u32) -> Option<f64> {
    let sorted = sorted(values);
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = u64::from(p.clamp(1, 100));
    let n64 = n as u64;
    // ceil(p * n / 100) without floating point.
    let rank = (p * n64).div_ceil(100).max(1);
    let index = usize::try_from(rank - 1).unwrap_or(n - 1).min(n - 1);
    Some(sorted[index])
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_two_middle_values() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn the_90th_percentile_is_the_nearest_rank_value() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 90), Some(9.0));
        let eleven: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(percentile(&eleven, 90), Some(10.0), "ceil(9.9) = 10");
        assert_eq!(percentile(&[7.0], 90), Some(7.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 100), Some(3.0));
        assert_eq!(percentile(&[], 90), None);
    }
}
