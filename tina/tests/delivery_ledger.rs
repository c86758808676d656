//! A property over random cross-shard traffic with small mailboxes and rings (issue 11):
//! for every message sent with `Ok`, exactly one of these happens — the receiver handles
//! it, it bounces back to its (live) sender, or it is counted in the sending shard's
//! `undelivered_*` counters because its sender has gone. The ledger is kept by the test
//! (isolates write to it from their handlers), not by the runtime.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use tina::Undelivered;
use tina::prelude::*;

#[derive(Default)]
struct Ledger {
    /// Ids sent with `Ok`.
    sent: BTreeMap<u32, u32>,
    handled: BTreeMap<u32, u32>,
    bounced: BTreeMap<u32, u32>,
}

thread_local! {
    static LEDGER: RefCell<Ledger> = RefCell::new(Ledger::default());
}

fn note(pick: impl FnOnce(&mut Ledger) -> &mut BTreeMap<u32, u32>, id: u32) {
    LEDGER.with(|ledger| *pick(&mut ledger.borrow_mut()).entry(id).or_insert(0) += 1);
}

/// A numbered message.
#[derive(Bounded)]
struct Msg {
    id: u32,
}

/// Records what it handles; never leaves.
#[isolate(mailbox = 4)]
struct Receiver;

#[isolate]
impl Receiver {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Receiver
    }

    fn msg(&mut self, msg: Msg, _ctx: &mut Ctx<Self>) -> Effect {
        note(|ledger| &mut ledger.handled, msg.id);
        Effect::Receive
    }
}

/// Tells a sender about one receiver.
#[derive(Bounded)]
struct Peer(Handle<Receiver>);

/// Starts sending.
#[derive(Bounded)]
struct Go;

/// Time for the next burst.
#[derive(Bounded)]
struct Burst;

#[derive(Bounded, Clone, Copy)]
struct SenderArgs {
    index: u32,
    total: u32,
    burst: u32,
    seed: u64,
    /// Leaves (`Done`) right after its last burst: bounces still on their way find it gone.
    leaves: bool,
}

#[isolate(mailbox = 16)]
struct Sender {
    args: SenderArgs,
    peers: tina::heapless::Vec<Handle<Receiver>, 8>,
    sent: u32,
    rng: u64,
}

#[isolate]
impl Sender {
    fn init(args: &SenderArgs, _ctx: &mut Ctx<Self>) -> Self {
        Sender {
            args: *args,
            peers: tina::heapless::Vec::new(),
            sent: 0,
            rng: args.seed | 1,
        }
    }

    fn peer(&mut self, peer: Peer, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = self.peers.push(peer.0);
        Effect::Receive
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(Burst, ctx)
    }

    fn burst(&mut self, _burst: Burst, ctx: &mut Ctx<Self>) -> Effect {
        for _ in 0..self.args.burst {
            if self.sent == self.args.total {
                break;
            }
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let peer = self.peers[(self.rng % self.peers.len() as u64) as usize];
            let id = self.args.index * 10_000 + self.sent;
            self.sent += 1;
            if ctx.send(&peer, Msg { id }).is_ok() {
                note(|ledger| &mut ledger.sent, id);
            }
        }
        if self.sent == self.args.total {
            return if self.args.leaves {
                Effect::Done
            } else {
                Effect::Receive
            };
        }
        ctx.after(Duration::from_micros(1 + self.rng % 5), Burst)
            .expect("a timer slot");
        Effect::Receive
    }

    fn undelivered(&mut self, bounce: Undelivered<Msg>, _ctx: &mut Ctx<Self>) -> Effect {
        note(|ledger| &mut ledger.bounced, bounce.message.id);
        Effect::Receive
    }
}

fn undelivered(totals: &tina::Counters) -> u64 {
    totals.undelivered_mailbox_full
        + totals.undelivered_pool_exhausted
        + totals.undelivered_stale
        + totals.undelivered_shard_down
        + totals.undelivered_no_free_slot
}

fn run(
    seed: u64,
    shards: usize,
    senders: usize,
    total: u32,
    burst: u32,
    ring: usize,
) -> tina::Counters {
    LEDGER.with(|ledger| *ledger.borrow_mut() = Ledger::default());
    let mut spec = BootSpec::new(shards);
    spec.isolate::<Receiver>(2)
        .isolate::<Sender>(senders)
        .ring_capacity(ring)
        .dispatch_budget(3);
    let receivers: Vec<_> = (0..shards)
        .flat_map(|shard| [ShardId(shard as u16); 2])
        .map(|shard| spec.root::<Receiver>(shard, ()))
        .collect();
    let mut all = Vec::new();
    for shard in 0..shards {
        for slot in 0..senders {
            let index = all.len() as u32;
            let args = SenderArgs {
                index,
                total,
                burst,
                seed: seed.wrapping_mul(31).wrapping_add(u64::from(index) * 7919),
                leaves: (seed >> index) & 1 == 1,
            };
            let _ = slot;
            all.push(spec.root::<Sender>(ShardId(shard as u16), args));
        }
    }
    let mut sim = Simulation::new(spec, seed).unwrap();
    for sender in &all {
        for receiver in &receivers {
            sim.send(sender, Peer(*receiver)).unwrap();
        }
        sim.run(100);
    }
    for sender in &all {
        sim.send(sender, Go).unwrap();
    }
    assert!(sim.run(2_000_000).quiescent, "seed {seed}");
    sim.check_pools().unwrap();
    let totals = sim.totals();
    LEDGER.with(|ledger| {
        let ledger = ledger.borrow();
        for (id, times) in &ledger.sent {
            assert_eq!(*times, 1, "id {id} sent twice");
        }
        for (id, times) in ledger.handled.iter().chain(&ledger.bounced) {
            assert_eq!(*times, 1, "seed {seed}: id {id} seen {times} times");
            assert!(
                ledger.sent.contains_key(id),
                "seed {seed}: id {id} never sent"
            );
        }
        for id in ledger.handled.keys() {
            assert!(
                !ledger.bounced.contains_key(id),
                "seed {seed}: id {id} handled and bounced"
            );
        }
        let accounted =
            ledger.handled.len() as u64 + ledger.bounced.len() as u64 + undelivered(&totals);
        assert_eq!(
            accounted,
            ledger.sent.len() as u64,
            "seed {seed}: handled {} + bounced {} + counted {} != sent {}; {totals:?}",
            ledger.handled.len(),
            ledger.bounced.len(),
            undelivered(&totals),
            ledger.sent.len()
        );
        assert_eq!(totals.bounces_handled, ledger.bounced.len() as u64);
        assert_eq!(totals.dropped_on_arrival, 0);
    });
    totals
}

#[test]
fn a_flood_that_is_refused_everywhere_is_accounted_for() {
    // Big bursts into mailboxes of 4 with a budget of 3: most messages bounce.
    let totals = run(0b1010, 3, 2, 300, 40, 16);
    assert!(totals.bounces_handled > 100, "{totals:?}");
}

/// Found by the property: bounces queued for a sender that then returned `Done` were
/// dropped with its control queue, uncounted. Now they count as `undelivered_*`.
#[test]
fn bounces_waiting_for_a_sender_that_leaves_are_counted() {
    let totals = run(4690925863614335834, 2, 1, 100, 20, 8);
    assert!(undelivered(&totals) > 0, "{totals:?}");
    assert!(totals.exited > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_message_sent_with_ok_is_handled_bounced_or_counted_once(
        seed in any::<u64>(),
        shards in 2usize..=3,
        senders in 1usize..=2,
        total in 20u32..200,
        burst in 1u32..40,
        ring in prop::sample::select(vec![4usize, 8, 16, 64]),
    ) {
        run(seed, shards, senders, total, burst, ring);
    }
}
