//! Small view models and display helpers shared by the console's templates, by topic:
//! times, labels, select options, permission checkboxes. Presentation only; no rule lives
//! here.

mod labels;
mod options;
mod permissions;
mod time;

pub use labels::*;
pub use options::*;
pub use permissions::*;
pub use time::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn durations_read_as_words() {
        use std::time::Duration;
        assert_eq!(duration_words(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(duration_words(Duration::from_secs(86_400)), "1 day");
        assert_eq!(duration_words(Duration::from_secs(36 * 3_600)), "36 hours");
        assert_eq!(duration_words(Duration::from_secs(90)), "90 seconds");
    }

    #[test]
    fn times_render_in_utc() {
        assert_eq!(time("2030-01-31T12:00:00Z"), "2030-01-31 12:00 UTC");
        assert_eq!(input_time("2030-01-31T12:00:07Z"), "2030-01-31 12:00:07");
        assert_eq!(opt_time(&None, "never"), "never");
        assert_eq!(time_secs("2030-01-31T12:00:07Z"), "2030-01-31 12:00:07 UTC");
        let now = DateTime::parse_from_rfc3339("2030-01-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = When::of("2030-01-31T12:00:00Z", now, time);
        assert_eq!(w.line(), "2030-01-31 12:00 UTC (in 3 days)");
        assert_eq!(When::opt(&None, "Never", now).line(), "Never");
    }
}
