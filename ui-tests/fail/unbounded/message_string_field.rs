//! A message struct with a `String` field.
use tina::prelude::*;

#[derive(Bounded)]
struct Greeting {
    text: String,
}

fn main() {
    let _ = Greeting { text: String::new() }.text;
}
