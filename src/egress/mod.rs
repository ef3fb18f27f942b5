//! Egress by host name (`--allow-host`, `--allow-addr`): the pure parts.
//!
//! With user-mode networking the sandbox's own network namespace gets a
//! firewall that lets packets out only to addresses an allowed name
//! resolved to (through the sandbox's DNS filter) or an `--allow-addr`
//! rule names, and rejects everything else at once. This module holds
//! what can be decided and encoded without the monitor's own syscalls: the
//! rules ([`pattern`]), the DNS filter's decisions ([`dns`] over [`wire`]),
//! the firewall ([`ruleset`]) and its netlink messages ([`netlink`],
//! [`nflog`]), the monitor's copy of what answers allowed ([`grants`]), the
//! report's lines ([`report`]) and how much of a flood of refusals it
//! shows ([`limit`]), the gateways ([`routes`]), and the filter's
//! threads ([`serve`]), which work only on sockets they are handed. The
//! helper that makes those sockets inside the sandbox's namespaces, and
//! the order of it all, are `launch/monitor/egress/`'s.

pub mod dns;
pub mod grants;
pub mod limit;
pub mod netlink;
pub mod nflog;
pub mod pattern;
pub mod report;
pub mod routes;
pub mod ruleset;
pub mod serve;
pub mod wire;

pub use pattern::{AddrRule, HostPattern, Ports};
