//! Crash storm: an isolate crashing on every message for 100,000 messages. The process
//! survives, every crash is restarted, and memory stays flat: a counting allocator sees the
//! same live bytes before and after (the panic machinery's own boxes are freed again).
//!
//! One `#[test]` only: tests in one binary run in parallel and would count each other.

mod support;

use std::alloc::{GlobalAlloc, Layout, System as SystemAllocator};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use core::time::Duration;

use tina_runtime::{
    BootSpec, Ctx, Effect, Handle, Isolate, Restart, RestartBudget, ShardId, Simulation,
};

/// Tracks live heap bytes and allocator calls.
struct CountingAllocator;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

// Every method forwards to the system allocator with the caller's arguments
// unchanged, so the caller's contract is the system allocator's; counting touches only
// atomics.
// SAFETY: so this allocator keeps the contract because the system allocator does.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(size as i64 - layout.size() as i64, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.realloc(pointer, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Crashes on every message; checks in with the driver from `init`.
struct Crasher;

struct Boom(u32);

messages!(Crasher => CrasherMessage { Boom(Boom) });

impl Isolate for Crasher {
    type Message = CrasherMessage;
    type Args = Handle<Driver>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Crasher";

    fn init(driver: &Handle<Driver>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        let _ = ctx.send(driver, CheckIn(me));
        Crasher
    }

    fn handle(&mut self, message: CrasherMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let CrasherMessage::Boom(Boom(number)) = message;
        if number % 2 == 0 {
            panic!("crash number {number}");
        }
        Effect::Crash("odd crash")
    }
}

/// Sends one message to every new incarnation of the crasher.
struct Driver {
    sent: u32,
}

struct CheckIn(Handle<Crasher>);

const CRASHES: u32 = 100_000;

messages!(Driver => DriverMessage { CheckIn(CheckIn) });

impl Isolate for Driver {
    type Message = DriverMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Driver";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Driver { sent: 0 }
    }

    fn handle(&mut self, message: DriverMessage, ctx: &mut Ctx<Self>) -> Effect {
        let DriverMessage::CheckIn(CheckIn(crasher)) = message;
        if self.sent < CRASHES {
            ctx.send(&crasher, Boom(self.sent)).unwrap();
            self.sent += 1;
        }
        Effect::Receive
    }
}

#[test]
fn crash_storm_keeps_memory_flat_and_the_process_alive() {
    let mut spec = BootSpec::new(2);
    spec.print_crashes(false);
    spec.isolate::<Crasher>(1).isolate::<Driver>(1);
    // The driver on shard 0 starts first; the crasher on shard 1 restarts forever (every
    // restart is its own window).
    let driver = spec.root::<Driver>(ShardId(0), ());
    let root = spec.supervisor(ShardId(1));
    spec.budget(root, RestartBudget::new(1, Duration::from_nanos(1)));
    spec.child::<Crasher>(root, Restart::Permanent, driver);
    let mut sim = Simulation::new(spec, 13).unwrap();

    // Warm up: the first crashes touch lazily initialised process state (the panic hook,
    // thread-locals).
    while sim.totals().crashed < 1_000 {
        sim.step();
    }
    let live_before = LIVE_BYTES.load(Ordering::SeqCst);
    let calls_before = CALLS.load(Ordering::SeqCst);
    let report = sim.run(u64::MAX);
    let live_after = LIVE_BYTES.load(Ordering::SeqCst);
    let calls = CALLS.load(Ordering::SeqCst) - calls_before;

    assert!(report.quiescent);
    let totals = sim.totals();
    assert_eq!(totals.crashed, u64::from(CRASHES));
    assert_eq!(totals.restarts, u64::from(CRASHES));
    assert_eq!(sim.state(driver).unwrap().sent, CRASHES);
    assert_eq!(
        live_after,
        live_before,
        "live heap bytes changed across {} crashes",
        CRASHES - 1_000
    );
    let reports: Vec<_> = sim.crash_reports(ShardId(1)).collect();
    assert_eq!(reports.len(), 64, "the crash log is bounded");
    assert!(
        reports
            .iter()
            .any(|report| report.reason.starts_with("panicked: crash number"))
    );
    assert!(
        reports
            .iter()
            .any(|report| report.reason.as_str() == "odd crash")
    );
    eprintln!("allocator calls during the storm (panic payloads, freed again): {calls}");
    sim.check_pools().unwrap();
}

test_data!(Boom, CheckIn, Crasher, Driver);
