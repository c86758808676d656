//! The `kv` server under deterministic simulation (issue 16): the same server isolates,
//! clients as test isolates over the simulated TCP network, under injected crashes (of
//! connection and store isolates), TCP resets and short reads and writes, cross-shard
//! drops, delays and partitions. Every reply a client gets is checked against a sequential
//! model of each key it owns; the only departures allowed are the documented ones — keys
//! lost when their shard's store crashed, and writes whose outcome is unknown because
//! their reply was an error or never came (the model then accepts the next read).

use core::time::Duration;

use tina::heapless;
use tina::prelude::*;
use tina::sim::{Faults, Ratio, SimTest, TcpFaults};
use tina_examples::kv::{self, Conn, KvConfig, Store};

/// Keys per client.
const KEYS: usize = 4;
/// Commands per client.
const COMMANDS: u32 = 150;
/// Commands sent at once.
const PIPELINE: usize = 4;

/// What one key holds, as far as its one client knows.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    Absent,
    Value(i64),
    /// A write whose outcome is unknown: the next read decides.
    Unknown,
}

/// A command the client sent, waiting for its reply.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Set(u8, i64),
    Get(u8),
    Incr(u8),
    Del(u8),
    Exists(u8),
}

impl Cmd {
    fn key(self) -> usize {
        match self {
            Cmd::Set(key, _)
            | Cmd::Get(key)
            | Cmd::Incr(key)
            | Cmd::Del(key)
            | Cmd::Exists(key) => usize::from(key),
        }
    }
}

/// One reply, as the client parses it.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Ok,
    Error,
    Int(i64),
    Nil,
    Bulk(i64),
    Other,
}

/// Parses one reply from the front of `bytes`: `None` while incomplete.
fn parse_reply(bytes: &[u8]) -> Option<(Reply, usize)> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let line = &bytes[1..end.saturating_sub(1).max(1)];
    let text = core::str::from_utf8(line).unwrap_or("");
    match bytes[0] {
        b'+' => Some((
            if text == "OK" {
                Reply::Ok
            } else {
                Reply::Other
            },
            end + 1,
        )),
        b'-' => Some((Reply::Error, end + 1)),
        b':' => Some((Reply::Int(text.parse().unwrap_or(i64::MIN)), end + 1)),
        b'$' => {
            let len: i64 = text.parse().unwrap_or(-1);
            if len < 0 {
                return Some((Reply::Nil, end + 1));
            }
            let start = end + 1;
            let stop = start + len as usize;
            if bytes.len() < stop + 2 {
                return None;
            }
            let value = core::str::from_utf8(&bytes[start..stop])
                .ok()
                .and_then(|v| v.parse().ok());
            Some((value.map_or(Reply::Other, Reply::Bulk), stop + 2))
        }
        _ => Some((Reply::Other, end + 1)),
    }
}

/// A test client: owns `KEYS` keys, sends commands in small pipelines, checks each reply.
#[isolate(mailbox = 8)]
struct Client {
    id: u8,
    socket: Option<Socket>,
    connected: bool,
    sent: u32,
    outstanding: heapless::Deque<Cmd, PIPELINE>,
    input: heapless::Vec<u8, 1024>,
    model: [Model; KEYS],
    rng: u64,
    reconnects: u32,
    /// Replies that matched the model.
    pub checked: u32,
    /// Reads that found a key gone that the model had (a store crash, documented loss).
    pub lost: u32,
    /// Error replies (deadlines, overload, a restarting store): outcomes unknown.
    pub errors: u32,
    /// Replies no sequential history explains: must stay 0.
    pub violations: u32,
    /// The first violation, for the report.
    pub first_violation: Option<(Cmd, Model, i64)>,
    pub done: bool,
}

#[derive(Bounded, Clone, Copy, Debug)]
struct Retry;

#[isolate]
impl Client {
    fn init(id: &u8, ctx: &mut Ctx<Self>) -> Self {
        let mut client = Client {
            id: *id,
            socket: None,
            connected: false,
            sent: 0,
            outstanding: heapless::Deque::new(),
            input: heapless::Vec::new(),
            model: [Model::Absent; KEYS],
            rng: 0x9E37_79B9_7F4A_7C15 ^ u64::from(*id) << 8,
            reconnects: 0,
            checked: 0,
            lost: 0,
            errors: 0,
            violations: 0,
            first_violation: None,
            done: false,
        };
        client.connect(ctx);
        client
    }

    fn retry(&mut self, _retry: Retry, ctx: &mut Ctx<Self>) -> Effect {
        self.connect(ctx);
        Effect::Receive
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Connected { .. } => {
                self.connected = true;
                let _ = self
                    .socket
                    .map(|socket| ctx.read_within(socket, Duration::from_secs(5)));
                self.send_batch(ctx);
            }
            IoEvent::Read { data, .. } => {
                if self.input.extend_from_slice(&data).is_err() {
                    self.violations += 1;
                    self.drop_connection(ctx);
                    return Effect::Receive;
                }
                self.take_replies();
                if self.outstanding.is_empty() {
                    self.send_batch(ctx);
                }
                if let Some(socket) = self.socket
                    && !self.done
                {
                    let _ = ctx.read_within(socket, Duration::from_secs(5));
                }
            }
            // A reset, a refused connect, a deadline, the server closing: what was in
            // flight has an unknown outcome; connect again.
            _ => self.drop_connection(ctx),
        }
        Effect::Receive
    }
}

impl Client {
    fn key_name(&self, key: usize) -> heapless::String<16> {
        let mut name = heapless::String::new();
        let _ = core::fmt::write(&mut name, format_args!("c{}:k{}", self.id, key));
        name
    }

    fn connect(&mut self, ctx: &mut Ctx<Self>) {
        if self.done || self.reconnects > 20 {
            self.done = true;
            return;
        }
        let Some(addr) = ctx.listener_addr(0) else {
            return;
        };
        match ctx.connect(addr, Duration::from_millis(50)) {
            Ok(socket) => self.socket = Some(socket),
            Err(_) => {
                let _ = ctx.after(Duration::from_millis(1), Retry);
            }
        }
    }

    fn drop_connection(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(socket) = self.socket.take() {
            let _ = ctx.close(socket);
        }
        self.connected = false;
        self.input.clear();
        while let Some(cmd) = self.outstanding.pop_front() {
            if !matches!(cmd, Cmd::Get(_) | Cmd::Exists(_)) {
                self.model[cmd.key()] = Model::Unknown;
            }
        }
        self.reconnects += 1;
        if self.sent < COMMANDS {
            let _ = ctx.after(Duration::from_millis(1), Retry);
        } else {
            self.done = true;
        }
    }

    fn draw(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn send_batch(&mut self, ctx: &mut Ctx<Self>) {
        let Some(socket) = self.socket.filter(|_| self.connected) else {
            return;
        };
        if self.sent >= COMMANDS {
            self.done = true;
            let _ = ctx.close(socket);
            self.socket = None;
            return;
        }
        let mut frame: heapless::Vec<u8, 512> = heapless::Vec::new();
        while self.outstanding.len() < PIPELINE && self.sent < COMMANDS {
            let key = (self.draw() % KEYS as u64) as u8;
            let cmd = match self.draw() % 5 {
                0 => Cmd::Set(key, (self.draw() % 1000) as i64),
                1 => Cmd::Get(key),
                2 => Cmd::Incr(key),
                3 => Cmd::Del(key),
                _ => Cmd::Exists(key),
            };
            let name = self.key_name(usize::from(key));
            let mut text: heapless::String<96> = heapless::String::new();
            let _ = match cmd {
                Cmd::Set(_, value) => {
                    let value = {
                        let mut v: heapless::String<24> = heapless::String::new();
                        let _ = core::fmt::write(&mut v, format_args!("{value}"));
                        v
                    };
                    core::fmt::write(
                        &mut text,
                        format_args!(
                            "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
                            name.len(),
                            name,
                            value.len(),
                            value
                        ),
                    )
                }
                Cmd::Get(_) => resp2(&mut text, "GET", &name),
                Cmd::Incr(_) => resp2(&mut text, "INCR", &name),
                Cmd::Del(_) => resp2(&mut text, "DEL", &name),
                Cmd::Exists(_) => resp2(&mut text, "EXISTS", &name),
            };
            if frame.extend_from_slice(text.as_bytes()).is_err() {
                break;
            }
            let _ = self.outstanding.push_back(cmd);
            self.sent += 1;
        }
        if ctx.write_bytes(socket, &frame).is_err() {
            self.drop_connection(ctx);
        }
    }

    fn take_replies(&mut self) {
        loop {
            let Some((reply, used)) = parse_reply(&self.input) else {
                return;
            };
            let rest = self.input.len() - used;
            self.input.copy_within(used.., 0);
            self.input.truncate(rest);
            let Some(cmd) = self.outstanding.pop_front() else {
                self.violations += 1;
                return;
            };
            self.check(cmd, reply);
        }
    }

    /// Checks one reply against the key's model and moves the model on.
    fn check(&mut self, cmd: Cmd, reply: Reply) {
        let key = cmd.key();
        let model = self.model[key];
        if reply == Reply::Error {
            self.errors += 1;
            if !matches!(cmd, Cmd::Get(_) | Cmd::Exists(_)) {
                self.model[key] = Model::Unknown;
            }
            return;
        }
        // What the reply says the key held before the command (None: it does not say).
        let (before, after): (Option<Option<i64>>, Model) = match (cmd, &reply) {
            (Cmd::Set(_, value), Reply::Ok) => (None, Model::Value(value)),
            (Cmd::Get(_), Reply::Nil) => (Some(None), Model::Absent),
            (Cmd::Get(_), Reply::Bulk(value)) => (Some(Some(*value)), Model::Value(*value)),
            (Cmd::Incr(_), Reply::Int(value)) => (Some(Some(value - 1)), Model::Value(*value)),
            (Cmd::Del(_), Reply::Int(1)) => (Some(Some(i64::MIN)), Model::Absent),
            (Cmd::Del(_), Reply::Int(0)) => (Some(None), Model::Absent),
            (Cmd::Exists(_), Reply::Int(1)) => (Some(Some(i64::MIN)), model),
            (Cmd::Exists(_), Reply::Int(0)) => (Some(None), Model::Absent),
            _ => {
                self.violate(cmd, model, -1);
                return;
            }
        };
        let consistent = match (model, before) {
            (_, None) | (Model::Unknown, _) => true,
            (Model::Absent, Some(None)) => true,
            (Model::Absent, Some(Some(i64::MIN))) => false,
            (Model::Absent, Some(Some(value))) => {
                // INCR on an absent key starts from 0.
                matches!(cmd, Cmd::Incr(_)) && value == 0
            }
            (Model::Value(_), Some(None)) => {
                // The key is gone although the model has it: lost with a crashed store.
                self.lost += 1;
                true
            }
            (Model::Value(held), Some(Some(value))) => value == i64::MIN || value == held,
        };
        let consistent = consistent
            || matches!(
                (model, cmd, &reply),
                (Model::Value(_), Cmd::Incr(_), Reply::Int(1))
            );
        if !consistent {
            self.violate(
                cmd,
                model,
                match reply {
                    Reply::Int(v) | Reply::Bulk(v) => v,
                    _ => -1,
                },
            );
            return;
        }
        if matches!(
            (model, cmd, &reply),
            (Model::Value(_), Cmd::Incr(_), Reply::Int(1))
        ) {
            // INCR of a lost key starts again from 0.
            if !matches!(model, Model::Value(0)) {
                self.lost += 1;
            }
        }
        self.model[key] = if matches!(cmd, Cmd::Exists(_)) && before == Some(Some(i64::MIN)) {
            match model {
                Model::Absent => Model::Unknown,
                other => other,
            }
        } else {
            after
        };
        self.checked += 1;
    }

    fn violate(&mut self, cmd: Cmd, model: Model, got: i64) {
        self.violations += 1;
        self.first_violation.get_or_insert((cmd, model, got));
    }
}

fn resp2(text: &mut heapless::String<96>, command: &str, key: &str) -> core::fmt::Result {
    core::fmt::write(
        text,
        format_args!(
            "*2\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
            command.len(),
            command,
            key.len(),
            key
        ),
    )
}

/// Four clients over a 2-shard server, on the simulated network.
fn build(_seed: u64) -> (BootSpec, Vec<Handle<Client>>) {
    let config = KvConfig {
        shards: 2,
        max_keys: 64,
        connections: 8,
        print_crashes: false,
        ..KvConfig::default()
    };
    let (mut spec, _listener) = kv::spec(&config, "127.0.0.1:6379".parse().unwrap());
    spec.isolate::<Client>(2);
    let clients = (0..4u8)
        .map(|id| spec.root::<Client>(ShardId(u16::from(id % 2)), id))
        .collect();
    (spec, clients)
}

#[allow(clippy::ptr_arg)] // the checker signature is `Fn(&W, &Simulation)` with `W = Vec<…>`
fn no_violations(clients: &Vec<Handle<Client>>, sim: &Simulation) -> Result<(), String> {
    for (index, client) in clients.iter().enumerate() {
        if let Some(state) = sim.state(*client)
            && state.violations > 0
        {
            return Err(format!(
                "client {index}: {} replies no sequential history explains; first: {:?}",
                state.violations, state.first_violation
            ));
        }
    }
    Ok(())
}

/// Keys may be lost only when a store crashed.
#[allow(clippy::ptr_arg)] // the checker signature is `Fn(&W, &Simulation)` with `W = Vec<…>`
fn losses_explained(clients: &Vec<Handle<Client>>, sim: &Simulation) -> Result<(), String> {
    let lost: u32 = clients
        .iter()
        .filter_map(|client| sim.state(*client))
        .map(|state| state.lost)
        .sum();
    let store_crashes = (0..2)
        .flat_map(|shard| sim.crash_reports(ShardId(shard)))
        .filter(|crash| crash.type_name == "Store")
        .count();
    if lost > 0 && store_crashes == 0 {
        return Err(format!("{lost} keys lost without a store crash"));
    }
    Ok(())
}

#[allow(clippy::ptr_arg)] // the checker signature is `Fn(&W, &Simulation)` with `W = Vec<…>`
fn all_done(clients: &Vec<Handle<Client>>, sim: &Simulation) -> Result<(), String> {
    let pending = clients
        .iter()
        .filter(|client| sim.state(**client).is_none_or(|state| !state.done))
        .count();
    if pending == 0 {
        Ok(())
    } else {
        Err(format!("{pending} clients not done"))
    }
}

// ANCHOR: faults
fn faults() -> Faults {
    Faults {
        delay: Ratio::new(1, 20),
        delay_max: Duration::from_micros(500),
        drop: Ratio::new(1, 2000),
        partition: Ratio::new(1, 2_000),
        partition_max: Duration::from_millis(3),
        crash: Ratio::new(1, 3000),
        tcp: TcpFaults {
            short_read: Ratio::new(1, 4),
            short_write: Ratio::new(1, 4),
            reset: Ratio::new(1, 2000),
            latency: Duration::from_micros(10),
            jitter: Duration::from_micros(20),
            ..TcpFaults::default()
        },
        ..Faults::none()
    }
    .crash_only::<Conn>()
    .crash_only::<Store>()
}

#[test]
fn replies_match_a_sequential_model_under_faults() {
    let test = SimTest::new("kv", build)
        .faults(faults())
        .checker("no reply contradicts the model", 200, no_violations)
        .at_end("losses only with a store crash", losses_explained)
        .at_end("every client checked replies", |clients, sim| {
            let checked: u32 = clients
                .iter()
                .filter_map(|client| sim.state(*client))
                .map(|state| state.checked)
                .sum();
            if checked > 100 {
                Ok(())
            } else {
                Err(format!("only {checked} replies checked"))
            }
        })
        // The server's expiry sweep never stops: the run ends when every client is done.
        .until(all_done)
        .max_rounds(3_000_000);
    let swept = test.run(40);
    eprintln!("kv sweep: {swept:?}");
}
// ANCHOR_END: faults

#[test]
fn without_faults_every_reply_is_checked_and_nothing_is_lost() {
    let (spec, clients) = build(0);
    let mut sim = Simulation::new(spec, 1).unwrap();
    let mut rounds = 0;
    while all_done(&clients, &sim).is_err() {
        sim.step();
        rounds += 1;
        assert!(rounds < 1_000_000, "{:?}", all_done(&clients, &sim));
    }
    sim.check().unwrap();
    for client in clients {
        let state = sim.state(client).unwrap();
        assert!(state.done);
        assert_eq!(
            (state.checked, state.lost, state.errors, state.violations),
            (COMMANDS, 0, 0, 0),
            "{:?}",
            state.first_violation
        );
    }
}
