//! A hand-written `impl Isolate` is held to the same rule as a generated one: its state, its
//! init args and its message enum must be `Bounded` (here a `Vec<u8>` state, `String` args
//! and a message enum carrying a `Vec<u8>`, each rejected).
use tina::prelude::*;

struct Hoarder {
    kept: Vec<u8>,
}

enum HoarderMessage {
    Keep(Vec<u8>),
}

impl tina::Message for HoarderMessage {
    fn tag(&self) -> u16 {
        0
    }
}

impl Isolate for Hoarder {
    type Message = HoarderMessage;
    type Args = String;
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Hoarder";

    fn init(_args: &String, _ctx: &mut Ctx<Self>) -> Self {
        Hoarder { kept: Vec::new() }
    }

    fn handle(&mut self, message: HoarderMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let HoarderMessage::Keep(bytes) = message;
        self.kept.extend(bytes);
        Effect::Receive
    }
}

fn main() {}
