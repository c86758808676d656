//! Twenty message types and twenty handlers: the case timed for the macro's compile cost
//! (see BENCHMARKS.md), also run.

use tina::prelude::*;

#[derive(Bounded)]
struct Message00(u64);

#[derive(Bounded)]
struct Message01(u64);

#[derive(Bounded)]
struct Message02(u64);

#[derive(Bounded)]
struct Message03(u64);

#[derive(Bounded)]
struct Message04(u64);

#[derive(Bounded)]
struct Message05(u64);

#[derive(Bounded)]
struct Message06(u64);

#[derive(Bounded)]
struct Message07(u64);

#[derive(Bounded)]
struct Message08(u64);

#[derive(Bounded)]
struct Message09(u64);

#[derive(Bounded)]
struct Message10(u64);

#[derive(Bounded)]
struct Message11(u64);

#[derive(Bounded)]
struct Message12(u64);

#[derive(Bounded)]
struct Message13(u64);

#[derive(Bounded)]
struct Message14(u64);

#[derive(Bounded)]
struct Message15(u64);

#[derive(Bounded)]
struct Message16(u64);

#[derive(Bounded)]
struct Message17(u64);

#[derive(Bounded)]
struct Message18(u64);

#[derive(Bounded)]
struct Message19(u64);

#[isolate(mailbox = 64)]
struct Wide {
    total: u64,
    seen: [u8; 20],
}

#[isolate]
impl Wide {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Wide { total: 0, seen: [0; 20] }
    }

    fn on_00(&mut self, Message00(value): Message00, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[0] += 1;
        Effect::Receive
    }

    fn on_01(&mut self, Message01(value): Message01, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[1] += 1;
        Effect::Receive
    }

    fn on_02(&mut self, Message02(value): Message02, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[2] += 1;
        Effect::Receive
    }

    fn on_03(&mut self, Message03(value): Message03, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[3] += 1;
        Effect::Receive
    }

    fn on_04(&mut self, Message04(value): Message04, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[4] += 1;
        Effect::Receive
    }

    fn on_05(&mut self, Message05(value): Message05, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[5] += 1;
        Effect::Receive
    }

    fn on_06(&mut self, Message06(value): Message06, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[6] += 1;
        Effect::Receive
    }

    fn on_07(&mut self, Message07(value): Message07, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[7] += 1;
        Effect::Receive
    }

    fn on_08(&mut self, Message08(value): Message08, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[8] += 1;
        Effect::Receive
    }

    fn on_09(&mut self, Message09(value): Message09, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[9] += 1;
        Effect::Receive
    }

    fn on_10(&mut self, Message10(value): Message10, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[10] += 1;
        Effect::Receive
    }

    fn on_11(&mut self, Message11(value): Message11, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[11] += 1;
        Effect::Receive
    }

    fn on_12(&mut self, Message12(value): Message12, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[12] += 1;
        Effect::Receive
    }

    fn on_13(&mut self, Message13(value): Message13, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[13] += 1;
        Effect::Receive
    }

    fn on_14(&mut self, Message14(value): Message14, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[14] += 1;
        Effect::Receive
    }

    fn on_15(&mut self, Message15(value): Message15, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[15] += 1;
        Effect::Receive
    }

    fn on_16(&mut self, Message16(value): Message16, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[16] += 1;
        Effect::Receive
    }

    fn on_17(&mut self, Message17(value): Message17, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[17] += 1;
        Effect::Receive
    }

    fn on_18(&mut self, Message18(value): Message18, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[18] += 1;
        Effect::Receive
    }

    fn on_19(&mut self, Message19(value): Message19, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += value;
        self.seen[19] += 1;
        Effect::Receive
    }
}

#[isolate(mailbox = 1)]
struct Sender;

#[isolate]
impl Sender {
    fn init(wide: &Handle<Wide>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(wide, Message00(0)).unwrap();
        ctx.send(wide, Message01(1)).unwrap();
        ctx.send(wide, Message02(2)).unwrap();
        ctx.send(wide, Message03(3)).unwrap();
        ctx.send(wide, Message04(4)).unwrap();
        ctx.send(wide, Message05(5)).unwrap();
        ctx.send(wide, Message06(6)).unwrap();
        ctx.send(wide, Message07(7)).unwrap();
        ctx.send(wide, Message08(8)).unwrap();
        ctx.send(wide, Message09(9)).unwrap();
        ctx.send(wide, Message10(10)).unwrap();
        ctx.send(wide, Message11(11)).unwrap();
        ctx.send(wide, Message12(12)).unwrap();
        ctx.send(wide, Message13(13)).unwrap();
        ctx.send(wide, Message14(14)).unwrap();
        ctx.send(wide, Message15(15)).unwrap();
        ctx.send(wide, Message16(16)).unwrap();
        ctx.send(wide, Message17(17)).unwrap();
        ctx.send(wide, Message18(18)).unwrap();
        ctx.send(wide, Message19(19)).unwrap();
        Sender
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Wide>(1).isolate::<Sender>(1);
    let wide = spec.root::<Wide>(ShardId(0), ());
    spec.root::<Sender>(ShardId(0), wide);
    let mut sim = Simulation::new(spec, 2).unwrap();
    sim.run(100);
    let state = sim.state(wide).unwrap();
    assert_eq!(state.total, (0..20).sum::<u64>());
    assert_eq!(state.seen, [1; 20]);
}
