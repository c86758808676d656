//! Paths and helpers used by the code `#[isolate]`, `#[derive(Bounded)]` and
//! `#[derive(Request)]` generate. Not part of the public API: nothing here is stable.
//!
//! Generated code reaches everything through `::tina::__private::…`, so a user crate that
//! defines its own `Result`, `Option`, `Box` or even a module named `core` cannot change
//! what the expansion means.

pub use core;
pub use tina_runtime;

use tina_runtime::{PAYLOAD_ALIGN, PAYLOAD_BYTES};

/// A message type that cannot exist. Every isolate "accepts" it and [`Unreachable`] (the
/// impls are hidden from diagnostics), so an isolate always has at least two `Accepts`
/// impls and the compiler reports an unhandled message as such instead of inferring the only
/// handled type (or the impossible one, for an isolate with no handlers).
pub enum Unhandled {}

/// The second message type that cannot exist (see [`Unhandled`]).
pub enum Unreachable {}

// SAFETY: a type without values owns nothing.
unsafe impl tina_runtime::Bounded for Unhandled {}
// SAFETY: a type without values owns nothing.
unsafe impl tina_runtime::Bounded for Unreachable {}

/// The second request that cannot exist (see [`Unhandled`]'s `Request` impl).
impl tina_runtime::Request for Unreachable {
    type Reply = core::convert::Infallible;
}

/// A request that cannot exist: every isolate "accepts" `CallResult<Unhandled>` and
/// `CallResult<Unreachable>` and "answers" both, so a call whose outcome the caller has no
/// handler for, or that the callee does not answer, is reported with the request's own type
/// instead of `_`.
impl tina_runtime::Request for Unhandled {
    type Reply = core::convert::Infallible;
}

/// A short text built at compile time, for the messages of the payload assertions (a
/// `const` panic can print a `&str`, not format numbers itself).
#[derive(Clone, Copy)]
pub struct Text {
    bytes: [u8; Text::CAPACITY],
    length: usize,
}

impl Text {
    const CAPACITY: usize = 1024;

    const fn new() -> Text {
        Text {
            bytes: [0; Text::CAPACITY],
            length: 0,
        }
    }

    /// Appends `piece` whole, or nothing when it does not fit (so the text stays UTF-8).
    const fn push(mut self, piece: &str) -> Text {
        let piece = piece.as_bytes();
        if self.length + piece.len() > Text::CAPACITY {
            return self;
        }
        let mut index = 0;
        while index < piece.len() {
            self.bytes[self.length + index] = piece[index];
            index += 1;
        }
        self.length += piece.len();
        self
    }

    const fn push_number(mut self, mut value: usize) -> Text {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (value % 10) as u8;
            count += 1;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        if self.length + count > Text::CAPACITY {
            return self;
        }
        while count > 0 {
            count -= 1;
            self.bytes[self.length] = digits[count];
            self.length += 1;
        }
        self
    }

    /// The text so far.
    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.bytes.split_at(self.length).0) {
            Ok(text) => text,
            Err(_) => "",
        }
    }
}

/// Says why a value of type `T` does not fit an envelope's inline payload, naming it as
/// `what` `` `name` `` and ending with `fix`; `None` when it fits.
const fn payload_problem<T>(what: &str, name: &str, fix: &str) -> Option<Text> {
    let size = size_of::<T>();
    let align = align_of::<T>();
    if size > PAYLOAD_BYTES {
        let text = Text::new().push(what).push(" `").push(name).push("` is ");
        let text = text
            .push_number(size)
            .push(" bytes, over the ")
            .push_number(PAYLOAD_BYTES);
        return Some(text.push("-byte inline payload of an envelope: ").push(fix));
    }
    if align > PAYLOAD_ALIGN {
        let text = Text::new()
            .push(what)
            .push(" `")
            .push(name)
            .push("` needs ");
        let text = text
            .push_number(align)
            .push("-byte alignment; an envelope's payload is ");
        let text = text
            .push("aligned to ")
            .push_number(PAYLOAD_ALIGN)
            .push(" bytes: ");
        return Some(text.push(ALIGN_FIX));
    }
    None
}

const ALIGN_FIX: &str = "drop the `#[repr(align(…))]` or the over-aligned field (`u128`, `i128` \
                         or a SIMD type: store it as two `u64`s or a byte array), or carry it in a \
                         transfer buffer (`tina::Buffer`, from `ctx.buffer(len)`)";

const SHRINK: &str = "make it smaller (narrower integers, smaller heapless capacities, \
                      fewer fields) or carry the bulk in a transfer buffer (`tina::Buffer`, from `ctx.buffer(len)`)";

/// Why the message type `M` (spelled `name`) cannot travel in an envelope, if it cannot.
pub const fn message_payload_problem<M>(name: &str) -> Option<Text> {
    payload_problem::<M>("message type", name, SHRINK)
}

/// Why the init args type `A` (spelled `name`) cannot travel in an envelope, if it cannot.
pub const fn args_payload_problem<A>(name: &str) -> Option<Text> {
    payload_problem::<A>("init args type", name, SHRINK)
}

/// Why the reply type `R` (spelled `name`) cannot travel in an envelope, if it cannot.
pub const fn reply_payload_problem<R>(name: &str) -> Option<Text> {
    payload_problem::<R>("reply type", name, SHRINK)
}

/// Why the generated message enum `E` of the isolate named `name` cannot travel in an
/// envelope, if it cannot: every message fits, but the largest plus the variant tag does not.
pub const fn enum_payload_problem<E>(name: &str) -> Option<Text> {
    payload_problem::<E>(
        "the message enum of",
        name,
        "the largest message plus the enum's tag must fit, so shrink the largest message \
         by a few bytes or carry its bulk in a transfer buffer (`tina::Buffer`, from `ctx.buffer(len)`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_format_sizes() {
        assert!(message_payload_problem::<[u64; 8]>("Full").is_none());
        let problem = message_payload_problem::<[u64; 9]>("Big").unwrap();
        assert!(problem.as_str().starts_with(
            "message type `Big` is 72 bytes, over the 64-byte inline payload of an envelope: "
        ));
        let text = Text::new().push_number(0).push(" ").push_number(1234567890);
        assert_eq!(text.as_str(), "0 1234567890");
    }

    #[test]
    fn texts_flag_alignment() {
        #[repr(align(16))]
        struct Aligned;
        let problem = args_payload_problem::<Aligned>("Aligned").unwrap();
        assert!(
            problem.as_str().contains("needs 16-byte alignment"),
            "{}",
            problem.as_str()
        );
    }
}
