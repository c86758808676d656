//! The `#[isolate]` attribute and the `Bounded` and `Request` derives of Tina.
//!
//! Use them through the facade: `use tina::prelude::*;` brings in [`macro@isolate`],
//! [`derive@Bounded`] and [`derive@Request`] with the traits they implement. The generated
//! code names everything through `::tina::__private`, so the crate using the macros must
//! depend on `tina`.
//!
//! | macro | on | generates |
//! |---|---|---|
//! | `#[isolate(mailbox = N)]` | the isolate's struct or enum | the mailbox bound (`unsafe impl IsolateStruct`); the check that every field is `Bounded` |
//! | `#[isolate]` | the isolate's impl block | the message enum, `Message`, `From`, `Accepts`, `Answers` (for request handlers), `Bounded` for the state and the enum, the `Isolate` impl with the dispatch `match`; the checks that every message is `Bounded` and `Send`, and that messages and init args fit an envelope |
//! | `#[derive(Bounded)]` | a message or state type | `unsafe impl Bounded`, after the check that every field is `Bounded` |
//! | `#[derive(Request)]` + `#[reply(T)]` | a request message | `impl Request` with `type Reply = T` |
//!
//! Each macro works in three steps, as in `serde_derive` and `thiserror`: `ast` reads the
//! input and records shape mistakes, `validate` checks what needs the whole picture
//! (duplicate handlers, unbounded collections it can see), `expand` writes the code. Every
//! mistake becomes a `compile_error!` at the offending token, all of them at once, and the
//! expansion still goes ahead without the broken pieces, so one mistake gives one error and
//! not a cascade of missing impls. The ui tests (`ui-tests/fail/`) pin every message.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod ast;
mod attr;
mod errors;
mod expand;
mod validate;

use proc_macro::TokenStream;

/// Turns a struct and its impl block into an isolate.
///
/// An isolate is a plain struct (or enum) whose handlers are ordinary synchronous methods:
/// one per message type it accepts, each returning the `Effect` that says what happens
/// next. Put `#[isolate(mailbox = N)]` on the type and `#[isolate]` on its impl block:
///
/// ```
/// use tina::prelude::*;
///
/// #[derive(Bounded)]
/// struct Deposit {
///     amount: u64,
/// }
///
/// /// Asks for the balance; answered with a `Balance`.
/// #[derive(Bounded, Request)]
/// #[reply(Balance)]
/// struct GetBalance;
///
/// #[derive(Bounded, Debug, PartialEq)]
/// struct Balance(u64);
///
/// #[isolate(mailbox = 64)]
/// struct Account {
///     balance: u64,
/// }
///
/// #[isolate]
/// impl Account {
///     fn init(opening: &u64, _ctx: &mut Ctx<Self>) -> Self {
///         Account { balance: *opening }
///     }
///
///     fn deposit(&mut self, deposit: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
///         self.balance += deposit.amount;
///         Effect::Receive
///     }
///
///     fn get_balance(
///         &mut self,
///         _request: GetBalance,
///         reply: ReplyTo<GetBalance>,
///         ctx: &mut Ctx<Self>,
///     ) -> Effect {
///         ctx.reply(reply, Balance(self.balance))
///     }
/// }
///
/// # #[isolate(mailbox = 1)]
/// # struct Teller;
/// # #[isolate]
/// # impl Teller {
/// #     fn init(account: &Handle<Account>, ctx: &mut Ctx<Self>) -> Self {
/// #         ctx.send(account, Deposit { amount: 5 }).unwrap();
/// #         Teller
/// #     }
/// # }
/// let mut spec = BootSpec::new(1);
/// spec.isolate::<Account>(4).isolate::<Teller>(1);
/// let account = spec.root::<Account>(ShardId(0), 10);
/// spec.root::<Teller>(ShardId(0), account); // sends `Deposit { amount: 5 }` from its init
/// let mut simulation = Simulation::new(spec, 1).unwrap();
/// simulation.run(100);
/// assert_eq!(simulation.state(account).unwrap().balance, 15);
/// ```
///
/// # The struct: `#[isolate(mailbox = N)]`
///
/// `N` is the mailbox bound: how many messages may wait for one isolate of this type. It is
/// an integer literal in `1..=65536` (`tina::MAILBOX_MAX`); anything else — no bound, `0`,
/// too large, a constant's name, a string — is a compile error. The type may be a struct or
/// an enum (a state machine), with generics. Every field must be [`Bounded`](derive@Bounded).
///
/// # The impl block: `#[isolate]`
///
/// Every method is one of these, told apart by name and shape:
///
/// * `fn init(args: &Args, ctx: &mut Ctx<Self>) -> Self` builds the state when the isolate
///   is spawned, and again on every restart (so it borrows its args, which the runtime
///   keeps). `Isolate::Args` is the `Args` written here; `fn init(ctx: &mut Ctx<Self>) ->
///   Self` means no args (`()`). Required.
/// * A **handler**, `fn name(&mut self, message: M, ctx: &mut Ctx<Self>) -> Effect`, for each
///   message type `M` the isolate accepts: one handler per type. The message may be
///   destructured in the parameter (`Deposit { amount }: Deposit`). A call's outcome is a
///   message too: a caller of `ctx.call` declares a handler taking
///   `CallResult<Request>` (keyed by the request, holding its reply).
/// * A **request handler**, `fn name(&mut self, request: Q, reply: ReplyTo<Q>, ctx: &mut
///   Ctx<Self>) -> Effect`, for a request type `Q` the isolate answers: the extra parameter
///   is the reply address, answered with `ctx.reply(reply, value)` (now) or kept in the
///   state and answered with `ctx.reply_to(reply, value)` (later). `value` must be a
///   `Q::Reply`, and the address is used up by the reply, so the wrong type or a second
///   reply does not compile. Only an isolate with such a handler can be called with `Q`
///   (`Answers<Q>`).
/// * `fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect` (optional) runs on the tick after
///   a handler returned `Effect::Yield`, to continue chunked work.
/// * `fn shutdown(&mut self, ctx: &mut Ctx<Self>) -> Effect` (optional) runs when the system
///   shuts down.
/// * A method marked `#[isolate(helper)]` is left alone: an ordinary method the handlers
///   call. Helpers can also live in a second, plain `impl` block.
///
/// Handlers are synchronous: an `async fn`, an `unsafe` or generic one, one without
/// `&mut self`, the context or the `-> Effect`, and two handlers for one message type are
/// compile errors that say which and show the expected shape. The methods stay in the impl
/// block as written; the generated code only calls them.
///
/// # What it generates
///
/// For the `Account` above, the expansion is what you would otherwise write by hand:
///
/// ```
/// # #![allow(dead_code)]
/// # use tina::prelude::*;
/// # #[derive(Bounded)] struct Deposit { amount: u64 }
/// # #[derive(Bounded, Request)] #[reply(Balance)] struct GetBalance;
/// # #[derive(Bounded)] struct Balance(u64);
/// # struct Account { balance: u64 }
/// # impl Account {
/// #     fn init(opening: &u64, _ctx: &mut Ctx<Self>) -> Self { Account { balance: *opening } }
/// #     fn deposit(&mut self, deposit: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
/// #         self.balance += deposit.amount;
/// #         Effect::Receive
/// #     }
/// #     fn get_balance(
/// #         &mut self,
/// #         _request: GetBalance,
/// #         reply: ReplyTo<GetBalance>,
/// #         ctx: &mut Ctx<Self>,
/// #     ) -> Effect {
/// #         ctx.reply(reply, Balance(self.balance))
/// #     }
/// # }
/// // (the impl block, unchanged)
///
/// /// The messages `Account` handles: one variant per handler, named after it.
/// pub enum AccountMessage {
///     Deposit(Deposit),
///     GetBalance(GetBalance),
/// }
///
/// impl tina::Message for AccountMessage {
///     fn tag(&self) -> u16 {
///         match self {
///             Self::Deposit(_) => 0,
///             Self::GetBalance(_) => 1,
///         }
///     }
/// }
///
/// // For each handler: `From` into the enum, and `Accepts`, which is what lets
/// // `ctx.send(&account, Deposit { amount: 5 })` compile (and a message `Account` has no
/// // handler for not).
/// impl From<Deposit> for AccountMessage {
///     fn from(message: Deposit) -> Self {
///         Self::Deposit(message)
///     }
/// }
///
/// impl tina::Accepts<Deposit> for Account {
///     fn wrap(message: Deposit) -> AccountMessage {
///         AccountMessage::Deposit(message)
///     }
///
///     fn extract(message: AccountMessage) -> Option<Deposit> {
///         match message {
///             AccountMessage::Deposit(message) => Some(message),
///             _ => None,
///         }
///     }
/// }
/// # impl From<GetBalance> for AccountMessage {
/// #     fn from(message: GetBalance) -> Self { Self::GetBalance(message) }
/// # }
/// # impl tina::Accepts<GetBalance> for Account {
/// #     fn wrap(message: GetBalance) -> AccountMessage { AccountMessage::GetBalance(message) }
/// #     fn extract(message: AccountMessage) -> Option<GetBalance> {
/// #         match message { AccountMessage::GetBalance(message) => Some(message), _ => None }
/// #     }
/// # }
///
/// // For each request handler (one that takes a `ReplyTo`): `Answers`, which is what lets
/// // `ctx.call(&account, GetBalance, timeout)` compile.
/// impl tina::Answers<GetBalance> for Account {}
///
/// // The state is `Bounded` (`#[isolate(mailbox = 64)]` checked every field), and so is
/// // the enum (every message is checked below).
/// // SAFETY: the field, a `u64`, owns no heap memory.
/// unsafe impl tina::Bounded for Account {}
/// // SAFETY: every variant's message is `Bounded`.
/// unsafe impl tina::Bounded for AccountMessage {}
///
/// impl tina::Isolate for Account {
///     type Message = AccountMessage;
///     type Args = u64;
///     const MAILBOX: usize = 64; // from `#[isolate(mailbox = 64)]` on the struct
///     const NAME: &'static str = "Account";
///
///     fn init(args: &u64, ctx: &mut Ctx<'_, Self>) -> Self {
///         Self::init(args, ctx)
///     }
///
///     fn handle(&mut self, message: AccountMessage, ctx: &mut Ctx<'_, Self>) -> Effect {
///         match message {
///             AccountMessage::Deposit(message) => self.deposit(message, ctx),
///             AccountMessage::GetBalance(message) => {
///                 // The reply address of the request being handled, typed by it.
///                 let reply = ctx.reply_address::<GetBalance>();
///                 self.get_balance(message, reply, ctx)
///             }
///         }
///     }
///     // `resume` and `shutdown` call the methods of those names, when there are any.
/// }
///
/// // Compile-time checks: every field of the state and every message type are `Bounded`
/// // (the init args are, by `Isolate::Args`' own bound); every message type, the args and
/// // the enum fit an envelope's 64-byte payload (the error states the size and the limit).
/// const _: () = {
///     # #[allow(dead_code)]
///     fn messages_are_bounded() {
///         let _: () = <Deposit as tina::Bounded>::CHECKED;
///         let _: () = <GetBalance as tina::Bounded>::CHECKED;
///         tina::assert_send::<Deposit>();
///         tina::assert_send::<GetBalance>();
///     }
///     assert!(tina::fits_payload::<Deposit>(), "message type `Deposit` is … bytes, over …");
///     assert!(tina::fits_payload::<AccountMessage>(), "the message enum …");
/// };
/// ```
///
/// The real expansion spells every path out through `::tina::__private`, so your own
/// `Result`, `Option`, `Box`, `u16` or a module called `core` cannot change its meaning, and
/// carries the mailbox bound from the struct to the impl block through the `unsafe` trait
/// `tina::IsolateStruct` (an `#[isolate]` impl whose struct has no
/// `#[isolate(mailbox = N)]` says so). The `unsafe impl`s it writes are generated code
/// whose claims it has just checked, so a crate with `#![forbid(unsafe_code)]` can use
/// the macros.
///
/// # Details
///
/// * The enum is `<Name>Message`, `pub`, with one variant per handler named after the
///   handler in CamelCase (`on_balance` → `OnBalance`). Name it as
///   `<Account as Isolate>::Message` in code that should not depend on that.
/// * Generic isolates work: the impl block's generics and where clause are carried over to
///   the enum and every impl. Type parameters used in state or messages need `Bounded`
///   (the error suggests it), and the isolate needs them `Send + 'static`. For a generic
///   isolate the payload checks run when the type is instantiated.
/// * `Self` inside a message or args type (`Handle<Self>`) means the isolate type.
/// * A collection the macro can see written out (`Vec<u8>`, `String`,
///   `std::collections::HashMap<K, V>`, `Box<T>`, `Rc<T>`, `Arc<T>`, …) is reported with a
///   suggestion of its fixed-capacity replacement. Anything it cannot see — through a type
///   alias, a generic, a nested field — is caught by the `Bounded` trait instead. A type of
///   your own that shares such a name (say `Box<T>`) is left to the trait when written with a
///   path (`crate::Box<T>`).
#[proc_macro_attribute]
pub fn isolate(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::isolate(args.into(), item.into()).into()
}

/// Implements `Bounded` for a type whose every field is `Bounded`: it owns no heap memory
/// that can grow, so it may be a message, init args or part of an isolate's state.
///
/// Works on structs and enums. Every type parameter gets a `Bounded` bound, like the
/// standard derives do, and every field type is checked, so a `String` in a field or a
/// `Vec` behind a type alias is a compile error at that field:
///
/// ```
/// # #![allow(dead_code)]
/// use tina::prelude::*;
///
/// #[derive(Bounded)]
/// struct Greeting {
///     text: tina::heapless::String<32>,
///     repeat: u8,
/// }
///
/// #[derive(Bounded)]
/// enum Job<T> {
///     Run { item: T, attempts: u32 },
///     Stop,
/// }
///
/// fn assert_bounded<T: Bounded>() {}
/// assert_bounded::<Greeting>();
/// assert_bounded::<Job<[u16; 4]>>();
/// ```
///
/// ```compile_fail
/// use tina::prelude::*;
///
/// #[derive(Bounded)]
/// struct Greeting {
///     text: String, // error: `String` in a field of `Greeting` can grow without limit
/// }
/// ```
#[proc_macro_derive(Bounded)]
pub fn derive_bounded(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive_bounded(&input).into()
}

/// Implements `Request` for a message that expects an answer, with the reply type given by
/// `#[reply(T)]`; `ctx.call` only accepts requests, and the caller receives the answer as a
/// `CallResult<Request>` message holding a `T`.
///
/// ```
/// # #![allow(dead_code)]
/// use tina::prelude::*;
///
/// #[derive(Bounded, Request)]
/// #[reply(Balance)]
/// struct GetBalance {
///     account: u64,
/// }
///
/// #[derive(Bounded)]
/// struct Balance(u64);
///
/// fn reply_of<Q: Request>() -> &'static str {
///     core::any::type_name::<Q::Reply>()
/// }
/// assert!(reply_of::<GetBalance>().ends_with("Balance"));
/// ```
///
/// The reply must be `Bounded` (the `Request` trait requires it) and fit an envelope's
/// 64-byte payload; a missing `#[reply(…)]` is a compile error that says what to add.
#[proc_macro_derive(Request, attributes(reply))]
pub fn derive_request(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive_request(&input).into()
}
