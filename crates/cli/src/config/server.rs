//! The `[server]` section of the config file: serving options (serial policy, transfer ACL,
//! TSIG keys, NOTIFY targets, IXFR history), read into the server's `ServerOptions`. Every key
//! is listed with its default in docs/configuration.md.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use zonegate_core::update::UpdateGrant;
use zonegate_core::zone::serial::SerialPolicy;
use zonegate_core::{Name, RType};
use zonegate_server::{AddressMatch, ServerOptions, TsigKey, ZoneOptions};

use super::http::{ApiTokenSection, HttpSettings, READY_LAG_S_DEFAULT};
use super::server_net::{RrlSection, TcpSection};

/// The `[server]` section of the config file. Every key is optional:
///
/// ```toml
/// [server]
/// serial_policy = "increment"      # or "unixtime", "dateserial"
/// allow_transfer = ["127.0.0.1", "10.0.0.0/8"]
/// notify = ["127.0.0.1:5301"]
/// notify_retries = 5
/// notify_timeout_ms = 2000
/// history_deltas_max = 10         # IXFR deltas kept (the older key history_versions_max works too)
/// transfer_keys = ["xfr-key."]     # transfers also need a TSIG with one of these keys
/// allow_update = ["127.0.0.1"]     # who may send DNS UPDATE (default: nobody)
/// update_keys = ["ddns-key."]      # updates also need a TSIG with one of these keys
/// update_policy = [                # a key with grants may change only what they cover
///   { key = "acme-key.", name = "_acme-challenge.*.example.com.", types = ["TXT"] },
/// ]
///
/// [[server.tsig_keys]]             # TSIG keys (RFC 8945), as many as needed
/// name = "xfr-key."
/// algorithm = "hmac-sha256"        # or "hmac-sha384", "hmac-sha512"
/// secret = "base64..."
///
/// catalog = "catalog.zonegate."   # publish a catalog zone (RFC 9432) of every zone; off unless set
///
/// http_listen = "127.0.0.1:9153"   # metrics, health, API and status page; off unless set
/// ready_lag_s = 10                 # /readyz: how long a zone may trail the store
///
/// [[server.api_tokens]]            # API tokens (config::http)
/// name = "ci"
/// roles = ["read", "plan", "publish"]
/// secret_sha256 = "hex..."         # or secret_file = "/etc/zonegate/ci.token"
///
/// [server.zones."example.com."]    # overrides for one zone
/// allow_transfer = ["192.0.2.53"]
/// notify = ["192.0.2.53:53"]
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(flatten)]
    default: ZoneSection,
    notify_retries: Option<u32>,
    notify_timeout_ms: Option<u64>,
    #[serde(default)]
    zones: HashMap<String, ZoneSection>,
    #[serde(default)]
    tsig_keys: Vec<TsigKeySection>,
    /// The HTTP listener (metrics, health, API, status page); off unless set.
    http_listen: Option<SocketAddr>,
    /// How long a served generation may trail the published one before `/readyz` says the
    /// zone is lagging, in seconds.
    ready_lag_s: Option<u64>,
    #[serde(default)]
    api_tokens: Vec<ApiTokenSection>,
    #[serde(default)]
    rrl: RrlSection,
    #[serde(default)]
    tcp: TcpSection,
    /// The catalog zone (RFC 9432) `serve` publishes, listing every published zone.
    catalog: Option<String>,
}

/// One `[[server.tsig_keys]]` entry. `Debug` does not show the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TsigKeySection {
    name: String,
    algorithm: String,
    secret: String,
}

impl std::fmt::Debug for TsigKeySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKeySection")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Serving options of one zone, or of every zone.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSection {
    serial_policy: Option<SerialPolicy>,
    allow_transfer: Option<Vec<String>>,
    transfer_keys: Option<Vec<String>>,
    notify: Option<Vec<SocketAddr>>,
    /// Formerly `history_versions_max`, still accepted.
    #[serde(alias = "history_versions_max")]
    history_deltas_max: Option<usize>,
    allow_update: Option<Vec<String>>,
    update_keys: Option<Vec<String>>,
    update_policy: Option<Vec<GrantSection>>,
}

/// One `update_policy` grant: `key` may change names matching `name`, of `types` (every type
/// when empty or absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantSection {
    key: String,
    name: String,
    #[serde(default)]
    types: Vec<String>,
}

/// `name` as an absolute name that is one of `keys`.
fn key_name(name: &str, keys: &[TsigKey], what: &str) -> anyhow::Result<Name> {
    let absolute = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::parse(&absolute)
        .ok()
        .filter(|n| keys.iter().any(|k| k.name == *n))
        .with_context(|| {
            format!("{what}: {name:?} is not the name of a [[server.tsig_keys]] entry")
        })
}

impl GrantSection {
    fn grant(&self, keys: &[TsigKey]) -> anyhow::Result<UpdateGrant> {
        let types = self
            .types
            .iter()
            .map(|t| {
                t.parse::<RType>().map_err(|()| {
                    anyhow::anyhow!(
                        "update_policy: {t:?} is not a record type (write TXT, A, TYPE65280...)"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(UpdateGrant {
            key: key_name(&self.key, keys, "update_policy")?,
            name: self.name.parse().context("update_policy")?,
            types,
        })
    }
}

impl ZoneSection {
    /// These options on top of `base`; key names must be among `keys`.
    fn apply(&self, base: &ZoneOptions, keys: &[TsigKey]) -> anyhow::Result<ZoneOptions> {
        let mut out = base.clone();
        if let Some(p) = self.serial_policy {
            out.serial_policy = p;
        }
        if let Some(list) = &self.allow_transfer {
            out.allow_transfer = list
                .iter()
                .map(|s| s.parse::<AddressMatch>())
                .collect::<Result<_, _>>()
                .context("allow_transfer")?;
        }
        if let Some(list) = &self.transfer_keys {
            out.transfer_keys = list
                .iter()
                .map(|name| key_name(name, keys, "transfer_keys"))
                .collect::<anyhow::Result<_>>()?;
        }
        self.apply_update(&mut out, keys)?;
        if let Some(list) = &self.notify {
            out.notify = list.clone();
        }
        if let Some(n) = self.history_deltas_max {
            out.history_deltas_max = n;
        }
        Ok(out)
    }
}

impl ZoneSection {
    /// The `allow_update`, `update_keys` and `update_policy` keys on top of `out`.
    fn apply_update(&self, out: &mut ZoneOptions, keys: &[TsigKey]) -> anyhow::Result<()> {
        if let Some(list) = &self.allow_update {
            out.allow_update = list
                .iter()
                .map(|s| s.parse::<AddressMatch>())
                .collect::<Result<_, _>>()
                .context("allow_update")?;
        }
        if let Some(list) = &self.update_keys {
            out.update_keys = list
                .iter()
                .map(|name| key_name(name, keys, "update_keys"))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(list) = &self.update_policy {
            out.update_policy = list
                .iter()
                .map(|g| g.grant(keys))
                .collect::<anyhow::Result<_>>()?;
        }
        Ok(())
    }
}

impl ServerSection {
    /// The HTTP listener's settings; secret files are read now.
    pub fn http(&self) -> anyhow::Result<HttpSettings> {
        let mut tokens: Vec<zonegate_http::Token> = Vec::new();
        for t in &self.api_tokens {
            let token = t.token()?;
            if tokens.iter().any(|other| other.name == token.name) {
                anyhow::bail!(
                    "[[server.api_tokens]]: the name {:?} is used twice",
                    token.name
                );
            }
            tokens.push(token);
        }
        Ok(HttpSettings {
            listen: self.http_listen,
            ready_lag_s: self.ready_lag_s.unwrap_or(READY_LAG_S_DEFAULT),
            tokens,
        })
    }

    fn options(&self) -> anyhow::Result<ServerOptions> {
        let mut out = ServerOptions::default();
        for k in &self.tsig_keys {
            let key = TsigKey::parse(&k.name, &k.algorithm, &k.secret)
                .with_context(|| format!("[[server.tsig_keys]] {:?}", k.name))?;
            if key.is_weak() {
                tracing::warn!(
                    key = %key.name,
                    octets = key.secret.len(),
                    recommended = key.algorithm.output_len(),
                    "the TSIG key's secret is shorter than its algorithm's hash output (RFC 8945 §6); make a new one with `tsig-keygen -a {}`",
                    key.algorithm
                );
            }
            if out.tsig_key(&key.name).is_some() {
                anyhow::bail!(
                    "[[server.tsig_keys]]: the key {:?} is defined twice",
                    k.name
                );
            }
            out.tsig_keys.push(key);
        }
        out.default = self.default.apply(&out.default, &out.tsig_keys)?;
        if let Some(r) = self.notify_retries {
            out.notify_retries = r;
        }
        if let Some(ms) = self.notify_timeout_ms {
            out.notify_timeout = Duration::from_millis(ms.max(1));
        }
        self.rrl.apply(&mut out.rrl)?;
        self.tcp.apply(&mut out.tcp)?;
        out.catalog = self.catalog.as_deref().map(absolute_name).transpose()?;
        for (zone, section) in &self.zones {
            let absolute = if zone.ends_with('.') {
                zone.clone()
            } else {
                format!("{zone}.")
            };
            let origin = Name::parse(&absolute)
                .with_context(|| format!("[server.zones.{zone:?}] is not a zone name"))?;
            let opts = section
                .apply(&out.default, &out.tsig_keys)
                .with_context(|| format!("[server.zones.{zone:?}]"))?;
            out.zones.insert(origin, opts);
        }
        // The catalog's serial is its generation (`increment`), so that every server on the
        // same store serves the same one, unless its own `[server.zones]` entry says otherwise.
        if let Some(name) = &out.catalog {
            let default = out.default.clone();
            out.zones.entry(name.clone()).or_insert(ZoneOptions {
                serial_policy: SerialPolicy::Increment,
                ..default
            });
        }
        Ok(out)
    }
}

/// The config file's `[server]` section as written (without a file, or without the
/// section, every key at its default).
pub fn server_section(config: Option<&Path>) -> anyhow::Result<ServerSection> {
    let Some(path) = config else {
        return Ok(ServerSection::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let Some(section) = table.remove("server") else {
        return Ok(ServerSection::default());
    };
    section
        .try_into()
        .with_context(|| format!("the [server] section of {} is not valid", path.display()))
}

/// The serving options in the config file's `[server]` section; the defaults without a file.
pub fn server_options(config: Option<&Path>) -> anyhow::Result<ServerOptions> {
    let Some(path) = config else {
        return Ok(ServerOptions::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let Some(section) = table.remove("server") else {
        return Ok(ServerOptions::default());
    };
    let section: ServerSection = section
        .try_into()
        .with_context(|| format!("the [server] section of {} is not valid", path.display()))?;
    section
        .options()
        .with_context(|| format!("the [server] section of {} is not valid", path.display()))
}

/// `catalog`, the name of the catalog zone, as an absolute name.
fn absolute_name(text: &str) -> anyhow::Result<Name> {
    let absolute = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    Name::parse(&absolute).with_context(|| format!("catalog: {text:?} is not a zone name"))
}

/// The catalog zone's name (`[server] catalog`) if the config file sets one. Only that key
/// is read, so a command that plans (and refuses a plan for the catalog's name) does not
/// depend on the rest of the `[server]` section.
pub fn catalog_name(config: Option<&Path>) -> anyhow::Result<Option<Name>> {
    let Some(path) = config else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let Some(value) = table.get("server").and_then(|s| s.get("catalog")) else {
        return Ok(None);
    };
    let text = value
        .as_str()
        .with_context(|| format!("[server] catalog in {} is not a string", path.display()))?;
    absolute_name(text).map(Some)
}

/// The config file without its `[server]` section, which the gate settings do not know.
pub fn without_server_section(text: &str) -> Result<toml::Value, toml::de::Error> {
    let mut table: toml::Table = toml::from_str(text)?;
    table.remove("server");
    // `[watch]` belongs to `watch` (see watch.rs).
    table.remove("watch");
    Ok(toml::Value::Table(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ServerOptions> {
        let mut table: toml::Table = toml::from_str(text)?;
        let section: ServerSection = table.remove("server").unwrap().try_into()?;
        section.options()
    }

    #[test]
    fn server_section_with_zone_overrides() {
        let o = parse(
            r#"
            [server]
            serial_policy = "dateserial"
            allow_transfer = ["127.0.0.1", "10.0.0.0/8"]
            notify = ["127.0.0.1:5301"]
            notify_retries = 2
            notify_timeout_ms = 300
            [server.zones."example.com"]
            allow_transfer = ["192.0.2.53"]
            "#,
        )
        .unwrap();
        assert_eq!(o.default.serial_policy, SerialPolicy::DateSerial);
        assert!(o.default.may_transfer("10.1.2.3".parse().unwrap()));
        assert_eq!(o.notify_retries, 2);
        assert_eq!(o.notify_timeout, Duration::from_millis(300));
        let z = o.zone(&Name::parse("example.com.").unwrap());
        // Overridden ACL, inherited policy and NOTIFY targets.
        assert!(!z.may_transfer("10.1.2.3".parse().unwrap()));
        assert!(z.may_transfer("192.0.2.53".parse().unwrap()));
        assert_eq!(z.serial_policy, SerialPolicy::DateSerial);
        assert_eq!(z.notify, vec!["127.0.0.1:5301".parse().unwrap()]);
    }

    /// The IXFR history bound is `history_deltas_max`; configs written with its old name,
    /// `history_versions_max`, keep working.
    #[test]
    fn history_bound_under_its_new_and_old_key() {
        let new = parse("[server]\nhistory_deltas_max = 3\n").unwrap();
        assert_eq!(new.default.history_deltas_max, 3);
        let old = parse("[server]\nhistory_versions_max = 4\n").unwrap();
        assert_eq!(old.default.history_deltas_max, 4);
    }

    /// `catalog` names the catalog zone (the trailing dot optional); `catalog_name` reads that
    /// key alone, whatever else the section holds.
    #[test]
    fn catalog_names_the_catalog_zone() {
        let o = parse("[server]\ncatalog = \"catalog.example\"\nserial_policy = \"unixtime\"\n")
            .unwrap();
        let cat = Name::parse("catalog.example.").unwrap();
        assert_eq!(o.catalog, Some(cat.clone()));
        // Its serial is its generation, whatever the other zones' policy, unless set for it.
        assert_eq!(o.zone(&cat).serial_policy, SerialPolicy::Increment);
        assert_eq!(o.default.serial_policy, SerialPolicy::UnixTime);
        let own = parse(
            "[server]\ncatalog = \"cat.\"\n[server.zones.\"cat.\"]\nserial_policy = \"dateserial\"\n",
        )
        .unwrap();
        assert_eq!(
            own.zone(&Name::parse("cat.").unwrap()).serial_policy,
            SerialPolicy::DateSerial
        );
        assert_eq!(parse("[server]\n").unwrap().catalog, None);
        assert!(parse("[server]\ncatalog = \"a..b\"\n").is_err());
        let dir = std::env::temp_dir().join(format!("zonegate-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "[server]\ncatalog = \"cat.\"\nunknown_key = 1\n").unwrap();
        assert_eq!(
            catalog_name(Some(&path)).unwrap(),
            Some(Name::parse("cat.").unwrap())
        );
        std::fs::write(&path, "[policy]\n").unwrap();
        assert_eq!(catalog_name(Some(&path)).unwrap(), None);
        assert_eq!(catalog_name(None).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tsig_keys_and_transfer_keys() {
        let o = parse(
            r#"
            [server]
            allow_transfer = ["127.0.0.1"]
            transfer_keys = ["xfr-key"]
            [[server.tsig_keys]]
            name = "xfr-key."
            algorithm = "hmac-sha256"
            secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
            [[server.tsig_keys]]
            name = "other."
            algorithm = "hmac-sha512"
            secret = "b3RoZXItb3RoZXItb3RoZXI="
            [server.zones."example.com."]
            transfer_keys = ["other.", "xfr-key."]
            [server.zones."open.example."]
            transfer_keys = []
            "#,
        )
        .unwrap();
        let key = |s: &str| Name::parse(s).unwrap();
        assert_eq!(o.tsig_keys.len(), 2);
        assert_eq!(
            o.tsig_key(&key("other.")).unwrap().secret,
            b"other-other-other"
        );
        assert_eq!(o.default.transfer_keys, vec![key("xfr-key.")]);
        assert_eq!(
            o.zone(&key("example.com.")).transfer_keys,
            vec![key("other."), key("xfr-key.")]
        );
        assert!(o.zone(&key("open.example.")).transfer_keys.is_empty());

        let unknown = parse("[server]\ntransfer_keys = [\"nope.\"]").unwrap_err();
        assert!(format!("{unknown:#}").contains("nope."), "{unknown:#}");
        let twice = "[server]\n[[server.tsig_keys]]\nname = \"k.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\"\n";
        let e = parse(&format!("{twice}{}", &twice[9..])).unwrap_err();
        assert!(format!("{e:#}").contains("twice"), "{e:#}");
        let bad = "[server]\n[[server.tsig_keys]]\nname = \"k.\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\"\n";
        let e = parse(bad).unwrap_err();
        assert!(format!("{e:#}").contains("hmac-md5"), "{e:#}");
    }

    /// `[[server.api_tokens]]`: by hash or by file, one of the two, named once, with roles;
    /// `Debug` shows no secret.
    #[test]
    fn api_tokens_http_listen_and_ready_lag() {
        let section = |text: &str| -> anyhow::Result<ServerSection> {
            let mut table: toml::Table = toml::from_str(text)?;
            Ok(table.remove("server").unwrap().try_into()?)
        };
        let hex = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
        let dir = std::env::temp_dir().join(format!("zonegate-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t");
        std::fs::write(&file, "password\n").unwrap();
        let text = format!(
            "[server]\nhttp_listen = \"127.0.0.1:9153\"\nready_lag_s = 3\n\
             [[server.api_tokens]]\nname = \"ci\"\nroles = [\"read\", \"plan\"]\nsecret_sha256 = \"{hex}\"\n\
             [[server.api_tokens]]\nname = \"ops\"\nroles = [\"approve\"]\nsecret_file = {:?}\n",
            file.display().to_string()
        );
        let s = section(&text).unwrap();
        let http = s.http().unwrap();
        assert_eq!(http.listen, Some("127.0.0.1:9153".parse().unwrap()));
        assert_eq!(http.ready_lag_s, 3);
        assert_eq!(http.tokens.len(), 2);
        // Both secrets are "password": by its hash and from the file.
        assert_eq!(http.tokens[0].secret_sha256, http.tokens[1].secret_sha256);
        assert!(
            !format!("{s:?}").contains(hex),
            "Debug shows a secret: {s:?}"
        );
        assert_eq!(
            section("[server]\n").unwrap().http().unwrap().ready_lag_s,
            10
        );

        let token = "[server]\n[[server.api_tokens]]\nname = \"a\"\nroles = [\"read\"]\n";
        let both = format!("{token}secret_sha256 = \"{hex}\"\nsecret_file = \"/x\"\n");
        let e = section(&both).unwrap().http().unwrap_err();
        assert!(format!("{e:#}").contains("exactly one"), "{e:#}");
        let short = format!("{token}secret_sha256 = \"abc\"\n");
        assert!(section(&short).unwrap().http().is_err());
        let once = format!("{token}secret_sha256 = \"{hex}\"\n");
        let twice = format!("{once}{}", &once[9..]);
        let e = section(&twice).unwrap().http().unwrap_err();
        assert!(format!("{e:#}").contains("twice"), "{e:#}");
        let bad_role = "[server]\n[[server.api_tokens]]\nname = \"a\"\nroles = [\"root\"]\nsecret_file = \"/x\"\n";
        assert!(section(bad_role).is_err());
        let missing = format!("{token}secret_file = \"/nonexistent/zonegate.token\"\n");
        assert!(section(&missing).unwrap().http().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A secret under 16 octets is refused at load, naming the key; one of 16 octets loads.
    #[test]
    fn short_tsig_secrets_are_refused() {
        let key = |secret: &str| {
            format!(
                "[server]\n[[server.tsig_keys]]\nname = \"short.key.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{secret}\"\n"
            )
        };
        // One octet ("A").
        let e = parse(&key("QQ==")).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("short.key.") && text.contains("1 octets"),
            "{text}"
        );
        // Fifteen octets.
        assert!(parse(&key("MDEyMzQ1Njc4OWFiY2Rl")).is_err());
        // Sixteen octets: accepted (with a warning, since SHA-256's output is 32).
        let o = parse(&key("MDEyMzQ1Njc4OWFiY2RlZg==")).unwrap();
        assert!(o.tsig_keys[0].is_weak());
    }

    #[test]
    fn rate_limiting_and_tcp_limits() {
        let o = parse("[server]\n").unwrap();
        assert_eq!(o.rrl.responses_per_second, 0);
        assert_eq!(o.tcp.connections_per_client_max, 16);
        let o = parse(
            "[server.rrl]\nresponses_per_second = 5\nslip = 3\nwindow = 4\nipv4_prefix_length = 32\nipv6_prefix_length = 64\nexempt = [\"10.0.0.0/8\"]\n[server.tcp]\nconnections_max = 100\nconnections_per_client_max = 4\nidle_timeout_ms = 3000\nidle_timeout_busy_ms = 200\n",
        )
        .unwrap();
        assert_eq!(
            (o.rrl.responses_per_second, o.rrl.slip, o.rrl.window),
            (5, 3, 4)
        );
        assert_eq!(
            (o.rrl.ipv4_prefix_length, o.rrl.ipv6_prefix_length),
            (32, 64)
        );
        assert_eq!(o.rrl.exempt.len(), 1);
        assert_eq!(o.tcp.connections_max, 100);
        assert_eq!(o.tcp.idle_timeout_busy, Duration::from_millis(200));
        for (bad, key) in [
            ("[server.rrl]\nwindow = 0", "window"),
            (
                "[server.rrl]\nipv4_prefix_length = 33",
                "ipv4_prefix_length",
            ),
            ("[server.rrl]\nexempt = [\"host\"]", "exempt"),
            ("[server.rrl]\nrate = 5", "rate"),
            (
                "[server.tcp]\nconnections_per_client_max = 300",
                "connections_per_client_max",
            ),
            (
                "[server.tcp]\nidle_timeout_busy_ms = 20000",
                "idle_timeout_busy_ms",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(format!("{e:#}").contains(key), "{bad}: {e:#}");
        }
    }

    #[test]
    fn update_acl_keys_and_policy() {
        let o = parse(
            r#"
            [server]
            allow_update = ["127.0.0.1"]
            [[server.tsig_keys]]
            name = "acme."
            algorithm = "hmac-sha256"
            secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
            [server.zones."example.com."]
            update_keys = ["acme"]
            update_policy = [{ key = "acme.", name = "_acme-challenge.*.example.com.", types = ["TXT"] }]
            "#,
        )
        .unwrap();
        let z = o.zone(&Name::parse("example.com.").unwrap());
        let acme = Name::parse("acme.").unwrap();
        assert!(z.may_update("127.0.0.1".parse().unwrap(), Some(&acme)));
        assert!(!z.may_update("127.0.0.1".parse().unwrap(), None));
        assert_eq!(z.update_policy.len(), 1);
        assert_eq!(z.update_policy[0].types, vec![RType::TXT]);
        assert!(o.default.update_policy.is_empty());
        for bad in [
            "[server]\nupdate_keys = [\"nope.\"]",
            "[server]\nallow_update = [\"host\"]",
            "[server]\nupdate_policy = [{ key = \"nope.\", name = \"a.\" }]",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(format!("{e:#}").contains("update"), "{e:#}");
        }
    }

    #[test]
    fn server_section_errors_are_named() {
        let e = parse("[server]\nallow_transfer = [\"10.0.0.0/40\"]").unwrap_err();
        assert!(format!("{e:#}").contains("10.0.0.0/40"), "{e:#}");
        assert!(parse("[server]\nserial_policy = \"keep\"").is_err());
        assert!(parse("[server]\nallow_transfers = []").is_err());
        // The gate settings never see the section.
        let rest = without_server_section("plan_age_max_s = 5\n[server]\nnotify = []\n").unwrap();
        assert!(rest.get("server").is_none());
        assert!(rest.get("plan_age_max_s").is_some());
    }
}
