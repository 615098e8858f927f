//! The message to send: a file or stdin taken byte for byte, or a small generated one.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads the message named by `--message`: a file, or stdin for `-`, unchanged.
pub fn read(source: &str) -> Result<Vec<u8>, String> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading the message from stdin: {e}"))?;
        Ok(bytes)
    } else {
        std::fs::read(source).map_err(|e| format!("reading the message file {source}: {e}"))
    }
}

/// The test message sent when no `--message` is given. `seq` (the message's number in
/// a `--count` run) keeps the Message-ID unique.
pub fn generate(from: &str, to: &[String], seq: u32) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: smtp-send test\r\nDate: {date}\r\n\
         Message-ID: <{secs}.{nanos:09}.{pid}.{seq}@smtp-send>\r\n\r\n\
         Hello from smtp-send through the smtp WebAssembly component.\r\n",
        to = to.join(", "),
        date = rfc2822_date(secs),
        nanos = now.subsec_nanos(),
        pid = std::process::id(),
    )
    .into_bytes()
}

/// An RFC 2822 date in UTC, such as `Thu, 01 Jan 1970 00:00:00 +0000`, for `secs`
/// seconds since the Unix epoch.
pub fn rfc2822_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS
        .get(usize::try_from(days.rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Thu");
    let month = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month} {year} {:02}:{:02}:{:02} +0000",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// The proleptic Gregorian (year, month 1..=12, day 1..=31) of a day counted from
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc2822_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc2822_date(1_700_000_000),
            "Tue, 14 Nov 2023 22:13:20 +0000"
        );
        // 2100 is not a leap year.
        assert_eq!(
            rfc2822_date(4_107_542_399),
            "Sun, 28 Feb 2100 23:59:59 +0000"
        );
        assert_eq!(
            rfc2822_date(4_107_542_400),
            "Mon, 01 Mar 2100 00:00:00 +0000"
        );
        assert_eq!(
            rfc2822_date(4_133_980_799),
            "Fri, 31 Dec 2100 23:59:59 +0000"
        );
        assert_eq!(rfc2822_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
    }

    #[test]
    fn generated_message_shape() {
        let to = vec!["a@x".to_string(), "b@y".to_string()];
        let text = String::from_utf8(generate("me@z", &to, 3)).unwrap();
        assert!(text.starts_with("From: me@z\r\nTo: a@x, b@y\r\nSubject: smtp-send test\r\n"));
        assert!(text.contains("\r\nDate: "));
        assert!(text.contains(".3@smtp-send>\r\n\r\nHello from smtp-send"));
        assert!(text.ends_with("component.\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'));
    }
}
