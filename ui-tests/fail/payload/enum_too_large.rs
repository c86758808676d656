//! Every message fits alone, but the largest plus the enum's tag does not.
use tina::prelude::*;

#[derive(Bounded)]
struct Block {
    words: [u64; 8],
}

#[isolate(mailbox = 8)]
struct Disk;

#[isolate]
impl Disk {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Disk
    }

    fn write(&mut self, block: Block, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = block.words;
        Effect::Receive
    }

    fn sync(&mut self, _sync: (), _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
