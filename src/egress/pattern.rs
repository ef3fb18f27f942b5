//! What the sandbox may reach: host names (`--allow-host PATTERN[:PORT]`)
//! and addresses (`--allow-addr CIDR[:PORT]`), parsed, printed and matched.
//!
//! A name pattern is an exact name (`pypi.org`) or `*.` and a name
//! (`*.pythonhosted.org`: every name beneath it, at any depth, but not the
//! name itself). Names compare without case and without a trailing dot.
//! A port narrows a rule to that TCP or UDP port; without one every port
//! and protocol is allowed.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest name DNS can carry, in its text form.
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// One `--allow-host` rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    /// The name, lower case, without a trailing dot (for a wildcard, the
    /// part after `*.`).
    pub name: String,
    /// `*.name`: every name beneath `name`.
    pub wildcard: bool,
    /// The only port allowed (TCP and UDP); none: every port and protocol.
    pub port: Option<u16>,
}

/// One `--allow-addr` rule: a network (an address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddrRule {
    pub addr: IpAddr,
    pub prefix: u8,
    /// The only port allowed (TCP and UDP); none: every port and protocol.
    pub port: Option<u16>,
}

/// Which ports a name or an address is allowed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ports {
    /// Every port and protocol.
    Any,
    /// Only these TCP and UDP ports (sorted, no duplicates).
    Only(Vec<u16>),
}

impl Ports {
    /// The union of two grants.
    pub fn join(self, other: Ports) -> Ports {
        match (self, other) {
            (Ports::Any, _) | (_, Ports::Any) => Ports::Any,
            (Ports::Only(mut a), Ports::Only(b)) => {
                a.extend(b);
                a.sort_unstable();
                a.dedup();
                Ports::Only(a)
            }
        }
    }
}

fn port(s: &str, whole: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{whole}: '{}' is not a port from 1 to 65535", crate::escape::str(s))),
    }
}

/// Checks one label of a host name: letters, digits, `-` and `_`, not
/// starting or ending with `-`.
fn label_ok(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= MAX_LABEL
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// A host name in the form the patterns compare: lower case, no trailing
/// dot; `None` when it is not a host name (empty labels, other bytes).
pub fn normalize(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    (name.len() <= MAX_NAME && name.split('.').all(label_ok)).then_some(name)
}

impl HostPattern {
    /// Whether `name` (already [`normalize`]d) matches.
    pub fn matches(&self, name: &str) -> bool {
        match self.wildcard {
            false => name == self.name,
            true => {
                name.len() > self.name.len() + 1
                    && name.ends_with(&self.name)
                    && name.as_bytes()[name.len() - self.name.len() - 1] == b'.'
            }
        }
    }

    /// The ports this rule grants.
    pub fn ports(&self) -> Ports {
        self.port.map_or(Ports::Any, |p| Ports::Only(vec![p]))
    }
}

impl FromStr for HostPattern {
    type Err = String;

    /// `NAME[:PORT]` or `*.NAME[:PORT]`.
    fn from_str(raw: &str) -> Result<HostPattern, String> {
        let s = crate::escape::str(raw);
        let (spec, port) = match raw.rsplit_once(':') {
            Some((spec, p)) => (spec, Some(port(p, &s)?)),
            None => (raw, None),
        };
        if spec.parse::<IpAddr>().is_ok() || spec.starts_with('[') || spec.contains(':') {
            return Err(format!("{s}: an address, not a host name (use --allow-addr)"));
        }
        if spec == "*" || spec == "*." {
            return Err(format!("{s}: that is every name: --net user without --allow-host allows them all"));
        }
        let (wildcard, name) = match spec.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        if name.contains('*') {
            return Err(format!("{s}: '*' only as the whole first label, as in *.example.org"));
        }
        let name = normalize(name).ok_or_else(|| {
            format!("{s}: not a host name (labels of letters, digits, '-' and '_', separated by dots)")
        })?;
        if wildcard && !name.contains('.') {
            return Err(format!(
                "{s}: a wildcard needs a name with a dot in it (*.{name} is a whole top-level domain)"
            ));
        }
        Ok(HostPattern { name, wildcard, port })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.name)?;
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

impl TryFrom<String> for HostPattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<HostPattern> for String {
    fn from(p: HostPattern) -> String {
        p.to_string()
    }
}

/// What the `--allow-host` rules say about one name: the ports it is
/// allowed on and the first rule that matched (for the report), or `None`
/// when no rule matches.
pub fn lookup<'a>(rules: &'a [HostPattern], name: &str) -> Option<(Ports, &'a HostPattern)> {
    let mut hits = rules.iter().filter(|r| r.matches(name));
    let first = hits.next()?;
    let ports = hits.fold(first.ports(), |acc, r| acc.join(r.ports()));
    Some((ports, first))
}

impl AddrRule {
    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn max_prefix(&self) -> u8 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }
}

/// `ADDR[/PREFIX]` with a plain address.
fn network(spec: &str, whole: &str) -> Result<(IpAddr, u8), String> {
    let e = crate::escape::str;
    let (addr, prefix) = match spec.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (spec, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| format!("{whole}: '{}' is not an IP address", e(addr)))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("{whole}: '/{}' is not a prefix length from 0 to {max}", e(p))),
        },
    };
    Ok((addr, prefix))
}

impl FromStr for AddrRule {
    type Err = String;

    /// `192.0.2.0/24`, `192.0.2.7:443`, `2001:db8::/32`, `[2001:db8::1]:22`,
    /// `[2001:db8::/32]:443`.
    fn from_str(raw: &str) -> Result<AddrRule, String> {
        let s = crate::escape::str(raw);
        let (spec, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (spec, after) =
                rest.split_once(']').ok_or_else(|| format!("{s}: expected [IPV6[/PREFIX]]:PORT"))?;
            let port = match after {
                "" => None,
                _ => Some(port(after.strip_prefix(':').unwrap_or(after), &s)?),
            };
            (spec, port)
        } else if raw.matches(':').count() == 1 {
            let (spec, p) = raw.split_once(':').unwrap_or((raw, ""));
            (spec, Some(port(p, &s)?))
        } else {
            (raw, None)
        };
        let (addr, prefix) = network(spec, &s)?;
        let rule = AddrRule { addr, prefix, port };
        let base = AddrRule { port: None, ..rule };
        let masked = match addr {
            IpAddr::V4(a) => {
                let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        };
        if masked != addr {
            let fixed = AddrRule { addr: masked, ..base };
            return Err(format!("{s}: the address has bits set beyond the prefix (did you mean {fixed}?)"));
        }
        Ok(rule)
    }
}

impl fmt::Display for AddrRule {
    /// The `--allow-addr` form; the prefix only when it is not the whole
    /// address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let net = match self.prefix == self.max_prefix() {
            true => self.addr.to_string(),
            false => format!("{}/{}", self.addr, self.prefix),
        };
        match (self.addr, self.port) {
            (_, None) => f.write_str(&net),
            (IpAddr::V4(_), Some(p)) => write!(f, "{net}:{p}"),
            (IpAddr::V6(_), Some(p)) => write!(f, "[{net}]:{p}"),
        }
    }
}

impl TryFrom<String> for AddrRule {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<AddrRule> for String {
    fn from(r: AddrRule) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> HostPattern {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn host_patterns_parse_and_print() {
        assert_eq!(host("PyPI.org."), HostPattern { name: "pypi.org".into(), wildcard: false, port: None });
        assert_eq!(host("*.pythonhosted.org:443").to_string(), "*.pythonhosted.org:443");
        assert_eq!(host("github.com:22").port, Some(22));
        assert_eq!(host("_acme.example.org").name, "_acme.example.org");
        for (bad, needle) in [
            ("", "not a host name"),
            ("a..b", "not a host name"),
            ("-a.org", "not a host name"),
            ("exa mple.org", "not a host name"),
            ("*", "every name"),
            ("*.org", "top-level"),
            ("a.*.org", "first label"),
            ("*example.org", "first label"),
            ("github.com:0", "port"),
            ("github.com:65536", "port"),
            ("github.com:ssh", "port"),
            ("192.0.2.7", "--allow-addr"),
            ("192.0.2.7:80", "--allow-addr"),
            ("[::1]:80", "--allow-addr"),
            ("2001:db8::1", "--allow-addr"),
            ("bad\n.org", "not a host name"),
        ] {
            let e = bad.parse::<HostPattern>().unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
            assert!(!e.contains('\n'), "errors are one line: {e}");
        }
        let long = format!("{}.org", "a".repeat(64));
        assert!(long.parse::<HostPattern>().is_err());
    }

    #[test]
    fn exact_names_and_wildcards_match_as_documented() {
        let exact = host("pypi.org");
        assert!(exact.matches("pypi.org"));
        assert!(
            !exact.matches("www.pypi.org") && !exact.matches("xpypi.org") && !exact.matches("pypi.org.evil")
        );
        let wild = host("*.pythonhosted.org");
        assert!(wild.matches("files.pythonhosted.org"));
        assert!(wild.matches("a.b.pythonhosted.org"));
        assert!(!wild.matches("pythonhosted.org"), "the name itself is not beneath it");
        assert!(!wild.matches("evilpythonhosted.org"));
        assert!(!wild.matches("pythonhosted.org.evil.com"));
        assert_eq!(normalize("Files.PythonHosted.org."), Some("files.pythonhosted.org".into()));
        assert_eq!(normalize("a\\.b.org"), None);
        assert_eq!(normalize("a.b..org"), None);
    }

    #[test]
    fn ports_of_every_matching_rule_add_up() {
        let rules =
            [host("github.com:22"), host("*.example.org"), host("github.com:443"), host("github.com:22")];
        let (ports, first) = lookup(&rules, "github.com").unwrap();
        assert_eq!(ports, Ports::Only(vec![22, 443]));
        assert_eq!(first.to_string(), "github.com:22");
        assert_eq!(lookup(&rules, "a.example.org").unwrap().0, Ports::Any);
        assert!(lookup(&rules, "gitlab.com").is_none());
        let any = [host("github.com:22"), host("github.com")];
        assert_eq!(lookup(&any, "github.com").unwrap().0, Ports::Any);
    }

    #[test]
    fn address_rules_parse_print_and_contain() {
        let r = |s: &str| s.parse::<AddrRule>().unwrap_or_else(|e| panic!("{s}: {e}"));
        for s in [
            "192.0.2.0/24",
            "192.0.2.7",
            "192.0.2.7:443",
            "192.0.2.0/24:22",
            "2001:db8::/32",
            "2001:db8::1",
            "[2001:db8::1]:22",
            "[2001:db8::/32]:443",
            "0.0.0.0/0",
        ] {
            assert_eq!(r(s).to_string(), s);
        }
        assert_eq!(r("192.0.2.7/32").to_string(), "192.0.2.7");
        assert_eq!(r("[2001:db8::1]").to_string(), "2001:db8::1");
        let net = r("192.0.2.0/24");
        assert!(net.contains("192.0.2.200".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        assert!(r("0.0.0.0/0").contains("203.0.113.1".parse().unwrap()));
        assert!(r("2001:db8::/32").contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!r("2001:db8::/32").contains("2001:db9::1".parse().unwrap()));
        for (bad, needle) in [
            ("192.0.2.7/24", "did you mean 192.0.2.0/24"),
            ("192.0.2.0/33", "prefix length"),
            ("example.org", "not an IP address"),
            ("192.0.2.7:0", "port"),
            ("[2001:db8::1]:x", "port"),
            ("[2001:db8::1", "expected"),
            ("2001:db8::1/129", "prefix length"),
        ] {
            let e = bad.parse::<AddrRule>().unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn patterns_are_strings_in_json() {
        let rules = vec![host("*.example.org:443")];
        assert_eq!(serde_json::to_string(&rules).unwrap(), r#"["*.example.org:443"]"#);
        let back: Vec<HostPattern> = serde_json::from_str(r#"["*.example.org:443"]"#).unwrap();
        assert_eq!(back, rules);
        assert!(serde_json::from_str::<Vec<HostPattern>>(r#"["*"]"#).is_err());
        let addr: AddrRule = serde_json::from_str(r#""[2001:db8::/32]:443""#).unwrap();
        assert_eq!(addr.port, Some(443));
    }
}
