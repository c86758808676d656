//! The Prometheus endpoint over real loopback sockets: `GET /metrics` parsed by a real
//! parser (the `prometheus-parse` crate), the figures checked against the traffic that
//! made them, and the error responses (404, 405, 431).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use tina::prelude::*;
use tina::{CounterId, HistogramId};

#[derive(Bounded)]
struct Work(u64);

/// Counts what it handles in a user counter and records each value in a user histogram.
#[isolate(mailbox = 64)]
struct Sink {
    ids: (CounterId, HistogramId),
}

#[isolate]
impl Sink {
    fn init(ids: &(CounterId, HistogramId), _ctx: &mut Ctx<Self>) -> Self {
        Sink { ids: *ids }
    }

    fn work(&mut self, work: Work, ctx: &mut Ctx<Self>) -> Effect {
        ctx.count(self.ids.0, 1);
        ctx.observe(self.ids.1, work.0);
        Effect::Receive
    }
}

/// Sends 50 messages to each sink at init.
#[isolate(mailbox = 2)]
struct Feeder;

#[isolate]
impl Feeder {
    fn init(sinks: &[Handle<Sink>; 2], ctx: &mut Ctx<Self>) -> Self {
        for value in 1..=50 {
            for sink in sinks {
                ctx.send(sink, Work(value)).expect("room for every message");
            }
        }
        Feeder
    }
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Sends `request` and returns (status line, headers, body).
fn exchange(addr: SocketAddr, request: &[u8]) -> (String, String, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&response)));
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (
        status.to_string(),
        headers.to_string(),
        response[split + 4..].to_vec(),
    )
}

fn scrape(addr: SocketAddr) -> (Scrape, String) {
    let (status, headers, body) = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    assert!(
        headers.contains(&format!("Content-Length: {}", body.len())),
        "{headers} vs {} bytes",
        body.len()
    );
    let text = String::from_utf8(body).unwrap();
    let lines = text.lines().map(|line| Ok(line.to_string()));
    (Scrape::parse(lines).expect("the text parses"), text)
}

fn value_of(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .map(|sample| match &sample.value {
            Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value) => *value,
            Value::Histogram(_) | Value::Summary(_) => f64::NAN,
        })
}

fn system() -> (System, SocketAddr) {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false);
    let counter = spec.counter("sink_messages_total", "Messages the sinks handled.");
    let histogram = spec.histogram("sink_values", "The values the sinks were sent.");
    spec.isolate::<Sink>(1).isolate::<Feeder>(1);
    let sinks = [
        spec.root::<Sink>(ShardId(0), (counter, histogram)),
        spec.root::<Sink>(ShardId(1), (counter, histogram)),
    ];
    spec.root::<Feeder>(ShardId(0), sinks);
    let addr = free_port();
    tina::metrics::serve(&mut spec, addr);
    (System::start(spec).unwrap(), addr)
}

#[test]
fn metrics_parse_and_match_the_traffic() {
    let (system, addr) = system();
    // The shards publish before they sleep: poll until the last figures are out.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (scrape, text) = loop {
        let (scrape, text) = scrape(addr);
        let done = (0..2).all(|shard| {
            value_of(
                &scrape,
                "sink_messages_total",
                &[("shard", &shard.to_string())],
            ) == Some(50.0)
        });
        if done || Instant::now() > deadline {
            break (scrape, text);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    system.shutdown(Duration::from_secs(2));

    // Every family has its HELP and TYPE; the user's help text is kept.
    for sample in &scrape.samples {
        let family = sample
            .metric
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            scrape.docs.contains_key(family) || scrape.docs.contains_key(&sample.metric),
            "no HELP for {}",
            sample.metric
        );
    }
    assert_eq!(
        scrape.docs.get("sink_messages_total").map(String::as_str),
        Some("Messages the sinks handled.")
    );
    assert!(text.contains("# TYPE tina_handler_seconds histogram\n"));
    assert!(text.contains("# TYPE tina_dispatched_total counter\n"));
    assert!(text.contains("# TYPE tina_live_isolates gauge\n"));

    for shard in ["0", "1"] {
        let sink = [("shard", shard), ("type", "Sink")];
        assert_eq!(
            value_of(&scrape, "sink_messages_total", &[("shard", shard)]),
            Some(50.0)
        );
        // init + 50 messages
        assert_eq!(
            value_of(&scrape, "tina_handler_calls_total", &sink),
            Some(51.0)
        );
        assert_eq!(value_of(&scrape, "tina_isolates_live", &sink), Some(1.0));
        assert_eq!(value_of(&scrape, "tina_isolate_slots", &sink), Some(1.0));
        assert_eq!(value_of(&scrape, "tina_mailbox_queued", &sink), Some(0.0));
        assert_eq!(
            value_of(
                &scrape,
                "tina_sends_refused_total",
                &[
                    ("shard", shard),
                    ("type", "Sink"),
                    ("reason", "mailbox_full")
                ]
            ),
            Some(0.0)
        );
        // The user histogram: 50 values 1..=50, sum 1275.
        let values = scrape
            .samples
            .iter()
            .find(|sample| {
                sample.metric == "sink_values" && sample.labels.get("shard") == Some(shard)
            })
            .expect("the user histogram");
        let Value::Histogram(buckets) = &values.value else {
            panic!("sink_values is not a histogram: {:?}", values.value);
        };
        let mut previous = 0.0;
        for bucket in buckets {
            assert!(bucket.count >= previous, "cumulative: {buckets:?}");
            previous = bucket.count;
        }
        assert_eq!(
            buckets.last().map(|b| (b.less_than, b.count)),
            Some((f64::INFINITY, 50.0))
        );
        // Values 1..=50: 31 of them are at most 31 (a bucket top: 2^5 - 1).
        let at_31 = buckets
            .iter()
            .find(|bucket| bucket.less_than == 31.0)
            .unwrap();
        assert_eq!(at_31.count, 31.0);
        assert!(text.contains(&format!("sink_values_sum{{shard=\"{shard}\"}} 1275\n")));
        assert!(text.contains(&format!("sink_values_count{{shard=\"{shard}\"}} 50\n")));
    }
    // Dispatches on shard 0 include the feeder's and the metrics server's own.
    let dispatched = value_of(&scrape, "tina_dispatched_total", &[("shard", "0")]).unwrap();
    assert!(dispatched >= 53.0, "{dispatched}");
    assert_eq!(
        value_of(
            &scrape,
            "tina_isolates_live",
            &[("shard", "0"), ("type", "MetricsServer")]
        ),
        Some(1.0)
    );
    // The handler-time histogram of each type ends in +Inf = _count.
    let handler = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "tina_handler_seconds")
        .count();
    assert_eq!(
        handler,
        2 * 3,
        "one per shard and type (Sink, Feeder, MetricsServer)"
    );
}

#[test]
fn other_paths_methods_and_long_heads_are_refused() {
    let (system, addr) = system();
    let (status, _, body) = exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(String::from_utf8_lossy(&body).contains("/metrics"));
    let (status, _, _) = exchange(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let mut long = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', tina::metrics::REQUEST_MAX));
    long.extend_from_slice(b"\r\n\r\n");
    let (status, _, _) = exchange(addr, &long);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    let (status, headers, body) = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        body.is_empty() && headers.contains("Content-Length: "),
        "{headers}"
    );
    // Still serving after all that.
    let (scrape, _) = scrape(addr);
    assert!(!scrape.samples.is_empty());
    system.shutdown(Duration::from_secs(2));
}
