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
