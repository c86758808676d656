//! A generic isolate whose own message is too large: found by `cargo check`, not only by
//! `cargo build`, because that message does not depend on the type parameter. (A message
//! that does depend on it has a size only once the isolate is instantiated: that check runs
//! when the instance is compiled, in `cargo build`.)
use tina::prelude::*;

#[derive(Bounded)]
struct Snapshot {
    words: [u64; 16],
}

#[isolate(mailbox = 8)]
struct Store<T: Bounded + Send + 'static> {
    item: Option<T>,
}

#[isolate]
impl<T: Bounded + Send + 'static> Store<T> {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Store { item: None }
    }

    fn snapshot(&mut self, _snapshot: Snapshot, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
