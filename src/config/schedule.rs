//! Cron schedules, written the way operators know them.

use std::str::FromStr;

/// A parsed cron expression. Standard 5-field expressions
/// (`min hour dom month dow`) are accepted as well as the 6- and 7-field forms
/// with seconds (and years) that the `cron` crate reads natively.
#[derive(Debug, Clone)]
pub struct Schedule {
    source: String,
    parsed: cron::Schedule,
}

impl Schedule {
    /// The expression as the operator wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The next time this schedule fires after `after`. Expressions are
    /// read in China Standard Time (UTC+8), where every district office
    /// is: `30 1 * * *` is 01:30 in Beijing whatever the server's zone.
    pub fn next_after(
        &self,
        after: &chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
        self.parsed
            .after(&after.with_timezone(&cst))
            .next()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        let fields = expression.split_whitespace().count();
        let normalized = match fields {
            5 => format!("0 {expression}"),
            6 | 7 => expression.to_string(),
            n => {
                return Err(format!(
                    "`{expression}` has {n} fields; expected 5 (min hour day month weekday) or 6 (with seconds)"
                ))
            }
        };
        let parsed = cron::Schedule::from_str(&normalized)
            .map_err(|e| format!("`{expression}` is not a valid cron expression: {e}"))?;
        Ok(Schedule {
            source: expression.to_string(),
            parsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_read_in_china_time() {
        let s: Schedule = "30 1 * * *".parse().unwrap();
        let noon_utc = chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        // 01:30 in Beijing is 17:30 UTC the day before it.
        assert_eq!(
            s.next_after(&noon_utc).unwrap().to_rfc3339(),
            "2026-11-27T17:30:00+00:00"
        );
    }
    use chrono::TimeZone;

    #[test]
    fn five_and_six_fields() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 27, 12, 7, 0)
            .unwrap();
        let five: Schedule = "*/30 * * * *".parse().unwrap();
        assert_eq!(
            five.next_after(&at),
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 11, 27, 12, 30, 0)
                    .unwrap()
            )
        );
        // 02:00 in Beijing (20:07 there now) is 18:00 UTC.
        let six: Schedule = "0 0 2 * * *".parse().unwrap();
        assert_eq!(
            six.next_after(&at),
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 11, 27, 18, 0, 0)
                    .unwrap()
            )
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!("every day"
            .parse::<Schedule>()
            .unwrap_err()
            .contains("2 fields"));
        assert!("61 * * * *".parse::<Schedule>().is_err());
    }
}
