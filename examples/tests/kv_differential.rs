//! The `kv` example against the real `redis-server` (7.0): the same commands go to both, and
//! every reply must match byte for byte (INFO, CONFIG GET and COMMAND only in their reply
//! type). Hand-written cases for each command, a seeded random command stream (one command
//! at a time and pipelined), inline commands, protocol errors and oversized frames.
//!
//! * No `redis-server` on `PATH`: each test prints `SKIPPED: redis-server not found …` and
//!   passes, unless `TINA_REQUIRE_REDIS=1` (CI sets it), which makes it fail.
//! * `KV_DIFF_SELF_TEST=1` replaces the `kv` side with a second `redis-server`: this checks
//!   the harness itself (every case must pass that way).
//!   `KV_DIFF_SELF_TEST_ARGS="--maxmemory 1 --maxmemory-policy noeviction"` (extra options
//!   for the stand-in) shows the harness reporting mismatches.
//! * `KV_DIFF_SEED=N` (decimal or `0x…`) replays one random stream, `KV_DIFF_COMMANDS=N` sets
//!   its length; `KV_DIFF_SHARDS=N` the `kv` server's `--shards` (default 2).
//!
//! `cargo test -p tina-examples --test kv_differential -- --nocapture`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one read may wait: a server that does not answer fails the test, never hangs it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------------------------------
// A tiny RESP2 client.
// ------------------------------------------------------------------------------------------

/// One command: its arguments, binary-safe.
type Cmd = Vec<Vec<u8>>;

/// A command from a line of whitespace-separated words (no empty or binary arguments).
fn c(line: &str) -> Cmd {
    line.split_ascii_whitespace()
        .map(|word| word.as_bytes().to_vec())
        .collect()
}

/// A command from raw arguments (empty strings, binary bytes).
fn raw(args: &[&[u8]]) -> Cmd {
    args.iter().map(|arg| arg.to_vec()).collect()
}

/// The RESP2 encoding of a command: an array of bulk strings.
fn encode(cmd: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", cmd.len()).into_bytes();
    for arg in cmd {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bytes as printable ASCII (`\r`, `\n`, `\xff` escaped), cut after 600 characters.
fn esc(bytes: &[u8]) -> String {
    let mut out: String = bytes
        .iter()
        .flat_map(|&byte| std::ascii::escape_default(byte))
        .map(char::from)
        .collect();
    if out.len() > 600 {
        out.truncate(600);
        out.push_str(&format!("… ({} bytes in all)", bytes.len()));
    }
    out
}

/// A command as `GET "k1"`-style text for reports.
fn show(cmd: &[Vec<u8>]) -> String {
    cmd.iter()
        .map(|arg| format!("\"{}\"", esc(arg)))
        .collect::<Vec<_>>()
        .join(" ")
}

enum ReadError {
    /// The server closed the connection (EOF or reset) before a whole reply arrived.
    Closed,
    /// Nothing complete arrived within [`READ_TIMEOUT`].
    Timeout,
    Io(io::Error),
    /// The bytes are not a RESP2 reply.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the connection closed"),
            ReadError::Timeout => write!(f, "timed out after {READ_TIMEOUT:?}"),
            ReadError::Io(e) => write!(f, "read failed: {e}"),
            ReadError::Malformed(why) => write!(f, "not RESP2: {why}"),
        }
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|at| from + at)
}

fn parse_len(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("bad length {:?}", esc(line)))
}

/// Where the reply that starts at `pos` ends; `Ok(None)` while it is incomplete.
fn reply_end(buf: &[u8], pos: usize) -> Result<Option<usize>, String> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(eol) = find_crlf(buf, pos + 1) else {
        return Ok(None);
    };
    let line = &buf[pos + 1..eol];
    let after = eol + 2;
    match kind {
        b'+' | b'-' => Ok(Some(after)),
        b':' => parse_len(line).map(|_| Some(after)),
        b'$' => match parse_len(line)? {
            -1 => Ok(Some(after)),
            n if n < 0 => Err(format!("bulk length {n}")),
            n => {
                let end = after + n as usize + 2;
                if buf.len() < end {
                    Ok(None)
                } else if &buf[end - 2..end] != b"\r\n" {
                    Err("bulk string not followed by CRLF".into())
                } else {
                    Ok(Some(end))
                }
            }
        },
        b'*' => match parse_len(line)? {
            -1 => Ok(Some(after)),
            n if n < 0 => Err(format!("array length {n}")),
            n => {
                let mut at = after;
                for _ in 0..n {
                    match reply_end(buf, at)? {
                        Some(end) => at = end,
                        None => return Ok(None),
                    }
                }
                Ok(Some(at))
            }
        },
        other => Err(format!("unknown reply type byte {:?}", char::from(other))),
    }
}

/// One connection: send raw bytes, read exactly one complete reply as its raw bytes.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    side: &'static str,
}

impl Client {
    fn connect(addr: SocketAddr, side: &'static str) -> Client {
        let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT)
            .unwrap_or_else(|e| panic!("{side}: cannot connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("write timeout");
        Client {
            stream,
            buf: Vec::new(),
            side,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: write failed: {e}", self.side));
    }

    /// Reads into the buffer once; `Ok(false)` at EOF.
    fn fill(&mut self) -> Result<bool, ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            return match self.stream.read(&mut chunk) {
                Ok(0) => Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    Err(ReadError::Timeout)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(ReadError::Io(e)),
            };
        }
    }

    fn try_reply(&mut self) -> Result<Vec<u8>, ReadError> {
        loop {
            match reply_end(&self.buf, 0) {
                Ok(Some(end)) => return Ok(self.buf.drain(..end).collect()),
                Ok(None) => {}
                Err(why) => {
                    return Err(ReadError::Malformed(format!("{why} in {}", esc(&self.buf))));
                }
            }
            if !self.fill()? {
                return Err(ReadError::Closed);
            }
        }
    }

    fn reply(&mut self) -> Vec<u8> {
        self.try_reply().unwrap_or_else(|e| {
            panic!(
                "{}: no complete reply: {e}; buffered: {}",
                self.side,
                esc(&self.buf)
            )
        })
    }

    fn cmd(&mut self, cmd: &[Vec<u8>]) -> Vec<u8> {
        self.send(&encode(cmd));
        self.reply()
    }

    /// The server closes the connection (EOF or reset) with nothing more sent.
    fn expect_closed(&mut self, ctx: &str) {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            assert!(
                self.buf.is_empty(),
                "{ctx}: {} sent more before closing: {}",
                self.side,
                esc(&self.buf)
            );
            match self.fill() {
                Ok(false) => return,
                Ok(true) => {}
                Err(ReadError::Timeout) if Instant::now() < deadline => {}
                Err(e) => panic!("{ctx}: {} did not close the connection: {e}", self.side),
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// The servers: children killed on drop, so even a panicking test leaves none behind.
// ------------------------------------------------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
    what: String,
    log: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

fn env_is(name: &str, value: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == value)
}

fn self_test() -> bool {
    env_is("KV_DIFF_SELF_TEST", "1")
}

fn redis_found() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Waits until the server answers PING with +PONG; false if it exited first.
fn answers_ping(server: &mut Server) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.child.try_wait() {
            return false;
        }
        if let Ok(stream) = TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)) {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut client = Client {
                stream,
                buf: Vec::new(),
                side: "startup probe",
            };
            if client.stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
                && client.try_reply().is_ok_and(|reply| reply == b"+PONG\r\n")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn start_redis(what: &str, extra: &[String]) -> Server {
    let dir = std::env::temp_dir();
    for _attempt in 0..5 {
        let port = free_port();
        let log = dir.join(format!(
            "tina-kvdiff-redis-{}-{port}.log",
            std::process::id()
        ));
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--bind", "127.0.0.1", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            what: what.to_string(),
            log: Some(log.clone()),
        };
        if answers_ping(&mut server) {
            return server;
        }
        // Most likely another process took the port between the probe and the start.
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("redis-server on port {port} did not start; retrying. Its log:\n{text}");
    }
    panic!("redis-server did not start in 5 attempts");
}

fn start_kv() -> Server {
    let shards = std::env::var("KV_DIFF_SHARDS").unwrap_or_else(|_| "2".into());
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv"))
        .args(["--port", "0", "--shards", &shards])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the kv binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    // The guard exists before anything can panic.
    let mut server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        what: "kv".into(),
        log: None,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = tx.send((read.map_err(|e| e.to_string()), line));
        // Keep draining: a later print must never block or fail on a closed pipe.
        let _ = io::copy(&mut reader, &mut io::sink());
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok((Ok(n), line)) if n > 0 => line,
        Ok((read, _)) => {
            let status = server.child.wait().ok();
            panic!(
                "kv exited before printing `kv: listening on 127.0.0.1:PORT` ({read:?}, exit \
                 status {status:?}); is examples/src/bin/kv.rs still the placeholder?"
            )
        }
        Err(_) => panic!("kv printed no line within {START_TIMEOUT:?}"),
    };
    let port = line
        .strip_suffix('\n')
        .and_then(|line| line.strip_prefix("kv: listening on 127.0.0.1:"))
        .and_then(|port| port.parse::<u16>().ok())
        .filter(|&port| port != 0)
        .unwrap_or_else(|| {
            panic!("kv's first line is {line:?}, not `kv: listening on 127.0.0.1:PORT`")
        });
    server.addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        answers_ping(&mut server),
        "kv on {} does not answer PING",
        server.addr
    );
    server
}

/// The reference `redis-server` and the server under test.
struct Pair {
    redis: Server,
    kv: Server,
}

/// Both servers, or `None` (after a loud SKIPPED line) when `redis-server` is missing.
fn pair() -> Option<Pair> {
    if !redis_found() {
        assert!(
            !env_is("TINA_REQUIRE_REDIS", "1"),
            "TINA_REQUIRE_REDIS=1 but redis-server is not on PATH: install it with \
             `apt-get install redis-server redis-tools`"
        );
        // Past the test harness's output capture, so it shows in a plain `cargo test`.
        let _ = writeln!(
            io::stderr(),
            "\n!!! SKIPPED: redis-server not found (apt-get install redis-server redis-tools)\n"
        );
        return None;
    }
    let redis = start_redis("redis-server", &[]);
    let kv = if self_test() {
        // Extra options for the stand-in only, to see the harness catch a difference, e.g.
        // `KV_DIFF_SELF_TEST_ARGS="--maxmemory 1 --maxmemory-policy noeviction"`.
        let extra: Vec<String> = std::env::var("KV_DIFF_SELF_TEST_ARGS")
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect();
        start_redis(
            "redis-server standing in for kv (KV_DIFF_SELF_TEST=1)",
            &extra,
        )
    } else {
        start_kv()
    };
    Some(Pair { redis, kv })
}

/// One connection to each server, used in lockstep.
struct Duo {
    redis: Client,
    kv: Client,
    case: String,
    step: usize,
    kv_what: String,
}

impl Pair {
    fn duo(&self, case: &str) -> Duo {
        Duo {
            redis: Client::connect(self.redis.addr, "redis-server"),
            kv: Client::connect(self.kv.addr, "kv"),
            case: case.to_string(),
            step: 0,
            kv_what: self.kv.what.clone(),
        }
    }

    /// A fresh connection pair on empty databases (the FLUSHALL replies compared too).
    fn fresh(&self, case: &str) -> Duo {
        let mut duo = self.duo(case);
        duo.check(c("FLUSHALL"));
        duo
    }
}

fn assert_same(ctx: &str, sent: &str, redis: &[u8], kv: &[u8], kv_what: &str) {
    assert!(
        redis == kv,
        "MISMATCH in {ctx}\n  sent:         {sent}\n  redis-server: {}\n  kv:           {}{}",
        esc(redis),
        esc(kv),
        if kv_what == "kv" {
            String::new()
        } else {
            format!("\n  (the kv side is {kv_what})")
        },
    );
}

impl Duo {
    fn ctx(&self) -> String {
        format!("case {:?}, step {}", self.case, self.step)
    }

    fn send_both(&mut self, bytes: &[u8]) {
        self.redis.send(bytes);
        self.kv.send(bytes);
    }

    /// The next reply on each side, compared byte for byte; `sent` names it in a report.
    fn same_reply(&mut self, sent: &str) -> Vec<u8> {
        self.step += 1;
        let ctx = self.ctx();
        let redis = self.redis.reply();
        let kv = self.kv.try_reply().unwrap_or_else(|e| {
            panic!(
                "MISMATCH in {ctx}\n  sent:         {sent}\n  redis-server: {}\n  kv:           \
                 no reply: {e}",
                esc(&redis)
            )
        });
        assert_same(&ctx, sent, &redis, &kv, &self.kv_what);
        redis
    }

    /// Sends `cmd` to both; the replies must be identical. Returns Redis's.
    fn check(&mut self, cmd: Cmd) -> Vec<u8> {
        self.send_both(&encode(&cmd));
        self.same_reply(&show(&cmd))
    }

    /// Raw bytes to both, then `replies` replies compared.
    fn check_raw(&mut self, bytes: &[u8], replies: usize) {
        self.send_both(bytes);
        for _ in 0..replies {
            self.same_reply(&esc(bytes));
        }
    }

    /// Sends `cmd` to both; both replies must be of RESP type `kind` (contents may differ).
    fn check_kind(&mut self, cmd: Cmd, kind: u8) {
        self.step += 1;
        let ctx = self.ctx();
        self.send_both(&encode(&cmd));
        for (side, reply) in [
            ("redis-server", self.redis.reply()),
            ("kv", self.kv.reply()),
        ] {
            assert!(
                reply.first() == Some(&kind),
                "{ctx}: {side} answered {} with {}, not a {:?} reply",
                show(&cmd),
                esc(&reply),
                char::from(kind)
            );
        }
    }

    /// Both servers close the connection with nothing more sent.
    fn both_close(&mut self) {
        let ctx = self.ctx();
        self.redis.expect_closed(&ctx);
        self.kv.expect_closed(&ctx);
    }
}

// ------------------------------------------------------------------------------------------
// Hand-written cases.
// ------------------------------------------------------------------------------------------

#[test]
fn get_set_and_set_options_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("GET and SET");
    d.check(c("GET k"));
    d.check(c("SET k v"));
    d.check(c("GET k"));
    d.check(c("SET k other"));
    d.check(c("GET k"));
    d.check(c("set lower case"));
    d.check(c("get lower"));
    d.check(c("GeT lower"));
    d.check(raw(&[b"SET", b"", b""]));
    d.check(raw(&[b"GET", b""]));
    d.check(raw(&[b"SET", b"bin\x00\r\n\xff", b"\x00\x01\r\n\xfe\xff"]));
    d.check(raw(&[b"GET", b"bin\x00\r\n\xff"]));
    let big = vec![b'x'; 300 * 1024];
    d.check(raw(&[b"SET", b"big", &big]));
    d.check(raw(&[b"GET", b"big"]));
    // Either side of the sizes kv carries inline: key and value together in an operation
    // (30 bytes), a value in an answer (46 bytes).
    for (key_len, value_len) in [(10, 19), (10, 20), (10, 21), (30, 0), (31, 0), (4, 45)]
        .into_iter()
        .chain([(4, 46), (4, 47), (40, 46), (40, 47), (0, 46)])
    {
        let key = vec![b'k'; key_len];
        let value: Vec<u8> = (0..value_len).map(|i| b'a' + (i % 26) as u8).collect();
        d.check(raw(&[b"SET", &key, &value]));
        d.check(raw(&[b"GET", &key]));
        d.check(raw(&[b"MGET", &key, b"absent", &key]));
        d.check(raw(&[b"EXISTS", &key]));
    }

    let mut d = pair.fresh("SET NX and XX");
    d.check(c("SET k v NX"));
    d.check(c("SET k w NX"));
    d.check(c("GET k"));
    d.check(c("SET k w XX"));
    d.check(c("GET k"));
    d.check(c("SET missing v XX"));
    d.check(c("GET missing"));
    d.check(c("SET k v nx"));
    d.check(c("SET n v xx"));
    d.check(c("SET k v NX XX"));
    d.check(c("SET k v XX NX"));
    d.check(c("SET k v NX NX"));
    d.check(c("SET k v BOGUS"));
    d.check(c("GET k"));

    let mut d = pair.fresh("SET EX and PX");
    d.check(c("SET k v EX 100"));
    d.check(c("TTL k"));
    d.check(c("SET k v PX 100000"));
    d.check(c("TTL k"));
    d.check(c("SET k v ex 50 nx"));
    d.check(c("SET k v XX EX 200"));
    d.check(c("TTL k"));
    d.check(c("SET k v"));
    d.check(c("TTL k"));
    d.check(c("SET k v EX 0"));
    d.check(c("SET k v EX -1"));
    d.check(c("SET k v PX 0"));
    d.check(c("SET k v PX -100"));
    d.check(c("SET k v EX abc"));
    d.check(c("SET k v EX 1.5"));
    d.check(c("SET k v EX"));
    d.check(c("SET k v PX"));
    d.check(c("SET k v EX 10 PX 10000"));
    d.check(c("SET k v EX 10 EX 10"));
    d.check(c("SET k v EX 9223372036854775807"));
    d.check(c("SET k v PX 9223372036854775807"));
    d.check(c("SET k v EX 99999999999999999999"));
    d.check(c("GET k"));
    d.check(c("TTL k"));

    let mut d = pair.fresh("a key set with PX expires");
    d.check(c("SET short v PX 30"));
    d.check(c("SET long v EX 1000"));
    std::thread::sleep(Duration::from_millis(150));
    d.check(c("GET short"));
    d.check(c("EXISTS short"));
    d.check(c("TTL short"));
    d.check(c("DBSIZE"));
    d.check(c("GET long"));
}

#[test]
fn counters_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("INCR, DECR, INCRBY");
    d.check(c("INCR n"));
    d.check(c("INCR n"));
    d.check(c("GET n"));
    d.check(c("DECR n"));
    d.check(c("DECR m"));
    d.check(c("INCRBY n 10"));
    d.check(c("INCRBY n -25"));
    d.check(c("INCRBY fresh 7"));
    d.check(c("INCRBY n 0"));
    d.check(c("GET n"));
    d.check(c("incr n"));
    d.check(c("decr n"));
    d.check(c("incrby n 3"));

    let mut d = pair.fresh("not an integer");
    for value in ["abc", "1.5", "01", "+1", " 1", "1 ", "-0", "0x10", "1e3"] {
        d.check(raw(&[b"SET", b"s", value.as_bytes()]));
        d.check(c("INCR s"));
        d.check(c("DECR s"));
        d.check(c("INCRBY s 1"));
        d.check(c("GET s"));
    }
    d.check(raw(&[b"SET", b"e", b""]));
    d.check(c("INCR e"));
    d.check(c("INCRBY n abc"));
    d.check(c("INCRBY n 1.0"));
    d.check(raw(&[b"INCRBY", b"n", b""]));
    d.check(c("INCRBY n 9223372036854775808"));
    d.check(c("GET n"));

    let mut d = pair.fresh("overflow");
    d.check(c("SET max 9223372036854775807"));
    d.check(c("INCR max"));
    d.check(c("INCRBY max 1"));
    d.check(c("INCRBY max 0"));
    d.check(c("DECR max"));
    d.check(c("GET max"));
    d.check(c("SET min -9223372036854775808"));
    d.check(c("DECR min"));
    d.check(c("INCRBY min -1"));
    d.check(c("INCRBY min -9223372036854775808"));
    d.check(c("INCR min"));
    d.check(c("GET min"));
    d.check(c("SET big 9223372036854775808"));
    d.check(c("INCR big"));
    d.check(c("SET small -9223372036854775809"));
    d.check(c("DECR small"));
    d.check(c("INCRBY zero -9223372036854775808"));
    d.check(c("INCRBY zero -1"));
    d.check(c("INCRBY p 9223372036854775807"));
    d.check(c("INCRBY p 1"));

    let mut d = pair.fresh("INCR keeps the TTL");
    d.check(c("SET t 5 EX 100"));
    d.check(c("INCR t"));
    d.check(c("TTL t"));
    d.check(c("GET t"));
}

#[test]
fn keyspace_commands_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("DEL and EXISTS with several and repeated keys");
    d.check(c("MSET a 1 b 2 c 3"));
    d.check(c("EXISTS a"));
    d.check(c("EXISTS a b c missing"));
    d.check(c("EXISTS a a a"));
    d.check(c("EXISTS missing missing"));
    d.check(c("DEL missing"));
    d.check(c("DEL a a b missing"));
    d.check(c("EXISTS a b c"));
    d.check(c("DEL c c"));
    d.check(c("DBSIZE"));
    d.check(c("del nothing"));
    d.check(c("exists nothing"));

    let mut d = pair.fresh("MGET and MSET");
    d.check(c("MGET a"));
    d.check(c("MSET a 1"));
    d.check(c("MGET a missing a b"));
    d.check(c("MSET a 2 b 3 a 4"));
    d.check(c("MGET a b"));
    d.check(raw(&[b"MSET", b"", b"empty", b"x", b""]));
    d.check(raw(&[b"MGET", b"", b"x", b"nope"]));
    let many: Vec<String> = (0..64).map(|i| format!("key{i} value{i}")).collect();
    d.check(c(&format!("MSET {}", many.join(" "))));
    let keys: Vec<String> = (0..70).map(|i| format!("key{i}")).collect();
    d.check(c(&format!("MGET {}", keys.join(" "))));
    d.check(c(&format!("DEL {}", keys.join(" "))));
    d.check(c(&format!("EXISTS {}", keys.join(" "))));
    d.check(c("DBSIZE"));
    d.check(c("SET e v EX 100"));
    d.check(c("MSET e w"));
    d.check(c("TTL e"));

    let mut d = pair.fresh("EXPIRE and TTL");
    d.check(c("TTL missing"));
    d.check(c("EXPIRE missing 100"));
    d.check(c("SET k v"));
    d.check(c("TTL k"));
    d.check(c("EXPIRE k 100"));
    d.check(c("TTL k"));
    d.check(c("EXPIRE k 1000"));
    d.check(c("TTL k"));
    d.check(c("SET k v2"));
    d.check(c("TTL k"));
    d.check(c("EXPIRE k abc"));
    d.check(c("EXPIRE k 1.5"));
    d.check(c("EXPIRE k 9223372036854775807"));
    d.check(c("EXPIRE k -9223372036854775808"));
    d.check(c("TTL k"));
    d.check(c("EXPIRE k 0"));
    d.check(c("EXISTS k"));
    d.check(c("TTL k"));
    d.check(c("SET k v"));
    d.check(c("EXPIRE k -5"));
    d.check(c("GET k"));
    d.check(c("expire missing 10"));
    d.check(c("ttl missing"));

    let mut d = pair.fresh("DBSIZE and FLUSHALL");
    d.check(c("DBSIZE"));
    d.check(c("MSET a 1 b 2 c 3 d 4 e 5 f 6 g 7 h 8"));
    d.check(c("SET i 9 EX 100"));
    d.check(c("DBSIZE"));
    d.check(c("FLUSHALL"));
    d.check(c("DBSIZE"));
    d.check(c("MGET a b i"));
    d.check(c("SET a 1"));
    d.check(c("flushall"));
    d.check(c("DBSIZE"));
    d.check(c("SET a 1"));
    d.check(c("FLUSHALL SYNC"));
    d.check(c("FLUSHALL ASYNC"));
    d.check(c("FLUSHALL bogus"));
    d.check(c("FLUSHALL a b"));
    d.check(c("DBSIZE"));
    // A second connection sees the first one's writes.
    d.check(c("SET shared yes"));
    let mut other = pair.duo("a second connection");
    other.check(c("GET shared"));
    other.check(c("DBSIZE"));
}

#[test]
fn ping_echo_and_quit_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("PING and ECHO");
    d.check(c("PING"));
    d.check(c("ping"));
    d.check(c("PING hello"));
    d.check(raw(&[b"PING", b""]));
    d.check(raw(&[b"PING", b"\x00\r\n\xff"]));
    d.check(c("ECHO hello"));
    d.check(raw(&[b"ECHO", b""]));
    d.check(raw(&[b"ECHO", b"\x00\x01\x02\r\n$3\r\n*1\r\n\xff\xfe"]));
    d.check(raw(&[b"echo", &[b'z'; 70_000]]));

    let mut d = pair.fresh("QUIT");
    d.check(c("SET q 1"));
    d.check(c("QUIT"));
    d.both_close();

    let mut d = pair.fresh("QUIT with commands pipelined behind it");
    d.check_raw(
        &[
            encode(&c("SET after 1")),
            encode(&c("quit")),
            encode(&c("SET after 2")),
        ]
        .concat(),
        2,
    );
    d.both_close();
    let mut d = pair.duo("after QUIT");
    d.check(c("GET after"));
    d.check(c("GET q"));
}

#[test]
fn wrong_arity_and_unknown_commands_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("wrong number of arguments");
    for cmd in [
        "PING a b",
        "ECHO",
        "ECHO a b",
        "GET",
        "GET a b",
        "SET",
        "SET a",
        "DEL",
        "EXISTS",
        "INCR",
        "INCR a b",
        "DECR",
        "DECR a b",
        "INCRBY",
        "INCRBY a",
        "INCRBY a 1 2",
        "MGET",
        "MSET",
        "MSET a",
        "MSET a b c",
        "EXPIRE",
        "EXPIRE a",
        "TTL",
        "TTL a b",
        "DBSIZE a",
        "PUBLISH",
        "PUBLISH ch",
        "PUBLISH ch m extra",
        "SUBSCRIBE",
        "CONFIG",
        "CONFIG GET",
        "get",
        "mset a",
        "Incrby x",
    ] {
        d.check(c(cmd));
    }
    d.check(c("EXPIRE a 10 bogus"));
    d.check(c("DBSIZE"));

    let mut d = pair.fresh("unknown commands");
    d.check(c("NOSUCHCMD"));
    d.check(c("nosuchcmd a b"));
    d.check(c("NoSuchCmd a b c d e"));
    d.check(raw(&[b""]));
    d.check(raw(&[b"", b"x"]));
    d.check(raw(&[b"bad\r\nname", b"arg\r\nwith newline"]));
    let long_name = "x".repeat(200);
    d.check(c(&long_name));
    let long_args: Vec<String> = (0..40).map(|i| format!("argument{i:02}")).collect();
    d.check(c(&format!("WHATEVER {}", long_args.join(" "))));
    d.check(c(&format!("WHATEVER {}", "y".repeat(300))));
    d.check(c("PING"));
}

#[test]
fn info_config_get_and_command_have_redis_reply_types() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("INFO, CONFIG GET, COMMAND");
    d.check_kind(c("INFO"), b'$');
    d.check_kind(c("info"), b'$');
    d.check_kind(c("INFO server"), b'$');
    d.check_kind(c("INFO keyspace"), b'$');
    d.check_kind(c("CONFIG GET maxmemory"), b'*');
    d.check_kind(c("CONFIG GET save"), b'*');
    d.check_kind(c("config get appendonly"), b'*');
    d.check_kind(c("COMMAND"), b'*');
    d.check(c("PING"));
    d.check(c("SET still works"));
    d.check(c("GET still"));
}

#[test]
fn publish_subscribe_and_unsubscribe_match_redis() {
    let Some(pair) = pair() else { return };
    let mut publisher = pair.fresh("publisher");
    let mut sub = pair.duo("first subscriber");
    let mut sub2 = pair.duo("second subscriber");

    publisher.check(c("PUBLISH news hi"));
    sub.check(c("SUBSCRIBE news"));
    sub.check_raw(&encode(&c("SUBSCRIBE a b")), 2);
    publisher.check(c("PUBLISH news hello"));
    sub.same_reply("(the message pushed by PUBLISH news hello)");
    publisher.check(raw(&[b"PUBLISH", b"a", b""]));
    sub.same_reply("(the message pushed by PUBLISH a \"\")");
    publisher.check(raw(&[b"PUBLISH", b"b", b"\x00\r\n\xff binary"]));
    sub.same_reply("(the message pushed by PUBLISH b <binary>)");
    sub.check(c("SUBSCRIBE news"));
    publisher.check(c("PUBLISH nobody-listens x"));

    sub2.check(c("subscribe news"));
    publisher.check(c("publish news both"));
    sub.same_reply("(the message pushed to the first subscriber)");
    sub2.same_reply("(the message pushed to the second subscriber)");

    sub.check(c("UNSUBSCRIBE news"));
    publisher.check(c("PUBLISH news only-second"));
    sub2.same_reply("(the message pushed to the second subscriber)");
    sub.check(c("UNSUBSCRIBE nosuch"));
    sub.check_raw(&encode(&c("UNSUBSCRIBE a b")), 2);
    sub.check(c("UNSUBSCRIBE"));
    publisher.check(c("PUBLISH a gone"));
    // Back in normal mode, with no stray message queued before the replies.
    sub.check(c("PING"));
    sub.check(c("GET news"));

    sub2.check(c("UNSUBSCRIBE"));
    publisher.check(c("PUBLISH news nobody"));
    sub2.check(c("PING"));

    let mut lone = pair.duo("UNSUBSCRIBE without subscriptions");
    lone.check(c("UNSUBSCRIBE"));
    lone.check(c("UNSUBSCRIBE x"));
    lone.check(c("PING"));

    let mut quitter = pair.duo("a subscriber that quits");
    quitter.check(c("SUBSCRIBE q"));
    quitter.check(c("QUIT"));
    quitter.both_close();
    // Give both servers a moment to drop the closed connection's subscriptions.
    std::thread::sleep(Duration::from_millis(100));
    publisher.check(c("PUBLISH q after-quit"));
}

#[test]
fn subscribed_mode_restrictions_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("commands while subscribed");
    d.check(c("SUBSCRIBE ch"));
    d.check(c("PING"));
    d.check(c("PING hello"));
    d.check(c("GET k"));
    d.check(c("SET k v"));
    d.check(c("UNSUBSCRIBE"));
    d.check(c("GET k"));
}

// ------------------------------------------------------------------------------------------
// Seeded random commands.
// ------------------------------------------------------------------------------------------

/// xorshift64*: small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const KEYS: u64 = 20;

fn key(rng: &mut Rng) -> String {
    format!("k{}", rng.below(KEYS))
}

fn value(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => (rng.below(2001) as i64 - 1000).to_string(),
        4 => rng
            .pick(&[
                "",
                "0",
                "-1",
                "007",
                "+5",
                " 5",
                "3.5",
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "-9223372036854775807",
                "18446744073709551616",
            ])
            .to_string(),
        _ => {
            let len = 1 + rng.below(8);
            (0..len)
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect()
        }
    }
}

fn increment(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=6 => (rng.below(201) as i64 - 100).to_string(),
        7 => rng
            .pick(&["9223372036854775807", "-9223372036854775808", "0"])
            .to_string(),
        _ => rng
            .pick(&["abc", "1.5", "", "01", "99999999999999999999"])
            .to_string(),
    }
}

/// Expiry times large enough that nothing expires during a run (plus the deleting 0 and -1).
fn seconds(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => "0".into(),
        1 => "-1".into(),
        2 => "notanumber".into(),
        _ => (100_000 + rng.below(900_000)).to_string(),
    }
}

fn random_command(rng: &mut Rng) -> Cmd {
    let mut words: Vec<String> = Vec::new();
    let mut push = |word: &str| words.push(word.to_string());
    match rng.below(100) {
        0..=14 => {
            push("GET");
            push(&key(rng));
        }
        15..=34 => {
            push("SET");
            push(&key(rng));
            push(&value(rng));
            match rng.below(12) {
                0 | 1 => {
                    push("EX");
                    push(&seconds(rng));
                }
                2 => {
                    push("PX");
                    push(&format!("{}000", seconds(rng)));
                }
                3 => push("NX"),
                4 => push("XX"),
                5 => {
                    push("XX");
                    push("EX");
                    push(&seconds(rng));
                }
                6 => {
                    // Option pairs, most of them malformed; a number here is an expiry time
                    // far longer than a run, as everywhere in the stream.
                    push(rng.pick(&["NX", "XX", "EX", "PX", "BOGUS"]));
                    push(rng.pick(&["NX", "XX", "EX", "PX", "700000"]));
                }
                _ => {}
            }
        }
        35..=40 => {
            push(rng.pick(&["DEL", "EXISTS"]));
            for _ in 0..1 + rng.below(4) {
                push(&key(rng));
            }
        }
        41..=46 => {
            push("EXISTS");
            for _ in 0..1 + rng.below(4) {
                push(&key(rng));
            }
        }
        47..=52 => {
            push("INCR");
            push(&key(rng));
        }
        53..=56 => {
            push("DECR");
            push(&key(rng));
        }
        57..=62 => {
            push("INCRBY");
            push(&key(rng));
            push(&increment(rng));
        }
        63..=67 => {
            push("MGET");
            for _ in 0..1 + rng.below(5) {
                push(&key(rng));
            }
        }
        68..=72 => {
            push("MSET");
            for _ in 0..1 + rng.below(3) {
                push(&key(rng));
                push(&value(rng));
            }
            if rng.chance(10) {
                push(&key(rng));
            }
        }
        73..=76 => {
            push("EXPIRE");
            push(&key(rng));
            push(&seconds(rng));
        }
        77..=82 => {
            push("TTL");
            push(&key(rng));
        }
        83..=84 => push("DBSIZE"),
        85..=86 => {
            push("ECHO");
            push(&value(rng));
        }
        87..=88 => {
            push("PING");
            if rng.chance(30) {
                push(&value(rng));
            }
        }
        89..=95 => {
            // Wrong arity.
            match rng.below(8) {
                0 => push("GET"),
                1 => {
                    push("SET");
                    push(&key(rng));
                }
                2 => {
                    push("INCRBY");
                    push(&key(rng));
                }
                3 => push("MGET"),
                4 => {
                    push("MSET");
                    push(&key(rng));
                }
                5 => {
                    push("TTL");
                    push(&key(rng));
                    push(&key(rng));
                }
                6 => {
                    push("EXPIRE");
                    push(&key(rng));
                }
                _ => {
                    push("ECHO");
                    push("a");
                    push("b");
                }
            }
        }
        _ => {
            push(rng.pick(&["FROB", "GETT", "SETX", "KEYSS"]));
            for _ in 0..rng.below(3) {
                push(&key(rng));
            }
        }
    }
    // Command names are case-insensitive.
    if rng.chance(20) {
        words[0] = words[0].to_lowercase();
    }
    // Empty values need the raw form; split_ascii_whitespace would drop them.
    words.into_iter().map(String::into_bytes).collect()
}

/// TTL replies may differ by a second when a run crosses a rounding boundary between the
/// two servers' EXPIREs; everything else must match exactly.
fn replies_agree(cmd: &[Vec<u8>], redis: &[u8], kv: &[u8]) -> bool {
    if redis == kv {
        return true;
    }
    let ttl = cmd[0].eq_ignore_ascii_case(b"TTL");
    let int = |reply: &[u8]| -> Option<i64> {
        std::str::from_utf8(reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?)
            .ok()?
            .parse()
            .ok()
    };
    match (ttl, int(redis), int(kv)) {
        (true, Some(a), Some(b)) => a > 0 && b > 0 && a.abs_diff(b) <= 1,
        _ => false,
    }
}

fn seeds(default: u64) -> (u64, usize) {
    let seed = std::env::var("KV_DIFF_SEED")
        .ok()
        .map(|text| {
            let text = text.trim();
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            }
            .unwrap_or_else(|_| panic!("KV_DIFF_SEED={text:?} is not a number"))
        })
        .unwrap_or(default);
    let count = std::env::var("KV_DIFF_COMMANDS")
        .ok()
        .map(|text| text.parse().expect("KV_DIFF_COMMANDS is a number"))
        .unwrap_or(5_000);
    (seed, count)
}

/// How many replies of each RESP type a run saw, for the log (`--nocapture`).
#[derive(Default)]
struct Tally([usize; 5]);

impl Tally {
    fn add(&mut self, reply: &[u8]) {
        let slot = match reply.first() {
            Some(b'+') => 0,
            Some(b'-') => 1,
            Some(b':') => 2,
            Some(b'$') => 3,
            _ => 4,
        };
        self.0[slot] += 1;
    }

    fn print(&self, mode: &str) {
        let [simple, error, int, bulk, array] = self.0;
        println!(
            "{mode}: replies: {simple} simple, {error} errors, {int} integers, {bulk} bulk, \
             {array} arrays"
        );
    }
}

fn mismatch(mode: &str, seed: u64, index: usize, cmd: &[Vec<u8>], redis: &[u8], kv: &[u8]) {
    panic!(
        "MISMATCH ({mode}) seed {seed:#x} at command #{index}\n  command:      {}\n  \
         redis-server: {}\n  kv:           {}\nreplay: KV_DIFF_SEED={seed:#x} cargo test -p \
         tina-examples --test kv_differential random",
        show(cmd),
        esc(redis),
        esc(kv)
    );
}

/// After a run, the whole key set must be the same on both servers.
fn same_final_state(d: &mut Duo) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("k{i}")).collect();
    d.check(c(&format!("MGET {}", keys.join(" "))));
    d.check(c("DBSIZE"));
}

#[test]
fn random_commands_one_at_a_time_match_redis() {
    let Some(pair) = pair() else { return };
    let (seed, count) = seeds(0x5EED_0001);
    println!("random commands one at a time: seed {seed:#x}, {count} commands");
    let mut d = pair.fresh("random, one at a time");
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for index in 0..count {
        let cmd = random_command(&mut rng);
        let redis = d.redis.cmd(&cmd);
        tally.add(&redis);
        let kv = d.kv.try_reply_to(&cmd);
        let kv = kv.unwrap_or_else(|e| format!("(no reply: {e})").into_bytes());
        if !replies_agree(&cmd, &redis, &kv) {
            mismatch("one at a time", seed, index, &cmd, &redis, &kv);
        }
    }
    tally.print("one at a time");
    same_final_state(&mut d);
}

#[test]
fn random_commands_pipelined_match_redis() {
    let Some(pair) = pair() else { return };
    let (seed, count) = seeds(0x5EED_0002);
    println!("random commands pipelined by 16: seed {seed:#x}, {count} commands");
    let mut d = pair.fresh("random, pipelined");
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let mut index = 0;
    while index < count {
        let batch: Vec<Cmd> = (0..16.min(count - index))
            .map(|_| random_command(&mut rng))
            .collect();
        let bytes: Vec<u8> = batch.iter().flat_map(|cmd| encode(cmd)).collect();
        d.send_both(&bytes);
        for cmd in &batch {
            let redis = d.redis.reply();
            tally.add(&redis);
            let kv =
                d.kv.try_reply()
                    .unwrap_or_else(|e| format!("(no reply: {e})").into_bytes());
            if !replies_agree(cmd, &redis, &kv) {
                mismatch("pipelined by 16", seed, index, cmd, &redis, &kv);
            }
            index += 1;
        }
    }
    tally.print("pipelined by 16");
    same_final_state(&mut d);
}

impl Client {
    fn try_reply_to(&mut self, cmd: &[Vec<u8>]) -> Result<Vec<u8>, ReadError> {
        self.send(&encode(cmd));
        self.try_reply()
    }
}

// ------------------------------------------------------------------------------------------
// Framing: fragments, inline commands, protocol errors, oversized frames.
// ------------------------------------------------------------------------------------------

#[test]
fn fragmented_and_pipelined_frames_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("a frame split into single bytes");
    let frame = [encode(&c("SET frag value")), encode(&c("GET frag"))].concat();
    for byte in &frame {
        d.send_both(std::slice::from_ref(byte));
        std::thread::sleep(Duration::from_micros(200));
    }
    d.same_reply("SET frag value, GET frag (one byte per write)");
    d.same_reply("(second reply)");

    let mut d = pair.fresh("many commands in one write");
    let many: Vec<u8> = (0..500)
        .flat_map(|i| encode(&c(&format!("INCRBY counter {i}"))))
        .chain(encode(&c("GET counter")))
        .collect();
    d.check_raw(&many, 501);

    let mut d = pair.fresh("a command split across writes mid-bulk");
    let frame = encode(&raw(&[b"ECHO", &[b'q'; 5000]]));
    let (head, tail) = frame.split_at(2503);
    d.send_both(head);
    std::thread::sleep(Duration::from_millis(50));
    d.send_both(tail);
    d.same_reply("ECHO qqq… (in two writes)");
}

#[test]
fn inline_commands_match_redis() {
    let Some(pair) = pair() else { return };
    let mut d = pair.fresh("inline commands");
    d.check_raw(b"PING\r\n", 1);
    d.check_raw(b"ping\r\n", 1);
    d.check_raw(b"PING\n", 1);
    d.check_raw(b"PING hello\r\n", 1);
    d.check_raw(b"ECHO inline\r\n", 1);
    d.check_raw(b"SET inline yes\r\nGET inline\r\n", 2);
    d.check_raw(b"NOSUCH a b\r\n", 1);
    d.check_raw(b"PING\r\n*1\r\n$4\r\nPING\r\n", 2);
    d.check(c("DBSIZE"));
}

/// Exact protocol errors: Redis answers `-ERR Protocol error: …` and closes.
#[test]
fn protocol_errors_match_redis() {
    let Some(pair) = pair() else { return };
    for (name, bytes) in [
        ("multibulk length not a number", &b"*abc\r\n"[..]),
        ("array element not a bulk string", b"*1\r\n:5\r\n"),
        (
            "array element a simple string",
            b"*2\r\n$3\r\nGET\r\n+k\r\n",
        ),
        ("bulk length not a number", b"*1\r\n$abc\r\n"),
        ("negative bulk length", b"*1\r\n$-5\r\n"),
    ] {
        let mut d = pair.duo(name);
        d.check(c("PING"));
        d.check_raw(bytes, 1);
        d.both_close();
    }
    for (name, bytes) in [
        ("an empty array is ignored", &b"*0\r\n"[..]),
        ("a null array is ignored", b"*-1\r\n"),
    ] {
        let mut d = pair.duo(name);
        d.send_both(bytes);
        d.check(c("PING"));
    }
}

/// A frame over the server's limit gets an error reply, then the connection closes. The
/// limits differ (Redis: 512 MB bulk strings, 2^31 - 1 elements), so only that shape is
/// checked, on both sides: the frames here declare a 1 GiB bulk string and 2^32 elements,
/// over any sane limit, and the server must refuse them on the header alone.
#[test]
fn oversized_frames_get_an_error_and_close() {
    let Some(pair) = pair() else { return };
    for (name, bytes) in [
        ("a 1 GiB bulk string", &b"*1\r\n$1073741824\r\n"[..]),
        (
            "a SET of a 1 GiB value",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n",
        ),
        ("2^32 elements", b"*4294967296\r\n"),
    ] {
        for (side, addr) in [("redis-server", pair.redis.addr), ("kv", pair.kv.addr)] {
            let mut client = Client::connect(addr, side);
            client.send(bytes);
            let reply = client.try_reply().unwrap_or_else(|e| {
                panic!("{name}: {side} sent no error reply for {}: {e}", esc(bytes))
            });
            assert!(
                reply.starts_with(b"-"),
                "{name}: {side} answered {} with {}, not an error",
                esc(bytes),
                esc(&reply)
            );
            client.expect_closed(name);
        }
    }
}

/// The server under test stops on SIGTERM (Redis does too; checked on both).
#[test]
fn servers_stop_on_sigterm() {
    let Some(mut pair) = pair() else { return };
    for server in [&mut pair.redis, &mut pair.kv] {
        let pid = server.child.id() as libc::pid_t;
        // SAFETY: `kill` only sends a signal; `pid` is our own child, not yet reaped (the
        // `Child` is still held), so the id cannot have been reused.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "kill({pid}, SIGTERM)");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match server.child.try_wait().expect("try_wait") {
                Some(status) => {
                    println!("{} exited on SIGTERM: {status}", server.what);
                    break;
                }
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                None => panic!("{} did not exit within 10 s of SIGTERM", server.what),
            }
        }
    }
}
