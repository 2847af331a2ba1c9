//! One DNS UPDATE (RFC 2136) through the server's whole UPDATE path: the handler, the
//! server's UPDATE step and an update sink that runs `gate::update` on the in-memory store and
//! installs what it published into the catalog, for a client that `allow_update` admits to a
//! small zone. The input's opcode is made UPDATE (and QR 0), so every input is one; it is sent
//! over UDP, then again over TCP (applied a second time, on what the first left).
//!
//! After each message: every response parses, and its code is one RFC 2136 (or, for a
//! signed or EDNS request, RFC 8945 / RFC 6891) allows; the published generation never goes
//! back; after a NOERROR the catalog serves the store's published generation, with the
//! store's content (the SOA serial aside: the serial policy sets it), and that content still
//! validates; any other answer leaves the published generation as it was.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use libfuzzer_sys::fuzz_target;
use zonegate_core::gate::{
    self, Actor, Generation, KnownContent, Store, Target, UpdateOutcome, UpdateRequest,
};
use zonegate_core::model::MemStore;
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::parse;
use zonegate_core::{GateConfig, Limits, Name, ParsedZone, RType, Zone};
use zonegate_server::{
    AddressMatch, Catalog, Handler, ServerOptions, UpdateCall, UpdateFuture, UpdateSink,
    ZoneOptions,
};

/// A small zone of the kinds the Ferret data has: apex SOA and NS, glue, a delegation, MX,
/// TXT, SRV, CAA, a CNAME and a wildcard.
const ZONE: &str = "$ORIGIN example.
$TTL 300
@ IN SOA ns1 hostmaster 2026120201 7200 900 1209600 300
@ IN NS ns1
@ IN NS ns2
@ IN MX 10 mail
@ IN TXT \"v=spf1 mx -all\"
@ IN CAA 0 issue \"letsencrypt.org\"
ns1 IN A 192.0.2.53
ns2 IN AAAA 2001:db8::53
mail IN A 192.0.2.25
www IN A 192.0.2.80
www IN A 192.0.2.81
ftp IN CNAME www
_sip._tcp IN SRV 10 5 5060 www
*.dyn IN A 192.0.2.99
sub IN NS ns.sub
ns.sub IN A 192.0.2.54
";
/// The time the gate runs at.
const NOW: u64 = 1_800_000_000;
/// How many times one message is judged before a race is given up.
const ATTEMPTS_MAX: u32 = 3;

fn client() -> SocketAddr {
    ([192, 0, 2, 1], 5353).into()
}

fn options() -> ServerOptions {
    let mut options = ServerOptions::default();
    options.default = ZoneOptions {
        allow_update: vec!["192.0.2.0/24".parse::<AddressMatch>().expect("a prefix")],
        ..ZoneOptions::default()
    };
    options
}

/// The zone, parsed once per process.
fn zone_text() -> &'static ParsedZone {
    static ZONE_PARSED: OnceLock<ParsedZone> = OnceLock::new();
    ZONE_PARSED.get_or_init(|| parse(ZONE, None, "update-fuzz").expect("the fuzz zone parses"))
}

/// The sink: `gate::update` on the store, then the install of what it published.
struct GateSink {
    store: Arc<MemStore>,
    catalog: Weak<Catalog>,
    cfg: GateConfig,
    known: Mutex<Option<KnownContent>>,
}

impl UpdateSink for GateSink {
    fn update(&self, call: UpdateCall) -> UpdateFuture<'_> {
        Box::pin(async move {
            let mut known = self.known.lock().expect("known").take();
            let req = UpdateRequest {
                message: &call.message,
                key: call.key.as_ref(),
                grants: &call.grants,
                attempts_max: ATTEMPTS_MAX,
            };
            let name = call.client.ip().to_string();
            let actor = Actor::new(&name).unwrap_or_else(|_| Actor::recorded(name));
            let outcome = gate::update(&*self.store, &mut known, req, &self.cfg, NOW, &actor).await;
            if let Ok(UpdateOutcome::Published { generation, .. }) = &outcome {
                let content = known.as_ref().expect("a publication keeps its content");
                assert_eq!(content.generation(), *generation);
                let catalog = self.catalog.upgrade().expect("the catalog");
                catalog
                    .install(*generation, content.zone().clone())
                    .await
                    .expect("the generation just published installs");
            }
            *self.known.lock().expect("known") = known;
            outcome
        })
    }
}

struct World {
    store: Arc<MemStore>,
    catalog: Arc<Catalog>,
    handler: Handler,
    cfg: GateConfig,
}

/// A fresh store with the zone published at generation 1 and a catalog serving it, so that
/// every input starts from the same state (a crash reproduces from its input alone).
async fn world() -> World {
    let cfg = GateConfig::default();
    let store = Arc::new(MemStore::new());
    let parsed = zone_text().clone();
    let origin = parsed.origin.clone();
    gate::plan(&*store, parsed, &cfg, NOW, &Actor::PLAN)
        .await
        .expect("the fuzz zone plans");
    gate::publish(&*store, &origin, None, &cfg, NOW, &Actor::PUBLISH)
        .await
        .expect("the fuzz zone publishes");
    let catalog = Arc::new(Catalog::with_options("fuzz-update", options()));
    let (g, zone) = published(&store, &origin, &cfg).await;
    catalog.install(g, zone).await.expect("install");
    let sink = GateSink {
        store: store.clone(),
        catalog: Arc::downgrade(&catalog),
        cfg: cfg.clone(),
        known: Mutex::new(None),
    };
    assert!(catalog.set_update_sink(Arc::new(sink)));
    World {
        store,
        handler: Handler::new(catalog.clone()),
        catalog,
        cfg,
    }
}

/// The store's published generation and its content, read back and validated.
async fn published(store: &MemStore, origin: &Name, cfg: &GateConfig) -> (Generation, Zone) {
    let (g, zone) = gate::load_published(store, origin, cfg)
        .await
        .expect("the store reads")
        .expect("the zone stays published");
    (g, zone.expect("the published content loads and validates"))
}

async fn generation(store: &MemStore, origin: &Name) -> Generation {
    store
        .published(origin)
        .await
        .expect("the store reads")
        .expect("the zone stays published")
        .generation
}

/// The response codes an UPDATE may be answered with: RFC 2136 §2.2, and BADVERS/BADSIG
/// (16, RFC 6891 / RFC 8945) for a request with EDNS or a TSIG.
fn allowed(code: ResponseCode) -> bool {
    matches!(u16::from(code), 0..=10 | 16)
}

/// The response `bytes` (without a TCP length prefix) parses, and its code is allowed.
fn response_code(query: &[u8], bytes: &[u8]) -> Option<ResponseCode> {
    let message = Message::from_vec(bytes)
        .unwrap_or_else(|e| panic!("a response does not parse ({e}): {query:?} -> {bytes:?}"));
    let code = message.metadata.response_code;
    assert!(
        allowed(code),
        "UPDATE answered {code}: {query:?} -> {bytes:?}"
    );
    // Only an answer to an UPDATE says anything about one (a message hickory could not read
    // far enough is answered without its opcode).
    (message.metadata.op_code == OpCode::Update).then_some(code)
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

/// `served` is `stored` with (at most) another SOA serial.
fn same_content(served: &Zone, stored: &Zone) {
    assert_eq!(served.origin(), stored.origin());
    assert_eq!(
        served.len(),
        stored.len(),
        "served {served:?}, stored {stored:?}"
    );
    for (a, b) in served.records().iter().zip(stored.records()) {
        if a.rtype == RType::SOA {
            let (mut sa, sb) = (served.soa(), stored.soa());
            sa.serial = sb.serial;
            assert_eq!(sa, sb, "the served SOA is not the stored one");
        } else {
            assert_eq!(a, b, "the served zone is not the stored one");
        }
    }
}

/// Sends `query` once and checks the answers and the state they leave.
async fn send(w: &World, query: &[u8], tcp: bool) {
    let origin = zone_text().origin.clone();
    let before = generation(&w.store, &origin).await;
    let sent = zonegate_server::fuzzing::answer_once(&w.handler, query, client(), tcp).await;
    assert!(
        sent.len() <= 1,
        "{} answers to one UPDATE: {query:?}",
        sent.len()
    );
    let after = generation(&w.store, &origin).await;
    assert!(
        after >= before,
        "the published generation went back: {before} -> {after}"
    );
    let code = sent
        .first()
        .and_then(|r| response_code(query, if tcp { unframe(query, r) } else { r }));
    if code == Some(ResponseCode::NoError) {
        let (g, stored) = published(&w.store, &origin, &w.cfg).await;
        assert_eq!(w.catalog.held(&origin), Some(g), "NOERROR, yet not served");
        let served = w.catalog.get(&origin).expect("the zone is served");
        assert_eq!(served.generation(), g);
        same_content(served.index().zone(), &stored);
        let again = ParsedZone {
            origin: origin.clone(),
            records: stored.records().to_vec(),
        };
        validate(again, &Limits::default()).expect("the published zone validates");
    } else {
        assert_eq!(
            after, before,
            "answered {code:?}, yet the zone moved: {query:?}"
        );
    }
}

fuzz_target!(init: { zone_text(); }, |data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let mut query = data.to_vec();
    // QR 0, opcode UPDATE (5); the other flag bits as the input has them.
    query[2] = (query[2] & 0x87) | (5 << 3);
    let rt = runtime();
    rt.block_on(async {
        let w = world().await;
        send(&w, &query, false).await;
        send(&w, &query, true).await;
    });
});

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}
