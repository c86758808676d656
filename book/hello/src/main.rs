// ANCHOR: all
// ANCHOR: imports
use std::time::Duration;

use tina::prelude::*;
// ANCHOR_END: imports

// ANCHOR: messages
/// Adds to the counter. Messages are plain structs with a fixed size.
#[derive(Bounded)]
struct Add(u64);

/// Asks for the total; the reply type is part of the request.
#[derive(Bounded, Request)]
#[reply(u64)]
struct Total;
// ANCHOR_END: messages

// ANCHOR: isolate
/// The isolate: its state, and a mailbox of at most 64 waiting messages.
#[isolate(mailbox = 64)]
struct Counter {
    total: u64,
}

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { total: 0 }
    }

    fn add(&mut self, Add(amount): Add, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += amount;
        Effect::Receive
    }

    fn total(&mut self, _: Total, reply: ReplyTo<Total>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, self.total)
    }
}
// ANCHOR_END: isolate

// ANCHOR: spec
/// The boot spec: one shard, room for one counter, started as a root.
fn spec() -> (BootSpec, Handle<Counter>) {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Counter>(1);
    let counter = spec.root::<Counter>(ShardId(0), ());
    (spec, counter)
}
// ANCHOR_END: spec

// ANCHOR: main
fn main() {
    let (spec, counter) = spec();
    let system = System::start(spec).expect("the spec fits this machine");
    for amount in 1..=10 {
        if let Err(refused) = system.send(&counter, Add(amount)) {
            eprintln!("add {amount} refused: {refused}");
        }
    }
    let total = system.call(&counter, Total, Duration::from_secs(1));
    println!("total: {total:?}");
    let summary = system.shutdown(Duration::from_secs(1));
    println!("dispatched {} messages", summary.total.dispatched);
}
// ANCHOR_END: main

// ANCHOR: test
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up() {
        let (spec, counter) = spec();
        let mut sim = Simulation::new(spec, 7).expect("the spec is valid");
        for amount in 1..=10 {
            sim.send(&counter, Add(amount)).expect("queued");
        }
        let report = sim.run(100);
        assert!(report.quiescent, "every message was handled");
        assert_eq!(sim.state(counter).map(|c| c.total), Some(55));
        assert_eq!(sim.call(&counter, Total, Duration::from_secs(1)), Ok(55));
    }
}
// ANCHOR_END: test
// ANCHOR_END: all
