//! The simulator's randomness: one seed, split into independent streams per domain.
//!
//! SplitMix64: tiny, fast, and good enough to drive schedules and fault injection. Each
//! domain gets its own stream derived from the seed and the domain's number, so drawing more
//! numbers in one domain (a new fault type, say) never reshuffles another. The generator
//! is written here, not taken from a crate, so its output is fixed by this file alone: the
//! same across crate and compiler versions, pinned by the test vectors below.

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
    /// The fault configuration a swarm run draws ([`Faults::swarm`](crate::sim::Faults::swarm)).
    Swarm,
    /// Injected crashes and init failures on one shard.
    Crash(u16),
    /// Injected faults of one shard's simulated sockets (resets, short reads and writes,
    /// refused and unanswered connects, stalls).
    TcpFaults(u16),
    /// Cross-shard transport faults (drops, delays, partitions).
    Transport,
}

impl Domain {
    fn number(self) -> u64 {
        match self {
            Domain::Scheduling => 1,
            Domain::Network => 2,
            Domain::Shard(shard) => 0x1_0000 + u64::from(shard),
            Domain::User(user) => 0x1_0000_0000 + u64::from(user),
            // Numbers are never reused or renumbered: a new domain takes a new number, so
            // every existing stream stays what it was.
            Domain::Swarm => 3,
            Domain::Transport => 4,
            Domain::Crash(shard) => 0x2_0000 + u64::from(shard),
            Domain::TcpFaults(shard) => 0x3_0000 + u64::from(shard),
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
    ///
    /// # Panics
    ///
    /// When `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// True with probability `numerator / denominator`: integer ratios, never floats.
    ///
    /// # Panics
    ///
    /// When `denominator` is 0.
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

    /// The generator's output is part of the replay contract (a seed printed by one build
    /// must replay on the next): these vectors must never change.
    #[test]
    fn test_vectors_are_fixed() {
        let first = |seed, domain| Rng::stream(seed, domain).next_u64();
        assert_eq!(first(0, Domain::Scheduling), VECTORS[0]);
        assert_eq!(first(1, Domain::Network), VECTORS[1]);
        assert_eq!(first(0xdead_beef, Domain::Shard(3)), VECTORS[2]);
        assert_eq!(first(u64::MAX, Domain::User(7)), VECTORS[3]);
        assert_eq!(first(42, Domain::Swarm), VECTORS[4]);
        assert_eq!(first(42, Domain::Transport), VECTORS[5]);
        assert_eq!(first(42, Domain::Crash(1)), VECTORS[6]);
        assert_eq!(first(42, Domain::TcpFaults(1)), VECTORS[7]);
        let mut rng = Rng::stream(99, Domain::Scheduling);
        let run: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(run, VECTORS[8..11]);
        let mut rng = Rng::stream(5, Domain::User(0));
        let draws: Vec<u64> = (0..6).map(|_| rng.below(10)).collect();
        assert_eq!(draws, VECTORS[11..17]);
    }

    /// Computed by an independent implementation of SplitMix64 (not this file).
    const VECTORS: [u64; 17] = [
        0xb1a6_d212_199b_7394,
        0x19a7_5396_f807_3257,
        0xba4b_d057_a4a8_8ef7,
        0x4570_084e_08f8_2168,
        0xd1ee_5bb9_a96e_d7a2,
        0x82a9_4e31_8421_cfa7,
        0xadd4_5d20_c2e4_58d3,
        0x6ad9_5b37_ec43_04a8,
        0xd501_c9f7_5ce2_8783,
        0xfa48_a70c_de60_9134,
        0x15e0_7bc5_69ce_5a63,
        9,
        3,
        7,
        0,
        6,
        0,
    ];

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::stream(7, Domain::User(0));
        for bound in 1..50 {
            assert!(rng.below(bound) < bound);
        }
    }
}
