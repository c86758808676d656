//! How long a benchmark run lasts.

/// The three lengths of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench`: the figures that go into `BENCHMARKS.md`.
    Full,
    /// `TINA_BENCH_QUICK=1 cargo bench` (or `-- --quick`): a short run that still measures.
    Quick,
    /// Run without `--bench` (as `cargo test --benches` does): a tiny run that only checks
    /// that every contender works and verifies its result.
    Smoke,
}

/// How long a benchmark run lasts: the mode and the number of interleaved rounds.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Full, quick or smoke.
    pub mode: Mode,
    /// Interleaved rounds; every contender runs once per round.
    pub rounds: usize,
}

impl Plan {
    /// Reads the plan from the command line and the environment: `--bench` (passed by
    /// `cargo bench`) selects a measuring run, `--quick` or `TINA_BENCH_QUICK=1` a short one,
    /// `--rounds N` or `TINA_BENCH_ROUNDS=N` overrides the number of rounds.
    pub fn from_env() -> Self {
        let arguments: Vec<String> = std::env::args().skip(1).collect();
        let environment = |name: &str| std::env::var(name).ok().filter(|value| value != "0");
        let benchmarking = arguments.iter().any(|argument| argument == "--bench");
        let quick = arguments.iter().any(|argument| argument == "--quick")
            || environment("TINA_BENCH_QUICK").is_some();
        let mode = match (benchmarking, quick) {
            (false, _) => Mode::Smoke,
            (true, true) => Mode::Quick,
            (true, false) => Mode::Full,
        };
        let rounds_default = match mode {
            Mode::Full => 9,
            Mode::Quick => 3,
            Mode::Smoke => 1,
        };
        let rounds_flag = arguments
            .iter()
            .position(|argument| argument == "--rounds")
            .and_then(|index| arguments.get(index + 1))
            .and_then(|value| value.parse().ok());
        let rounds = rounds_flag
            .or_else(|| environment("TINA_BENCH_ROUNDS").and_then(|value| value.parse().ok()))
            .unwrap_or(rounds_default)
            .max(1);
        Self { mode, rounds }
    }

    /// Picks the size of a sample for this mode.
    pub fn pick<T>(&self, full: T, quick: T, smoke: T) -> T {
        match self.mode {
            Mode::Full => full,
            Mode::Quick => quick,
            Mode::Smoke => smoke,
        }
    }

    /// Whether to run one discarded warm-up round before the measured ones.
    pub fn warm_up(&self) -> bool {
        self.mode != Mode::Smoke
    }

    /// Whether single-thread comparisons pin their thread: `TINA_BENCH_PIN=1` pins Tina's
    /// shard (shard 0 on core 0) *and* the thread the peers run on (also core 0), so both
    /// sides get the same core. By default neither is pinned and the OS places both — on a
    /// shared machine a pinned thread cannot move off a core another process is hogging,
    /// while an unpinned peer can, which would bias the comparison.
    pub fn pin_single_thread(&self) -> bool {
        std::env::var("TINA_BENCH_PIN").is_ok_and(|value| value != "0")
    }

    /// Pins the calling thread to the first core when [`Plan::pin_single_thread`] says so.
    pub fn pin_peer_thread(&self) {
        if self.pin_single_thread()
            && let Some(first) =
                core_affinity::get_core_ids().and_then(|cores| cores.first().copied())
        {
            core_affinity::set_for_current(first);
        }
    }

    /// A one-line description for the report header.
    pub fn describe(&self) -> String {
        let mode = match self.mode {
            Mode::Full => "full",
            Mode::Quick => "quick (TINA_BENCH_QUICK)",
            Mode::Smoke => "smoke (not run with --bench: sizes are tiny, figures meaningless)",
        };
        let placement = if self.pin_single_thread() {
            "single-thread contenders pinned to core 0"
        } else {
            "single-thread contenders unpinned"
        };
        format!(
            "{mode} run, {} interleaved rounds, {placement}",
            self.rounds
        )
    }
}
