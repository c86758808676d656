//! The simulated transport between shards.
//!
//! In production an envelope for another shard goes into the ring of that ordered pair and
//! the receiver takes it from there. In a simulation the simulator stands in the middle of
//! every such ring: the sender's ring ends at the simulator (the "wire"), which moves each
//! envelope into a bounded in-flight queue, and from there, when it is due, into a second
//! ring that the receiving shard drains exactly as it drains a ring in production. The
//! shards' code is the same in both modes; only who holds the far end of a ring differs.
//!
//! On the way an envelope may be dropped, delayed (per-pair FIFO unless reordering is on)
//! or held on a cut link until its partition heals. Everything is bounded by the ring
//! capacity: an in-flight queue holds at most one ring's worth, and while it is full the
//! simulator leaves envelopes in the sender's ring, so a sender meets `RingFull` exactly as
//! it would against a slow receiver.

use std::collections::VecDeque;

use tina_mailbox::{Consumer, Producer, Ring};

use super::faults::{FaultCounts, Faults};
use super::rng::Rng;
use crate::envelope::Envelope;

/// One ordered pair's path through the simulator.
struct Link {
    /// The far end of the sender's ring.
    wire: Consumer<Envelope>,
    /// The ring the receiver drains.
    deliver: Producer<Envelope>,
    /// Envelopes on the way, with the time each is due, in delivery order.
    in_flight: VecDeque<(u64, Envelope)>,
    /// The latest due time handed out (per-pair FIFO without reordering).
    last_due: u64,
    /// Envelopes taken from the wire.
    taken: u64,
    /// Envelopes handed to the receiver's ring.
    delivered: u64,
    /// Envelopes dropped by an injected fault.
    dropped: u64,
}

/// A partition in force: which links are cut, and when it heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    /// The partitioned shard.
    pub(crate) shard: usize,
    /// Envelopes from the shard are held.
    pub(crate) outbound: bool,
    /// Envelopes to the shard are held.
    pub(crate) inbound: bool,
    /// When it heals (`u64::MAX`: when the test heals it).
    pub(crate) heal_at: u64,
}

/// The whole transport of one simulation.
pub(crate) struct Transport {
    /// `links[from * shards + to]`; `None` on the diagonal.
    links: Vec<Option<Link>>,
    /// Per sender: the earliest due time at the front of its links' in-flight queues, cut
    /// or not (`u64::MAX`: all empty), kept exact, so a sender with nothing due is not
    /// visited each round.
    next_due: Vec<u64>,
    shards: usize,
    capacity: usize,
    pub(crate) faults: Faults,
    rng: Rng,
    pub(crate) cut: Option<Cut>,
    pub(crate) counts: FaultCounts,
}

impl Transport {
    /// Interposes on every inbound ring of `inbound` (per receiving shard, ordered by sender,
    /// skipping the receiver): each shard gets the consuming half of a fresh ring, and the
    /// simulator keeps the far end of the old one.
    pub(crate) fn interpose(
        inbound: &mut [&mut Vec<Consumer<Envelope>>],
        capacity: usize,
        faults: Faults,
        rng: Rng,
    ) -> Transport {
        let shards = inbound.len();
        let mut links: Vec<Option<Link>> = (0..shards * shards).map(|_| None).collect();
        for (to, rings) in inbound.iter_mut().enumerate() {
            for (ring, consumer) in rings.iter_mut().enumerate() {
                let from = if ring < to { ring } else { ring + 1 };
                let (deliver, receiver) = Ring::new(capacity).split();
                let wire = core::mem::replace(consumer, receiver);
                links[from * shards + to] = Some(Link {
                    wire,
                    deliver,
                    in_flight: VecDeque::with_capacity(capacity),
                    last_due: 0,
                    taken: 0,
                    delivered: 0,
                    dropped: 0,
                });
            }
        }
        Transport {
            links,
            next_due: vec![u64::MAX; shards],
            shards,
            capacity,
            faults,
            rng,
            cut: None,
            counts: FaultCounts::default(),
        }
    }

    /// Per sender: envelopes waiting in its wires (at interposition: what the old rings
    /// held, which the shards counted as sent but no receiver has taken).
    pub(crate) fn waiting_per_sender(&mut self) -> Vec<u64> {
        let mut waiting = vec![0u64; self.shards];
        for (index, link) in self.links.iter_mut().enumerate() {
            if let Some(link) = link {
                waiting[index / self.shards] += link.wire.available() as u64;
            }
        }
        waiting
    }

    fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut.is_some_and(|cut| {
            (cut.outbound && cut.shard == from) || (cut.inbound && cut.shard == to)
        })
    }

    /// Once per round, before the shards tick: heals a partition that is due and, when none
    /// is in force, may start one.
    pub(crate) fn round(&mut self, now: u64) {
        if let Some(cut) = self.cut
            && cut.heal_at <= now
        {
            self.cut = None;
        }
        if self.cut.is_none() && self.shards > 1 && self.faults.partition.hit(&mut self.rng) {
            let shard = self.rng.below(self.shards as u64) as usize;
            let (outbound, inbound) = if self.faults.one_way.hit(&mut self.rng) {
                self.counts.one_way_partitions += 1;
                if self.rng.below(2) == 0 {
                    (true, false)
                } else {
                    (false, true)
                }
            } else {
                (true, true)
            };
            let length = 1 + self.rng.below(self.faults.partition_max_nanos());
            self.cut = Some(Cut {
                shard,
                outbound,
                inbound,
                heal_at: now.saturating_add(length),
            });
            self.counts.partitions += 1;
        }
        for from in 0..self.shards {
            self.deliver_due(from, now);
        }
    }

    /// After shard `from` ticked: takes what it sent and delivers what is due.
    pub(crate) fn pump(&mut self, from: usize, now: u64) {
        for to in 0..self.shards {
            if to == from || self.is_cut(from, to) {
                continue;
            }
            let faults = &self.faults;
            let rng = &mut self.rng;
            let counts = &mut self.counts;
            let capacity = self.capacity;
            let next_due = &mut self.next_due[from];
            let Some(link) = self.links[from * self.shards + to].as_mut() else {
                continue;
            };
            // Envelopes handed straight to the receiver's ring this pump: they count against
            // the in-flight bound as if they had passed through the queue (which is what
            // `deliver_due` below would have done with them), so what is taken from the wire,
            // and hence when a sender meets `RingFull`, is the same either way.
            let mut direct = 0usize;
            while link.in_flight.len() + direct < capacity {
                let Some(envelope) = link.wire.try_pop() else {
                    break;
                };
                link.taken += 1;
                if faults.drop.hit(rng) {
                    link.dropped += 1;
                    counts.dropped += 1;
                    // The payload is a user value: its `Drop` runs inside the trap.
                    crate::supervision::crash::drop_caught(envelope);
                    continue;
                }
                let mut due = now;
                if faults.delay.hit(rng) {
                    counts.delayed += 1;
                    due = now.saturating_add(1 + rng.below(faults.delay_max_nanos()));
                }
                // The fast path: due now, nothing queued that is due now or earlier (so
                // nothing would be delivered before it), and room in the receiver's ring —
                // the queue would have held it only until `deliver_due` below.
                if due <= now
                    && link.last_due <= now
                    && link.in_flight.front().is_none_or(|&(first, _)| first > now)
                    && link.deliver.has_room()
                {
                    if link.deliver.try_push(envelope).is_err() {
                        unreachable!("room was checked");
                    }
                    link.last_due = link.last_due.max(due);
                    link.delivered += 1;
                    direct += 1;
                    continue;
                }
                if faults.reorder {
                    // Keep the queue sorted by due time; equal times keep their order.
                    let at = link.in_flight.partition_point(|&(other, _)| other <= due);
                    link.in_flight.insert(at, (due, envelope));
                    *next_due = (*next_due).min(due);
                } else {
                    due = due.max(link.last_due);
                    link.last_due = due;
                    link.in_flight.push_back((due, envelope));
                    // Per-pair FIFO: the front only changes when the queue was empty, and
                    // then it is this envelope.
                    *next_due = (*next_due).min(due);
                }
            }
            if direct > 0 {
                link.deliver.publish();
            }
        }
        self.deliver_due(from, now);
    }

    /// Moves every due envelope of `from`'s links into the receivers' rings, as far as they
    /// have room.
    fn deliver_due(&mut self, from: usize, now: u64) {
        if self.next_due[from] > now {
            return;
        }
        let mut next_due = u64::MAX;
        for to in 0..self.shards {
            // A cut link delivers nothing, but its queue still counts for the minimum.
            let cut = self.is_cut(from, to);
            let Some(link) = self.links[from * self.shards + to].as_mut() else {
                continue;
            };
            let mut moved = false;
            while !cut && link.in_flight.front().is_some_and(|&(due, _)| due <= now) {
                if !link.deliver.has_room() {
                    break;
                }
                let Some((_, envelope)) = link.in_flight.pop_front() else {
                    break;
                };
                if link.deliver.try_push(envelope).is_err() {
                    debug_assert!(false, "room was checked");
                    break;
                }
                link.delivered += 1;
                moved = true;
            }
            if moved {
                link.deliver.publish();
            }
            if let Some(&(due, _)) = link.in_flight.front() {
                next_due = next_due.min(due);
            }
        }
        self.next_due[from] = next_due;
    }

    /// Whether anything is on the way (in a wire or an in-flight queue).
    pub(crate) fn busy(&mut self) -> bool {
        self.links
            .iter_mut()
            .flatten()
            .any(|link| !link.in_flight.is_empty() || !link.wire.is_empty())
    }

    /// The earliest time something on the way could move: a delayed envelope falls due or a
    /// partition heals.
    pub(crate) fn next_deadline(&self, now: u64) -> Option<u64> {
        if self.cut.is_none() {
            // No link is cut: the earliest front of any queue, from the per-sender minima
            // (`u64::MAX` stands for "all empty" but is also a due time a saturated clock
            // can reach: that case is left to the full scan below).
            let earliest = self.next_due.iter().copied().min().unwrap_or(u64::MAX);
            if earliest != u64::MAX {
                return Some(earliest.max(now));
            }
        }
        let mut next: Option<u64> = None;
        let mut consider = |time: u64| next = Some(next.map_or(time, |next| next.min(time)));
        for (index, link) in self.links.iter().enumerate() {
            let Some(link) = link else { continue };
            let (from, to) = (index / self.shards, index % self.shards);
            if self.is_cut(from, to) {
                continue;
            }
            if let Some(&(due, _)) = link.in_flight.front() {
                consider(due.max(now));
            }
        }
        if let Some(cut) = self.cut
            && cut.heal_at != u64::MAX
        {
            consider(cut.heal_at);
        }
        next
    }

    /// The transport's part of the delivery ledger, per shard: envelopes taken from each
    /// sender and still in its wire, and envelopes delivered to each receiver and still in
    /// its ring, checked against what the shards counted (`sent` and `received` per shard).
    /// Per link: taken = delivered + dropped + in flight.
    pub(crate) fn check_ledger(&mut self, sent: &[u64], received: &[u64]) -> Result<(), String> {
        let shards = self.shards;
        let mut from_sender = vec![0u64; shards];
        let mut to_receiver = vec![0u64; shards];
        for (index, link) in self.links.iter_mut().enumerate() {
            let Some(link) = link else { continue };
            let (from, to) = (index / shards, index % shards);
            let in_flight = link.in_flight.len() as u64;
            if link.taken != link.delivered + link.dropped + in_flight {
                return Err(format!(
                    "transport {from}->{to}: {} envelopes taken but {} delivered + {} dropped + \
                     {in_flight} in flight",
                    link.taken, link.delivered, link.dropped
                ));
            }
            from_sender[from] += link.taken + link.wire.available() as u64;
            let waiting = (link.deliver.capacity() - link.deliver.free_slots()) as u64;
            to_receiver[to] += link.delivered - waiting;
        }
        for shard in 0..shards {
            if from_sender[shard] != sent[shard] {
                return Err(format!(
                    "shard {shard} counted {} envelopes sent to other shards, the transport \
                     holds or moved {}",
                    sent[shard], from_sender[shard]
                ));
            }
            if to_receiver[shard] != received[shard] {
                return Err(format!(
                    "shard {shard} counted {} envelopes taken from other shards, the transport \
                     delivered {} it has taken",
                    received[shard], to_receiver[shard]
                ));
            }
        }
        Ok(())
    }
}
