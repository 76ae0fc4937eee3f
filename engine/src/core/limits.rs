//! Per-token intake rate limits (`serve --rate-limit 1000/s`): each token (and each signed
//! source) has its own budget of events, refilled continuously (GCRA, the `governor` crate), with
//! a second's worth of burst. A request over its budget is refused whole with the time after
//! which it would fit, so one noisy sender cannot take the intake from the others.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Over the budget now; it fits after `retry_after`.
    #[error(
        "`{who}` sent more than its {limit} events per second; send again after {retry_after:?}"
    )]
    Over {
        /// The token or source.
        who: String,
        /// Events per second allowed.
        limit: u32,
        /// When it would fit.
        retry_after: Duration,
    },
    /// Larger than a whole second's budget: it would never fit.
    #[error("a request of {events} events is more than `{who}` may send in a second ({limit}); split it")]
    TooLarge {
        /// The token or source.
        who: String,
        /// Events in the request.
        events: usize,
        /// Events per second allowed.
        limit: u32,
    },
}

/// Parses `--rate-limit`: `N/s`, `N/m`, or `off`; events per second (`None`: no limit).
pub fn parse_rate(text: &str) -> Result<Option<u32>, String> {
    if text == "off" {
        return Ok(None);
    }
    let bad = || format!("`{text}` is not a rate: use `N/s`, `N/m` or `off`, e.g. `1000/s`");
    let (n, unit) = text.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let per_second = match unit.trim() {
        "s" => n,
        "m" => n.div_ceil(60),
        _ => return Err(bad()),
    };
    if per_second == 0 {
        return Err(bad());
    }
    Ok(Some(per_second))
}

/// The budgets of every sender, created on first use.
pub struct IntakeLimits<C: Clock + Clone = DefaultClock> {
    per_second: Option<NonZeroU32>,
    clock: C,
    limiters: Mutex<HashMap<String, Arc<Limiter<C>>>>,
}

impl IntakeLimits<DefaultClock> {
    /// `per_second` events per sender (`None`: no limit), on the real clock.
    pub fn new(per_second: Option<u32>) -> Self {
        Self::with_clock(per_second, DefaultClock::default())
    }
}

impl<C: Clock + Clone> IntakeLimits<C> {
    /// The same on `clock`.
    pub fn with_clock(per_second: Option<u32>, clock: C) -> Self {
        IntakeLimits {
            per_second: per_second.and_then(NonZeroU32::new),
            clock,
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `events` from `who`'s budget, or says why not (taking nothing).
    pub fn check(&self, who: &str, events: usize) -> Result<(), LimitError> {
        let Some(limit) = self.per_second else {
            return Ok(());
        };
        let limiter = self
            .limiters
            .lock()
            .expect("rate limiters")
            .entry(who.to_string())
            .or_insert_with(|| {
                let quota = Quota::per_second(limit);
                Arc::new(RateLimiter::direct_with_clock(quota, self.clock.clone()))
            })
            .clone();
        let too_large = || LimitError::TooLarge {
            who: who.into(),
            events,
            limit: limit.get(),
        };
        let n = u32::try_from(events)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(too_large)?;
        match limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(LimitError::Over {
                who: who.into(),
                limit: limit.get(),
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
            Err(_) => Err(too_large()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn each_sender_has_its_own_budget_refilled_over_time() {
        let clock = FakeRelativeClock::default();
        let limits = IntakeLimits::with_clock(Some(100), clock.clone());
        assert_eq!(limits.check("shop", 60), Ok(()));
        assert_eq!(limits.check("shop", 40), Ok(()));
        let Err(LimitError::Over { retry_after, .. }) = limits.check("shop", 10) else {
            panic!("the shop spent its second's budget");
        };
        assert_eq!(
            retry_after,
            Duration::from_millis(100),
            "ten events refill in 100 ms"
        );
        assert_eq!(
            limits.check("crm", 100),
            Ok(()),
            "another sender is not held back"
        );
        clock.advance(Duration::from_millis(100));
        assert_eq!(limits.check("shop", 10), Ok(()));
        assert!(matches!(
            limits.check("shop", 101),
            Err(LimitError::TooLarge {
                events: 101,
                limit: 100,
                ..
            })
        ));
        let open = IntakeLimits::with_clock(None, clock);
        assert_eq!(open.check("shop", 1_000_000), Ok(()));
    }

    #[test]
    fn rates_parse_or_are_refused_with_the_forms_accepted() {
        assert_eq!(parse_rate("1000/s"), Ok(Some(1000)));
        assert_eq!(parse_rate("90/m"), Ok(Some(2)));
        assert_eq!(parse_rate("off"), Ok(None));
        for bad in ["1000", "0/s", "x/s", "5/h"] {
            assert!(parse_rate(bad).unwrap_err().contains("`N/s`"), "{bad}");
        }
    }
}
