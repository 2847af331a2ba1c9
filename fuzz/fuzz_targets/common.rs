//! What the server targets share: the catalog of Ferret zones (built once per process), the
//! TSIG key, and the checks on what the answer path sent.

// Each target uses part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hickory_proto::op::Message;
use hickory_proto::rr::TSigner;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm as HAlgorithm;
use zonegate_core::Limits;
use zonegate_core::gate::{Generation, Target};
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::parse;
use zonegate_server::fuzzing::Answers;
use zonegate_server::{
    AddressMatch, Catalog, Handler, ServerOptions, TsigKey, UDP_PAYLOAD_MAX, ZoneOptions,
};

/// The key the seed corpus signs with (`fuzz/seed`): name, and the 32-octet secret in base64.
pub const TSIG_NAME: &str = "fuzz-key.";
pub const TSIG_SECRET: &str = "Wm9uZWdhdGUgZnV6eiBrZXksIDMyIG9jdGV0cyEhISE=";
/// The time the TSIG target checks at: the seeds' Time Signed.
pub const TSIG_NOW: u64 = 1_800_000_000;
/// How many Ferret zones (distinct origins) the catalog serves.
const ZONES_MAX: usize = 400;

pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub handler: Handler,
    options: ServerOptions,
}

impl World {
    pub fn handler_options(&self) -> &ServerOptions {
        &self.options
    }
}

pub fn client() -> SocketAddr {
    ([192, 0, 2, 1], 5353).into()
}

fn options() -> ServerOptions {
    let key = TsigKey::parse(TSIG_NAME, "hmac-sha256", TSIG_SECRET).expect("the fuzz key");
    let mut options = ServerOptions::default();
    options.default = ZoneOptions {
        allow_transfer: vec!["192.0.2.0/24".parse::<AddressMatch>().expect("a prefix")],
        transfer_keys: vec![key.name.clone()],
        ..ZoneOptions::default()
    };
    options.tsig_keys = vec![key];
    options
}

fn ferret_file() -> String {
    std::env::var("ZONEGATE_FERRET_VALID").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/conformance/ferret-valid-dev.jsonl"
        )
        .to_string()
    })
}

fn build() -> World {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = options();
    let catalog = Arc::new(Catalog::with_options("fuzz", options.clone()));
    let text = std::fs::read_to_string(ferret_file()).expect("the Ferret data (../shared)");
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("a Ferret line");
        let Ok(parsed) = parse(case["zone"].as_str().unwrap_or(""), None, "ferret") else {
            continue;
        };
        let Ok(zone) = validate(parsed, &Limits::default()) else {
            continue;
        };
        if !seen.insert(zone.origin().clone()) {
            continue;
        }
        rt.block_on(catalog.install(Generation(1), zone))
            .expect("install");
        if seen.len() >= ZONES_MAX {
            break;
        }
    }
    World {
        rt,
        handler: Handler::new(catalog),
        options,
    }
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

/// The request verified again, with hickory's verifier alone.
pub fn verifies_independently(data: &[u8]) -> bool {
    let key = &world().options.tsig_keys[0];
    let name = hickory_proto::rr::Name::from_ascii(TSIG_NAME).unwrap();
    let signer = TSigner::new(key.secret.clone(), HAlgorithm::HmacSha256, name, 300).unwrap();
    signer.verify_message_byte(data, None, true).is_ok()
}

fn parses(what: &str, query: &[u8], response: &[u8]) {
    if let Err(e) = Message::from_vec(response) {
        panic!("{what} response does not parse ({e}): query {query:?}, response {response:?}");
    }
}

fn unframe<'a>(query: &[u8], framed: &'a [u8]) -> &'a [u8] {
    assert!(
        framed.len() >= 2,
        "a TCP answer without its length: {query:?}"
    );
    let len = usize::from(u16::from_be_bytes([framed[0], framed[1]]));
    assert_eq!(
        len,
        framed.len() - 2,
        "a TCP length prefix is wrong: {query:?}"
    );
    &framed[2..]
}

/// The checks on one message's answers.
pub fn check(query: &[u8], a: &Answers) {
    if let Some(prepared) = &a.prepared_udp {
        assert_eq!(a.general_udp.len(), 1, "query {query:?}");
        assert_eq!(
            *prepared, a.general_udp[0],
            "prepared and general differ over UDP: {query:?}"
        );
    }
    if let Some(prepared) = &a.prepared_tcp {
        assert_eq!(a.general_tcp.len(), 1, "query {query:?}");
        assert_eq!(
            *prepared, a.general_tcp[0],
            "prepared and general differ over TCP: {query:?}"
        );
    }
    for r in &a.general_udp {
        assert!(
            r.len() <= UDP_PAYLOAD_MAX as usize,
            "a UDP answer of {} octets",
            r.len()
        );
        parses("UDP", query, r);
    }
    for r in &a.general_tcp {
        parses("TCP", query, unframe(query, r));
    }
}
