//! Boot-spec validation: each invalid field is refused with its own clear error.

mod support;

use std::time::Duration;

use tina_runtime::{BootError, BootSpec, Ctx, Effect, Isolate, ShardId, SpecError, System};

struct Idle;

messages!(Idle => IdleMessage {});

impl Isolate for Idle {
    type Message = IdleMessage;
    type Args = ();
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Idle";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Idle
    }

    fn handle(&mut self, message: IdleMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {}
    }
}

/// Declares a mailbox bound of zero (the macro refuses this at compile time; a hand-written
/// impl is caught at boot).
struct ZeroMailbox;

messages!(ZeroMailbox => ZeroMessage {});

impl Isolate for ZeroMailbox {
    type Message = ZeroMessage;
    type Args = ();
    const MAILBOX: usize = 0;
    const NAME: &'static str = "ZeroMailbox";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        ZeroMailbox
    }

    fn handle(&mut self, message: ZeroMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {}
    }
}

fn valid() -> BootSpec {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Idle>(4);
    spec
}

/// Validates `spec`, expects exactly `expected`, and checks its text mentions `hint`.
fn refused(spec: BootSpec, expected: SpecError, hint: &str) {
    let errors = spec.validate().unwrap_err();
    assert_eq!(errors.0, std::slice::from_ref(&expected));
    let text = expected.to_string();
    assert!(text.contains(hint), "{text:?} should mention {hint:?}");
    assert!(errors.to_string().contains(&text));
}

#[test]
fn a_valid_spec_reports_its_memory() {
    let report = valid().validate().unwrap();
    assert!(report.pool_bytes >= (4096 + 256 + 1024) * 128);
    assert!(report.ring_bytes > 0);
    assert_eq!(
        report.bytes_per_shard,
        report.pool_bytes
            + report.ring_bytes
            + report.slot_bytes
            + report.state_bytes
            + report.timer_bytes
    );
}

#[test]
fn each_invalid_field_has_its_own_error() {
    let mut spec = BootSpec::new(0);
    spec.isolate::<Idle>(1);
    refused(spec, SpecError::NoShards, "at least one shard");

    let mut spec = BootSpec::new(300);
    spec.isolate::<Idle>(1);
    refused(
        spec,
        SpecError::TooManyShards { shards: 300 },
        "at most 256",
    );

    refused(
        BootSpec::new(1),
        SpecError::NoIsolateTypes,
        "spec.isolate::<YourIsolate>",
    );

    let mut spec = valid();
    spec.isolate::<Idle>(4);
    refused(
        spec,
        SpecError::DuplicateType { name: "Idle" },
        "registered twice",
    );

    let mut spec = BootSpec::new(1);
    spec.isolate::<Idle>(0);
    refused(
        spec,
        SpecError::SlotCount {
            name: "Idle",
            slots: 0,
        },
        "between 1 and",
    );

    // The all-ones slot value is reserved (it lets a cross-shard spawn leave the choice of
    // slot to the receiving shard), so 2^24 slots are one too many: a spec asking for them
    // would hand a real isolate the sentinel.
    assert_eq!(tina_runtime::SLOTS_PER_TYPE_MAX, (1 << 24) - 1);
    let mut spec = BootSpec::new(1);
    spec.isolate::<Idle>(1 << 24);
    refused(
        spec,
        SpecError::SlotCount {
            name: "Idle",
            slots: 1 << 24,
        },
        "between 1 and 16777215",
    );

    let mut spec = BootSpec::new(1);
    spec.isolate::<ZeroMailbox>(1);
    refused(
        spec,
        SpecError::MailboxBound {
            name: "ZeroMailbox",
            mailbox: 0,
        },
        "between 1 and 65536",
    );

    let mut spec = BootSpec::new(1);
    spec.root::<Idle>(ShardId(0), ());
    spec.isolate::<Idle>(1);
    refused(
        spec,
        SpecError::RootOfUnregisteredType { name: "Idle" },
        "before spec.root",
    );

    let mut spec = valid();
    spec.root::<Idle>(ShardId(5), ());
    refused(
        spec,
        SpecError::RootOnMissingShard {
            name: "Idle",
            shard: ShardId(5),
            shards: 2,
        },
        "below 2",
    );

    let mut spec = BootSpec::new(1);
    spec.isolate::<Idle>(1);
    spec.root::<Idle>(ShardId(0), ());
    spec.root::<Idle>(ShardId(0), ());
    refused(
        spec,
        SpecError::TooManyRoots {
            name: "Idle",
            shard: ShardId(0),
            roots: 2,
            slots: 1,
        },
        "raise its slots",
    );

    let mut spec = valid();
    spec.pool_slots(0);
    refused(spec, SpecError::PoolSlots, "at least one ordinary envelope");

    let mut spec = valid();
    spec.control_reserve(0);
    refused(spec, SpecError::ControlReserve, "reserved envelope");

    let mut spec = valid();
    spec.pool_slots(usize::MAX / 4);
    refused(
        spec,
        SpecError::PoolTooLarge {
            slots: usize::MAX / 4 + 256 + 1024,
        },
        "keep pool_slots",
    );

    // Capacities whose sums overflow are reported, never a panic (debug) or a wrap
    // (release).
    let mut spec = valid();
    spec.pool_slots(usize::MAX);
    refused(
        spec,
        SpecError::PoolTooLarge { slots: usize::MAX },
        "keep pool_slots",
    );
    let mut spec = valid();
    spec.buffer_class(1 << 20, usize::MAX / 2);
    let report = spec.validate().expect("no single setting is out of range");
    assert_eq!(report.buffer_bytes, usize::MAX, "saturated, not wrapped");
    assert_eq!(report.bytes_per_shard, usize::MAX);
    // A cap of its own, so the ceiling exists wherever this runs (Miri reads no /proc).
    spec.memory_limit(1 << 30);
    match System::start(spec) {
        Err(BootError::Spec(errors)) => assert!(
            errors
                .0
                .iter()
                .any(|error| matches!(error, SpecError::MemoryCeiling { .. })),
            "{errors}"
        ),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a reservation of usize::MAX bytes booted"),
    }

    let mut spec = valid();
    spec.ring_capacity(1000);
    refused(
        spec,
        SpecError::RingCapacity { capacity: 1000 },
        "power of two",
    );

    let mut spec = valid();
    spec.timer_slots(0);
    refused(
        spec,
        SpecError::TimerSlots { slots: 0 },
        "calls need one each",
    );

    let mut spec = valid();
    spec.dispatch_budget(0);
    refused(spec, SpecError::DispatchBudget, "at least one dispatch");

    let mut spec = valid();
    spec.timer_spin(Duration::from_millis(20));
    refused(
        spec,
        SpecError::TimerSpin { nanos: 20_000_000 },
        "at most 10000 µs",
    );
    let mut spec = valid();
    spec.timer_spin(Duration::from_millis(10));
    assert!(spec.validate().is_ok(), "a 10 ms window is allowed");

    let mut spec = valid();
    spec.scheduler_slice(Duration::from_micros(50));
    refused(
        spec,
        SpecError::SchedulerSlice { nanos: 50_000 },
        "100 µs to 100000 µs",
    );
    let mut spec = valid();
    spec.scheduler_slice(Duration::from_millis(100));
    assert!(spec.validate().is_ok(), "a 100 ms slice is allowed");

    let mut spec = valid();
    spec.background(ShardId(2));
    refused(
        spec,
        SpecError::BackgroundOnMissingShard {
            shard: ShardId(2),
            shards: 2,
        },
        "numbered 0 to 1",
    );
    let mut spec = valid();
    spec.background(ShardId(1)).background(ShardId(1));
    assert!(
        spec.validate().is_ok(),
        "an existing shard, named twice, is allowed"
    );

    let mut spec = valid();
    spec.buffer_class(4096, 8).read_block(1024);
    refused(
        spec,
        SpecError::ReadBlockNotAClass { block: 1024 },
        "spec.buffer_class(1024, blocks)",
    );
    let mut spec = valid();
    spec.buffer_class(4096, 8)
        .buffer_class(1024, 8)
        .read_block(1024);
    assert!(spec.validate().is_ok());
}

#[test]
fn several_mistakes_are_reported_together_and_boot_refuses() {
    let mut spec = BootSpec::new(0);
    spec.ring_capacity(3).timer_slots(0);
    let errors = spec.validate().unwrap_err();
    assert_eq!(errors.0.len(), 4, "{errors}");
    let text = errors.to_string();
    assert!(
        text.starts_with("invalid boot spec (4 problems):"),
        "{text}"
    );
    match System::start(spec) {
        Err(BootError::Spec(boot_errors)) => assert_eq!(boot_errors, errors),
        other => panic!("boot should refuse the spec, got {other:?}"),
    }
}

test_data!(Idle, ZeroMailbox);
