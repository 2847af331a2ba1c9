//! Response rate limiting (RRL) of UDP answers, in the manner of BIND's `rate-limit` and
//! Knot's `rrl`.
//!
//! # Design
//!
//! A spoofed query makes the server send its answer to a victim; RRL bounds how many answers
//! of one kind one client prefix gets per second. Every UDP answer, prepared or general, is
//! classified from its own octets (its RCODE and answer count) into a [`Kind`], and charged to
//! a token bucket keyed by the client's prefix (`ipv4_prefix_length`, `ipv6_prefix_length`),
//! the kind and, for answers and NODATA, the question (so a client asking for many names is
//! not limited by one popular name). NXDOMAIN answers and errors share one bucket per prefix
//! (BIND keys NXDOMAIN by zone; a server of one zone is the same).
//!
//! A bucket holds at most `responses_per_second` tokens and refills at that rate; each answer
//! takes one. Below zero the answer is limited, and the balance may sink to
//! `-responses_per_second × window`, so a prefix that keeps flooding stays limited until its
//! average over the window is back under the rate. Of the limited answers every `slip`-th goes
//! out truncated (TC=1, the question and nothing else, see [`slipped`]), telling a real client
//! to ask again over TCP; the others are dropped. TCP is never limited.
//!
//! The table is bounded ([`TABLE_MAX`] buckets): when it is full, buckets idle for a whole
//! window are forgotten, and if none is, the table starts over (logged). With rate limiting
//! off (the default) the UDP loops hold no [`Rrl`] and pay nothing.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::options::{RrlOptions, prefix_of};
use crate::wire::question_end;

/// Most buckets kept (BIND's `max-table-size` is 20,000 by default; a bucket here is 48
/// octets).
pub const TABLE_MAX: usize = 100_000;

/// How many answers rate limiting truncated and dropped since the server started: what the
/// metrics read.
#[derive(Debug, Default)]
pub struct RrlCounters {
    /// Answers sent truncated instead (TC=1, no records).
    pub slipped: AtomicU64,
    /// Answers not sent.
    pub dropped: AtomicU64,
}

/// What kind of answer a response is, for rate limiting: each kind has its own buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// NOERROR with records in the answer section.
    Answer,
    /// NOERROR without answer records: NODATA or a referral.
    NoData,
    /// NXDOMAIN.
    NxDomain,
    /// Any other RCODE (REFUSED, FORMERR, ...).
    Error,
}

impl Kind {
    /// The kind of the encoded response `bytes`.
    fn of(bytes: &[u8]) -> Kind {
        let rcode = bytes.get(3).map_or(2, |b| b & 0x0F);
        let answers = bytes
            .get(6..8)
            .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
        match (rcode, answers) {
            (0, 0) => Kind::NoData,
            (0, _) => Kind::Answer,
            (3, _) => Kind::NxDomain,
            _ => Kind::Error,
        }
    }
}

/// What to do with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send,
    Slip,
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    prefix: IpAddr,
    kind: Kind,
    /// A hash of the question (lower-cased), for answers and NODATA; 0 otherwise.
    question: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    balance: f64,
    last: Instant,
    limited: u64,
}

/// The rate limiter shared by every UDP loop of a server.
#[derive(Debug)]
pub struct Rrl {
    options: RrlOptions,
    rate: f64,
    floor: f64,
    hasher: RandomState,
    table: Mutex<HashMap<Key, Bucket>>,
    counters: RrlCounters,
}

impl Rrl {
    /// The limiter `options` describe, or `None` if rate limiting is off.
    pub fn new(options: &RrlOptions) -> Option<Rrl> {
        if options.responses_per_second == 0 {
            return None;
        }
        let rate = f64::from(options.responses_per_second);
        Some(Rrl {
            options: options.clone(),
            rate,
            floor: -rate * f64::from(options.window.max(1)),
            hasher: RandomState::new(),
            table: Mutex::new(HashMap::new()),
            counters: RrlCounters::default(),
        })
    }

    pub fn counters(&self) -> &RrlCounters {
        &self.counters
    }

    /// Charges the answer `response` to `client` and rewrites it into its truncated form if it
    /// slips; returns false if it is to be dropped.
    pub(crate) fn admit(&self, client: IpAddr, response: &mut Vec<u8>) -> bool {
        match self.decide(client, response, Instant::now()) {
            Decision::Send => true,
            Decision::Slip => {
                slipped(response);
                self.counters.slipped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Decision::Drop => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// What to do with the answer `response` to `client` at `now`.
    pub(crate) fn decide(&self, client: IpAddr, response: &[u8], now: Instant) -> Decision {
        if self.options.exempt.iter().any(|m| m.contains(client)) {
            return Decision::Send;
        }
        let key = self.key(client, response);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= TABLE_MAX && !table.contains_key(&key) {
            self.make_room(&mut table, now);
        }
        let bucket = table.entry(key).or_insert(Bucket {
            balance: self.rate,
            last: now,
            limited: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.last = now;
        bucket.balance = (bucket.balance + elapsed * self.rate).min(self.rate) - 1.0;
        if bucket.balance >= 0.0 {
            return Decision::Send;
        }
        bucket.balance = bucket.balance.max(self.floor);
        bucket.limited += 1;
        let slip = u64::from(self.options.slip);
        if slip > 0 && bucket.limited.is_multiple_of(slip) {
            Decision::Slip
        } else {
            Decision::Drop
        }
    }

    fn key(&self, client: IpAddr, response: &[u8]) -> Key {
        let kind = Kind::of(response);
        let question = match kind {
            Kind::Answer | Kind::NoData => {
                let end = question_end(response).unwrap_or(12).min(response.len());
                let mut h = self.hasher.build_hasher();
                for b in response.get(12..end).unwrap_or(&[]) {
                    h.write_u8(b.to_ascii_lowercase());
                }
                h.finish()
            }
            Kind::NxDomain | Kind::Error => 0,
        };
        Key {
            prefix: prefix_of(
                client,
                self.options.ipv4_prefix_length,
                self.options.ipv6_prefix_length,
            ),
            kind,
            question,
        }
    }

    /// Forgets buckets idle for a whole window; starts over if none is.
    fn make_room(&self, table: &mut HashMap<Key, Bucket>, now: Instant) {
        let window = f64::from(self.options.window.max(1));
        table.retain(|_, b| now.saturating_duration_since(b.last).as_secs_f64() < window);
        if table.len() >= TABLE_MAX {
            tracing::warn!(
                buckets = table.len(),
                "the rate-limit table is full of active clients; starting it over"
            );
            table.clear();
        }
    }
}

/// Rewrites the answer `bytes` into its slipped form: the header with TC set, the question,
/// and the OPT record if the answer ends with one (ours have no options, so it is the last 11
/// octets), nothing else.
pub(crate) fn slipped(bytes: &mut Vec<u8>) {
    let len = bytes.len();
    let additional = bytes
        .get(10..12)
        .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
    let opt = (additional > 0 && len >= 12 + 11)
        .then(|| bytes[len - 11..].to_vec())
        .filter(|o| o[0] == 0 && o[1..3] == [0, 41] && o[9..11] == [0, 0]);
    let end = question_end(bytes).unwrap_or(len.min(12));
    bytes.truncate(end);
    if bytes.len() < 12 {
        return;
    }
    bytes[2] |= 0x02;
    let questions: u16 = u16::from(end > 12);
    bytes[4..6].copy_from_slice(&questions.to_be_bytes());
    bytes[6..12].copy_from_slice(&[0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    if let Some(opt) = opt {
        bytes.extend_from_slice(&opt);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn answer(rcode: u8, answers: u16, name: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 1, 0x84, rcode, 0, 1];
        b.extend_from_slice(&answers.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(name);
        b.extend_from_slice(&[0, 1, 0, 1]);
        b
    }

    fn limiter(rate: u32, slip: u32) -> Rrl {
        Rrl::new(&RrlOptions {
            responses_per_second: rate,
            slip,
            window: 2,
            exempt: vec!["192.0.2.7".parse().unwrap()],
            ..RrlOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn off_by_default() {
        assert!(Rrl::new(&RrlOptions::default()).is_none());
    }

    /// A prefix gets `rate` answers at once, then every `slip`-th of the rest slips and the
    /// others drop; another prefix, another name and an exempt client are not affected; the
    /// bucket refills with time, but only after the debt of the window is paid.
    #[test]
    fn buckets_per_prefix_kind_and_name() {
        let rrl = limiter(5, 2);
        let t0 = Instant::now();
        let www = answer(0, 1, b"\x03www\x07example\x00");
        let client: IpAddr = "198.51.100.9".parse().unwrap();
        let same_prefix: IpAddr = "198.51.100.200".parse().unwrap();
        let decisions: Vec<Decision> = (0..15).map(|_| rrl.decide(client, &www, t0)).collect();
        assert!(decisions[..5].iter().all(|d| *d == Decision::Send));
        let slips = decisions[5..]
            .iter()
            .filter(|d| **d == Decision::Slip)
            .count();
        let drops = decisions[5..]
            .iter()
            .filter(|d| **d == Decision::Drop)
            .count();
        assert_eq!((slips, drops), (5, 5));
        assert_ne!(rrl.decide(same_prefix, &www, t0), Decision::Send);
        let other: IpAddr = "198.51.101.9".parse().unwrap();
        assert_eq!(rrl.decide(other, &www, t0), Decision::Send);
        let mail = answer(0, 1, b"\x04mail\x07example\x00");
        assert_eq!(rrl.decide(client, &mail, t0), Decision::Send);
        let exempt: IpAddr = "192.0.2.7".parse().unwrap();
        assert!((0..50).all(|_| rrl.decide(exempt, &www, t0) == Decision::Send));
        // The debt is 5 × 2 s: one second later the prefix is still limited, three later not.
        assert_ne!(
            rrl.decide(client, &www, t0 + Duration::from_secs(1)),
            Decision::Send
        );
        assert_eq!(
            rrl.decide(client, &www, t0 + Duration::from_secs(4)),
            Decision::Send
        );
    }

    #[test]
    fn slip_zero_drops_and_slip_one_truncates_every_limited_answer() {
        let t0 = Instant::now();
        let nx = answer(3, 0, b"\x04nope\x07example\x00");
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        let none = limiter(1, 0);
        let all = limiter(1, 1);
        assert_eq!(none.decide(ip, &nx, t0), Decision::Send);
        assert_eq!(all.decide(ip, &nx, t0), Decision::Send);
        assert!((0..10).all(|_| none.decide(ip, &nx, t0) == Decision::Drop));
        assert!((0..10).all(|_| all.decide(ip, &nx, t0) == Decision::Slip));
    }

    #[test]
    fn a_slipped_answer_keeps_the_question_and_the_opt_only() {
        let mut b = answer(0, 2, b"\x03www\x07example\x00");
        let question_end = b.len();
        b.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        b.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2]);
        b[11] = 1;
        let opt = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&opt);
        slipped(&mut b);
        assert_eq!(b.len(), question_end + 11);
        assert_eq!(b[2] & 0x02, 0x02);
        assert_eq!(&b[4..12], &[0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&b[question_end..], &opt);
    }
}
