use std::fmt;

use crate::clock::Timestamp;

/// A calendar month in UTC: the period a quota counts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// The month `at` falls in, in UTC.
    pub fn of(at: Timestamp) -> Self {
        let secs = at.unix_millis().div_euclid(1000);
        let date = time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Month {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    /// A month from its year and number (1–12); `None` for another number.
    pub fn new(year: i32, month: u8) -> Option<Self> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month's number, 1–12.
    pub fn number(self) -> u8 {
        self.month
    }

    /// The month before this one.
    #[must_use]
    pub fn previous(self) -> Self {
        match self.month {
            1 => Month {
                year: self.year - 1,
                month: 12,
            },
            m => Month {
                year: self.year,
                month: m - 1,
            },
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn months_turn_at_midnight_utc() {
        let cases = [
            ("2026-12-31T23:59:59.999Z", (2026, 12)),
            ("2027-01-01T00:00:00Z", (2027, 1)),
            ("2028-02-29T12:00:00Z", (2028, 2)),
            ("2028-03-01T00:00:00Z", (2028, 3)),
            // A local time just after midnight is still the previous month in UTC.
            ("2027-01-01T00:30:00+01:00", (2026, 12)),
        ];
        for (time, (year, month)) in cases {
            assert_eq!(
                Month::of(at(time)),
                Month::new(year, month).unwrap(),
                "{time}"
            );
        }
    }

    #[test]
    fn previous_crosses_years_and_display_pads() {
        assert_eq!(
            Month::new(2027, 1).unwrap().previous(),
            Month::new(2026, 12).unwrap()
        );
        assert_eq!(Month::new(2027, 1).unwrap().to_string(), "2027-01");
        assert_eq!(Month::new(2027, 13), None);
    }
}
