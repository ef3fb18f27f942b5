//! Serde for byte strings: paths, arguments and environment values are
//! bytes on Linux, not UTF-8. UTF-8 text is written as a JSON string,
//! anything else as `{"bytes": [..]}`, so that no path is ever mangled.
//! Used by the Plan's types as `#[serde(with = "...")]`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One byte string.
pub(crate) mod os_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Repr {
        Text(String),
        Bytes { bytes: Vec<u8> },
    }

    pub(super) fn to_repr(s: &std::ffi::OsStr) -> Repr {
        match s.to_str() {
            Some(t) => Repr::Text(t.to_owned()),
            None => Repr::Bytes { bytes: s.as_bytes().to_vec() },
        }
    }

    pub(super) fn from_repr(r: Repr) -> OsString {
        match r {
            Repr::Text(t) => OsString::from(t),
            Repr::Bytes { bytes } => OsString::from_vec(bytes),
        }
    }

    pub fn serialize<S: Serializer>(v: &OsString, s: S) -> Result<S::Ok, S::Error> {
        to_repr(v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OsString, D::Error> {
        Repr::deserialize(d).map(from_repr)
    }
}

pub(crate) mod os_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        os_str::to_repr(std::ffi::OsStr::from_bytes(v)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        os_str::Repr::deserialize(d).map(|r| os_str::from_repr(r).into_vec())
    }
}

pub(crate) mod opt_os_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<OsString>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|p| os_str::to_repr(p)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OsString>, D::Error> {
        Option::<os_str::Repr>::deserialize(d).map(|o| o.map(os_str::from_repr))
    }
}

pub(crate) mod os_vec_path {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        let r: Vec<os_str::Repr> = v.iter().map(|p| os_str::to_repr(p.as_os_str())).collect();
        r.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
        Vec::<os_str::Repr>::deserialize(d)
            .map(|v| v.into_iter().map(|r| PathBuf::from(os_str::from_repr(r))).collect())
    }
}

pub(crate) mod os_path {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
        os_str::to_repr(v.as_os_str()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        os_str::Repr::deserialize(d).map(|r| PathBuf::from(os_str::from_repr(r)))
    }
}

pub(crate) mod opt_os_path {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|p| os_str::to_repr(p.as_os_str())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Option::<os_str::Repr>::deserialize(d).map(|o| o.map(|r| PathBuf::from(os_str::from_repr(r))))
    }
}

pub(crate) mod os_vec {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[OsString], s: S) -> Result<S::Ok, S::Error> {
        let r: Vec<os_str::Repr> = v.iter().map(|a| os_str::to_repr(a)).collect();
        r.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OsString>, D::Error> {
        Vec::<os_str::Repr>::deserialize(d).map(|v| v.into_iter().map(os_str::from_repr).collect())
    }
}
