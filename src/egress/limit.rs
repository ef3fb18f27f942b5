//! How much of a flood of refusals the report shows: a command that
//! hammers one blocked destination must not flood the report (which may
//! be the caller's stderr, `--report-fd 2`). The first
//! [`FIRST_PER_DESTINATION`] refusals of each destination are written in
//! full; later ones are counted, and a `refusals-suppressed` line gives the
//! count at most every [`SUMMARY_EVERY`] while they go on, and once more
//! for every count left at the end, before the exit line. A destination is
//! a refused name, or an address, port and protocol. At most
//! [`MAX_DESTINATIONS`] are told apart; refusals of others are counted
//! together (`other-destinations`), so memory stays bounded too.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::report::Event;

/// Refusals of one destination reported in full.
pub const FIRST_PER_DESTINATION: u32 = 10;
/// The shortest time between two summaries of one destination.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// Destinations told apart.
pub const MAX_DESTINATIONS: usize = 4096;

/// What a refusal was refused for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Destination {
    refused: &'static str,
    name: Option<String>,
    address: Option<String>,
    port: Option<u16>,
    protocol: Option<String>,
}

#[derive(Debug)]
struct Count {
    reported: u32,
    suppressed: u64,
    last_summary: Instant,
}

/// The counts of a run's refusals.
#[derive(Debug, Default)]
pub struct Limiter {
    seen: BTreeMap<Destination, Count>,
    /// Refusals of destinations beyond the first [`MAX_DESTINATIONS`].
    others: Option<(Destination, Count)>,
}

impl Limiter {
    /// Whether `e` is to be written at `now`, and the summary to write
    /// before it, if one is due. Events that are not refusals always are.
    pub fn admit(&mut self, e: &Event, now: Instant) -> (bool, Option<Event>) {
        let Some(dest) = destination(e) else { return (true, None) };
        let fresh = |reported| Count { reported, suppressed: 0, last_summary: now };
        let (dest, count) = if let Some(c) = self.seen.get_mut(&dest) {
            (dest, c)
        } else if self.seen.len() < MAX_DESTINATIONS {
            (dest.clone(), self.seen.entry(dest).or_insert(fresh(0)))
        } else {
            let other = Destination { name: None, address: None, port: None, protocol: None, ..dest };
            let (d, c) = self.others.get_or_insert_with(|| (other, fresh(FIRST_PER_DESTINATION)));
            (d.clone(), c)
        };
        if count.reported < FIRST_PER_DESTINATION {
            count.reported += 1;
            return (true, None);
        }
        count.suppressed += 1;
        if now.duration_since(count.last_summary) < SUMMARY_EVERY {
            return (false, None);
        }
        (false, Some(summary(&dest, count, now)))
    }

    /// A summary for every count not yet written, at the end.
    pub fn drain(&mut self, now: Instant) -> Vec<Event> {
        let others = self.others.iter_mut().map(|(d, c)| (&*d, c));
        self.seen
            .iter_mut()
            .chain(others)
            .filter(|(_, c)| c.suppressed > 0)
            .map(|(d, c)| summary(d, c, now))
            .collect()
    }
}

/// The summary of `count`, which starts again from zero.
fn summary(dest: &Destination, count: &mut Count, now: Instant) -> Event {
    let n = std::mem::take(&mut count.suppressed);
    count.last_summary = now;
    let Destination { refused, name, address, port, protocol } = dest.clone();
    let other_destinations = name.is_none() && address.is_none();
    Event::RefusalsSuppressed { refused, name, address, port, protocol, count: n, other_destinations }
}

fn destination(e: &Event) -> Option<Destination> {
    match e {
        Event::NameRefused { name, .. } => Some(Destination {
            refused: "name-refused",
            name: Some(name.clone()),
            address: None,
            port: None,
            protocol: None,
        }),
        Event::ConnectionRefused { address, port, protocol, .. } => Some(Destination {
            refused: "connection-refused",
            name: None,
            address: Some(address.clone()),
            port: *port,
            protocol: Some(protocol.clone()),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(address: &str, port: u16) -> Event {
        Event::ConnectionRefused {
            address: address.into(),
            port: Some(port),
            protocol: "tcp".into(),
            rule: "unknown-address",
            reason: String::new(),
            name: None,
            ports: vec![],
        }
    }

    fn name(n: &str) -> Event {
        Event::NameRefused { name: n.into(), qtype: "A".into(), rule: "no-allow-host", reason: String::new() }
    }

    fn count(e: &Event) -> u64 {
        match e {
            Event::RefusalsSuppressed { count, .. } => *count,
            other => panic!("not a summary: {other:?}"),
        }
    }

    #[test]
    fn the_first_of_each_destination_then_counts() {
        let (mut l, t0) = (Limiter::default(), Instant::now());
        let written = |l: &mut Limiter, e: &Event| (0..100).filter(|_| l.admit(e, t0).0).count();
        assert_eq!(written(&mut l, &conn("192.0.2.1", 80)), 10);
        // Another port, another address, a name: each its own destination.
        assert_eq!(written(&mut l, &conn("192.0.2.1", 443)), 10);
        assert_eq!(written(&mut l, &conn("192.0.2.2", 80)), 10);
        assert_eq!(written(&mut l, &name("other.test")), 10);
        // Other events are never held back.
        let exit = Event::Exit { exit_code: 0, signal: None, timed_out: false };
        assert!((0..100).all(|_| l.admit(&exit, t0) == (true, None)));
        let end = l.drain(t0);
        assert_eq!(end.iter().map(count).collect::<Vec<_>>(), [90, 90, 90, 90]);
        let line = super::super::report::line(std::time::UNIX_EPOCH, &end[0]);
        assert!(
            line.ends_with(
                "\"event\":\"refusals-suppressed\",\"refused\":\"connection-refused\",\"address\":\"192.0.2.1\",\"port\":80,\"protocol\":\"tcp\",\"count\":90}\n"
            ),
            "{line}"
        );
        assert!(l.drain(t0).is_empty(), "counted twice");
    }

    #[test]
    fn a_summary_at_most_every_interval_while_it_goes_on() {
        let (mut l, t0) = (Limiter::default(), Instant::now());
        let e = conn("192.0.2.1", 80);
        for _ in 0..15 {
            assert_eq!(l.admit(&e, t0).1, None);
        }
        let later = t0 + SUMMARY_EVERY;
        let (write, summary) = l.admit(&e, later);
        assert!(!write);
        assert_eq!(summary.as_ref().map(count), Some(6));
        assert_eq!(l.admit(&e, later + Duration::from_secs(1)), (false, None));
        assert_eq!(l.drain(later).iter().map(count).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn beyond_the_destinations_told_apart_one_count() {
        let (mut l, t0) = (Limiter::default(), Instant::now());
        for i in 0..MAX_DESTINATIONS {
            assert!(l.admit(&conn("192.0.2.1", i as u16), t0).0);
        }
        assert!(!l.admit(&conn("192.0.2.1", 65000), t0).0);
        assert!(!l.admit(&conn("192.0.2.2", 1), t0).0);
        let end = l.drain(t0);
        assert_eq!(end.len(), 1);
        assert_eq!(count(&end[0]), 2);
        let line = super::super::report::line(std::time::UNIX_EPOCH, &end[0]);
        assert!(
            line.contains("\"refused\":\"connection-refused\",\"count\":2,\"other-destinations\":true}"),
            "{line}"
        );
    }
}
