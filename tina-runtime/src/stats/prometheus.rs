//! Prometheus text exposition of a [`Stats`](super::Stats) snapshot.
