//! The cost of `#[isolate]`'s generated dispatch against a hand-written `Isolate` impl.
//!
//! One workload, two receivers that differ only in how they were written: a sender pushes
//! `MESSAGES` small messages of four types, `BATCH` per tick (it yields between batches), to
//! a receiver that folds them into its state; one shard, in simulation, so the scheduler is
//! the same code on both sides and nothing but the dispatch differs. The two variants run
//! in interleaved rounds (the order flips each round) in one process; the figure reported
//! is the median over rounds of `hand-written time / macro time`, so 1.00 means the macro
//! costs nothing and the target is at least 0.98.
//!
//! ```text
//! cargo bench -p tina --bench dispatch              # 21 rounds of 2,000,000 messages
//! cargo bench -p tina --bench dispatch -- 5 200000  # rounds, messages per round
//! ```
//!
//! `-- macro 200000` or `-- hand 200000` runs one variant once and exits, for counting
//! instructions under `valgrind --tool=cachegrind --cache-sim=no`, which a busy machine
//! does not disturb (see BENCHMARKS.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use tina::prelude::*;
use tina::{Accepts, Message};

const BATCH: u64 = 128;

#[derive(Bounded)]
struct Add(u64);

#[derive(Bounded)]
struct Mix(u64);

#[derive(Bounded)]
struct Peak(u64);

#[derive(Bounded)]
struct Tally;

/// What both receivers compute, so the runs can be checked against each other.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Folded {
    total: u64,
    mixed: u64,
    peak: u64,
    tallies: u64,
}

// ---- the receiver, written with the macro ----------------------------------------------------

#[isolate(mailbox = 256)]
struct MacroReceiver {
    folded: Folded,
}

#[isolate]
impl MacroReceiver {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        MacroReceiver {
            folded: Folded::default(),
        }
    }

    fn add(&mut self, Add(value): Add, _ctx: &mut Ctx<Self>) -> Effect {
        self.folded.total = self.folded.total.wrapping_add(value);
        Effect::Receive
    }

    fn mix(&mut self, Mix(value): Mix, _ctx: &mut Ctx<Self>) -> Effect {
        self.folded.mixed = self.folded.mixed.rotate_left(5) ^ value;
        Effect::Receive
    }

    fn peak(&mut self, Peak(value): Peak, _ctx: &mut Ctx<Self>) -> Effect {
        self.folded.peak = self.folded.peak.max(value);
        Effect::Receive
    }

    fn tally(&mut self, _tally: Tally, _ctx: &mut Ctx<Self>) -> Effect {
        self.folded.tallies += 1;
        Effect::Receive
    }
}

// ---- the same receiver, written by hand ------------------------------------------------------

struct HandReceiver {
    folded: Folded,
}

enum HandMessage {
    Add(Add),
    Mix(Mix),
    Peak(Peak),
    Tally(Tally),
}

// SAFETY: every variant holds one of the derived-`Bounded` messages above.
unsafe impl tina::Bounded for HandMessage {}
// SAFETY: its only field is a derived-`Bounded` `Folded`.
unsafe impl tina::Bounded for HandReceiver {}

impl Message for HandMessage {
    fn tag(&self) -> u16 {
        match self {
            HandMessage::Add(_) => 0,
            HandMessage::Mix(_) => 1,
            HandMessage::Peak(_) => 2,
            HandMessage::Tally(_) => 3,
        }
    }
}

impl Isolate for HandReceiver {
    type Message = HandMessage;
    type Args = ();
    const MAILBOX: usize = 256;
    const NAME: &'static str = "HandReceiver";

    fn init(_args: &(), _ctx: &mut Ctx<'_, Self>) -> Self {
        HandReceiver {
            folded: Folded::default(),
        }
    }

    fn handle(&mut self, message: HandMessage, _ctx: &mut Ctx<'_, Self>) -> Effect {
        match message {
            HandMessage::Add(Add(value)) => {
                self.folded.total = self.folded.total.wrapping_add(value);
            }
            HandMessage::Mix(Mix(value)) => {
                self.folded.mixed = self.folded.mixed.rotate_left(5) ^ value;
            }
            HandMessage::Peak(Peak(value)) => {
                self.folded.peak = self.folded.peak.max(value);
            }
            HandMessage::Tally(_) => {
                self.folded.tallies += 1;
            }
        }
        Effect::Receive
    }
}

impl Accepts<Add> for HandReceiver {
    fn wrap(message: Add) -> HandMessage {
        HandMessage::Add(message)
    }

    fn extract(message: HandMessage) -> Option<Add> {
        match message {
            HandMessage::Add(message) => Some(message),
            _ => None,
        }
    }
}

impl Accepts<Mix> for HandReceiver {
    fn wrap(message: Mix) -> HandMessage {
        HandMessage::Mix(message)
    }

    fn extract(message: HandMessage) -> Option<Mix> {
        match message {
            HandMessage::Mix(message) => Some(message),
            _ => None,
        }
    }
}

impl Accepts<Peak> for HandReceiver {
    fn wrap(message: Peak) -> HandMessage {
        HandMessage::Peak(message)
    }

    fn extract(message: HandMessage) -> Option<Peak> {
        match message {
            HandMessage::Peak(message) => Some(message),
            _ => None,
        }
    }
}

impl Accepts<Tally> for HandReceiver {
    fn wrap(message: Tally) -> HandMessage {
        HandMessage::Tally(message)
    }

    fn extract(message: HandMessage) -> Option<Tally> {
        match message {
            HandMessage::Tally(message) => Some(message),
            _ => None,
        }
    }
}

// ---- the sender, shared: generic over the receiver -------------------------------------------

/// Starts the sending (a handler can yield; `init` cannot).
#[derive(Bounded)]
struct Start;

#[isolate(mailbox = 1)]
struct Sender<T>
where
    T: Accepts<Add> + Accepts<Mix> + Accepts<Peak> + Accepts<Tally>,
{
    target: Handle<T>,
    sent: u64,
    messages: u64,
}

#[isolate]
impl<T> Sender<T>
where
    T: Accepts<Add> + Accepts<Mix> + Accepts<Peak> + Accepts<Tally>,
{
    fn init(args: &(Handle<T>, u64), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Start)
            .expect("the sender's own mailbox is empty at init");
        Sender {
            target: args.0,
            sent: 0,
            messages: args.1,
        }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        self.send_batch(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.send_batch(ctx)
    }

    /// Sends up to `BATCH` messages, rotating over the four types; yields while any are left.
    #[isolate(helper)]
    fn send_batch(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        let end = (self.sent + BATCH).min(self.messages);
        while self.sent < end {
            let value = self.sent;
            let sent = match value % 4 {
                0 => ctx.send(&self.target, Add(value)).is_ok(),
                1 => ctx.send(&self.target, Mix(value)).is_ok(),
                2 => ctx.send(&self.target, Peak(value)).is_ok(),
                _ => ctx.send(&self.target, Tally).is_ok(),
            };
            if !sent {
                // The receiver's mailbox is full: try the rest next tick.
                return Effect::Yield;
            }
            self.sent += 1;
        }
        if self.sent == self.messages {
            Effect::Done
        } else {
            Effect::Yield
        }
    }
}

/// Either receiver, for the runner.
trait Receiver:
    Isolate<Args = ()> + Accepts<Add> + Accepts<Mix> + Accepts<Peak> + Accepts<Tally>
{
    fn folded(&self) -> Folded;
}

impl Receiver for MacroReceiver {
    fn folded(&self) -> Folded {
        self.folded
    }
}

impl Receiver for HandReceiver {
    fn folded(&self) -> Folded {
        self.folded
    }
}

/// Boots a fresh simulation, then times only its run; returns the time and the result.
fn run<R: Receiver>(messages: u64) -> (Duration, Folded) {
    let mut spec = BootSpec::new(1);
    spec.isolate::<R>(1).isolate::<Sender<R>>(1);
    let receiver = spec.root::<R>(ShardId(0), ());
    spec.root::<Sender<R>>(ShardId(0), (receiver, messages));
    let mut simulation = Simulation::new(spec, 1).expect("the benchmark's boot spec is valid");
    let started = Instant::now();
    let report = simulation.run(u64::MAX);
    let elapsed = started.elapsed();
    assert!(report.quiescent, "the run did not finish");
    let folded = black_box(simulation.state(receiver).expect("the receiver is alive")).folded();
    (elapsed, folded)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; any numbers are the rounds and the messages per round.
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let mut numbers = arguments
        .iter()
        .filter_map(|argument| argument.parse::<u64>().ok());
    let single = arguments
        .iter()
        .find(|argument| *argument == "macro" || *argument == "hand");
    if let Some(variant) = single {
        let messages = numbers.next().unwrap_or(200_000).max(4);
        let (elapsed, folded) = if variant == "macro" {
            run::<MacroReceiver>(messages)
        } else {
            run::<HandReceiver>(messages)
        };
        println!("{variant}: {messages} messages in {elapsed:?} ({folded:?})");
        return;
    }
    let rounds = numbers.next().unwrap_or(21).max(1);
    let messages = numbers.next().unwrap_or(2_000_000).max(4);

    // Warm up both, and check they compute the same thing.
    let (_, by_macro) = run::<MacroReceiver>(messages / 10);
    let (_, by_hand) = run::<HandReceiver>(messages / 10);
    assert_eq!(by_macro, by_hand, "the two receivers disagree");

    let mut macro_nanos = Vec::new();
    let mut hand_nanos = Vec::new();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let (by_macro, by_hand) = if round % 2 == 0 {
            let by_macro = run::<MacroReceiver>(messages);
            (by_macro, run::<HandReceiver>(messages))
        } else {
            let by_hand = run::<HandReceiver>(messages);
            (run::<MacroReceiver>(messages), by_hand)
        };
        assert_eq!(by_macro.1, by_hand.1, "the two receivers disagree");
        let per_message = |elapsed: Duration| elapsed.as_nanos() as f64 / messages as f64;
        macro_nanos.push(per_message(by_macro.0));
        hand_nanos.push(per_message(by_hand.0));
        ratios.push(by_hand.0.as_secs_f64() / by_macro.0.as_secs_f64());
    }
    let (macro_median, hand_median) = (median(&mut macro_nanos), median(&mut hand_nanos));
    let ratio = median(&mut ratios);
    println!("dispatch: {rounds} interleaved rounds of {messages} messages, 1 shard, simulation");
    println!("  #[isolate]   median {macro_median:7.2} ns/message (send + dispatch + handle)");
    println!("  hand-written median {hand_median:7.2} ns/message");
    println!(
        "  ratio (hand-written time / macro time), median over rounds: {ratio:.3} \
         (min {:.3}, max {:.3}; target >= 0.98)",
        ratios[0],
        ratios[ratios.len() - 1]
    );
}
