//! A fixed-size log-linear latency histogram.
//!
//! Values are nanoseconds. Below 2^7 ns every value has its own bucket; above, every power
//! of two is split into 2^7 = 128 equal buckets, so a bucket is at most 1/128 (0.8%) of
//! its value wide — HdrHistogram's layout with two significant decimal digits. Values up
//! to 2^36 ns (about 68 s) are resolved; larger ones land in the last bucket, and the
//! exact maximum is kept apart. The 3,840 counters are allocated once, by
//! [`Histogram::new`]; [`Histogram::record`] never allocates.

use core::time::Duration;

/// Sub-buckets per power of two, as a power of two.
const SUB_BUCKET_BITS: u32 = 7;
/// Sub-buckets per power of two.
const SUB_BUCKET_COUNT: usize = 1 << SUB_BUCKET_BITS;
/// The largest resolved value is just below `2^VALUE_BITS_MAX` nanoseconds.
const VALUE_BITS_MAX: u32 = 36;
/// Buckets in all: the linear range below `SUB_BUCKET_COUNT`, then one row per octave.
const BUCKET_COUNT: usize = (VALUE_BITS_MAX - SUB_BUCKET_BITS + 1) as usize * SUB_BUCKET_COUNT;

/// Round-trip latencies, in nanoseconds, with about 1% precision from 1 µs to 68 s.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    sum_nanos: u128,
    min_nanos: u64,
    max_nanos: u64,
}

impl Histogram {
    /// An empty histogram (allocates its 30 KiB of counters).
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKET_COUNT].into_boxed_slice(),
            count: 0,
            sum_nanos: 0,
            min_nanos: u64::MAX,
            max_nanos: 0,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_nanos(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Records one latency given in nanoseconds.
    pub fn record_nanos(&mut self, nanos: u64) {
        self.counts[bucket_index(nanos)] += 1;
        self.count += 1;
        self.sum_nanos += u128::from(nanos);
        self.min_nanos = self.min_nanos.min(nanos);
        self.max_nanos = self.max_nanos.max(nanos);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The latency at `fraction` (0.5 for the median, 0.99 for p99; clamped to `0.0..=1.0`):
    /// the upper edge of the bucket holding the value of that rank (nearest rank, at least
    /// the first), never more than the largest value recorded. Zero when empty.
    pub fn percentile(&self, fraction: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((fraction.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let highest = bucket_highest_nanos(index).min(self.max_nanos);
                return Duration::from_nanos(highest.max(self.min_nanos));
            }
        }
        self.max()
    }

    /// The smallest latency recorded (zero when empty).
    pub fn min(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.min_nanos)
        }
    }

    /// The largest latency recorded, exactly (zero when empty).
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_nanos)
    }

    /// The mean latency (zero when empty).
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let mean = self.sum_nanos / u128::from(self.count);
        Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX))
    }

    /// Adds every latency recorded in `other` to this histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_nanos += other.sum_nanos;
        self.min_nanos = self.min_nanos.min(other.min_nanos);
        self.max_nanos = self.max_nanos.max(other.max_nanos);
    }

    /// Forgets every latency recorded, keeping the counters' memory.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.count = 0;
        self.sum_nanos = 0;
        self.min_nanos = u64::MAX;
        self.max_nanos = 0;
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Histogram {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("p50", &self.percentile(0.5))
            .field("p99", &self.percentile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

/// The bucket of `nanos`: the value itself below `SUB_BUCKET_COUNT`; above, the octave's
/// row followed by the value's top `SUB_BUCKET_BITS + 1` bits (whose leading one is dropped).
fn bucket_index(nanos: u64) -> usize {
    let nanos = nanos.min((1 << VALUE_BITS_MAX) - 1);
    if nanos < SUB_BUCKET_COUNT as u64 {
        return nanos as usize;
    }
    let top_bit = 63 - nanos.leading_zeros();
    let shift = top_bit - SUB_BUCKET_BITS;
    let sub_bucket = (nanos >> shift) as usize - SUB_BUCKET_COUNT;
    (shift as usize + 1) * SUB_BUCKET_COUNT + sub_bucket
}

/// The largest value that lands in bucket `index`.
fn bucket_highest_nanos(index: usize) -> u64 {
    if index < SUB_BUCKET_COUNT {
        return index as u64;
    }
    let shift = (index / SUB_BUCKET_COUNT - 1) as u32;
    let sub_bucket = (index % SUB_BUCKET_COUNT + SUB_BUCKET_COUNT) as u64;
    ((sub_bucket + 1) << shift) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `measured` is within `tolerance` (a fraction) of `expected`.
    fn close(measured: Duration, expected: Duration, tolerance: f64) -> bool {
        let error = (measured.as_secs_f64() - expected.as_secs_f64()).abs();
        error <= tolerance * expected.as_secs_f64()
    }

    #[test]
    fn buckets_are_contiguous_and_narrow() {
        let mut previous_highest = None;
        for index in 0..BUCKET_COUNT {
            let highest = bucket_highest_nanos(index);
            assert_eq!(bucket_index(highest), index);
            if let Some(previous) = previous_highest {
                let lowest: u64 = previous + 1;
                assert_eq!(bucket_index(lowest), index, "gap before bucket {index}");
                assert!(
                    (highest - lowest) as f64 <= lowest as f64 / SUB_BUCKET_COUNT as f64,
                    "bucket {index} is wider than 1/128 of its value"
                );
            }
            previous_highest = Some(highest);
        }
        assert_eq!(bucket_index(u64::MAX), BUCKET_COUNT - 1);
    }

    #[test]
    fn percentiles_of_a_uniform_range() {
        let mut histogram = Histogram::new();
        for micros in 1..=10_000 {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.count(), 10_000);
        assert!(close(
            histogram.percentile(0.5),
            Duration::from_micros(5_000),
            0.01
        ));
        assert!(close(
            histogram.percentile(0.99),
            Duration::from_micros(9_900),
            0.01
        ));
        assert!(close(
            histogram.percentile(0.999),
            Duration::from_micros(9_990),
            0.01
        ));
        assert_eq!(histogram.percentile(1.0), Duration::from_micros(10_000));
        assert_eq!(histogram.max(), Duration::from_micros(10_000));
        assert_eq!(histogram.min(), Duration::from_micros(1));
        assert!(close(
            histogram.mean(),
            Duration::from_nanos(5_000_500),
            1e-9
        ));
        assert!(histogram.percentile(0.0) <= Duration::from_nanos(1_010));
    }

    #[test]
    fn percentiles_of_a_skewed_set() {
        // 990 fast round trips, 9 slow ones and one stall: p99 is still fast, p999 is slow.
        let mut histogram = Histogram::new();
        for _ in 0..990 {
            histogram.record(Duration::from_micros(20));
        }
        for _ in 0..9 {
            histogram.record(Duration::from_millis(3));
        }
        histogram.record(Duration::from_secs(9));
        assert!(close(
            histogram.percentile(0.5),
            Duration::from_micros(20),
            0.01
        ));
        assert!(close(
            histogram.percentile(0.99),
            Duration::from_micros(20),
            0.01
        ));
        assert!(close(
            histogram.percentile(0.995),
            Duration::from_millis(3),
            0.01
        ));
        assert!(close(
            histogram.percentile(0.999),
            Duration::from_millis(3),
            0.01
        ));
        assert_eq!(histogram.max(), Duration::from_secs(9));
    }

    #[test]
    fn merge_and_clear() {
        let mut left = Histogram::new();
        let mut right = Histogram::new();
        for micros in 1..=500 {
            left.record(Duration::from_micros(micros));
        }
        for micros in 501..=1_000 {
            right.record(Duration::from_micros(micros));
        }
        left.merge(&right);
        assert_eq!(left.count(), 1_000);
        assert!(close(
            left.percentile(0.5),
            Duration::from_micros(500),
            0.01
        ));
        assert_eq!(left.max(), Duration::from_micros(1_000));
        assert_eq!(left.min(), Duration::from_micros(1));
        left.clear();
        assert_eq!(left.count(), 0);
        assert_eq!(left.percentile(0.99), Duration::ZERO);
        assert_eq!(left.max(), Duration::ZERO);
        assert_eq!(left.min(), Duration::ZERO);
    }

    #[test]
    fn huge_values_are_clamped_but_the_maximum_is_exact() {
        let mut histogram = Histogram::new();
        histogram.record(Duration::from_secs(1_000));
        assert_eq!(histogram.max(), Duration::from_secs(1_000));
        assert_eq!(histogram.percentile(0.5), Duration::from_secs(1_000));
    }
}
