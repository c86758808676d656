//! Shared helpers for the runtime's integration tests.
//!
//! Two kinds of isolates appear in these tests. `ping_pong.rs` and `alloc_steady_state.rs`
//! use `#[isolate]` through the facade, exactly as users write them (so the zero-allocation
//! proof covers generated code). The other files implement `Isolate` by hand on purpose:
//! they pin down the trait contract the macro targets, independently of the macro. For them,
//! `messages!` writes the message enum, its `Message` impl and the `Accepts` impls — the part
//! the macro generates.
#![allow(dead_code, unreachable_pub)]

/// Declares `enum $name { Variant(Type), .. }` for isolate `$isolate`, with tags in order and
/// one `Accepts` impl per variant.
#[macro_export]
macro_rules! messages {
    ($isolate:ty => $name:ident { $($variant:ident($message:ty)),* $(,)? }) => {
        #[allow(dead_code)]
        enum $name {
            $($variant($message)),*
        }

        // SAFETY: the enum holds one of its message types, each required `Bounded` here.
        unsafe impl tina_runtime::Bounded for $name
        where
            $($message: tina_runtime::Bounded,)*
        {
        }

        impl tina_runtime::Message for $name {
            #[allow(irrefutable_let_patterns, unused_mut)]
            fn tag(&self) -> u16 {
                let mut tag = 0u16;
                $(
                    if let $name::$variant(_) = self {
                        return tag;
                    }
                    tag += 1;
                )*
                tag
            }
        }

        $(
            impl tina_runtime::Accepts<$message> for $isolate {
                fn wrap(message: $message) -> $name {
                    $name::$variant(message)
                }

                #[allow(unreachable_patterns)]
                fn extract(message: $name) -> Option<$message> {
                    match message {
                        $name::$variant(message) => Some(message),
                        _ => None,
                    }
                }
            }
        )*
    };
}

/// Claims `Bounded` for test types: plain data (integers, handles, flags, `'static`
/// borrows), or test recorders whose collections grow only by the handful of events a test
/// provokes. Each call lists the types it vouches for next to their definitions.
#[macro_export]
macro_rules! test_data {
    ($($type:ty),* $(,)?) => {
        $(
            // The call site lists only plain data and test recorders that grow by a bounded
            // number of test events (read them there).
            // SAFETY: so their memory is bounded by what the test does.
            unsafe impl tina_runtime::Bounded for $type {}
        )*
    };
}

/// A spec with small, test-friendly capacities.
pub fn small_spec(shards: usize) -> tina_runtime::BootSpec {
    let mut spec = tina_runtime::BootSpec::new(shards);
    spec.pool_slots(256)
        .control_reserve(32)
        .ring_capacity(64)
        .timer_slots(64)
        .pin_threads(false);
    spec
}
