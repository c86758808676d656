//! A fixed-bucket histogram of `u64` values: no allocation, constant-time recording, a
//! bounded relative error.

/// Values below this are counted exactly, one bucket each.
const LINEAR: u64 = 8;
/// Sub-buckets per power of two above [`LINEAR`] (3 bits of the value after its leading one).
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// The highest power of two with buckets of its own; larger values share the last bucket.
const TOP_EXPONENT: u32 = 39;

/// The number of buckets of every [`Histogram`].
pub const BUCKETS: usize = LINEAR as usize + (TOP_EXPONENT - SUB_BITS + 1) as usize * SUB;

/// A histogram of `u64` values (handler times in nanoseconds, or a user's own values) in
/// [`BUCKETS`] fixed buckets: exact below 8, then 8 buckets per power of two, so a bucket's
/// width is at most 1/8 of its lower bound and any quantile read back is within 12.5% of
/// the true value (above it, never below). Values from 2^39 + 7·2^36 up share the last
/// bucket. Recording is a few instructions and never allocates; the whole histogram is
/// `Copy`-free but clonable, and lives inline.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    count: u64,
    sum: u64,
    max: u64,
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
            .field("sum", &self.sum)
            .field("max", &self.max)
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

/// The bucket a value falls in.
#[inline]
pub fn bucket_of(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    if exponent > TOP_EXPONENT {
        return BUCKETS - 1;
    }
    let sub = ((value >> (exponent - SUB_BITS)) as usize) & (SUB - 1);
    LINEAR as usize + (exponent - SUB_BITS) as usize * SUB + sub
}

/// The smallest value of bucket `index` (meaningful for `index < BUCKETS`).
///
/// # Panics
///
/// With overflow checks on, for an index far past [`BUCKETS`] (from 520 on).
pub fn bucket_low(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let above = index - LINEAR as usize;
    let exponent = (above / SUB) as u32 + SUB_BITS;
    let sub = (above % SUB) as u64;
    (SUB as u64 + sub) << (exponent - SUB_BITS)
}

/// The largest value of bucket `index` (`u64::MAX` for the last).
pub fn bucket_high(index: usize) -> u64 {
    if index + 1 >= BUCKETS {
        u64::MAX
    } else {
        bucket_low(index + 1) - 1
    }
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        Self {
            counts: [0; BUCKETS],
            count: 0,
            sum: 0,
            max: 0,
        }
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(value);
        self.max = self.max.max(value);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sum of the values recorded (saturating).
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The largest value recorded (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean, rounded down (0 when empty).
    pub fn mean(&self) -> u64 {
        self.sum.checked_div(self.count).unwrap_or(0)
    }

    /// The count in each bucket, smallest values first (see [`bucket_low`], [`bucket_high`]).
    pub fn buckets(&self) -> &[u64; BUCKETS] {
        &self.counts
    }

    /// How many values recorded are at most `bound` — exact when `bound` is the top of a
    /// bucket ([`bucket_high`]), otherwise counting only the buckets wholly below it.
    pub fn count_at_most(&self, bound: u64) -> u64 {
        self.counts
            .iter()
            .enumerate()
            .take_while(|&(index, _)| bucket_high(index) <= bound)
            .map(|(_, &count)| count)
            .sum()
    }

    /// The value at quantile `q` (0.0..=1.0): the top of the bucket holding the
    /// `ceil(q·count)`-th smallest value, capped at the maximum — never below the true
    /// value, and within 12.5% above it. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        // The rank, 1-based: at least the first value.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket_high(index).min(self.max);
            }
        }
        self.max
    }

    /// Adds another histogram's values to this one (for totals across shards).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// Words in the published form: the buckets, then count, sum and max.
    pub(crate) const WORDS: usize = BUCKETS + 3;

    /// Writes the published form from word `start` on.
    pub(crate) fn publish(&self, writer: &mut tina_mailbox::SeqWriter<'_>, start: usize) {
        writer.set_all(start, &self.counts);
        writer.set(start + BUCKETS, self.count);
        writer.set(start + BUCKETS + 1, self.sum);
        writer.set(start + BUCKETS + 2, self.max);
    }

    /// Reads the published form from `words` (at least [`Self::WORDS`] long).
    pub(crate) fn read(words: &[u64]) -> Self {
        let mut histogram = Self::new();
        histogram.counts.copy_from_slice(&words[..BUCKETS]);
        histogram.count = words[BUCKETS];
        histogram.sum = words[BUCKETS + 1];
        histogram.max = words[BUCKETS + 2];
        histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_whole_range_in_order() {
        assert_eq!(bucket_low(0), 0);
        for index in 0..BUCKETS - 1 {
            assert_eq!(
                bucket_high(index) + 1,
                bucket_low(index + 1),
                "bucket {index}"
            );
            assert_eq!(bucket_of(bucket_low(index)), index);
            assert_eq!(bucket_of(bucket_high(index)), index);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_high(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn a_bucket_is_at_most_an_eighth_of_its_lower_bound_wide() {
        for index in LINEAR as usize..BUCKETS - 1 {
            let (low, high) = (bucket_low(index), bucket_high(index));
            assert!(
                (high - low + 1) * 8 <= low,
                "bucket {index}: {low}..={high}"
            );
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut histogram = Histogram::new();
        for value in [0, 1, 2, 3, 4, 5, 6, 7] {
            histogram.record(value);
        }
        assert_eq!(histogram.quantile(0.5), 3);
        assert_eq!(histogram.quantile(1.0), 7);
        assert_eq!(histogram.quantile(0.0), 0);
        assert_eq!(histogram.sum(), 28);
        assert_eq!(histogram.mean(), 3);
    }

    #[test]
    fn empty_is_all_zero() {
        let histogram = Histogram::new();
        assert_eq!(histogram.quantile(0.99), 0);
        assert_eq!(histogram.mean(), 0);
        assert_eq!(histogram.count_at_most(u64::MAX), 0);
    }
}
