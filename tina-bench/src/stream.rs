//! The sender/receiver pair the throughput benchmarks share: a [`Sender`] that sends
//! numbered [`Item`]s as fast as the runtime takes them, and a [`Receiver`] that checks their
//! order and reports to a [`Probe`] when the last one arrives.
//!
//! Both are hand-written isolates (what `#[isolate]` would generate, written out), generic
//! over the receiver's mailbox bound so each benchmark picks its own.

use tina_runtime::{
    Accepts, BootSpec, Bounded, Ctx, Effect, Handle, Isolate, Message, SendErrorKind, ShardId,
};

use crate::Probe;

/// One message: its sequence number.
pub struct Item(pub u64);

/// The receiver's input alphabet.
pub enum ReceiverMessage {
    /// A numbered item.
    Item(Item),
}

// SAFETY: a `u64` sequence number owns nothing.
unsafe impl Bounded for Item {}
// SAFETY: its only variant holds an `Item`.
unsafe impl Bounded for ReceiverMessage {}

impl Message for ReceiverMessage {
    #[inline]
    fn tag(&self) -> u16 {
        0
    }
}

/// What a [`Receiver`] starts with.
#[derive(Clone, Copy)]
pub struct ReceiverArgs {
    /// Items it expects.
    pub total: u64,
    /// Receivers in the sample: the last of them to finish stamps the end.
    pub pairs: u64,
    /// Where it reports.
    pub probe: &'static Probe,
}

// SAFETY: two counts and a borrow of a `'static` probe: owns nothing.
unsafe impl Bounded for ReceiverArgs {}

/// Checks that items arrive in order; when it has all of them and is the last receiver of
/// the sample to finish, stamps the end with `pairs × total` items.
pub struct Receiver<const MAILBOX: usize> {
    expected: u64,
    args: ReceiverArgs,
}

// SAFETY: a count and its `ReceiverArgs`, which own nothing.
unsafe impl<const MAILBOX: usize> Bounded for Receiver<MAILBOX> {}

impl<const MAILBOX: usize> Accepts<Item> for Receiver<MAILBOX> {
    #[inline]
    fn wrap(message: Item) -> ReceiverMessage {
        ReceiverMessage::Item(message)
    }

    #[inline]
    fn extract(message: ReceiverMessage) -> Option<Item> {
        let ReceiverMessage::Item(item) = message;
        Some(item)
    }
}

impl<const MAILBOX: usize> Isolate for Receiver<MAILBOX> {
    type Message = ReceiverMessage;
    type Args = ReceiverArgs;
    const MAILBOX: usize = MAILBOX;
    const NAME: &'static str = "Receiver";

    fn init(args: &ReceiverArgs, _ctx: &mut Ctx<Self>) -> Self {
        Receiver {
            expected: 0,
            args: *args,
        }
    }

    #[inline]
    fn handle(&mut self, message: ReceiverMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let ReceiverMessage::Item(Item(sequence)) = message;
        if sequence != self.expected {
            self.args.probe.fail(format!(
                "tina: expected message {}, got {sequence}",
                self.expected
            ));
            return Effect::Done;
        }
        self.expected += 1;
        if self.expected == self.args.total {
            if self.args.probe.add(1) == self.args.pairs {
                self.args.probe.finish(self.args.pairs * self.args.total);
            }
            return Effect::Done;
        }
        Effect::Receive
    }
}

/// Starts a [`Sender`].
pub struct Go;

/// The sender's input alphabet.
pub enum SenderMessage {
    /// Start sending.
    Go(Go),
}

// SAFETY: a unit struct owns nothing.
unsafe impl Bounded for Go {}
// SAFETY: its only variant holds a `Go`.
unsafe impl Bounded for SenderMessage {}

impl Message for SenderMessage {
    #[inline]
    fn tag(&self) -> u16 {
        0
    }
}

/// What a [`Sender`] starts with.
pub struct SenderArgs<const MAILBOX: usize> {
    /// Where the items go.
    pub target: Handle<Receiver<MAILBOX>>,
    /// Items to send.
    pub total: u64,
    /// Where it reports: the first sender to start stamps the start of the sample.
    pub probe: &'static Probe,
}

// SAFETY: a handle, a count and a borrow of a `'static` probe: owns nothing.
unsafe impl<const MAILBOX: usize> Bounded for SenderArgs<MAILBOX> {}

// SAFETY: a count and its `SenderArgs`, which own nothing.
unsafe impl<const MAILBOX: usize> Bounded for Sender<MAILBOX> {}

impl<const MAILBOX: usize> Clone for SenderArgs<MAILBOX> {
    fn clone(&self) -> Self {
        Self {
            target: self.target,
            total: self.total,
            probe: self.probe,
        }
    }
}

/// Sends `total` items to its receiver in bursts: until the receiver's mailbox (same
/// shard) or the ring to its shard is full, then yields and goes on in the next tick.
pub struct Sender<const MAILBOX: usize> {
    next: u64,
    args: SenderArgs<MAILBOX>,
}

impl<const MAILBOX: usize> Sender<MAILBOX> {
    #[inline]
    fn burst(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        while self.next < self.args.total {
            match ctx.send(&self.args.target, Item(self.next)) {
                Ok(()) => self.next += 1,
                Err(error)
                    if matches!(
                        error.kind,
                        SendErrorKind::MailboxFull | SendErrorKind::RingFull
                    ) =>
                {
                    return Effect::Yield;
                }
                Err(error) => {
                    self.args.probe.fail(format!("tina: send refused: {error}"));
                    return Effect::Done;
                }
            }
        }
        Effect::Done
    }
}

impl<const MAILBOX: usize> Accepts<Go> for Sender<MAILBOX> {
    #[inline]
    fn wrap(message: Go) -> SenderMessage {
        SenderMessage::Go(message)
    }

    #[inline]
    fn extract(message: SenderMessage) -> Option<Go> {
        let SenderMessage::Go(go) = message;
        Some(go)
    }
}

impl<const MAILBOX: usize> Isolate for Sender<MAILBOX> {
    type Message = SenderMessage;
    type Args = SenderArgs<MAILBOX>;
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Sender";

    fn init(args: &SenderArgs<MAILBOX>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        if ctx.send(&me, Go).is_err() {
            args.probe.fail("tina: sender could not start itself");
        }
        Sender {
            next: 0,
            args: args.clone(),
        }
    }

    fn handle(&mut self, message: SenderMessage, ctx: &mut Ctx<Self>) -> Effect {
        let SenderMessage::Go(Go) = message;
        self.args.probe.start_once();
        self.burst(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }
}

/// Declares one sender/receiver pair as roots of `spec`: the receiver on `receiver_shard`
/// (one of `pairs` in the sample), the sender on `sender_shard`, `total` items, both
/// reporting to `probe`. Register both types with `BootSpec::isolate` first.
pub fn add_pair<const MAILBOX: usize>(
    spec: &mut BootSpec,
    receiver_shard: ShardId,
    sender_shard: ShardId,
    total: u64,
    pairs: u64,
    probe: &'static Probe,
) -> Handle<Receiver<MAILBOX>> {
    let target = spec.root::<Receiver<MAILBOX>>(
        receiver_shard,
        ReceiverArgs {
            total,
            pairs,
            probe,
        },
    );
    spec.root::<Sender<MAILBOX>>(
        sender_shard,
        SenderArgs {
            target,
            total,
            probe,
        },
    );
    target
}
