//! A SET flood past the keyspace's capacity (issue 16): the `kv` binary with room for 1,000
//! keys takes 20,000 distinct SETs, pipelined, twice over. Every reply is `+OK` or the
//! `-OOM` error, counted on the client side; no more keys are stored than the capacity; the
//! server's own count of refusals (`INFO`) matches the client's; and the second flood,
//! which is refused whole, leaves the server's resident memory where the first left it.
//! Loopback only, bounded in count and time (every read has a timeout).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Keys the server has room for (over its two shards).
const CAPACITY: usize = 1_000;
/// Distinct keys per flood.
const FLOOD: usize = 20_000;
/// Commands per pipelined batch.
const BATCH: usize = 100;

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv"))
        .args(["--port", "0", "--shards", "2", "--quiet"])
        .args(["--maxkeys", &CAPACITY.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kv starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("kv says where it listens");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Server { child, port }
}

/// The server's resident memory, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Reads one reply line (`+OK`, `-…`, `:n`) and returns it without the line end.
fn reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("a reply within the timeout");
    assert!(line.ends_with("\r\n"), "a whole reply line: {line:?}");
    line.truncate(line.len() - 2);
    line
}

/// Sends `FLOOD` SETs of distinct keys (named by `flood`), `BATCH` per write; returns
/// (OK replies, OOM replies).
fn flood(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, flood: u32) -> (usize, usize) {
    let value = "v".repeat(100);
    let (mut ok, mut oom) = (0, 0);
    for batch in 0..FLOOD / BATCH {
        let mut commands = String::new();
        for n in 0..BATCH {
            let key = format!("flood{flood}:{}", batch * BATCH + n);
            commands.push_str(&format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            ));
        }
        stream.write_all(commands.as_bytes()).expect("send a batch");
        for _ in 0..BATCH {
            let line = reply(reader);
            match line.as_str() {
                "+OK" => ok += 1,
                _ if line.starts_with("-OOM ") => oom += 1,
                other => panic!("neither +OK nor -OOM: {other:?}"),
            }
        }
    }
    (ok, oom)
}

/// Sends one command and reads a bulk-string reply.
fn bulk(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, command: &str) -> String {
    stream.write_all(command.as_bytes()).expect("send");
    let header = reply(reader);
    let len: usize = header
        .strip_prefix('$')
        .and_then(|len| len.parse().ok())
        .unwrap_or_else(|| panic!("a bulk string, not {header:?}"));
    let mut body = vec![0; len + 2];
    reader.read_exact(&mut body).expect("the bulk body");
    body.truncate(len);
    String::from_utf8(body).expect("text")
}

#[test]
fn a_set_flood_past_capacity_is_refused_with_oom_and_memory_stays_flat() {
    let server = start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    stream
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .expect("send PING");
    assert_eq!(reply(&mut reader), "+PONG");
    let at_boot = rss_kib(server.child.id());

    let (ok1, oom1) = flood(&mut stream, &mut reader, 1);
    assert_eq!(ok1 + oom1, FLOOD, "every SET answered");
    assert!(
        ok1 > 0 && ok1 <= CAPACITY,
        "stored {ok1} of a capacity of {CAPACITY}"
    );
    let after_first = rss_kib(server.child.id());
    assert!(
        after_first <= at_boot + 4096,
        "RSS grew from {at_boot} KiB to {after_first} KiB filling the keyspace"
    );

    let (ok2, oom2) = flood(&mut stream, &mut reader, 2);
    assert_eq!(
        (ok2, oom2),
        (0, FLOOD),
        "a full keyspace refuses every new key"
    );
    let after_second = rss_kib(server.child.id());
    assert!(
        after_second <= after_first + 1024,
        "RSS grew from {after_first} KiB to {after_second} KiB while refusing"
    );

    stream
        .write_all(b"*1\r\n$6\r\nDBSIZE\r\n")
        .expect("send DBSIZE");
    assert_eq!(reply(&mut reader), format!(":{ok1}"), "the stored keys");
    let info = bulk(&mut stream, &mut reader, "*1\r\n$4\r\nINFO\r\n");
    let refused: u64 = info
        .lines()
        .filter_map(|line| line.strip_prefix("oom_refusals:"))
        .map(|count| count.trim().parse::<u64>().expect("a count"))
        .sum();
    assert_eq!(
        refused as usize,
        oom1 + oom2,
        "the server counted what the client saw:\n{info}"
    );
    eprintln!(
        "kv flood: stored {ok1}, refused {oom1} then {oom2} (-OOM, counted by the server \
         too); RSS {at_boot} KiB at boot, {after_first} KiB after the first flood, {after_second} KiB after the second"
    );
}
