//! Boot never aborts on a refused allocation: every structure whose size the spec sets is
//! allocated with `try_reserve`, and a refusal becomes `SpecError::OutOfMemory` naming what
//! was being built, from both `System::start` and `Simulation::new`, with nothing left
//! running. The allocator here refuses every single allocation above `LIMIT` bytes while
//! armed, so each spec below makes one structure larger than that and everything else small.

mod support;

use std::alloc::{GlobalAlloc, Layout, System as SystemAllocator};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tina_runtime::{
    BootError, BootSpec, Ctx, Effect, Isolate, ShardId, Simulation, SpecError, System,
};

/// The largest single allocation granted while armed.
const LIMIT: usize = 16 << 20;

/// Refuses (returns null for) allocations above `LIMIT` while `ARMED` is set.
struct RefusingAllocator;

static ARMED: AtomicBool = AtomicBool::new(false);
static REFUSED: AtomicU64 = AtomicU64::new(0);

// The allocator either forwards a request unchanged to the system allocator or returns
// null, which `GlobalAlloc` allows for any request ("the allocator could not satisfy it").
// SAFETY: so this allocator keeps the contract because the system allocator does.
unsafe impl GlobalAlloc for RefusingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) && layout.size() > LIMIT {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; every pointer freed here came from the system
        // allocator (a refusal hands out no pointer).
        unsafe { SystemAllocator.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: RefusingAllocator = RefusingAllocator;

/// A small isolate.
struct Small;

/// A message for it.
struct Nudge;

messages!(Small => SmallMessage { Nudge(Nudge) });

impl Isolate for Small {
    type Message = SmallMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Small";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Small
    }

    fn handle(&mut self, _message: SmallMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

/// An isolate with a large state: its arena is the large allocation.
struct Heavy {
    _bytes: [u8; 256],
}

messages!(Heavy => HeavyMessage { Nudge(Nudge) });
// Plain data: a unit struct, and a fixed array of bytes.
test_data!(Nudge, Small, Heavy);

impl Isolate for Heavy {
    type Message = HeavyMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Heavy";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Heavy { _bytes: [0; 256] }
    }

    fn handle(&mut self, _message: HeavyMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

/// A spec that boots within `LIMIT` per allocation.
fn small() -> BootSpec {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Small>(4)
        .pool_slots(1024)
        .ring_capacity(64)
        .pin_threads(false);
    spec.root::<Small>(ShardId(0), ());
    spec
}

/// Boots `make()` on threads and in simulation with the allocator armed; both must refuse
/// with `OutOfMemory` naming `what`, and nothing may be left running.
fn refused(name: &str, make: impl Fn() -> BootSpec, what: &str) {
    let before = REFUSED.load(Ordering::Relaxed);
    ARMED.store(true, Ordering::SeqCst);
    let threads = System::start(make());
    let simulated = Simulation::new(make(), 1);
    ARMED.store(false, Ordering::SeqCst);
    assert!(
        REFUSED.load(Ordering::Relaxed) > before,
        "{name}: the allocator refused nothing (the spec's structure fits in {LIMIT} bytes)"
    );
    let check = |driver: &str, errors: &[SpecError]| {
        assert_eq!(errors.len(), 1, "{name} ({driver}): {errors:?}");
        match &errors[0] {
            SpecError::OutOfMemory {
                what: built, bytes, ..
            } => {
                assert!(built.contains(what), "{name} ({driver}): {built:?}");
                assert!(*bytes > LIMIT, "{name} ({driver}): {bytes} bytes");
            }
            other => panic!("{name} ({driver}): {other:?}"),
        }
        let text = errors[0].to_string();
        assert!(
            text.contains("the allocator refused") && text.contains("lower those settings"),
            "{name} ({driver}): {text}"
        );
    };
    match threads {
        Err(BootError::Spec(errors)) => check("System::start", &errors.0),
        Err(other) => panic!("{name} (System::start): {other}"),
        Ok(system) => {
            let _ = system.shutdown(std::time::Duration::from_secs(1));
            panic!("{name} (System::start): booted")
        }
    }
    match simulated {
        Err(errors) => check("Simulation::new", &errors.0),
        Ok(_) => panic!("{name} (Simulation::new): booted"),
    }
}

#[test]
fn a_refused_boot_allocation_is_an_error_not_an_abort() {
    refused(
        "pool",
        || {
            let mut spec = small();
            spec.pool_slots(1 << 20);
            spec
        },
        "envelope pool",
    );
    refused(
        "rings",
        || {
            let mut spec = small();
            spec.ring_capacity(1 << 18);
            spec
        },
        "rings between shards",
    );
    refused(
        "arena",
        || {
            let mut spec = small();
            spec.isolate::<Heavy>(100_000);
            spec
        },
        "states of an isolate type",
    );
    refused(
        "buffers",
        || {
            let mut spec = small();
            spec.buffer_class(1 << 20, 32);
            spec
        },
        "transfer-buffer class",
    );
    // Disarmed, the same process boots and runs as usual: the refusals left nothing behind.
    let system = System::start(small()).unwrap();
    let summary = system.shutdown(std::time::Duration::from_secs(1));
    assert!(summary.drained);
    let mut sim = Simulation::new(small(), 1).unwrap();
    assert!(sim.run(1_000).quiescent);
}
