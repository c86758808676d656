//! `messages!`: the message enum and `Accepts` impls of a hand-written isolate.

/// Declares `enum $name { Variant(Type), .. }` as the input alphabet of isolate `$isolate`:
/// the enum, its `Bounded` and `Message` impls (tags in declaration order) and one `Accepts`
/// impl per variant — what `#[isolate]` will generate. The enum is `Bounded` when every
/// message type is; the isolate's own state still needs its claim (below, an `unsafe impl`).
///
/// ```
/// use tina_bench::messages;
/// use tina_runtime::{Bounded, Ctx, Effect, Isolate};
///
/// /// Counts what it is told.
/// struct Counter(u64);
///
/// /// Adds to the count.
/// struct Add(u64);
///
/// // SAFETY: a `u64` owns nothing.
/// unsafe impl Bounded for Counter {}
/// // SAFETY: a `u64` owns nothing.
/// unsafe impl Bounded for Add {}
///
/// messages!(Counter => CounterMessage { Add(Add) });
///
/// impl Isolate for Counter {
///     type Message = CounterMessage;
///     type Args = ();
///     const MAILBOX: usize = 16;
///     const NAME: &'static str = "Counter";
///
///     fn init(_: &(), _: &mut Ctx<Self>) -> Self {
///         Counter(0)
///     }
///
///     fn handle(&mut self, message: CounterMessage, _: &mut Ctx<Self>) -> Effect {
///         let CounterMessage::Add(Add(amount)) = message;
///         self.0 += amount;
///         Effect::Receive
///     }
/// }
/// ```
#[macro_export]
macro_rules! messages {
    ($isolate:ty => $name:ident { $($variant:ident($message:ty)),* $(,)? }) => {
        /// The input alphabet of an isolate: one variant per accepted message type.
        #[allow(dead_code)]
        enum $name {
            $(
                #[allow(missing_docs)]
                $variant($message)
            ),*
        }

        // SAFETY: the enum holds one of its message types, each required `Bounded` here.
        unsafe impl $crate::__private::tina_runtime::Bounded for $name
        where
            $($message: $crate::__private::tina_runtime::Bounded,)*
        {
        }

        impl $crate::__private::tina_runtime::Message for $name {
            #[allow(irrefutable_let_patterns, unused_mut, unused_assignments)]
            #[inline]
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
            impl $crate::__private::tina_runtime::Accepts<$message> for $isolate {
                #[inline]
                fn wrap(message: $message) -> $name {
                    $name::$variant(message)
                }

                #[inline]
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

/// Claims `Bounded` for benchmark types that are plain data: integers, handles, instants and
/// `'static` borrows, nothing that can grow. Each call lists the types it vouches for, so the
/// claim stays next to their definitions and can be checked by reading them.
#[macro_export]
macro_rules! plain_data {
    ($($type:ty),* $(,)?) => {
        $(
            // The call site lists only types made of integers, handles, instants and `'static`
            // borrows (read them there).
            // SAFETY: so nothing in them owns memory that can grow.
            unsafe impl $crate::__private::tina_runtime::Bounded for $type {}
        )*
    };
}
