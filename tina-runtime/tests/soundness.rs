//! Soundness and panic-safety regressions from the audit (issue 10): supervision bookkeeping
//! around one-for-all restarts, the yield queue's bound, user code that panics outside a
//! handler (a state's or a message's `Drop`, a hand-written `Message::tag` or
//! `Accepts::wrap`), and the remote call racing a peer's quarantine. Each test failed before
//! its fix.

mod support;

use core::time::Duration;

use tina_runtime::{
    Accepts, Answers, BootSpec, CallResult, Ctx, Effect, Handle, Isolate, Message, Request,
    Restart, RestartBudget, ShardId, Simulation, SpawnError, Strategy, System,
};

/// Counts the allocations made on each thread, so a test can check that a stretch of
/// simulation on its own thread allocates nothing (other tests run on other threads).
struct CountingAllocator;

std::thread_local! {
    static ALLOCATIONS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

// Every call is forwarded unchanged to the system allocator; the thread-local
// counter is const-initialised and has no destructor, so touching it cannot allocate.
// SAFETY: so this allocator keeps the contract because the system allocator does.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { std::alloc::System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(
        &self,
        pointer: *mut u8,
        layout: std::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded with the caller's arguments.
        unsafe { std::alloc::System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_on_this_thread() -> u64 {
    ALLOCATIONS.with(core::cell::Cell::get)
}

fn generous() -> RestartBudget {
    RestartBudget::new(1_000, Duration::from_secs(5))
}

// ---------------------------------------------------------------------------------------
// Dynamic children around a one-for-all restart (items 3 and 4).

/// What the probe asks the parent to do.
#[derive(Clone, Copy)]
enum Script {
    /// Spawn a child with this restart type, then make the sibling crash in the same handler
    /// (before the child's `init` has run).
    SpawnThenCrash(Restart),
    /// Spawn a child with this restart type.
    Spawn(Restart),
}

/// Watches the group from outside it and drives the script.
struct Probe {
    mode: u8,
    parent: Option<Handle<Parent>>,
    parent_ups: u32,
    sibling: Option<Handle<Sibling>>,
    sibling_ups: u32,
    kid_ups: u32,
    spawns: [Option<Result<(), SpawnError>>; 4],
    spawn_count: usize,
}

struct ParentUp(Handle<Parent>);
struct SiblingUp(Handle<Sibling>);
struct KidUp;
struct Spawned(Result<(), SpawnError>);

messages!(Probe => ProbeMessage {
    ParentUp(ParentUp),
    SiblingUp(SiblingUp),
    KidUp(KidUp),
    Spawned(Spawned),
});

impl Isolate for Probe {
    type Message = ProbeMessage;
    type Args = u8;
    const MAILBOX: usize = 16;
    const NAME: &'static str = "Probe";

    fn init(mode: &u8, _ctx: &mut Ctx<Self>) -> Self {
        Probe {
            mode: *mode,
            parent: None,
            parent_ups: 0,
            sibling: None,
            sibling_ups: 0,
            kid_ups: 0,
            spawns: [None; 4],
            spawn_count: 0,
        }
    }

    fn handle(&mut self, message: ProbeMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            ProbeMessage::ParentUp(ParentUp(handle)) => {
                self.parent = Some(handle);
                self.parent_ups += 1;
            }
            ProbeMessage::SiblingUp(SiblingUp(handle)) => {
                self.sibling = Some(handle);
                self.sibling_ups += 1;
                // The group (re)started: the parent starts before the sibling.
                if self.sibling_ups == self.parent_ups {
                    let parent = self.parent.unwrap();
                    let command = match (self.mode, self.sibling_ups) {
                        (3, 1) => Some(Script::SpawnThenCrash(Restart::Permanent)),
                        (4, 1) | (4, 2) => Some(Script::Spawn(Restart::Temporary)),
                        _ => None,
                    };
                    if let Some(command) = command {
                        ctx.send(&parent, Command(command, handle)).unwrap();
                    }
                }
            }
            ProbeMessage::KidUp(KidUp) => {
                self.kid_ups += 1;
                // Mode 4: once the first temporary child is up, crash its sibling.
                if self.mode == 4 && self.kid_ups == 1 {
                    ctx.send(&self.sibling.unwrap(), Boom).unwrap();
                }
            }
            ProbeMessage::Spawned(Spawned(result)) => {
                self.spawns[self.spawn_count] = Some(result);
                self.spawn_count += 1;
            }
        }
        Effect::Receive
    }
}

/// Spawns dynamic children into its (one-for-all) group on command.
struct Parent {
    probe: Handle<Probe>,
}

struct Command(Script, Handle<Sibling>);

messages!(Parent => ParentMessage { Command(Command) });

impl Isolate for Parent {
    type Message = ParentMessage;
    type Args = Handle<Probe>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Parent";

    fn init(probe: &Handle<Probe>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(probe, ParentUp(me)).unwrap();
        Parent { probe: *probe }
    }

    fn handle(&mut self, message: ParentMessage, ctx: &mut Ctx<Self>) -> Effect {
        let ParentMessage::Command(Command(script, sibling)) = message;
        let (restart, crash) = match script {
            Script::SpawnThenCrash(restart) => (restart, true),
            Script::Spawn(restart) => (restart, false),
        };
        let result = ctx.spawn_child::<Kid>(self.probe, restart).map(|_| ());
        ctx.send(&self.probe, Spawned(result)).unwrap();
        if crash {
            ctx.send(&sibling, Boom).unwrap();
        }
        Effect::Receive
    }
}

/// Crashes on `Boom`; checks in with the probe.
struct Sibling;
struct Boom;

messages!(Sibling => SiblingMessage { Boom(Boom) });

impl Isolate for Sibling {
    type Message = SiblingMessage;
    type Args = Handle<Probe>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Sibling";

    fn init(probe: &Handle<Probe>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(probe, SiblingUp(me)).unwrap();
        Sibling
    }

    fn handle(&mut self, message: SiblingMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let SiblingMessage::Boom(Boom) = message;
        Effect::Crash("boom")
    }
}

/// A dynamic child: tells the probe when its `init` runs.
struct Kid;
struct Nothing;

messages!(Kid => KidMessage { Nothing(Nothing) });

impl Isolate for Kid {
    type Message = KidMessage;
    type Args = Handle<Probe>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Kid";

    fn init(probe: &Handle<Probe>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(probe, KidUp).unwrap();
        Kid
    }

    fn handle(&mut self, _message: KidMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

/// Probe in the root group; parent and sibling in a one-for-all group with room for one
/// dynamic child. Types are registered so that the sibling runs after the parent and before
/// any kid in a dispatch pass.
fn dynamic_spec(mode: u8) -> (BootSpec, Handle<Probe>) {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Probe>(1)
        .isolate::<Parent>(1)
        .isolate::<Sibling>(1)
        .isolate::<Kid>(2);
    let root = spec.supervisor(ShardId(0));
    let probe = spec.child::<Probe>(root, Restart::Permanent, mode);
    let group = spec.group(root, Strategy::OneForAll, generous());
    spec.dynamic_children(group, 1);
    spec.child::<Parent>(group, Restart::Permanent, probe);
    spec.child::<Sibling>(group, Restart::Permanent, probe);
    (spec, probe)
}

#[test]
fn a_child_spawned_just_before_a_one_for_all_restart_is_restarted_with_the_group() {
    let (spec, probe) = dynamic_spec(3);
    let mut sim = Simulation::new(spec, 1).unwrap();
    assert!(sim.run(10_000).quiescent);
    let state = sim.state(probe).unwrap();
    assert_eq!(state.spawns[0], Some(Ok(())));
    assert_eq!(state.parent_ups, 2, "the group restarted once");
    // Its init never ran before the restart; the group starts it with the args it was
    // spawned with (before the fix they were dropped with its init envelope and the child
    // was lost for good, its slot stopped and the group's room used up).
    assert_eq!(state.kid_ups, 1);
    let totals = sim.totals();
    assert_eq!(totals.crashed, 1);
    assert_eq!(
        totals.live_isolates, 4,
        "probe, parent, sibling and the kid"
    );
    sim.check_pools().unwrap();
    assert!(sim.failed_shards().is_empty());
}

#[test]
fn a_temporary_child_stopped_by_a_one_for_all_restart_frees_its_room() {
    let (spec, probe) = dynamic_spec(4);
    let mut sim = Simulation::new(spec, 2).unwrap();
    assert!(sim.run(10_000).quiescent);
    let state = sim.state(probe).unwrap();
    assert_eq!(state.parent_ups, 2, "the group restarted once");
    // The restarted parent finds the room free again (before the fix: `GroupFull`, with no
    // child alive).
    assert_eq!(state.spawns[..2], [Some(Ok(())), Some(Ok(()))]);
    assert_eq!(state.kid_ups, 2);
    let totals = sim.totals();
    assert_eq!(
        totals.live_isolates, 4,
        "probe, parent, sibling and the second kid"
    );
    assert!(sim.failed_shards().is_empty());
}

// ---------------------------------------------------------------------------------------
// The yield queue keeps its bound across restarts (item 7).

/// Yields on every `Go`; its `init` sends itself one.
struct Yielder;
struct Go;

messages!(Yielder => YielderMessage { Go(Go) });

impl Isolate for Yielder {
    type Message = YielderMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Yielder";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Go).unwrap();
        Yielder
    }

    fn handle(&mut self, _message: YielderMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Yield
    }
}

/// Crashes on the message its `init` sends itself.
struct SelfBomb;

messages!(SelfBomb => SelfBombMessage { Boom(Boom) });

impl Isolate for SelfBomb {
    type Message = SelfBombMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "SelfBomb";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Boom).unwrap();
        SelfBomb
    }

    fn handle(&mut self, _message: SelfBombMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Crash("boom")
    }
}

#[test]
fn an_isolate_restarted_after_yielding_does_not_overflow_the_yield_queue() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Yielder>(1).isolate::<SelfBomb>(1);
    let root = spec.supervisor(ShardId(0));
    spec.strategy(root, Strategy::OneForAll)
        .budget(root, generous());
    spec.child::<Yielder>(root, Restart::Permanent, ());
    spec.child::<SelfBomb>(root, Restart::Permanent, ());
    let mut sim = Simulation::new(spec, 3).unwrap();
    // Each dispatch pass: the yielder yields, the bomb crashes, both restart and the yielder
    // yields again in the next pass of the same tick. Its stale entry in the yield queue
    // (one slot each) used to stay, so the queue outgrew its capacity (an allocation after
    // boot; the debug assertion on its bound fires).
    let before = allocations_on_this_thread();
    for _ in 0..20 {
        sim.step();
    }
    assert_eq!(
        allocations_on_this_thread() - before,
        0,
        "the yield queue grew"
    );
    assert!(sim.failed_shards().is_empty());
    let totals = sim.totals();
    assert!(totals.restarts >= 20, "{totals:?}");
    assert_eq!(totals.drop_panics, 0);
}

// ---------------------------------------------------------------------------------------
// User code outside the handler panics (item 6).

/// Counts what it receives; the sibling that must keep working.
struct Bystander {
    seen: u32,
}
struct Ping;

messages!(Bystander => BystanderMessage { Ping(Ping) });

impl Isolate for Bystander {
    type Message = BystanderMessage;
    type Args = ();
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Bystander";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(50), Ping).unwrap();
        Bystander { seen: 0 }
    }

    fn handle(&mut self, _message: BystanderMessage, _ctx: &mut Ctx<Self>) -> Effect {
        self.seen += 1;
        Effect::Receive
    }
}

/// A state whose `Drop` panics; exits on `Quit` (armed by its own timer on the first run).
struct Grumpy;
struct Quit;

messages!(Grumpy => GrumpyMessage { Quit(Quit) });

impl Drop for Grumpy {
    fn drop(&mut self) {
        panic!("grumpy state drop");
    }
}

impl Isolate for Grumpy {
    type Message = GrumpyMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Grumpy";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(10), Quit).unwrap();
        Grumpy
    }

    fn handle(&mut self, _message: GrumpyMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Done
    }
}

#[test]
fn a_panic_in_a_state_drop_is_a_crash_of_that_isolate_only() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Grumpy>(1).isolate::<Bystander>(1);
    let root = spec.supervisor(ShardId(0));
    spec.budget(root, RestartBudget::new(2, Duration::from_secs(5)));
    // Transient: a clean `Done` would end it, but its `Drop` panicked, so it counts as a
    // crash and restarts (twice, then the budget quarantines the shard).
    spec.child::<Grumpy>(root, Restart::Transient, ());
    let bystander = spec.child::<Bystander>(root, Restart::Permanent, ());
    let mut sim = Simulation::new(spec, 4).unwrap();
    let report = sim.run(10_000);
    assert_eq!(
        report.failed_shards, 0,
        "the panic escaped the shard's tick"
    );
    let totals = sim.totals();
    assert_eq!(totals.restarts, 2);
    assert_eq!(totals.escalations, 1);
    assert_eq!(totals.drop_panics, 3, "{totals:?}");
    let reasons: Vec<String> = sim
        .crash_reports(ShardId(0))
        .map(|report| format!("{} {}", report.type_name, report.reason))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|reason| reason.starts_with("Grumpy in Drop of its state: panicked: grumpy")),
        "{reasons:?}"
    );
    // Quarantine tears the bystander down: its state is gone, and nothing else broke.
    assert!(sim.state(bystander).is_none());
    assert!(sim.is_quarantined(ShardId(0)));
    sim.check_pools().unwrap();
}

/// A message whose `Drop` panics.
struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        panic!("grenade drop");
    }
}

/// Crashes on `Boom` with grenades still queued behind it.
struct Sink;

messages!(Sink => SinkMessage { Boom(Boom), Grenade(Grenade) });

impl Isolate for Sink {
    type Message = SinkMessage;
    type Args = ();
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Sink";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Boom).unwrap();
        for _ in 0..3 {
            let refused = ctx.send(&me, Grenade);
            assert!(refused.is_ok());
        }
        Sink
    }

    fn handle(&mut self, message: SinkMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {
            SinkMessage::Boom(Boom) => Effect::Crash("boom with grenades queued"),
            SinkMessage::Grenade(grenade) => {
                // Handled grenades are the handler's to drop: forget them here, so only the
                // teardown drops count.
                core::mem::forget(grenade);
                Effect::Receive
            }
        }
    }
}

#[test]
fn a_panic_in_a_queued_message_drop_during_teardown_is_caught_and_counted() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Sink>(1).isolate::<Bystander>(1);
    let root = spec.supervisor(ShardId(0));
    spec.child::<Sink>(root, Restart::Temporary, ());
    let bystander = spec.child::<Bystander>(root, Restart::Permanent, ());
    let mut sim = Simulation::new(spec, 5).unwrap();
    let report = sim.run(10_000);
    assert_eq!(report.failed_shards, 0);
    let totals = sim.totals();
    assert_eq!(totals.crashed, 1);
    assert_eq!(totals.drop_panics, 3, "{totals:?}");
    assert_eq!(sim.state(bystander).unwrap().seen, 1);
    sim.check_pools().unwrap();
}

/// A request whose `Drop` panics.
struct Fuse;

impl Drop for Fuse {
    fn drop(&mut self) {
        panic!("fuse drop");
    }
}

impl Request for Fuse {
    type Reply = u64;
}

/// Yields for a while on `Work`, so a request queued behind it expires.
struct Slow {
    yields_left: u32,
}
struct Work;

messages!(Slow => SlowMessage { Work(Work), Fuse(Fuse) });

impl Answers<Fuse> for Slow {}

impl Isolate for Slow {
    type Message = SlowMessage;
    type Args = ();
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Slow";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Slow { yields_left: 0 }
    }

    fn handle(&mut self, message: SlowMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            SlowMessage::Work(Work) => {
                self.yields_left = 20;
                Effect::Yield
            }
            SlowMessage::Fuse(fuse) => {
                core::mem::forget(fuse);
                match ctx.take_reply::<Fuse>() {
                    Some(reply) => ctx.reply(reply, 7),
                    None => Effect::Receive,
                }
            }
        }
    }

    fn resume(&mut self, _ctx: &mut Ctx<Self>) -> Effect {
        if self.yields_left == 0 {
            return Effect::Receive;
        }
        self.yields_left -= 1;
        Effect::Yield
    }
}

/// Sends `Work`, then calls with a `Fuse` and a 1 µs timeout.
struct Impatient {
    results: [Option<CallResult<Fuse>>; 1],
}

messages!(Impatient => ImpatientMessage { Result(CallResult<Fuse>) });

impl Isolate for Impatient {
    type Message = ImpatientMessage;
    type Args = Handle<Slow>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Impatient";

    fn init(slow: &Handle<Slow>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(slow, Work).unwrap();
        // `init` cannot park; the call is made and its outcome arrives as a message.
        let _effect = ctx
            .call(slow, Fuse, Duration::from_micros(1))
            .map_err(|refused| {
                core::mem::forget(refused.request);
            })
            .unwrap();
        Impatient { results: [None] }
    }

    fn handle(&mut self, message: ImpatientMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let ImpatientMessage::Result(result) = message;
        self.results[0] = Some(result);
        Effect::Receive
    }
}

#[test]
fn a_panic_in_an_expired_request_drop_is_caught_and_counted() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Slow>(1).isolate::<Impatient>(1);
    let slow = spec.root::<Slow>(ShardId(0), ());
    let impatient = spec.root::<Impatient>(ShardId(0), slow);
    let mut sim = Simulation::new(spec, 6).unwrap();
    let report = sim.run(10_000);
    assert_eq!(report.failed_shards, 0);
    let totals = sim.totals();
    assert_eq!(totals.expired_requests_dropped, 1, "{totals:?}");
    assert_eq!(totals.drop_panics, 1);
    assert_eq!(totals.crashed, 0);
    assert_eq!(
        sim.state(impatient).unwrap().results,
        [Some(CallResult::Timeout)]
    );
    sim.check_pools().unwrap();
}

/// An isolate with a hand-written `Message` impl whose `tag` panics for one variant.
struct Tagless;

enum TaglessMessage {
    Fine,
    Broken,
}

impl Message for TaglessMessage {
    fn tag(&self) -> u16 {
        match self {
            TaglessMessage::Fine => 0,
            TaglessMessage::Broken => panic!("tag of a broken message"),
        }
    }
}

struct Fine;
struct Broken;

impl Accepts<Fine> for Tagless {
    fn wrap(_message: Fine) -> TaglessMessage {
        TaglessMessage::Fine
    }
    fn extract(_message: TaglessMessage) -> Option<Fine> {
        None
    }
}

impl Accepts<Broken> for Tagless {
    fn wrap(_message: Broken) -> TaglessMessage {
        TaglessMessage::Broken
    }
    fn extract(_message: TaglessMessage) -> Option<Broken> {
        None
    }
}

impl Isolate for Tagless {
    type Message = TaglessMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Tagless";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        // The broken one first: the first message of a dispatch is tagged by the runtime
        // before the handler runs (later ones of a batch, inside the handler's trap).
        let me = ctx.me();
        ctx.send(&me, Broken).unwrap();
        ctx.send(&me, Fine).unwrap();
        Tagless
    }

    fn handle(&mut self, _message: TaglessMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[test]
fn a_panic_in_message_tag_crashes_that_isolate_only() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Tagless>(1).isolate::<Bystander>(1);
    let root = spec.supervisor(ShardId(0));
    spec.child::<Tagless>(root, Restart::Temporary, ());
    let bystander = spec.child::<Bystander>(root, Restart::Permanent, ());
    let mut sim = Simulation::new(spec, 7).unwrap();
    let report = sim.run(10_000);
    assert_eq!(
        report.failed_shards, 0,
        "the panic escaped the shard's tick"
    );
    let reports: Vec<_> = sim.crash_reports(ShardId(0)).cloned().collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].type_name, "Tagless");
    assert!(
        reports[0].reason.contains("tag of a broken message"),
        "{:?}",
        reports[0].reason
    );
    assert_eq!(sim.state(bystander).unwrap().seen, 1);
}

/// A caller whose `Accepts<CallResult<Question>>::wrap` panics: the call decoder runs it.
struct BadDecoder;

// Never built: its only constructor, `wrap`, panics.
#[allow(dead_code)]
enum BadDecoderMessage {
    Result,
}

impl Message for BadDecoderMessage {
    fn tag(&self) -> u16 {
        0
    }
}

impl Accepts<CallResult<Question>> for BadDecoder {
    fn wrap(_message: CallResult<Question>) -> BadDecoderMessage {
        panic!("wrap of a call result")
    }
    fn extract(_message: BadDecoderMessage) -> Option<CallResult<Question>> {
        None
    }
}

impl Isolate for BadDecoder {
    type Message = BadDecoderMessage;
    type Args = Handle<Answerer>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "BadDecoder";

    fn init(answerer: &Handle<Answerer>, ctx: &mut Ctx<Self>) -> Self {
        let _effect = ctx
            .call(answerer, Question, Duration::from_millis(1))
            .unwrap();
        BadDecoder
    }

    fn handle(&mut self, message: BadDecoderMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let BadDecoderMessage::Result = message;
        Effect::Receive
    }
}

/// Answers every `Question` with 42.
struct Answerer;
struct Question;

impl Request for Question {
    type Reply = u64;
}

messages!(Answerer => AnswererMessage { Question(Question) });

impl Answers<Question> for Answerer {}

impl Isolate for Answerer {
    type Message = AnswererMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Answerer";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Answerer
    }

    fn handle(&mut self, _message: AnswererMessage, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.take_reply::<Question>() {
            Some(reply) => ctx.reply(reply, 42),
            None => Effect::Receive,
        }
    }
}

#[test]
fn a_panic_in_a_call_decoder_crashes_the_caller_only() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false);
    spec.isolate::<Answerer>(1)
        .isolate::<BadDecoder>(1)
        .isolate::<Bystander>(1);
    let root = spec.supervisor(ShardId(0));
    let answerer = spec.child::<Answerer>(root, Restart::Permanent, ());
    spec.child::<BadDecoder>(root, Restart::Temporary, answerer);
    let bystander = spec.child::<Bystander>(root, Restart::Permanent, ());
    let mut sim = Simulation::new(spec, 8).unwrap();
    let report = sim.run(10_000);
    assert_eq!(
        report.failed_shards, 0,
        "the panic escaped the shard's tick"
    );
    let reports: Vec<_> = sim.crash_reports(ShardId(0)).cloned().collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].type_name, "BadDecoder");
    assert!(
        reports[0].reason.contains("wrap of a call result"),
        "{:?}",
        reports[0].reason
    );
    assert!(sim.state(answerer).is_some());
    assert_eq!(sim.state(bystander).unwrap().seen, 1);
    sim.check_pools().unwrap();
}

// ---------------------------------------------------------------------------------------
// A remote call racing the callee shard's quarantine (item 2).

/// Starts once (at boot: a shard whose root cannot start fails the boot), panics on its
/// first question, and its `init` panics ever after — so its shard is quarantined at once
/// (budget 0) and again after every revive.
struct Flapper;

/// Whether the flapper's first `init` has run.
static FLAPPER_STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

messages!(Flapper => FlapperMessage { Question(Question) });

impl Answers<Question> for Flapper {}

impl Isolate for Flapper {
    type Message = FlapperMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Flapper";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        if FLAPPER_STARTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            panic!("flapper init")
        }
        Flapper
    }

    fn handle(&mut self, _message: FlapperMessage, _ctx: &mut Ctx<Self>) -> Effect {
        panic!("flapper question")
    }
}

/// Calls the flapper in a tight loop; every refusal or outcome makes the next call.
struct Hammer {
    target: Handle<Flapper>,
}
struct Again;

messages!(Hammer => HammerMessage { Again(Again), Result(CallResult<Question>) });

impl Isolate for Hammer {
    type Message = HammerMessage;
    type Args = Handle<Flapper>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Hammer";

    fn init(target: &Handle<Flapper>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Again).unwrap();
        Hammer { target: *target }
    }

    fn handle(&mut self, _message: HammerMessage, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.call(&self.target, Question, Duration::from_micros(200)) {
            Ok(effect) => effect,
            Err(_refused) => {
                let me = ctx.me();
                ctx.send(&me, Again).unwrap();
                Effect::Receive
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "real threads racing for a second of wall-clock time")]
fn a_remote_call_racing_the_callee_shards_quarantine_never_crashes_the_caller() {
    let mut spec = support::small_spec(2);
    spec.print_crashes(false);
    spec.isolate::<Flapper>(1).isolate::<Hammer>(1);
    let flapper_root = spec.supervisor(ShardId(1));
    spec.budget(flapper_root, RestartBudget::new(0, Duration::from_secs(5)));
    let flapper = spec.child::<Flapper>(flapper_root, Restart::Permanent, ());
    spec.root::<Hammer>(ShardId(0), flapper);
    let system = System::start(spec).unwrap();
    // Flap shard 1 between quarantined and revived for up to a second, while shard 0 calls
    // it as fast as it can: the down flag changes under the caller's feet.
    let started = std::time::Instant::now();
    let mut revives = 0;
    while started.elapsed() < Duration::from_millis(1_000) && revives < 200_000 {
        system.revive(ShardId(1));
        revives += 1;
        std::thread::sleep(Duration::from_micros(20));
        if system.counters(ShardId(0)).crashed > 0 {
            break;
        }
    }
    let summary = system.shutdown(Duration::from_secs(5));
    let caller = &summary.shards[0];
    assert_eq!(
        caller.crashed, 0,
        "the caller crashed: {:?}",
        summary.crash_reports
    );
    assert!(summary.failed_shards.is_empty());
    assert!(summary.shards[1].revives > 10, "{:?}", summary.shards[1]);
    assert!(caller.calls > 10, "{caller:?}");
    assert!(caller.refused_shard_down > 10, "{caller:?}");
}

// ---------------------------------------------------------------------------------------
// A panicking `Accepts::wrap` during a local send leaves the pool whole (item 5).

/// Accepts `Bad`, whose hand-written `wrap` panics.
struct Picky {
    seen: u32,
}
struct Bad;
struct Good;

enum PickyMessage {
    Good,
}

impl Message for PickyMessage {
    fn tag(&self) -> u16 {
        0
    }
}

impl Accepts<Bad> for Picky {
    fn wrap(_message: Bad) -> PickyMessage {
        panic!("wrap of a bad message")
    }
    fn extract(_message: PickyMessage) -> Option<Bad> {
        None
    }
}

impl Accepts<Good> for Picky {
    fn wrap(_message: Good) -> PickyMessage {
        PickyMessage::Good
    }
    fn extract(_message: PickyMessage) -> Option<Good> {
        None
    }
}

impl Isolate for Picky {
    type Message = PickyMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Picky";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Picky { seen: 0 }
    }

    fn handle(&mut self, message: PickyMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let PickyMessage::Good = message;
        self.seen += 1;
        Effect::Receive
    }
}

/// Sends the picky isolate a `Bad` from `init` (the send panics inside `wrap`, so this
/// isolate crashes) until its restarts run out; the last incarnation sends a `Good`.
struct Thrower;

messages!(Thrower => ThrowerMessage { Nothing(Nothing) });

impl Isolate for Thrower {
    type Message = ThrowerMessage;
    type Args = Handle<Picky>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Thrower";

    fn init(picky: &Handle<Picky>, ctx: &mut Ctx<Self>) -> Self {
        // Generations 0..=5 throw; the sixth restart sends a good one.
        if ctx.me().raw().generation() < 6 {
            let _ = ctx.send(picky, Bad);
        } else {
            ctx.send(picky, Good).unwrap();
        }
        Thrower
    }

    fn handle(&mut self, _message: ThrowerMessage, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[test]
fn a_panicking_wrap_during_a_local_send_leaves_the_pool_whole() {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false).pool_slots(4);
    spec.isolate::<Picky>(1).isolate::<Thrower>(1);
    let root = spec.supervisor(ShardId(0));
    spec.budget(root, generous());
    let picky = spec.child::<Picky>(root, Restart::Permanent, ());
    spec.child::<Thrower>(root, Restart::Permanent, picky);
    let mut sim = Simulation::new(spec, 9).unwrap();
    let report = sim.run(10_000);
    assert_eq!(report.failed_shards, 0);
    let totals = sim.totals();
    assert_eq!(totals.crashed, 6, "{totals:?}");
    // Six panicking sends with a four-slot pool: a leaked slot per panic (before the fix)
    // would have exhausted it, and the good send would have been refused.
    assert_eq!(totals.refused_pool_exhausted, 0, "{totals:?}");
    assert_eq!(sim.state(picky).unwrap().seen, 1);
    sim.check_pools().unwrap();
}

test_data!(
    Again,
    Answerer,
    BadDecoder,
    BadDecoderMessage,
    Boom,
    Bystander,
    Command,
    Flapper,
    Fuse,
    Go,
    Grenade,
    Grumpy,
    Hammer,
    Impatient,
    Kid,
    KidUp,
    Nothing,
    Parent,
    ParentUp,
    Picky,
    PickyMessage,
    Ping,
    Probe,
    Question,
    Quit,
    SelfBomb,
    Sibling,
    SiblingUp,
    Sink,
    Slow,
    Spawned,
    Tagless,
    TaglessMessage,
    Thrower,
    Work,
    Yielder
);
