//! Declarative listeners: a TCP address in the boot spec, served by chosen shards, each
//! accepted connection spawned as an isolate with its socket as the argument.

use std::net::SocketAddr;

use crate::handle::{RawHandle, ShardId};
use crate::isolate::{Accepts, Isolate};
use crate::shard::core::Core;

use super::{IoEvent, Socket, WrapEvent};

/// A listener for the boot spec (see [`BootSpec::listen`](crate::BootSpec::listen)): each
/// connection accepted at `addr` is spawned as an isolate of type `C`, whose init args are
/// made from the connection's [`Socket`] (`C::Args: From<Socket>`), and which hears about
/// it through its `IoEvent` handler.
///
/// Every shard named in [`Listen::on_shards`] (all by default) opens its own listening
/// socket on the address with `SO_REUSEPORT`, so the kernel spreads connections over them.
/// Each shard accepts at most [`Listen::max_connections`] at once (default: the shard's
/// slots of `C`); beyond that a connection is accepted and closed at once, and counted in
/// `connections_refused` — never queued.
pub struct Listen {
    pub(crate) addr: SocketAddr,
    pub(crate) type_id: core::any::TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) spawn: fn(&mut Core, u16, Socket) -> Option<RawHandle>,
    pub(crate) wrap: WrapEvent,
    pub(crate) shards: Option<Vec<ShardId>>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) nodelay: bool,
    pub(crate) backlog: i32,
}

impl core::fmt::Debug for Listen {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Listen")
            .field("addr", &self.addr)
            .field("spawns", &self.type_name)
            .field("shards", &self.shards)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl Listen {
    /// A TCP listener at `addr` (port 0: an ephemeral port, the same on every shard; ask
    /// [`System::listener_addr`](crate::System::listener_addr) for it) whose connections
    /// are isolates of type `C`.
    ///
    /// Checked at boot: `C` must be registered ([`SpecError::ListenerTypeNotRegistered`](crate::SpecError::ListenerTypeNotRegistered)),
    /// the spec needs a buffer class for reads, and `System::start` fails with
    /// [`BootError::Os`](crate::BootError::Os) when the address cannot be bound.
    ///
    /// # Examples
    ///
    /// Each connection to this listener is greeted and closed; the client is a plain
    /// `std` socket on loopback:
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::TcpStream;
    ///
    /// use tina::prelude::*;
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Greeter {
    ///     socket: Socket,
    /// }
    ///
    /// #[isolate]
    /// impl Greeter {
    ///     fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
    ///         // The queued bytes are written before the socket closes.
    ///         ctx.write_bytes(*socket, b"hello\n").expect("room to queue");
    ///         ctx.close(*socket).expect("our own socket");
    ///         Greeter { socket: *socket }
    ///     }
    ///
    ///     fn io(&mut self, _event: IoEvent, _ctx: &mut Ctx<Self>) -> Effect {
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut spec = BootSpec::new(1);
    /// spec.isolate::<Greeter>(8).buffer_class(1024, 8).pin_threads(false);
    /// let listener = spec.listen(Listen::tcp::<Greeter>("127.0.0.1:0".parse()?));
    /// let system = System::start(spec)?;
    /// let addr = system.listener_addr(listener).expect("bound at boot");
    ///
    /// let mut stream = TcpStream::connect(addr)?;
    /// stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    /// let mut greeting = String::new();
    /// stream.read_to_string(&mut greeting)?;
    /// assert_eq!(greeting, "hello\n");
    /// system.shutdown(Duration::from_secs(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn tcp<C>(addr: SocketAddr) -> Self
    where
        C: Isolate + Accepts<IoEvent>,
        C::Args: From<Socket>,
    {
        Listen {
            addr,
            type_id: core::any::TypeId::of::<C>(),
            type_name: C::NAME,
            spawn: super::spawn_connection::<C>,
            wrap: super::wrap_event::<C>,
            shards: None,
            max_connections: None,
            nodelay: true,
            backlog: 1024,
        }
    }

    /// Only these shards accept (default: every shard).
    pub fn on_shards(mut self, shards: &[ShardId]) -> Self {
        self.shards = Some(shards.to_vec());
        self
    }

    /// At most `bound` open connections per shard (default: the shard's slots of the
    /// connection type).
    pub fn max_connections(mut self, bound: usize) -> Self {
        self.max_connections = Some(bound);
        self
    }

    /// TCP_NODELAY on accepted connections (default on: small replies leave at once).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// The kernel's accept backlog per listening socket (default 1024).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.min(i32::MAX as u32) as i32;
        self
    }

    /// The per-shard bound with `slots` slots of the connection type: the declared
    /// `max_connections`, at most the slots.
    pub(crate) fn bound(&self, slots: usize) -> usize {
        self.max_connections.unwrap_or(slots).min(slots)
    }

    pub(crate) fn serves(&self, shard: ShardId) -> bool {
        self.shards
            .as_ref()
            .is_none_or(|shards| shards.contains(&shard))
    }
}

/// A declared listener bound for one shard, before the shard owns it.
pub(crate) struct ListenerSpec {
    pub(crate) listener: std::net::TcpListener,
    pub(crate) spawn: fn(&mut Core, u16, Socket) -> Option<RawHandle>,
    pub(crate) wrap: WrapEvent,
    pub(crate) type_index: u16,
    pub(crate) bound: usize,
    pub(crate) nodelay: bool,
}

/// A non-blocking listening socket at `addr`, with `SO_REUSEPORT` when `reuse_port`.
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    bind_with_backlog(addr, reuse_port, 1024)
}

fn bind_with_backlog(
    addr: SocketAddr,
    reuse_port: bool,
    backlog: i32,
) -> std::io::Result<std::net::TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The connection type's index and the per-shard bound of a declared listener.
pub(crate) fn type_and_bound(spec: &crate::BootSpec, declared: &Listen) -> (u16, usize) {
    let type_index = spec
        .types
        .iter()
        .position(|entry| entry.type_id == declared.type_id)
        .expect("validated: the connection type is registered") as u16;
    (
        type_index,
        declared.bound(spec.types[type_index as usize].slots),
    )
}

/// Binds every declared listener on every shard that serves it: one socket per shard with
/// `SO_REUSEPORT`; port 0 becomes the port the first shard got, for all of them. Returns,
/// per shard, its listeners, and per declaration, the address bound.
pub(crate) fn bind_listeners(
    spec: &crate::BootSpec,
) -> std::io::Result<(Vec<Vec<ListenerSpec>>, Vec<SocketAddr>)> {
    let mut per_shard: Vec<Vec<ListenerSpec>> = (0..spec.shards).map(|_| Vec::new()).collect();
    let mut addrs = Vec::with_capacity(spec.listeners.len());
    for declared in &spec.listeners {
        let (type_index, bound) = type_and_bound(spec, declared);
        let mut addr = declared.addr;
        for (shard, listeners) in per_shard.iter_mut().enumerate() {
            if !declared.serves(ShardId(shard as u16)) {
                continue;
            }
            let listener = bind_with_backlog(addr, true, declared.backlog)?;
            addr = listener.local_addr()?;
            listeners.push(ListenerSpec {
                listener,
                spawn: declared.spawn,
                wrap: declared.wrap,
                type_index,
                bound,
                nodelay: declared.nodelay,
            });
        }
        addrs.push(addr);
    }
    Ok((per_shard, addrs))
}

impl super::Io {
    /// Takes over a declared listener bound for this shard.
    pub(crate) fn add_listener(&mut self, spec: ListenerSpec) -> std::io::Result<()> {
        let listener = mio::net::TcpListener::from_std(spec.listener);
        self.add_declared(
            super::Source::Listener(listener),
            spec.spawn,
            spec.wrap,
            spec.type_index,
            spec.bound,
            spec.nodelay,
        )
    }

    /// Serves a declared listener of the simulated network.
    pub(crate) fn add_simulated_listener(
        &mut self,
        listener: u32,
        declared: &Listen,
        type_index: u16,
        bound: usize,
    ) -> std::io::Result<()> {
        self.add_declared(
            super::Source::SimListener(listener),
            declared.spawn,
            declared.wrap,
            type_index,
            bound,
            declared.nodelay,
        )
    }

    fn add_declared(
        &mut self,
        source: super::Source,
        spawn: fn(&mut Core, u16, Socket) -> Option<RawHandle>,
        wrap: WrapEvent,
        type_index: u16,
        bound: usize,
        nodelay: bool,
    ) -> std::io::Result<()> {
        let entry = self
            .insert(source, None)
            .map_err(|_| std::io::Error::other("no socket entry for a declared listener"))?;
        // The kernel may already hold connections: look at once.
        self.entries[entry as usize].readable = true;
        self.enqueue_work(entry as usize);
        self.listeners.push(super::ShardListener {
            entry,
            spawn,
            wrap,
            type_index,
            bound,
            open: 0,
            nodelay,
        });
        Ok(())
    }
}
