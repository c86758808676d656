//! A request whose reply type is a `String`.
use tina::prelude::*;

#[derive(Bounded, Request)]
#[reply(String)]
struct GetName;

fn main() {
    let _ = GetName;
}
