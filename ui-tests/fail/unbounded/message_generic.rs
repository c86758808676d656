//! A generic message instantiated with an unbounded type through an alias.
use tina::prelude::*;

type Bytes = Vec<u8>;

#[derive(Bounded)]
struct Envelope<T> {
    body: T,
}

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn envelope(&mut self, envelope: Envelope<Bytes>, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = envelope.body;
        Effect::Receive
    }
}

fn main() {}
