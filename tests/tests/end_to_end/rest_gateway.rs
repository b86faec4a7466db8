//! The REST gateway for prefectures on PDND (services/gateway) against the real
//! services and nats-server: every ModI refusal is a problem detail and
//! appends nothing; a prefecture opens a case over REST and reads it back over
//! REST and gRPC; invalid input is a 400 naming the fields; another province's
//! case stays invisible; and schemathesis, over the whole OpenAPI document the
//! gateway serves, finds no failure.
//!
//! The PDND platform and its consumers are played with test-only keys
//! (tests/fixtures/pdnd): an RS256 platform key signs vouchers, ES256 consumer
//! keys sign the tracking evidence and the integrity signatures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use contracts::screening::v1 as screening_api;
use gateway::config::{ConsumerConfig, GatewayConfig, IssuerSection, PdndConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use service_runtime::caller::OrganisationType;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::support::auth::issuer;
use crate::support::{Caller, Service, System};

const PLATFORM_ISSUER: &str = "uat.interop.pagopa.it";
const AUDIENCE: &str = "approdo-rest-test";
const AG_CLIENT: &str = "8d1a4f3e-0000-4000-8000-00000000a6a6";
const PA_CLIENT: &str = "8d1a4f3e-0000-4000-8000-00000000bead";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pdnd")
}

/// A test key: the platform's RSA key (PKCS#1) or a consumer's EC key (PKCS#8), PEM.
fn key(name: &str) -> EncodingKey {
    let pem = std::fs::read_to_string(fixtures().join(name)).expect("test key");
    let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(base64).expect("PEM");
    if name.starts_with("platform") {
        EncodingKey::from_rsa_der(&der)
    } else {
        EncodingKey::from_ec_der(&der)
    }
}

fn now() -> i64 {
    access_token::now_unix()
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A PDND consumer: its client id, its key and its purpose.
#[derive(Clone, Copy)]
struct Consumer {
    client_id: &'static str,
    key_file: &'static str,
    kid: &'static str,
    purpose: &'static str,
}

const AG: Consumer = Consumer {
    client_id: AG_CLIENT,
    key_file: "consumer-ag.pem",
    kid: "consumer-ag-1",
    purpose: "purpose-ag-cases",
};

const PA: Consumer = Consumer {
    client_id: PA_CLIENT,
    key_file: "consumer-pa.pem",
    kid: "consumer-pa-1",
    purpose: "purpose-pa-cases",
};

/// How a request departs from a valid one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    WrongIssuer,
    WrongAudience,
    Expired,
    Unsigned,
    Tampered,
    NoTrackingEvidence,
    DigestMismatch,
}

fn sign(key: &EncodingKey, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let header = Header {
        kid: Some(kid.to_owned()),
        ..Header::new(alg)
    };
    jsonwebtoken::encode(&header, claims, key).expect("signed")
}

/// The tracking evidence of a user of `consumer` (AUDIT_REST_02).
fn tracking_evidence(consumer: Consumer, lifetime: i64) -> String {
    let now = now();
    sign(
        &key(consumer.key_file),
        Algorithm::ES256,
        consumer.kid,
        &json!({
            "iss": consumer.client_id,
            "aud": AUDIENCE,
            "purposeId": consumer.purpose,
            "userID": "operator-17",
            "userLocation": "ufficio-immigrazione",
            "LoA": "LoA3",
            "dnonce": 1_234_567_890_123_u64,
            "jti": unique("track"),
            "iat": now,
            "exp": now + lifetime,
        }),
    )
}

/// A PDND voucher for `consumer`, bound to `evidence`.
fn voucher(consumer: Consumer, evidence: &str, fault: Fault, lifetime: i64) -> String {
    let now = now();
    let (iat, exp) = if fault == Fault::Expired {
        (now - 1_000, now - 400)
    } else {
        (now, now + lifetime)
    };
    let claims = json!({
        "iss": if fault == Fault::WrongIssuer { "interop.example.org" } else { PLATFORM_ISSUER },
        "aud": if fault == Fault::WrongAudience { "another-e-service" } else { AUDIENCE },
        "sub": consumer.client_id,
        "client_id": consumer.client_id,
        "purposeId": consumer.purpose,
        "jti": unique("voucher"),
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "digest": { "alg": "SHA256", "value": hex_sha256(evidence.as_bytes()) },
    });
    let platform = key("platform-rsa.pem");
    match fault {
        Fault::Unsigned => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
            let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
            format!("{header}.{payload}.")
        }
        Fault::Tampered => {
            // A valid voucher of this consumer, its client id changed to the
            // other prefecture's after signing.
            let signed = sign(&platform, Algorithm::RS256, "pdnd-test-rsa", &claims);
            let parts: Vec<&str> = signed.split('.').collect();
            let mut payload: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64"))
                    .expect("claims");
            let other = if consumer.client_id == AG_CLIENT {
                PA_CLIENT
            } else {
                AG_CLIENT
            };
            payload["client_id"] = json!(other);
            payload["sub"] = json!(other);
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(payload.to_string()),
                parts[2]
            )
        }
        _ => sign(&platform, Algorithm::RS256, "pdnd-test-rsa", &claims),
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ModI headers of a request of `consumer` with `body`.
fn modi_headers(consumer: Consumer, body: Option<&[u8]>, fault: Fault) -> Vec<(String, String)> {
    let evidence = tracking_evidence(consumer, 120);
    let mut headers = vec![(
        "Authorization".to_owned(),
        format!("Bearer {}", voucher(consumer, &evidence, fault, 600)),
    )];
    if fault != Fault::NoTrackingEvidence {
        headers.push(("Agid-JWT-TrackingEvidence".to_owned(), evidence));
    }
    if let Some(body) = body {
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)));
        let now = now();
        let signature = sign(
            &key(consumer.key_file),
            Algorithm::ES256,
            consumer.kid,
            &json!({
                "aud": AUDIENCE,
                "iat": now,
                "nbf": now,
                "exp": now + 60,
                "jti": unique("signature"),
                "signed_headers": [{ "digest": digest }, { "content-type": "application/json" }],
            }),
        );
        let sent_digest = if fault == Fault::DigestMismatch {
            // The digest of another body, signed as such: the body was changed in transit.
            let other = format!("SHA-256={}", STANDARD.encode(Sha256::digest(b"{}")));
            let resigned = sign(
                &key(consumer.key_file),
                Algorithm::ES256,
                consumer.kid,
                &json!({
                    "aud": AUDIENCE, "iat": now, "exp": now + 60, "jti": unique("signature"),
                    "signed_headers": [{ "digest": other }, { "content-type": "application/json" }],
                }),
            );
            headers.push(("Agid-JWT-Signature".to_owned(), resigned));
            other
        } else {
            headers.push(("Agid-JWT-Signature".to_owned(), signature));
            digest
        };
        headers.push(("Digest".to_owned(), sent_digest));
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    headers
}

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The problem detail of a refusal, checked for its form.
    fn problem(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "a problem detail: {self:?}"
        );
        let problem = self.json();
        assert_eq!(problem["status"], self.status);
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:approdo:problem:")),
            "{problem}"
        );
        problem
    }
}

/// One HTTP/1.1 exchange (the connection closed after it).
async fn send(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    exchange(address, method, target, headers, body)
        .await
        .expect("an HTTP exchange with the gateway")
}

/// One HTTP/1.1 exchange, or the I/O error that ended it (a server still
/// starting may reset a connection).
async fn exchange(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")),
        "answers carry a length"
    );
    Ok(Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// The gateway, in process, in front of `system`.
struct Gateway {
    address: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    async fn start(system: &System, max_signature_lifetime_secs: i64) -> Gateway {
        Gateway::start_with(system, max_signature_lifetime_secs, None).await
    }

    async fn start_with(
        system: &System,
        max_signature_lifetime_secs: i64,
        upstream_tls: Option<gateway::config::UpstreamTls>,
    ) -> Gateway {
        let scheme = if upstream_tls.is_some() {
            "https"
        } else {
            "http"
        };
        let upstream = |service| format!("{scheme}://{}", system.address(service));
        let consumer = |c: Consumer, organisation: &str, province: &str| ConsumerConfig {
            client_id: c.client_id.to_owned(),
            jwks_file: fixtures().join(c.key_file.replace(".pem", ".jwks.json")),
            organisation: organisation.to_owned(),
            organisation_type: OrganisationType::Prefecture,
            province: Some(province.to_owned()),
            roles: vec!["operator".to_owned()],
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let config = GatewayConfig {
            listen: address,
            public_url: format!("http://{address}"),
            upstreams: [
                ("screening", upstream(Service::Screening)),
                ("referral", upstream(Service::Referral)),
                ("safe_space", upstream(Service::SafeSpace)),
                ("monitoring", upstream(Service::Monitoring)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            upstream_tls,
            upstream_timeout_ms: 10_000,
            max_body_bytes: 64 * 1024,
            issuer: IssuerSection {
                issuer: issuer().issuer().to_owned(),
                seed_file: PathBuf::new(),
                jwks_file: None,
                audience: issuer().audience().to_owned(),
                token_lifetime_secs: 60,
            },
            pdnd: PdndConfig {
                issuer: PLATFORM_ISSUER.to_owned(),
                audience: AUDIENCE.to_owned(),
                jwks_file: fixtures().join("platform.jwks.json"),
                leeway_secs: 30,
                max_voucher_lifetime_secs: 3_600,
                max_signature_lifetime_secs,
                tracking_digest_required: true,
                consumers: vec![
                    consumer(AG, "prefettura-ag", "AG"),
                    consumer(PA, "prefettura-pa", "PA"),
                ],
            },
            web: None,
            telemetry: Default::default(),
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway::run(
            config,
            listener,
            shutdown.clone(),
            issuer().clone(),
        ));
        let task = tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => panic!("the gateway failed: {error}"),
                Err(error) => panic!("the gateway panicked: {error}"),
            }
        });
        Gateway {
            address,
            shutdown,
            task,
        }
    }

    async fn call(
        &self,
        consumer: Consumer,
        method: &str,
        target: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Reply {
        self.call_with(consumer, method, target, body, key, Fault::None)
            .await
    }

    async fn call_with(
        &self,
        consumer: Consumer,
        method: &str,
        target: &str,
        body: Option<&Value>,
        key: Option<&str>,
        fault: Fault,
    ) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("json"));
        let mut headers = modi_headers(consumer, bytes.as_deref(), fault);
        if let Some(key) = key {
            headers.push(("Idempotency-Key".to_owned(), key.to_owned()));
        }
        send(
            self.address,
            method,
            target,
            &headers,
            bytes.as_deref().unwrap_or_default(),
        )
        .await
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("the gateway stopped");
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("formats")
}

/// A valid OpenCase body for a facility of Agrigento.
fn open_case_body(system: &System) -> Value {
    json!({
        "arrival": { "place": "LAMPEDUSA", "arrivedAt": rfc3339(system.now() - time::Duration::hours(2)) },
        "facilityId": "hotspot-lampedusa",
        "ageBand": "18+",
        "personalData": { "givenNames": "Amina Zephyrine", "familyNames": "Quellbrook", "sex": "female" }
    })
}

async fn last_sequence(system: &System) -> u64 {
    system
        .log()
        .await
        .last_sequence()
        .await
        .expect("the log's last sequence")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_modi_refusal_is_a_problem_detail_and_appends_nothing() {
    let system = System::start(&Service::EVERY).await;
    let gateway = Gateway::start(&system, 300).await;
    let body = open_case_body(&system);
    let before = last_sequence(&system).await;
    for (fault, status, code) in [
        (Fault::WrongIssuer, 401, "invalid-voucher"),
        (Fault::WrongAudience, 401, "invalid-voucher"),
        (Fault::Expired, 401, "invalid-voucher"),
        (Fault::Unsigned, 401, "invalid-voucher"),
        (Fault::Tampered, 401, "invalid-voucher"),
        (Fault::NoTrackingEvidence, 401, "invalid-tracking-evidence"),
        (Fault::DigestMismatch, 400, "digest-mismatch"),
    ] {
        let reply = gateway
            .call_with(
                AG,
                "POST",
                "/v1/cases",
                Some(&body),
                Some(&unique("open")),
                fault,
            )
            .await;
        assert_eq!(reply.status, status, "{fault:?}: {reply:?}");
        let problem = reply.problem();
        assert_eq!(problem["code"], code, "{fault:?}: {problem}");
        if status == 401 {
            assert!(reply.header("www-authenticate").is_some(), "{fault:?}");
        }
        // The refusal names the check, never the tokens' contents.
        let text = problem.to_string();
        assert!(
            !text.contains("operator-17") && !text.contains("Quellbrook"),
            "{text}"
        );
    }
    // No voucher at all; and a voucher whose client is no consumer of the e-service.
    let bytes = serde_json::to_vec(&body).expect("json");
    let reply = send(gateway.address, "POST", "/v1/cases", &[], &bytes).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.problem()["code"], "invalid-voucher");
    let stranger = Consumer {
        client_id: "8d1a4f3e-0000-4000-8000-0000000000ff",
        ..AG
    };
    let reply = gateway
        .call(stranger, "GET", "/v1/referrals", None, None)
        .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(reply.problem()["code"], "unknown-consumer");
    // A body changed after signing, with its own correct Digest: the signature no longer covers it.
    let mut headers = modi_headers(AG, Some(&bytes), Fault::None);
    let altered =
        serde_json::to_vec(&json!({ "facilityId": "cas-agrigento", "arrival": body["arrival"] }))
            .expect("json");
    for (name, value) in &mut headers {
        if name == "Digest" {
            *value = format!("SHA-256={}", STANDARD.encode(Sha256::digest(&altered)));
        }
    }
    headers.push(("Idempotency-Key".to_owned(), unique("open")));
    let reply = send(gateway.address, "POST", "/v1/cases", &headers, &altered).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.problem()["code"], "invalid-signature");
    assert_eq!(
        last_sequence(&system).await,
        before,
        "no refused request appended anything"
    );

    // The same request, valid, is accepted: the refusals were the faults'.
    let reply = gateway
        .call(AG, "POST", "/v1/cases", Some(&body), Some(&unique("open")))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(last_sequence(&system).await > before);
    gateway.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefecture_opens_a_case_over_rest_and_reads_it_back_over_rest_and_grpc() {
    let system = System::start(&Service::EVERY).await;
    let gateway = Gateway::start(&system, 300).await;
    let body = open_case_body(&system);
    let key = unique("open");
    let opened = gateway
        .call(AG, "POST", "/v1/cases", Some(&body), Some(&key))
        .await;
    assert_eq!(opened.status, 200, "{opened:?}");
    assert_eq!(opened.header("content-type"), Some("application/json"));
    let opened = opened.json();
    let case_id = opened["caseId"].as_str().expect("a case id").to_owned();
    let sequence = opened["logSequence"]
        .as_str()
        .expect("a log sequence (a string: 64 bits)")
        .to_owned();

    // A retry with the same Idempotency-Key answers the same and appends nothing.
    let before = last_sequence(&system).await;
    let again = gateway
        .call(AG, "POST", "/v1/cases", Some(&body), Some(&key))
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json()["caseId"], case_id.as_str());
    assert_eq!(last_sequence(&system).await, before);

    // Read back over REST, after the projection applied the opening.
    let read = gateway
        .call(
            AG,
            "GET",
            &format!("/v1/cases/{case_id}?minLogSequence={sequence}"),
            None,
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{read:?}");
    let view = read.json();
    assert_eq!(view["case"]["caseId"], case_id.as_str());
    assert_eq!(view["case"]["province"], "AG");
    assert_eq!(view["case"]["facilityId"], "hotspot-lampedusa");
    assert!(
        !String::from_utf8_lossy(&read.body).contains("Quellbrook"),
        "the screening view has no identity"
    );

    // And over gRPC, as the prefecture: the same case, opened by the gateway's consumer.
    let mut screening = system
        .screening(&Caller::prefecture("prefettura-ag", "AG"))
        .await;
    let grpc = screening
        .get_case(screening_api::GetCaseRequest {
            case_id: case_id.clone(),
            min_log_sequence: sequence.parse().expect("a number"),
        })
        .await
        .expect("GetCase over gRPC")
        .into_inner()
        .case
        .expect("the case");
    assert_eq!(grpc.province, "AG");
    assert_eq!(grpc.facility_id, "hotspot-lampedusa");
    let history = screening
        .get_case_history(screening_api::GetCaseHistoryRequest {
            case_id: case_id.clone(),
            min_log_sequence: 0,
        })
        .await
        .expect("history")
        .into_inner();
    assert!(
        history
            .entries
            .iter()
            .any(|e| e.organisation_id == "prefettura-ag"),
        "the case was opened as the consumer's organisation: {history:?}"
    );

    // A placement, recorded over REST.
    let placed = gateway
        .call(
            AG,
            "POST",
            &format!("/v1/cases/{case_id}/placements"),
            Some(&json!({ "facilityId": "cas-agrigento", "placedAt": rfc3339(system.now()) })),
            Some(&unique("place")),
        )
        .await;
    assert_eq!(placed.status, 200, "{placed:?}");
    let placed_sequence = placed.json()["logSequence"]
        .as_str()
        .expect("sequence")
        .to_owned();
    let read = gateway
        .call(
            AG,
            "GET",
            &format!("/v1/cases/{case_id}?minLogSequence={placed_sequence}"),
            None,
            None,
        )
        .await;
    assert_eq!(read.json()["case"]["facilityId"], "cas-agrigento");

    // The province's lists: cases, referrals (overdue ones), places, indicators.
    let cases = gateway
        .call(
            AG,
            "GET",
            &format!("/v1/cases?caseStatus=open&minLogSequence={placed_sequence}"),
            None,
            None,
        )
        .await;
    assert_eq!(cases.status, 200, "{cases:?}");
    assert!(
        cases.json()["cases"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["caseId"] == case_id.as_str())),
        "{cases:?}"
    );
    for target in [
        format!("/v1/cases/{case_id}/referrals"),
        "/v1/referrals?overdueOnly=true&openOnly=true".to_owned(),
        format!("/v1/cases/{case_id}/places"),
        "/v1/indicators?groupBy=province&filter.provinces=AG".to_owned(),
    ] {
        let reply = gateway.call(AG, "GET", &target, None, None).await;
        assert_eq!(reply.status, 200, "{target}: {reply:?}");
        assert!(reply.json().is_object());
    }
    let openapi = send(gateway.address, "GET", "/openapi.json", &[], b"").await;
    assert_eq!(openapi.status, 200);
    let document = openapi.json();
    assert_eq!(document["openapi"], "3.0.3");
    assert_eq!(
        document["paths"]["/v1/cases/{case_id}/placements"]["post"]["operationId"],
        "PlaceCase"
    );
    gateway.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_a_400_naming_the_fields_and_appends_nothing() {
    let system = System::start(&Service::EVERY).await;
    let gateway = Gateway::start(&system, 300).await;
    let before = last_sequence(&system).await;
    let field_names = |reply: &Reply| -> Vec<String> {
        reply.problem()["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|v| v["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };

    // The service's own validation, its BadRequest by JSON names.
    let reply = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&json!({ "facilityId": "hotspot-lampedusa", "ageBand": "eleven" })),
            Some(&unique("bad")),
        )
        .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    let fields = field_names(&reply);
    assert!(
        fields.iter().any(|f| f.starts_with("arrival")),
        "{fields:?}"
    );
    assert!(fields.iter().any(|f| f == "ageBand"), "{fields:?}");

    // The gateway's: an unknown field, a wrong type, a request id in the body.
    let reply = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&json!({ "nickname": "x", "facilityId": "hotspot-lampedusa" })),
            Some(&unique("bad")),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(field_names(&reply), ["nickname"]);
    let reply = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&json!({ "arrival": { "arrivedAt": "yesterday" } })),
            Some(&unique("bad")),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(field_names(&reply), ["arrival.arrivedAt"]);
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("yesterday"),
        "the value given is not echoed"
    );
    let reply = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&json!({ "requestId": "mine" })),
            Some(&unique("bad")),
        )
        .await;
    assert_eq!(field_names(&reply), ["requestId"]);
    // A command without its Idempotency-Key, or with a malformed one.
    let reply = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&open_case_body(&system)),
            None,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(field_names(&reply), ["Idempotency-Key"]);
    let reply = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&open_case_body(&system)),
            Some("not a key!"),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(field_names(&reply), ["Idempotency-Key"]);
    // A query parameter that is no field.
    let reply = gateway
        .call(AG, "GET", "/v1/referrals?overdue=yes", None, None)
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(field_names(&reply), ["overdue"]);
    assert_eq!(last_sequence(&system).await, before, "nothing appended");
    gateway.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_provinces_case_is_not_visible() {
    let system = System::start(&Service::EVERY).await;
    let gateway = Gateway::start(&system, 300).await;
    let opened = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&open_case_body(&system)),
            Some(&unique("open")),
        )
        .await
        .json();
    let case_id = opened["caseId"].as_str().expect("case id").to_owned();
    let sequence = opened["logSequence"].as_str().expect("sequence").to_owned();
    let mine = gateway
        .call(
            AG,
            "GET",
            &format!("/v1/cases/{case_id}?minLogSequence={sequence}"),
            None,
            None,
        )
        .await;
    assert_eq!(mine.status, 200);

    // Palermo's prefecture: neither the case, nor its referrals, nor in its list,
    // whatever province it asks for.
    let theirs = gateway
        .call(
            PA,
            "GET",
            &format!("/v1/cases/{case_id}?minLogSequence={sequence}"),
            None,
            None,
        )
        .await;
    assert!(matches!(theirs.status, 403 | 404), "{theirs:?}");
    theirs.problem();
    let referrals = gateway
        .call(
            PA,
            "GET",
            &format!("/v1/cases/{case_id}/referrals"),
            None,
            None,
        )
        .await;
    assert!(matches!(referrals.status, 403 | 404), "{referrals:?}");
    let listed = gateway
        .call(
            PA,
            "GET",
            &format!("/v1/cases?province=AG&minLogSequence={sequence}"),
            None,
            None,
        )
        .await;
    let listed_text = String::from_utf8_lossy(&listed.body).into_owned();
    assert!(!listed_text.contains(&case_id), "{listed:?}");
    let placed = gateway
        .call(
            PA,
            "POST",
            &format!("/v1/cases/{case_id}/placements"),
            Some(&json!({ "facilityId": "cas-agrigento", "placedAt": rfc3339(system.now()) })),
            Some(&unique("place")),
        )
        .await;
    assert!(matches!(placed.status, 403 | 404), "{placed:?}");
    gateway.stop().await;
    system.stop().await;
}

/// The schemathesis CLI of `.tools/pylib` (`cargo xtask setup`).
fn schemathesis_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/pylib")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_over_the_whole_document() {
    let python_path = schemathesis_python();
    assert!(
        python_path.join("schemathesis").is_dir(),
        "schemathesis is not installed in {}: run `cargo xtask setup`",
        python_path.display()
    );
    let system = System::start(&Service::EVERY).await;
    // The fixed voucher and tracking evidence last the run (the hook signs each body).
    let gateway = Gateway::start(&system, 1_800).await;
    let evidence = tracking_evidence(AG, 1_800);
    let voucher = voucher(AG, &evidence, Fault::None, 1_800);
    // A case of the province, so that reads find something.
    let opened = gateway
        .call(
            AG,
            "POST",
            "/v1/cases",
            Some(&open_case_body(&system)),
            Some(&unique("open")),
        )
        .await;
    assert_eq!(opened.status, 200, "{opened:?}");
    // Every projection has applied it before the run: schemathesis's small
    // `minLogSequence` values then never wait on a catch-up (a wait that
    // outlasts the services' patience is a 504, on a loaded machine).
    let opened = opened.json();
    let sequence = opened["logSequence"].as_str().expect("sequence");
    for target in [
        format!(
            "/v1/cases/{}?minLogSequence={sequence}",
            opened["caseId"].as_str().expect("case")
        ),
        format!("/v1/referrals?minLogSequence={sequence}"),
        format!("/v1/indicators?minSequence={sequence}"),
    ] {
        let reply = gateway.call(AG, "GET", &target, None, None).await;
        assert_eq!(reply.status, 200, "{target}: {reply:?}");
    }

    let reports = tempfile::tempdir().expect("report folder");
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis");
    let url = format!("http://{}", gateway.address);
    let report = reports.path().join("report.json");
    let output = tokio::task::spawn_blocking({
        let report = report.clone();
        let work = reports.path().to_owned();
        move || {
            std::process::Command::new("python3")
                .args(["-m", "schemathesis.cli", "run"])
                // Its cache (.schemathesis/) goes with the reports, not into the repository.
                .current_dir(&work)
                .arg(format!("{url}/openapi.json"))
                .args(["--checks", "all"])
                // Valid input a service refuses for its own reasons (an unknown
                // facility, a case not visible): not an API failure.
                .args(["--exclude-checks", "positive_data_acceptance"])
                .args([
                    "--mode",
                    "all",
                    "--max-examples",
                    "12",
                    "--workers",
                    "1",
                    "--seed",
                    "2026",
                ])
                .args(["--phases", "examples,coverage,fuzzing"])
                .args(["--request-timeout", "30", "--suppress-health-check", "all"])
                .args(["--report", "json,har", "--report-json-path"])
                .arg(&report)
                .arg("--report-har-path")
                .arg(report.with_extension("har"))
                .args(["-H", &format!("Authorization: Bearer {voucher}")])
                .args(["-H", &format!("Agid-JWT-TrackingEvidence: {evidence}")])
                .args(["-H", "Agid-JWT-Signature: signed-by-the-hook"])
                .env(
                    "PYTHONPATH",
                    format!("{}:{}", hooks.display(), python_path.display()),
                )
                .env("SCHEMATHESIS_HOOKS", "modi_hooks")
                .env("APPRODO_MODI_KEY", fixtures().join(AG.key_file))
                .env("APPRODO_MODI_KID", AG.kid)
                .env("APPRODO_MODI_AUDIENCE", AUDIENCE)
                .env("NO_COLOR", "1")
                .env("COLUMNS", "160")
                .output()
                .expect("run schemathesis")
        }
    })
    .await
    .expect("schemathesis ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    let summary: Value = std::fs::read(&report)
        .ok()
        .and_then(|r| serde_json::from_slice(&r).ok())
        .unwrap_or(Value::Null);
    assert!(
        output.status.success(),
        "schemathesis reported failures (exit {:?}): {} {}",
        output.status.code(),
        summary["failures"],
        summary["errors"]
    );
    let routes = gateway::routes::routes(contracts::FILE_DESCRIPTOR_SET).expect("routes");
    assert_eq!(
        summary["operations"]["tested"],
        routes.len(),
        "every documented operation: {summary}"
    );
    assert_eq!(summary["failures"], json!([]), "{summary}");
    assert_eq!(summary["errors"], json!([]), "{summary}");
    let generated = summary["test_cases"]["generated"].as_u64().unwrap_or(0);
    assert!(generated >= 100, "{summary}");
    // Every exchange, from the HAR record: none answered 5xx, and the
    // signed requests went through (positive cases reached the services).
    let har: Value = serde_json::from_slice(
        &std::fs::read(report.with_extension("har")).expect("the HAR report"),
    )
    .expect("JSON");
    let statuses: Vec<u64> = har["log"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["response"]["status"].as_u64())
        .collect();
    assert!(statuses.iter().all(|s| *s < 500), "a 5xx answer");
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        ok > 0,
        "no request was accepted: the run's vouchers or signatures are wrong"
    );
    println!(
        "schemathesis {}: {} operations tested of {}, {generated} test cases generated, {} requests ({ok} answered 200), {} failures, in {:.0} s",
        summary["schemathesis_version"].as_str().unwrap_or_default(),
        summary["operations"]["tested"],
        routes.len(),
        statuses.len(),
        summary["test_cases"]["with_failures"],
        summary["running_time"].as_f64().unwrap_or_default(),
    );
    gateway.stop().await;
    system.stop().await;
}

#[test]
fn the_access_log_records_the_purpose_and_the_user_by_pseudonym_only() {
    use tracing_subscriber::layer::SubscriberExt;

    use crate::telemetry_privacy::Captured;

    let logs = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(logs.clone()),
        );
    crate::support::traced::with_subscriber(subscriber, async {
        let system = System::start(&Service::EVERY).await;
        let gateway = Gateway::start(&system, 300).await;
        let body = open_case_body(&system);
        let bytes = serde_json::to_vec(&body).expect("json");
        let mut headers = modi_headers(AG, Some(&bytes), Fault::None);
        headers.push(("Idempotency-Key".to_owned(), unique("open")));
        let voucher = headers[0].1.clone();
        let opened = send(gateway.address, "POST", "/v1/cases", &headers, &bytes).await;
        assert_eq!(opened.status, 200, "{opened:?}");
        let refused = gateway
            .call_with(AG, "GET", "/v1/referrals", None, None, Fault::Expired)
            .await;
        assert_eq!(refused.status, 401);
        gateway.stop().await;
        system.stop().await;

        let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
        let access: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["target"] == "access")
            .collect();
        let accepted = access
            .iter()
            .find(|l| l["fields"]["route"] == "POST /v1/cases")
            .expect("the opening's access record");
        let fields = &accepted["fields"];
        assert_eq!(fields["status"], 200);
        assert_eq!(fields["purpose_id"], AG.purpose);
        assert_eq!(fields["client_id"], AG.client_id);
        assert_eq!(fields["organisation"], "prefettura-ag");
        assert_eq!(fields["user_location"], "ufficio-immigrazione");
        assert_eq!(fields["loa"], "LoA3");
        assert!(
            fields["user_ref"]
                .as_str()
                .is_some_and(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit())),
            "{fields}"
        );
        assert!(
            fields["tracking_jti"]
                .as_str()
                .is_some_and(|j| j.starts_with("track-"))
        );
        assert!(
            fields["signature_jti"]
                .as_str()
                .is_some_and(|j| j.starts_with("signature-"))
        );
        let refusal = access
            .iter()
            .find(|l| l["fields"]["status"] == 401)
            .expect("the refusal's access record");
        assert_eq!(refusal["fields"]["problem"], "invalid-voucher");
        // Neither the user's id, nor the body's personal data, nor a token.
        let signature = voucher.rsplit('.').next().expect("a signature");
        for secret in ["operator-17", "Quellbrook", "Amina", signature] {
            assert!(!text.contains(secret), "the logs hold {secret}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reaches_services_that_require_mutual_tls() {
    use crate::mutual_tls::{Ca, write};

    let dir = tempfile::tempdir().expect("dir");
    let ca = Ca::new("approdo test CA");
    let (server_cert, server_key) = ca.leaf(&["localhost"]);
    let (client_cert, client_key) = ca.leaf(&["approdo-gateway"]);
    let ca_file = write(dir.path(), "ca.pem", &ca.issuer.pem());
    let system = System::builder()
        .tls(service_runtime::config::TlsConfig {
            cert_file: write(dir.path(), "server.pem", &server_cert),
            key_file: write(dir.path(), "server.key", &server_key),
            client_ca_file: Some(ca_file.clone()),
        })
        .services(&Service::EVERY)
        .start()
        .await;
    let tls = gateway::config::UpstreamTls {
        ca_file: ca_file.clone(),
        cert_file: Some(write(dir.path(), "gateway.pem", &client_cert)),
        key_file: Some(write(dir.path(), "gateway.key", &client_key)),
        domain: Some("localhost".to_owned()),
    };
    let gateway = Gateway::start_with(&system, 300, Some(tls)).await;
    let listed = crate::support::until_some("the services serve TLS", || async {
        let reply = gateway
            .call(AG, "GET", "/v1/referrals?overdueOnly=true", None, None)
            .await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    assert!(listed.json().is_object());
    gateway.stop().await;

    // Without its client certificate, the services refuse the gateway: a problem
    // detail like any other, never an answer. Usually a 502 (the handshake
    // refused); under load the refusal may reach the client only as its
    // connection retries run out, a 504.
    let anonymous = gateway::config::UpstreamTls {
        ca_file,
        cert_file: None,
        key_file: None,
        domain: Some("localhost".to_owned()),
    };
    let gateway = Gateway::start_with(&system, 300, Some(anonymous)).await;
    let refused = gateway
        .call(AG, "GET", "/v1/referrals?overdueOnly=true", None, None)
        .await;
    let problem = refused.problem();
    match refused.status {
        502 => assert_eq!(problem["code"], "upstream-error", "{problem}"),
        504 => assert_eq!(problem["code"], "deadline-exceeded", "{problem}"),
        other => panic!("a refused handshake answered {other}: {problem}"),
    }
    gateway.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_binary_makes_its_key_serves_the_local_configuration_and_stops_on_sigterm() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    let seed = dir.path().join("keys/gateway.key");
    let jwks = dir.path().join("gateway.jwks.json");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    // The local configuration, with the web inbox's identity provider (the
    // gateway's own issuer in development) reading this test's key set.
    let config = dir.path().join("gateway.toml");
    let local = std::fs::read_to_string(root.join("deploy/local/gateway.toml")).expect("config");
    assert!(local.contains("\".local/keys/approdo-gateway.jwks.json\""));
    std::fs::write(
        &config,
        local.replace(
            "\".local/keys/approdo-gateway.jwks.json\"",
            &format!("{:?}", jwks.display().to_string()),
        ),
    )
    .expect("write config");
    let gateway = |args: &[&str]| {
        let mut command = std::process::Command::new(end_to_end::binary("gateway"));
        command
            .arg("--config")
            .arg(&config)
            .args(args)
            .current_dir(&root)
            .env("APPRODO_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "APPRODO_GATEWAY__PUBLIC_URL",
                "https://api.example.it/approdo",
            )
            .env("APPRODO_GATEWAY__ISSUER__SEED_FILE", &seed)
            .env("APPRODO_GATEWAY__ISSUER__JWKS_FILE", &jwks)
            .env_remove("RUST_LOG");
        command
    };

    // `keys`: the seed once, owner-only; the JWK set; the services' [auth] entry.
    let keys = gateway(&["keys"]).output().expect("gateway keys");
    assert!(keys.status.success(), "{keys:?}");
    let printed = String::from_utf8_lossy(&keys.stdout);
    assert!(
        printed.contains("issuer = \"approdo-gateway\", keys = [{ kid = "),
        "{printed}"
    );
    assert_eq!(
        std::fs::metadata(&seed).expect("seed").permissions().mode() & 0o777,
        0o600
    );
    let first_seed = std::fs::read(&seed).expect("seed");
    assert!(gateway(&["keys"]).output().expect("again").status.success());
    assert_eq!(
        std::fs::read(&seed).expect("seed"),
        first_seed,
        "created once"
    );
    let set: Value = serde_json::from_slice(&std::fs::read(&jwks).expect("jwks")).expect("json");
    assert_eq!(set["keys"][0]["crv"], "Ed25519");

    // Serves the document with the configured URL, then drains on SIGTERM and exits 0.
    let mut child = gateway(&[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the gateway");
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let document = crate::support::until_some("the gateway serves", || async move {
        // Refused or reset while it starts: try again.
        let reply = exchange(address, "GET", "/openapi.json", &[], b"")
            .await
            .ok()?;
        (reply.status == 200).then(|| reply.json())
    })
    .await;
    assert_eq!(
        document["servers"][0]["url"],
        "https://api.example.it/approdo"
    );
    assert_eq!(document["info"]["x-pdnd-audience"], "approdo-rest-local");
    let health = send(address, "GET", "/healthz", &[], b"").await;
    assert_eq!(health.status, 200);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = crate::support::until_some("the gateway stops", || {
        let exited = child.try_wait().expect("wait");
        async move { exited }
    })
    .await;
    assert!(status.success(), "{status:?}");
}
