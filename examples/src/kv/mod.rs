//! `kv`: a Redis-compatible (RESP2) cache on Tina.
//!
//! **Layout.** Every shard accepts connections (one listener per shard, `SO_REUSEPORT`)
//! and runs one [`Conn`] isolate per connection, one [`Router`] and one [`Store`]. Each key
//! belongs to one shard (`key_to_shard` of the key's hash); that shard's store owns it in a
//! fixed-capacity table sized at boot, its value in a transfer buffer from the shard's
//! bounded pools. A connection parses pipelined commands and sends each key's operation to
//! the router of the key's shard as a message ([`Op`], with a sequence number), which hands
//! it to its store; the store answers the connection directly ([`Answer`]). The connection
//! keeps a bounded window of outstanding operations and writes the answers in command
//! order, so a pipeline of 16 commands over both shards costs one message each way per
//! command, all in flight at once — not 16 round trips. A full window stops reading: the
//! client is slowed by TCP, never buffered without limit.
//!
//! **Bounded memory.** The key table, the value pools, the connection count and every
//! queue are fixed at boot. A write that finds the table or the value pool full is answered
//! `-OOM` (`noeviction`), or first evicts an approximately least recently used key
//! (`allkeys-lru`: the oldest of five sampled). A subscriber that cannot keep up with its
//! output is disconnected (counted), never buffered without limit.
//!
//! **Crashes.** A connection isolate that crashes costs only its connection. A store that
//! crashes (no command makes one: every error is a reply) loses its shard's keys: its
//! supervisor restarts it empty, it announces its new handle to its shard's router, and the
//! other shards keep serving throughout; operations caught in flight are answered with an
//! error by the connection's deadline. The router only forwards, so it does not crash.

pub mod conn;
pub mod resp;
pub mod store;

use core::time::Duration;

use tina::prelude::*;

pub use conn::Conn;
pub use store::{Router, Store};

/// What a store does for one command (keys and values travel in [`Op::data`]).
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `GET key`.
    Get,
    /// `SET key value [NX|XX] [EX|PX|KEEPTTL]`.
    Set {
        /// NX / XX.
        cond: SetCond,
        /// Time to live in milliseconds (0: none).
        ttl_ms: u64,
        /// KEEPTTL: an existing key keeps its expiry.
        keep_ttl: bool,
    },
    /// `DEL key` (one key of a `DEL`).
    Del,
    /// `EXISTS key` (one key of an `EXISTS`).
    Exists,
    /// `INCRBY key by` (and INCR, DECR, DECRBY).
    IncrBy(i64),
    /// `EXPIRE key seconds [NX|XX|GT|LT]`, in milliseconds.
    Expire {
        /// The new time to live in milliseconds (at most 0: the key is deleted).
        ms: i64,
        /// The condition flags.
        cond: ExpireCond,
    },
    /// `TTL key`.
    Ttl,
    /// This shard's part of `DBSIZE`.
    DbSize,
    /// This shard's part of `FLUSHALL`.
    FlushAll,
    /// This shard's section of `INFO`.
    Info,
    /// Subscribe the sender to the channel in `data`.
    Subscribe,
    /// Unsubscribe the sender from the channel in `data`.
    Unsubscribe,
    /// `PUBLISH channel message`: channel first in `data`, `key_len` long.
    Publish,
}

/// `SET`'s NX / XX.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCond {
    /// Always.
    Always,
    /// Only if absent.
    Nx,
    /// Only if present.
    Xx,
}

/// `EXPIRE`'s flags.
#[derive(Bounded, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCond {
    /// Only if the key has no expiry.
    pub nx: bool,
    /// Only if the key has an expiry.
    pub xx: bool,
    /// Only if the new expiry is later.
    pub gt: bool,
    /// Only if the new expiry is earlier.
    pub lt: bool,
}

/// Sequence number of an operation nobody waits for.
pub const NO_REPLY: u32 = u32::MAX;

// ANCHOR: messages
/// One operation for a store: from connection `from`, its `seq`-th; the key (then the
/// value) in `data`, the key `key_len` bytes long.
///
/// An `Op` fits an envelope's 64 inline bytes (the runtime refuses to compile one that
/// does not), which is what bounds [`INLINE_OP`].
#[derive(Bounded)]
pub struct Op {
    /// Who asked (the answer goes there).
    pub from: Handle<Conn>,
    /// The connection's sequence number ([`NO_REPLY`]: answer nothing).
    pub seq: u32,
    /// What to do.
    pub kind: OpKind,
    /// Key, then value.
    pub data: OpData,
    /// Length of the key in `data`.
    pub key_len: u32,
}

/// The longest key and value, together, that an [`Op`] carries inline.
pub const INLINE_OP: usize = 30;

/// An operation's bytes, key then value: inline when they are short (most keys of most
/// commands: no transfer buffer taken, filled and returned), in a buffer when not.
#[derive(Bounded, Debug)]
pub enum OpData {
    /// No bytes (an operation on the whole shard).
    None,
    /// Up to [`INLINE_OP`] bytes, in the message itself.
    Inline {
        /// How many of `bytes` are used.
        len: u8,
        /// The bytes.
        bytes: [u8; INLINE_OP],
    },
    /// Longer bytes, in a transfer buffer.
    Buffer(Buffer),
}

impl OpData {
    /// `key` then `value` inline if they fit, else `None`.
    pub fn inline(key: &[u8], value: &[u8]) -> Option<OpData> {
        let len = key.len() + value.len();
        if len > INLINE_OP {
            return None;
        }
        let mut bytes = [0; INLINE_OP];
        bytes[..key.len()].copy_from_slice(key);
        bytes[key.len()..len].copy_from_slice(value);
        Some(OpData::Inline {
            len: len as u8,
            bytes,
        })
    }

    /// The bytes, key then value.
    pub fn bytes(&self) -> &[u8] {
        match self {
            OpData::None => &[],
            OpData::Inline { len, bytes } => &bytes[..usize::from(*len)],
            OpData::Buffer(buffer) => buffer,
        }
    }
}

/// A store's answer.
#[derive(Bounded, Debug)]
pub enum Value {
    /// `+OK`.
    Ok,
    /// A null bulk string.
    Nil,
    /// An integer.
    Int(i64),
    /// A bulk string: the bytes of the buffer.
    Bulk(Buffer),
    /// A bulk string of at most [`SHORT_VALUE`] bytes, carried in the answer itself: a
    /// short value's reply takes no transfer buffer.
    Short(ShortBytes),
    /// An error reply (the text after `-`).
    Error(&'static str),
    /// Raw text (an `INFO` section), to be wrapped by the connection.
    Text(Buffer),
    /// The subscription change was made.
    Subscribed,
}

/// The longest value a [`Value::Short`] carries inline (so that an [`Answer`] still fits
/// an envelope).
pub const SHORT_VALUE: usize = 46;

/// Up to [`SHORT_VALUE`] bytes, inline.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct ShortBytes {
    len: u8,
    bytes: [u8; SHORT_VALUE],
}

impl ShortBytes {
    /// `bytes` inline, or `None` when they are longer than [`SHORT_VALUE`].
    pub fn new(bytes: &[u8]) -> Option<ShortBytes> {
        let mut short = ShortBytes {
            len: 0,
            bytes: [0; SHORT_VALUE],
        };
        short.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        short.len = bytes.len() as u8;
        Some(short)
    }
}

impl core::ops::Deref for ShortBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A store's answer to operation `seq`.
#[derive(Bounded, Debug)]
pub struct Answer {
    /// The operation's sequence number.
    pub seq: u32,
    /// The answer.
    pub value: Value,
}
// ANCHOR_END: messages

/// A message published on a channel the connection subscribed to: the whole RESP push,
/// ready to write.
#[derive(Bounded, Debug)]
pub struct Push(pub Buffer);

/// A store announces its handle to its shard's router (at every start, restarts included).
#[derive(Bounded, Clone, Copy, Debug)]
pub struct StoreUp(pub Handle<Store>);

/// The error text of a full keyspace or value pool (Redis's `noeviction` reply).
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// What to do when a write finds no room.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse the write with `-OOM`.
    NoEviction,
    /// Evict an approximately least recently used key first.
    AllKeysLru,
}

/// How a `kv` server is sized.
#[derive(Clone, Copy, Debug)]
pub struct KvConfig {
    /// Shards.
    pub shards: usize,
    /// Keys in all (split evenly over the shards).
    pub max_keys: usize,
    /// Connections per shard.
    pub connections: usize,
    /// Values of at most this many bytes fit the pools' largest class (with the key);
    /// a request frame may be at most as large. 16 KiB.
    pub block: usize,
    /// Blocks of 2 KiB (values up to about 2 KiB) per shard, as a share of its keys: 1/N.
    pub large_share: usize,
    /// What a full store does.
    pub policy: Policy,
    /// Whether crashes are printed (the demo: yes; simulations: no).
    pub print_crashes: bool,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            shards: 2,
            max_keys: 200_000,
            connections: 256,
            block: 16 * 1024,
            large_share: 1,
            policy: Policy::NoEviction,
            print_crashes: true,
        }
    }
}

/// The largest request frame, and the largest value: the largest buffer class (1 MiB).
/// (Redis allows bulk strings of 512 MB; a bounded server states its bound.)
pub const FRAME_LIMIT: usize = 1024 * 1024;

/// How long a connection waits for a store's answer before it answers the client with an
/// error.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Arguments of a store.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct StoreArgs {
    /// Keys this store may hold.
    pub max_keys: u32,
    /// What a full store does.
    pub policy: Policy,
}

// ANCHOR: spec
/// The boot spec of a `kv` server listening at `addr`, and its listener's index.
pub fn spec(config: &KvConfig, addr: std::net::SocketAddr) -> (BootSpec, usize) {
    let shards = config.shards.max(1);
    let keys = config.max_keys.div_ceil(shards).max(16);
    let mut spec = BootSpec::new(shards);
    // The router first: `Conn` finds it with `ctx.boot_handle::<Router>(shard, 0)`.
    spec.isolate::<Router>(1)
        .isolate::<Store>(1)
        .isolate::<Conn>(config.connections)
        // Messages in flight: every connection's window, twice (op and answer).
        .pool_slots((config.connections * conn::WINDOW * 2 + 4096).min(1 << 20))
        .ring_capacity(4096)
        .sockets(config.connections + 8)
        // Small values and keys; values up to 2 KiB; reads, frames and output.
        .buffer_class(64, keys)
        .buffer_class(256, keys / 2 + 64)
        .buffer_class(2048, keys / config.large_share.max(1) + 64)
        .buffer_class(config.block, config.connections * 4 + 256)
        // A few blocks for frames and values beyond a read block, up to the frame limit.
        .buffer_class(FRAME_LIMIT, 16)
        .read_block(config.block)
        // Half the operations cross to the other shard and back. An idle shard keeps
        // looking for its answers for 200 ticks, yielding its core to any other thread
        // between them (the client may share the machine), before it sleeps: no wake-up
        // per answer, no core taken from the others (BENCHMARKS.md, kv).
        .spin_before_sleep(200)
        .spin_by_yielding(true)
        // A short scheduler slice: a shard that wakes on a core the client holds gets it
        // sooner (Linux 6.12+; elsewhere the OS's default).
        .scheduler_slice(Duration::from_micros(300))
        .pin_threads(false)
        .print_crashes(config.print_crashes);
    for shard in 0..shards {
        let shard = ShardId(shard as u16);
        spec.root::<Router>(shard, ());
        let group = spec.supervisor(shard);
        spec.budget(group, RestartBudget::new(100, Duration::from_secs(10)));
        spec.child::<Store>(
            group,
            Restart::Permanent,
            StoreArgs {
                max_keys: keys as u32,
                policy: config.policy,
            },
        );
    }
    let listener = spec.listen(Listen::tcp::<Conn>(addr).max_connections(config.connections));
    (spec, listener)
}
// ANCHOR_END: spec

/// FNV-1a: the hash that places a key on a shard and in its store's table.
pub fn hash(key: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
