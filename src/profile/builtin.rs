//! The built-in `default` profile as build.rs parsed it from
//! profiles/default.toml: nearly every run applies it (by name, when no
//! profile is named, or through another built-in's include), and parsing
//! its TOML was a large part of the monitor's start-up. Only a built-in
//! source with exactly this text takes this path (a user's own
//! `default.toml` is parsed); a unit test requires the result to be what
//! the TOML parser makes of the file, spans included.

use std::ops::Range;

use serde::de::value::Error;
use serde::de::{DeserializeOwned, IntoDeserializer};

// The sections the generated code names.
use super::schema::*;

pub const DEFAULT: &str = include_str!("../../profiles/default.toml");

/// The value build.rs found at `span`, made into its field's type by the
/// type's own `Deserialize`, as the TOML parser makes it.
fn s<T: DeserializeOwned, V: IntoDeserializer<'static, Error>>(
    span: Range<usize>,
    v: V,
) -> Result<S<T>, Error> {
    Ok(S::new(span, T::deserialize(v.into_deserializer())?))
}

include!(concat!(env!("OUT_DIR"), "/builtin_profile.rs"));
