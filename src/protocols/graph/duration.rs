//! `Edm.Duration` values as clients really write them.
//!
//! Graph documents ISO 8601 day-time durations (`PT0.03S`, `PT20M`,
//! `P1DT2H`). Microsoft's own Python SDK, though, serializes a `timedelta`
//! with Python's `str()`: `0:00:00.030000`, `0:20:00`, `1 day, 2:00:00`,
//! `-1 day, 23:59:59.990000`. Both forms are read here, exactly: digits are
//! accumulated as integer nanoseconds, so `PT0.03S` is 30 ms and not
//! 30.000000000000004.

/// A signed span of time with nanosecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    nanos: i128,
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: i128 = 24 * NANOS_PER_HOUR;

/// Ten thousand years: beyond any real media duration; refusing more keeps
/// the arithmetic far from overflow and the millisecond value exact enough.
const MAX_NANOS: i128 = 10_000 * 366 * NANOS_PER_DAY;

impl Duration {
    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// Milliseconds, the model's unit. Exact for whole microseconds below
    /// about 285 years (both operands are exactly representable).
    pub fn as_millis_f64(self) -> f64 {
        self.nanos as f64 / 1e6
    }
}

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(&'static str);

const NOT_A_DURATION: DurationError = DurationError(
    "expected an ISO 8601 duration such as PT0.03S or P1DT2H, or H:MM:SS[.ffffff] as Python's timedelta writes it",
);

/// True when `text` is read as ISO 8601 (else as a Python `timedelta`).
pub fn is_iso8601(text: &str) -> bool {
    text.trim_start_matches(['-', '+']).starts_with('P')
}

/// Parses an ISO 8601 day-time duration or a Python `timedelta` string.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let nanos = if is_iso8601(text) {
        parse_iso8601(text)?
    } else {
        parse_timedelta(text)?
    };
    if nanos.abs() > MAX_NANOS {
        return Err(DurationError("duration is out of range"));
    }
    Ok(Duration { nanos })
}

/// `[-+]P[nD][T[nH][nM][nS]]`, each number possibly with a decimal fraction
/// (`.` or `,`), at least one component, `T` only before time components.
/// Years, months and weeks are refused: their length in milliseconds is not
/// fixed, and `Edm.Duration` is a day-time duration.
fn parse_iso8601(text: &str) -> Result<i128, DurationError> {
    let (negative, rest) = sign(text);
    let rest = rest.strip_prefix('P').ok_or(NOT_A_DURATION)?;
    let (date, time) = match rest.split_once('T') {
        // A `T` must be followed by at least one time component.
        Some((_, "")) => return Err(NOT_A_DURATION),
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let mut total: i128 = 0;
    let mut components = 0;
    for (number, designator) in components_of(date)? {
        let unit = match designator {
            'D' => NANOS_PER_DAY,
            'Y' | 'M' | 'W' => {
                return Err(DurationError(
                    "years, months and weeks have no fixed length; use days (D) and time (T…H…M…S)",
                ));
            }
            _ => return Err(NOT_A_DURATION),
        };
        total += scaled(number, unit)?;
        components += 1;
    }
    let mut order = 0;
    for (number, designator) in components_of(time.unwrap_or(""))? {
        let (rank, unit) = match designator {
            'H' => (1, NANOS_PER_HOUR),
            'M' => (2, NANOS_PER_MINUTE),
            'S' => (3, NANOS_PER_SECOND),
            _ => return Err(NOT_A_DURATION),
        };
        if rank <= order {
            return Err(NOT_A_DURATION);
        }
        order = rank;
        total += scaled(number, unit)?;
        components += 1;
    }
    if components == 0 {
        return Err(NOT_A_DURATION);
    }
    Ok(if negative { -total } else { total })
}

/// Splits `12D` / `1H30M0.5S` into `(number, designator)` pairs.
fn components_of(text: &str) -> Result<Vec<(&str, char)>, DurationError> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            let number = &text[start..i];
            if number.is_empty() {
                return Err(NOT_A_DURATION);
            }
            out.push((number, c));
            start = i + c.len_utf8();
        }
    }
    if start != text.len() {
        return Err(NOT_A_DURATION);
    }
    Ok(out)
}

/// `[-][D day[s], ]H:MM:SS[.f…]`, as Python's `str(timedelta)` writes it
/// (days may be negative, the clock part never is). Hours may have more than
/// one digit (`00:20:00`, which the SDK passes through verbatim when a
/// caller sets a string).
fn parse_timedelta(text: &str) -> Result<i128, DurationError> {
    let (days, clock) = match text.split_once(", ") {
        Some((days, clock)) => {
            let count = days
                .strip_suffix(" days")
                .or_else(|| days.strip_suffix(" day"))
                .ok_or(NOT_A_DURATION)?;
            let (negative, digits) = sign(count);
            let n = integer(digits)?;
            (if negative { -n } else { n }, clock)
        }
        None => (0, text),
    };
    let mut parts = clock.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(NOT_A_DURATION);
    };
    let hours = integer(h)?;
    if m.len() != 2 || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(NOT_A_DURATION);
    }
    let minutes = integer(m)?;
    let (whole_seconds, fraction) = match s.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, Some(fraction)),
        Some(_) => return Err(NOT_A_DURATION),
        None => (s, None),
    };
    if whole_seconds.len() != 2 {
        return Err(NOT_A_DURATION);
    }
    let seconds = integer(whole_seconds)?;
    if minutes > 59 || seconds > 59 {
        return Err(NOT_A_DURATION);
    }
    let fraction_nanos = match fraction {
        Some(f) => fraction_of(f, NANOS_PER_SECOND)?,
        None => 0,
    };
    Ok(days * NANOS_PER_DAY
        + hours * NANOS_PER_HOUR
        + minutes * NANOS_PER_MINUTE
        + seconds * NANOS_PER_SECOND
        + fraction_nanos)
}

fn sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// A run of ASCII digits (at most 15, far past any real value).
fn integer(digits: &str) -> Result<i128, DurationError> {
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NOT_A_DURATION);
    }
    digits.parse().map_err(|_| NOT_A_DURATION)
}

/// `number` (digits with an optional `.`/`,` fraction) times `unit` nanoseconds.
fn scaled(number: &str, unit: i128) -> Result<i128, DurationError> {
    let (whole, fraction) = match number.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let whole = if whole.is_empty() && fraction.is_some() {
        0
    } else {
        integer(whole)?
    };
    let fraction = match fraction {
        Some(f) => fraction_of(f, unit)?,
        None => 0,
    };
    Ok(whole * unit + fraction)
}

/// The value of the decimal fraction `.digits` of `unit` nanoseconds,
/// truncated to whole nanoseconds.
fn fraction_of(digits: &str, unit: i128) -> Result<i128, DurationError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NOT_A_DURATION);
    }
    // Past 18 digits nothing below a nanosecond of a day can change.
    let kept = &digits[..digits.len().min(18)];
    let numerator: i128 = kept.parse().map_err(|_| NOT_A_DURATION)?;
    Ok(numerator * unit / 10i128.pow(kept.len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> f64 {
        parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .as_millis_f64()
    }

    #[test]
    fn iso8601_durations_become_exact_milliseconds() {
        assert_eq!(ms("PT0.03S"), 30.0);
        assert_eq!(ms("PT0.030S"), 30.0);
        assert_eq!(ms("PT0.015S"), 15.0);
        assert_eq!(ms("PT0.023S"), 23.0);
        assert_eq!(ms("PT0.14S"), 140.0);
        assert_eq!(ms("PT20M"), 1_200_000.0);
        assert_eq!(ms("P1DT2H"), 93_600_000.0);
        assert_eq!(ms("P1D"), 86_400_000.0);
        assert_eq!(ms("PT1H30M15.5S"), 5_415_500.0);
        assert_eq!(ms("PT0S"), 0.0);
        assert_eq!(ms("PT0,5S"), 500.0);
        assert_eq!(ms("PT.5S"), 500.0);
        assert_eq!(ms("PT0.5H"), 1_800_000.0);
        assert_eq!(ms("PT0.000001S"), 0.001);
        assert_eq!(ms("-PT0.01S"), -10.0);
    }

    #[test]
    fn python_timedelta_strings_become_exact_milliseconds() {
        assert_eq!(ms("0:00:00.010000"), 10.0);
        assert_eq!(ms("0:00:00.030000"), 30.0);
        assert_eq!(ms("0:00:00.015000"), 15.0);
        assert_eq!(ms("0:20:00"), 1_200_000.0);
        assert_eq!(ms("00:20:00"), 1_200_000.0);
        assert_eq!(ms("0:00:00"), 0.0);
        assert_eq!(ms("0:00:00.000001"), 0.001);
        assert_eq!(ms("1 day, 2:00:00"), 93_600_000.0);
        assert_eq!(ms("2 days, 0:00:05"), 172_805_000.0);
        assert_eq!(ms("-1 day, 23:59:59.990000"), -10.0);
    }

    #[test]
    fn both_forms_of_the_same_value_agree() {
        for (iso, timedelta) in [
            ("PT0.01S", "0:00:00.010000"),
            ("PT20M", "0:20:00"),
            ("P1DT2H", "1 day, 2:00:00"),
            ("PT0.024S", "0:00:00.024000"),
        ] {
            assert_eq!(parse(iso).unwrap(), parse(timedelta).unwrap(), "{iso}");
        }
    }

    #[test]
    fn negative_values_are_recognized() {
        assert!(parse("-PT1S").unwrap().is_negative());
        assert!(parse("-1 day, 23:59:59.990000").unwrap().is_negative());
        assert!(!parse("PT0S").unwrap().is_negative());
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "P",
            "PT",
            "P1DT",
            "30",
            "0.03",
            "pt0.03s",
            "PT0.03",
            "PTS",
            "PT1S2M",
            "PT1M1M",
            "P1Y",
            "P1M",
            "P1W",
            "PT-1S",
            "PT1.S.5",
            "0:0:00",
            "0:00:60",
            "0:60:00",
            "0:00:00.",
            "0:00",
            "1:00:00:00",
            "1 days 2:00:00",
            "x day, 0:00:00",
            "abc",
            "P99999999999999999999D",
            "PT1e3S",
            "٣:00:00",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn absurdly_long_durations_are_refused_not_overflowed() {
        assert!(parse("P999999999999999D").is_err());
        assert!(parse("999999999999999 days, 0:00:00").is_err());
        assert!(parse("P3650D").is_ok());
    }
}
