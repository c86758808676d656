//! A generic state field with no `Bounded` bound: `T` could be a `Vec`.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Holder<T: Send + 'static> {
    item: Option<T>,
}

#[isolate]
impl<T: Send + 'static> Holder<T> {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Holder { item: None }
    }
}

fn main() {}
