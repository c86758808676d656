//! Errors: why a send, spawn or timer was refused.

use core::fmt;

/// Why a send was refused, without the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendErrorKind {
    /// The target's mailbox holds its bound of messages.
    MailboxFull,
    /// The shard's envelope pool has no free ordinary slot.
    PoolExhausted,
    /// The handle names an isolate that has exited or been restarted.
    Stale,
    /// The target shard is quarantined, partitioned or stopped.
    ShardDown,
    /// The ring to the target's shard is full for this tick.
    RingFull,
    /// A spawn on another shard found no free slot of its type there (reported through a
    /// bounce: [`Undelivered`](crate::Undelivered) of a [`Spawn`](crate::Spawn)).
    NoFreeSlot,
    /// The target shard's ingress queue is full (a send or call from outside the system).
    IngressFull,
}

impl SendErrorKind {
    /// Every reason, in a fixed order.
    pub const ALL: [SendErrorKind; 7] = [
        SendErrorKind::MailboxFull,
        SendErrorKind::PoolExhausted,
        SendErrorKind::Stale,
        SendErrorKind::ShardDown,
        SendErrorKind::RingFull,
        SendErrorKind::NoFreeSlot,
        SendErrorKind::IngressFull,
    ];

    /// The reason's position in [`SendErrorKind::ALL`].
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SendErrorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            SendErrorKind::MailboxFull => "mailbox full",
            SendErrorKind::PoolExhausted => "envelope pool exhausted",
            SendErrorKind::Stale => "stale handle: the isolate exited or was restarted",
            SendErrorKind::ShardDown => "target shard is down",
            SendErrorKind::RingFull => "ring to the target shard is full",
            SendErrorKind::NoFreeSlot => "no free slot of the isolate type on the target shard",
            SendErrorKind::IngressFull => "the target shard's ingress queue is full",
        })
    }
}

/// Why a send was refused; the message is handed back.
#[must_use = "a refused send loses the message unless you handle the error"]
#[derive(PartialEq, Eq)]
pub struct SendError<M> {
    /// Why.
    pub kind: SendErrorKind,
    /// The message that was not sent.
    pub message: M,
}

impl<M> SendError<M> {
    /// Why, without the message.
    pub fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// Takes the message back.
    pub fn into_message(self) -> M {
        self.message
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SendError")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, formatter)
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Why a spawn was refused.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// Every slot for this type on this shard is in use.
    NoFreeSlot,
    /// The type was not registered in the boot spec.
    UnknownType,
    /// The control reserve of the envelope pool is exhausted.
    PoolExhausted,
    /// `spawn_child` from an isolate that belongs to no supervision group.
    NotSupervised,
    /// The supervision group has no room left for dynamic children.
    GroupFull,
    /// `spawn_on` a shard that is quarantined or stopped.
    ShardDown,
    /// `spawn_on` while the ring to that shard is full for this tick.
    RingFull,
    /// `spawn_on` a shard this system does not have (the index is at least the spec's
    /// shard count).
    UnknownShard,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            SpawnError::NoFreeSlot => "no free slot for this isolate type on this shard",
            SpawnError::UnknownType => "isolate type not registered in the boot spec",
            SpawnError::PoolExhausted => "envelope pool control reserve exhausted",
            SpawnError::NotSupervised => "the spawning isolate belongs to no supervision group",
            SpawnError::GroupFull => "the supervision group has no room left for dynamic children",
            SpawnError::ShardDown => "the target shard is down",
            SpawnError::RingFull => "the ring to the target shard is full for this tick",
            SpawnError::UnknownShard => "no such shard in this system",
        })
    }
}

impl std::error::Error for SpawnError {}

/// Why [`Ctx::buffer`](crate::Ctx::buffer) was refused.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// No size class of the boot spec has blocks this large (`largest` is the largest block,
    /// 0 when the spec declares no class).
    TooLarge {
        /// The largest block size of the spec.
        largest: usize,
    },
    /// Every block of every class large enough is in use (counted as `buffers_refused`).
    Exhausted,
}

impl fmt::Display for BufferError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::TooLarge { largest: 0 } => formatter
                .write_str("no transfer buffers: declare a size class with BootSpec::buffer_class"),
            BufferError::TooLarge { largest } => write!(
                formatter,
                "no transfer-buffer class this large (the largest block is {largest} bytes)"
            ),
            BufferError::Exhausted => {
                formatter.write_str("every transfer buffer large enough is in use")
            }
        }
    }
}

impl std::error::Error for BufferError {}

/// Why a timer was refused.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// Every timer slot of the shard is in use.
    NoFreeTimer,
    /// The control reserve of the envelope pool is exhausted.
    PoolExhausted,
}

impl fmt::Display for TimerError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            TimerError::NoFreeTimer => "every timer slot of the shard is in use",
            TimerError::PoolExhausted => "envelope pool control reserve exhausted",
        })
    }
}

impl std::error::Error for TimerError {}
