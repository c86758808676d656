//! The simulator's randomness: one seed, split into independent streams per domain.
//!
//! SplitMix64: tiny, fast, and good enough to drive schedules and fault injection. Each
//! domain gets its own stream derived from the seed and the domain's number, so drawing more
//! numbers in one domain (a new fault type, say) never reshuffles another.

/// A randomness domain; each gets an independent stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Domain {
    /// The order shards run in each round.
    Scheduling,
    /// The simulated network: which of the shards listening on one address a simulated
    /// connect reaches (network faults between shards, when they come, draw here too).
    Network,
    /// One shard's simulated I/O (how much each simulated read takes) and, later, its crash
    /// injection.
    Shard(u16),
    /// Available to tests and drivers.
    User(u32),
}

impl Domain {
    fn number(self) -> u64 {
        match self {
            Domain::Scheduling => 1,
            Domain::Network => 2,
            Domain::Shard(shard) => 0x1_0000 + u64::from(shard),
            Domain::User(user) => 0x1_0000_0000 + u64::from(user),
        }
    }
}

/// A deterministic pseudo-random stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream for `domain` under `seed`.
    pub fn stream(seed: u64, domain: Domain) -> Rng {
        let mut mixer = Rng {
            state: seed ^ domain.number().wrapping_mul(0xA076_1D64_78BD_642F),
        };
        Rng {
            state: mixer.next_u64(),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`), without floats.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// True with probability `numerator / denominator`: integer ratios, never floats.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index as u64 + 1) as usize;
            items.swap(index, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_independent() {
        let mut a = Rng::stream(42, Domain::Scheduling);
        let mut b = Rng::stream(42, Domain::Scheduling);
        let mut c = Rng::stream(42, Domain::Network);
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..4).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..4).map(|_| c.next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::stream(7, Domain::User(0));
        for bound in 1..50 {
            assert!(rng.below(bound) < bound);
        }
    }
}
