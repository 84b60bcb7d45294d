//! Dates as FHIR writes them, reduced to what the display windows need: a calendar day.

use crate::ident::{days_in_month, is_calendar_day};

/// A calendar day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
}

impl Day {
    /// The day of a FHIR `date`/`dateTime`/`instant` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD…`);
    /// a partial date counts as its first day. `None` if malformed.
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        let num = |r: core::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            if part.iter().all(u8::is_ascii_digit) {
                Some(part.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
            } else {
                None
            }
        };
        let year = num(0..4)? as u16;
        let month = if b.len() > 4 {
            if b[4] != b'-' {
                return None;
            }
            num(5..7)? as u8
        } else {
            1
        };
        let day = if b.len() > 7 {
            if b[7] != b'-' {
                return None;
            }
            num(8..10)? as u8
        } else {
            1
        };
        if b.len() > 10 && b[10] != b'T' {
            return None;
        }
        // A month that is not 1–12 has no days.
        if !is_calendar_day(year, month, day) {
            return None;
        }
        Some(Day { year, month, day })
    }

    /// The day `unix_secs` falls on, in UTC.
    pub fn from_unix(unix_secs: u64) -> Day {
        // Howard Hinnant's civil_from_days.
        let z = (unix_secs / 86_400) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Day { year, month, day }
    }

    /// The same day `years` earlier (29 February becomes 28 February in a common year).
    pub fn years_before(self, years: u32) -> Day {
        let year = self
            .year
            .saturating_sub(years.min(u32::from(u16::MAX)) as u16);
        Day {
            year,
            month: self.month,
            day: self.day.min(days_in_month(year, self.month)),
        }
    }
}

/// A FHIR `instant` (RFC 3339 with seconds and a zone: `2026-12-02T17:00:00.123Z`, or with an
/// offset) as Unix ms; `None` if malformed or before 1970.
pub fn instant_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let n = |r: core::ops::Range<usize>| -> Option<i64> {
        let p = b.get(r)?;
        p.iter()
            .all(u8::is_ascii_digit)
            .then(|| p.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    // A month that is not 1–12 has no days; 23:59:60 is a leap second.
    // (Each field is two or four digits, so the casts keep its value.)
    if !is_calendar_day(y as u16, mo as u8, d as u8) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        ms = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_min = match &s[i..] {
        "Z" => 0,
        o if o.len() == 6
            && (o.starts_with('+') || o.starts_with('-'))
            && o.as_bytes()[3] == b':' =>
        {
            let v = n(i + 1..i + 3)? * 60 + n(i + 4..i + 6)?;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    // Howard Hinnant's days_from_civil.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    u64::try_from(secs * 1000 + ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(
            Day::parse("2024-02-29T10:00:00+01:00"),
            Some(Day {
                year: 2024,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            Day::parse("2024-05"),
            Some(Day {
                year: 2024,
                month: 5,
                day: 1
            })
        );
        assert_eq!(
            Day::parse("2024"),
            Some(Day {
                year: 2024,
                month: 1,
                day: 1
            })
        );
        for bad in [
            "2023-02-29",
            "24-01-01",
            "2024/01/01",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-04-31",
            "2024-01-01 10:00",
            "",
            "abcd",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn unix_and_years_before() {
        assert_eq!(
            Day::from_unix(0),
            Day {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            Day::from_unix(1_709_164_800),
            Day {
                year: 2024,
                month: 2,
                day: 29
            }
        );
        assert_eq!(
            Day {
                year: 2024,
                month: 2,
                day: 29
            }
            .years_before(1),
            Day {
                year: 2023,
                month: 2,
                day: 28
            }
        );
    }

    #[test]
    fn every_day_from_1970_to_2500_against_a_plain_calendar() {
        // A calendar that only counts: day after day, with the month lengths. Both of
        // Hinnant's conversions must agree with it on every day (century and 400-year leap
        // rules included: 2100, 2200, 2300 and 2500 are common years, 2400 is a leap year).
        let mut day = Day {
            year: 1970,
            month: 1,
            day: 1,
        };
        let mut n: u64 = 0;
        while day.year <= 2500 {
            assert_eq!(Day::from_unix(n * 86_400 + 86_399), day, "day {n}");
            let text = format!("{:04}-{:02}-{:02}T00:00:00Z", day.year, day.month, day.day);
            assert_eq!(instant_ms(&text), Some(n * 86_400_000), "{text}");
            assert_eq!(Day::parse(&text), Some(day), "{text}");
            day = if day.day < days_in_month(day.year, day.month) {
                Day {
                    day: day.day + 1,
                    ..day
                }
            } else if day.month < 12 {
                Day {
                    month: day.month + 1,
                    day: 1,
                    ..day
                }
            } else {
                Day {
                    year: day.year + 1,
                    month: 1,
                    day: 1,
                }
            };
            n += 1;
        }
        // Python: (date(2501, 1, 1) - date(1970, 1, 1)).days
        assert_eq!(n, 193_944, "days from 1970 to 2500 inclusive");
    }

    #[test]
    fn instants_parse_as_unix_ms() {
        assert_eq!(instant_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            instant_ms("2026-12-02T17:00:00.123Z"),
            Some(1_796_230_800_123)
        );
        assert_eq!(
            instant_ms(&crate::audit::event::rfc3339(1_796_230_800_123)),
            Some(1_796_230_800_123)
        );
        assert_eq!(
            instant_ms("2026-12-02T18:00:00+01:00"),
            Some(1_796_230_800_000)
        );
        // Fractions of one to nine digits (milliseconds kept), offsets with minutes and
        // west of UTC: all the same instant, 2026-12-02T17:00:00Z and a part of a second.
        for (text, ms) in [
            ("2026-12-02T17:00:00.5Z", 500),
            ("2026-12-02T17:00:00.12Z", 120),
            ("2026-12-02T17:00:00.123456789Z", 123),
            ("2026-12-02T22:30:00+05:30", 0),
            ("2026-12-02T12:00:00-05:00", 0),
            ("2026-12-02T16:15:00.000-00:45", 0),
        ] {
            assert_eq!(instant_ms(text), Some(1_796_230_800_000 + ms), "{text}");
        }
        // The edges that are still instants.
        assert_eq!(instant_ms("2024-02-29T23:59:60Z"), Some(1_709_251_200_000));
        assert_eq!(
            instant_ms("2026-12-31T23:59:59.999+00:00"),
            Some(1_798_761_599_999)
        );
        // Each separator wrong on its own, each field one past its range.
        for bad in [
            "",
            "2026-12-02",
            "2026-13-02T00:00:00Z",
            "2026-00-02T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-12-00T00:00:00Z",
            "2026-12-02T00:00:00",
            "2026-12-02T00:00:00.Z",
            "2026/12-02T00:00:00Z",
            "2026-12/02T00:00:00Z",
            "2026-12-02 00:00:00Z",
            "2026-12-02T00.00:00Z",
            "2026-12-02T00:00.00Z",
            "2026-12-02T24:00:00Z",
            "2026-12-02T00:60:00Z",
            "2026-12-02T00:00:61Z",
            "2026-12-02T00:00:00+0100",
            "2026-12-02T00:00:00+01-00",
            "2026-12-02T00:00:00*01:00",
        ] {
            assert_eq!(instant_ms(bad), None, "{bad}");
        }
    }
}
