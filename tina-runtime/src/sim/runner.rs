//! The simulation test runner: a scenario (boot spec plus driver isolates), a fault
//! configuration, checkers and a limit; seeds from the environment, a sweep, or a corpus;
//! and, on failure, a report that says how to replay it.
//!
//! ```text
//! TINA_SEED=0x1f cargo test -p my-crate --test bank conserves_money   # replay one seed
//! TINA_SEEDS=10000 cargo test -p my-crate --test bank conserves_money # sweep 10,000 seeds
//! ```

use std::fmt;
use std::path::PathBuf;

use super::faults::{CrashTargets, FaultCounts, Faults};
use super::hooks::TraceEvent;
use super::{SimReport, Simulation};
use crate::spec::BootSpec;

/// A user checker: a name, how often it runs (every so many rounds), and the check, which
/// sees the scenario's world (its handles) and the whole simulation, read-only.
type Check<W> = Box<dyn Fn(&W, &Simulation) -> Result<(), String> + Send + Sync>;

struct Checker<W> {
    name: &'static str,
    every: u64,
    check: Check<W>,
}

/// Builds a run's system from its seed: the boot spec and the world the checkers see.
type Build<W> = Box<dyn Fn(u64) -> (BootSpec, W) + Send + Sync>;

enum FaultChoice {
    Fixed(Faults),
    Swarm(CrashTargets),
}

/// How often the runtime's own invariants are checked, in rounds.
const BUILT_IN_EVERY: u64 = 64;
/// Events per shard shown in a failure report.
const LAST_EVENTS: usize = 8;

/// A simulation test: see the module docs.
pub struct SimTest<W> {
    name: &'static str,
    build: Build<W>,
    faults: FaultChoice,
    checkers: Vec<Checker<W>>,
    max_rounds: u64,
    require_quiescence: bool,
    corpus: Option<PathBuf>,
    until: Option<Check<W>>,
}

/// What went wrong in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The spec was refused at boot.
    Spec(String),
    /// A runtime invariant ([`Simulation::check`]).
    Invariant(String),
    /// A user checker, by name.
    Checker(&'static str, String),
    /// The system did not finish: still busy at the round limit, or stuck with envelopes
    /// waiting on a cut link and nothing else to run.
    Liveness(String),
    /// A shard stopped by a panic that escaped its trap boundary.
    ShardFailed(String),
}

/// A failed run, with everything needed to replay it.
#[derive(Clone, Debug)]
pub struct SimFailure {
    /// The test's name.
    pub test: &'static str,
    /// The seed.
    pub seed: u64,
    /// The fault configuration (drawn from the seed in swarm mode), as one line.
    pub faults: String,
    /// What failed.
    pub kind: FailureKind,
    /// The report at the failure.
    pub report: SimReport,
    /// The last dispatches before the failure, per shard (from a replay with the event log
    /// on), with the isolate type's name.
    pub last_events: Vec<(TraceEvent, &'static str)>,
    /// The command that replays this seed.
    pub replay: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "simulation test `{}` failed", self.test)?;
        writeln!(formatter, "  seed:   {:#x}", self.seed)?;
        writeln!(formatter, "  faults: {}", self.faults)?;
        match &self.kind {
            FailureKind::Spec(error) => writeln!(formatter, "  boot spec refused: {error}")?,
            FailureKind::Invariant(error) => {
                writeln!(formatter, "  runtime invariant broken: {error}")?
            }
            FailureKind::Checker(name, error) => {
                writeln!(formatter, "  checker `{name}` failed: {error}")?
            }
            FailureKind::Liveness(error) => writeln!(formatter, "  liveness: {error}")?,
            FailureKind::ShardFailed(error) => writeln!(formatter, "  shard failed: {error}")?,
        }
        writeln!(
            formatter,
            "  after {} rounds, {} dispatches, at {}; injected: {}",
            self.report.rounds, self.report.dispatched, self.report.now, self.report.faults
        )?;
        if !self.last_events.is_empty() {
            writeln!(formatter, "  last events per shard (oldest first):")?;
            for (event, name) in &self.last_events {
                writeln!(
                    formatter,
                    "    {} {}[{}] {} at {}",
                    event.shard,
                    short(name),
                    event.slot,
                    event.what(),
                    event.at
                )?;
            }
        }
        writeln!(formatter, "  replay: {}", self.replay)
    }
}

/// A type name without its module path.
fn short(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// What a sweep ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Seeds run.
    pub seeds: u64,
    /// Rounds run, all seeds together.
    pub rounds: u64,
    /// Dispatches, all seeds together.
    pub dispatched: u64,
    /// Faults injected, all seeds together, by kind.
    pub faults: FaultCounts,
}

impl SweepReport {
    fn add(&mut self, report: &SimReport) {
        self.seeds += 1;
        self.rounds += report.rounds;
        self.dispatched += report.dispatched;
        self.faults.add(&report.faults);
    }

    fn merge(&mut self, other: &SweepReport) {
        self.seeds += other.seeds;
        self.rounds += other.rounds;
        self.dispatched += other.dispatched;
        self.faults.add(&other.faults);
    }
}

/// The seed of run `index` of a sweep named `name`: spread over the whole `u64` range,
/// and the same on every machine and every build.
pub fn sweep_seed(name: &str, index: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    super::rng::Rng::stream(hash ^ index, super::rng::Domain::User(u32::MAX)).next_u64()
}

impl<W> SimTest<W> {
    /// A test named `name` (the name goes into seeds and reports) whose system `build`
    /// makes from the seed: the boot spec, driver isolates included, and the world the
    /// checkers see (typically the handles of the isolates to check). No faults, at most
    /// 1,000,000 rounds, quiescence required by the end.
    pub fn new(
        name: &'static str,
        build: impl Fn(u64) -> (BootSpec, W) + Send + Sync + 'static,
    ) -> Self {
        SimTest {
            name,
            build: Box::new(build),
            faults: FaultChoice::Fixed(Faults::none()),
            checkers: Vec::new(),
            max_rounds: 1_000_000,
            require_quiescence: true,
            corpus: None,
            until: None,
        }
    }

    /// Ends each run successfully as soon as `done` holds (checked every 64 rounds), for a
    /// system that never goes quiescent — a server with periodic timers. `done` answers
    /// `Ok(())` once the run has done what it should, and `Err(why not yet)` before. A run
    /// that ends first — at the round limit, or quiescent — while `done` still answers
    /// `Err` is a liveness failure ([`FailureKind::Liveness`]) quoting that answer. With
    /// `until` set, a run need not be quiescent at the end
    /// ([`SimTest::require_quiescence`] no longer applies).
    pub fn until(
        mut self,
        done: impl Fn(&W, &Simulation) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.until = Some(Box::new(done));
        self
    }

    /// Injects `faults` in every run.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = FaultChoice::Fixed(faults);
        self
    }

    /// Swarm mode: each run draws its fault configuration from its seed
    /// ([`Faults::swarm`]); injected crashes hit only `targets`.
    pub fn swarm(mut self, targets: CrashTargets) -> Self {
        self.faults = FaultChoice::Swarm(targets);
        self
    }

    /// Adds a checker, run every `every` rounds (0 counts as 1) and at the end of the run.
    /// `check` answers `Err(what is wrong)` to fail the run, as
    /// [`FailureKind::Checker`] with `name` and that text.
    pub fn checker(
        mut self,
        name: &'static str,
        every: u64,
        check: impl Fn(&W, &Simulation) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.checkers.push(Checker {
            name,
            every: every.max(1),
            check: Box::new(check),
        });
        self
    }

    /// Adds a checker run only at the end of the run; an `Err` from `check` fails the run
    /// as for [`SimTest::checker`].
    pub fn at_end(
        mut self,
        name: &'static str,
        check: impl Fn(&W, &Simulation) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.checkers.push(Checker {
            name,
            every: u64::MAX,
            check: Box::new(check),
        });
        self
    }

    /// The round limit of each run.
    pub fn max_rounds(mut self, rounds: u64) -> Self {
        self.max_rounds = rounds;
        self
    }

    /// Whether a run still busy at the round limit is a failure (default: yes).
    pub fn require_quiescence(mut self, required: bool) -> Self {
        self.require_quiescence = required;
        self
    }

    /// The corpus file of this test: seeds that once failed, one per line (`0x…` or
    /// decimal; `#` starts a comment), replayed by [`SimTest::run`] before anything else.
    pub fn corpus(mut self, path: impl Into<PathBuf>) -> Self {
        self.corpus = Some(path.into());
        self
    }

    /// The fault configuration run `seed` injects.
    pub fn faults_for(&self, seed: u64) -> Faults {
        match &self.faults {
            FaultChoice::Fixed(faults) => faults.clone(),
            FaultChoice::Swarm(targets) => Faults::swarm(seed, targets.clone()),
        }
    }

    /// Builds the simulation of `seed`, with its world (no checker runs, nothing is
    /// stepped).
    ///
    /// # Errors
    ///
    /// The text of the [`SpecErrors`](crate::SpecErrors) when the spec the test's `build`
    /// makes for `seed` is refused ([`Simulation::with_faults`]).
    pub fn build(&self, seed: u64) -> Result<(Simulation, W), String> {
        let (spec, world) = (self.build)(seed);
        let sim = Simulation::with_faults(spec, seed, self.faults_for(seed))
            .map_err(|errors| errors.to_string())?;
        Ok((sim, world))
    }

    /// Runs one seed. On failure, replays it with the event log on to show the last events
    /// per shard before the failure.
    ///
    /// # Errors
    ///
    /// The [`SimFailure`] of the run, with the seed, the fault configuration, the report at
    /// the failure, the last events per shard and the replay command. Its
    /// [`kind`](SimFailure::kind):
    ///
    /// - [`FailureKind::Spec`]: the spec was refused at boot.
    /// - [`FailureKind::Invariant`]: [`Simulation::check`] failed (checked every 64 rounds
    ///   and at the end).
    /// - [`FailureKind::ShardFailed`]: a panic escaped a shard's trap boundary.
    /// - [`FailureKind::Checker`]: a checker answered `Err`.
    /// - [`FailureKind::Liveness`]: the run ended stalled on a cut link, or before
    ///   [`SimTest::until`]'s condition held, or (without `until`, with
    ///   [`SimTest::require_quiescence`]) still busy at the round limit.
    ///
    /// # Panics
    ///
    /// A panic in the test's `build` closure or in a checker is not caught: it unwinds out
    /// of this call. (A panic in an isolate is a crash, handled by supervision.)
    pub fn run_seed(&self, seed: u64) -> Result<SimReport, Box<SimFailure>> {
        match self.attempt(seed, false) {
            Ok(report) => Ok(report),
            Err(mut failure) => {
                // The same seed runs the same way: replay to the failure with the log on.
                if let Err(replayed) = self.attempt(seed, true) {
                    failure.last_events = replayed.last_events;
                }
                Err(failure)
            }
        }
    }

    fn attempt(&self, seed: u64, record: bool) -> Result<SimReport, Box<SimFailure>> {
        self.attempt_with(seed, self.faults_for(seed), record)
    }

    fn attempt_with(
        &self,
        seed: u64,
        faults: Faults,
        record: bool,
    ) -> Result<SimReport, Box<SimFailure>> {
        let fail = |kind: FailureKind, report: SimReport, sim: Option<&Simulation>| {
            Box::new(SimFailure {
                test: self.name,
                seed,
                faults: faults.to_string(),
                kind,
                report,
                last_events: sim.map(last_events).unwrap_or_default(),
                replay: replay_command(self.name, seed),
            })
        };
        let (spec, world) = (self.build)(seed);
        let mut sim = match Simulation::with_faults(spec, seed, faults.clone()) {
            Ok(sim) => sim,
            Err(errors) => {
                return Err(fail(
                    FailureKind::Spec(errors.to_string()),
                    empty_report(),
                    None,
                ));
            }
        };
        if record {
            sim.record_events(1 << 22);
        }
        let mut quiescent = false;
        let mut finished = false;
        let mut rounds = 0;
        while rounds < self.max_rounds {
            let worked = sim.step();
            rounds += 1;
            let idle = !worked && sim.next_deadline().is_none();
            let mut done = idle;
            if let Some(until) = &self.until
                && rounds % BUILT_IN_EVERY == 0
                && until(&world, &sim).is_ok()
            {
                done = true;
                finished = true;
            }
            if rounds % BUILT_IN_EVERY == 0 || done {
                if let Err(error) = sim.check() {
                    let report = sim.report(false);
                    return Err(fail(FailureKind::Invariant(error), report, Some(&sim)));
                }
                if sim.failed.contains(&true) {
                    let report = sim.report(false);
                    let shards = format!("{:?}", sim.failed_shards());
                    return Err(fail(FailureKind::ShardFailed(shards), report, Some(&sim)));
                }
            }
            for checker in &self.checkers {
                if checker.every != u64::MAX
                    && rounds % checker.every == 0
                    && let Err(error) = (checker.check)(&world, &sim)
                {
                    let report = sim.report(false);
                    return Err(fail(
                        FailureKind::Checker(checker.name, error),
                        report,
                        Some(&sim),
                    ));
                }
            }
            if done {
                quiescent = idle;
                break;
            }
        }
        let report = sim.report(quiescent);
        if let Err(error) = sim.check() {
            return Err(fail(FailureKind::Invariant(error), report, Some(&sim)));
        }
        for checker in &self.checkers {
            if let Err(error) = (checker.check)(&world, &sim) {
                return Err(fail(
                    FailureKind::Checker(checker.name, error),
                    report,
                    Some(&sim),
                ));
            }
        }
        if report.stalled {
            return Err(fail(
                FailureKind::Liveness(
                    "nothing runnable and no timer pending, but envelopes wait on a cut link"
                        .into(),
                ),
                report,
                Some(&sim),
            ));
        }
        if let Some(until) = &self.until
            && !finished
            && until(&world, &sim).is_err()
        {
            return Err(fail(
                FailureKind::Liveness(if report.quiescent {
                    format!(
                        "went quiescent after {} rounds without being done (nothing left \
                         to run, no timer pending): {}",
                        report.rounds,
                        until(&world, &sim).err().unwrap_or_default()
                    )
                } else {
                    format!(
                        "not done after {} rounds (the limit): {}",
                        self.max_rounds,
                        until(&world, &sim).err().unwrap_or_default()
                    )
                }),
                report,
                Some(&sim),
            ));
        }
        if self.require_quiescence && self.until.is_none() && !quiescent {
            return Err(fail(
                FailureKind::Liveness(format!(
                    "still busy after {} rounds (the limit): work or timers pending",
                    self.max_rounds
                )),
                report,
                Some(&sim),
            ));
        }
        Ok(report)
    }

    /// With `TINA_SEED` set, the one seed it names (so a printed replay command replays a
    /// sweep's failure too).
    fn seed_from_env(&self) -> Option<Result<SweepReport, Box<SimFailure>>> {
        let seed = std::env::var("TINA_SEED")
            .ok()
            .and_then(|s| parse_seed(&s))?;
        Some(self.run_seed(seed).map(|report| {
            eprintln!(
                "{}: seed {seed:#x} passed: {} rounds, {} dispatches, faults {} ({})",
                self.name,
                report.rounds,
                report.dispatched,
                self.faults_for(seed),
                report.faults
            );
            let mut total = SweepReport::default();
            total.add(&report);
            total
        }))
    }

    /// Runs `count` seeds of the sweep, from index `first`, stopping at the first failure;
    /// with `TINA_SEED` set, runs only that seed.
    ///
    /// # Errors
    ///
    /// The [`SimFailure`] of the first seed that fails (see [`SimTest::run_seed`]).
    ///
    /// # Panics
    ///
    /// A panic in the test's `build` closure or in a checker is not caught: it unwinds out
    /// of this call. (A panic in an isolate is a crash, handled by supervision.)
    /// With overflow checks on, when `first + count` overflows `u64`.
    pub fn sweep(&self, first: u64, count: u64) -> Result<SweepReport, Box<SimFailure>> {
        if let Some(result) = self.seed_from_env() {
            return result;
        }
        let mut total = SweepReport::default();
        for index in first..first + count {
            let report = self.run_seed(sweep_seed(self.name, index))?;
            total.add(&report);
        }
        Ok(total)
    }

    /// [`SimTest::sweep`] spread over `threads` threads (each builds its own simulations;
    /// a run stays on one thread). Reports the failure with the lowest index, so the result
    /// does not depend on timing. With `TINA_SEED` set, runs only that seed. `threads` is
    /// taken between 1 and 64.
    ///
    /// # Errors
    ///
    /// The [`SimFailure`] of the failing seed with the lowest sweep index (see
    /// [`SimTest::run_seed`]).
    ///
    /// # Panics
    ///
    /// When the test's `build` closure or a checker panics, on any thread (with "a sweep
    /// worker panicked").
    pub fn sweep_parallel(&self, count: u64, threads: usize) -> Result<SweepReport, Box<SimFailure>>
    where
        W: 'static,
    {
        if let Some(result) = self.seed_from_env() {
            return result;
        }
        let threads = threads.clamp(1, 64) as u64;
        let results: Vec<Result<SweepReport, (u64, Box<SimFailure>)>> =
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|worker| {
                        scope.spawn(move || {
                            let mut total = SweepReport::default();
                            let mut index = worker;
                            while index < count {
                                match self.run_seed(sweep_seed(self.name, index)) {
                                    Ok(report) => total.add(&report),
                                    Err(failure) => return Err((index, failure)),
                                }
                                index += threads;
                            }
                            Ok(total)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| worker.join().expect("a sweep worker panicked"))
                    .collect()
            });
        let mut total = SweepReport::default();
        let mut first_failure: Option<(u64, Box<SimFailure>)> = None;
        for result in results {
            match result {
                Ok(part) => total.merge(&part),
                Err((index, failure)) => {
                    if first_failure.as_ref().is_none_or(|(best, _)| index < *best) {
                        first_failure = Some((index, failure));
                    }
                }
            }
        }
        match first_failure {
            Some((_, failure)) => Err(failure),
            None => Ok(total),
        }
    }

    /// The seeds of the corpus file, if one is set (a missing file is an empty corpus).
    ///
    /// # Panics
    ///
    /// On a line that is not a seed: a corpus that cannot be read must not pass quietly.
    pub fn corpus_seeds(&self) -> Vec<u64> {
        let Some(path) = &self.corpus else {
            return Vec::new();
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| line.split('#').next().unwrap_or("").trim())
            .filter(|line| !line.is_empty())
            .map(|line| {
                parse_seed(line).unwrap_or_else(|| {
                    panic!(
                        "{}: `{line}` is not a seed (0x… or decimal)",
                        path.display()
                    )
                })
            })
            .collect()
    }

    /// The usual entry point of a `#[test]`: with `TINA_SEED` set, runs that one seed;
    /// otherwise replays the corpus, then sweeps `TINA_SEEDS` seeds (default
    /// `default_seeds`) on the machine's cores.
    ///
    /// # Panics
    ///
    /// - On the first failure, with its report (see [`SimTest::run_seed`]) and a reminder
    ///   to add the seed to the corpus: what fails the `#[test]`.
    /// - On a corpus line that is not a seed (see [`SimTest::corpus_seeds`]).
    /// - When the test's `build` closure or a checker panics.
    pub fn run(&self, default_seeds: u64) -> SweepReport
    where
        W: 'static,
    {
        let outcome = (|| {
            if let Some(result) = self.seed_from_env() {
                return result;
            }
            let mut total = SweepReport::default();
            for seed in self.corpus_seeds() {
                let report = self.run_seed(seed)?;
                total.add(&report);
            }
            let count = std::env::var("TINA_SEEDS")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(default_seeds);
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let swept = self.sweep_parallel(count, threads)?;
            total.merge(&swept);
            Ok::<_, Box<SimFailure>>(total)
        })();
        match outcome {
            Ok(total) => total,
            Err(failure) => panic!(
                "\n{failure}  once fixed, keep the seed: add `{:#x}` to the corpus{}\n",
                failure.seed,
                self.corpus
                    .as_ref()
                    .map(|path| format!(" ({})", path.display()))
                    .unwrap_or_default()
            ),
        }
    }

    /// The determinism oracle for one seed: runs it twice with the event log on and reports
    /// the first event where the runs differ, if any. Each run is
    /// [`Simulation::run`] up to the round limit; no checker runs.
    ///
    /// # Errors
    ///
    /// As [`SimTest::build`]: the text of the spec's errors when it is refused.
    pub fn check_determinism(&self, seed: u64) -> Result<Option<Divergence>, String> {
        let build = || self.build(seed).map(|(sim, _)| sim);
        let max_rounds = self.max_rounds;
        first_divergence(build, |sim| {
            sim.run(max_rounds);
        })
    }
}

/// What [`SimTest::shrink`] found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The seed.
    pub seed: u64,
    /// The smallest fault configuration found that still fails the same way.
    pub faults: Faults,
    /// The failure under it.
    pub failure: Box<SimFailure>,
    /// Faults injected before the failure, at the start and at the end of shrinking.
    pub injected: (u64, u64),
    /// Rounds to the failure, at the start and at the end.
    pub rounds: (u64, u64),
    /// Candidate configurations tried.
    pub tried: u32,
}

impl fmt::Display for Shrunk {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "shrunk seed {:#x} in {} tries: {} faults injected before the failure (from {}), \
             failing at round {} (from {})",
            self.seed, self.tried, self.injected.1, self.injected.0, self.rounds.1, self.rounds.0
        )?;
        writeln!(formatter, "  smallest faults: {}", self.faults)?;
        writeln!(
            formatter,
            "  (the replay command below runs the test's own configuration; to run the smallest, \
             give the test `.faults(...)` with the line above)"
        )?;
        write!(formatter, "{}", self.failure)
    }
}

/// The same kind of failure (the same checker, or the same category otherwise).
fn same_failure(a: &FailureKind, b: &FailureKind) -> bool {
    match (a, b) {
        (FailureKind::Checker(x, _), FailureKind::Checker(y, _)) => x == y,
        _ => core::mem::discriminant(a) == core::mem::discriminant(b),
    }
}

/// The candidate simplifications of `faults`, most aggressive first: each kind that is on
/// turned off, then each rate that is on made ten times rarer, then each maximum duration
/// halved.
fn simpler(faults: &Faults) -> Vec<Faults> {
    use super::faults::Ratio;
    let mut out = Vec::new();
    let rates: [fn(&mut Faults) -> &mut Ratio; 14] = [
        |f| &mut f.drop,
        |f| &mut f.delay,
        |f| &mut f.partition,
        |f| &mut f.one_way,
        |f| &mut f.crash,
        |f| &mut f.init_failure,
        |f| &mut f.tcp.short_read,
        |f| &mut f.tcp.short_write,
        |f| &mut f.tcp.reset,
        |f| &mut f.tcp.connect_refused,
        |f| &mut f.tcp.connect_timeout,
        |f| &mut f.tcp.half_open,
        |f| &mut f.tcp.stall,
        |f| &mut f.tcp.backlog_overflow,
    ];
    for field in &rates {
        let mut candidate = faults.clone();
        let rate = field(&mut candidate);
        if !rate.is_off() {
            *rate = Ratio::OFF;
            out.push(candidate);
        }
    }
    if faults.reorder {
        let mut candidate = faults.clone();
        candidate.reorder = false;
        out.push(candidate);
    }
    for field in &rates {
        let mut candidate = faults.clone();
        let rate = field(&mut candidate);
        if !rate.is_off() && rate.denominator() <= u32::MAX / 10 {
            *rate = Ratio::new(rate.numerator(), rate.denominator() * 10);
            out.push(candidate);
        }
    }
    let durations: [fn(&mut Faults) -> &mut core::time::Duration; 5] = [
        |f| &mut f.delay_max,
        |f| &mut f.partition_max,
        |f| &mut f.tcp.latency,
        |f| &mut f.tcp.jitter,
        |f| &mut f.tcp.stall_max,
    ];
    for field in durations {
        let mut candidate = faults.clone();
        let duration = field(&mut candidate);
        if *duration > core::time::Duration::from_micros(1) {
            *duration /= 2;
            out.push(candidate);
        }
    }
    out
}

impl<W> SimTest<W> {
    /// Shrinking: given a failing seed, simplifies its fault configuration — kinds turned
    /// off, rates made rarer, maximum durations halved — keeping each step only while the
    /// same failure still happens with no more faults injected and no later, until no step
    /// helps or `max_tries` runs have been made. The schedule itself stays drawn from the
    /// seed, so the result replays with the same seed and the printed configuration.
    pub fn shrink(&self, seed: u64, max_tries: u32) -> Option<Shrunk> {
        let start = self.faults_for(seed);
        let failure = self.attempt_with(seed, start.clone(), false).err()?;
        let kind = failure.kind.clone();
        let injected = failure.report.faults.total();
        let rounds = failure.report.rounds;
        let mut best = (start, failure);
        let mut tried = 0;
        'improve: loop {
            for candidate in simpler(&best.0) {
                if tried >= max_tries {
                    break 'improve;
                }
                tried += 1;
                if let Err(failure) = self.attempt_with(seed, candidate.clone(), false)
                    && same_failure(&failure.kind, &kind)
                    && failure.report.faults.total() <= best.1.report.faults.total()
                    && failure.report.rounds <= best.1.report.rounds
                {
                    best = (candidate, failure);
                    continue 'improve;
                }
            }
            break;
        }
        let (faults, mut failure) = best;
        if let Err(replayed) = self.attempt_with(seed, faults.clone(), true) {
            failure.last_events = replayed.last_events;
        }
        Some(Shrunk {
            seed,
            injected: (injected, failure.report.faults.total()),
            rounds: (rounds, failure.report.rounds),
            faults,
            failure,
            tried,
        })
    }
}

fn empty_report() -> SimReport {
    SimReport {
        rounds: 0,
        quiescent: false,
        trace_hash: 0,
        now: crate::clock::Instant(0),
        failed_shards: 0,
        stalled: false,
        dispatched: 0,
        faults: super::faults::FaultCounts::default(),
    }
}

/// The last [`LAST_EVENTS`] events of each shard in `sim`'s log.
fn last_events(sim: &Simulation) -> Vec<(TraceEvent, &'static str)> {
    let events = sim.events();
    let mut picked = Vec::new();
    for shard in 0..sim.shards.len() {
        let mine: Vec<&TraceEvent> = events
            .iter()
            .rev()
            .filter(|event| event.shard.index() == shard)
            .take(LAST_EVENTS)
            .collect();
        picked.extend(
            mine.into_iter()
                .rev()
                .map(|event| (*event, sim.type_name(event.type_index))),
        );
    }
    picked
}

/// Parses `0x…` hex or decimal.
fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => text.replace('_', "").parse().ok(),
    }
}

/// The command that replays `seed` of this test: the package and test target from what
/// cargo set for this process, the test function from the libtest thread's name.
fn replay_command(test: &str, seed: u64) -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".into());
    let target = std::env::args()
        .next()
        .and_then(|path| {
            let stem = std::path::Path::new(&path)
                .file_stem()?
                .to_str()?
                .to_string();
            // `cargo test` binaries are `<target>-<hash>`.
            Some(match stem.rsplit_once('-') {
                Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                    name.to_string()
                }
                _ => stem,
            })
        })
        .map(|target| {
            if target == package.replace('-', "_") {
                "--lib".to_string()
            } else {
                format!("--test {target}")
            }
        })
        .unwrap_or_default();
    let function = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(str::to_string)
        .unwrap_or_else(|| test.to_string());
    format!("TINA_SEED={seed:#x} cargo test -p {package} {target} {function} -- --exact")
}

/// Where two runs of one seed first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The index of the first differing event (0-based, in run order).
    pub index: usize,
    /// That event in the first run (`None`: the first run had ended), with its type name.
    pub first: Option<(TraceEvent, &'static str)>,
    /// That event in the second run.
    pub second: Option<(TraceEvent, &'static str)>,
    /// The trace hashes of the two runs.
    pub hashes: (u64, u64),
}

impl fmt::Display for Divergence {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "two runs of one seed diverge at event {} (trace hashes {:#x} and {:#x}):",
            self.index, self.hashes.0, self.hashes.1
        )?;
        for (run, event) in [("first", &self.first), ("second", &self.second)] {
            match event {
                Some((event, name)) => writeln!(
                    formatter,
                    "  {run} run:  {} {}[{}] {} at {}",
                    event.shard,
                    short(name),
                    event.slot,
                    event.what(),
                    event.at
                )?,
                None => writeln!(formatter, "  {run} run:  (ended)")?,
            }
        }
        Ok(())
    }
}

/// Runs a system twice — `build` makes it, `drive` runs it — with the event log on, and
/// returns the first event where the two runs differ (`None`: the same events, one by one,
/// and the same trace hash). The log keeps at most 4 Mi events per run.
///
/// # Errors
///
/// The first `Err` that `build` returns (for the first run or the second), unchanged.
pub fn first_divergence(
    build: impl Fn() -> Result<Simulation, String>,
    drive: impl Fn(&mut Simulation),
) -> Result<Option<Divergence>, String> {
    let run = || -> Result<Simulation, String> {
        let mut sim = build()?;
        sim.record_events(1 << 22);
        drive(&mut sim);
        Ok(sim)
    };
    let (first, second) = (run()?, run()?);
    let hashes = (first.trace_hash(), second.trace_hash());
    let (a, b) = (first.events(), second.events());
    let differs = (0..a.len().max(b.len())).find(|&index| a.get(index) != b.get(index));
    let index = match differs {
        Some(index) => index,
        None if hashes.0 == hashes.1 => return Ok(None),
        // Same events but different hashes: the round-level mixing differs (the shard order
        // of some round); report the end.
        None => a.len(),
    };
    Ok(Some(Divergence {
        index,
        first: a
            .get(index)
            .map(|event| (*event, first.type_name(event.type_index))),
        second: b
            .get(index)
            .map(|event| (*event, second.type_name(event.type_index))),
        hashes,
    }))
}
