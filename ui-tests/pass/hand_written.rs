//! A hand-written isolate and request that are honest compile: the state, args, messages and
//! reply are `Bounded` (derived, or claimed with an explicit `unsafe impl`).
use tina::prelude::*;

/// A handle into a fixed-size pool of the program's own: bounded by construction.
struct PoolSlot(u32);

// SAFETY: a slot index into a pool sized at boot; it owns no memory of its own.
unsafe impl Bounded for PoolSlot {}

#[derive(Bounded)]
struct Counter {
    total: u64,
    slot: PoolSlot,
}

#[derive(Bounded)]
struct Add(u64);

#[derive(Bounded)]
enum CounterMessage {
    Add(Add),
}

impl tina::Message for CounterMessage {
    fn tag(&self) -> u16 {
        0
    }
}

impl Isolate for Counter {
    type Message = CounterMessage;
    type Args = u32;
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Counter";

    fn init(args: &u32, _ctx: &mut Ctx<Self>) -> Self {
        Counter { total: 0, slot: PoolSlot(*args) }
    }

    fn handle(&mut self, message: CounterMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let CounterMessage::Add(Add(amount)) = message;
        self.total += amount + u64::from(self.slot.0);
        Effect::Receive
    }
}

impl Accepts<Add> for Counter {
    fn wrap(message: Add) -> CounterMessage {
        CounterMessage::Add(message)
    }

    fn extract(message: CounterMessage) -> Option<Add> {
        let CounterMessage::Add(add) = message;
        Some(add)
    }
}

#[derive(Bounded)]
struct GetTotal;

impl Request for GetTotal {
    type Reply = u64;
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Counter>(1);
    let counter = spec.root::<Counter>(ShardId(0), 1);
    let mut sim = Simulation::new(spec, 1).unwrap();
    sim.run(10);
    assert_eq!(sim.state(counter).unwrap().total, 0);
}
