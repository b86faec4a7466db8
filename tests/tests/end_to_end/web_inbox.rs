//! The web inbox of receiving services (services/gateway/src/web) against the
//! real screening and referral services and nats-server, the gateway in
//! process: over plain HTTP, sessions come from the identity provider only,
//! their cookie is HttpOnly and SameSite=Strict, every change needs the
//! session's CSRF token, a refused change appends nothing and a repeated
//! request id is one command; in headless Chromium (Debian's `chromium`,
//! driven by playwright-core, `tests/web/inbox_scenario.cjs`), a referral sent
//! over gRPC appears in the centre's open inbox within a second without
//! reload, the centre accepts it and takes charge in the browser (the
//! referrer's gRPC view shows it), a second centre never sees it, and axe-core
//! finds no serious or critical violation. Screenshots are kept under
//! `target/e2e-artifacts/web-inbox/` (the path is printed).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use access_token::{AuthConfig, OrganisationType, TokenIssuer, Validity};
use contracts::referral::v1 as api;
use gateway::config::{GatewayConfig, IssuerSection, PdndConfig};
use gateway::web::{DevelopmentAccount, WebConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::referral::{CAV, Fixture};
use crate::safe_space::{SHELTER, open_cases, place_request, profile, register};
use crate::support::auth::issuer;
use crate::support::{Caller, Service, System, eventually};

/// The second receiving organisation, which must never see CAV's referral.
const OTHER_CAV: &str = "cav-napoli";
/// The audience of the identity provider's tokens for the web inbox.
const WEB_AUDIENCE: &str = "approdo-web";

/// The identity provider of these tests: the tests' issuer, for the web's audience.
fn identity_provider() -> TokenIssuer {
    issuer().clone().with_audience(WEB_AUDIENCE)
}

fn identity_token(organisation: &str, org_type: OrganisationType) -> String {
    identity_provider()
        .token(
            "operatrice-7",
            organisation,
            org_type,
            &["operator"],
            None,
            Validity::from_now(300),
        )
        .expect("an identity token")
}

/// The gateway, in process, serving the web inbox in front of `system`.
struct WebGateway {
    address: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WebGateway {
    /// In front of `system`'s screening and referral services, and its
    /// safe-space service if `safe_space`.
    async fn start(system: &System, safe_space: bool) -> WebGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let upstream = |service| format!("http://{}", system.address(service));
        let safe_space = if safe_space {
            upstream(Service::SafeSpace)
        } else {
            // Not started: the detail shows no places.
            "http://127.0.0.1:9".to_owned()
        };
        let config = GatewayConfig {
            listen: address,
            public_url: format!("http://{address}"),
            upstreams: [
                ("screening", upstream(Service::Screening)),
                ("referral", upstream(Service::Referral)),
                ("safe_space", safe_space),
                // The REST routes are not used here.
                ("monitoring", "http://127.0.0.1:9".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            upstream_timeout_ms: 10_000,
            max_body_bytes: 64 * 1024,
            upstream_tls: None,
            issuer: IssuerSection {
                issuer: issuer().issuer().to_owned(),
                seed_file: PathBuf::new(),
                jwks_file: None,
                audience: issuer().audience().to_owned(),
                token_lifetime_secs: 60,
            },
            pdnd: PdndConfig {
                issuer: "uat.interop.pagopa.it".to_owned(),
                audience: "approdo-web-test".to_owned(),
                jwks_file: Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/pdnd/platform.jwks.json"),
                leeway_secs: 30,
                max_voucher_lifetime_secs: 3_600,
                max_signature_lifetime_secs: 300,
                tracking_digest_required: true,
                consumers: Vec::new(),
            },
            web: Some(WebConfig {
                identity: AuthConfig {
                    audience: WEB_AUDIENCE.to_owned(),
                    issuers: vec![issuer().config()],
                    ..AuthConfig::default()
                },
                session_idle_secs: 600,
                session_lifetime_secs: 3_600,
                development_accounts: vec![DevelopmentAccount {
                    organisation: CAV.to_owned(),
                    user: "operatrice-1".to_owned(),
                }],
            }),
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
        WebGateway {
            address,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
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

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 exchange (the connection closed after it).
async fn send(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the gateway");
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body.as_bytes()).await.expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
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
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// A case screened, CAV registered with the person's consent, and the other
/// centre registered: what a referral to CAV needs.
async fn referable_case(fixture: &Fixture, name: &str) -> (String, String) {
    fixture.register(CAV, &["AG", "RM"]).await;
    fixture.register(OTHER_CAV, &["AG", "RM"]).await;
    let case_id = fixture.screened_case(&format!("{name}-case"), false).await;
    let consent_id = fixture
        .consent_to(&case_id, &format!("{name}-consent"), CAV)
        .await;
    (case_id, consent_id)
}

fn referral_of(case: &api::GetCaseReferralsResponse, referral_id: &str) -> api::ReferralView {
    case.referrals
        .iter()
        .find(|r| r.referral_id == referral_id)
        .cloned()
        .expect("the referral")
}

fn entries(view: &api::ReferralView, state: &str) -> usize {
    view.timeline.iter().filter(|t| t.state == state).count()
}

/// Over HTTP, with the gateway's log captured: what the scenario saw that
/// no log line may hold (session ids, CSRF tokens, the identity token, the user).
#[test]
fn sessions_come_from_the_identity_provider_and_every_change_needs_the_sessions_csrf_token() {
    use tracing_subscriber::layer::SubscriberExt;
    let logs = crate::telemetry_privacy::Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(logs.clone()),
        );
    let secrets = crate::support::traced::with_subscriber(subscriber, sessions_over_http());
    let captured = String::from_utf8_lossy(&logs.0.lock().expect("logs")).to_string();
    for route in [
        r#""route":"POST /web/api/session""#,
        r#""route":"GET /web/api/inbox""#,
        r#""route":"POST /web/api/cases/{case_id}/referrals/{referral_id}/actions""#,
        r#""route":"/web/""#,
        r#""organisation":"differenza-donna""#,
    ] {
        assert!(
            captured.contains(route),
            "control: the access log has {route}: {}",
            captured
                .lines()
                .filter(|l| l.contains("web request"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    for secret in &secrets {
        assert!(
            !captured.contains(secret.as_str()),
            "a log line holds {secret:?}"
        );
    }
}

async fn sessions_over_http() -> Vec<String> {
    let fixture = Fixture::start().await;
    let (case_id, consent_id) = referable_case(&fixture, "web-http").await;
    let sent = fixture
        .refer(&case_id, "web-http-refer", CAV, &consent_id, "high")
        .await
        .expect("referred");
    let gateway = WebGateway::start(&fixture, false).await;
    let at = gateway.address;

    // The page: embedded, no inline script, the strict headers.
    let page = send(at, "GET", "/web/", &[], None).await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(
        page.text()
            .contains(r#"<script type="module" src="/web/app.js">"#)
    );
    assert!(!page.text().contains("<script>"), "no inline script");
    let script = send(at, "GET", "/web/app.js", &[], None).await;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/javascript")
    );

    // No session, no data.
    let anonymous = send(at, "GET", "/web/api/inbox", &[], None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("cache-control"), Some("no-store"));
    assert_eq!(
        anonymous.header("content-type"),
        Some("application/problem+json")
    );

    // Only the identity provider's tokens for the web, of a receiving service, from the page.
    let sign_in = |token: String| json!({ "token": token });
    let from_page = [("X-CSRF-Token", "sign-in")];
    let services_token = crate::support::token(OrganisationType::ReceivingService, CAV, None);
    let refused = [
        (
            send(
                at,
                "POST",
                "/web/api/session",
                &from_page,
                Some(&sign_in(services_token)),
            )
            .await,
            401,
            "a token for the services' audience",
        ),
        (
            send(
                at,
                "POST",
                "/web/api/session",
                &from_page,
                Some(&sign_in(identity_token(
                    "prefettura-ag",
                    OrganisationType::Prefecture,
                ))),
            )
            .await,
            403,
            "a prefecture's user",
        ),
        (
            send(
                at,
                "POST",
                "/web/api/session",
                &[],
                Some(&sign_in(identity_token(
                    CAV,
                    OrganisationType::ReceivingService,
                ))),
            )
            .await,
            403,
            "without the page's header",
        ),
        (
            send(
                at,
                "POST",
                "/web/api/session",
                &[
                    ("X-CSRF-Token", "sign-in"),
                    ("Sec-Fetch-Site", "cross-site"),
                ],
                Some(&sign_in(identity_token(
                    CAV,
                    OrganisationType::ReceivingService,
                ))),
            )
            .await,
            403,
            "from another site",
        ),
    ];
    for (reply, status, what) in refused {
        assert_eq!(reply.status, status, "{what}: {}", reply.text());
        assert!(reply.header("set-cookie").is_none(), "{what} got a session");
    }
    let signed_in = send(
        at,
        "POST",
        "/web/api/session",
        &from_page,
        Some(&sign_in(identity_token(
            CAV,
            OrganisationType::ReceivingService,
        ))),
    )
    .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    let set_cookie = signed_in
        .header("set-cookie")
        .expect("a session cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/web"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "plain HTTP here: {set_cookie}"
    );
    let session_id = set_cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("a session id");
    assert_eq!(session_id.len(), 64, "an opaque random id");
    let session = signed_in.json();
    assert_eq!(session["organisation"], CAV);
    let csrf = session["csrf"].as_str().expect("a CSRF token").to_owned();
    let cookie = format!("approdo_session={session_id}");

    // The inbox: the session's organisation's referrals, no dataset in a list.
    let inbox = send(at, "GET", "/web/api/inbox", &[("Cookie", &cookie)], None).await;
    assert_eq!(inbox.status, 200, "{}", inbox.text());
    assert_eq!(inbox.header("cache-control"), Some("no-store"));
    let inbox = inbox.json();
    let rows = inbox["referrals"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{inbox}");
    assert_eq!(rows[0]["referral_id"], sent.referral_id.as_str());
    assert!(rows[0].get("dataset").is_none(), "a list shows no dataset");

    // Changes: the CSRF token of the session, or nothing happens.
    let actions = format!(
        "/web/api/cases/{case_id}/referrals/{}/actions",
        sent.referral_id
    );
    let accept =
        json!({ "action": "accept", "request_id": "5f0c1d2e-0000-4000-8000-000000000001" });
    let no_token = send(at, "POST", &actions, &[("Cookie", &cookie)], Some(&accept)).await;
    assert_eq!(no_token.status, 403);
    let wrong_token = send(
        at,
        "POST",
        &actions,
        &[("Cookie", &cookie), ("X-CSRF-Token", &"0".repeat(64))],
        Some(&accept),
    )
    .await;
    assert_eq!(wrong_token.status, 403);
    let with = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let no_request_id = send(
        at,
        "POST",
        &actions,
        &with,
        Some(&json!({ "action": "accept", "request_id": "x" })),
    )
    .await;
    assert_eq!(no_request_id.status, 400);
    assert_eq!(no_request_id.json()["errors"][0]["field"], "request_id");
    // The service's field violations reach the page.
    let bad_decline = send(
        at,
        "POST",
        &actions,
        &with,
        Some(&json!({ "action": "decline", "reason": "not-a-reason", "request_id": "5f0c1d2e-0000-4000-8000-000000000002" })),
    )
    .await;
    assert_eq!(bad_decline.status, 400, "{}", bad_decline.text());
    let problem = bad_decline.json();
    assert!(
        problem["errors"].as_array().is_some_and(|e| e
            .iter()
            .any(|v| v["field"].as_str().is_some_and(|f| f.ends_with("reason")))),
        "{problem}"
    );
    let untouched = referral_of(
        &fixture.case_referrals(&case_id, 0).await,
        &sent.referral_id,
    );
    assert_eq!(untouched.state, "sent", "refused changes appended nothing");

    // One request id, one command, however often it is sent.
    let first = send(at, "POST", &actions, &with, Some(&accept)).await;
    let again = send(at, "POST", &actions, &with, Some(&accept)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(first.json()["log_sequence"], again.json()["log_sequence"]);
    let accepted = referral_of(
        &fixture
            .case_referrals(
                &case_id,
                first.json()["log_sequence"].as_u64().unwrap_or_default(),
            )
            .await,
        &sent.referral_id,
    );
    assert_eq!(accepted.state, "accepted");
    assert_eq!(entries(&accepted, "accepted"), 1);
    assert_eq!(
        accepted
            .timeline
            .iter()
            .find(|t| t.state == "accepted")
            .map(|t| t.organisation_id.as_str()),
        Some(CAV),
        "the session's organisation acted"
    );

    // Another centre's session reads nothing of it and cannot act on it.
    let other = send(
        at,
        "POST",
        "/web/api/session",
        &from_page,
        Some(&sign_in(identity_token(
            OTHER_CAV,
            OrganisationType::ReceivingService,
        ))),
    )
    .await;
    let other_cookie = other
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session")
        .to_owned();
    let other_csrf = other.json()["csrf"].as_str().unwrap_or_default().to_owned();
    let detail = format!("/web/api/cases/{case_id}/referrals/{}", sent.referral_id);
    let read = send(at, "GET", &detail, &[("Cookie", &other_cookie)], None).await;
    assert_eq!(read.status, 404, "{}", read.text());
    assert!(!read.text().contains("GBV"));
    let act = send(
        at,
        "POST",
        &actions,
        &[("Cookie", &other_cookie), ("X-CSRF-Token", &other_csrf)],
        Some(&json!({ "action": "take_charge", "request_id": "5f0c1d2e-0000-4000-8000-000000000003" })),
    )
    .await;
    assert!(act.status == 403 || act.status == 404, "{}", act.text());
    let other_inbox = send(
        at,
        "GET",
        "/web/api/inbox",
        &[("Cookie", &other_cookie)],
        None,
    )
    .await;
    assert_eq!(other_inbox.json()["referrals"], json!([]));

    // The receiver's detail holds the dataset (its read recorded by the service).
    let own = send(at, "GET", &detail, &[("Cookie", &cookie)], None).await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["dataset"]["categories"], json!(["GBV"]));

    // The rest of the receiver's lifecycle, each action through the service.
    let mut last = 0;
    for (n, (action, extra)) in [
        ("take_charge", json!({})),
        ("hold", json!({})),
        ("resume", json!({})),
        ("complete", json!({ "outcome": "goals_met" })),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({
            "action": action,
            "request_id": format!("5f0c1d2e-0000-4000-8000-00000000010{n}"),
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let reply = send(at, "POST", &actions, &with, Some(&body)).await;
        assert_eq!(reply.status, 200, "{action}: {}", reply.text());
        last = reply.json()["log_sequence"].as_u64().unwrap_or_default();
    }
    let completed = referral_of(
        &fixture.case_referrals(&case_id, last).await,
        &sent.referral_id,
    );
    assert_eq!(
        (completed.state.as_str(), completed.outcome.as_str()),
        ("completed", "goals_met")
    );
    for state in ["in_care", "on_hold", "completed"] {
        assert!(
            entries(&completed, state) >= 1,
            "{state}: {:?}",
            completed.timeline
        );
    }

    // Signed out, the session is gone.
    let out = send(at, "DELETE", "/web/api/session", &with, None).await;
    assert_eq!(out.status, 204);
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let after = send(at, "GET", "/web/api/inbox", &[("Cookie", &cookie)], None).await;
    assert_eq!(after.status, 401);
    gateway.stop().await;
    let other_session = other_cookie
        .trim_start_matches("approdo_session=")
        .to_owned();
    vec![
        session_id,
        csrf,
        other_session,
        other_csrf,
        "operatrice-7".to_owned(),
        // Any JWT (an identity token, the gateway's own).
        "eyJ".to_owned(),
    ]
}

/// Signs `organisation`'s user in over HTTP: its session cookie and CSRF token.
async fn signed_in(at: SocketAddr, organisation: &str) -> (String, String) {
    let reply = send(
        at,
        "POST",
        "/web/api/session",
        &[("X-CSRF-Token", "sign-in")],
        Some(&json!({ "token": identity_token(organisation, OrganisationType::ReceivingService) })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let cookie = reply
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session")
        .to_owned();
    let csrf = reply.json()["csrf"].as_str().unwrap_or_default().to_owned();
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shelters_managing_organisation_confirms_arrival_and_releases_the_place_from_the_web() {
    let system = System::start_at(
        crate::safe_space::NOW,
        &[Service::Screening, Service::Referral, Service::SafeSpace],
    )
    .await;
    register(&system, "web-shelter", profile(1, false)).await;
    let case_id = open_cases(&system, "web-place", 1).await.remove(0);
    let mut requester = crate::safe_space::client(
        system.channel(Service::SafeSpace).await,
        &crate::safe_space::operator(),
    );
    let reserved = requester
        .request_place(place_request(
            "web-place-request",
            &case_id,
            Default::default(),
        ))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(reserved.standing, "reserved");
    let gateway = WebGateway::start(&system, true).await;
    let at = gateway.address;
    let places = format!("/web/api/cases/{case_id}/places/actions");
    let standing = || async {
        crate::safe_space::client(
            system.channel(Service::SafeSpace).await,
            &Caller::prefecture("prefettura-ag", "AG"),
        )
        .get_case_places(contracts::safe_space::v1::GetCasePlacesRequest {
            case_id: case_id.clone(),
        })
        .await
        .expect("places")
        .into_inner()
        .places
        .into_iter()
        .map(|p| p.standing)
        .collect::<Vec<_>>()
    };
    let arrival = json!({
        "action": "confirm_arrival",
        "province": "AG",
        "kind": "trafficking_shelter",
        "request_id": "6a0c1d2e-0000-4000-8000-000000000001",
    });

    // Another centre's session cannot confirm the shelter's arrivals.
    let (other, other_csrf) = signed_in(at, CAV).await;
    let refused = send(
        at,
        "POST",
        &places,
        &[("Cookie", &other), ("X-CSRF-Token", &other_csrf)],
        Some(&arrival),
    )
    .await;
    assert!(
        refused.status == 403 || refused.status == 404,
        "{}",
        refused.text()
    );
    assert_eq!(standing().await, vec!["reserved"], "nothing appended");

    // The shelter's own session does, once however often it is sent, then releases.
    let (cookie, csrf) = signed_in(at, SHELTER).await;
    let with = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let first = send(at, "POST", &places, &with, Some(&arrival)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let again = send(at, "POST", &places, &with, Some(&arrival)).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(first.json()["log_sequence"], again.json()["log_sequence"]);
    eventually("the person occupies the place", || async {
        standing().await == vec!["occupying"]
    })
    .await;
    let bad_reason = send(
        at,
        "POST",
        &places,
        &with,
        Some(&json!({
            "action": "release", "province": "AG", "kind": "trafficking_shelter",
            "reason": "expired", "request_id": "6a0c1d2e-0000-4000-8000-000000000002",
        })),
    )
    .await;
    assert_eq!(bad_reason.status, 400, "{}", bad_reason.text());
    assert!(
        bad_reason.json()["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v["field"] == "reason")),
        "{}",
        bad_reason.text()
    );
    let released = send(
        at,
        "POST",
        &places,
        &with,
        Some(&json!({
            "action": "release", "province": "AG", "kind": "trafficking_shelter",
            "reason": "discharge", "request_id": "6a0c1d2e-0000-4000-8000-000000000003",
        })),
    )
    .await;
    assert_eq!(released.status, 200, "{}", released.text());
    eventually("the place is released", || async {
        standing().await.is_empty()
    })
    .await;
    gateway.stop().await;
    system.stop().await;
}

/// The browser tools `cargo xtask setup` installs: playwright-core and
/// axe-core in `.tools/node`, Debian's Chromium.
fn browser_tools() -> (PathBuf, PathBuf) {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/node/node_modules");
    for package in ["playwright-core", "axe-core"] {
        assert!(
            modules.join(package).is_dir(),
            "{package} is not installed in {}: run `cargo xtask setup`",
            modules.display()
        );
    }
    let chromium = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "Chromium is not installed at {}: run `cargo xtask setup`",
        chromium.display()
    );
    (modules, chromium)
}

/// Where the screenshots go (kept by CI with the target directory).
fn artefacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("e2e-artifacts/web-inbox");
    std::fs::create_dir_all(&dir).expect("the artefacts directory");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_referral_sent_over_grpc_appears_live_in_the_centres_browser_and_is_answered_there() {
    let (modules, chromium) = browser_tools();
    let mut fixture = Fixture::start().await;
    fixture.start_service(Service::SafeSpace).await;
    let (case_id, consent_id) = referable_case(&fixture, "web-browser").await;
    // A shelter place that centre A manages.
    crate::safe_space::client(
        fixture.channel(Service::SafeSpace).await,
        &Caller::receiver(CAV, Some("AG")),
    )
    .register_safe_space(contracts::safe_space::v1::RegisterSafeSpaceRequest {
        request_id: "web-browser-space".to_owned(),
        profile: Some(contracts::safe_space::v1::SpaceProfile {
            organisation_id: CAV.to_owned(),
            ..profile(1, false)
        }),
        ..Default::default()
    })
    .await
    .expect("centre A registers its space");
    let gateway = WebGateway::start(&fixture, true).await;
    let screenshots = artefacts();
    println!("web inbox screenshots: {}", screenshots.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/inbox_scenario.cjs");
    let mut browser = tokio::process::Command::new("node")
        .arg(&script)
        .env("NODE_PATH", &modules)
        .env("GATEWAY_URL", format!("http://{}", gateway.address))
        .env("CHROMIUM_BIN", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .env("CENTRE_A_ACCOUNT", "0")
        .env(
            "CENTRE_B_TOKEN",
            identity_token(OTHER_CAV, OrganisationType::ReceivingService),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut to_browser = browser.stdin.take().expect("stdin");
    let mut from_browser = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let mut referral_id = String::new();
    let mut done = None;
    let mut sending = None;
    let mut appeared = None;
    let mut released = false;
    let mut referrer_view = None;
    let scenario = async {
        while let Some(line) = from_browser.next_line().await.expect("the script's output") {
            println!("browser: {line}");
            let message: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if message["ready"] == true {
                // Both centres' inboxes are open and live: the referrer sends now, over gRPC.
                sending = Some(Instant::now());
                let sent = fixture
                    .refer(&case_id, "web-browser-refer", CAV, &consent_id, "high")
                    .await
                    .expect("referred");
                referral_id = sent.referral_id.clone();
                let line = json!({ "case_id": case_id, "referral_id": sent.referral_id });
                to_browser
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .expect("tell the browser");
                to_browser.flush().await.expect("flush");
            } else if message["answered"] == true {
                // The referrer's view (gRPC) shows what the centre did in its
                // browser (read now: once the person arrives in the shelter, the
                // hotspot no longer answers for the case).
                eventually("the referrer sees the referral in care", || async {
                    referral_of(&fixture.case_referrals(&case_id, 0).await, &referral_id).state
                        == "in_care"
                })
                .await;
                referrer_view = Some(referral_of(
                    &fixture.case_referrals(&case_id, 0).await,
                    &referral_id,
                ));
                // The case needs a place: one is reserved in centre A's space.
                let reserved = crate::safe_space::client(
                    fixture.channel(Service::SafeSpace).await,
                    &crate::safe_space::operator(),
                )
                .request_place(contracts::safe_space::v1::RequestPlaceRequest {
                    referral_id: referral_id.clone(),
                    ..place_request("web-browser-place", &case_id, Default::default())
                })
                .await
                .expect("a place requested")
                .into_inner();
                let line = json!({ "place": reserved.standing });
                to_browser
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .expect("tell the browser");
                to_browser.flush().await.expect("flush");
            } else if message["released"] == true {
                released = true;
            } else if message["seen"].is_string() {
                appeared = sending.map(|at| at.elapsed());
            } else if message["done"] == true {
                done = Some(message);
            }
        }
        browser.wait().await.expect("the script ends")
    };
    let status = tokio::time::timeout(Duration::from_secs(150), scenario)
        .await
        .expect("the browser scenario ends within 150 s");
    assert!(
        status.success(),
        "the browser scenario failed ({status}); screenshots in {}",
        screenshots.display()
    );
    let done = done.expect("the scenario reported its checks");
    assert!(released, "centre A released the place in its browser");
    let places = crate::safe_space::client(
        fixture.channel(Service::SafeSpace).await,
        &Caller::prefecture("prefettura-ag", "AG"),
    )
    .get_case_places(contracts::safe_space::v1::GetCasePlacesRequest {
        case_id: case_id.clone(),
    })
    .await
    .expect("the case's places")
    .into_inner()
    .places;
    assert!(places.is_empty(), "the place was released: {places:?}");
    // From before the referrer's gRPC call to the browser's word that the row is there.
    let appeared = appeared.expect("the browser saw the referral");
    println!("the referral appeared in the open inbox {appeared:?} after the referrer sent it");
    assert!(appeared <= Duration::from_secs(1), "{appeared:?}");
    for page in [
        "sign-in",
        "inbox",
        "detail",
        "detail-errors",
        "inbox-english",
    ] {
        assert_eq!(done["axe"][page]["serious_or_critical"], 0, "{done}");
    }
    assert!(
        done["screenshots"].as_array().is_some_and(|s| s.len() == 8),
        "{done}"
    );

    let referrer_view = referrer_view.expect("the referrer's view was read");
    assert_eq!(referrer_view.state, "in_care");
    assert_eq!(
        entries(&referrer_view, "accepted"),
        1,
        "{:?}",
        referrer_view.timeline
    );
    assert_eq!(
        entries(&referrer_view, "in_care"),
        1,
        "a double click is one command"
    );
    assert!(
        referrer_view
            .timeline
            .iter()
            .filter(|t| t.state == "accepted" || t.state == "in_care")
            .all(|t| t.organisation_id == CAV),
        "{:?}",
        referrer_view.timeline
    );
    gateway.stop().await;
}
