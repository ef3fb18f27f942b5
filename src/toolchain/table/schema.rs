//! The toolchain table's format: the types `profiles/toolchains.toml`
//! deserializes into. build.rs includes this file too and parses the
//! built-in table into these very types, so it rejects what
//! [`super::Table::parse`] rejects (`deny_unknown_fields`, missing keys)
//! before it writes them as Rust code. It uses nothing but serde.

use serde::Deserialize;

/// Every toolchain sandbox knows, and the secrets it never shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    #[serde(rename = "toolchain", default)]
    pub toolchains: Vec<Toolchain>,
    #[serde(default)]
    pub secrets: Secrets,
    #[serde(rename = "cache", default)]
    pub caches: Vec<CacheEntry>,
}

/// A tool's package caches.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheEntry {
    /// The command whose presence on PATH lets `rw` create a missing cache.
    pub tool: String,
    pub paths: Vec<String>,
}

/// One toolchain manager.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Toolchain {
    /// What `explain` calls it.
    pub name: String,
    /// Directories beneath which its commands live; the one that matched is shared.
    pub bin: Vec<String>,
    /// What else it needs to run, shared when present.
    #[serde(default)]
    pub share: Vec<String>,
    /// Variables of the caller passed on when set.
    #[serde(default)]
    pub env: Vec<String>,
    /// A command whose real path, two levels up, is shared too (GOROOT).
    #[serde(default)]
    pub root_of: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub paths: Vec<String>,
}
