//! Confidential locations end to end (issue 12): a safe space's real name and
//! address, given at registration, are sealed with the space's own key before
//! they reach the log; `DiscloseLocation` answers them only to the space's
//! manager, the receiver of an accepted referral of the case and the case's
//! reception operator, only while the case holds that space, and records
//! `LocationDisclosed` in the log before it answers. Everyone else is refused
//! and nothing is appended; the name and address are in no store file of the
//! NATS server and no projection file.

use std::path::Path;

use case_log_jetstream::{CaseLog, HistoryBound, HistoryScope, RecordedCommit, RootKind, TokenId};
use contracts::referral::v1::update_referral_request::{self as update, Action};
use contracts::safe_space::v1 as api;
use person_keys_jetstream::{SPACE_KEY_STREAM, SpaceKeyStore};
use prost::Message;
use tonic::Code;

use crate::privacy::files_containing;
use crate::referral::{CAV, Fixture, by_receiver};
use crate::support::{Caller, Service};

const OPERATOR: &str = "hotspot-lampedusa";
const SHELTER: &str = "casa-tratta-ag";
const ALLOCATOR: &str = "allocator-ag-trafficking-shelter";
const NAME: &str = "Casa Glicine Segreta";
const ADDRESS: &str = "Via delle Ortensie 41, Agrigento";

fn operator() -> Caller {
    Caller::operator(OPERATOR, "AG")
}

fn shelter() -> Caller {
    Caller::receiver(SHELTER, Some("AG"))
}

fn here() -> Option<api::AllocatorRef> {
    Some(api::AllocatorRef {
        province: "AG".to_owned(),
        kind: "trafficking_shelter".to_owned(),
    })
}

type Client = api::safe_space_service_client::SafeSpaceServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        crate::support::auth::Bearer,
    >,
>;

async fn safe_space(system: &Fixture, caller: &Caller) -> Client {
    api::safe_space_service_client::SafeSpaceServiceClient::with_interceptor(
        system.channel(Service::SafeSpace).await,
        caller.bearer(),
    )
}

fn registration(request_id: &str, name: &str, address: &str) -> api::RegisterSafeSpaceRequest {
    api::RegisterSafeSpaceRequest {
        request_id: request_id.to_owned(),
        profile: Some(api::SpaceProfile {
            kind: "trafficking_shelter".to_owned(),
            organisation_id: SHELTER.to_owned(),
            province: "AG".to_owned(),
            capacity: Some(api::Capacity {
                beds: 2,
                family_rooms: 0,
            }),
            eligibility: Some(api::Eligibility::default()),
        }),
        name: name.to_owned(),
        address: address.to_owned(),
    }
}

async fn disclose(
    system: &Fixture,
    caller: &Caller,
    request_id: &str,
    case_id: &str,
    space_id: &str,
) -> Result<api::DiscloseLocationResponse, tonic::Status> {
    safe_space(system, caller)
        .await
        .disclose_location(api::DiscloseLocationRequest {
            request_id: request_id.to_owned(),
            case_id: case_id.to_owned(),
            space_id: space_id.to_owned(),
            purpose: "transfer".to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn allocator_history(log: &CaseLog) -> Vec<RecordedCommit> {
    log.history(
        &HistoryScope::Root {
            kind: RootKind::Configuration,
            id: TokenId::parse(ALLOCATOR).expect("id"),
        },
        HistoryBound::All,
    )
    .await
    .expect("history")
}

/// Each `LocationDisclosed` of the allocator with its commit's sequence.
fn disclosures(history: &[RecordedCommit]) -> Vec<(u64, api::LocationDisclosed)> {
    history
        .iter()
        .flat_map(|c| c.commit.events.iter().map(move |e| (c.sequence, e)))
        .filter(|(_, e)| e.event_type == <api::LocationDisclosed as prost::Name>::full_name())
        .map(|(s, e)| {
            (
                s,
                api::LocationDisclosed::decode(e.payload.as_slice()).expect("decodes"),
            )
        })
        .collect()
}

/// A screened case, referred (sent) to CAV, with a reservation in a space
/// whose name and address were given at registration.
async fn reserved_case(system: &Fixture) -> (String, String, String) {
    let case_id = system.screened_case("locations", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "locations-consent", CAV).await;
    let referral_id = system
        .refer(&case_id, "locations-referral", CAV, &consent, "high")
        .await
        .expect("sent")
        .referral_id;
    let space_id = safe_space(system, &shelter())
        .await
        .register_safe_space(registration("casa-glicine", NAME, ADDRESS))
        .await
        .expect("registered")
        .into_inner()
        .space_id;
    let reserved = safe_space(system, &operator())
        .await
        .request_place(api::RequestPlaceRequest {
            request_id: "locations-place".to_owned(),
            case_id: case_id.clone(),
            allocator: here(),
            needs: Some(api::Needs::default()),
            ..Default::default()
        })
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(
        (reserved.standing.as_str(), reserved.space_id.as_str()),
        ("reserved", space_id.as_str())
    );
    (case_id, referral_id, space_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_is_disclosed_on_record_to_the_entitled_and_to_nobody_else() {
    let mut system = Fixture::start().await;
    system.start_service(Service::SafeSpace).await;
    let (case_id, referral_id, space_id) = reserved_case(&system).await;
    let log = system.log().await;
    let refused = |answer: Result<api::DiscloseLocationResponse, tonic::Status>, who: &str| {
        let status = answer.expect_err(who);
        assert_eq!(status.code(), Code::PermissionDenied, "{who}: {status:?}");
        assert!(
            !status.message().contains("Ortensie") && !status.message().contains("Glicine"),
            "{who}: the refusal names the location"
        );
    };

    // Refused: the receiver of a referral only sent, another organisation, an
    // operator of another facility, a prefecture; nothing appended.
    let before = allocator_history(&log).await.len();
    let cav = Caller::receiver(CAV, Some("AG"));
    refused(
        disclose(&system, &cav, "sent-only", &case_id, &space_id).await,
        "sent only",
    );
    let other = Caller::receiver("cav-palermo", Some("AG"));
    refused(
        disclose(&system, &other, "other-org", &case_id, &space_id).await,
        "another organisation",
    );
    let elsewhere = Caller::operator("cas-elsewhere", "AG");
    refused(
        disclose(&system, &elsewhere, "elsewhere", &case_id, &space_id).await,
        "another facility",
    );
    let prefecture = Caller::new(
        service_runtime::OrganisationType::Prefecture,
        "prefettura-ag",
        Some("AG"),
    );
    refused(
        disclose(&system, &prefecture, "prefecture", &case_id, &space_id).await,
        "prefecture",
    );
    assert_eq!(
        allocator_history(&log).await.len(),
        before,
        "a refusal appended nothing"
    );

    // The receiver accepts: now it is entitled, as are the manager and the operator.
    for (request, action) in [
        ("locations-receive", Action::Receive(update::Receive {})),
        ("locations-accept", Action::Accept(update::Accept {})),
    ] {
        system
            .act(by_receiver(CAV), &case_id, &referral_id, request, action)
            .await
            .expect(request);
    }
    for (who, caller) in [
        ("receiver", &cav),
        ("manager", &shelter()),
        ("operator", &operator()),
    ] {
        let answer = disclose(
            &system,
            caller,
            &format!("disclose-{who}"),
            &case_id,
            &space_id,
        )
        .await
        .unwrap_or_else(|e| panic!("{who}: {e:?}"));
        assert_eq!(
            (answer.name.as_str(), answer.address.as_str()),
            (NAME, ADDRESS),
            "{who}"
        );
        // On record before the answer: the disclosure's commit is in the log
        // when the answer arrives, at the sequence the answer names.
        let recorded = disclosures(&allocator_history(&log).await);
        let (sequence, disclosed) = recorded
            .iter()
            .find(|(s, _)| *s == answer.log_sequence)
            .unwrap_or_else(|| panic!("{who}: no LocationDisclosed at {}", answer.log_sequence));
        assert!(*sequence <= log.last_sequence().await.expect("last"));
        assert_eq!(
            (
                disclosed.case_id.as_str(),
                disclosed.space_id.as_str(),
                disclosed.purpose.as_str()
            ),
            (case_id.as_str(), space_id.as_str(), "transfer")
        );
        assert_eq!(
            disclosed.disclosed_to_organisation, caller.organisation,
            "{who}"
        );
    }
    assert_eq!(disclosures(&allocator_history(&log).await).len(), 3);
    // A request id replayed while entitled answers again from the same record.
    let again = disclose(&system, &cav, "disclose-receiver", &case_id, &space_id)
        .await
        .expect("replayed while entitled");
    assert_eq!(again.address, ADDRESS);
    assert_eq!(disclosures(&allocator_history(&log).await).len(), 3);
    // Another organisation reusing that request id learns nothing.
    refused(
        disclose(&system, &other, "disclose-receiver", &case_id, &space_id).await,
        "another organisation replaying a request id",
    );

    // After release, nobody learns it, and nothing more is recorded.
    safe_space(&system, &operator())
        .await
        .release_place(api::ReleasePlaceRequest {
            request_id: "locations-release".to_owned(),
            case_id: case_id.clone(),
            allocator: here(),
            reason: "transfer".to_owned(),
        })
        .await
        .expect("released");
    let after_release = allocator_history(&log).await.len();
    for (who, caller) in [
        ("receiver", &cav),
        ("manager", &shelter()),
        ("operator", &operator()),
    ] {
        refused(
            disclose(&system, caller, &format!("late-{who}"), &case_id, &space_id).await,
            &format!("{who} after release"),
        );
    }
    // Nor by replaying a request id that was answered before the release.
    refused(
        disclose(&system, &cav, "disclose-receiver", &case_id, &space_id).await,
        "a replayed request id after release",
    );
    assert_eq!(allocator_history(&log).await.len(), after_release);

    // No list or view names the space otherwise than by its id.
    let occupancy = safe_space(&system, &shelter())
        .await
        .list_occupancy(api::ListOccupancyRequest { allocator: here() })
        .await
        .expect("occupancy")
        .into_inner();
    let listed = format!("{occupancy:?}");
    assert!(
        listed.contains(&space_id),
        "control: the list names the space by its id"
    );
    assert!(!listed.contains("Ortensie") && !listed.contains("Glicine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_name_and_address_are_in_no_store_file() {
    let mut system = Fixture::start().await;
    system.start_service(Service::SafeSpace).await;
    let (case_id, _, space_id) = reserved_case(&system).await;
    let answer = disclose(&system, &shelter(), "scan-disclose", &case_id, &space_id)
        .await
        .expect("the manager learns it");
    assert_eq!(answer.address, ADDRESS);

    let store = system.nats().store_dir();
    let data = system.data_dir().to_path_buf();
    let dirs: [&Path; 2] = [store.as_path(), data.as_path()];
    for needle in [NAME, ADDRESS, "Ortensie", "Glicine"] {
        for dir in dirs {
            let found = files_containing(dir, needle.as_bytes());
            assert!(found.is_empty(), "{needle:?} in clear in {found:?}");
        }
    }
    // Positive controls: the scan reads the store and the projection files.
    assert!(
        !files_containing(dirs[0], space_id.as_bytes()).is_empty(),
        "control: the space's id is in the log's store files"
    );
    assert!(
        !files_containing(dirs[1], space_id.as_bytes()).is_empty()
            || !files_containing(dirs[1], case_id.as_bytes()).is_empty(),
        "control: the projections hold the case or the space"
    );
    let log = system.log().await;
    let keys = SpaceKeyStore::open(&log, SPACE_KEY_STREAM, "approdo.facility.*.safe-space")
        .await
        .expect("space key store");
    let wrapped = keys
        .get(&TokenId::parse(&space_id).expect("id"))
        .await
        .expect("read")
        .expect("the space has a key");
    assert!(
        !files_containing(dirs[0], &wrapped).is_empty(),
        "control: the wrapped space key is on disk, in its own stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_name_or_address_is_refused_naming_both_and_appends_nothing() {
    let mut system = Fixture::start().await;
    system.start_service(Service::SafeSpace).await;
    let log = system.log().await;
    let before = log.last_sequence().await.expect("last");
    let long = "x".repeat(501);
    for (request, name, address, offending) in [
        (
            "bad-1",
            "Casa\nLucia",
            long.as_str(),
            &["name", "address"][..],
        ),
        ("bad-2", " ", "Via\u{7}Roma", &["name", "address"][..]),
        ("bad-3", "Casa Lucia", "", &["address"][..]),
    ] {
        let status = safe_space(&system, &shelter())
            .await
            .register_safe_space(registration(request, name, address))
            .await
            .expect_err(request);
        assert_eq!(status.code(), Code::InvalidArgument, "{request}");
        for field in offending {
            assert!(
                status.message().contains(field),
                "{request} {field}: {status:?}"
            );
        }
        assert!(!status.message().contains("Lucia") && !status.message().contains("Roma"));
    }
    assert_eq!(
        log.last_sequence().await.expect("last"),
        before,
        "nothing appended"
    );
}

/// What the services wrote as log lines, captured.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every log line (JSON, down to debug) and every exported span of a
/// registration, a request, a disclosure and a refused registration: none
/// holds the seeded name or address.
#[test]
fn no_log_line_or_span_holds_a_name_or_an_address() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    let logs = Captured::default();
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = telemetry::tracer_provider("locations-test", spans.clone(), false);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "debug,h2=info,hyper=info,tower=info",
        ))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(logs.clone()),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("locations-test")));
    crate::support::traced::with_subscriber(subscriber, async {
        let mut system = Fixture::start().await;
        system.start_service(Service::SafeSpace).await;
        let (case_id, _, space_id) = reserved_case(&system).await;
        let answer = disclose(&system, &shelter(), "traced-disclose", &case_id, &space_id)
            .await
            .expect("disclosed");
        assert_eq!(answer.name, NAME);
        safe_space(&system, &shelter())
            .await
            .register_safe_space(registration("traced-bad", NAME, &format!("{ADDRESS}\n")))
            .await
            .expect_err("a control character");
        drop(system);
    });
    let _ = provider.force_flush();
    let captured = String::from_utf8_lossy(&logs.0.lock().expect("logs")).to_string();
    assert!(
        captured.contains(ALLOCATOR),
        "control: the scenario was logged"
    );
    let exported = spans.get_finished_spans().expect("spans");
    assert!(
        exported
            .iter()
            .any(|span| format!("{span:?}").contains("safe_space.v1.LocationDisclosed")),
        "control: the span of the disclosure's projection was exported"
    );
    let spans_text = format!("{exported:?}");
    for seeded in [NAME, ADDRESS, "Ortensie", "Glicine"] {
        assert!(!captured.contains(seeded), "a log line holds {seeded:?}");
        assert!(!spans_text.contains(seeded), "a span holds {seeded:?}");
    }
}
