//! `BootSpec::background`: the named shard's thread runs in Linux's `SCHED_IDLE` class, the
//! others keep the default policy, and the background shard still serves its isolates.
#![cfg(all(target_os = "linux", not(miri)))]

mod support;

use std::time::{Duration, Instant};

use tina::prelude::*;

/// A question from outside the system.
#[derive(Bounded, Request)]
#[reply(u64)]
struct Square(u64);

/// Answers squares.
#[isolate(mailbox = 4)]
struct Squarer;

#[isolate]
impl Squarer {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Squarer
    }

    fn square(&mut self, question: Square, reply: ReplyTo<Square>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, question.0 * question.0)
    }
}

/// The scheduling policy of this process's thread named `name` (field 41 of its
/// `/proc/self/task/<tid>/stat`), if there is one.
fn policy_of(name: &str) -> Option<u32> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: count the
        // fields after its closing one, which is field 3.
        let after = &stat[stat.rfind(')')? + 2..];
        return after.split(' ').nth(41 - 3)?.parse().ok();
    }
    None
}

#[test]
fn a_background_shard_runs_at_idle_priority_and_still_serves() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;
    let mut spec = support::small_spec(3);
    spec.isolate::<Squarer>(2).background(ShardId(2));
    let near = spec.root::<Squarer>(ShardId(0), ());
    let far = spec.root::<Squarer>(ShardId(2), ());
    let system = System::start(spec).expect("boots");

    // Each thread sets its policy as it starts: a reply from the background shard means it
    // has run past that point.
    assert_eq!(
        system.call(&far, Square(12), Duration::from_secs(5)).ok(),
        Some(144)
    );
    assert_eq!(
        system.call(&near, Square(3), Duration::from_secs(5)).ok(),
        Some(9)
    );
    let started = Instant::now();
    let mut policies = [None; 3];
    while started.elapsed() < Duration::from_secs(5) {
        policies = [0, 1, 2].map(|shard| policy_of(&format!("tina-shard-{shard}")));
        if policies.iter().all(Option::is_some) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        policies,
        [Some(SCHED_OTHER), Some(SCHED_OTHER), Some(SCHED_IDLE)],
        "shard 2 alone is in SCHED_IDLE"
    );
    let _ = system.shutdown(Duration::from_secs(2));
}
