//! The report (`--report-fd`, `--report-file`): JSON lines, one object
//! each, with a stable schema. Every line has `time` (RFC 3339, UTC, in
//! milliseconds) and `event`; readers ignore keys and events they do not
//! know, so new ones may be added, never changed:
//!
//! ```text
//! {"time":"…","event":"start","child-pid":4242,"command-pid":4243}
//! {"time":"…","event":"name-refused","name":"other.test","type":"A","rule":"no-allow-host","reason":"…"}
//! {"time":"…","event":"name-allowed","name":"pypi.org","type":"AAAA","rule":"pypi.org","addresses":["2a04:…"],"ttl":300}
//! {"time":"…","event":"connection-refused","address":"198.51.100.8","port":80,"protocol":"tcp","rule":"unknown-address","reason":"…"}
//! {"time":"…","event":"refusals-suppressed","refused":"connection-refused","address":"198.51.100.8","port":80,"protocol":"tcp","count":1234}
//! {"time":"…","event":"exit","exit-code":143,"signal":15}
//! ```
//!
//! `refusals-suppressed` counts the refusals of one destination that were
//! not written in full (see [`super::limit`]): `refused` names their event,
//! then the name, or the address, port and protocol, as theirs;
//! `other-destinations` (no name or address) counts those of destinations
//! beyond the ones told apart.
//!
//! `rule` names what refused: for names `no-allow-host`,
//! `not-a-host-name`, `unsupported-query`; for connections
//! `unknown-address` (no allowed name resolved to it and no
//! `--allow-addr` covers it), `port` (allowed on other ports or
//! protocols only; `ports` lists them), `expired` (an answer allowed it,
//! and its time ran out). `name` on a refused connection is the allowed
//! name the address last came from, when there is one.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One event of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    #[serde(rename_all = "kebab-case")]
    Start { child_pid: u32, command_pid: u32 },
    NameRefused {
        name: String,
        #[serde(rename = "type")]
        qtype: String,
        rule: &'static str,
        reason: String,
    },
    NameAllowed {
        name: String,
        #[serde(rename = "type")]
        qtype: String,
        /// The `--allow-host` rule that matched.
        rule: String,
        addresses: Vec<String>,
        /// Seconds each address stays reachable (the TTL, at least the floor).
        ttl: u64,
    },
    ConnectionRefused {
        address: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        protocol: String,
        rule: &'static str,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        ports: Vec<u16>,
    },
    #[serde(rename_all = "kebab-case")]
    RefusalsSuppressed {
        refused: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        count: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        other_destinations: bool,
    },
    #[serde(rename_all = "kebab-case")]
    Exit {
        exit_code: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
    },
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// The line for `event` at `time`, with its newline.
pub fn line(time: SystemTime, event: &Event) -> String {
    let mut s = serde_json::to_string(&Line { time: rfc3339(time), event }).unwrap_or_default();
    s.push('\n');
    s
}

/// `2026-12-02T17:47:09.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, ms) = (d.as_secs(), d.subsec_millis());
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, day) = civil(days as i64);
    format!("{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_796_233_629, 123)), "2026-12-02T17:47:09.123Z");
        assert_eq!(rfc3339(at(4_107_542_399, 999)), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn the_schema() {
        let t = at(0, 0);
        let refused = Event::NameRefused {
            name: "other.test".into(),
            qtype: "A".into(),
            rule: "no-allow-host",
            reason: "no --allow-host rule matches the name".into(),
        };
        assert_eq!(
            line(t, &refused),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"event\":\"name-refused\",\"name\":\"other.test\",\"type\":\"A\",\"rule\":\"no-allow-host\",\"reason\":\"no --allow-host rule matches the name\"}\n"
        );
        let conn = Event::ConnectionRefused {
            address: "198.51.100.8".into(),
            port: Some(80),
            protocol: "tcp".into(),
            rule: "unknown-address",
            reason: "r".into(),
            name: None,
            ports: vec![],
        };
        assert_eq!(
            line(t, &conn),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"event\":\"connection-refused\",\"address\":\"198.51.100.8\",\"port\":80,\"protocol\":\"tcp\",\"rule\":\"unknown-address\",\"reason\":\"r\"}\n"
        );
        let start = line(t, &Event::Start { child_pid: 1, command_pid: 2 });
        assert!(start.ends_with("\"event\":\"start\",\"child-pid\":1,\"command-pid\":2}\n"), "{start}");
        let exit = line(t, &Event::Exit { exit_code: 143, signal: Some(15), timed_out: false });
        assert!(exit.ends_with("\"event\":\"exit\",\"exit-code\":143,\"signal\":15}\n"), "{exit}");
        let to = line(t, &Event::Exit { exit_code: 124, signal: None, timed_out: true });
        assert!(to.ends_with("\"exit-code\":124,\"timed-out\":true}\n"), "{to}");
        // A name with control characters stays one line.
        let odd =
            Event::NameRefused { name: "a\nb".into(), qtype: "A".into(), rule: "x", reason: String::new() };
        assert_eq!(line(t, &odd).matches('\n').count(), 1);
    }
}
