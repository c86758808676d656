//! The I/O calls of [`Ctx`]: what an isolate asks of its shard's reactor.

use std::net::SocketAddr;
use std::time::Duration;

use crate::Buffer;
use crate::ctx::Ctx;
use crate::isolate::{Accepts, Isolate};

use super::{IoError, IoEvent, Socket, SocketOption, SocketTransfer, WriteRefused, wrap_event};

/// Addresses: for an isolate that connects to its own system's listeners.
impl<I: Isolate> Ctx<'_, I> {
    /// Where the listener declared `index`-th in the boot spec (the value
    /// [`BootSpec::listen`](crate::BootSpec::listen) returned) was bound; `None` for an
    /// unknown index or on a shard without a reactor.
    pub fn listener_addr(&mut self, index: usize) -> Option<SocketAddr> {
        let (core, _, _) = self.parts();
        core.io.as_ref()?.listener_addrs.get(index).copied()
    }
}

/// Sockets: every call returns at once; outcomes arrive as [`IoEvent`] messages, so the
/// isolate needs a handler for `IoEvent`.
impl<I: Isolate + Accepts<IoEvent>> Ctx<'_, I> {
    /// Starts a TCP connect to `addr` (loopback or not: the reactor does not care); the
    /// socket is this isolate's at once. [`IoEvent::Connected`] follows, or
    /// [`IoEvent::Failed`] (refused, unreachable) or [`IoEvent::TimedOut`] after `timeout`
    /// (the socket is then closed). Reads and writes may be armed before it connects.
    ///
    /// # Errors
    ///
    /// Refused at once, with no socket taken:
    ///
    /// - [`IoError::PoolExhausted`]: every timer slot of this shard is in use, so the
    ///   connect could not have its timeout.
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::NoSocketSlot`]: this shard's socket table is full.
    /// - [`IoError::Refused`], [`IoError::Reset`] or [`IoError::Os`]: the OS refused to
    ///   start the connect, or to register the socket with the reactor. (In simulation,
    ///   `Os(0)` when the simulated network has no stream left.) A refusal that comes later
    ///   arrives as [`IoEvent::Failed`].
    pub fn connect(&mut self, addr: SocketAddr, timeout: Duration) -> Result<Socket, IoError> {
        let (core, me, global) = self.parts();
        core.io_connect(me, global, wrap_event::<I>, addr, timeout)
    }

    /// Opens a TCP listener at `addr` owned by this isolate (port 0: any free port; see
    /// [`Ctx::local_addr`]). Each [`Ctx::accept`] arms one [`IoEvent::Accepted`]. For a
    /// server, a [`Listen`](crate::Listen) in the boot spec is usually simpler.
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::NoSocketSlot`]: this shard's socket table is full.
    /// - [`IoError::Os`] (or another error the OS maps): binding or listening at `addr`
    ///   failed — `EADDRINUSE` for an address taken, say — or registering with the reactor
    ///   did. (In simulation, `Os(0)` when the simulated network has no listener left.)
    pub fn listen(&mut self, addr: SocketAddr) -> Result<Socket, IoError> {
        let (core, me, global) = self.parts();
        core.io_listen(me, global, wrap_event::<I>, addr)
    }

    /// Arms one accept on a listener from [`Ctx::listen`]: the next connection comes as
    /// [`IoEvent::Accepted`], owned by this isolate.
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `listener` is closed, was transferred, is not this isolate's,
    ///   or is not a listener.
    pub fn accept(&mut self, listener: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_accept(me, listener)
    }

    /// Arms one read: the next bytes come as [`IoEvent::Read`] (or [`IoEvent::Eof`], or
    /// [`IoEvent::Failed`]). Returns at once; the isolate keeps handling its other
    /// messages meanwhile. One read at a time per socket.
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, is not this isolate's, is
    ///   a listener, or has already reported [`IoEvent::Eof`].
    /// - [`IoError::ReadArmed`]: a read is already armed on it.
    pub fn read(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_read(me, socket, None)
    }

    /// [`Ctx::read`] with an idle deadline: if no byte arrives within `timeout`,
    /// [`IoEvent::TimedOut`] with [`Wait::Read`](super::Wait::Read) comes instead (the
    /// socket stays open, the read disarmed).
    ///
    /// # Errors
    ///
    /// As [`Ctx::read`], and:
    ///
    /// - [`IoError::PoolExhausted`]: every timer slot of this shard is in use, so the read
    ///   could not have its deadline (nothing is armed).
    pub fn read_within(&mut self, socket: Socket, timeout: Duration) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_read(me, socket, Some(timeout))
    }

    /// Queues `data` on the socket's send queue (at most [`SEND_QUEUE`](super::SEND_QUEUE)
    /// buffers); the reactor writes it when the socket can take it, and the block goes back
    /// to its pool once written. An empty `data` is accepted and dropped.
    ///
    /// # Errors
    ///
    /// A refusal hands `data` back, untouched, in the [`WriteRefused`] (`refused.data`);
    /// `refused.error` says why:
    ///
    /// - [`IoError::QueueFull`]: the send queue holds its [`SEND_QUEUE`](super::SEND_QUEUE)
    ///   buffers (counted as `io_writes_refused`); [`IoEvent::Drained`] follows when there
    ///   is room again.
    /// - [`IoError::WriteShut`]: the write side was shut with [`Ctx::shutdown_write`].
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed (or closing), was transferred, is not this
    ///   isolate's, or is a listener.
    pub fn write(&mut self, socket: Socket, data: Buffer) -> Result<(), WriteRefused> {
        let (core, me, _) = self.parts();
        core.io_write(me, socket, data)
    }

    /// Copies `bytes` into a buffer of this shard's pool and queues it (see
    /// [`Ctx::write`]).
    ///
    /// # Errors
    ///
    /// Nothing is queued, and the copy (if one was made) goes back to its pool, when:
    ///
    /// - [`IoError::PoolExhausted`]: every block large enough for `bytes` is in use (retry
    ///   later);
    /// - [`IoError::TooLarge`]: no size class is as large as `bytes` (no retry cures it);
    /// - any error of [`Ctx::write`]: [`IoError::QueueFull`], [`IoError::WriteShut`],
    ///   [`IoError::Unsupported`], [`IoError::Stale`].
    pub fn write_bytes(&mut self, socket: Socket, bytes: &[u8]) -> Result<(), IoError> {
        let buffer = self.buffer_from(bytes).map_err(|error| match error {
            crate::BufferError::TooLarge { .. } => IoError::TooLarge,
            crate::BufferError::Exhausted => IoError::PoolExhausted,
        })?;
        self.write(socket, buffer).map_err(|refused| refused.error)
    }

    /// How many more buffers the socket's send queue takes now.
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, or is not this isolate's.
    pub fn send_room(&mut self, socket: Socket) -> Result<usize, IoError> {
        let (core, me, _) = self.parts();
        core.io_send_room(me, socket)
    }

    /// Shuts the write side (FIN) once the queued bytes are written; reads go on.
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, or is not this isolate's.
    pub fn shutdown_write(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_shutdown_write(me, socket)
    }

    /// Closes the socket: every copy of it is stale at once, no event follows. Queued bytes
    /// are still written first (for at most the socket's write timeout, or
    /// [`CLOSE_LINGER`](super::CLOSE_LINGER)).
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is already closed, was transferred, or is not this
    ///   isolate's.
    pub fn close(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_close(me, socket, false)
    }

    /// Closes the socket with a reset (SO_LINGER 0: the peer sees RST), dropping what is
    /// queued.
    ///
    /// # Errors
    ///
    /// As [`Ctx::close`].
    pub fn reset(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_close(me, socket, true)
    }

    /// Sets the socket's write-progress deadline: while bytes are queued and none has been
    /// written for `timeout`, [`IoEvent::TimedOut`] with [`Wait::Write`](super::Wait::Write)
    /// comes (a peer that does not read costs only its own isolate). Zero: none (default).
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, or is not this isolate's.
    pub fn set_write_timeout(&mut self, socket: Socket, timeout: Duration) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_set_write_timeout(me, socket, timeout)
    }

    /// Sets a socket option (TCP_NODELAY, SO_KEEPALIVE). On a simulated socket it does
    /// nothing (the simulated network has neither).
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, is not this isolate's,
    ///   or is a listener.
    /// - [`IoError::Os`] (or another error the OS maps): the OS refused the option.
    pub fn set_option(&mut self, socket: Socket, option: SocketOption) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_option(me, socket, option)
    }

    /// The socket's local address (for a listener on port 0: the port it got).
    ///
    /// # Errors
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, or is not this isolate's.
    /// - [`IoError::Os`] (or another error the OS maps): the OS could not tell.
    pub fn local_addr(&mut self, socket: Socket) -> Result<SocketAddr, IoError> {
        let (core, me, _) = self.parts();
        core.io_local_addr(me, socket)
    }

    /// Takes the socket out of this shard's reactor, to hand to another isolate — on this
    /// shard or another — in a message; the receiver calls [`Ctx::adopt`]. The socket is
    /// stale here from now on. A transfer never adopted is closed when dropped.
    ///
    /// # Errors
    ///
    /// The socket stays this isolate's when:
    ///
    /// - [`IoError::WriteShut`]: bytes are still queued on it, or its connect is still in
    ///   progress: transfer a quiet socket;
    /// - [`IoError::Unsupported`]: this shard has no reactor (the spec gave it no socket
    ///   entries: see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    /// - [`IoError::Stale`]: `socket` is closed, was transferred, or is not this isolate's.
    pub fn transfer(&mut self, socket: Socket) -> Result<SocketTransfer, IoError> {
        let (core, me, _) = self.parts();
        core.io_transfer(me, socket)
    }

    /// Makes a transferred socket this isolate's, on this shard's reactor.
    ///
    /// # Errors
    ///
    /// The error comes with the transfer back:
    ///
    /// - [`IoError::Unsupported`]: this shard has no reactor; the transfer still holds the
    ///   socket.
    /// - [`IoError::NoSocketSlot`]: this shard's socket table is full; the transfer still
    ///   holds the socket.
    /// - [`IoError::Stale`]: the transfer holds no socket this shard can take (a simulated
    ///   socket offered to a shard outside the simulation, or a transfer already emptied).
    /// - [`IoError::Os`] (or another error the OS maps): registering with the reactor
    ///   failed; the socket is closed, and the transfer that comes back is empty.
    pub fn adopt(&mut self, transfer: SocketTransfer) -> Result<Socket, (IoError, SocketTransfer)> {
        let (core, me, global) = self.parts();
        core.io_adopt(me, global, wrap_event::<I>, transfer)
    }
}
