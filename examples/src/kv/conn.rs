//! One client connection: parses pipelined commands, sends each key's operation to the
//! key's shard, and writes the answers back in command order.

use tina::heapless;
use tina::prelude::*;

use super::resp::{self, Args, Parsed};
use super::store::{Router, itoa};
use super::{Answer, ExpireCond, NO_REPLY, OP_TIMEOUT, Op, OpData, OpKind, Push, SetCond, Value};

/// Operations (and replies waiting for their turn) one connection may have outstanding.
pub const WINDOW: usize = 320;
/// Channels one connection may subscribe to.
pub const CHANNELS: usize = 32;
/// Buffers of output waiting for the socket's send queue.
const HELD: usize = 4;
/// Gathered output written even while later replies are still awaited.
const FLUSH_AT: usize = 4096;

/// Combines several answers into one reply.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
enum GroupKind {
    /// Integers added up (DEL, EXISTS, DBSIZE).
    Sum,
    /// `+OK` once all are OK (MSET, FLUSHALL).
    AllOk,
    /// Text sections joined into one bulk string (INFO).
    Info,
}

/// A reply the connection made itself.
#[derive(Bounded, Debug)]
enum Out {
    /// A store's answer.
    Value(Value),
    /// Fixed bytes.
    Static(&'static [u8]),
    /// An error reply (the text after `-`).
    Error(&'static str),
    /// Short formatted bytes.
    Small(heapless::Vec<u8, 96>),
    /// Longer bytes, in a buffer.
    Bytes(Buffer),
}

/// One place in the reply order.
#[derive(Bounded, Debug)]
enum Slot {
    /// Waiting for a store's answer since `since` (runtime nanoseconds).
    Waiting { since: u64 },
    /// Waiting for a store's acknowledgement, then `Out` (a subscription change).
    AwaitAck { since: u64, then: Out },
    /// Ready to write.
    Ready(Out),
    /// The next `parts` slots make one reply.
    Group { kind: GroupKind, parts: u16 },
}

/// Checks the deadlines of outstanding operations.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Deadline;

/// What a connection tells its shard's store about (counted there, shown by `INFO`).
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// A subscriber was disconnected because its output could not keep up.
    SlowSubscriber,
    /// A connection was closed for a protocol error or an oversized frame.
    ProtocolError,
}

/// A client connection.
#[isolate(mailbox = 256)]
pub struct Conn {
    socket: Socket,
    routers: heapless::Vec<Handle<Router>, 64>,
    window: heapless::Deque<Slot, WINDOW>,
    /// The sequence number of the window's front.
    head_seq: u32,
    /// Unparsed input, from `input_at`.
    input: Option<Buffer>,
    input_at: usize,
    /// Output being gathered.
    out: Option<Buffer>,
    /// Output the socket's send queue refused, in order, written on `Drained`.
    held: heapless::Deque<Buffer, HELD>,
    reading: bool,
    /// QUIT or a protocol error: close once everything before it is written.
    closing: bool,
    deadline_armed: bool,
    channels: heapless::Vec<heapless::Vec<u8, 64>, CHANNELS>,
}

#[isolate]
impl Conn {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let mut routers = heapless::Vec::new();
        for shard in 0..ctx.shard_count().min(64) {
            if let Some(router) = ctx.boot_handle::<Router>(ShardId(shard as u16), 0) {
                let _ = routers.push(router);
            }
        }
        let reading = ctx.read(*socket).is_ok();
        Conn {
            socket: *socket,
            routers,
            window: heapless::Deque::new(),
            head_seq: 0,
            input: None,
            input_at: 0,
            out: None,
            held: heapless::Deque::new(),
            reading,
            closing: false,
            deadline_armed: false,
            channels: heapless::Vec::new(),
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { data, .. } => {
                self.reading = false;
                if !self.take_input(data, ctx) {
                    return self.protocol_error(
                        "ERR Protocol error: request larger than the server's frame limit",
                        ctx,
                    );
                }
                self.process(ctx);
                self.settle(ctx)
            }
            IoEvent::Drained { .. } => {
                while let Some(buffer) = self.held.pop_front() {
                    match ctx.write(self.socket, buffer) {
                        Ok(()) => {}
                        Err(refused) if refused.error == IoError::QueueFull => {
                            let _ = self.held.push_front(refused.data);
                            break;
                        }
                        Err(_) => return self.finish(ctx),
                    }
                }
                self.process(ctx);
                self.settle(ctx)
            }
            // End of stream, a reset, a failure: the connection is over.
            _ => self.finish(ctx),
        }
    }

    fn answer(&mut self, answer: Answer, ctx: &mut Ctx<Self>) -> Effect {
        self.complete(answer.seq, answer.value);
        self.process(ctx);
        self.settle(ctx)
    }

    fn push(&mut self, push: Push, ctx: &mut Ctx<Self>) -> Effect {
        if self.channels.is_empty() {
            return Effect::Receive;
        }
        if !self.held.is_empty() || self.window.is_full() {
            // The client does not read what it subscribed to: disconnect it (Redis's
            // pub/sub output buffer limit), never buffer without bound.
            self.note(super::conn::Note::SlowSubscriber, ctx);
            return self.finish(ctx);
        }
        let _ = self.window.push_back(Slot::Ready(Out::Bytes(push.0)));
        self.settle(ctx)
    }

    // ANCHOR: failures
    fn deadline(&mut self, _deadline: Deadline, ctx: &mut Ctx<Self>) -> Effect {
        self.deadline_armed = false;
        let now = ctx.now().as_nanos();
        let limit = OP_TIMEOUT.as_nanos() as u64;
        let mut waiting = false;
        for slot in self.window.iter_mut() {
            let since = match slot {
                Slot::Waiting { since } | Slot::AwaitAck { since, .. } => *since,
                _ => continue,
            };
            if now.saturating_sub(since) >= limit {
                *slot = Slot::Ready(Out::Error("ERR timeout waiting for the key's shard"));
            } else {
                waiting = true;
            }
        }
        if waiting {
            self.arm_deadline(ctx);
        }
        self.process(ctx);
        self.settle(ctx)
    }

    fn undelivered(&mut self, bounce: Undelivered<Op>, ctx: &mut Ctx<Self>) -> Effect {
        let seq = bounce.message.seq;
        if seq != NO_REPLY {
            self.complete(seq, Value::Error("ERR the key's shard is overloaded"));
        }
        self.process(ctx);
        self.settle(ctx)
    }
    // ANCHOR_END: failures
}

/// A bulk-string reply of `bytes`, formatted.
fn bulk_out(bytes: &[u8], ctx: &mut Ctx<Conn>) -> Out {
    let mut small: heapless::Vec<u8, 96> = heapless::Vec::new();
    if bytes.len() + 16 <= small.capacity() {
        let _ = small.push(b'$');
        let _ = small.extend_from_slice(itoa(bytes.len() as i64).as_bytes());
        let _ = small.extend_from_slice(b"\r\n");
        let _ = small.extend_from_slice(bytes);
        let _ = small.extend_from_slice(b"\r\n");
        return Out::Small(small);
    }
    match ctx.buffer(bytes.len() + 24) {
        Ok(mut buffer) => {
            let _ = buffer.try_extend_from_slice(b"$");
            let _ = buffer.try_extend_from_slice(itoa(bytes.len() as i64).as_bytes());
            let _ = buffer.try_extend_from_slice(b"\r\n");
            let _ = buffer.try_extend_from_slice(bytes);
            let _ = buffer.try_extend_from_slice(b"\r\n");
            Out::Bytes(buffer)
        }
        Err(_) => Out::Error(super::OOM),
    }
}

/// `-ERR wrong number of arguments for 'name' command`.
fn arity(name: &'static str) -> Out {
    let mut text: heapless::Vec<u8, 96> = heapless::Vec::new();
    let _ = text.extend_from_slice(b"-ERR wrong number of arguments for '");
    let _ = text.extend_from_slice(name.as_bytes());
    let _ = text.extend_from_slice(b"' command\r\n");
    Out::Small(text)
}

/// Argument `index` of a parsed command, from the bytes it was parsed from.
fn argument<'a>(bytes: &'a [u8], args: &Args, index: usize) -> &'a [u8] {
    let (start, end) = args[index];
    &bytes[start as usize..end as usize]
}

/// Case-insensitive comparison with a lowercase name.
fn is(word: &[u8], name: &str) -> bool {
    word.eq_ignore_ascii_case(name.as_bytes())
}

/// Redis adds the Unix time in milliseconds to an expiry and refuses a sum that overflows.
/// Reading the wall clock would make the server's runs depend on it (and break replay in
/// simulation), so the bound uses a fixed stand-in for "now": 2^42 ms, the year 2109.
/// Expiries within that margin of `i64::MAX` ms are refused where Redis would still take
/// them — 140 million years from now.
const WALL_CLOCK_MARGIN_MS: i64 = 1 << 42;

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

impl Conn {
    /// Adds freshly read bytes to the unparsed input; false when they cannot fit the
    /// frame limit.
    fn take_input(&mut self, data: Buffer, ctx: &mut Ctx<Self>) -> bool {
        let Some(mut input) = self.input.take() else {
            self.input = Some(data);
            self.input_at = 0;
            return true;
        };
        // Move what is left to the front, then append.
        let left = input.len() - self.input_at;
        if self.input_at > 0 {
            let at = self.input_at;
            input.as_mut_slice().copy_within(at.., 0);
            input.set_len(left);
            self.input_at = 0;
        }
        let needed = left + data.len();
        if input.capacity() < needed {
            // A frame larger than a read block: gather it in a larger block, up to the
            // frame limit (the largest class).
            if needed > super::FRAME_LIMIT {
                return false;
            }
            let Ok(mut bigger) =
                ctx.buffer(needed.max(2 * input.capacity()).min(super::FRAME_LIMIT))
            else {
                return false;
            };
            let _ = bigger.try_extend_from_slice(&input);
            input = bigger;
        }
        if input.try_extend_from_slice(&data).is_err() {
            return false;
        }
        self.input = Some(input);
        true
    }

    /// Parses and starts every complete command the window has room for.
    fn process(&mut self, ctx: &mut Ctx<Self>) {
        while !self.closing && self.held.is_empty() {
            let Some(input) = self.input.take() else {
                break;
            };
            let bytes = &input[self.input_at..];
            if bytes.is_empty() {
                self.input_at = 0;
                break;
            }
            match resp::parse(bytes) {
                Parsed::Incomplete => {
                    if bytes.len() >= super::FRAME_LIMIT {
                        self.input = Some(input);
                        let _ = self.protocol_error_slot(
                            "ERR Protocol error: request larger than the server's frame limit",
                            ctx,
                        );
                        break;
                    }
                    self.input = Some(input);
                    break;
                }
                Parsed::Empty { used } => {
                    self.input_at += used;
                    self.input = Some(input);
                }
                Parsed::Error(text) => {
                    self.input = Some(input);
                    let _ = self.protocol_error_slot(text, ctx);
                    break;
                }
                Parsed::Command { args, used } => {
                    if self.window.capacity() - self.window.len() < args.len() + 2 {
                        self.input = Some(input);
                        break;
                    }
                    self.dispatch(bytes, &args, ctx);
                    self.input_at += used;
                    self.input = Some(input);
                }
            }
        }
        self.flush_ready(ctx);
    }

    /// The end of every handler: written what is ready, close when asked, read on when
    /// there is room.
    fn settle(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.flush_ready(ctx);
        if self.closing && self.window.is_empty() && self.held.is_empty() {
            return self.finish(ctx);
        }
        let room = self.window.len() < WINDOW / 2;
        if !self.reading && !self.closing && self.held.is_empty() && room {
            match ctx.read(self.socket) {
                Ok(()) => self.reading = true,
                Err(IoError::ReadArmed) => self.reading = true,
                Err(_) => return self.finish(ctx),
            }
        }
        Effect::Receive
    }

    /// Ends the connection: output already queued still goes out, subscriptions go.
    fn finish(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.write_out(ctx);
        for channel in core::mem::take(&mut self.channels) {
            self.send_op(&channel, channel.len(), OpKind::Unsubscribe, NO_REPLY, ctx);
        }
        let _ = ctx.close(self.socket);
        Effect::Done
    }

    fn protocol_error(&mut self, text: &'static str, ctx: &mut Ctx<Self>) -> Effect {
        let _ = self.protocol_error_slot(text, ctx);
        self.settle(ctx)
    }

    fn protocol_error_slot(&mut self, text: &'static str, ctx: &mut Ctx<Self>) -> bool {
        self.closing = true;
        self.note(Note::ProtocolError, ctx);
        self.window.push_back(Slot::Ready(Out::Error(text))).is_ok()
    }

    fn note(&mut self, note: Note, ctx: &mut Ctx<Self>) {
        if let Some(router) = self.routers.get(ctx.shard().index()) {
            let _ = ctx.send(router, note);
        }
    }

    /// Marks operation `seq` answered.
    fn complete(&mut self, seq: u32, value: Value) {
        let index = seq.wrapping_sub(self.head_seq) as usize;
        let Some(slot) = self.window.get_mut(index) else {
            return;
        };
        let next = match core::mem::replace(slot, Slot::Ready(Out::Static(b""))) {
            Slot::Waiting { .. } => Slot::Ready(Out::Value(value)),
            Slot::AwaitAck { then, .. } => match value {
                Value::Error(text) => Slot::Ready(Out::Error(text)),
                _ => Slot::Ready(then),
            },
            // Already answered (by its deadline): the late answer is dropped.
            other => other,
        };
        *slot = next;
    }

    fn push_slot(&mut self, slot: Slot) {
        // Room was checked before the command was taken.
        let _ = self.window.push_back(slot);
    }

    fn ready(&mut self, out: Out) {
        self.push_slot(Slot::Ready(out));
    }

    // ANCHOR: op
    /// Sends one key's operation to its shard and holds its place in the reply order.
    fn op(&mut self, key: &[u8], value: &[u8], kind: OpKind, ctx: &mut Ctx<Self>) {
        let seq = self.head_seq.wrapping_add(self.window.len() as u32);
        let Some(data) = op_data(key, value, ctx) else {
            self.ready(Out::Error(super::OOM));
            return;
        };
        let since = ctx.now().as_nanos();
        let shard = ctx.key_to_shard(super::hash(key)).index();
        let Some(&router) = self.routers.get(shard) else {
            self.ready(Out::Error("ERR no shard for the key"));
            return;
        };
        let op = Op {
            from: ctx.me(),
            seq,
            kind,
            data,
            key_len: key.len() as u32,
        };
        match ctx.send(&router, op) {
            Ok(()) => {
                self.push_slot(Slot::Waiting { since });
                self.arm_deadline(ctx);
            }
            Err(_) => self.ready(Out::Error("ERR the key's shard is overloaded")),
        }
    }
    // ANCHOR_END: op

    /// Sends an operation that is not about one key (to shard `shard`'s store).
    fn shard_op(&mut self, shard: usize, kind: OpKind, ctx: &mut Ctx<Self>) {
        let seq = self.head_seq.wrapping_add(self.window.len() as u32);
        let since = ctx.now().as_nanos();
        let Some(&router) = self.routers.get(shard) else {
            self.ready(Out::Error("ERR no such shard"));
            return;
        };
        let op = Op {
            from: ctx.me(),
            seq,
            kind,
            data: OpData::None,
            key_len: 0,
        };
        match ctx.send(&router, op) {
            Ok(()) => {
                self.push_slot(Slot::Waiting { since });
                self.arm_deadline(ctx);
            }
            Err(_) => self.ready(Out::Error("ERR the key's shard is overloaded")),
        }
    }

    /// A subscription change: sent to the channel's shard, `then` written once it is made.
    fn send_op(
        &mut self,
        key: &[u8],
        key_len: usize,
        kind: OpKind,
        seq: u32,
        ctx: &mut Ctx<Self>,
    ) -> bool {
        let Some(data) = op_data(key, &[], ctx) else {
            return false;
        };
        let shard = ctx.key_to_shard(super::hash(key)).index();
        let Some(&router) = self.routers.get(shard) else {
            return false;
        };
        let op = Op {
            from: ctx.me(),
            seq,
            kind,
            data,
            key_len: key_len as u32,
        };
        ctx.send(&router, op).is_ok()
    }

    fn subscription(&mut self, channel: &[u8], kind: OpKind, then: Out, ctx: &mut Ctx<Self>) {
        let seq = self.head_seq.wrapping_add(self.window.len() as u32);
        let since = ctx.now().as_nanos();
        if self.send_op(channel, channel.len(), kind, seq, ctx) {
            self.push_slot(Slot::AwaitAck { since, then });
            self.arm_deadline(ctx);
        } else {
            self.ready(Out::Error("ERR the channel's shard is overloaded"));
        }
    }

    fn arm_deadline(&mut self, ctx: &mut Ctx<Self>) {
        if !self.deadline_armed && ctx.after(OP_TIMEOUT / 2, Deadline).is_ok() {
            self.deadline_armed = true;
        }
    }

    /// Runs one command: `bytes` holds it, `args` are ranges into `bytes`.
    fn dispatch(&mut self, bytes: &[u8], args: &Args, ctx: &mut Ctx<Self>) {
        let arg = |index: usize| argument(bytes, args, index);
        let argc = args.len();
        let name = arg(0);
        let Some((full, min, max)) = lookup(name) else {
            self.unknown(bytes, args, ctx);
            return;
        };
        if argc < min || argc > max {
            self.ready(arity(full));
            return;
        }
        if !self.channels.is_empty()
            && !matches!(full, "subscribe" | "unsubscribe" | "ping" | "quit")
        {
            let mut text: heapless::Vec<u8, 192> = heapless::Vec::new();
            let _ = text.extend_from_slice(b"-ERR Can't execute '");
            let _ = text.extend_from_slice(full.as_bytes());
            let _ = text.extend_from_slice(
                b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
            );
            match ctx.buffer_from(&text) {
                Ok(buffer) => self.ready(Out::Bytes(buffer)),
                Err(_) => self.ready(Out::Error(super::OOM)),
            }
            return;
        }
        match full {
            "ping" => {
                let out = match (argc, self.channels.is_empty()) {
                    (1, true) => Out::Static(b"+PONG\r\n"),
                    (1, false) => Out::Static(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
                    (_, true) => bulk_out(arg(1), ctx),
                    (_, false) => {
                        let mut text: heapless::Vec<u8, 96> = heapless::Vec::new();
                        let _ = text.extend_from_slice(b"*2\r\n$4\r\npong\r\n");
                        match bulk_out(arg(1), ctx) {
                            Out::Small(bulk) if text.extend_from_slice(&bulk).is_ok() => {
                                Out::Small(text)
                            }
                            _ => Out::Error("ERR PING message too long in subscribed mode"),
                        }
                    }
                };
                self.ready(out);
            }
            "echo" => {
                let out = bulk_out(arg(1), ctx);
                self.ready(out);
            }
            "quit" => {
                self.ready(Out::Static(b"+OK\r\n"));
                self.closing = true;
            }
            "command" => self.ready(Out::Static(b"*0\r\n")),
            "config" => self.config(bytes, args, ctx),
            "get" => self.op(arg(1), b"", OpKind::Get, ctx),
            "set" => self.set(bytes, args, ctx),
            "del" | "exists" => {
                let kind = if full == "del" {
                    OpKind::Del
                } else {
                    OpKind::Exists
                };
                if argc > 2 {
                    self.push_slot(Slot::Group {
                        kind: GroupKind::Sum,
                        parts: (argc - 1) as u16,
                    });
                }
                for index in 1..argc {
                    self.op(arg(index), b"", kind, ctx);
                }
            }
            "incr" => self.op(arg(1), b"", OpKind::IncrBy(1), ctx),
            "decr" => self.op(arg(1), b"", OpKind::IncrBy(-1), ctx),
            "incrby" | "decrby" => match resp::integer(arg(2)) {
                None => self.ready(Out::Error(NOT_INTEGER)),
                Some(by) => {
                    let by = if full == "decrby" {
                        match by.checked_neg() {
                            Some(by) => by,
                            None => {
                                self.ready(Out::Error("ERR decrement would overflow"));
                                return;
                            }
                        }
                    } else {
                        by
                    };
                    self.op(arg(1), b"", OpKind::IncrBy(by), ctx);
                }
            },
            "mget" => {
                let mut header: heapless::Vec<u8, 96> = heapless::Vec::new();
                let _ = header.push(b'*');
                let _ = header.extend_from_slice(itoa((argc - 1) as i64).as_bytes());
                let _ = header.extend_from_slice(b"\r\n");
                self.ready(Out::Small(header));
                for index in 1..argc {
                    self.op(arg(index), b"", OpKind::Get, ctx);
                }
            }
            "mset" => {
                if argc.is_multiple_of(2) {
                    self.ready(arity("mset"));
                    return;
                }
                let pairs = (argc - 1) / 2;
                if pairs > 1 {
                    self.push_slot(Slot::Group {
                        kind: GroupKind::AllOk,
                        parts: pairs as u16,
                    });
                }
                let set = OpKind::Set {
                    cond: SetCond::Always,
                    ttl_ms: 0,
                    keep_ttl: false,
                };
                for pair in 0..pairs {
                    self.op(arg(1 + 2 * pair), arg(2 + 2 * pair), set, ctx);
                }
            }
            "expire" => self.expire(bytes, args, ctx),
            "ttl" => self.op(arg(1), b"", OpKind::Ttl, ctx),
            "dbsize" => self.all_shards(GroupKind::Sum, OpKind::DbSize, ctx),
            "flushall" => {
                if argc > 2 || (argc == 2 && !is(arg(1), "async") && !is(arg(1), "sync")) {
                    self.ready(Out::Error(SYNTAX));
                    return;
                }
                self.all_shards(GroupKind::AllOk, OpKind::FlushAll, ctx);
            }
            "info" => self.all_shards(GroupKind::Info, OpKind::Info, ctx),
            "publish" => self.op(arg(1), arg(2), OpKind::Publish, ctx),
            "subscribe" => {
                for index in 1..argc {
                    let channel = arg(index);
                    let Ok(name) = heapless::Vec::<u8, 64>::from_slice(channel) else {
                        self.ready(Out::Error("ERR channel name longer than 64 bytes"));
                        continue;
                    };
                    if !self.channels.contains(&name) && self.channels.push(name).is_err() {
                        self.ready(Out::Error("ERR too many channels for one connection"));
                        continue;
                    }
                    let then = sub_reply(b"subscribe", Some(channel), self.channels.len());
                    self.subscription(channel, OpKind::Subscribe, then, ctx);
                }
            }
            "unsubscribe" => {
                if argc == 1 {
                    if self.channels.is_empty() {
                        self.ready(Out::Static(b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"));
                    }
                    while let Some(channel) = self.channels.pop() {
                        let then = sub_reply(b"unsubscribe", Some(&channel), self.channels.len());
                        self.subscription(&channel, OpKind::Unsubscribe, then, ctx);
                    }
                    return;
                }
                for index in 1..argc {
                    let channel = arg(index);
                    self.channels.retain(|name| name.as_slice() != channel);
                    let then = sub_reply(b"unsubscribe", Some(channel), self.channels.len());
                    self.subscription(channel, OpKind::Unsubscribe, then, ctx);
                }
            }
            _ => self.unknown(bytes, args, ctx),
        }
    }

    fn all_shards(&mut self, kind: GroupKind, op: OpKind, ctx: &mut Ctx<Self>) {
        let shards = self.routers.len();
        self.push_slot(Slot::Group {
            kind,
            parts: shards as u16,
        });
        for shard in 0..shards {
            self.shard_op(shard, op, ctx);
        }
    }

    /// `-ERR unknown command 'name', with args beginning with: 'a' 'b' `, as Redis words it.
    fn unknown(&mut self, bytes: &[u8], args: &Args, ctx: &mut Ctx<Self>) {
        let arg = |index: usize| argument(bytes, args, index);
        let mut text: heapless::Vec<u8, 512> = heapless::Vec::new();
        let clean = |byte: u8| {
            if byte == b'\r' || byte == b'\n' {
                b' '
            } else {
                byte
            }
        };
        let _ = text.extend_from_slice(b"-ERR unknown command '");
        for &byte in arg(0).iter().take(128) {
            let _ = text.push(clean(byte));
        }
        let _ = text.extend_from_slice(b"', with args beginning with: ");
        let mut listed = 0usize;
        for index in 1..args.len() {
            if listed >= 128 {
                break;
            }
            let room = 128 - listed;
            let _ = text.push(b'\'');
            for &byte in arg(index).iter().take(room) {
                let _ = text.push(clean(byte));
            }
            let _ = text.extend_from_slice(b"' ");
            listed += arg(index).len().min(room) + 3;
        }
        let _ = text.extend_from_slice(b"\r\n");
        match ctx.buffer_from(&text) {
            Ok(buffer) => self.ready(Out::Bytes(buffer)),
            Err(_) => self.ready(Out::Error(super::OOM)),
        }
    }

    fn config(&mut self, bytes: &[u8], args: &Args, ctx: &mut Ctx<Self>) {
        let arg = |index: usize| argument(bytes, args, index);
        if !is(arg(1), "get") {
            let mut text: heapless::Vec<u8, 200> = heapless::Vec::new();
            let _ = text.extend_from_slice(b"-ERR unknown subcommand '");
            let _ = text.extend_from_slice(&arg(1)[..arg(1).len().min(64)]);
            let _ = text.extend_from_slice(b"'. Try CONFIG HELP.\r\n");
            match ctx.buffer_from(&text) {
                Ok(buffer) => self.ready(Out::Bytes(buffer)),
                Err(_) => self.ready(Out::Error(super::OOM)),
            }
            return;
        }
        if args.len() < 3 {
            self.ready(arity("config|get"));
            return;
        }
        // What redis-benchmark and redis-cli ask at start: no persistence here.
        let mut pairs: heapless::Vec<u8, 96> = heapless::Vec::new();
        let mut count = 0;
        for index in 2..args.len() {
            let (name, value): (&[u8], &[u8]) = if is(arg(index), "save") {
                (b"save", b"")
            } else if is(arg(index), "appendonly") {
                (b"appendonly", b"no")
            } else {
                continue;
            };
            count += 1;
            for part in [name, value] {
                let _ = pairs.push(b'$');
                let _ = pairs.extend_from_slice(itoa(part.len() as i64).as_bytes());
                let _ = pairs.extend_from_slice(b"\r\n");
                let _ = pairs.extend_from_slice(part);
                let _ = pairs.extend_from_slice(b"\r\n");
            }
        }
        let mut reply: heapless::Vec<u8, 96> = heapless::Vec::new();
        let _ = reply.push(b'*');
        let _ = reply.extend_from_slice(itoa(2 * count).as_bytes());
        let _ = reply.extend_from_slice(b"\r\n");
        let _ = reply.extend_from_slice(&pairs);
        self.ready(Out::Small(reply));
    }

    fn set(&mut self, bytes: &[u8], args: &Args, ctx: &mut Ctx<Self>) {
        let arg = |index: usize| argument(bytes, args, index);
        let mut cond = SetCond::Always;
        let mut expire: Option<(&[u8], u64)> = None;
        let mut keep_ttl = false;
        let mut index = 3;
        while index < args.len() {
            let word = arg(index);
            let next = index + 1 < args.len();
            if is(word, "nx") && cond != SetCond::Xx {
                cond = SetCond::Nx;
            } else if is(word, "xx") && cond != SetCond::Nx {
                cond = SetCond::Xx;
            } else if is(word, "keepttl") && expire.is_none() {
                keep_ttl = true;
            } else if (is(word, "ex") || is(word, "px"))
                && !keep_ttl
                && next
                && expire.is_none_or(|(_, unit)| unit == if is(word, "ex") { 1000 } else { 1 })
            {
                // Like Redis, the same unit may be given again (the last one counts).
                let unit = if is(word, "ex") { 1000 } else { 1 };
                index += 1;
                expire = Some((arg(index), unit));
            } else {
                self.ready(Out::Error(SYNTAX));
                return;
            }
            index += 1;
        }
        let mut ttl_ms = 0;
        if let Some((text, unit)) = expire {
            let Some(value) = resp::integer(text) else {
                self.ready(Out::Error(NOT_INTEGER));
                return;
            };
            let ms = if value > 0 {
                value
                    .checked_mul(unit as i64)
                    .filter(|&ms| ms <= i64::MAX - WALL_CLOCK_MARGIN_MS)
            } else {
                None
            };
            match ms {
                Some(ms) => ttl_ms = ms as u64,
                None => {
                    self.ready(Out::Error("ERR invalid expire time in 'set' command"));
                    return;
                }
            }
        }
        self.op(
            arg(1),
            arg(2),
            OpKind::Set {
                cond,
                ttl_ms,
                keep_ttl,
            },
            ctx,
        );
    }

    fn expire(&mut self, bytes: &[u8], args: &Args, ctx: &mut Ctx<Self>) {
        let arg = |index: usize| argument(bytes, args, index);
        let mut cond = ExpireCond::default();
        for index in 3..args.len() {
            let word = arg(index);
            if is(word, "nx") {
                cond.nx = true;
            } else if is(word, "xx") {
                cond.xx = true;
            } else if is(word, "gt") {
                cond.gt = true;
            } else if is(word, "lt") {
                cond.lt = true;
            } else {
                let mut text: heapless::Vec<u8, 128> = heapless::Vec::new();
                let _ = text.extend_from_slice(b"-ERR Unsupported option ");
                let _ = text.extend_from_slice(&word[..word.len().min(64)]);
                let _ = text.extend_from_slice(b"\r\n");
                match ctx.buffer_from(&text) {
                    Ok(buffer) => self.ready(Out::Bytes(buffer)),
                    Err(_) => self.ready(Out::Error(super::OOM)),
                }
                return;
            }
        }
        if cond.nx && (cond.xx || cond.gt || cond.lt) {
            self.ready(Out::Error(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
            return;
        }
        if cond.gt && cond.lt {
            self.ready(Out::Error(
                "ERR GT and LT options at the same time are not compatible",
            ));
            return;
        }
        let Some(seconds) = resp::integer(arg(2)) else {
            self.ready(Out::Error(NOT_INTEGER));
            return;
        };
        let Some(ms) = seconds
            .checked_mul(1000)
            .filter(|&ms| ms <= i64::MAX - WALL_CLOCK_MARGIN_MS)
        else {
            self.ready(Out::Error("ERR invalid expire time in 'expire' command"));
            return;
        };
        self.op(arg(1), b"", OpKind::Expire { ms, cond }, ctx);
    }

    /// Writes every reply whose turn has come.
    fn flush_ready(&mut self, ctx: &mut Ctx<Self>) {
        while self.held.is_empty() {
            match self.window.front() {
                None | Some(Slot::Waiting { .. }) | Some(Slot::AwaitAck { .. }) => break,
                Some(Slot::Ready(_)) => {
                    if let Some(Slot::Ready(out)) = self.window.pop_front() {
                        self.head_seq = self.head_seq.wrapping_add(1);
                        self.emit_out(out, ctx);
                    }
                }
                Some(Slot::Group { kind, parts }) => {
                    let (kind, parts) = (*kind, *parts as usize);
                    let all_ready = self
                        .window
                        .iter()
                        .skip(1)
                        .take(parts)
                        .all(|slot| matches!(slot, Slot::Ready(_)));
                    if !all_ready || self.window.len() <= parts {
                        break;
                    }
                    self.window.pop_front();
                    self.head_seq = self.head_seq.wrapping_add(1);
                    self.emit_group(kind, parts, ctx);
                }
            }
        }
        // The replies gathered leave once nothing the client sent is still awaited, so a
        // pipeline's replies go out together (as Redis writes them, once per batch) rather
        // than as each store answers; or once a good part of a block is gathered.
        let gathered = self.out.as_ref().map_or(0, |out| out.len());
        if self.window.is_empty() || gathered >= FLUSH_AT {
            self.write_out(ctx);
        }
    }

    fn emit_group(&mut self, kind: GroupKind, parts: usize, ctx: &mut Ctx<Self>) {
        let mut sum: i64 = 0;
        let mut error: Option<&'static str> = None;
        let mut texts: heapless::Vec<Buffer, 64> = heapless::Vec::new();
        for _ in 0..parts {
            let Some(Slot::Ready(out)) = self.window.pop_front() else {
                break;
            };
            self.head_seq = self.head_seq.wrapping_add(1);
            match out {
                Out::Value(Value::Int(n)) => sum = sum.saturating_add(n),
                Out::Value(Value::Error(text)) | Out::Error(text) => {
                    error.get_or_insert(text);
                }
                Out::Value(Value::Text(text)) => {
                    let _ = texts.push(text);
                }
                _ => {}
            }
        }
        if let Some(text) = error {
            self.emit_out(Out::Error(text), ctx);
            return;
        }
        match kind {
            GroupKind::Sum => self.emit_out(Out::Value(Value::Int(sum)), ctx),
            GroupKind::AllOk => self.emit_out(Out::Value(Value::Ok), ctx),
            GroupKind::Info => {
                let header = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nserver:tina-kv\r\n";
                let total = header.len() + texts.iter().map(|text| text.len()).sum::<usize>();
                self.emit(b"$", ctx);
                self.emit(itoa(total as i64).as_bytes(), ctx);
                self.emit(b"\r\n", ctx);
                self.emit(header, ctx);
                for text in &texts {
                    self.emit(text, ctx);
                }
                self.emit(b"\r\n", ctx);
            }
        }
    }

    fn emit_out(&mut self, out: Out, ctx: &mut Ctx<Self>) {
        match out {
            Out::Static(bytes) => self.emit(bytes, ctx),
            Out::Small(bytes) => self.emit(&bytes, ctx),
            Out::Bytes(buffer) => self.emit_buffer(buffer, ctx),
            Out::Error(text) => {
                self.emit(b"-", ctx);
                self.emit(text.as_bytes(), ctx);
                self.emit(b"\r\n", ctx);
            }
            Out::Value(value) => match value {
                Value::Ok | Value::Subscribed => self.emit(b"+OK\r\n", ctx),
                Value::Nil => self.emit(b"$-1\r\n", ctx),
                Value::Int(n) => {
                    self.emit(b":", ctx);
                    self.emit(itoa(n).as_bytes(), ctx);
                    self.emit(b"\r\n", ctx);
                }
                Value::Bulk(bytes) | Value::Text(bytes) => {
                    self.emit(b"$", ctx);
                    self.emit(itoa(bytes.len() as i64).as_bytes(), ctx);
                    self.emit(b"\r\n", ctx);
                    self.emit_buffer(bytes, ctx);
                    self.emit(b"\r\n", ctx);
                }
                Value::Short(bytes) => {
                    self.emit(b"$", ctx);
                    self.emit(itoa(bytes.len() as i64).as_bytes(), ctx);
                    self.emit(b"\r\n", ctx);
                    self.emit(&bytes, ctx);
                    self.emit(b"\r\n", ctx);
                }
                Value::Error(text) => {
                    self.emit(b"-", ctx);
                    self.emit(text.as_bytes(), ctx);
                    self.emit(b"\r\n", ctx);
                }
            },
        }
    }

    /// Appends a buffer's bytes to the output: copied when small, handed to the socket as
    /// it is when large (after what was gathered before it).
    fn emit_buffer(&mut self, buffer: Buffer, ctx: &mut Ctx<Self>) {
        let room = self
            .out
            .as_ref()
            .map_or(0, |out| out.capacity() - out.len());
        if buffer.len() <= room || buffer.len() <= 4096 {
            self.emit(&buffer, ctx);
            return;
        }
        self.write_out(ctx);
        self.out = Some(buffer);
        self.write_out(ctx);
    }

    /// Appends bytes to the output, handing full blocks to the socket.
    fn emit(&mut self, mut bytes: &[u8], ctx: &mut Ctx<Self>) {
        while !bytes.is_empty() {
            if self.out.is_none() {
                match ctx.buffer(16 * 1024) {
                    Ok(buffer) => self.out = Some(buffer),
                    // No block for output: the reply is lost and the connection ends (the
                    // client sees it closed rather than a corrupt stream).
                    Err(_) => {
                        self.closing = true;
                        self.window.clear();
                        return;
                    }
                }
            }
            let Some(out) = self.out.as_mut() else {
                return;
            };
            let room = out.capacity() - out.len();
            let take = room.min(bytes.len());
            let _ = out.try_extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if out.len() == out.capacity() {
                self.write_out(ctx);
            }
        }
    }

    /// Hands the gathered output to the socket (behind anything already held).
    fn write_out(&mut self, ctx: &mut Ctx<Self>) {
        let Some(out) = self.out.take() else {
            return;
        };
        if out.is_empty() {
            self.out = Some(out);
            return;
        }
        if !self.held.is_empty() {
            if let Err(out) = self.held.push_back(out) {
                // More held than an entry's output can make: a runtime misuse; drop the
                // connection rather than reorder bytes.
                drop(out);
                self.closing = true;
                self.window.clear();
            }
            return;
        }
        match ctx.write(self.socket, out) {
            Ok(()) => {}
            Err(refused) if refused.error == IoError::QueueFull => {
                let _ = self.held.push_back(refused.data);
            }
            Err(_) => {
                self.closing = true;
                self.window.clear();
            }
        }
    }
}

/// A (un)subscribe confirmation: `*3 $kind $channel :count`.
fn sub_reply(kind: &[u8], channel: Option<&[u8]>, count: usize) -> Out {
    let mut text: heapless::Vec<u8, 96> = heapless::Vec::new();
    let mut ok = text.extend_from_slice(b"*3\r\n$").is_ok();
    ok &= text
        .extend_from_slice(itoa(kind.len() as i64).as_bytes())
        .is_ok();
    ok &= text.extend_from_slice(b"\r\n").is_ok();
    ok &= text.extend_from_slice(kind).is_ok();
    ok &= text.extend_from_slice(b"\r\n").is_ok();
    match channel {
        Some(channel) => {
            ok &= text.push(b'$').is_ok();
            ok &= text
                .extend_from_slice(itoa(channel.len() as i64).as_bytes())
                .is_ok();
            ok &= text.extend_from_slice(b"\r\n").is_ok();
            ok &= text.extend_from_slice(channel).is_ok();
            ok &= text.extend_from_slice(b"\r\n").is_ok();
        }
        None => ok &= text.extend_from_slice(b"$-1\r\n").is_ok(),
    }
    ok &= text.push(b':').is_ok();
    ok &= text
        .extend_from_slice(itoa(count as i64).as_bytes())
        .is_ok();
    ok &= text.extend_from_slice(b"\r\n").is_ok();
    if ok {
        Out::Small(text)
    } else {
        // Channel names are at most 64 bytes (checked before), so this does not happen.
        Out::Error("ERR channel name too long")
    }
}

/// A command's lowercase name and its argument count bounds (the name included), as
/// Redis 7.0 declares them.
fn lookup(name: &[u8]) -> Option<(&'static str, usize, usize)> {
    const MANY: usize = usize::MAX;
    const TABLE: &[(&str, usize, usize)] = &[
        ("get", 2, 2),
        ("set", 3, MANY),
        ("del", 2, MANY),
        ("exists", 2, MANY),
        ("incr", 2, 2),
        ("decr", 2, 2),
        ("incrby", 3, 3),
        ("decrby", 3, 3),
        ("mget", 2, MANY),
        ("mset", 3, MANY),
        ("expire", 3, MANY),
        ("ttl", 2, 2),
        ("dbsize", 1, 1),
        ("flushall", 1, MANY),
        ("publish", 3, 3),
        ("subscribe", 2, MANY),
        ("unsubscribe", 1, MANY),
        ("ping", 1, 2),
        ("echo", 2, 2),
        ("info", 1, MANY),
        ("quit", 1, MANY),
        ("config", 2, MANY),
        ("command", 1, MANY),
    ];
    TABLE
        .iter()
        .find(|(full, _, _)| name.eq_ignore_ascii_case(full.as_bytes()))
        .copied()
}

/// An operation's bytes, `key` then `value`: inline when they fit, else in a transfer
/// buffer of this shard's pools (`None`: no buffer free).
fn op_data(key: &[u8], value: &[u8], ctx: &mut Ctx<Conn>) -> Option<OpData> {
    if let Some(inline) = OpData::inline(key, value) {
        return Some(inline);
    }
    let mut data = ctx.buffer(key.len() + value.len()).ok()?;
    let _ = data.try_extend_from_slice(key);
    let _ = data.try_extend_from_slice(value);
    Some(OpData::Buffer(data))
}
