//! Architecture invariant 11 with everything recording: the services run a
//! scenario with distinctive personal data (open, identity read, referral,
//! erasure) while every log line (JSON, down to debug) and every exported span
//! is captured; none of them holds the seeded names, birth date or health
//! details. The subscriber records this test only (its thread and the threads
//! of its runtime, where the services run), not the tests beside it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use contracts::person::v1 as person;
use contracts::referral::v1 as referral_api;
use contracts::screening::v1 as api;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use service_runtime::OrganisationType;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::traced::with_subscriber;
use crate::support::{Caller, Service, System, token, ts, with_token};

const SEEDED: [&str; 4] = [
    "Philomena",
    "Vantongeren-Okafor",
    "1979-08-21",
    "seeded-health-note-Pq9",
];

/// Log output captured in memory (also used by `replay.rs`).
#[derive(Clone, Default)]
pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
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

fn operator<T>(message: T) -> tonic::Request<T> {
    with_token(
        message,
        &token(
            OrganisationType::ReceptionOperator,
            "hotspot-pozzallo",
            Some("RG"),
        ),
    )
}

#[test]
fn logs_and_traces_of_a_whole_scenario_hold_no_personal_data() {
    let logs = Captured::default();
    let spans = InMemorySpanExporter::default();
    let provider = telemetry::tracer_provider("privacy-test", spans.clone(), false);
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
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("privacy-test")));
    with_subscriber(subscriber, scenario(logs, spans, provider));
}

async fn scenario(logs: Captured, spans: InMemorySpanExporter, provider: SdkTracerProvider) {
    let system = System::start(&[Service::Screening, Service::Referral]).await;
    let mut client = system
        .screening(&Caller::operator("hotspot-pozzallo", "RG"))
        .await;

    let opened = client
        .open_case(operator(api::OpenCaseRequest {
            request_id: "privacy-scenario".to_owned(),
            arrival: Some(api::Arrival {
                place: "POZZALLO".to_owned(),
                arrived_at: ts(time::OffsetDateTime::now_utc() - time::Duration::hours(5)),
            }),
            province: "RG".to_owned(),
            facility_id: "hotspot-pozzallo".to_owned(),
            personal_data: Some(person::PersonalData {
                given_names: SEEDED[0].to_owned(),
                family_names: SEEDED[1].to_owned(),
                date_of_birth: SEEDED[2].to_owned(),
                ..Default::default()
            }),
            special_category_details: Some(person::SpecialCategoryDetails {
                health_notes: SEEDED[3].to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .expect("open")
        .into_inner();
    // A request that fails validation with personal data in it: the error must not echo it.
    let refused = client
        .open_case(operator(api::OpenCaseRequest {
            request_id: "privacy-invalid".to_owned(),
            province: "rg".to_owned(),
            personal_data: Some(person::PersonalData {
                given_names: SEEDED[0].to_owned(),
                nationalities: vec![SEEDED[1].to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .expect_err("invalid");
    assert!(SEEDED.iter().all(|s| !refused.message().contains(s)));
    let read = client
        .get_case_identity(operator(api::GetCaseIdentityRequest {
            case_id: opened.case_id.clone(),
            purpose: "safeguarding".to_owned(),
        }))
        .await
        .expect("identity")
        .into_inner();
    assert_eq!(
        read.personal_data.map(|p| p.family_names),
        Some(SEEDED[1].to_owned())
    );
    let mut referrals = system.referral(&Caller::prefecture("pref-rg", "RG")).await;
    referrals
        .list_referrals(with_token(
            referral_api::ListReferralsRequest::default(),
            &token(OrganisationType::Prefecture, "pref-rg", Some("RG")),
        ))
        .await
        .expect("list");
    client
        .erase_case(with_token(
            api::EraseCaseRequest {
                request_id: "privacy-erase".to_owned(),
                case_id: opened.case_id.clone(),
                reason: "person_request".to_owned(),
            },
            &token(OrganisationType::Prefecture, "pref-rg", Some("RG")),
        ))
        .await
        .expect("erase");
    system.stop().await;
    let _ = provider.force_flush();

    let captured = String::from_utf8_lossy(&logs.0.lock().expect("logs")).to_string();
    assert!(
        captured.contains("identity read") && captured.contains("personal data erased"),
        "the scenario was logged"
    );
    let exported = spans.get_finished_spans().expect("spans");
    assert!(!exported.is_empty(), "spans were exported");
    let spans_text = format!("{exported:?}");
    for seeded in SEEDED {
        assert!(!captured.contains(seeded), "log output holds personal data");
        assert!(
            !spans_text.contains(seeded),
            "exported spans hold personal data"
        );
    }
}
