//! Times as people read them: relative ("3 min ago", "in 25 min"), with
//! the exact UTC time on hover.
//!
//! A shared clock signal ticks once a second in the browser, so every
//! relative time and countdown on a page moves without refetching.

use leptos::prelude::*;

/// Milliseconds since the Unix epoch, on whichever side we run.
pub fn now_ms() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// The page's clock: the current time, updated every second in the browser.
#[derive(Clone, Copy)]
pub struct Clock(pub ReadSignal<u64>);

/// Starts the clock (once, at the app root).
pub fn provide_clock() {
    let (now, set_now) = signal(now_ms());
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || set_now.set(now_ms()),
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    provide_context(Clock(now));
}

fn clock() -> ReadSignal<u64> {
    use_context::<Clock>().map_or_else(|| signal(now_ms()).0, |clock| clock.0)
}

/// "5 s ago", "3 min ago", "in 2 h", ...
pub fn relative(at_ms: u64, now_ms: u64) -> String {
    let (delta, future) = if at_ms > now_ms {
        (at_ms - now_ms, true)
    } else {
        (now_ms - at_ms, false)
    };
    let secs = delta / 1000;
    let amount = match secs {
        0..5 => {
            return if future {
                "in a moment".to_owned()
            } else {
                "just now".to_owned()
            };
        }
        5..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86400),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `2026-11-23 18:22:27 UTC`.
pub fn exact(at_ms: u64) -> String {
    let secs = at_ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A relative time that stays current, exact time on hover. Past events
/// never read as future ones: the page clock ticks once a second, so an
/// event from the last moment may look a little ahead of it.
#[component]
pub fn RelativeTime(at_ms: u64, #[prop(optional)] deadline: bool) -> impl IntoView {
    let now = clock();
    view! {
        <time datetime=exact(at_ms) title=exact(at_ms)>
            {move || {
                let now = now.get();
                relative(if deadline { at_ms } else { at_ms.min(now) }, now)
            }}
        </time>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_exact_times_read_well() {
        assert_eq!(relative(1_000, 3_000), "just now");
        assert_eq!(relative(0, 42_000), "42 s ago");
        assert_eq!(relative(0, 180_000), "3 min ago");
        assert_eq!(relative(7_200_000, 0), "in 2 h");
        assert_eq!(exact(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(exact(1_795_458_147_000), "2026-11-23 18:22:27 UTC");
    }
}
