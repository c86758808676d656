//! Sending to an isolate that handles no messages at all.
use tina::prelude::*;

#[derive(Bounded)]
struct Tick;

#[isolate(mailbox = 8)]
struct Idle;

#[isolate]
impl Idle {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Idle
    }
}

#[isolate(mailbox = 8)]
struct Sender;

#[isolate]
impl Sender {
    fn init(idle: &Handle<Idle>, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.send(idle, Tick);
        Sender
    }
}

fn main() {}
