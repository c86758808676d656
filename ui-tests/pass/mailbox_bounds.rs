//! The smallest and the largest mailbox bounds compile, and the largest is the runtime's
//! `MAILBOX_MAX` (the macro keeps its own copy of the limit; this pins the two together).

use tina::prelude::*;

#[isolate(mailbox = 1)]
struct Smallest;

#[isolate]
impl Smallest {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Smallest
    }
}

#[isolate(mailbox = 65_536)]
struct Largest;

#[isolate]
impl Largest {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Largest
    }
}

fn main() {
    assert_eq!(<Smallest as Isolate>::MAILBOX, 1);
    assert_eq!(<Largest as Isolate>::MAILBOX, tina::MAILBOX_MAX);
}
