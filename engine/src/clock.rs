//! The injected clock: the system clock in production, a manual one in tests and simulations so
//! days of waits run in milliseconds. The clock is the engine's one door to the outside world's
//! nondeterminism: time, random numbers and fresh ids all come through it, so a simulation with
//! a seeded [`ManualClock`] replays exactly.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the epoch.
    fn now_ms(&self) -> Millis;

    /// Now, as a UTC instant.
    fn now(&self) -> DateTime<Utc> {
        to_time(self.now_ms())
    }

    /// A random number (retry jitter).
    fn random(&self) -> u64 {
        rand::random()
    }

    /// A fresh unique id, ordered by creation time (UUID v7).
    fn new_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to. Seeded, its random numbers and ids follow from the
/// seed (for simulations that replay); unseeded, they come from the OS as the system clock's do,
/// so two processes started at the same manual time (a restart in a test) never share an id.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
    seed: Option<u64>,
    drawn: AtomicU64,
}

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        ManualClock {
            now: AtomicI64::new(at.timestamp_millis()),
            seed: None,
            drawn: AtomicU64::new(0),
        }
    }

    /// A clock stopped at `at` whose random numbers follow from `seed`.
    pub fn seeded(at: DateTime<Utc>, seed: u64) -> Self {
        ManualClock {
            now: AtomicI64::new(at.timestamp_millis()),
            seed: Some(seed),
            drawn: AtomicU64::new(0),
        }
    }

    fn draw(&self) -> u64 {
        self.drawn.fetch_add(1, Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: Millis) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        self.now.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }

    fn random(&self) -> u64 {
        match self.seed {
            Some(seed) => splitmix64(seed ^ self.draw().wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            None => rand::random(),
        }
    }

    /// Seeded: a UUID v7 at the clock's time whose other bits count up, so ids are unique within
    /// the simulation, ordered by creation and the same in every replay.
    fn new_id(&self) -> String {
        let Some(seed) = self.seed else {
            return uuid::Uuid::now_v7().to_string();
        };
        let mut bits = [0u8; 10];
        bits[..8].copy_from_slice(&self.draw().to_be_bytes());
        bits[8..].copy_from_slice(&(seed as u16).to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(self.now_ms().max(0) as u64, &bits)
            .into_uuid()
            .to_string()
    }
}

/// A millisecond timestamp as a UTC instant.
pub fn to_time(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A millisecond timestamp in RFC 3339.
pub fn rfc3339(ms: Millis) -> String {
    to_time(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One step of the SplitMix64 generator: a well-mixed 64-bit number from any input.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
