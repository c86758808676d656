//! Two requests answered with the same type (`u64`) get two outcome handlers: a call's
//! outcome is keyed by the request, `CallResult<GetCount>` and `CallResult<GetTotal>`, so no
//! newtype is needed to tell them apart.
use tina::prelude::*;

#[derive(Bounded, Request)]
#[reply(u64)]
struct GetCount;

#[derive(Bounded, Request)]
#[reply(u64)]
struct GetTotal;

#[derive(Bounded)]
struct Start;

#[isolate(mailbox = 8)]
struct Ledger {
    count: u64,
    total: u64,
}

#[isolate]
impl Ledger {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Ledger { count: 3, total: 120 }
    }

    fn count(&mut self, _: GetCount, reply: ReplyTo<GetCount>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, self.count)
    }

    fn total(&mut self, _: GetTotal, reply: ReplyTo<GetTotal>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, self.total)
    }
}

#[isolate(mailbox = 8)]
struct Auditor {
    ledger: Handle<Ledger>,
    count: Option<u64>,
    total: Option<u64>,
}

#[isolate]
impl Auditor {
    fn init(ledger: &Handle<Ledger>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Start).unwrap();
        Auditor { ledger: *ledger, count: None, total: None }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.call(&self.ledger, GetCount, Duration::from_millis(10)) {
            Ok(effect) => effect,
            Err(refused) => panic!("call refused: {}", refused.error),
        }
    }

    fn counted(&mut self, outcome: CallResult<GetCount>, ctx: &mut Ctx<Self>) -> Effect {
        self.count = outcome.reply();
        match ctx.call(&self.ledger, GetTotal, Duration::from_millis(10)) {
            Ok(effect) => effect,
            Err(refused) => panic!("call refused: {}", refused.error),
        }
    }

    fn totalled(&mut self, outcome: CallResult<GetTotal>, _ctx: &mut Ctx<Self>) -> Effect {
        self.total = outcome.reply();
        Effect::Receive
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Ledger>(1).isolate::<Auditor>(1);
    let ledger = spec.root::<Ledger>(ShardId(0), ());
    let auditor = spec.root::<Auditor>(ShardId(0), ledger);
    let mut sim = Simulation::new(spec, 3).unwrap();
    sim.run(1_000);
    let auditor = sim.state(auditor).unwrap();
    assert_eq!((auditor.count, auditor.total), (Some(3), Some(120)));
}
