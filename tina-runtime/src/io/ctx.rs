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
    pub fn connect(&mut self, addr: SocketAddr, timeout: Duration) -> Result<Socket, IoError> {
        let (core, me, global) = self.parts();
        core.io_connect(me, global, wrap_event::<I>, addr, timeout)
    }

    /// Opens a TCP listener at `addr` owned by this isolate (port 0: any free port; see
    /// [`Ctx::local_addr`]). Each [`Ctx::accept`] arms one [`IoEvent::Accepted`]. For a
    /// server, a [`Listen`](crate::Listen) in the boot spec is usually simpler.
    pub fn listen(&mut self, addr: SocketAddr) -> Result<Socket, IoError> {
        let (core, me, global) = self.parts();
        core.io_listen(me, global, wrap_event::<I>, addr)
    }

    /// Arms one accept on a listener from [`Ctx::listen`]: the next connection comes as
    /// [`IoEvent::Accepted`], owned by this isolate.
    pub fn accept(&mut self, listener: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_accept(me, listener)
    }

    /// Arms one read: the next bytes come as [`IoEvent::Read`] (or [`IoEvent::Eof`], or
    /// [`IoEvent::Failed`]). Returns at once; the isolate keeps handling its other
    /// messages meanwhile. One read at a time per socket ([`IoError::ReadArmed`]).
    pub fn read(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_read(me, socket, None)
    }

    /// [`Ctx::read`] with an idle deadline: if no byte arrives within `timeout`,
    /// [`IoEvent::TimedOut`] with [`Wait::Read`](super::Wait::Read) comes instead (the
    /// socket stays open, the read disarmed).
    pub fn read_within(&mut self, socket: Socket, timeout: Duration) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_read(me, socket, Some(timeout))
    }

    /// Queues `data` on the socket's send queue (at most [`SEND_QUEUE`](super::SEND_QUEUE)
    /// buffers); the reactor writes it when the socket can take it, and the block goes back
    /// to its pool once written. A full queue refuses the write and hands `data` back
    /// ([`IoError::QueueFull`]); [`IoEvent::Drained`] follows when there is room again.
    pub fn write(&mut self, socket: Socket, data: Buffer) -> Result<(), WriteRefused> {
        let (core, me, _) = self.parts();
        core.io_write(me, socket, data)
    }

    /// Copies `bytes` into a buffer of this shard's pool and queues it (see
    /// [`Ctx::write`]). Refused with [`IoError::PoolExhausted`] when no block is free, or
    /// [`IoError::QueueFull`].
    pub fn write_bytes(&mut self, socket: Socket, bytes: &[u8]) -> Result<(), IoError> {
        let buffer = self
            .buffer_from(bytes)
            .map_err(|_| IoError::PoolExhausted)?;
        self.write(socket, buffer).map_err(|refused| refused.error)
    }

    /// How many more buffers the socket's send queue takes now.
    pub fn send_room(&mut self, socket: Socket) -> Result<usize, IoError> {
        let (core, me, _) = self.parts();
        core.io_send_room(me, socket)
    }

    /// Shuts the write side (FIN) once the queued bytes are written; reads go on.
    pub fn shutdown_write(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_shutdown_write(me, socket)
    }

    /// Closes the socket: every copy of it is stale at once, no event follows. Queued bytes
    /// are still written first (for at most the socket's write timeout, or
    /// [`CLOSE_LINGER`](super::CLOSE_LINGER)).
    pub fn close(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_close(me, socket, false)
    }

    /// Closes the socket with a reset (SO_LINGER 0: the peer sees RST), dropping what is
    /// queued.
    pub fn reset(&mut self, socket: Socket) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_close(me, socket, true)
    }

    /// Sets the socket's write-progress deadline: while bytes are queued and none has been
    /// written for `timeout`, [`IoEvent::TimedOut`] with [`Wait::Write`](super::Wait::Write)
    /// comes (a peer that does not read costs only its own isolate). Zero: none (default).
    pub fn set_write_timeout(&mut self, socket: Socket, timeout: Duration) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_set_write_timeout(me, socket, timeout)
    }

    /// Sets a socket option (TCP_NODELAY, SO_KEEPALIVE).
    pub fn set_option(&mut self, socket: Socket, option: SocketOption) -> Result<(), IoError> {
        let (core, me, _) = self.parts();
        core.io_option(me, socket, option)
    }

    /// The socket's local address (for a listener on port 0: the port it got).
    pub fn local_addr(&mut self, socket: Socket) -> Result<SocketAddr, IoError> {
        let (core, me, _) = self.parts();
        core.io_local_addr(me, socket)
    }

    /// Takes the socket out of this shard's reactor, to hand to another isolate — on this
    /// shard or another — in a message; the receiver calls [`Ctx::adopt`]. The socket is
    /// stale here from now on. Refused while bytes are queued or a connect is in progress
    /// ([`IoError::WriteShut`]): transfer a quiet socket. A transfer never adopted is closed
    /// when dropped.
    pub fn transfer(&mut self, socket: Socket) -> Result<SocketTransfer, IoError> {
        let (core, me, _) = self.parts();
        core.io_transfer(me, socket)
    }

    /// Makes a transferred socket this isolate's, on this shard's reactor. On failure (no
    /// socket entry, no reactor) the transfer comes back, still holding the socket.
    pub fn adopt(&mut self, transfer: SocketTransfer) -> Result<Socket, (IoError, SocketTransfer)> {
        let (core, me, global) = self.parts();
        core.io_adopt(me, global, wrap_event::<I>, transfer)
    }
}
