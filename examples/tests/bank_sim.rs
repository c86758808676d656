//! The bank under deterministic simulation (issue 15): money is conserved under drops,
//! delays, partitions and crashes for 1,000 seeds of swarm configurations; a deliberately
//! buggy bank is caught by a sweep, its seed replays the same failure, and the seeds it was
//! caught with stay in the corpus.
//!
//! `TINA_SEED=0x… cargo test -p tina-examples --test bank_sim <test> -- --exact` replays one
//! seed; `TINA_SEEDS=N` sweeps N.

use tina::prelude::*;
use tina::sim::{CrashTargets, FailureKind, Faults, Ratio, SimTest};
use tina_examples::bank::{BankPlan, BankWorld, Teller, bank_spec, conserved, settled};

fn manifest(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Injected crashes aim at tellers: an account that crashed would lose its balance with
/// its state (a bank keeps balances in durable storage; this one keeps them in memory).
fn teller_only() -> CrashTargets {
    Faults::none().crash_only::<Teller>().crash_targets
}

fn bank(name: &'static str, plan: BankPlan) -> SimTest<BankWorld> {
    SimTest::new(name, move |seed| bank_spec(plan, seed))
        .checker("money is conserved", 25, conserved)
        .at_end("every payment delivered", settled)
        .max_rounds(200_000)
}

#[test]
fn money_is_conserved_under_swarm_faults() {
    let test = bank("bank", BankPlan::default())
        .swarm(teller_only())
        .corpus(manifest("tests/corpus/bank.seeds"));
    let swept = test.run(1_000);
    assert!(
        swept.seeds >= 1_000
            || std::env::var("TINA_SEEDS").is_ok()
            || std::env::var("TINA_SEED").is_ok()
    );
    if swept.seeds >= 1_000 {
        // The sweep really injected every kind it could here (no sockets in this system).
        let faults = swept.faults;
        eprintln!("bank sweep: {swept:?}");
        assert!(faults.dropped > 0, "{faults:?}");
        assert!(faults.delayed > 0, "{faults:?}");
        assert!(
            faults.partitions > 0 && faults.one_way_partitions > 0,
            "{faults:?}"
        );
        assert!(faults.crashes > 0 && faults.init_failures > 0, "{faults:?}");
    }
}

#[test]
fn every_fault_at_once_conserves_money() {
    let faults = Faults {
        crash_targets: teller_only(),
        ..Faults::all()
    };
    let test = bank("bank-all-faults", BankPlan::default()).faults(faults);
    let swept = test
        .sweep(0, 100)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(swept.faults.dropped > 0 && swept.faults.crashes > 0);
}

fn buggy() -> SimTest<BankWorld> {
    let plan = BankPlan {
        dedup: false,
        ..BankPlan::default()
    };
    bank("buggy-bank", plan)
        .faults(Faults {
            drop: Ratio::new(1, 50),
            delay: Ratio::new(1, 10),
            delay_max: core::time::Duration::from_millis(3),
            ..Faults::none()
        })
        .corpus(manifest("tests/corpus/bank_buggy.seeds"))
}

#[test]
fn a_sweep_finds_the_buggy_bank_and_its_seed_replays() {
    let test = buggy();
    let failure = match test.sweep(0, 200) {
        Ok(swept) => panic!("200 seeds of drops and delays missed the double deposit: {swept:?}"),
        Err(failure) => failure,
    };
    let report = failure.to_string();
    eprintln!("{report}");
    assert!(
        matches!(failure.kind, FailureKind::Checker("money is conserved", _)),
        "{report}"
    );
    assert!(
        report.contains(&format!("TINA_SEED={:#x}", failure.seed)),
        "{report}"
    );
    assert!(report.contains("drop=1/50"), "{report}");
    assert!(!failure.last_events.is_empty(), "{report}");
    // The seed alone reproduces it: same failure, same round, same trace.
    let again = test
        .run_seed(failure.seed)
        .expect_err("the seed replays the failure");
    assert_eq!(again.kind, failure.kind);
    assert_eq!(again.report, failure.report);
    // The correct bank passes the very same seed and faults.
    let fixed = bank("buggy-bank", BankPlan::default()).faults(test.faults_for(failure.seed));
    fixed
        .run_seed(failure.seed)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn the_corpus_seeds_still_catch_the_buggy_bank() {
    let test = buggy();
    let seeds = test.corpus_seeds();
    assert!(!seeds.is_empty(), "the buggy bank's corpus is checked in");
    for seed in seeds {
        let failure = test
            .run_seed(seed)
            .expect_err("a corpus seed of the buggy bank still fails");
        assert!(
            matches!(failure.kind, FailureKind::Checker(..)),
            "{failure}"
        );
    }
}

#[test]
fn the_bank_is_deterministic() {
    let test = bank("bank", BankPlan::default()).swarm(teller_only());
    for index in 0..5 {
        let seed = tina::sim::sweep_seed("bank", index);
        let divergence = test.check_determinism(seed).expect("the bank boots");
        assert_eq!(divergence, None, "seed {seed:#x}");
    }
}

#[test]
fn tellers_finish_and_money_moves() {
    let (spec, world) = bank_spec(BankPlan::default(), 1);
    let mut sim = Simulation::new(spec, 1).unwrap();
    let report = sim.run(200_000);
    assert!(report.quiescent);
    conserved(&world, &sim).unwrap();
    settled(&world, &sim).unwrap();
    let taken: u32 = world
        .tellers
        .iter()
        .map(|teller| sim.state(*teller).unwrap().taken)
        .sum();
    assert!(taken > 40, "transfers taken: {taken}");
    let applied: u64 = world
        .accounts
        .iter()
        .map(|account| sim.state(*account).unwrap().deposits_applied)
        .sum();
    assert_eq!(applied, u64::from(taken));
}

#[test]
fn shrinking_simplifies_the_buggy_banks_faults() {
    let test = buggy();
    let seed = test.corpus_seeds()[0];
    let shrunk = test.shrink(seed, 40).expect("the corpus seed fails");
    eprintln!("{shrunk}");
    assert!(matches!(
        shrunk.failure.kind,
        FailureKind::Checker("money is conserved", _)
    ));
    assert!(shrunk.injected.1 <= shrunk.injected.0, "{shrunk}");
    assert!(shrunk.rounds.1 <= shrunk.rounds.0, "{shrunk}");
    // Something was simplified: a kind turned off or a rate made rarer.
    assert_ne!(shrunk.faults, test.faults_for(seed), "{shrunk}");
    // And the smallest configuration still fails on its own.
    let again = buggy().faults(shrunk.faults.clone());
    assert!(again.run_seed(seed).is_err());
}
