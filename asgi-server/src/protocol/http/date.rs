//! The `Date` header field, formatted at most once a second per thread.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

/// `date: ` before the value.
const PREFIX: &[u8] = b"date: ";

/// Length of the whole field line: `date: <IMF-fixdate>\r\n`.
const FIELD_LEN: usize = PREFIX.len() + DATE_LEN + 2;

struct CachedDate {
    /// The second the field shows: fresh from `second_start` until `next_update`.
    second_start: SystemTime,
    next_update: SystemTime,
    /// The whole field line, so that a response head copies it in one go.
    field: [u8; FIELD_LEN],
}

thread_local! {
    static CACHE: RefCell<CachedDate> = const {
        RefCell::new(CachedDate { second_start: UNIX_EPOCH, next_update: UNIX_EPOCH, field: [b' '; FIELD_LEN] })
    };
}

/// Calls `f` with the current `date: <IMF-fixdate>\r\n` field line.
pub(crate) fn with_date_field<R>(f: impl FnOnce(&[u8; FIELD_LEN]) -> R) -> R {
    let now = SystemTime::now();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        // Two comparisons per response; the arithmetic and the formatting
        // once a second (or at once when the clock is set back).
        if now >= cache.next_update || now < cache.second_start {
            let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
            let second_start = UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs());
            let formatted = httpdate::fmt_http_date(now);
            if formatted.len() == DATE_LEN {
                cache.field[..PREFIX.len()].copy_from_slice(PREFIX);
                cache.field[PREFIX.len()..PREFIX.len() + DATE_LEN]
                    .copy_from_slice(formatted.as_bytes());
                cache.field[FIELD_LEN - 2..].copy_from_slice(b"\r\n");
                cache.second_start = second_start;
                cache.next_update = second_start + Duration::from_secs(1);
            }
        }
        f(&cache.field)
    })
}

/// Calls `f` with the current date as an IMF-fixdate (the value alone, for HTTP/2).
pub(crate) fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    with_date_field(|field| f(&field[PREFIX.len()..PREFIX.len() + DATE_LEN]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_an_imf_fixdate() {
        let date = with_date(|d| String::from_utf8_lossy(d).into_owned());

        assert!(date.ends_with(" GMT"), "{date}");
        assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
    }

    #[test]
    fn date_field_is_a_whole_header_line() {
        let field = with_date_field(|f| String::from_utf8_lossy(f).into_owned());

        let value = field
            .strip_prefix("date: ")
            .and_then(|rest| rest.strip_suffix("\r\n"))
            .expect("date: VALUE CRLF");
        assert!(httpdate::parse_http_date(value).is_ok(), "{field}");
    }
}
