//! The only handler is rejected (it is `async`); sending its message gives that one error,
//! not a second one about the message type.
use tina::prelude::*;

#[derive(Bounded)]
struct Tick;

#[isolate(mailbox = 8)]
struct Clock;

#[isolate]
impl Clock {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Clock
    }

    async fn tick(&mut self, _tick: Tick, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[isolate(mailbox = 8)]
struct Sender;

#[isolate]
impl Sender {
    fn init(clock: &Handle<Clock>, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.send(clock, Tick);
        Sender
    }
}

fn main() {}
