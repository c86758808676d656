//! A shard's keyspace: the [`Store`] isolate and its fixed-capacity table, and the
//! [`Router`] that connections address.

use core::time::Duration;
use tina::heapless;

use tina::prelude::*;

use super::{
    Answer, ExpireCond, OOM, Op, OpKind, Policy, Push, SetCond, StoreArgs, StoreUp, Value,
};

/// One key.
struct Entry {
    /// The key's hash (meaningful when `data` is some).
    hash: u64,
    /// Key bytes, then value bytes; `None`: an empty slot.
    data: Option<Buffer>,
    key_len: u32,
    /// When it expires, in runtime nanoseconds (0: never).
    expires: u64,
    /// The store's access clock at the last access (for LRU sampling).
    touched: u32,
}

/// An open-addressing hash table (linear probing, backward-shift deletion) of a capacity
/// fixed when the store starts: twice its key bound, rounded up to a power of two.
pub struct Table {
    entries: Box<[Entry]>,
    mask: usize,
    len: usize,
    max_keys: usize,
}

// SAFETY: the table's slice is allocated once, in `Table::new` when the store starts (at
// boot, or at a restart after a crash), with a length fixed by the boot spec's key bound;
// nothing grows it, and every value it holds is a transfer buffer from the shard's bounded
// pools. Its size is bounded as surely as an array's, only not known at compile time.
unsafe impl tina::Bounded for Table {}

/// Where a key's table index comes from: bits of the hash the shard choice does not use.
fn home(hash: u64, mask: usize) -> usize {
    (hash.rotate_left(17).wrapping_mul(0xff51_afd7_ed55_8ccd) >> 11) as usize & mask
}

impl Table {
    fn new(max_keys: usize) -> Table {
        let capacity = (max_keys.max(8) * 2).next_power_of_two();
        Table {
            entries: (0..capacity)
                .map(|_| Entry {
                    hash: 0,
                    data: None,
                    key_len: 0,
                    expires: 0,
                    touched: 0,
                })
                .collect(),
            mask: capacity - 1,
            len: 0,
            max_keys,
        }
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let mut index = home(hash, self.mask);
        loop {
            let entry = &self.entries[index];
            let data = entry.data.as_ref()?;
            if entry.hash == hash && &data[..entry.key_len as usize] == key {
                return Some(index);
            }
            index = (index + 1) & self.mask;
        }
    }

    /// The first empty slot on `hash`'s probe path (the key is known to be absent).
    fn vacant(&self, hash: u64) -> usize {
        let mut index = home(hash, self.mask);
        while self.entries[index].data.is_some() {
            index = (index + 1) & self.mask;
        }
        index
    }

    /// Removes slot `index`, shifting later entries of its cluster back.
    fn remove(&mut self, mut index: usize) -> Option<Buffer> {
        let taken = self.entries[index].data.take();
        if taken.is_some() {
            self.len -= 1;
        }
        let mut next = (index + 1) & self.mask;
        while let Some(data) = self.entries[next].data.take() {
            let wanted = home(self.entries[next].hash, self.mask);
            // Move `next` back into the hole when the hole lies on its probe path.
            let distance_next = next.wrapping_sub(wanted) & self.mask;
            let distance_hole = index.wrapping_sub(wanted) & self.mask;
            if distance_hole <= distance_next {
                let (hash, key_len, expires, touched) = {
                    let entry = &self.entries[next];
                    (entry.hash, entry.key_len, entry.expires, entry.touched)
                };
                self.entries[index] = Entry {
                    hash,
                    data: Some(data),
                    key_len,
                    expires,
                    touched,
                };
                index = next;
            } else {
                self.entries[next].data = Some(data);
            }
            next = (next + 1) & self.mask;
        }
        taken
    }

    fn clear(&mut self) {
        for entry in self.entries.iter_mut() {
            entry.data = None;
        }
        self.len = 0;
    }
}

/// What a store counts (shown by `INFO`).
#[derive(Bounded, Clone, Copy, Debug, Default)]
pub struct StoreStats {
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Writes refused with `-OOM`.
    pub oom_refusals: u64,
    /// Keys evicted to make room.
    pub evicted: u64,
    /// Keys found expired and removed.
    pub expired: u64,
    /// Messages published.
    pub published: u64,
    /// Published messages a subscriber's full mailbox refused.
    pub push_refused: u64,
    /// Subscribers of this shard disconnected because their output could not keep up.
    pub slow_subscribers: u64,
    /// Connections of this shard closed for a protocol error or an oversized frame.
    pub protocol_errors: u64,
}

/// A channel subscription: the channel's name (at most 64 bytes) and the subscriber.
#[derive(Bounded, Clone, Debug)]
struct Subscription {
    channel: heapless::Vec<u8, 64>,
    conn: Handle<super::Conn>,
}

/// Subscriptions a store holds.
const SUBSCRIPTIONS: usize = 1024;

/// The active-expiry timer.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Sweep;

/// How often expired keys are looked for, and how many slots each look samples.
const SWEEP_EVERY: Duration = Duration::from_millis(100);
const SWEEP_SAMPLES: usize = 64;

/// One shard's keys.
#[isolate(mailbox = 8192)]
pub struct Store {
    table: Table,
    subscriptions: heapless::Vec<Subscription, SUBSCRIPTIONS>,
    policy: Policy,
    /// The access clock (LRU).
    clock: u32,
    /// xorshift state for sampling (the simulation replays it: it is part of the state).
    rng: u64,
    /// Where the sweep goes on.
    sweep_at: usize,
    /// Counters.
    pub stats: StoreStats,
}

#[isolate]
impl Store {
    // ANCHOR: store_init
    fn init(args: &StoreArgs, ctx: &mut Ctx<Self>) -> Self {
        let shard = ctx.shard();
        if let Some(router) = ctx.boot_handle::<Router>(shard, 0) {
            let _ = ctx.send(&router, StoreUp(ctx.me()));
        }
        let _ = ctx.after(SWEEP_EVERY, Sweep);
        Store {
            table: Table::new(args.max_keys as usize),
            subscriptions: heapless::Vec::new(),
            policy: args.policy,
            clock: 0,
            rng: 0x9E37_79B9_7F4A_7C15 ^ u64::from(shard.0),
            sweep_at: 0,
            stats: StoreStats::default(),
        }
    }
    // ANCHOR_END: store_init

    fn op(&mut self, op: Op, ctx: &mut Ctx<Self>) -> Effect {
        let Op {
            from,
            seq,
            kind,
            data,
            key_len,
        } = op;
        let value = self.run(kind, data, key_len as usize, from, ctx);
        if seq != super::NO_REPLY {
            let _ = ctx.send(&from, Answer { seq, value });
        }
        Effect::Receive
    }

    fn note(&mut self, note: super::conn::Note, _ctx: &mut Ctx<Self>) -> Effect {
        match note {
            super::conn::Note::SlowSubscriber => self.stats.slow_subscribers += 1,
            super::conn::Note::ProtocolError => self.stats.protocol_errors += 1,
        }
        Effect::Receive
    }

    fn sweep(&mut self, _sweep: Sweep, ctx: &mut Ctx<Self>) -> Effect {
        let now = ctx.now().as_nanos();
        let capacity = self.table.entries.len();
        for _ in 0..SWEEP_SAMPLES.min(capacity) {
            let index = self.sweep_at;
            self.sweep_at = (self.sweep_at + 1) % capacity;
            let entry = &self.table.entries[index];
            if entry.data.is_some() && entry.expires != 0 && entry.expires <= now {
                self.table.remove(index);
                self.stats.expired += 1;
                // The shift may have moved a later entry here: look at this slot again.
                self.sweep_at = index;
            }
        }
        let _ = ctx.after(SWEEP_EVERY, Sweep);
        Effect::Receive
    }
}

impl Store {
    /// Runs one operation and returns its answer.
    fn run(
        &mut self,
        kind: OpKind,
        data: super::OpData,
        key_len: usize,
        from: Handle<super::Conn>,
        ctx: &mut Ctx<Self>,
    ) -> Value {
        let now = ctx.now().as_nanos();
        self.clock = self.clock.wrapping_add(1);
        let empty: &[u8] = &[];
        let bytes = data.bytes();
        let key = &bytes[..key_len.min(bytes.len())];
        match kind {
            OpKind::Get => match self.live(key, now) {
                Some(index) => {
                    self.stats.hits += 1;
                    self.table.entries[index].touched = self.clock;
                    let entry = &self.table.entries[index];
                    let stored = entry.data.as_deref().unwrap_or(empty);
                    let value = &stored[entry.key_len as usize..];
                    if let Some(short) = super::ShortBytes::new(value) {
                        return Value::Short(short);
                    }
                    match ctx.buffer_from(value) {
                        Ok(copy) => Value::Bulk(copy),
                        Err(_) => Value::Error(OOM),
                    }
                }
                None => {
                    self.stats.misses += 1;
                    Value::Nil
                }
            },
            OpKind::Set {
                cond,
                ttl_ms,
                keep_ttl,
            } => {
                let existing = self.live(key, now);
                match (cond, existing) {
                    (SetCond::Nx, Some(_)) | (SetCond::Xx, None) => return Value::Nil,
                    _ => {}
                }
                let old_expires = existing.map_or(0, |index| self.table.entries[index].expires);
                let expires = if ttl_ms > 0 {
                    now.saturating_add(ttl_ms.saturating_mul(1_000_000))
                } else if keep_ttl {
                    old_expires
                } else {
                    0
                };
                // The value may come from another shard's pool: the store keeps its own copy,
                // so each shard's pools bound each shard's keys.
                let Some(mut record) = self.take_block(ctx, bytes.len()) else {
                    self.stats.oom_refusals += 1;
                    return Value::Error(OOM);
                };
                let _ = record.try_extend_from_slice(bytes);
                // An eviction may have moved entries: find the key's slot again.
                let existing = existing.and_then(|_| self.live(&record[..key_len], now));
                self.put(key_len, record, existing, expires)
            }
            OpKind::Del => match self.live(key, now) {
                Some(index) => {
                    self.table.remove(index);
                    Value::Int(1)
                }
                None => Value::Int(0),
            },
            OpKind::Exists => Value::Int(i64::from(self.live(key, now).is_some())),
            OpKind::IncrBy(by) => {
                let existing = self.live(key, now);
                let (current, expires) = match existing {
                    Some(index) => {
                        let entry = &self.table.entries[index];
                        let stored = entry.data.as_deref().unwrap_or(empty);
                        match super::resp::integer(&stored[entry.key_len as usize..]) {
                            Some(value) => (value, entry.expires),
                            None => {
                                return Value::Error("ERR value is not an integer or out of range");
                            }
                        }
                    }
                    None => (0, 0),
                };
                let Some(next) = current.checked_add(by) else {
                    return Value::Error("ERR increment or decrement would overflow");
                };
                let digits = itoa(next);
                let Some(mut record) = self.take_block(ctx, key_len + digits.len()) else {
                    self.stats.oom_refusals += 1;
                    return Value::Error(OOM);
                };
                let _ = record.try_extend_from_slice(key);
                let _ = record.try_extend_from_slice(digits.as_bytes());
                // An eviction may have moved entries: find the key's slot again.
                let existing = existing.and_then(|_| self.live(&record[..key_len], now));
                match self.put(key_len, record, existing, expires) {
                    Value::Ok => Value::Int(next),
                    other => other,
                }
            }
            OpKind::Expire { ms, cond } => self.expire(key, now, ms, cond),
            OpKind::Ttl => match self.live(key, now) {
                None => Value::Int(-2),
                Some(index) => match self.table.entries[index].expires {
                    0 => Value::Int(-1),
                    at => {
                        let left_ms = (at - now) / 1_000_000;
                        Value::Int(((left_ms + 500) / 1000) as i64)
                    }
                },
            },
            OpKind::DbSize => Value::Int(self.table.len as i64),
            OpKind::FlushAll => {
                self.table.clear();
                Value::Ok
            }
            OpKind::Info => self.info(ctx),
            OpKind::Subscribe => {
                let already = self
                    .subscriptions
                    .iter()
                    .any(|sub| sub.conn == from && sub.channel.as_slice() == key);
                if !already {
                    let Ok(channel) = heapless::Vec::from_slice(key) else {
                        return Value::Error("ERR channel name longer than 64 bytes");
                    };
                    if self
                        .subscriptions
                        .push(Subscription {
                            channel,
                            conn: from,
                        })
                        .is_err()
                    {
                        return Value::Error("ERR too many subscriptions on this shard");
                    }
                }
                Value::Subscribed
            }
            OpKind::Unsubscribe => {
                self.subscriptions
                    .retain(|sub| !(sub.conn == from && sub.channel.as_slice() == key));
                Value::Subscribed
            }
            OpKind::Publish => {
                let message = &bytes[key_len.min(bytes.len())..];
                self.stats.published += 1;
                self.publish(key, message, ctx)
            }
        }
    }

    /// The slot of `key` if it is there and not expired (an expired key is removed).
    fn live(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let index = self.table.find(super::hash(key), key)?;
        let expires = self.table.entries[index].expires;
        if expires != 0 && expires <= now {
            self.table.remove(index);
            self.stats.expired += 1;
            return None;
        }
        Some(index)
    }

    /// Stores `record` (key then value) for the key in slot `existing`, or in a new slot.
    fn put(
        &mut self,
        key_len: usize,
        record: Buffer,
        existing: Option<usize>,
        expires: u64,
    ) -> Value {
        let key_hash = super::hash(&record[..key_len]);
        if let Some(index) = existing {
            let entry = &mut self.table.entries[index];
            entry.data = Some(record);
            entry.key_len = key_len as u32;
            entry.expires = expires;
            entry.touched = self.clock;
            return Value::Ok;
        }
        if self.table.len >= self.table.max_keys && !self.evict_one() {
            self.stats.oom_refusals += 1;
            return Value::Error(OOM);
        }
        let index = self.table.vacant(key_hash);
        self.table.entries[index] = Entry {
            hash: key_hash,
            data: Some(record),
            key_len: key_len as u32,
            expires,
            touched: self.clock,
        };
        self.table.len += 1;
        Value::Ok
    }

    /// With `allkeys-lru`: evicts the least recently used of five sampled keys.
    fn evict_one(&mut self) -> bool {
        if self.policy != Policy::AllKeysLru || self.table.len == 0 {
            return false;
        }
        let mut best: Option<(usize, u32)> = None;
        let mut found = 0;
        let mut tries = 0;
        while found < 5 && tries < 1024 {
            tries += 1;
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let index = self.rng as usize & self.table.mask;
            let entry = &self.table.entries[index];
            if entry.data.is_some() {
                found += 1;
                let age = self.clock.wrapping_sub(entry.touched);
                if best.is_none_or(|(_, oldest)| age > oldest) {
                    best = Some((index, age));
                }
            }
        }
        match best {
            Some((index, _)) => {
                self.table.remove(index);
                self.stats.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// A block of at least `len` bytes from the shard's pools; with `allkeys-lru`, when they
    /// are exhausted, evicts keys (at most 16) until one is free.
    fn take_block(&mut self, ctx: &mut Ctx<Self>, len: usize) -> Option<Buffer> {
        if let Ok(buffer) = ctx.buffer(len) {
            return Some(buffer);
        }
        for _ in 0..16 {
            if !self.evict_one() {
                return None;
            }
            if let Ok(buffer) = ctx.buffer(len) {
                return Some(buffer);
            }
        }
        None
    }

    fn expire(&mut self, key: &[u8], now: u64, ms: i64, cond: ExpireCond) -> Value {
        let Some(index) = self.live(key, now) else {
            return Value::Int(0);
        };
        let current = self.table.entries[index].expires;
        let now_ms = (now / 1_000_000) as i64;
        let when = now_ms.saturating_add(ms);
        let current_ms = if current == 0 {
            None
        } else {
            Some((current / 1_000_000) as i64)
        };
        if cond.nx && current_ms.is_some() {
            return Value::Int(0);
        }
        if cond.xx && current_ms.is_none() {
            return Value::Int(0);
        }
        if cond.gt && current_ms.is_none_or(|current| when <= current) {
            return Value::Int(0);
        }
        if cond.lt && current_ms.is_some_and(|current| when >= current) {
            return Value::Int(0);
        }
        if ms <= 0 {
            self.table.remove(index);
            return Value::Int(1);
        }
        self.table.entries[index].expires =
            now.saturating_add((ms as u64).saturating_mul(1_000_000));
        Value::Int(1)
    }

    fn publish(&mut self, channel: &[u8], message: &[u8], ctx: &mut Ctx<Self>) -> Value {
        let subscribers = self
            .subscriptions
            .iter()
            .filter(|sub| sub.channel.as_slice() == channel)
            .count();
        if subscribers == 0 {
            return Value::Int(0);
        }
        // The push, formatted once: *3 $7 message $channel $message.
        let mut head: heapless::Vec<u8, 128> = heapless::Vec::new();
        let _ = head.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$");
        let _ = head.extend_from_slice(itoa(channel.len() as i64).as_bytes());
        let _ = head.extend_from_slice(b"\r\n");
        let _ = head.extend_from_slice(channel);
        let _ = head.extend_from_slice(b"\r\n$");
        let _ = head.extend_from_slice(itoa(message.len() as i64).as_bytes());
        let _ = head.extend_from_slice(b"\r\n");
        let mut delivered = 0;
        let mut gone: heapless::Vec<Handle<super::Conn>, 16> = heapless::Vec::new();
        for sub in self
            .subscriptions
            .iter()
            .filter(|sub| sub.channel.as_slice() == channel)
        {
            let Ok(mut push) = ctx.buffer(head.len() + message.len() + 2) else {
                self.stats.push_refused += 1;
                continue;
            };
            let _ = push.try_extend_from_slice(&head);
            let _ = push.try_extend_from_slice(message);
            let _ = push.try_extend_from_slice(b"\r\n");
            match ctx.send(&sub.conn, Push(push)) {
                Ok(()) => delivered += 1,
                Err(refused) if refused.kind() == SendErrorKind::Stale => {
                    let _ = gone.push(sub.conn);
                }
                Err(_) => self.stats.push_refused += 1,
            }
        }
        self.subscriptions.retain(|sub| !gone.contains(&sub.conn));
        // Redis counts the receivers it handed the message to.
        Value::Int(delivered)
    }

    fn info(&mut self, ctx: &mut Ctx<Self>) -> Value {
        let counters = ctx.shard_counters();
        let mut text: heapless::String<1024> = heapless::String::new();
        let shard = ctx.shard().0;
        let stats = self.stats;
        let _ = core::fmt::write(
            &mut text,
            format_args!(
                "# Shard {shard}\r\nkeys:{}\r\nkey_capacity:{}\r\nhits:{}\r\nmisses:{}\r\n\
                 oom_refusals:{}\r\nevicted_keys:{}\r\nexpired_keys:{}\r\npublished:{}\r\n\
                 push_refused:{}\r\nslow_subscribers_disconnected:{}\r\n\
                 protocol_errors:{}\r\nsubscriptions:{}\r\ndispatched:{}\r\nsent_local:{}\r\n\
                 sent_remote:{}\r\nconnections_accepted:{}\r\nconnections_refused:{}\r\n\
                 buffers_refused:{}\r\ncrashed:{}\r\nrestarts:{}\r\n",
                self.table.len,
                self.table.max_keys,
                stats.hits,
                stats.misses,
                stats.oom_refusals,
                stats.evicted,
                stats.expired,
                stats.published,
                stats.push_refused,
                stats.slow_subscribers,
                stats.protocol_errors,
                self.subscriptions.len(),
                counters.dispatched,
                counters.sent_local,
                counters.sent_remote,
                counters.connections_accepted,
                counters.connections_refused,
                counters.buffers_refused,
                counters.crashed,
                counters.restarts,
            ),
        );
        match ctx.buffer_from(text.as_bytes()) {
            Ok(text) => Value::Text(text),
            Err(_) => Value::Error(OOM),
        }
    }
}

/// A decimal integer, without allocating.
pub fn itoa(value: i64) -> heapless::String<24> {
    let mut text = heapless::String::new();
    let _ = core::fmt::write(&mut text, format_args!("{value}"));
    text
}

/// A shard's front door to its store: connections address the router (a handle that never
/// goes stale: the router does nothing that can crash), the router hands each operation to
/// the store's current incarnation.
#[isolate(mailbox = 8192)]
pub struct Router {
    store: Option<Handle<Store>>,
    /// Operations answered with an error because the store was restarting or full.
    pub refused: u64,
}

#[isolate]
impl Router {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Router {
            store: None,
            refused: 0,
        }
    }

    fn store_up(&mut self, up: StoreUp, _ctx: &mut Ctx<Self>) -> Effect {
        self.store = Some(up.0);
        Effect::Receive
    }

    fn note(&mut self, note: super::conn::Note, ctx: &mut Ctx<Self>) -> Effect {
        if let Some(store) = self.store {
            let _ = ctx.send(&store, note);
        }
        Effect::Receive
    }

    // ANCHOR: router_op
    fn op(&mut self, op: Op, ctx: &mut Ctx<Self>) -> Effect {
        let Some(store) = self.store else {
            self.refuse(op, "ERR the key's shard is restarting its store", ctx);
            return Effect::Receive;
        };
        if let Err(refused) = ctx.send(&store, op) {
            let reason = match refused.kind() {
                SendErrorKind::Stale => {
                    // The store crashed; its restart will announce the new handle.
                    self.store = None;
                    "ERR the key's shard is restarting its store"
                }
                _ => "ERR the key's shard is overloaded",
            };
            self.refuse(refused.message, reason, ctx);
        }
        Effect::Receive
    }
    // ANCHOR_END: router_op
}

impl Router {
    fn refuse(&mut self, op: Op, reason: &'static str, ctx: &mut Ctx<Self>) {
        self.refused += 1;
        if op.seq != super::NO_REPLY {
            let _ = ctx.send(
                &op.from,
                Answer {
                    seq: op.seq,
                    value: Value::Error(reason),
                },
            );
        }
    }
}
