//! A message larger than the 64-byte inline payload of an envelope.
use tina::prelude::*;

#[derive(Bounded)]
struct Snapshot {
    samples: [u64; 9],
}

#[isolate(mailbox = 8)]
struct Recorder;

#[isolate]
impl Recorder {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Recorder
    }

    fn snapshot(&mut self, snapshot: Snapshot, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = snapshot.samples;
        Effect::Receive
    }
}

fn main() {}
