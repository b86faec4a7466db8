//! Calendar days as the law counts them in Italy: in Europe/Rome, not UTC.
//! A deadline "30 days from the application" runs from the start of that day
//! in Rome; an indicator's "day" is a day in Rome.
//!
//! Europe/Rome is CET (UTC+1) and, under the EU summer-time rule in force since
//! 1996 (Directive 2000/84/EC), CEST (UTC+2) from the last Sunday of March at
//! 01:00 UTC to the last Sunday of October at 01:00 UTC. The rule is written
//! here rather than read from a time-zone database: it is the only zone the
//! pathway needs, and pure.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const CET: UtcOffset = match UtcOffset::from_hms(1, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+1 is a valid offset"),
};
const CEST: UtcOffset = match UtcOffset::from_hms(2, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+2 is a valid offset"),
};

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: Month) -> Date {
    let last = Date::from_calendar_date(year, month, month.length(year))
        .expect("the last day of a month is a date");
    let back = last.weekday().number_days_from_sunday();
    last - time::Duration::days(i64::from(back))
}

/// When summer time starts and ends in `year` (both at 01:00 UTC).
fn summer_time(year: i32) -> (OffsetDateTime, OffsetDateTime) {
    let at_one_utc = |date: Date| {
        PrimitiveDateTime::new(date, Time::from_hms(1, 0, 0).expect("01:00")).assume_utc()
    };
    (
        at_one_utc(last_sunday(year, Month::March)),
        at_one_utc(last_sunday(year, Month::October)),
    )
}

/// Rome's offset from UTC at the instant `at`.
pub fn rome_offset(at: OffsetDateTime) -> UtcOffset {
    let utc = at.to_offset(UtcOffset::UTC);
    let (starts, ends) = summer_time(utc.year());
    if utc >= starts && utc < ends {
        CEST
    } else {
        CET
    }
}

/// `at` as a wall-clock time in Rome.
pub fn in_rome(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(rome_offset(at))
}

/// The calendar day in Rome that `at` falls on.
pub fn date_in_rome(at: OffsetDateTime) -> Date {
    in_rome(at).date()
}

/// The instant a calendar day starts in Rome (00:00 local time; no
/// transition falls at midnight in Rome, so the day always has a midnight).
pub fn start_of_day_in_rome(date: Date) -> OffsetDateTime {
    let midnight = PrimitiveDateTime::new(date, Time::MIDNIGHT);
    // The offset in force at midnight: the one at noon UTC the day before
    // midnight is the same, since transitions happen at 01:00 UTC.
    let guess = midnight.assume_utc();
    midnight.assume_offset(rome_offset(guess))
}

/// The instant `days` calendar days after the start of `date` in Rome begins:
/// the deadline of "within `days` days of `date`".
pub fn days_after(date: Date, days: i64) -> OffsetDateTime {
    start_of_day_in_rome(date + time::Duration::days(days))
}

/// When a time limit of `days` days running from `day` ends: at the end of
/// day `day + days` in Rome (the day the limit starts from is not counted,
/// the last day is counted whole). The one rule every "within N days"
/// deadline of the pathway uses: screening (7 days), assessment (30 days),
/// unaccompanied minors in first reception (45 days).
pub fn limit_ends(day: Date, days: i64) -> OffsetDateTime {
    days_after(day, days + 1)
}

/// Whole calendar days in Rome from `from` to `to` (0 on the same day).
pub fn calendar_days_between(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    (date_in_rome(to) - date_in_rome(from)).whole_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn summer_time_runs_from_the_last_sunday_of_march_to_the_last_sunday_of_october() {
        assert_eq!(last_sunday(2026, Month::March), date!(2026 - 03 - 29));
        assert_eq!(last_sunday(2026, Month::October), date!(2026 - 10 - 25));
        assert_eq!(
            last_sunday(2027, Month::March).weekday(),
            time::Weekday::Sunday
        );
        assert_eq!(rome_offset(datetime!(2026-03-29 00:59 UTC)), CET);
        assert_eq!(rome_offset(datetime!(2026-03-29 01:00 UTC)), CEST);
        assert_eq!(rome_offset(datetime!(2026-10-25 00:59 UTC)), CEST);
        assert_eq!(rome_offset(datetime!(2026-10-25 01:00 UTC)), CET);
        assert_eq!(rome_offset(datetime!(2026-01-15 12:00 UTC)), CET);
    }

    #[test]
    fn a_day_in_rome_is_not_a_day_in_utc() {
        // 23:30 UTC in winter is already the next day in Rome; 22:30 UTC in summer too.
        assert_eq!(
            date_in_rome(datetime!(2026-01-14 23:30 UTC)),
            date!(2026 - 01 - 15)
        );
        assert_eq!(
            date_in_rome(datetime!(2026-07-14 22:30 UTC)),
            date!(2026 - 07 - 15)
        );
        assert_eq!(
            date_in_rome(datetime!(2026-07-14 21:59 UTC)),
            date!(2026 - 07 - 14)
        );
    }

    #[test]
    fn a_day_starts_at_midnight_in_rome() {
        assert_eq!(
            start_of_day_in_rome(date!(2026 - 01 - 15)),
            datetime!(2026-01-14 23:00 UTC)
        );
        assert_eq!(
            start_of_day_in_rome(date!(2026 - 07 - 15)),
            datetime!(2026-07-14 22:00 UTC)
        );
        // Thirty days from 10 March end at the start of 9 April, in summer time.
        assert_eq!(
            days_after(date!(2026 - 03 - 10), 30),
            datetime!(2026-04-08 22:00 UTC)
        );
        // Seven days from an arrival on 14 January (any hour) end at the end of 21 January in Rome.
        assert_eq!(
            limit_ends(date!(2026 - 01 - 14), 7),
            datetime!(2026-01-21 23:00 UTC)
        );
        assert_eq!(
            calendar_days_between(
                datetime!(2026-01-14 22:00 UTC),
                datetime!(2026-01-14 23:30 UTC)
            ),
            1
        );
    }
}
