//! A raw pointer in a message: reported as a pointer, on the field.
use tina::prelude::*;

#[derive(Bounded)]
struct Peek {
    at: *const u8,
}

#[isolate(mailbox = 8)]
struct Reader;

#[isolate]
impl Reader {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Reader
    }

    fn peek(&mut self, _peek: Peek, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
