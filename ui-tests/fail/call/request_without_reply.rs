//! `#[derive(Request)]` without `#[reply(…)]`.
use tina::prelude::*;

#[derive(Bounded, Request)]
struct GetBalance;

fn main() {
    let _ = GetBalance;
}
