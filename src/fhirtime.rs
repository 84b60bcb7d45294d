//! Dates as FHIR writes them, reduced to what the display windows need: a calendar day.

use crate::ident::days_in_month;

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
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
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
}
