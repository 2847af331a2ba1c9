//! Per-zone serving options: SOA serial policy, who may transfer the zone (addresses and TSIG
//! keys), who may update it (addresses, TSIG keys and per-key grants), whom to NOTIFY.
//!
//! The binary reads them from the `[server]` section of its TOML config; here they are plain
//! values with documented defaults. The defaults are the safe ones: no transfers, no
//! updates, no NOTIFY.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use zonegate_core::Name;
use zonegate_core::update::UpdateGrant;
use zonegate_core::zone::serial::SerialPolicy;

/// How a zone is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneOptions {
    /// How the served SOA serial is derived from the generation. Default `increment`.
    pub serial_policy: SerialPolicy,
    /// Clients allowed to AXFR and IXFR the zone. Default: none (transfers refused).
    pub allow_transfer: Vec<AddressMatch>,
    /// Names of the TSIG keys (from [`ServerOptions::tsig_keys`]) a transfer of the zone must
    /// be signed with. When not empty, an AXFR or IXFR needs both an `allow_transfer` address
    /// and a valid TSIG (RFC 8945) made with one of these keys; the first also signs the
    /// zone's NOTIFY messages. Default: none (the address alone decides).
    pub transfer_keys: Vec<Name>,
    /// Secondaries sent a NOTIFY (RFC 1996) each time a new generation is installed.
    /// Default: none.
    pub notify: Vec<SocketAddr>,
    /// Deltas of IXFR history kept in memory, so how many older serials an IXFR can start
    /// from. Default 10. The history is also cut once it holds more records than the zone,
    /// because a full transfer is then smaller. (The config key was `history_versions_max`,
    /// which is still accepted.)
    pub history_deltas_max: usize,
    /// Clients allowed to send DNS UPDATE (RFC 2136) for the zone. Default: none (updates
    /// refused).
    pub allow_update: Vec<AddressMatch>,
    /// Names of the TSIG keys an UPDATE must be signed with. When not empty, an UPDATE needs
    /// both an `allow_update` address and a valid TSIG made with one of these keys. Default:
    /// none (the address alone decides).
    pub update_keys: Vec<Name>,
    /// Per-key grants: a key with grants here may change only the names and types they
    /// cover (BIND's `update-policy`, Knot's `update-owner`); a key without any is
    /// unrestricted. Default: none.
    pub update_policy: Vec<UpdateGrant>,
}

impl Default for ZoneOptions {
    fn default() -> Self {
        ZoneOptions {
            serial_policy: SerialPolicy::Increment,
            allow_transfer: Vec::new(),
            transfer_keys: Vec::new(),
            notify: Vec::new(),
            history_deltas_max: 10,
            allow_update: Vec::new(),
            update_keys: Vec::new(),
            update_policy: Vec::new(),
        }
    }
}

impl ZoneOptions {
    /// True if `client` may transfer the zone.
    pub fn may_transfer(&self, client: IpAddr) -> bool {
        self.allow_transfer.iter().any(|m| m.contains(client))
    }

    /// True if `client`, having signed with `key` (if it signed), may update the zone.
    pub fn may_update(&self, client: IpAddr, key: Option<&Name>) -> bool {
        let address = self.allow_update.iter().any(|m| m.contains(client));
        let keyed =
            self.update_keys.is_empty() || key.is_some_and(|k| self.update_keys.contains(k));
        address && keyed
    }
}

/// Options of every zone, and of NOTIFY sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Options of zones not listed in `zones`.
    pub default: ZoneOptions,
    pub zones: HashMap<Name, ZoneOptions>,
    /// NOTIFY retransmissions after the first attempt when a secondary does not answer.
    /// Default 5.
    pub notify_retries: u32,
    /// How long to wait for a secondary's answer to one NOTIFY. Default 2 s; each retry waits
    /// twice as long as the one before.
    pub notify_timeout: Duration,
    /// The TSIG keys this server knows, by name. A signed request is verified with the key it
    /// names, whatever the zone; its response is signed with the same key. Default: none.
    pub tsig_keys: Vec<TsigKey>,
    /// Response rate limiting of UDP answers. Default: off.
    pub rrl: RrlOptions,
    /// Limits on TCP connections.
    pub tcp: TcpOptions,
    /// The name of the catalog zone (RFC 9432) the server publishes, if any. It is served
    /// like any zone, under its own `zones` entry (or the defaults), but never takes DNS
    /// UPDATE: its content is made by the server (`catalog_zone`). Default: none.
    pub catalog: Option<Name>,
}

/// Response rate limiting (RRL) of UDP answers, with BIND's `rate-limit` names and meanings.
/// TCP answers are never limited: a client that can complete a TCP handshake is not spoofed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlOptions {
    /// Answers per second one client prefix may get of one kind (the same name and type, or
    /// NXDOMAIN, or errors). Default 0: rate limiting off.
    pub responses_per_second: u32,
    /// Of the answers over the limit, every `slip`-th is sent truncated (TC=1, no records),
    /// so that a real client behind a spoofed prefix retries over TCP; the rest are dropped.
    /// 0 drops them all, 1 truncates them all. Default 2.
    pub slip: u32,
    /// Seconds over which the rate is measured: a prefix that went over the limit stays
    /// limited until its average over this window is back under it. At least 1. Default 15.
    pub window: u32,
    /// The prefix length that makes IPv4 clients one client. Default 24.
    pub ipv4_prefix_length: u8,
    /// The prefix length that makes IPv6 clients one client. Default 56.
    pub ipv6_prefix_length: u8,
    /// Clients never limited. Default: none.
    pub exempt: Vec<AddressMatch>,
}

impl Default for RrlOptions {
    fn default() -> Self {
        RrlOptions {
            responses_per_second: 0,
            slip: 2,
            window: 15,
            ipv4_prefix_length: 24,
            ipv6_prefix_length: 56,
            exempt: Vec::new(),
        }
    }
}

/// Limits on TCP connections (compare NSD's `tcp-count`, Knot's `tcp-max-clients`, BIND's
/// `tcp-clients`, and dnsdist's per-client cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpOptions {
    /// Most connections open at once. Default 256.
    pub connections_max: usize,
    /// Most connections open at once from one client (one IPv4 address, one IPv6 /64).
    /// A connection over it is closed as soon as it is accepted. Default 16.
    pub connections_per_client_max: usize,
    /// How long a connection may stay idle between queries. Default 10 s.
    pub idle_timeout: Duration,
    /// How long a connection may stay idle once three quarters of `connections_max` are
    /// open: idle connections are then reclaimed for new clients. Default 1 s.
    pub idle_timeout_busy: Duration,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            connections_max: 256,
            connections_per_client_max: 16,
            idle_timeout: Duration::from_secs(10),
            idle_timeout_busy: Duration::from_secs(1),
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            default: ZoneOptions::default(),
            zones: HashMap::new(),
            notify_retries: 5,
            notify_timeout: Duration::from_secs(2),
            tsig_keys: Vec::new(),
            rrl: RrlOptions::default(),
            tcp: TcpOptions::default(),
            catalog: None,
        }
    }
}

impl ServerOptions {
    /// The options of the zone named `origin`.
    pub fn zone(&self, origin: &Name) -> &ZoneOptions {
        self.zones.get(origin).unwrap_or(&self.default)
    }

    /// The TSIG key named `name`.
    pub fn tsig_key(&self, name: &Name) -> Option<&TsigKey> {
        self.tsig_keys.iter().find(|k| k.name == *name)
    }
}

/// A TSIG (RFC 8945) HMAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's name as in RFC 8945 §6 (and BIND's, Knot's and dig's configs).
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }
}

impl TsigAlgorithm {
    /// The length of the algorithm's hash output in octets: the secret length RFC 8945 §6
    /// recommends at least.
    pub fn output_len(self) -> usize {
        match self {
            TsigAlgorithm::HmacSha256 => 32,
            TsigAlgorithm::HmacSha384 => 48,
            TsigAlgorithm::HmacSha512 => 64,
        }
    }
}

impl std::fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shared secret for TSIG: its name, its algorithm and the secret octets. `Debug` does not
/// show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key name, as both ends spell it (compared case-insensitively, like any name).
    pub name: Name,
    pub algorithm: TsigAlgorithm,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a TSIG key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsigKeyError {
    #[error("{name:?} is not a key name (write a domain name such as \"xfr.example.\")")]
    Name { name: String },
    #[error(
        "TSIG algorithm {algorithm:?} is not supported (write hmac-sha256, hmac-sha384 or hmac-sha512)"
    )]
    Algorithm { algorithm: String },
    #[error(
        "the secret of TSIG key {name:?} is not base64 (as `tsig-keygen` or `keymgr -t` print it)"
    )]
    Secret { name: String },
    #[error("the secret of TSIG key {name:?} is empty")]
    EmptySecret { name: String },
    /// RFC 8945 §6: a secret shorter than 16 octets is too easy to guess.
    #[error(
        "the secret of TSIG key {name:?} is {octets} octets, fewer than the {min} RFC 8945 asks for (make one with `tsig-keygen -a {algorithm} {name}`)"
    )]
    ShortSecret {
        name: String,
        octets: usize,
        min: usize,
        algorithm: TsigAlgorithm,
    },
}

/// The shortest TSIG secret accepted, in octets (RFC 8945 §6 and the secrets `tsig-keygen`
/// and `keymgr` make are at least this long).
pub const TSIG_SECRET_MIN: usize = 16;

impl FromStr for TsigAlgorithm {
    type Err = TsigKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .as_str()
        {
            "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
            _ => Err(TsigKeyError::Algorithm {
                algorithm: text.to_string(),
            }),
        }
    }
}

impl TsigKey {
    /// A key from its configured name (made absolute if it is not), algorithm name and base64
    /// secret.
    pub fn parse(name: &str, algorithm: &str, secret_base64: &str) -> Result<Self, TsigKeyError> {
        let absolute = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let key_name = Name::parse(&absolute).map_err(|_| TsigKeyError::Name {
            name: name.to_string(),
        })?;
        let algorithm = algorithm.parse()?;
        let secret = data_encoding::BASE64
            .decode(secret_base64.trim().as_bytes())
            .map_err(|_| TsigKeyError::Secret {
                name: name.to_string(),
            })?;
        if secret.is_empty() {
            return Err(TsigKeyError::EmptySecret {
                name: name.to_string(),
            });
        }
        if secret.len() < TSIG_SECRET_MIN {
            return Err(TsigKeyError::ShortSecret {
                name: name.to_string(),
                octets: secret.len(),
                min: TSIG_SECRET_MIN,
                algorithm,
            });
        }
        Ok(TsigKey {
            name: key_name,
            algorithm,
            secret,
        })
    }
}

impl TsigKey {
    /// True if the secret is shorter than the algorithm's hash output, which RFC 8945 §6
    /// recommends as the least (the binary warns about such a key when it loads it).
    pub fn is_weak(&self) -> bool {
        self.secret.len() < self.algorithm.output_len()
    }
}

/// An address or a network in CIDR notation: `192.0.2.1`, `10.0.0.0/8`, `::1`, `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressMatch {
    network: IpAddr,
    prefix_len: u8,
}

impl AddressMatch {
    /// True if `addr` is in this network. IPv4 addresses mapped into IPv6 match IPv4 networks.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
            v4 => v4,
        };
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                prefix_eq(&net.octets(), &a.octets(), self.prefix_len)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_eq(&net.octets(), &a.octets(), self.prefix_len)
            }
            _ => false,
        }
    }
}

/// `ip` with all but its first `v4` (IPv4) or `v6` (IPv6) bits cleared: the client it counts
/// as. IPv4 addresses mapped into IPv6 count as IPv4.
pub(crate) fn prefix_of(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    let ip = match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(v4.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u32::from(v6.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// Why an address match could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an address or a network (write 192.0.2.1, 10.0.0.0/8 or 2001:db8::/32)")]
pub struct AddressMatchError {
    pub text: String,
}

impl FromStr for AddressMatch {
    type Err = AddressMatchError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || AddressMatchError {
            text: text.to_string(),
        };
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| err())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            Some(l) => l.trim().parse::<u8>().map_err(|_| err())?,
            None => max,
        };
        if prefix_len > max {
            return Err(err());
        }
        Ok(AddressMatch {
            network,
            prefix_len,
        })
    }
}

impl std::fmt::Display for AddressMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> AddressMatch {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_matches() {
        assert!(m("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!m("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(m("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!m("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(m("192.0.2.128/25").contains(ip("192.0.2.200")));
        assert!(!m("192.0.2.128/25").contains(ip("192.0.2.100")));
        assert!(m("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!m("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(m("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!m("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(m("::1").contains(ip("::1")));
        // An IPv4 client on an IPv6 socket.
        assert!(m("127.0.0.0/8").contains(ip("::ffff:127.0.0.1")));
        assert_eq!(m("10.0.0.0/8").to_string(), "10.0.0.0/8");
        for bad in ["", "10.0.0.0/33", "::/129", "host", "10.0.0.0/x", "1.2.3"] {
            assert!(bad.parse::<AddressMatch>().is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes() {
        let p = |s: &str, v4, v6| prefix_of(s.parse().unwrap(), v4, v6).to_string();
        assert_eq!(p("198.51.100.9", 24, 56), "198.51.100.0");
        assert_eq!(p("198.51.100.9", 32, 56), "198.51.100.9");
        assert_eq!(p("198.51.100.9", 0, 56), "0.0.0.0");
        assert_eq!(p("2001:db8:1:2ff:1::1", 24, 56), "2001:db8:1:200::");
        assert_eq!(p("::ffff:198.51.100.9", 24, 56), "198.51.100.0");
    }

    #[test]
    fn tsig_keys_parse() {
        let k =
            TsigKey::parse("Xfr.Example", "HMAC-SHA256", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=").unwrap();
        assert_eq!(k.name, Name::parse("xfr.example.").unwrap());
        assert_eq!(k.algorithm, TsigAlgorithm::HmacSha256);
        assert_eq!(k.secret, b"secret-secret-secret");
        assert!(!format!("{k:?}").contains("c2VjcmV0"));
        for alg in ["hmac-sha384", "hmac-sha512."] {
            assert!(
                TsigKey::parse("k.", alg, "c2VjcmV0LXNlY3JldC1zZWNyZXQ=").is_ok(),
                "{alg}"
            );
        }
        assert!(matches!(
            TsigKey::parse("k.", "hmac-md5", "c2VjcmV0LXNlY3JldC1zZWNyZXQ="),
            Err(TsigKeyError::Algorithm { .. })
        ));
        assert!(matches!(
            TsigKey::parse("k.", "hmac-sha256", "not base64!"),
            Err(TsigKeyError::Secret { .. })
        ));
        assert!(matches!(
            TsigKey::parse("k.", "hmac-sha256", ""),
            Err(TsigKeyError::EmptySecret { .. })
        ));
        // One octet: refused, naming the key.
        let short = TsigKey::parse("tiny.key.", "hmac-sha256", "QQ==").unwrap_err();
        assert!(matches!(short, TsigKeyError::ShortSecret { octets: 1, .. }));
        assert!(short.to_string().contains("tiny.key."), "{short}");
    }

    #[test]
    fn updates_are_refused_by_default_and_keys_narrow_them() {
        let zone = Name::parse("example.").unwrap();
        let key = Name::parse("ddns.").unwrap();
        let local = ip("127.0.0.1");
        assert!(!ServerOptions::default().zone(&zone).may_update(local, None));
        let mut opts = ZoneOptions {
            allow_update: vec![m("127.0.0.0/8")],
            ..ZoneOptions::default()
        };
        assert!(opts.may_update(local, None));
        assert!(!opts.may_update(ip("192.0.2.1"), Some(&key)));
        opts.update_keys = vec![key.clone()];
        assert!(!opts.may_update(local, None));
        assert!(!opts.may_update(local, Some(&Name::parse("other.").unwrap())));
        assert!(opts.may_update(local, Some(&key)));
    }

    #[test]
    fn transfers_are_refused_by_default() {
        let opts = ServerOptions::default();
        let zone = Name::parse("example.").unwrap();
        assert!(!opts.zone(&zone).may_transfer(ip("127.0.0.1")));
        let mut opts = opts;
        opts.zones.insert(
            zone.clone(),
            ZoneOptions {
                allow_transfer: vec![m("127.0.0.0/8")],
                ..ZoneOptions::default()
            },
        );
        assert!(opts.zone(&zone).may_transfer(ip("127.0.0.1")));
        assert!(!opts.zone(&zone).may_transfer(ip("192.0.2.1")));
        assert!(
            !opts
                .zone(&Name::parse("other.").unwrap())
                .may_transfer(ip("127.0.0.1"))
        );
    }
}
