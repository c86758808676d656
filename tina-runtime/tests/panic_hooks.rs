//! Panic hooks and crash output (issue 12, item 8): crash reasons come from the panic payload,
//! whichever hook is installed; Tina's hook chains to one installed before boot; crash lines
//! left unprinted by the rate limit are reported; `print_crashes(false)` prints nothing about
//! crashes. Each test failed before the change.
//!
//! The panic hook is process-wide, so everything that installs one runs in sequence in
//! `panic_hooks_before_and_after_boot`, the only test of this binary that boots in-process
//! (the other one re-runs this binary in child processes, to read their stderr).

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use tina::prelude::*;
use tina::{CrashReport, RestartBudget};

/// How a `Bomb` panics.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `panic!` with a formatted message: a `String` payload.
    Formatted,
    /// `panic!` with a literal: a `&'static str` payload.
    Literal,
    /// `panic_any(42u32)`: not a string.
    Number,
}

#[derive(Bounded)]
struct Blast {
    kind: u8,
}

impl Blast {
    fn new(kind: Kind) -> Self {
        Blast { kind: kind as u8 }
    }
}

#[isolate(mailbox = 2)]
struct Bomb {
    id: u32,
}

#[isolate]
impl Bomb {
    fn init(id: &u32, _ctx: &mut Ctx<Self>) -> Self {
        Bomb { id: *id }
    }

    fn blast(&mut self, blast: Blast, _ctx: &mut Ctx<Self>) -> Effect {
        match blast.kind {
            0 => panic!("blast {}", self.id),
            1 => panic!("literal blast"),
            _ => std::panic::panic_any(42u32),
        }
    }
}

/// `count` bombs on each of `shards` shards, under root groups that restart them freely.
fn boot(shards: usize, count: u32, print: bool) -> (Simulation, Vec<Vec<Handle<Bomb>>>) {
    let mut spec = BootSpec::new(shards);
    spec.print_crashes(print).isolate::<Bomb>(count as usize);
    let mut bombs = Vec::new();
    for shard in 0..shards {
        let shard = ShardId(shard as u16);
        let root = spec.supervisor(shard);
        spec.budget(root, RestartBudget::new(1_000, Duration::from_secs(1)));
        bombs.push((0..count).map(|id| spec.root::<Bomb>(shard, id)).collect());
    }
    (Simulation::new(spec, 1).unwrap(), bombs)
}

/// Blows `bomb` up and returns the report of its crash.
fn crash(sim: &mut Simulation, bomb: Handle<Bomb>, kind: Kind) -> CrashReport {
    let shard = bomb.raw().shard();
    let before = sim.counters(shard).crashed;
    sim.send(&bomb, Blast::new(kind)).unwrap();
    assert!(sim.run(1_000).quiescent);
    assert_eq!(sim.counters(shard).crashed, before + 1);
    sim.crash_reports(shard).last().unwrap().clone()
}

/// What the test's hooks saw: (which hook, the panic's message).
static SEEN: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

/// What the test's hooks do: note the panic, and print it unless the test raised it (a
/// failed assertion must still be shown).
fn note(hook: &'static str, info: &std::panic::PanicHookInfo<'_>) {
    let message = info.payload_as_str().unwrap_or("<not a string>").to_owned();
    let raised = ["blast ", "literal blast", "outside ", "<not a string>"]
        .iter()
        .any(|start| message.starts_with(start));
    if !raised {
        eprintln!("{info}");
    }
    SEEN.lock().unwrap().push((hook, message));
}

fn seen_by(hook: &'static str, message: &str) -> bool {
    SEEN.lock()
        .unwrap()
        .iter()
        .any(|(by, seen)| *by == hook && seen == message)
}

/// A reason with the location Tina's hook noted: this file.
fn assert_located(report: &CrashReport, text: &str) {
    let prefix = format!("{text} at ");
    assert!(
        report.reason.starts_with(&prefix) && report.reason.contains("panic_hooks.rs:"),
        "{report}"
    );
}

#[test]
fn panic_hooks_before_and_after_boot() {
    // 1. A hook installed before boot: Tina chains to it.
    std::panic::set_hook(Box::new(|info| note("before", info)));
    let (mut sim, bombs) = boot(1, 8, false);
    let bombs = &bombs[0];

    // An isolate panic is Tina's: a crash report with the message and location; the user's
    // hook is not bothered with it.
    let report = crash(&mut sim, bombs[0], Kind::Formatted);
    assert_located(&report, "panicked: blast 0");
    assert!(!seen_by("before", "blast 0"));
    // A non-string payload gives a readable reason.
    let report = crash(&mut sim, bombs[1], Kind::Number);
    assert_located(&report, "panicked with a non-string payload");

    // A panic outside any isolate, after boot, still reaches the hook installed before.
    let outside = std::panic::catch_unwind(|| panic!("outside 1"));
    assert!(outside.is_err());
    assert!(seen_by("before", "outside 1"), "{:?}", SEEN.lock().unwrap());

    // 2. A hook installed after boot that calls the one it replaced (Tina's): it sees every
    //    panic, and Tina's goes on noting locations and passing other panics along.
    let tina = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        note("chained", info);
        tina(info);
    }));
    let report = crash(&mut sim, bombs[2], Kind::Literal);
    assert_located(&report, "panicked: literal blast");
    assert!(seen_by("chained", "literal blast"));
    assert!(!seen_by("before", "literal blast"));
    let outside = std::panic::catch_unwind(|| panic!("outside 2"));
    assert!(outside.is_err());
    assert!(seen_by("chained", "outside 2") && seen_by("before", "outside 2"));

    // 3. A hook installed after boot that replaces Tina's outright: reasons are still the
    //    panic's own (never blank, never an earlier panic's), without a location.
    std::panic::set_hook(Box::new(|info| note("after", info)));
    let report = crash(&mut sim, bombs[3], Kind::Formatted);
    assert_eq!(report.reason.as_str(), "panicked: blast 3", "{report}");
    assert!(seen_by("after", "blast 3"));
    let report = crash(&mut sim, bombs[4], Kind::Literal);
    assert_eq!(
        report.reason.as_str(),
        "panicked: literal blast",
        "{report}"
    );
    let report = crash(&mut sim, bombs[5], Kind::Number);
    assert_eq!(
        report.reason.as_str(),
        "panicked with a non-string payload",
        "{report}"
    );
    assert!(seen_by("after", "<not a string>"));
    assert_eq!(sim.totals().restarts, 6, "every bomb came back");

    drop(std::panic::take_hook()); // std's default again
}

/// Set in the child processes `crash_lines_on_stderr` starts: which scenario to run.
const CHILD: &str = "TINA_PANIC_HOOKS_CHILD";

/// A storm of 47 crashes within one second on shard 0, and shard 1 quarantined (its root
/// group allows one restart, and two of its isolates crash); then the simulation is dropped,
/// with shard 0's last 37 crashes not yet reported.
fn storm(print: bool) {
    let mut spec = BootSpec::new(2);
    spec.print_crashes(print).isolate::<Bomb>(47);
    let root_0 = spec.supervisor(ShardId(0));
    spec.budget(root_0, RestartBudget::new(1_000, Duration::from_secs(1)));
    let root_1 = spec.supervisor(ShardId(1));
    spec.budget(root_1, RestartBudget::new(1, Duration::from_secs(60)));
    let mut bombs: Vec<Handle<Bomb>> = (0..47).map(|id| spec.root(ShardId(0), id)).collect();
    bombs.extend((100..102).map(|id| spec.root::<Bomb>(ShardId(1), id)));
    let mut sim = Simulation::new(spec, 1).unwrap();
    for bomb in &bombs {
        sim.send(bomb, Blast::new(Kind::Formatted)).unwrap();
    }
    sim.run(10_000);
    assert_eq!(sim.counters(ShardId(0)).crashed, 47);
    assert!(sim.is_quarantined(ShardId(1)));
    assert!(
        sim.now() < Instant::from_nanos(1_000_000_000),
        "all within one second"
    );
    drop(sim);
}

/// Runs `scenario` in a child process (this test binary, this test alone, output not
/// captured) and returns the lines of its stderr.
fn child_stderr(scenario: &str) -> Vec<String> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_lines_on_stderr",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{scenario}: {stderr}");
    stderr.lines().map(str::to_owned).collect()
}

#[test]
fn crash_lines_on_stderr() {
    match std::env::var(CHILD).as_deref() {
        Ok("loud") => return storm(true),
        Ok("quiet") => return storm(false),
        _ => {}
    }
    let loud = child_stderr("loud");
    let shard_0: Vec<&String> = loud
        .iter()
        .filter(|line| line.starts_with("tina: shard 0: "))
        .collect();
    // Ten lines printed, then, when the shard stops, one for the 37 left out.
    let crash_lines = shard_0
        .iter()
        .filter(|line| line.contains(" crashed at "))
        .count();
    assert_eq!(crash_lines, 10, "{loud:#?}");
    let notice = "tina: shard 0: … 37 more crashes between 0s and 1s (not printed)";
    assert_eq!(
        shard_0.last().map(|line| line.as_str()),
        Some(notice),
        "{loud:#?}"
    );
    let quarantine =
        "tina: shard 1: root supervision group over its restart budget; shard quarantined";
    assert!(loud.iter().any(|line| line == quarantine), "{loud:#?}");

    let quiet = child_stderr("quiet");
    assert!(
        !quiet
            .iter()
            .any(|line| line.contains("tina:") || line.contains("panicked")),
        "print_crashes(false) printed {quiet:#?}"
    );
}
