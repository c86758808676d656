//! Lifecycle (issue 12): a dropped `System` shuts down and joins its threads; the drain
//! reports overruns; simulated time saturates and `run_until` stops where it is told.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tina::prelude::*;

/// Counts state drops, to see teardown happen on the shard threads.
static DROPPED: AtomicU32 = AtomicU32::new(0);

#[derive(Bounded)]
struct Nap {
    millis: u64,
}

/// Only the states of the drop test count (tests run in parallel).
const COUNTED: u8 = 7;

#[isolate(mailbox = 4)]
struct Sleeper {
    marker: u8,
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        if self.marker == COUNTED {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[isolate]
impl Sleeper {
    fn init(marker: &u8, _ctx: &mut Ctx<Self>) -> Self {
        Sleeper { marker: *marker }
    }

    fn nap(&mut self, nap: Nap, _ctx: &mut Ctx<Self>) -> Effect {
        std::thread::sleep(Duration::from_millis(nap.millis));
        Effect::Receive
    }
}

fn sleepers(shards: usize, marker: u8) -> (BootSpec, Vec<Handle<Sleeper>>) {
    let mut spec = BootSpec::new(shards);
    spec.pin_threads(false).isolate::<Sleeper>(1);
    let handles = (0..shards)
        .map(|shard| spec.root::<Sleeper>(ShardId(shard as u16), marker))
        .collect();
    (spec, handles)
}

#[test]
fn dropping_a_system_shuts_it_down_and_joins_every_thread() {
    let (spec, _handles) = sleepers(2, COUNTED);
    let before = DROPPED.load(Ordering::SeqCst);
    let system = System::start(spec).unwrap();
    drop(system);
    // Both states were torn down on their shard threads before `drop` returned.
    assert_eq!(DROPPED.load(Ordering::SeqCst), before + 2);
}

#[test]
fn a_handler_running_past_the_drain_deadline_is_an_overrun() {
    let (spec, handles) = sleepers(2, 0);
    let system = System::start(spec).unwrap();
    system.send(&handles[1], Nap { millis: 600 }).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let summary = system.shutdown(Duration::from_millis(100));
    assert!(
        !summary.drained,
        "shard 1 was inside a 600 ms handler at the deadline"
    );
    assert_eq!(summary.drain, Duration::from_millis(100));
    assert_eq!(summary.overruns.len(), 1, "{:?}", summary.overruns);
    let (shard, by) = summary.overruns[0];
    assert_eq!(shard, ShardId(1));
    assert!(by >= Duration::from_millis(300), "overran by {by:?}");
}

#[test]
fn a_quick_shutdown_drains_without_overruns() {
    let (spec, _handles) = sleepers(2, 0);
    let system = System::start(spec).unwrap();
    let summary = system.shutdown(Duration::from_secs(2));
    assert!(summary.drained);
    assert!(summary.overruns.is_empty());
}

#[derive(Bounded)]
struct Ring;

/// Sets one timer at `delay` from init and records when it fired.
#[isolate(mailbox = 2)]
struct Alarm {
    fired_at: Option<Instant>,
}

#[isolate]
impl Alarm {
    fn init(delay: &Duration, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(*delay, Ring).expect("a timer");
        Alarm { fired_at: None }
    }

    fn ring(&mut self, _ring: Ring, ctx: &mut Ctx<Self>) -> Effect {
        self.fired_at = Some(ctx.now());
        Effect::Receive
    }
}

fn alarm(delay: Duration) -> (Simulation, Handle<Alarm>) {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Alarm>(1);
    let alarm = spec.root::<Alarm>(ShardId(0), delay);
    (Simulation::new(spec, 1).unwrap(), alarm)
}

#[test]
fn a_duration_max_timer_saturates_simulated_time_instead_of_overflowing() {
    let (mut sim, alarm) = alarm(Duration::MAX);
    let report = sim.run(1_000);
    assert!(report.quiescent);
    assert_eq!(sim.now(), Instant::from_nanos(u64::MAX));
    assert_eq!(
        sim.state(alarm).unwrap().fired_at,
        Some(Instant::from_nanos(u64::MAX))
    );
}

#[test]
fn run_until_stops_at_its_time_and_leaves_later_timers_pending() {
    let (mut sim, alarm) = alarm(Duration::from_secs(3600));
    let report = sim.run_until(Instant::from_nanos(10_000_000_000));
    assert!(!report.quiescent);
    assert_eq!(report.now, Instant::from_nanos(10_000_000_000));
    assert_eq!(
        sim.state(alarm).unwrap().fired_at,
        None,
        "the 1 h timer is still pending"
    );
    assert_eq!(
        sim.next_timer_deadline(),
        Some(Instant::from_nanos(3_600_000_000_000))
    );
}

#[test]
fn run_until_fires_what_is_due_at_its_time() {
    let (mut sim, alarm) = alarm(Duration::from_secs(10));
    sim.run_until(Instant::from_nanos(10_000_000_000));
    assert_eq!(
        sim.counters(ShardId(0)).timers_fired,
        1,
        "due at exactly 10 s"
    );
    sim.run(100);
    assert_eq!(
        sim.state(alarm).unwrap().fired_at,
        Some(Instant::from_nanos(10_000_000_000))
    );
}

/// An isolate whose `init` always panics.
#[isolate(mailbox = 2)]
struct Doomed;

#[isolate]
impl Doomed {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        panic!("cannot start: no config");
    }
}

#[test]
fn a_root_that_cannot_start_fails_the_boot_with_its_crash_report() {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false)
        .print_crashes(false)
        .isolate::<Doomed>(1)
        .isolate::<Sleeper>(1);
    spec.root::<Sleeper>(ShardId(0), 0);
    spec.root::<Doomed>(ShardId(1), ());
    match System::start(spec) {
        Err(tina::BootError::RootFailed { shard, report }) => {
            assert_eq!(shard, ShardId(1));
            let report = report.expect("the crash that took the group over budget");
            assert_eq!(report.type_name, "Doomed");
            assert!(report.reason.contains("no config"), "{report}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_system) => panic!("a system whose root cannot start must not boot"),
    }
}

/// Crashes on demand.
#[derive(Bounded)]
struct Crash;

/// Starts fine, then crashes 20 ms later, every incarnation.
#[isolate(mailbox = 8)]
struct Fragile;

#[isolate]
impl Fragile {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_millis(20), Crash)
            .expect("a timer");
        Fragile
    }

    fn crash(&mut self, _crash: Crash, _ctx: &mut Ctx<Self>) -> Effect {
        panic!("fragile broke");
    }
}

#[test]
fn health_shows_a_quarantine_with_its_cause_and_a_revive() {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false)
        .print_crashes(false)
        .isolate::<Fragile>(1)
        .isolate::<Sleeper>(1);
    let group = spec.supervisor(ShardId(1));
    spec.budget(group, tina::RestartBudget::new(1, Duration::from_secs(60)));
    spec.root::<Sleeper>(ShardId(0), 0);
    spec.root::<Fragile>(ShardId(1), ());
    let system = System::start(spec).unwrap();
    let seen = system.health_generation();
    let health = system.health();
    assert!(
        health
            .iter()
            .all(|shard| shard.state == tina::ShardState::Running)
    );
    // Two crashes 20 ms apart, one restart allowed: quarantined about 40 ms after boot.
    assert!(system.wait_for_health_change(seen, Duration::from_secs(10)));
    let health = system.health();
    assert_eq!(health[0].state, tina::ShardState::Running);
    assert_eq!(health[1].state, tina::ShardState::Quarantined);
    assert_eq!(health[1].quarantines, 1);
    let cause = health[1]
        .last_escalation
        .as_ref()
        .expect("the crash behind it");
    assert!(cause.reason.contains("fragile broke"), "{cause}");
    let seen = system.health_generation();
    system.revive(ShardId(1));
    assert!(system.wait_for_health_change(seen, Duration::from_secs(10)));
    assert_eq!(system.health()[1].state, tina::ShardState::Running);
    system.shutdown(Duration::from_secs(1));
}

/// Spawns one `Doomed` dynamic child (permanent) in its own group.
#[isolate(mailbox = 2)]
struct Parent {
    spawned: bool,
}

#[isolate]
impl Parent {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        let spawned = ctx
            .spawn_child::<Doomed>((), tina::Restart::Permanent)
            .is_ok();
        Parent { spawned }
    }
}

fn doomed_child(child_budget: bool) -> (Simulation, Handle<Parent>) {
    let mut spec = BootSpec::new(1);
    spec.print_crashes(false)
        .isolate::<Parent>(1)
        .isolate::<Doomed>(1);
    let group = spec.supervisor(ShardId(0));
    spec.budget(group, tina::RestartBudget::new(5, Duration::from_secs(1)))
        .dynamic_children(group, 1);
    if child_budget {
        spec.dynamic_child_budget(group, tina::RestartBudget::new(2, Duration::from_secs(1)));
    }
    let parent = spec.root::<Parent>(ShardId(0), ());
    (Simulation::new(spec, 4).unwrap(), parent)
}

#[test]
fn by_default_a_dynamic_child_that_cannot_start_escalates_as_in_otp() {
    let (mut sim, _parent) = doomed_child(false);
    sim.run(10_000);
    let counters = sim.counters(ShardId(0));
    assert_eq!(counters.quarantines, 1, "{counters:?}");
    assert_eq!(counters.children_given_up, 0);
}

#[test]
fn a_per_child_budget_gives_up_the_bad_child_and_keeps_the_shard() {
    let (mut sim, parent) = doomed_child(true);
    sim.run(10_000);
    let counters = sim.counters(ShardId(0));
    assert_eq!(counters.quarantines, 0, "{counters:?}");
    assert_eq!(counters.children_given_up, 1);
    assert_eq!(counters.restarts, 2, "its own budget: two restarts");
    assert_eq!(counters.crashed, 3);
    assert!(sim.state(parent).unwrap().spawned, "the parent lives on");
    assert_eq!(counters.live_isolates, 1);
}

/// Leaves at once.
#[isolate(mailbox = 2)]
struct Brief;

#[isolate]
impl Brief {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Crash).expect("room");
        Brief
    }

    fn leave(&mut self, _crash: Crash, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Done
    }
}

/// Tries to spawn a `Brief` once the static one has left.
#[isolate(mailbox = 2)]
struct LateSpawner {
    result: Option<Result<(), tina::SpawnError>>,
}

#[isolate]
impl LateSpawner {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_millis(1), Crash).expect("a timer");
        LateSpawner { result: None }
    }

    fn spawn_now(&mut self, _crash: Crash, ctx: &mut Ctx<Self>) -> Effect {
        self.result = Some(ctx.spawn::<Brief>(()).map(|_| ()));
        Effect::Receive
    }
}

#[test]
fn a_static_child_that_ends_keeps_its_slot() {
    for slots in [1, 2] {
        let mut spec = BootSpec::new(1);
        spec.isolate::<Brief>(slots).isolate::<LateSpawner>(1);
        let brief = spec.root::<Brief>(ShardId(0), ());
        let spawner = spec.root::<LateSpawner>(ShardId(0), ());
        let mut sim = Simulation::new(spec, 2).unwrap();
        sim.run(10_000);
        assert!(sim.state(brief).is_none(), "the static child has left");
        let expected = if slots == 1 {
            Err(tina::SpawnError::NoFreeSlot)
        } else {
            Ok(())
        };
        assert_eq!(
            sim.state(spawner).unwrap().result,
            Some(expected),
            "{slots} slots"
        );
    }
}

#[test]
fn a_spec_larger_than_the_machine_is_refused_with_the_numbers() {
    // 256 shards of 512 MiB of transfer buffers each: 128 GiB.
    let mut spec = BootSpec::new(256);
    spec.pin_threads(false)
        .isolate::<Sleeper>(1)
        .buffer_class(16 << 20, 32);
    let error = match System::start(spec) {
        Err(tina::BootError::Spec(errors)) => errors.to_string(),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_system) => panic!("a 128 GiB spec must not boot on this machine"),
    };
    assert!(error.contains("reserves"), "{error}");
    assert!(error.contains("shards of this size"), "{error}");
}

#[test]
fn a_memory_limit_in_the_spec_is_enforced_by_both_drivers() {
    let spec = || {
        let mut spec = BootSpec::new(2);
        spec.pin_threads(false)
            .isolate::<Sleeper>(1)
            .memory_limit(64 << 10);
        spec
    };
    let needed = spec().validate().unwrap().bytes_per_shard as u64 * 2;
    assert!(needed > 64 << 10);
    let text = match Simulation::new(spec(), 1) {
        Err(errors) => errors.to_string(),
        Ok(_) => panic!("over the spec's own cap"),
    };
    assert!(text.contains(&format!("reserves {needed} bytes")), "{text}");
    assert!(text.contains("memory_limit"), "{text}");
    assert!(matches!(
        System::start(spec()),
        Err(tina::BootError::Spec(_))
    ));
    // A cap with room is no obstacle.
    let mut roomy = spec();
    roomy.memory_limit(needed);
    assert!(Simulation::new(roomy, 1).is_ok());
}
