//! A `top` for shards: a text view of a [`Stats`](super::Stats) snapshot.
