//! Delivery, the way in from outside, and transfer buffers (issue 11), each against a named
//! peer measured in the same run (interleaved rounds, medians of per-round ratios).
//!
//! * **a. Ingress send**: a plain thread sends numbered messages with `System::send` (spinning
//!   and retrying on `IngressFull`) to an isolate on a one-shard system that checks their
//!   order; against `std::sync::mpsc::sync_channel(256)` and `crossbeam_channel::bounded(256)`
//!   into a consumer thread doing the same check.
//! * **b. External call**: `System::call` round trips from a plain thread to an isolate that
//!   replies at once; against a server thread answering requests from a `sync_channel(256)`
//!   over a second `sync_channel(1)` (std and crossbeam).
//! * **c. Cost of a bounce**: a sender on shard 0 streams numbered messages to shard 1 and
//!   handles every refusal in its `undelivered` handler — all delivered (a fast receiver),
//!   mostly bounced (a receiver with a mailbox of 4 that spins 1 µs per message) and all
//!   bounced (the target is a stale handle). No peer has bounces: the comparison is the
//!   delivered path of the same setup.
//! * **d. Transfer buffers, move against copy**: an isolate sends a `Buffer` of 64 B … 64 KiB
//!   in a message; the receiver checks it and drops it (the handle moved) or first copies it
//!   into a buffer of its own shard's pool with `ctx.buffer_from`; on one shard and across two
//!   (where the move is an ownership hand-over: the block returns to the sender's pool).
//! * **e. Flow control**: a sender that keeps every bounced message and resends it before new
//!   ones, against today's pattern (send until `RingFull`, then `Yield`) when the receiver
//!   keeps up; then against a receiver that spins 200 ns per message behind a mailbox of 16,
//!   where every message must still arrive exactly once.
//!
//! Every receiver checks counts and order (or, where resends reorder, a bitmap of sequence
//! numbers and their sum), and the data of every buffer; every sample checks the runtime's
//! counters; a failed check panics and ends the run.
//!
//! Run with `cargo bench -p tina-bench --bench delivery` (`TINA_BENCH_QUICK=1` for a short
//! run, `TINA_BENCH_PARTS=ae` for some parts only). `delivery sim-delivered N` (or
//! `sim-stale`, `sim-yield`, `sim-resend`) runs one stream of c or e in simulation and exits,
//! for counting instructions under `valgrind --tool=cachegrind --cache-sim=no` (see
//! BENCHMARKS.md).

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use heapless::Deque;
use tina_bench::{
    Contender, Metric, Plan, Probe, Samples, Table, epoch_nanos, interleave, machine, median,
    messages,
};
use tina_runtime::{
    Accepts, Answers, BootSpec, Bounce, Bounded, Buffer, BufferError, Counters, Ctx, Effect,
    Handle, Isolate, Message, Request, SendErrorKind, ShardId, Simulation, System,
};

/// Ring capacity of the cross-shard runs (as in the `cross_shard` bench).
const RING: usize = 1024;

/// Bound of the channels the ingress peers use, and of Tina's ingress queue (its default).
const INGRESS: usize = 256;

/// Longest any one sample may take before it counts as hung.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(180);

static PROBE: Probe = Probe::new();

/// The core a single-shard system's shard is pinned to, for the peers' consumer threads.
fn first_core() -> Option<core_affinity::CoreId> {
    core_affinity::get_core_ids().and_then(|cores| cores.first().copied())
}

/// Spins for about `nanos` nanoseconds (nothing for 0).
#[inline]
fn spin_for(nanos: u64) {
    if nanos == 0 {
        return;
    }
    let until = epoch_nanos() + nanos;
    while epoch_nanos() < until {
        spin_loop();
    }
}

/// `0 + 1 + … + (total - 1)`.
fn sum_below(total: u64) -> u64 {
    total * total.saturating_sub(1) / 2
}

/// Bounces that reached no handler, by any reason.
fn undelivered(counters: &Counters) -> u64 {
    counters.undelivered_mailbox_full
        + counters.undelivered_pool_exhausted
        + counters.undelivered_stale
        + counters.undelivered_shard_down
        + counters.undelivered_no_free_slot
}

/// Waits until the probe's sample finished; panics with the counters when a check failed,
/// a message was lost (an `undelivered_*` counter moved: the sample could never finish) or
/// the sample hung.
fn wait_for_probe(system: &System) {
    let ended = system.wait_until(SAMPLE_TIMEOUT, |totals| {
        PROBE.is_finished() || PROBE.failed() || undelivered(totals) > 0
    });
    PROBE.check();
    if !ended || !PROBE.is_finished() {
        panic!("sample did not finish: {:?}", system.totals());
    }
}

// ---------------------------------------------------------------------------------------
// a. Ingress send
// ---------------------------------------------------------------------------------------

/// Counts numbered messages from outside, checking their order; stamps the end at the last.
struct Tally {
    expected: u64,
    total: u64,
}

/// One numbered message.
struct Count(u64);

messages!(Tally => TallyMessage { Count(Count) });

impl Isolate for Tally {
    type Message = TallyMessage;
    type Args = u64;
    // The ingress queue (256) is drained once per tick and the dispatch budget is 256, so at
    // most 512 wait: nothing is refused on arrival.
    const MAILBOX: usize = 1024;
    const NAME: &'static str = "Tally";

    fn init(total: &u64, _ctx: &mut Ctx<Self>) -> Self {
        Tally {
            expected: 0,
            total: *total,
        }
    }

    #[inline]
    fn handle(&mut self, message: TallyMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let TallyMessage::Count(Count(sequence)) = message;
        if sequence != self.expected {
            PROBE.fail(format!(
                "ingress: expected {}, got {sequence}",
                self.expected
            ));
            return Effect::Done;
        }
        self.expected += 1;
        if self.expected == self.total {
            PROBE.finish(self.total);
            return Effect::Done;
        }
        Effect::Receive
    }
}

/// One sample: `total` sends from this thread into a one-shard system; returns ns/message.
/// `refusals` collects `IngressFull` retries per message.
fn tina_ingress(total: u64, refusals: &mut Vec<f64>) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(1);
    spec.isolate::<Tally>(1).ingress_capacity(INGRESS);
    let tally = spec.root::<Tally>(ShardId(0), total);
    let system = System::start(spec).expect("boot");
    let mut retries = 0u64;
    PROBE.start();
    for sequence in 0..total {
        let mut message = Count(sequence);
        loop {
            match system.send(&tally, message) {
                Ok(()) => break,
                Err(error) if error.kind == SendErrorKind::IngressFull => {
                    retries += 1;
                    message = error.message;
                    spin_loop();
                }
                Err(error) => panic!("ingress: send refused: {error}"),
            }
        }
    }
    wait_for_probe(&system);
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert_eq!(PROBE.count(), total, "ingress: wrong count");
    assert_eq!(summary.total.ingress_accepted, total, "ingress: accepted");
    assert_eq!(summary.total.ingress_refused, retries, "ingress: refusals");
    assert_eq!(
        summary.total.undelivered_mailbox_full, 0,
        "ingress: refused on arrival"
    );
    refusals.push(retries as f64 / total as f64);
    PROBE.elapsed_seconds() * 1e9 / total as f64
}

/// One sample of a channel peer: `send` on this thread, a consumer thread (pinned where
/// Tina's shard is) checks the order; returns ns/message.
fn channel_ingress<S, R>(total: u64, (sender, receiver): (S, R)) -> f64
where
    S: Fn(u64),
    R: FnMut() -> u64 + Send,
{
    let mut receiver = receiver;
    let core = first_core();
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || {
            if let Some(core) = core {
                core_affinity::set_for_current(core);
            }
            for expected in 0..total {
                let sequence = receiver();
                assert_eq!(sequence, expected, "channel: wrong order");
            }
            epoch_nanos()
        });
        let started = epoch_nanos();
        for sequence in 0..total {
            sender(sequence);
        }
        let finished = consumer.join().expect("channel consumer");
        (finished - started) as f64 / total as f64
    })
}

fn std_ingress(total: u64) -> f64 {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<u64>(INGRESS);
    channel_ingress(
        total,
        (
            move |sequence| sender.send(sequence).expect("std: consumer alive"),
            move || receiver.recv().expect("std: producer alive"),
        ),
    )
}

fn crossbeam_ingress(total: u64) -> f64 {
    let (sender, receiver) = crossbeam_channel::bounded::<u64>(INGRESS);
    channel_ingress(
        total,
        (
            move |sequence| sender.send(sequence).expect("crossbeam: consumer alive"),
            move || receiver.recv().expect("crossbeam: producer alive"),
        ),
    )
}

// ---------------------------------------------------------------------------------------
// b. External call
// ---------------------------------------------------------------------------------------

/// Answers `Ask(n)` with `n + 1` at once.
struct Echo;

/// A request: answer with the value plus one.
struct Ask(u64);

impl Request for Ask {
    type Reply = u64;
}

messages!(Echo => EchoMessage { Ask(Ask) });

/// `Echo` answers `Ask`: its `handle` takes the reply address of each one.
impl Answers<Ask> for Echo {}

impl Isolate for Echo {
    type Message = EchoMessage;
    type Args = ();
    const MAILBOX: usize = 16;
    const NAME: &'static str = "Echo";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Echo
    }

    #[inline]
    fn handle(&mut self, message: EchoMessage, ctx: &mut Ctx<Self>) -> Effect {
        let EchoMessage::Ask(Ask(value)) = message;
        match ctx.take_reply::<Ask>() {
            Some(reply) => ctx.reply(reply, value + 1),
            None => Effect::Receive,
        }
    }
}

/// One sample: `total` blocking calls from this thread; returns µs per round trip.
fn tina_call(total: u64) -> f64 {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Echo>(1);
    let echo = spec.root::<Echo>(ShardId(0), ());
    let system = System::start(spec).expect("boot");
    let started = std::time::Instant::now();
    for request in 0..total {
        match system.call(&echo, Ask(request), Duration::from_secs(10)) {
            Ok(reply) => assert_eq!(reply, request + 1, "external call: wrong reply"),
            Err(error) => panic!("external call {request} failed: {error}"),
        }
    }
    let elapsed = started.elapsed();
    let summary = system.shutdown(Duration::from_secs(5));
    assert_eq!(
        summary.total.external_replies, total,
        "external call: replies counter"
    );
    assert_eq!(
        summary.total.ingress_accepted, total,
        "external call: accepted"
    );
    elapsed.as_secs_f64() * 1e6 / total as f64
}

/// One sample of a channel server: a thread (pinned where Tina's shard is) answers requests
/// from the first channel over the second; returns µs per round trip.
fn channel_call<F>(total: u64, serve: F, mut ask: impl FnMut(u64) -> u64) -> f64
where
    F: FnOnce() + Send,
{
    let core = first_core();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Some(core) = core {
                core_affinity::set_for_current(core);
            }
            serve();
        });
        let started = std::time::Instant::now();
        for request in 0..total {
            assert_eq!(ask(request), request + 1, "channel call: wrong reply");
        }
        let elapsed = started.elapsed();
        // Dropping the request sender ends the server's loop, so the scope can join it.
        drop(ask);
        elapsed.as_secs_f64() * 1e6 / total as f64
    })
}

fn std_call(total: u64) -> f64 {
    let (requests, inbox) = std::sync::mpsc::sync_channel::<u64>(INGRESS);
    let (replies, answers) = std::sync::mpsc::sync_channel::<u64>(1);
    channel_call(
        total,
        move || {
            while let Ok(value) = inbox.recv() {
                replies.send(value + 1).expect("std: caller alive");
            }
        },
        move |request| {
            requests.send(request).expect("std: server alive");
            answers.recv().expect("std: server replied")
        },
    )
}

fn crossbeam_call(total: u64) -> f64 {
    let (requests, inbox) = crossbeam_channel::bounded::<u64>(INGRESS);
    let (replies, answers) = crossbeam_channel::bounded::<u64>(1);
    channel_call(
        total,
        move || {
            while let Ok(value) = inbox.recv() {
                replies.send(value + 1).expect("crossbeam: caller alive");
            }
        },
        move |request| {
            requests.send(request).expect("crossbeam: server alive");
            answers.recv().expect("crossbeam: server replied")
        },
    )
}

// ---------------------------------------------------------------------------------------
// c and e: streams across shards, with and without bounces
// ---------------------------------------------------------------------------------------

/// One streamed message: its sequence number.
struct Item(u64);

/// Sent after the last item when the sender needs the receiver's count (c).
struct Last;

/// The receiver's count and the sum of the sequence numbers it handled.
struct Delivered {
    count: u64,
    sum: u64,
}

/// Starts a sender.
struct Go;

/// A sender's own nudge to continue after a full ring.
struct Continue;

/// The largest stream (the flow-control run), for the bitmap of sequence numbers.
const STREAM_MAX: u64 = 10_000_000;

/// Which sequence numbers a [`Check::Bitmap`] receiver has seen (one bit each; written by
/// the receiver's shard only, reset by the bench between samples).
static SEEN: [AtomicU64; STREAM_MAX.div_ceil(64) as usize] =
    [const { AtomicU64::new(0) }; STREAM_MAX.div_ceil(64) as usize];

fn reset_seen(total: u64) {
    for word in &SEEN[..total.div_ceil(64) as usize] {
        word.store(0, Ordering::Relaxed);
    }
}

/// How a [`Sink`] checks what it gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Sequence numbers strictly increase (bounces leave gaps, nothing reorders); on
    /// [`Last`] the sink reports its count and sum to the sender, which adds its bounces.
    Ordered,
    /// Every sequence number below `total` exactly once, in any order (resends reorder);
    /// the sink stamps the end when it has all of them.
    Bitmap,
}

/// What a [`Sink`] starts with.
struct SinkArgs<const MAILBOX: usize> {
    total: u64,
    spin_nanos: u64,
    check: Check,
    report_to: Option<Handle<Streamer<MAILBOX>>>,
}

impl<const MAILBOX: usize> Clone for SinkArgs<MAILBOX> {
    fn clone(&self) -> Self {
        Self {
            total: self.total,
            spin_nanos: self.spin_nanos,
            check: self.check,
            report_to: self.report_to,
        }
    }
}

/// The receiver of the streams: checks, counts, sums, optionally spins per message.
struct Sink<const MAILBOX: usize> {
    args: SinkArgs<MAILBOX>,
    count: u64,
    sum: u64,
    last: Option<u64>,
}

enum SinkMessage {
    Item(Item),
    Last(Last),
}

impl Message for SinkMessage {
    #[inline]
    fn tag(&self) -> u16 {
        match self {
            SinkMessage::Item(_) => 0,
            SinkMessage::Last(_) => 1,
        }
    }
}

impl<const MAILBOX: usize> Accepts<Item> for Sink<MAILBOX> {
    #[inline]
    fn wrap(message: Item) -> SinkMessage {
        SinkMessage::Item(message)
    }

    #[inline]
    fn extract(message: SinkMessage) -> Option<Item> {
        match message {
            SinkMessage::Item(item) => Some(item),
            SinkMessage::Last(_) => None,
        }
    }
}

impl<const MAILBOX: usize> Accepts<Last> for Sink<MAILBOX> {
    #[inline]
    fn wrap(message: Last) -> SinkMessage {
        SinkMessage::Last(message)
    }

    #[inline]
    fn extract(message: SinkMessage) -> Option<Last> {
        match message {
            SinkMessage::Last(last) => Some(last),
            SinkMessage::Item(_) => None,
        }
    }
}

impl<const MAILBOX: usize> Sink<MAILBOX> {
    #[inline]
    fn item(&mut self, sequence: u64) -> Effect {
        match self.args.check {
            Check::Ordered => {
                if self.last.is_some_and(|last| sequence <= last) {
                    PROBE.fail(format!("sink: {sequence} after {:?}", self.last));
                    return Effect::Done;
                }
                self.last = Some(sequence);
            }
            Check::Bitmap => {
                if sequence >= self.args.total {
                    PROBE.fail(format!("sink: sequence {sequence} out of range"));
                    return Effect::Done;
                }
                let word = &SEEN[(sequence / 64) as usize];
                let bit = 1u64 << (sequence % 64);
                let seen = word.load(Ordering::Relaxed);
                if seen & bit != 0 {
                    PROBE.fail(format!("sink: {sequence} delivered twice"));
                    return Effect::Done;
                }
                word.store(seen | bit, Ordering::Relaxed);
            }
        }
        self.count += 1;
        self.sum += sequence;
        spin_for(self.args.spin_nanos);
        if self.args.check == Check::Bitmap && self.count == self.args.total {
            if self.sum != sum_below(self.args.total) {
                PROBE.fail(format!("sink: sum {} of all sequence numbers", self.sum));
            }
            PROBE.finish(self.args.total);
            return Effect::Done;
        }
        Effect::Receive
    }
}

impl<const MAILBOX: usize> Isolate for Sink<MAILBOX> {
    type Message = SinkMessage;
    type Args = SinkArgs<MAILBOX>;
    const MAILBOX: usize = MAILBOX;
    const NAME: &'static str = "Sink";

    fn init(args: &SinkArgs<MAILBOX>, _ctx: &mut Ctx<Self>) -> Self {
        Sink {
            args: args.clone(),
            count: 0,
            sum: 0,
            last: None,
        }
    }

    #[inline]
    fn handle(&mut self, message: SinkMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            SinkMessage::Item(Item(sequence)) => self.item(sequence),
            SinkMessage::Last(Last) => {
                let Some(sender) = self.args.report_to else {
                    PROBE.fail("sink: Last without a sender to report to");
                    return Effect::Done;
                };
                let report = Delivered {
                    count: self.count,
                    sum: self.sum,
                };
                if let Err(error) = ctx.send(&sender, report) {
                    PROBE.fail(format!("sink: report refused: {error}"));
                }
                Effect::Done
            }
        }
    }
}

/// What a [`YieldSender`] starts with.
struct YieldSenderArgs<const MAILBOX: usize> {
    target: Handle<Sink<MAILBOX>>,
    total: u64,
}

impl<const MAILBOX: usize> Clone for YieldSenderArgs<MAILBOX> {
    fn clone(&self) -> Self {
        Self {
            target: self.target,
            total: self.total,
        }
    }
}

/// Today's pattern (`tina_bench::stream::Sender`, as in the `cross_shard` bench): sends
/// until `RingFull`, then yields; has no `undelivered` handler, so a bounce is counted and
/// lost.
struct YieldSender<const MAILBOX: usize> {
    next: u64,
    args: YieldSenderArgs<MAILBOX>,
}

enum YieldSenderMessage {
    Go(Go),
}

impl Message for YieldSenderMessage {
    #[inline]
    fn tag(&self) -> u16 {
        0
    }
}

impl<const MAILBOX: usize> Accepts<Go> for YieldSender<MAILBOX> {
    #[inline]
    fn wrap(message: Go) -> YieldSenderMessage {
        YieldSenderMessage::Go(message)
    }

    #[inline]
    fn extract(message: YieldSenderMessage) -> Option<Go> {
        let YieldSenderMessage::Go(go) = message;
        Some(go)
    }
}

impl<const MAILBOX: usize> YieldSender<MAILBOX> {
    #[inline]
    fn burst(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        while self.next < self.args.total {
            match ctx.send(&self.args.target, Item(self.next)) {
                Ok(()) => self.next += 1,
                Err(error) if error.kind == SendErrorKind::RingFull => return Effect::Yield,
                Err(error) => {
                    PROBE.fail(format!("yield sender: send refused: {error}"));
                    return Effect::Done;
                }
            }
        }
        Effect::Done
    }
}

impl<const MAILBOX: usize> Isolate for YieldSender<MAILBOX> {
    type Message = YieldSenderMessage;
    type Args = YieldSenderArgs<MAILBOX>;
    const MAILBOX: usize = 1;
    const NAME: &'static str = "YieldSender";

    fn init(args: &YieldSenderArgs<MAILBOX>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        if ctx.send(&me, Go).is_err() {
            PROBE.fail("yield sender: could not start itself");
        }
        YieldSender {
            next: 0,
            args: args.clone(),
        }
    }

    fn handle(&mut self, message: YieldSenderMessage, ctx: &mut Ctx<Self>) -> Effect {
        let YieldSenderMessage::Go(Go) = message;
        PROBE.start_once();
        self.burst(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }
}

/// Bounced messages a [`Streamer`] can hold for resending. Messages not yet delivered are
/// at most a ring each way (1,024 + 1,024), the sink's mailbox and the bounces waiting in the
/// sender's control queue (at most the shard's pool, 4,096 + 1,280 slots): new messages are
/// sent only once this queue is empty.
const RETRY_MAX: usize = 8192;

/// What a [`Streamer`] does with a bounced item.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnBounce {
    /// Count it (and check order); the sample ends when bounces plus the sink's reported
    /// count (or, with no sink, bounces alone) make the total.
    Count,
    /// Keep it and resend it before any new item; the sink ends the sample.
    Resend,
}

/// What a [`Streamer`] starts with.
struct StreamerArgs<const MAILBOX: usize> {
    target: Handle<Sink<MAILBOX>>,
    total: u64,
    on_bounce: OnBounce,
    /// Whether a sink will report its count after [`Last`] (false: the target is gone and
    /// every item must bounce).
    sink_reports: bool,
}

impl<const MAILBOX: usize> Clone for StreamerArgs<MAILBOX> {
    fn clone(&self) -> Self {
        Self {
            target: self.target,
            total: self.total,
            on_bounce: self.on_bounce,
            sink_reports: self.sink_reports,
        }
    }
}

/// A sender that handles its bounces.
///
/// A yielded isolate is resumed before anything else in its next tick, and if `resume`
/// yields again nothing else of it runs that tick: a sender that only ever yields on a full
/// ring never gets to its bounces (they pile up in its control queue until the shard's pool
/// is full, the bounce ring backs up, the peer stops draining and the ring stays full: the
/// stream stalls). So on a full ring this sender nudges itself with a [`Continue`] message
/// and returns `Receive` — its bounces (control queue) run before the nudge (mailbox) — and
/// yields only when the ring is still full at the nudge.
struct Streamer<const MAILBOX: usize> {
    args: StreamerArgs<MAILBOX>,
    next: u64,
    nudge_pending: bool,
    last_pending: bool,
    retry: Deque<u64, RETRY_MAX>,
    bounced: u64,
    bounced_sum: u64,
    last_bounced: Option<u64>,
    delivered: Option<Delivered>,
}

enum StreamerMessage {
    Go(Go),
    Continue(Continue),
    Delivered(Delivered),
}

impl Message for StreamerMessage {
    #[inline]
    fn tag(&self) -> u16 {
        match self {
            StreamerMessage::Go(_) => 0,
            StreamerMessage::Continue(_) => 1,
            StreamerMessage::Delivered(_) => 2,
        }
    }
}

impl<const MAILBOX: usize> Accepts<Go> for Streamer<MAILBOX> {
    #[inline]
    fn wrap(message: Go) -> StreamerMessage {
        StreamerMessage::Go(message)
    }

    #[inline]
    fn extract(message: StreamerMessage) -> Option<Go> {
        match message {
            StreamerMessage::Go(go) => Some(go),
            _ => None,
        }
    }
}

impl<const MAILBOX: usize> Accepts<Continue> for Streamer<MAILBOX> {
    #[inline]
    fn wrap(message: Continue) -> StreamerMessage {
        StreamerMessage::Continue(message)
    }

    #[inline]
    fn extract(message: StreamerMessage) -> Option<Continue> {
        match message {
            StreamerMessage::Continue(nudge) => Some(nudge),
            _ => None,
        }
    }
}

impl<const MAILBOX: usize> Accepts<Delivered> for Streamer<MAILBOX> {
    #[inline]
    fn wrap(message: Delivered) -> StreamerMessage {
        StreamerMessage::Delivered(message)
    }

    #[inline]
    fn extract(message: StreamerMessage) -> Option<Delivered> {
        match message {
            StreamerMessage::Delivered(delivered) => Some(delivered),
            _ => None,
        }
    }
}

impl<const MAILBOX: usize> Streamer<MAILBOX> {
    /// Sends what is waiting — resends first, then new items, then [`Last`] — until the
    /// ring is full. `at_nudge`: this run is the nudge's, so a full ring now yields.
    #[inline]
    fn burst(&mut self, ctx: &mut Ctx<Self>, at_nudge: bool) -> Effect {
        // One send site for resends and new items. (The compiler still does not inline
        // `Ctx::send` here as it does in `YieldSender::burst`: about 27 more instructions per
        // message in simulation, see BENCHMARKS.md.)
        loop {
            let (sequence, resend) = match self.retry.front() {
                Some(&sequence) => (sequence, true),
                None if self.next < self.args.total => (self.next, false),
                None => break,
            };
            match ctx.send(&self.args.target, Item(sequence)) {
                Ok(()) if resend => {
                    self.retry.pop_front();
                }
                Ok(()) => self.next += 1,
                Err(error) if error.kind == SendErrorKind::RingFull => {
                    return self.wait(ctx, at_nudge);
                }
                Err(error) => return refused(error.kind),
            }
        }
        if self.last_pending {
            match ctx.send(&self.args.target, Last) {
                Ok(()) => self.last_pending = false,
                Err(error) if error.kind == SendErrorKind::RingFull => {
                    return self.wait(ctx, at_nudge);
                }
                Err(error) => return fail(format!("streamer: Last refused: {error}")),
            }
        }
        self.settle()
    }

    /// The ring is full: nudge (bounces first, then try again) or, at the nudge, yield.
    #[inline]
    fn wait(&mut self, ctx: &mut Ctx<Self>, at_nudge: bool) -> Effect {
        if at_nudge {
            return Effect::Yield;
        }
        if !self.nudge_pending {
            let me = ctx.me();
            if ctx.send(&me, Continue).is_err() {
                return Effect::Yield;
            }
            self.nudge_pending = true;
        }
        Effect::Receive
    }

    /// Ends the sample when every item is accounted for (count mode).
    fn settle(&mut self) -> Effect {
        if self.args.on_bounce == OnBounce::Resend {
            return Effect::Receive;
        }
        let (delivered, delivered_sum) = match &self.delivered {
            Some(report) => (report.count, report.sum),
            None if !self.args.sink_reports => (0, 0),
            None => return Effect::Receive,
        };
        if delivered + self.bounced < self.args.total {
            return Effect::Receive;
        }
        if delivered + self.bounced != self.args.total
            || delivered_sum + self.bounced_sum != sum_below(self.args.total)
        {
            return fail(format!(
                "streamer: {delivered} delivered + {} bounced of {}, sums {delivered_sum} + {}",
                self.bounced, self.args.total, self.bounced_sum
            ));
        }
        ITEM_BOUNCES.store(self.bounced, Ordering::Release);
        PROBE.finish(self.args.total);
        Effect::Done
    }
}

#[cold]
#[inline(never)]
fn refused(kind: SendErrorKind) -> Effect {
    fail(format!("streamer: send refused: {kind}"))
}

#[cold]
#[inline(never)]
fn fail(reason: String) -> Effect {
    PROBE.fail(reason);
    Effect::Done
}

impl<const MAILBOX: usize> Isolate for Streamer<MAILBOX> {
    type Message = StreamerMessage;
    type Args = StreamerArgs<MAILBOX>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Streamer";
    const HANDLES_UNDELIVERED: bool = true;

    fn init(args: &StreamerArgs<MAILBOX>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        if ctx.send(&me, Go).is_err() {
            PROBE.fail("streamer: could not start itself");
        }
        Streamer {
            args: args.clone(),
            next: 0,
            nudge_pending: false,
            last_pending: false,
            retry: Deque::new(),
            bounced: 0,
            bounced_sum: 0,
            last_bounced: None,
            delivered: None,
        }
    }

    #[inline]
    fn handle(&mut self, message: StreamerMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            StreamerMessage::Go(Go) => {
                PROBE.start_once();
                self.last_pending = self.args.sink_reports;
                self.burst(ctx, false)
            }
            StreamerMessage::Continue(Continue) => {
                self.nudge_pending = false;
                self.burst(ctx, true)
            }
            StreamerMessage::Delivered(report) => {
                self.delivered = Some(report);
                if self.nudge_pending {
                    Effect::Receive
                } else {
                    self.settle()
                }
            }
        }
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx, false)
    }

    #[inline]
    fn undelivered(&mut self, bounce: Bounce, ctx: &mut Ctx<Self>) -> Result<Effect, Bounce> {
        match bounce.downcast::<Item>() {
            Ok(bounce) => {
                let Item(sequence) = bounce.message;
                match self.args.on_bounce {
                    OnBounce::Resend => {
                        if self.retry.push_back(sequence).is_err() {
                            return Ok(fail(format!(
                                "streamer: more than {RETRY_MAX} bounces waiting"
                            )));
                        }
                    }
                    OnBounce::Count => {
                        if self.last_bounced.is_some_and(|last| sequence <= last) {
                            return Ok(fail(format!(
                                "streamer: bounce {sequence} after {:?}",
                                self.last_bounced
                            )));
                        }
                        self.last_bounced = Some(sequence);
                        self.bounced += 1;
                        self.bounced_sum += sequence;
                    }
                }
            }
            Err(bounce) => match bounce.downcast::<Last>() {
                Ok(_) => self.last_pending = true,
                Err(bounce) => return Err(bounce),
            },
        }
        // While a nudge is pending the burst runs there; otherwise everything was sent and
        // this is the moment to resend (or to see whether the sample is complete).
        if self.nudge_pending {
            Ok(Effect::Receive)
        } else {
            Ok(self.burst(ctx, false))
        }
    }
}

/// The spec of a stream from shard 0 to shard 1: the `cross_shard` one-way settings (a
/// dispatch budget of a whole ring), or a smaller budget.
fn stream_spec(dispatch_budget: usize) -> BootSpec {
    let mut spec = BootSpec::new(2);
    spec.ring_capacity(RING).dispatch_budget(dispatch_budget);
    spec
}

/// The dispatch budget of the slow-receiver runs. With a budget of a whole ring a receiver
/// takes every arrival of a tick straight from the ring, however slow it is: the sender
/// meets `RingFull` and nothing bounces. A budget of 64 leaves the rest of each tick's
/// arrivals to the mailbox (4 or 16), so most bounce.
const SLOW_BUDGET: usize = 64;

/// What a stream sample saw.
struct StreamRun {
    nanos_per_message: f64,
    /// Bounces the runtime counted (items and markers).
    bounced: u64,
    /// Item bounces the sender counted (count mode only).
    item_bounces: u64,
}

/// Item bounces a counting [`Streamer`] saw, published when its sample completes.
static ITEM_BOUNCES: AtomicU64 = AtomicU64::new(0);

/// Where a stream sample runs: on two shard threads, or in simulation on this thread (for
/// instruction counts under cachegrind, which the machine's load does not disturb).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    Threads,
    Simulation,
}

/// Runs `spec` until the probe's sample finishes; returns the final counters.
fn drive(spec: BootSpec, driver: Driver) -> Counters {
    match driver {
        Driver::Threads => {
            let system = System::start(spec).expect("boot");
            wait_for_probe(&system);
            let summary = system.shutdown(Duration::from_secs(5));
            PROBE.check();
            summary.total
        }
        Driver::Simulation => {
            let mut simulation = Simulation::new(spec, 1).expect("valid spec");
            let report = simulation.run(u64::MAX);
            PROBE.check();
            assert!(
                report.quiescent && PROBE.is_finished(),
                "simulated sample did not finish: {:?}",
                simulation.totals()
            );
            simulation.totals()
        }
    }
}

/// One sample: a [`Streamer`] on shard 0 sends `total` items to a [`Sink<MAILBOX>`] on
/// shard 1 (or, with `sink: None`, to a handle of a sink that never existed).
fn streamer_run<const MAILBOX: usize>(
    total: u64,
    sink: Option<(Check, u64)>,
    on_bounce: OnBounce,
    dispatch_budget: usize,
    driver: Driver,
) -> StreamRun {
    PROBE.reset();
    reset_seen(total);
    ITEM_BOUNCES.store(0, Ordering::Release);
    let mut spec = stream_spec(dispatch_budget);
    spec.isolate::<Sink<MAILBOX>>(1)
        .isolate::<Streamer<MAILBOX>>(1);
    let sender = spec
        .next_root::<Streamer<MAILBOX>>(ShardId(0))
        .expect("registered");
    let (target, sink_reports) = match sink {
        Some((check, spin_nanos)) => {
            let target = spec.root::<Sink<MAILBOX>>(
                ShardId(1),
                SinkArgs {
                    total,
                    spin_nanos,
                    check,
                    report_to: (check == Check::Ordered).then_some(sender),
                },
            );
            (target, check == Check::Ordered)
        }
        None => (
            spec.next_root::<Sink<MAILBOX>>(ShardId(1))
                .expect("registered"),
            false,
        ),
    };
    let declared = spec.root::<Streamer<MAILBOX>>(
        ShardId(0),
        StreamerArgs {
            target,
            total,
            on_bounce,
            sink_reports,
        },
    );
    assert_eq!(
        declared.raw(),
        sender.raw(),
        "next_root predicted the handle"
    );
    let totals = &drive(spec, driver);
    assert_eq!(undelivered(totals), 0, "stream: bounces lost: {totals:?}");
    assert_eq!(totals.dropped_on_arrival, 0, "stream: dropped on arrival");
    assert_eq!(
        totals.bounced, totals.bounces_handled,
        "stream: every bounce reached the handler"
    );
    let item_bounces = ITEM_BOUNCES.load(Ordering::Acquire);
    match on_bounce {
        // Every bounced item was resent, once per bounce.
        OnBounce::Resend => assert_eq!(
            totals.sent_remote,
            total + totals.bounced,
            "stream: sends besides the items and their resends"
        ),
        // Only the `Last` marker is resent; the sink's report comes back.
        OnBounce::Count => {
            assert!(item_bounces <= totals.bounced, "stream: bounce counts");
            let last_bounces = totals.bounced - item_bounces;
            let markers = if sink_reports { 2 + last_bounces } else { 0 };
            assert_eq!(
                totals.sent_remote,
                total + markers,
                "stream: sends besides the items, Last and the report"
            );
        }
    }
    StreamRun {
        nanos_per_message: PROBE.elapsed_seconds() * 1e9 / total as f64,
        bounced: totals.bounced,
        item_bounces,
    }
}

/// One sample of today's pattern: a [`YieldSender`] to a bitmap-checking sink that spins
/// `spin_nanos` per message; returns ns/message. Nothing may bounce: a bounce is lost, and
/// the sample fails.
fn yield_run<const MAILBOX: usize>(
    total: u64,
    spin_nanos: u64,
    dispatch_budget: usize,
    driver: Driver,
) -> f64 {
    PROBE.reset();
    reset_seen(total);
    let mut spec = stream_spec(dispatch_budget);
    spec.isolate::<Sink<MAILBOX>>(1)
        .isolate::<YieldSender<MAILBOX>>(1);
    let target = spec.root::<Sink<MAILBOX>>(
        ShardId(1),
        SinkArgs {
            total,
            spin_nanos,
            check: Check::Bitmap,
            report_to: None,
        },
    );
    spec.root::<YieldSender<MAILBOX>>(ShardId(0), YieldSenderArgs { target, total });
    let totals = drive(spec, driver);
    assert_eq!(PROBE.count(), total, "yield sender: wrong count");
    assert_eq!(totals.sent_remote, total, "yield sender: sent_remote");
    assert_eq!(totals.bounced, 0, "yield sender: bounces");
    PROBE.elapsed_seconds() * 1e9 / total as f64
}

/// `delivery sim-<case> N`: one stream of `N` messages in simulation, for counting
/// instructions (`valgrind --tool=cachegrind --cache-sim=no`); the cases are those of c and
/// e with receivers that do not spin.
fn simulate(case: &str, total: u64) {
    let driver = Driver::Simulation;
    let bounced = match case {
        "sim-delivered" => {
            streamer_run::<{ 2 * RING }>(
                total,
                Some((Check::Ordered, 0)),
                OnBounce::Count,
                RING,
                driver,
            )
            .bounced
        }
        "sim-stale" => streamer_run::<4>(total, None, OnBounce::Count, RING, driver).bounced,
        "sim-yield" => {
            yield_run::<{ 2 * RING }>(total, 0, RING, driver);
            0
        }
        "sim-resend" => {
            streamer_run::<{ 2 * RING }>(
                total,
                Some((Check::Bitmap, 0)),
                OnBounce::Resend,
                RING,
                driver,
            )
            .bounced
        }
        other => panic!("unknown case {other}: sim-delivered, sim-stale, sim-yield or sim-resend"),
    };
    println!("{case}: {total} messages, {bounced} bounces");
}

// ---------------------------------------------------------------------------------------
// d. Transfer buffers
// ---------------------------------------------------------------------------------------

/// Ring capacity of the buffer runs: bounds the buffers in flight across shards.
const BUFFER_RING: usize = 256;

/// Blocks per shard in the one size class of a buffer run: the sink's mailbox (512) plus
/// room for the sender's next buffer and the sink's copies.
const BUFFER_BLOCKS: usize = 1024;

/// A numbered buffer: its first and last eight bytes hold the number.
struct Chunk {
    sequence: u64,
    buffer: Buffer,
}

fn stamp(buffer: &mut Buffer, sequence: u64) {
    let bytes = sequence.to_le_bytes();
    let len = buffer.len();
    buffer[..8].copy_from_slice(&bytes);
    buffer[len - 8..].copy_from_slice(&bytes);
}

fn stamped(bytes: &[u8]) -> Option<u64> {
    let head = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let tail = u64::from_le_bytes(bytes.get(bytes.len() - 8..)?.try_into().ok()?);
    (head == tail).then_some(head)
}

/// What a [`BufferSink`] starts with.
#[derive(Clone, Copy)]
struct BufferSinkArgs {
    total: u64,
    size: usize,
    copy: bool,
}

/// Checks every buffer (order, length, stamps), copies it into its own shard's pool if told
/// to (and checks the copy), drops it.
struct BufferSink {
    args: BufferSinkArgs,
    expected: u64,
}

messages!(BufferSink => BufferSinkMessage { Chunk(Chunk) });

impl Isolate for BufferSink {
    type Message = BufferSinkMessage;
    type Args = BufferSinkArgs;
    const MAILBOX: usize = 2 * BUFFER_RING;
    const NAME: &'static str = "BufferSink";

    fn init(args: &BufferSinkArgs, _ctx: &mut Ctx<Self>) -> Self {
        BufferSink {
            args: *args,
            expected: 0,
        }
    }

    #[inline]
    fn handle(&mut self, message: BufferSinkMessage, ctx: &mut Ctx<Self>) -> Effect {
        let BufferSinkMessage::Chunk(Chunk { sequence, buffer }) = message;
        if sequence != self.expected
            || buffer.len() != self.args.size
            || stamped(&buffer) != Some(sequence)
        {
            return fail(format!(
                "buffer sink: expected {} of {} bytes, got {sequence} of {} bytes stamped {:?}",
                self.expected,
                self.args.size,
                buffer.len(),
                stamped(&buffer)
            ));
        }
        if self.args.copy {
            match ctx.buffer_from(&buffer) {
                Ok(copy) => {
                    if stamped(black_box(&copy)) != Some(sequence) || copy.len() != buffer.len() {
                        return fail(format!("buffer sink: bad copy of {sequence}"));
                    }
                }
                Err(error) => return fail(format!("buffer sink: copy refused: {error:?}")),
            }
        }
        drop(buffer);
        self.expected += 1;
        if self.expected == self.args.total {
            PROBE.finish(self.args.total);
            return Effect::Done;
        }
        Effect::Receive
    }
}

/// What a [`BufferSource`] starts with.
#[derive(Clone, Copy)]
struct BufferSourceArgs {
    target: Handle<BufferSink>,
    total: u64,
    size: usize,
}

/// Takes a buffer of its shard's pool per message, stamps it and sends it, until the
/// mailbox or ring is full or the pool is empty; then yields.
struct BufferSource {
    args: BufferSourceArgs,
    next: u64,
    pending: Option<Buffer>,
}

messages!(BufferSource => BufferSourceMessage { Go(Go) });

impl BufferSource {
    #[inline]
    fn burst(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        while self.next < self.args.total {
            let buffer = match self.pending.take() {
                Some(buffer) => buffer,
                None => match ctx.buffer(self.args.size) {
                    Ok(mut buffer) => {
                        buffer.set_len(self.args.size);
                        stamp(&mut buffer, self.next);
                        buffer
                    }
                    Err(BufferError::Exhausted) => return Effect::Yield,
                    Err(error) => return fail(format!("buffer source: {error:?}")),
                },
            };
            let chunk = Chunk {
                sequence: self.next,
                buffer,
            };
            match ctx.send(&self.args.target, chunk) {
                Ok(()) => self.next += 1,
                Err(error)
                    if matches!(
                        error.kind,
                        SendErrorKind::MailboxFull | SendErrorKind::RingFull
                    ) =>
                {
                    self.pending = Some(error.message.buffer);
                    return Effect::Yield;
                }
                Err(error) => return fail(format!("buffer source: send refused: {}", error.kind)),
            }
        }
        Effect::Done
    }
}

impl Isolate for BufferSource {
    type Message = BufferSourceMessage;
    type Args = BufferSourceArgs;
    const MAILBOX: usize = 1;
    const NAME: &'static str = "BufferSource";

    fn init(args: &BufferSourceArgs, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        if ctx.send(&me, Go).is_err() {
            PROBE.fail("buffer source: could not start itself");
        }
        BufferSource {
            args: *args,
            next: 0,
            pending: None,
        }
    }

    fn handle(&mut self, message: BufferSourceMessage, ctx: &mut Ctx<Self>) -> Effect {
        let BufferSourceMessage::Go(Go) = message;
        PROBE.start_once();
        self.burst(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }
}

/// One sample: `total` buffers of `size` bytes from shard 0 to a sink on `sink_shard`,
/// moved or copied there; returns ns/message.
fn buffer_run(total: u64, size: usize, sink_shard: u16, copy: bool) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(usize::from(sink_shard) + 1);
    spec.ring_capacity(BUFFER_RING)
        .dispatch_budget(BUFFER_RING)
        .buffer_class(size, BUFFER_BLOCKS)
        .isolate::<BufferSink>(1)
        .isolate::<BufferSource>(1);
    let target = spec.root::<BufferSink>(ShardId(sink_shard), BufferSinkArgs { total, size, copy });
    spec.root::<BufferSource>(
        ShardId(0),
        BufferSourceArgs {
            target,
            total,
            size,
        },
    );
    let system = System::start(spec).expect("boot");
    wait_for_probe(&system);
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert_eq!(PROBE.count(), total, "buffers: wrong count");
    assert_eq!(summary.total.bounced, 0, "buffers: bounces");
    let copies = if copy { total } else { 0 };
    assert_eq!(
        summary.total.buffers_taken,
        total + copies,
        "buffers: taken counter"
    );
    PROBE.elapsed_seconds() * 1e9 / total as f64
}

// ---------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if let Some(case) = arguments
        .iter()
        .find(|argument| argument.starts_with("sim-"))
    {
        let total = arguments
            .iter()
            .find_map(|argument| argument.parse().ok())
            .unwrap_or(200_000);
        simulate(case, total);
        return;
    }
    let plan = Plan::from_env();
    eprintln!("delivery: {}", plan.describe());
    let mut table = Table::new();
    table.line(format!(
        "\n### Delivery, ingress and transfer buffers ({}; {})",
        plan.describe(),
        machine::describe()
    ));

    // `TINA_BENCH_PARTS=ac` runs parts a and c only (default: all).
    let parts = std::env::var("TINA_BENCH_PARTS").unwrap_or_else(|_| "abcde".to_owned());
    let runs: [(char, Part); 5] = [
        ('a', part_a),
        ('b', part_b),
        ('c', part_c),
        ('d', part_d),
        ('e', part_e),
    ];
    for (letter, part) in runs {
        if parts.contains(letter) {
            part(&plan, &mut table);
        }
    }
    table.finish();
}

/// One part of the report.
type Part = fn(&Plan, &mut Table);

/// a. Ingress send against std and crossbeam channels.
fn part_a(plan: &Plan, table: &mut Table) {
    // a. Ingress send.
    let sends: u64 = plan.pick(2_000_000, 500_000, 2_000);
    let mut refusals = Vec::new();
    let mut contenders = [
        Contender::new("tina System::send (ingress 256)", || {
            tina_ingress(sends, &mut refusals)
        }),
        Contender::new("std sync_channel(256)", || std_ingress(sends)),
        Contender::new("crossbeam bounded(256)", || crossbeam_ingress(sends)),
    ];
    let samples = interleave(plan, &mut contenders);
    drop(contenders);
    table.section(
        &format!(
            "a. ingress: {sends} messages of 8 bytes from a plain thread into one shard (or consumer thread) per sample"
        ),
        &samples,
        Metric::cost("ns/message"),
        "tina System::send (ingress 256)",
    );
    table.line(format!(
        "\n`IngressFull` retries per message (median of samples): {:.3}.",
        median(&refusals)
    ));
}

/// b. External call round trips against channel servers.
fn part_b(plan: &Plan, table: &mut Table) {
    // b. External call.
    let calls: u64 = plan.pick(50_000, 10_000, 200);
    let mut contenders = [
        Contender::new("tina System::call", || tina_call(calls)),
        Contender::new(
            "std sync_channel(256) request + sync_channel(1) reply, server thread",
            || std_call(calls),
        ),
        Contender::new(
            "crossbeam bounded(256) request + bounded(1) reply, server thread",
            || crossbeam_call(calls),
        ),
    ];
    let samples = interleave(plan, &mut contenders);
    table.section(
        &format!("b. external call round trip from a plain thread, {calls} calls per sample"),
        &samples,
        Metric::cost("µs"),
        "tina System::call",
    );
}

/// c. The cost of a bounce against the delivered path.
fn part_c(plan: &Plan, table: &mut Table) {
    // c. Cost of a bounce.
    let bounce_total: u64 = plan.pick(2_000_000, 500_000, 5_000);
    let mut slow_fraction = Vec::new();
    let mut stale_bounced = Vec::new();
    let delivered_name = "all delivered (receiver keeps up, mailbox 2048)";
    let slow_name = "mostly bounced (receiver spins 1 µs, mailbox 4, budget 64)";
    let stale_name = "all bounced (target handle stale)";
    let mut contenders = [
        Contender::new(delivered_name, || {
            let run = streamer_run::<{ 2 * RING }>(
                bounce_total,
                Some((Check::Ordered, 0)),
                OnBounce::Count,
                RING,
                Driver::Threads,
            );
            assert_eq!(run.bounced, 0, "delivered case: bounces");
            run.nanos_per_message
        }),
        Contender::new(slow_name, || {
            let run = streamer_run::<4>(
                bounce_total,
                Some((Check::Ordered, 1_000)),
                OnBounce::Count,
                SLOW_BUDGET,
                Driver::Threads,
            );
            slow_fraction.push(run.item_bounces as f64 / bounce_total as f64);
            run.nanos_per_message
        }),
        Contender::new(stale_name, || {
            let run = streamer_run::<4>(bounce_total, None, OnBounce::Count, RING, Driver::Threads);
            assert_eq!(
                run.item_bounces, bounce_total,
                "stale case: every item bounces"
            );
            stale_bounced.push(run.nanos_per_message);
            run.nanos_per_message
        }),
    ];
    let samples = interleave(plan, &mut contenders);
    drop(contenders);
    table.section(
        &format!(
            "c. cost of a bounce: {bounce_total} messages shard 0 → shard 1 per sample, every refusal handled by the sender's `undelivered` (ns per message sent)"
        ),
        &samples,
        Metric::cost("ns/message"),
        delivered_name,
    );
    let slow = median(samples.of(slow_name));
    let fraction = median(&slow_fraction);
    table.line(format!(
        "\nA bounced message (stale target, every message bounces) costs {:.2}× a delivered one (median of per-round ratios). With the slow receiver {:.1}% of the messages bounced (median); {:.0} ns per message sent, {:.0} ns per bounced message (the receiver's 1 µs spins included).",
        samples.ratio_median(stale_name, delivered_name),
        100.0 * fraction,
        slow,
        slow / fraction.max(f64::MIN_POSITIVE),
    ));
}

/// d. Transfer buffers, move against copy, by size.
fn part_d(plan: &Plan, table: &mut Table) {
    // d. Transfer buffers, move against copy.
    let mut summary_rows = Vec::new();
    for size in [64usize, 1024, 16 * 1024, 64 * 1024] {
        let full = (1u64 << 30) / size as u64;
        let count: u64 = plan.pick(full.min(1_000_000), (full / 4).min(250_000), 200);
        let mut contenders = [
            Contender::new("same shard, move", || buffer_run(count, size, 0, false)),
            Contender::new("same shard, copy (buffer_from)", || {
                buffer_run(count, size, 0, true)
            }),
            Contender::new("across shards, hand-over", || {
                buffer_run(count, size, 1, false)
            }),
            Contender::new("across shards, copy into the receiver's pool", || {
                buffer_run(count, size, 1, true)
            }),
        ];
        let samples: Samples = interleave(plan, &mut contenders);
        table.section(
            &format!(
                "d. transfer buffer of {size} bytes, {count} messages per sample (ns per message)"
            ),
            &samples,
            Metric::cost("ns/message"),
            "same shard, move",
        );
        summary_rows.push(format!(
            "| {size} | {:.1} | {:.1} | {:.2}× | {:.1} | {:.1} | {:.2}× |",
            median(samples.of("same shard, move")),
            median(samples.of("same shard, copy (buffer_from)")),
            samples.ratio_median("same shard, copy (buffer_from)", "same shard, move"),
            median(samples.of("across shards, hand-over")),
            median(samples.of("across shards, copy into the receiver's pool")),
            samples.ratio_median(
                "across shards, copy into the receiver's pool",
                "across shards, hand-over"
            ),
        ));
    }
    table.line(
        "\n**d. summary: ns per message (medians) and copy ÷ move (median of per-round ratios)**\n",
    );
    table.line("| bytes | same shard, move | same shard, copy | copy ÷ move | across, hand-over | across, copy | copy ÷ hand-over |");
    table.line("|---:|---:|---:|---:|---:|---:|---:|");
    for row in summary_rows {
        table.line(row);
    }
}

/// e. Flow control: the bounce-resend sender against today's pattern.
fn part_e(plan: &Plan, table: &mut Table) {
    // e. Flow control.
    let stream_total: u64 = plan.pick(STREAM_MAX, 1_000_000, 10_000);
    let yield_name = "send until RingFull, then Yield (today's pattern)";
    let resend_name = "bounce-resend sender";
    let mut resent_keeping_up = Vec::new();
    let mut contenders = [
        Contender::new(yield_name, || {
            1e3 / yield_run::<{ 2 * RING }>(stream_total, 0, RING, Driver::Threads)
        }),
        Contender::new(resend_name, || {
            let run = streamer_run::<{ 2 * RING }>(
                stream_total,
                Some((Check::Bitmap, 0)),
                OnBounce::Resend,
                RING,
                Driver::Threads,
            );
            resent_keeping_up.push(run.bounced);
            1e3 / run.nanos_per_message
        }),
    ];
    let samples = interleave(plan, &mut contenders);
    drop(contenders);
    table.section(
        &format!(
            "e. flow control, receiver keeps up: {stream_total} messages shard 0 → shard 1 per sample"
        ),
        &samples,
        Metric::throughput("M msgs/s"),
        resend_name,
    );
    let keeping_up = samples.ratio_median(resend_name, yield_name);
    table.line(format!(
        "\nThe bounce-resend sender reaches {keeping_up:.2}× today's pattern when the receiver keeps up (median of per-round ratios; target ≥ 0.80×); bounces in those samples: {:?}.",
        resent_keeping_up
    ));

    let slow_plan = Plan {
        mode: plan.mode,
        rounds: plan.rounds.min(3),
    };
    let slow_bouncing = "bounce-resend sender, budget 64 (most arrivals bounce)";
    let slow_resend_whole = "bounce-resend sender, budget 1024";
    let slow_yield_whole = "send until RingFull, then Yield, budget 1024";
    let mut slow_bounces = Vec::new();
    let mut slow_whole_bounces = Vec::new();
    let mut contenders = [
        Contender::new(slow_bouncing, || {
            let run = streamer_run::<16>(
                stream_total,
                Some((Check::Bitmap, 200)),
                OnBounce::Resend,
                SLOW_BUDGET,
                Driver::Threads,
            );
            slow_bounces.push(run.bounced);
            1e3 / run.nanos_per_message
        }),
        Contender::new(slow_resend_whole, || {
            let run = streamer_run::<16>(
                stream_total,
                Some((Check::Bitmap, 200)),
                OnBounce::Resend,
                RING,
                Driver::Threads,
            );
            slow_whole_bounces.push(run.bounced);
            1e3 / run.nanos_per_message
        }),
        Contender::new(slow_yield_whole, || {
            1e3 / yield_run::<16>(stream_total, 200, RING, Driver::Threads)
        }),
    ];
    let samples = interleave(&slow_plan, &mut contenders);
    drop(contenders);
    table.section(
        &format!(
            "e. flow control, slow receiver (spins 200 ns per message, mailbox 16): {stream_total} messages, every one delivered exactly once (bitmap, count and sum checked)"
        ),
        &samples,
        Metric::throughput("M msgs/s"),
        slow_bouncing,
    );
    let per_message = |bounces: &[u64]| {
        median(
            &bounces
                .iter()
                .map(|bounced| *bounced as f64 / stream_total as f64)
                .collect::<Vec<_>>(),
        )
    };
    table.line(format!(
        "\nEvery sample delivered all {stream_total} messages exactly once. With a budget of 64 the bounce-resend sender saw {:.2} bounces per message (median; per sample {:?}), with a budget of 1024 {:.3} ({:?}); today's pattern at 1024 saw none (a bounce would have failed the sample).",
        per_message(&slow_bounces),
        slow_bounces,
        per_message(&slow_whole_bounces),
        slow_whole_bounces,
    ));
}

tina_bench::plain_data!(
    Tally,
    Count,
    Echo,
    Ask,
    Item,
    Last,
    Delivered,
    Go,
    Continue,
    Check,
    OnBounce,
    SinkMessage,
    YieldSenderMessage,
    StreamerMessage,
    Chunk,
    BufferSinkArgs,
    BufferSink,
    BufferSourceArgs,
    BufferSource,
);

// SAFETY: counts, a `Check` and an optional handle: nothing in them can grow.
unsafe impl<const MAILBOX: usize> Bounded for SinkArgs<MAILBOX> {}
// SAFETY: its `SinkArgs` and counts: nothing in them can grow.
unsafe impl<const MAILBOX: usize> Bounded for Sink<MAILBOX> {}
// SAFETY: a handle and a count.
unsafe impl<const MAILBOX: usize> Bounded for YieldSenderArgs<MAILBOX> {}
// SAFETY: a count and its `YieldSenderArgs`.
unsafe impl<const MAILBOX: usize> Bounded for YieldSender<MAILBOX> {}
// SAFETY: a handle, counts and flags.
unsafe impl<const MAILBOX: usize> Bounded for StreamerArgs<MAILBOX> {}
// SAFETY: its args, counts, flags and a fixed-capacity `heapless::Deque` of retries.
unsafe impl<const MAILBOX: usize> Bounded for Streamer<MAILBOX> {}
