//! Handlers of `Undelivered<M>` receive bounces: they are not messages of the isolate (the
//! generated enum has no variant for them), and a sender whose bounce handler covers one
//! message type still counts the others.

use tina::prelude::*;

#[derive(Bounded)]
struct Item(u32);

#[derive(Bounded)]
struct Other;

#[isolate(mailbox = 2)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn item(&mut self, _item: Item, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }

    fn other(&mut self, _other: Other, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[derive(Bounded)]
struct Go(Handle<Sink>);

#[isolate(mailbox = 2)]
struct Source {
    bounced: u32,
}

#[isolate]
impl Source {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Source { bounced: 0 }
    }

    fn go(&mut self, go: Go, ctx: &mut Ctx<Self>) -> Effect {
        for index in 0..8 {
            let _ = ctx.send(&go.0, Item(index));
            let _ = ctx.send(&go.0, Other);
        }
        Effect::Receive
    }

    fn item_bounced(&mut self, bounce: Undelivered<Item>, _ctx: &mut Ctx<Self>) -> Effect {
        assert_eq!(bounce.reason, SendErrorKind::MailboxFull);
        let Item(_index) = bounce.message;
        self.bounced += 1;
        Effect::Receive
    }
}

/// The bounce handler adds no variant: `Go` is the only message of `Source`.
fn only_go(message: SourceMessage) -> Go {
    match message {
        SourceMessage::Go(go) => go,
    }
}

fn main() {
    let _ = only_go;
    let mut spec = BootSpec::new(2);
    spec.isolate::<Sink>(1).isolate::<Source>(1).dispatch_budget(1);
    let sink = spec.root::<Sink>(ShardId(1), ());
    let source = spec.root::<Source>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 1).unwrap();
    sim.send(&source, Go(sink)).unwrap();
    assert!(sim.run(10_000).quiescent);
    let bounced = sim.state(source).unwrap().bounced;
    let totals = sim.totals();
    assert!(bounced > 0);
    assert_eq!(totals.bounces_handled, u64::from(bounced));
    assert!(totals.undelivered_mailbox_full > 0, "the `Other` bounces are counted");
    assert_eq!(
        totals.bounced,
        totals.bounces_handled + totals.undelivered_mailbox_full
    );
}
