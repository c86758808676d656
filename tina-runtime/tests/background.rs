//! `BootSpec::background`: the named shard's thread runs in Linux's `SCHED_IDLE` class, the
//! others keep the default policy, and the background shard still serves its isolates.
//! `BootSpec::scheduler_slice`: the other shards' threads get the slice asked for.
#![cfg(all(target_os = "linux", not(miri)))]

mod support;

use std::sync::Mutex;
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

/// The tests find shard threads by name: one system at a time.
static ONE_SYSTEM: Mutex<()> = Mutex::new(());

#[test]
fn a_background_shard_runs_at_idle_priority_and_still_serves() {
    let _one = ONE_SYSTEM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        policies = [0, 1, 2].map(|shard| {
            tid_of(&format!("tina-shard-{shard}")).map(|tid| attributes_of(tid).policy)
        });
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

/// Linux's `struct sched_attr` (56 bytes).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// Thread `tid`'s scheduling attributes (0: the calling thread).
fn attributes_of(tid: i64) -> SchedAttr {
    let mut attr = SchedAttr::default();
    // SAFETY: `attr` is a live, writable local of the size passed; the call writes at most
    // that many bytes into it.
    let got = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            tid,
            &mut attr as *mut SchedAttr,
            size_of::<SchedAttr>() as u32,
            0u32,
        )
    };
    assert_eq!(
        got,
        0,
        "sched_getattr({tid}): {}",
        std::io::Error::last_os_error()
    );
    attr
}

/// The thread id of this process's thread named `name`.
fn tid_of(name: &str) -> Option<i64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            return path.file_name()?.to_str()?.parse().ok();
        }
    }
    None
}

/// Whether this kernel keeps a per-thread slice (Linux 6.12 and later): asks for one on a
/// probe thread and reads it back.
fn kernel_keeps_slices(nanos: u64) -> bool {
    std::thread::spawn(move || {
        let mut attr = attributes_of(0);
        attr.size = size_of::<SchedAttr>() as u32;
        attr.runtime = nanos;
        // SAFETY: `attr` is a live local of `attr.size` bytes; the call only reads it.
        let set =
            unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) };
        set == 0 && attributes_of(0).runtime == nanos
    })
    .join()
    .unwrap_or(false)
}

#[test]
fn foreground_shards_get_the_scheduler_slice_asked_for() {
    const SLICE: u64 = 300_000;
    if !kernel_keeps_slices(SLICE) {
        println!("SKIPPED: this kernel keeps no per-thread scheduler slice (Linux < 6.12)");
        return;
    }
    let _one = ONE_SYSTEM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut spec = support::small_spec(2);
    spec.isolate::<Squarer>(2)
        .scheduler_slice(Duration::from_micros(300))
        .background(ShardId(1));
    let near = spec.root::<Squarer>(ShardId(0), ());
    let far = spec.root::<Squarer>(ShardId(1), ());
    let system = System::start(spec).expect("boots");
    // A reply from each shard: both threads have run past their start.
    assert_eq!(
        system.call(&near, Square(5), Duration::from_secs(5)).ok(),
        Some(25)
    );
    assert_eq!(
        system.call(&far, Square(6), Duration::from_secs(5)).ok(),
        Some(36)
    );
    let shard = |index| tid_of(&format!("tina-shard-{index}")).expect("the shard's thread");
    let foreground = attributes_of(shard(0));
    assert_eq!(
        (foreground.policy, foreground.runtime),
        (0, SLICE),
        "SCHED_OTHER, 300 µs"
    );
    assert_eq!(
        attributes_of(shard(1)).policy,
        5,
        "the background shard is in SCHED_IDLE"
    );
    let _ = system.shutdown(Duration::from_secs(2));
}
