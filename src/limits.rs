//! Bookkeeping for the limits that protect the daemon: rate windows, the
//! per-client table, token buckets for UDP replies, and which datagram
//! sources a builtin must never answer. Pure logic over `Instant`s; every
//! table has a fixed capacity.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::builtins;

pub const MINUTE: Duration = Duration::from_secs(60);

/// Counts events in consecutive fixed windows (as the BSD inetds do).
#[derive(Clone, Copy, Debug, Default)]
pub struct RateWindow {
    start: Option<Instant>,
    count: u32,
}

impl RateWindow {
    /// Records one event; false when it is the `limit + 1`th in the window.
    pub fn allow(&mut self, now: Instant, limit: u32, period: Duration) -> bool {
        match self.start {
            Some(start) if now.saturating_duration_since(start) < period => {}
            _ => {
                self.start = Some(now);
                self.count = 0;
            }
        }
        self.count = self.count.saturating_add(1);
        self.count <= limit
    }

    fn expired(&self, now: Instant, period: Duration) -> bool {
        self.start
            .map_or(true, |start| now.saturating_duration_since(start) >= period)
    }
}

/// How a service's children end, to tell a looping service (one whose
/// program cannot run, or exits at once without doing its work, so inetd
/// starts it again and again) from a busy one: only failures count.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailureStreak {
    /// Quick failures in a row, and when the first of them ended.
    count: u32,
    since: Option<Instant>,
}

/// A child that fails within this time of its start failed "at once".
pub const QUICK_EXIT: Duration = Duration::from_secs(1);
/// Quick failures in a row, within `LOOP_WINDOW`, that make a service looping.
pub const LOOP_FAILURES: u32 = 10;
pub const LOOP_WINDOW: Duration = Duration::from_secs(1);

impl FailureStreak {
    /// Records how one child ended (`quick_failure`: it could not be
    /// executed, or exited non-zero or by a signal at once). True when the
    /// service is looping: [`LOOP_FAILURES`] quick failures in a row, the
    /// first no longer than [`LOOP_WINDOW`] ago. Any other end breaks the
    /// streak.
    pub fn looping(&mut self, quick_failure: bool, now: Instant) -> bool {
        if !quick_failure {
            *self = FailureStreak::default();
            return false;
        }
        match self.since {
            Some(since) if now.saturating_duration_since(since) <= LOOP_WINDOW => {}
            _ => {
                self.since = Some(now);
                self.count = 0;
            }
        }
        self.count += 1;
        self.count >= LOOP_FAILURES
    }

    pub fn count(&self) -> u32 {
        self.count
    }
}

/// The address a client is counted under: IPv4-mapped addresses as IPv4,
/// IPv6 addresses by their first `v6_prefix` bits (one site gets a /64).
pub fn client_key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u32::from(v6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// Why a client's connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// More connections per minute than allowed.
    Rate,
    /// More concurrent children than allowed.
    Children,
    /// The table is full of clients with live children.
    Full,
}

#[derive(Debug, Default)]
struct ClientEntry {
    window: RateWindow,
    children: u32,
}

/// Per-client connection rates and live children, for one service.
#[derive(Debug)]
pub struct ClientTable {
    entries: HashMap<IpAddr, ClientEntry>,
    capacity: usize,
}

impl ClientTable {
    pub fn new(capacity: usize) -> ClientTable {
        ClientTable {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// Checks a new connection from `client` against the limits and, when
    /// admitted, counts it (and its child: call [`Self::release`] when it ends).
    pub fn admit(
        &mut self,
        client: IpAddr,
        now: Instant,
        per_minute: Option<u32>,
        max_children: Option<u32>,
    ) -> Result<(), Refusal> {
        if !self.entries.contains_key(&client) && self.entries.len() >= self.capacity {
            self.evict(now);
            if self.entries.len() >= self.capacity {
                return Err(Refusal::Full);
            }
        }
        let entry = self.entries.entry(client).or_default();
        if let Some(limit) = per_minute {
            if !entry.window.allow(now, limit, MINUTE) {
                return Err(Refusal::Rate);
            }
        }
        if max_children.is_some_and(|max| entry.children >= max) {
            return Err(Refusal::Children);
        }
        entry.children += 1;
        Ok(())
    }

    /// A child (or connection) of `client` ended.
    pub fn release(&mut self, client: IpAddr, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&client) {
            entry.children = entry.children.saturating_sub(1);
            if entry.children == 0 && entry.window.expired(now, MINUTE) {
                self.entries.remove(&client);
            }
        }
    }

    /// Drops clients with no children whose rate window has passed; if none
    /// has, the oldest client without children.
    fn evict(&mut self, now: Instant) {
        self.entries
            .retain(|_, e| e.children > 0 || !e.window.expired(now, MINUTE));
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.children == 0)
                .min_by_key(|(_, e)| e.window.start)
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.entries.remove(&ip);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Access decisions running in children (see `tcpd/`), per client and
/// in all. A client has an entry only while one of its decisions runs, so
/// the table is never larger than the decisions it allows.
#[derive(Debug, Default)]
pub struct DecisionTable {
    per_client: HashMap<IpAddr, u32>,
    total: u32,
}

impl DecisionTable {
    /// Counts one more decision for `client` when it is under `per_client`
    /// and the total under `total` (0: no limit); false otherwise.
    pub fn admit(&mut self, client: Option<IpAddr>, per_client: u32, total: u32) -> bool {
        if total > 0 && self.total >= total {
            return false;
        }
        if let Some(client) = client {
            let count = self.per_client.entry(client).or_default();
            if per_client > 0 && *count >= per_client {
                return false;
            }
            *count += 1;
        }
        self.total += 1;
        true
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn release(&mut self, client: Option<IpAddr>) {
        self.total = self.total.saturating_sub(1);
        if let Some(client) = client {
            if let Some(count) = self.per_client.get_mut(&client) {
                *count -= 1;
                if *count == 0 {
                    self.per_client.remove(&client);
                }
            }
        }
    }
}

/// A token bucket: `rate` tokens per second, up to `burst`.
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(now: Instant, burst: u32) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(burst),
            last: now,
        }
    }

    pub fn take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        self.take_above(now, rate, burst, 0.0)
    }

    /// Takes a token only if `keep` tokens remain after it.
    pub fn take_above(&mut self, now: Instant, rate: u32, burst: u32, keep: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(f64::from(burst));
        self.last = now;
        if self.tokens >= 1.0 + keep {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Replies to datagrams: a bucket per source address and one for all, and
/// a share of the one for all kept for the sources that ask for less than
/// their fair part of it.
///
/// Without that share, a flood from many sources, each within its own
/// rate (a spoofed one, say), takes the whole budget and a real client's
/// requests fail as often as the flood's. The fair part is the total rate
/// divided among the sources heard from in the last second (max-min
/// fairness, counted per second): a client asking for less than that keeps
/// being answered, while the sources asking for more share what is left.
#[derive(Debug)]
pub struct ReplyLimiter {
    per_source: HashMap<IpAddr, Source>,
    all: TokenBucket,
    capacity: usize,
    source_rate: u32,
    total_rate: u32,
    /// Requests are counted per second: this second's number and start,
    /// and how many sources asked in it and in the one before.
    second: u64,
    second_start: Instant,
    sources_now: u32,
    sources_before: u32,
}

#[derive(Debug)]
struct Source {
    bucket: TokenBucket,
    /// The second its `requests` were counted in.
    second: u64,
    requests: u32,
}

impl ReplyLimiter {
    /// `source_rate` and `total_rate` are replies per second (0: unlimited);
    /// the bursts are twice that.
    pub fn new(now: Instant, source_rate: u32, total_rate: u32, capacity: usize) -> ReplyLimiter {
        ReplyLimiter {
            per_source: HashMap::new(),
            all: TokenBucket::new(now, total_rate.saturating_mul(2)),
            capacity,
            source_rate,
            total_rate,
            second: 0,
            second_start: now,
            sources_now: 0,
            sources_before: 0,
        }
    }

    /// Whether a reply to `source` may go out now.
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.source_rate == 0 && self.total_rate == 0 {
            return true;
        }
        if now.saturating_duration_since(self.second_start) >= Duration::from_secs(1) {
            self.second += 1;
            self.second_start = now;
            self.sources_before = self.sources_now;
            self.sources_now = 0;
        }
        let burst = self.source_rate.saturating_mul(2);
        if !self.per_source.contains_key(&source) && self.per_source.len() >= self.capacity {
            // Forget sources whose bucket has refilled and that did not ask
            // this second: they lose nothing.
            let (rate, second) = (f64::from(self.source_rate), self.second);
            self.per_source.retain(|_, s| {
                let b = &s.bucket;
                s.second == second
                    || b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate
                        < f64::from(burst)
            });
        }
        let known = self.per_source.contains_key(&source) || self.per_source.len() < self.capacity;
        let light = if known {
            let entry = self.per_source.entry(source).or_insert_with(|| Source {
                bucket: TokenBucket::new(now, burst),
                second: u64::MAX,
                requests: 0,
            });
            if entry.second != self.second {
                entry.second = self.second;
                entry.requests = 0;
                self.sources_now += 1;
            }
            entry.requests = entry.requests.saturating_add(1);
            if self.source_rate > 0 && !entry.bucket.take(now, self.source_rate, burst) {
                return false;
            }
            let sources = self.sources_now.max(self.sources_before).max(1);
            entry.requests <= (self.total_rate / sources).max(1)
        } else if self.source_rate > 0 {
            // Full of sources in their burst: one more could not be limited.
            return false;
        } else {
            false
        };
        if self.total_rate == 0 {
            return true;
        }
        // The last second's worth of the burst is kept for light sources.
        let keep = if light {
            0.0
        } else {
            f64::from(self.total_rate)
        };
        self.all.take_above(
            now,
            self.total_rate,
            self.total_rate.saturating_mul(2),
            keep,
        )
    }
}

/// Whether a builtin may answer a datagram from `source`: not from a
/// builtin port or `internal_ports` (the daemon's own dgram builtins), nor
/// from addresses that cannot be a real requester (broadcast, multicast,
/// unspecified, 0.0.0.0/8). IPv4-mapped sources are checked as IPv4.
pub fn may_answer(source: SocketAddr, internal_ports: &[u16]) -> bool {
    let port = source.port();
    if port == 0 || builtins::is_builtin_port(port) || internal_ports.contains(&port) {
        return false;
    }
    match source.ip() {
        IpAddr::V4(v4) => may_answer_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => may_answer_v4(v4),
            None => !(v6.is_multicast() || v6.is_unspecified()),
        },
    }
}

fn may_answer_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_broadcast() || ip.is_multicast() || ip.octets()[0] == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn decisions_are_bounded_per_client_and_in_all() {
        let mut table = DecisionTable::default();
        let (a, b) = (Some(ip("10.0.0.1")), Some(ip("10.0.0.2")));
        assert!(table.admit(a, 2, 3));
        assert!(table.admit(a, 2, 3));
        assert!(!table.admit(a, 2, 3), "per client");
        assert!(table.admit(b, 2, 3));
        assert!(!table.admit(b, 2, 3), "in all");
        table.release(a);
        assert!(table.admit(b, 2, 3));
        for client in [a, b, b] {
            table.release(client);
        }
        assert!(table.per_client.is_empty() && table.total == 0);
    }

    #[test]
    fn only_quick_failures_in_a_row_make_a_service_looping() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut streak = FailureStreak::default();
        for i in 0..LOOP_FAILURES - 1 {
            assert!(!streak.looping(true, ms(u64::from(i))));
        }
        assert!(streak.looping(true, ms(20)));
        // A success breaks the streak.
        let mut streak = FailureStreak::default();
        for i in 0..100 {
            assert!(!streak.looping(i % 5 != 0, ms(i)));
        }
        // Failures spread thinner than the window never add up.
        let mut streak = FailureStreak::default();
        for i in 0..100 {
            assert!(!streak.looping(true, ms(i * 200)));
        }
    }

    #[test]
    fn rate_window_allows_the_limit_then_refuses_until_the_next_window() {
        let t0 = Instant::now();
        let mut w = RateWindow::default();
        for _ in 0..3 {
            assert!(w.allow(t0, 3, MINUTE));
        }
        assert!(!w.allow(t0 + Duration::from_secs(59), 3, MINUTE));
        assert!(w.allow(t0 + MINUTE, 3, MINUTE));
    }

    #[test]
    fn client_keys() {
        assert_eq!(client_key(ip("10.1.2.3"), 64), ip("10.1.2.3"));
        assert_eq!(client_key(ip("::ffff:10.1.2.3"), 64), ip("10.1.2.3"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:3:4:5:6"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_key(ip("2001:db8:1:2:3:4:5:6"), 128),
            ip("2001:db8:1:2:3:4:5:6")
        );
        assert_eq!(client_key(ip("2001:db8::1"), 0), ip("::"));
    }

    #[test]
    fn client_table_limits_rate_and_children_per_client() {
        let t0 = Instant::now();
        let mut table = ClientTable::new(16);
        let a = ip("127.0.0.1");
        let b = ip("127.0.0.2");
        assert_eq!(table.admit(a, t0, Some(2), None), Ok(()));
        assert_eq!(table.admit(a, t0, Some(2), None), Ok(()));
        assert_eq!(table.admit(a, t0, Some(2), None), Err(Refusal::Rate));
        assert_eq!(table.admit(b, t0, Some(2), None), Ok(()));

        let mut table = ClientTable::new(16);
        assert_eq!(table.admit(a, t0, None, Some(1)), Ok(()));
        assert_eq!(table.admit(a, t0, None, Some(1)), Err(Refusal::Children));
        table.release(a, t0);
        assert_eq!(table.admit(a, t0, None, Some(1)), Ok(()));
    }

    #[test]
    fn client_table_stays_bounded() {
        let t0 = Instant::now();
        let mut table = ClientTable::new(4);
        for i in 0..100u32 {
            let client = IpAddr::V4(Ipv4Addr::from(i));
            assert!(table.admit(client, t0, Some(10), None).is_ok());
            table.release(client, t0);
        }
        assert!(table.len() <= 4);
        // Clients with live children are never evicted: the table refuses.
        let mut table = ClientTable::new(2);
        assert!(table.admit(ip("10.0.0.1"), t0, None, None).is_ok());
        assert!(table.admit(ip("10.0.0.2"), t0, None, None).is_ok());
        assert_eq!(
            table.admit(ip("10.0.0.3"), t0, None, None),
            Err(Refusal::Full)
        );
    }

    #[test]
    fn replies_are_limited_per_source_and_in_all() {
        let t0 = Instant::now();
        let mut limiter = ReplyLimiter::new(t0, 5, 0, 8);
        let allowed = (0..100)
            .filter(|_| limiter.allow(ip("192.0.2.1"), t0))
            .count();
        assert_eq!(allowed, 10, "the burst is twice the rate");
        assert!(limiter.allow(ip("192.0.2.2"), t0));
        assert!(limiter.allow(ip("192.0.2.1"), t0 + Duration::from_secs(1)));

        let mut limiter = ReplyLimiter::new(t0, 0, 50, 1024);
        let allowed = (0..1000u32)
            .filter(|i| limiter.allow(IpAddr::V4(Ipv4Addr::from(*i)), t0))
            .count();
        assert_eq!(allowed, 100);

        // A flood from many sources, each within its own rate, takes what
        // the light sources leave; a client asking for less than its fair
        // part of the total is still answered every time.
        let mut limiter = ReplyLimiter::new(t0, 50, 2000, 4096);
        let (mut asked, mut answered) = (0, 0);
        for ms in 0..10_000u64 {
            let now = t0 + Duration::from_millis(ms);
            for n in 0..5u32 {
                // 100 flooding sources at 50 a second each.
                let flooder = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (ms as u32 * 5 + n) % 100));
                limiter.allow(flooder, now);
            }
            if ms % 250 == 0 {
                asked += 1;
                answered += usize::from(limiter.allow(ip("192.0.2.9"), now));
            }
        }
        assert_eq!(answered, asked);

        // Many sources: the table stays within its capacity.
        let mut limiter = ReplyLimiter::new(t0, 1, 0, 8);
        for i in 0..1000u32 {
            limiter.allow(IpAddr::V4(Ipv4Addr::from(i)), t0);
        }
        assert!(limiter.per_source.len() <= 8);
    }

    #[test]
    fn datagram_sources_that_get_no_answer() {
        let ok = |s: &str| may_answer(s.parse().unwrap(), &[7007]);
        assert!(ok("192.0.2.1:40000"));
        assert!(ok("[2001:db8::1]:40000"));
        for bad in [
            "192.0.2.1:7",
            "192.0.2.1:19",
            "192.0.2.1:37",
            "192.0.2.1:7007",
            "192.0.2.1:0",
            "255.255.255.255:40000",
            "224.0.0.1:40000",
            "0.1.2.3:40000",
            "[::ffff:224.0.0.1]:40000",
            "[::ffff:0.0.0.1]:40000",
            "[ff02::1]:40000",
            "[::]:40000",
        ] {
            assert!(!ok(bad), "{bad} must get no answer");
        }
    }
}
