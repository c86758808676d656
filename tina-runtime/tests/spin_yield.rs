//! `BootSpec::spin_by_yielding`: shards that yield their core while they spin still deliver
//! every message, across shards, and still go to sleep when the spin ends.

mod support;

use std::time::{Duration, Instant};

use tina::prelude::*;

/// How many round trips each pair makes.
const ROUND_TRIPS: u32 = 2_000;

/// A question from outside the system.
#[derive(Bounded, Request)]
#[reply(u32)]
struct HowMany;

/// Ball number `0`, from `from`.
#[derive(Bounded)]
struct Ball(u32, Handle<Player>);

/// Hits each ball back to whoever sent it, until ball `2 × ROUND_TRIPS`.
#[isolate(mailbox = 4)]
struct Player {
    hits: u32,
}

#[isolate]
impl Player {
    fn init(serve_to: &Option<Handle<Player>>, ctx: &mut Ctx<Self>) -> Self {
        if let Some(to) = serve_to {
            let _ = ctx.send(to, Ball(0, ctx.me()));
        }
        Player { hits: 0 }
    }

    fn ball(&mut self, Ball(number, from): Ball, ctx: &mut Ctx<Self>) -> Effect {
        self.hits += 1;
        if number < ROUND_TRIPS * 2 {
            let _ = ctx.send(&from, Ball(number + 1, ctx.me()));
        }
        Effect::Receive
    }

    fn how_many(
        &mut self,
        _question: HowMany,
        reply: ReplyTo<HowMany>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        ctx.reply(reply, self.hits)
    }
}

#[test]
fn yielding_shards_deliver_every_message_and_then_sleep() {
    let mut spec = support::small_spec(2);
    spec.isolate::<Player>(1)
        .spin_before_sleep(1_000)
        .spin_by_yielding(true);
    let server = spec.root::<Player>(ShardId(1), None);
    let client = spec.root::<Player>(ShardId(0), Some(server));
    let system = System::start(spec).expect("boots");

    let started = Instant::now();
    let mut hits = (0, 0);
    while started.elapsed() < Duration::from_secs(10) {
        let ask = |to| {
            system
                .call(to, HowMany, Duration::from_secs(1))
                .unwrap_or(0)
        };
        hits = (ask(&client), ask(&server));
        if hits == (ROUND_TRIPS, ROUND_TRIPS + 1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The server took balls 0, 2, …, 2 × ROUND_TRIPS; the client 1, 3, …
    assert_eq!(
        hits,
        (ROUND_TRIPS, ROUND_TRIPS + 1),
        "every ball was hit back"
    );

    // Nothing left to do: both shards end their spins and sleep. A shard that kept
    // spinning would tick thousands of times in the window below; a sleeping one not at all.
    std::thread::sleep(Duration::from_millis(100));
    let ticks = |shard| system.counters(ShardId(shard)).ticks;
    let before = (ticks(0), ticks(1));
    std::thread::sleep(Duration::from_millis(300));
    let after = (ticks(0), ticks(1));
    assert!(
        after.0 - before.0 <= 20 && after.1 - before.1 <= 20,
        "idle shards sleep instead of spinning on: ticks {before:?} -> {after:?}"
    );
    assert!(system.counters(ShardId(0)).sleeps > 0 && system.counters(ShardId(1)).sleeps > 0);
    let _ = system.shutdown(Duration::from_secs(2));
}
