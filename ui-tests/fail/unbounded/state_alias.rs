//! A `String` in the state, hidden behind a type alias: the `Bounded` trait catches it.
use tina::prelude::*;

type Name = String;

#[isolate(mailbox = 8)]
struct Greeter {
    name: Name,
}

#[isolate]
impl Greeter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Greeter { name: Name::new() }
    }
}

fn main() {}
