//! The units front ends accept for limits: sizes (`512M`), durations
//! (`1.5s`), CPUs (`0.5`), and how they are shown back.

/// `512M`, `1.5G`, `4096`, `64KiB`: bytes, with binary multiples.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let err = || format!("`{s}` is not a size such as 4096, 64K, 512M or 1.5G");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(err()),
    };
    scale(num, 1u64 << shift).ok_or_else(err)
}

/// `30s`, `5m`, `1.5h`, `250ms`, `2d`; a bare number is seconds. In ms.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let err = || format!("`{s}` is not a duration such as 30s, 5m, 1.5h or 250ms");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(err()),
    };
    scale(num, ms).ok_or_else(err)
}

/// `0.5`, `2`, `1.25`: CPUs, in thousandths (at least 0.01: cpu.max takes
/// no less than 1 ms per 100 ms period).
pub fn parse_cpus(s: &str) -> Result<u64, String> {
    let err = || format!("`{s}` is not a number of CPUs such as 0.5, 1 or 2.5");
    match scale(s.trim(), 1000) {
        Some(0..=9) => Err(format!("`{s}`: at least 0.01 CPU")),
        Some(m) => Ok(m),
        None => Err(err()),
    }
}

/// `num` (digits with at most one `.`) times `unit`, exactly, rounded down
/// to a whole number; `None` when malformed or too large.
fn scale(num: &str, unit: u64) -> Option<u64> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) || frac.len() > 9 {
        return None;
    }
    let whole = if int.is_empty() { 0 } else { int.parse::<u64>().ok()? };
    let mut value = whole.checked_mul(unit)?;
    if !frac.is_empty() {
        let den = 10u128.pow(frac.len() as u32);
        let part = frac.parse::<u128>().ok()? * unit as u128 / den;
        value = value.checked_add(part as u64)?;
    }
    Some(value)
}

/// Bytes the way they are written: `512M`, `1536K`, `100`.
pub fn show_size(b: u64) -> String {
    for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if b >= 1 << shift && b % (1 << shift) == 0 {
            return format!("{}{unit}", b >> shift);
        }
    }
    b.to_string()
}

/// Milliseconds the way they are written: `30s`, `5m`, `250ms`.
pub fn show_ms(ms: u64) -> String {
    for (per, unit) in [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s")] {
        if ms >= per && ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// Thousandths as a decimal: 1500 -> `1.5`.
pub fn show_millis(m: u64) -> String {
    let s = format!("{}.{:03}", m / 1000, m % 1000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("10KB"), Ok(10240));
        for bad in ["", "M", "1.2.3", "-1", "12X", "1e9", "99999999999999999999", "1 M M"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(show_size(512 << 20), "512M");
        assert_eq!(show_size(1536 << 10), "1536K");
        assert_eq!(show_size(100), "100");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("2"), Ok(2000));
        assert_eq!(parse_duration("0.1"), Ok(100));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        for bad in ["", "s", "1x", "1.5.s", "-3s", "3 sec"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show_ms(30_000), "30s");
        assert_eq!(show_ms(90_000), "90s");
        assert_eq!(show_ms(300_000), "5m");
        assert_eq!(show_ms(1500), "1500ms");
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5"), Ok(500));
        assert_eq!(parse_cpus("2"), Ok(2000));
        assert_eq!(parse_cpus(".25"), Ok(250));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("0.009").is_err());
        assert_eq!(parse_cpus("0.01"), Ok(10));
        assert!(parse_cpus("half").is_err());
        assert_eq!(show_millis(1500), "1.5");
        assert_eq!(show_millis(2000), "2");
        assert_eq!(show_millis(125), "0.125");
    }
}
