//! The monitoring service end to end: a scenario driven through screening
//! and referral over gRPC (cases opened with seeded identities, checks,
//! assessments, consents, referrals accepted, declined, redirected and left
//! to expire by the referral service's deadline watcher), then the
//! indicators compared with values computed here from the events read
//! straight from the case log (not from any projection); small cells
//! suppressed with their complements; the province limit of prefectures and
//! provincial analysts; no seeded name, date of birth, free text, case id or
//! LGBTIQ in any output; and a Parquet export read back by an independent
//! reader (pyarrow, installed by `cargo xtask setup` into `.tools/pylib`).

use std::collections::BTreeMap;

use case_log_jetstream::{HistoryBound, HistoryScope, RootKind, TokenId};
use contracts::monitoring::v1 as monitoring_api;
use contracts::referral::v1 as referral_api;
use contracts::screening::v1 as screening_api;
use monitoring_api::monitoring_service_client::MonitoringServiceClient;
use prost::Message;
use service_runtime::OrganisationType;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tonic::Code;

use crate::support::system::Authorised;
use crate::support::{Caller, Service, System, ts};

use referral_api::update_referral_request::{self as update, Action};

const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);
const CAV: &str = "differenza-donna";
const OTHER_CAV: &str = "cav-palermo";
const FAMILY_NAME: &str = "Zanzibarova";
const GIVEN_NAME: &str = "Seededgivenname";
const DATE_OF_BIRTH: &str = "1990-02-13";
const FREE_TEXT: &str = "seeded free text: sleeps badly since the crossing";

/// What each AG case's referral ends as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Accepted,
    DeclinedNoCapacity,
    Redirected,
    LeftToExpire,
}

fn fate(i: usize) -> Fate {
    match i {
        0..7 => Fate::Accepted,
        7..13 => Fate::DeclinedNoCapacity,
        13..18 => Fate::Redirected,
        _ => Fate::LeftToExpire,
    }
}

struct Scenario {
    system: System,
    cases: Vec<String>,
}

async fn monitoring(system: &System, caller: &Caller) -> MonitoringServiceClient<Authorised> {
    MonitoringServiceClient::with_interceptor(
        system.channel(Service::Monitoring).await,
        caller.bearer(),
    )
}

async fn register(system: &System, organisation: &str) {
    system
        .referral(&Caller::administrator())
        .await
        .register_organisation(referral_api::RegisterOrganisationRequest {
            request_id: format!("register-{organisation}"),
            profile: Some(referral_api::OrganisationProfile {
                organisation_id: organisation.to_owned(),
                name: format!("Centro {organisation}"),
                service_types: vec!["anti_violence_centre".to_owned()],
                provinces: vec!["AG".to_owned(), "RM".to_owned()],
                languages: vec!["it".to_owned(), "fr".to_owned()],
                intake_channel: "approdo".to_owned(),
                availability: "available".to_owned(),
                active: true,
                ..Default::default()
            }),
        })
        .await
        .expect("register");
}

/// Opens, checks, assesses a case and sends it to the centre with consent;
/// answers the referral id.
async fn referred_case(
    system: &System,
    facility: &str,
    province: &str,
    i: usize,
) -> (String, String) {
    let operator = Caller::operator(facility, province);
    let mut screening = system.screening(&operator).await;
    let arrived = NOW - Duration::days(3);
    let request = format!("{facility}-{i}");
    let lgbtiq = province == "AG" && i < 3;
    let case_id = screening
        .open_case(screening_api::OpenCaseRequest {
            request_id: request.clone(),
            arrival: Some(screening_api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(arrived),
            }),
            province: province.to_owned(),
            facility_id: facility.to_owned(),
            application_date: "2026-06-17".to_owned(),
            age_band: "18+".to_owned(),
            personal_data: Some(contracts::person::v1::PersonalData {
                given_names: format!("{GIVEN_NAME}{i}"),
                family_names: FAMILY_NAME.to_owned(),
                date_of_birth: DATE_OF_BIRTH.to_owned(),
                sex: "female".to_owned(),
                ..Default::default()
            }),
            special_category_details: Some(contracts::person::v1::SpecialCategoryDetails {
                health_notes: FREE_TEXT.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("open")
        .into_inner()
        .case_id;
    let mut categories = vec!["GBV"];
    if lgbtiq {
        categories.push("LGBTIQ");
    }
    screening
        .record_preliminary_check(screening_api::RecordPreliminaryCheckRequest {
            request_id: format!("{request}-check"),
            case_id: case_id.clone(),
            suspected: categories
                .iter()
                .map(|c| screening_api::SuspectedCategory {
                    category: (*c).to_owned(),
                    ..Default::default()
                })
                .collect(),
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(arrived + Duration::hours(4)),
            ..Default::default()
        })
        .await
        .expect("check");
    screening
        .record_assessment(screening_api::RecordAssessmentRequest {
            request_id: format!("{request}-assessment"),
            case_id: case_id.clone(),
            outcomes: categories
                .iter()
                .map(|c| screening_api::CategoryOutcome {
                    category: (*c).to_owned(),
                    status: "confirmed".to_owned(),
                    ..Default::default()
                })
                .collect(),
            special_reception_needs: true,
            assessed_at: ts(system.now() - Duration::hours(1)),
            assessor_role: "psychologist".to_owned(),
            ..Default::default()
        })
        .await
        .expect("assessment");
    let mut referral = system.referral(&operator).await;
    let consent_id = referral
        .give_consent(referral_api::GiveConsentRequest {
            request_id: format!("{request}-consent"),
            case_id: case_id.clone(),
            recipient: Some(referral_api::Recipient {
                recipient: Some(referral_api::recipient::Recipient::OrganisationId(
                    CAV.to_owned(),
                )),
            }),
            basis: Some(referral_api::give_consent_request::Basis::Consent(
                referral_api::ConsentBasis {
                    purpose: "protection_and_support".to_owned(),
                    scopes: vec![
                        "categories".to_owned(),
                        "urgency".to_owned(),
                        "communication".to_owned(),
                    ],
                    valid_until: ts(NOW + Duration::days(90)),
                    grantor: "person".to_owned(),
                    ..Default::default()
                },
            )),
            given_at: ts(system.now() - Duration::minutes(5)),
        })
        .await
        .expect("consent")
        .into_inner()
        .consent_id;
    let referral_id = referral
        .create_referral(referral_api::CreateReferralRequest {
            request_id: format!("{request}-referral"),
            case_id: case_id.clone(),
            receiver_organisation_id: CAV.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id,
            dataset: Some(referral_api::MinimumDataset {
                categories: vec!["GBV".to_owned()],
                urgency: "high".to_owned(),
                languages: vec!["fr".to_owned()],
                ..Default::default()
            }),
            send: true,
        })
        .await
        .expect("referral")
        .into_inner()
        .referral_id;
    (case_id, referral_id)
}

async fn answer(system: &System, case_id: &str, referral_id: &str, step: &str, action: Action) {
    system
        .referral(&Caller::receiver(CAV, Some("RM")))
        .await
        .update_referral(referral_api::UpdateReferralRequest {
            request_id: format!("{referral_id}-{step}").chars().take(64).collect(),
            case_id: case_id.to_owned(),
            referral_id: referral_id.to_owned(),
            action: Some(action),
        })
        .await
        .expect(step);
}

/// 21 cases in Agrigento (7 accepted, 6 declined for lack of capacity, 5
/// redirected, 3 left unanswered until they expire) and 5 in Rome (accepted),
/// each received some minutes after sending.
async fn scenario() -> Scenario {
    let system = System::builder()
        .clock_at(NOW)
        .options(Service::Monitoring, "[population]\nAG = 400000\n")
        .services(&[
            Service::Screening,
            Service::Referral,
            Service::SafeSpace,
            Service::Monitoring,
        ])
        .start()
        .await;
    register(&system, CAV).await;
    // One shelter of 8 places in Agrigento.
    crate::safe_space::register(&system, "shelter-ag", crate::safe_space::profile(8, false)).await;
    register(&system, OTHER_CAV).await;
    let mut cases = Vec::new();
    let places = (0..21)
        .map(|i| ("hotspot-lampedusa", "AG", i))
        .chain((0..5).map(|i| ("cas-roma-1", "RM", i)));
    for (n, (facility, province, i)) in places.enumerate() {
        let (case_id, referral_id) = referred_case(&system, facility, province, i).await;
        let fate = if province == "RM" {
            Fate::Accepted
        } else {
            fate(i)
        };
        if fate != Fate::LeftToExpire {
            system.advance(Duration::minutes(7 * (n as i64 % 9 + 1)));
            answer(
                &system,
                &case_id,
                &referral_id,
                "receive",
                Action::Receive(update::Receive {}),
            )
            .await;
        }
        match fate {
            Fate::Accepted => {
                answer(
                    &system,
                    &case_id,
                    &referral_id,
                    "accept",
                    Action::Accept(update::Accept {}),
                )
                .await;
            }
            Fate::DeclinedNoCapacity => {
                let decline = update::Decline {
                    reason: "no_capacity".to_owned(),
                    redirect_to_organisation_id: String::new(),
                };
                answer(
                    &system,
                    &case_id,
                    &referral_id,
                    "decline",
                    Action::Decline(decline),
                )
                .await;
            }
            Fate::Redirected => {
                let decline = update::Decline {
                    reason: "out_of_scope".to_owned(),
                    redirect_to_organisation_id: OTHER_CAV.to_owned(),
                };
                answer(
                    &system,
                    &case_id,
                    &referral_id,
                    "decline",
                    Action::Decline(decline),
                )
                .await;
            }
            Fate::LeftToExpire => {}
        }
        if province == "AG" && i < 10 {
            // Ten ask for a place: eight get one and arrive, two wait.
            system.advance(Duration::minutes(3));
            let standing = crate::safe_space::client(
                system.channel(Service::SafeSpace).await,
                &Caller::operator(facility, province),
            )
            .request_place(crate::safe_space::place_request(
                &format!("{case_id}-place"),
                &case_id,
                contracts::safe_space::v1::Needs::default(),
            ))
            .await
            .expect("place requested")
            .into_inner()
            .standing;
            if standing == "reserved" {
                crate::safe_space::client(
                    system.channel(Service::SafeSpace).await,
                    &Caller::receiver(crate::safe_space::SHELTER, Some("AG")),
                )
                .confirm_arrival(contracts::safe_space::v1::ConfirmArrivalRequest {
                    request_id: format!("{case_id}-arrival"),
                    case_id: case_id.clone(),
                    allocator: crate::safe_space::place_request("x", &case_id, Default::default())
                        .allocator,
                })
                .await
                .expect("arrival confirmed");
            }
        }
        cases.push(case_id);
    }
    // Past the answer deadline of the referrals nobody answered.
    system.advance(Duration::days(3));
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    Scenario { system, cases }
}

/// What the log says, read straight from each case's history.
#[derive(Debug, Default)]
struct FromTheLog {
    /// (province, answer column) -> count.
    answers: BTreeMap<(String, &'static str), u64>,
    /// Hours from sent to received, per province.
    sent_to_received: BTreeMap<String, Vec<f64>>,
    checked: u64,
    case_ids: Vec<String>,
    /// Safe-space requests and reservations in the allocator's history.
    requested: u64,
    reserved: u64,
}

async fn from_the_log(scenario: &Scenario) -> FromTheLog {
    let log = scenario.system.log().await;
    let mut out = FromTheLog::default();
    for case_id in &scenario.cases {
        let scope = HistoryScope::Root {
            kind: RootKind::Case,
            id: TokenId::parse(case_id).expect("case id"),
        };
        let history = log
            .history(&scope, HistoryBound::All)
            .await
            .expect("history");
        let mut province = String::new();
        let mut sent = BTreeMap::new();
        for event in history.iter().flat_map(|c| c.commit.events.iter()) {
            let t = event.event_type.as_str();
            let p = event.payload.as_slice();
            let time = |ts: Option<prost_types::Timestamp>| {
                case_log_jetstream::envelope::from_timestamp(&ts.expect("time")).expect("time")
            };
            match t {
                "approdo.screening.v1.CaseOpened" => {
                    province = screening_api::CaseOpened::decode(p)
                        .expect("decode")
                        .province;
                }
                "approdo.screening.v1.PreliminaryCheckRecorded" => out.checked += 1,
                "approdo.referral.v1.ReferralSent" => {
                    let e = referral_api::ReferralSent::decode(p).expect("decode");
                    sent.insert(e.referral_id, time(e.sent_at));
                }
                "approdo.referral.v1.ReferralReceived" => {
                    let e = referral_api::ReferralReceived::decode(p).expect("decode");
                    let hours = (time(e.at) - sent[&e.referral_id]).as_seconds_f64() / 3600.0;
                    out.sent_to_received
                        .entry(province.clone())
                        .or_default()
                        .push(hours);
                }
                "approdo.referral.v1.ReferralAccepted" => {
                    *out.answers
                        .entry((province.clone(), "accepted"))
                        .or_default() += 1;
                }
                "approdo.referral.v1.ReferralDeclined" => {
                    let e = referral_api::ReferralDeclined::decode(p).expect("decode");
                    let column = if !e.redirect_to_organisation_id.is_empty() {
                        "redirected"
                    } else if e.reason == "no_capacity" {
                        "declined_no_capacity"
                    } else {
                        "declined_other"
                    };
                    *out.answers.entry((province.clone(), column)).or_default() += 1;
                }
                "approdo.referral.v1.ReferralExpired" => {
                    *out.answers
                        .entry((province.clone(), "expired"))
                        .or_default() += 1;
                }
                _ => {}
            }
        }
        out.case_ids.push(case_id.clone());
    }
    let allocator = crate::safe_space::allocator_history(&log).await;
    out.requested =
        crate::safe_space::events::<contracts::safe_space::v1::PlaceRequested>(&allocator).len()
            as u64;
    out.reserved = crate::safe_space::events::<contracts::safe_space::v1::PlaceReserved>(&allocator)
        .len() as u64;
    out
}

/// The median (mean of the two middle values when even) and the
/// nearest-rank 90th percentile, written here again on purpose.
fn median_and_p90(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).max(1);
    (median, v[rank - 1])
}

fn request(
    group_by: &[&str],
    indicators: &[&str],
    min_sequence: u64,
) -> monitoring_api::GetIndicatorsRequest {
    monitoring_api::GetIndicatorsRequest {
        group_by: group_by.iter().map(|g| (*g).to_owned()).collect(),
        indicators: indicators.iter().map(|i| (*i).to_owned()).collect(),
        min_sequence,
        ..Default::default()
    }
}

fn table<'a>(
    response: &'a monitoring_api::GetIndicatorsResponse,
    id: &str,
) -> &'a monitoring_api::IndicatorTable {
    response
        .tables
        .iter()
        .find(|t| t.indicator == id)
        .unwrap_or_else(|| panic!("table {id}"))
}

fn cell(
    table: &monitoring_api::IndicatorTable,
    group: &[&str],
    column: &str,
) -> monitoring_api::IndicatorCell {
    let index = table
        .columns
        .iter()
        .position(|c| c == column)
        .expect("column");
    let row = if group == ["total"] {
        table.total.as_ref().expect("total row")
    } else {
        table
            .rows
            .iter()
            .find(|r| r.group == group)
            .unwrap_or_else(|| panic!("row {group:?} in {}", table.indicator))
    };
    row.cells[index]
}

/// Every published count of every table is at least 5, and no line (row with
/// its total, or column with its total) hides exactly one cell.
fn assert_protected(response: &monitoring_api::GetIndicatorsResponse) {
    for t in &response.tables {
        let rows: Vec<&monitoring_api::IndicatorRow> =
            t.rows.iter().chain(t.total.iter()).collect();
        for row in &rows {
            let mut line: Vec<&monitoring_api::IndicatorCell> = row.cells.iter().collect();
            line.extend(row.total.iter());
            for c in &line {
                assert!(
                    c.suppressed || c.count >= 5,
                    "{}: published {}",
                    t.indicator,
                    c.count
                );
            }
            if let Some(total) = row.total {
                let hidden = line.iter().filter(|c| c.suppressed).count();
                let shown: u64 = row
                    .cells
                    .iter()
                    .filter(|c| !c.suppressed)
                    .map(|c| c.count)
                    .sum();
                // One hidden cell whose line already adds up is a 0: it discloses no one.
                let zero = !total.suppressed && shown == total.count;
                assert!(
                    hidden != 1 || zero,
                    "{}: a row hides one cell only",
                    t.indicator
                );
            }
        }
        if let Some(total_row) = &t.total {
            for column in 0..t.columns.len() {
                let hidden = rows.iter().filter(|r| r.cells[column].suppressed).count();
                let total = total_row.cells[column];
                let shown: u64 = t
                    .rows
                    .iter()
                    .filter(|r| !r.cells[column].suppressed)
                    .map(|r| r.cells[column].count)
                    .sum();
                let zero = !total.suppressed && shown == total.count;
                assert!(
                    hidden != 1 || zero,
                    "{}: column {column} hides one cell only",
                    t.indicator
                );
            }
        }
    }
}

async fn export(
    client: &mut MonitoringServiceClient<Authorised>,
    format: monitoring_api::ExportFormat,
    last: u64,
) -> (Vec<u8>, u64) {
    let mut stream = client
        .export_case_pathways(monitoring_api::ExportCasePathwaysRequest {
            format: format as i32,
            min_sequence: last,
            ..Default::default()
        })
        .await
        .expect("export")
        .into_inner();
    let mut file = Vec::new();
    let mut rows = 0;
    while let Some(chunk) = stream.message().await.expect("chunk") {
        file.extend_from_slice(&chunk.data);
        if chunk.last {
            rows = chunk.rows;
        }
    }
    (file, rows)
}

fn assert_nothing_personal(what: &str, text: &str, case_ids: &[String]) {
    for seeded in [FAMILY_NAME, GIVEN_NAME, DATE_OF_BIRTH, FREE_TEXT, "LGBTIQ"] {
        assert!(!text.contains(seeded), "{what} contains {seeded:?}");
    }
    for case_id in case_ids {
        assert!(
            !text.contains(case_id.as_str()),
            "{what} contains a case id in clear"
        );
    }
}

/// Log lines of the test's runtime, captured.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
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

#[test]
fn indicators_equal_what_the_log_says_are_protected_and_limited_to_the_callers_province() {
    use tracing_subscriber::layer::SubscriberExt;
    let logs = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "debug,h2=info,hyper=info,tower=info",
        ))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(logs.clone()),
        );
    crate::support::traced::with_subscriber(subscriber, indicators_scenario(logs));
}

async fn indicators_scenario(logs: Captured) {
    let scenario = scenario().await;
    let system = &scenario.system;
    let expected = from_the_log(&scenario).await;
    assert_eq!(
        expected.answers.get(&("AG".to_owned(), "expired")),
        Some(&3),
        "the scenario let three referrals expire"
    );
    let last = system.log().await.last_sequence().await.expect("last");
    let analyst = Caller::new(OrganisationType::Analyst, "ministry-analysts", None);
    let mut client = monitoring(system, &analyst).await;

    // Referral answers by province, and the time from sent to received.
    let response = client
        .get_indicators(request(
            &["province"],
            &[
                "4.referral_answers",
                "3.sent_to_received",
                "1.preliminary_check",
            ],
            last,
        ))
        .await
        .expect("indicators")
        .into_inner();
    assert_eq!(response.scope_province, "", "national");
    let answers = table(&response, "4.referral_answers");
    for ((province, column), count) in &expected.answers {
        let published = cell(answers, &[province.as_str()], column);
        if *count < 5 {
            assert!(
                published.suppressed,
                "{province} {column}: {count} is under 5"
            );
        } else if !published.suppressed {
            assert_eq!(published.count, *count, "{province} {column}");
        }
    }
    assert_eq!(cell(answers, &["AG"], "accepted").count, 7);
    assert_eq!(cell(answers, &["total"], "accepted").count, 12);
    assert!(cell(answers, &["AG"], "expired").suppressed);
    assert!(
        !cell(answers, &["AG"], "redirected").suppressed
            || cell(answers, &["AG"], "expired").suppressed
    );
    let ag_total = answers
        .rows
        .iter()
        .find(|r| r.group == ["AG"])
        .and_then(|r| r.total)
        .expect("AG total");
    assert_eq!((ag_total.suppressed, ag_total.count), (false, 21));
    let checks = table(&response, "1.preliminary_check");
    assert_eq!(
        cell(checks, &["total"], "checked_on_time").count,
        expected.checked
    );

    let times = table(&response, "3.sent_to_received");
    let all: Vec<f64> = expected
        .sent_to_received
        .values()
        .flatten()
        .copied()
        .collect();
    let (median, p90) = median_and_p90(&all);
    let total = times.total.as_ref().expect("total");
    assert_eq!(total.cells[0].count, all.len() as u64);
    assert!(
        (total.median.expect("median") - median).abs() < 1e-9,
        "median {median}"
    );
    assert!((total.p90.expect("p90") - p90).abs() < 1e-9, "p90 {p90}");
    let ag = &expected.sent_to_received["AG"];
    let (ag_median, _) = median_and_p90(ag);
    let ag_row = times.rows.iter().find(|r| r.group == ["AG"]).expect("AG");
    assert!((ag_row.median.expect("AG median") - ag_median).abs() < 1e-9);
    assert_protected(&response);

    // Safe-space places, occupancy and waiting, per 10,000 inhabitants.
    assert_eq!(
        (expected.requested, expected.reserved),
        (10, 8),
        "the scenario"
    );
    let spaces = client
        .get_indicators(request(&["province"], &["9.safe_space_places"], last))
        .await
        .expect("places")
        .into_inner();
    let places = table(&spaces, "9.safe_space_places");
    assert_eq!(cell(places, &["AG"], "places").count, 8);
    assert_eq!(cell(places, &["AG"], "occupied").count, expected.reserved);
    assert!(cell(places, &["AG"], "waiting").suppressed, "2 waiting");
    let ag = places.rows.iter().find(|r| r.group == ["AG"]).expect("AG");
    assert_eq!(ag.places_per_10000_inhabitants, Some(0.2));
    assert_protected(&spaces);

    // Every table, grouped by every dimension: protected, and nothing personal.
    let everything = client
        .get_indicators(request(
            &[
                "province",
                "month",
                "category",
                "service_type",
                "urgency",
                "age_band",
            ],
            &[],
            last,
        ))
        .await
        .expect("all indicators")
        .into_inner();
    assert_protected(&everything);
    assert_nothing_personal(
        "GetIndicators",
        &format!("{everything:?}"),
        &expected.case_ids,
    );
    let by_category = client
        .get_indicators(request(&["category"], &["1.preliminary_check"], last))
        .await
        .expect("by category")
        .into_inner();
    let groups: Vec<&Vec<String>> = by_category.tables[0]
        .rows
        .iter()
        .map(|r| &r.group)
        .collect();
    assert_eq!(
        groups,
        vec![&vec!["GBV".to_owned()]],
        "LGBTIQ is never a group"
    );
    let refused = client
        .get_indicators(monitoring_api::GetIndicatorsRequest {
            group_by: vec!["sexual_orientation".to_owned()],
            filter: Some(monitoring_api::IndicatorFilter {
                categories: vec!["LGBTIQ".to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("group_by[0]")
            && refused.message().contains("filter.categories[0]")
    );

    // A period before the landing holds nothing; a period ending before it starts is refused.
    let before = client
        .get_indicators(monitoring_api::GetIndicatorsRequest {
            period_to: ts(NOW - Duration::days(30)),
            ..request(&[], &["4.referral_answers"], last)
        })
        .await
        .expect("an empty period")
        .into_inner();
    assert!(before.tables[0].rows.is_empty() && before.tables[0].total.is_none());
    let backwards = client
        .get_indicators(monitoring_api::GetIndicatorsRequest {
            period_from: ts(NOW),
            period_to: ts(NOW - Duration::days(1)),
            ..Default::default()
        })
        .await
        .expect_err("backwards");
    assert_eq!(backwards.code(), Code::InvalidArgument);
    assert!(backwards.message().contains("period_from"));

    // A prefecture sees its own province only, whatever it asks.
    let mut prefecture = monitoring(system, &Caller::prefecture("prefettura-ag", "AG")).await;
    let own = prefecture
        .get_indicators(monitoring_api::GetIndicatorsRequest {
            filter: Some(monitoring_api::IndicatorFilter {
                provinces: vec!["RM".to_owned()],
                ..Default::default()
            }),
            ..request(&["province"], &["4.referral_answers"], last)
        })
        .await
        .expect("prefecture")
        .into_inner();
    assert_eq!(own.scope_province, "AG");
    let rows = &own.tables[0].rows;
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.group == ["AG"]),
        "{rows:?}"
    );
    assert_eq!(cell(&own.tables[0], &["total"], "accepted").count, 7);
    let rome_analyst = Caller::new(OrganisationType::Analyst, "osservatorio-lazio", Some("RM"));
    let rome = monitoring(system, &rome_analyst)
        .await
        .get_indicators(request(&[], &["4.referral_answers"], last))
        .await
        .expect("provincial analyst")
        .into_inner();
    assert_eq!(rome.scope_province, "RM");
    assert_eq!(cell(&rome.tables[0], &["total"], "accepted").count, 5);

    // Exports: CSV with nothing personal and case ids re-pseudonymised per export.
    let mut indicators_csv = Vec::new();
    let mut stream = client
        .export_indicators(monitoring_api::ExportIndicatorsRequest {
            query: Some(request(&["province", "category"], &[], last)),
            format: monitoring_api::ExportFormat::Csv as i32,
        })
        .await
        .expect("indicator export")
        .into_inner();
    while let Some(chunk) = stream.message().await.expect("chunk") {
        indicators_csv.extend_from_slice(&chunk.data);
    }
    let indicators_csv = String::from_utf8(indicators_csv).expect("utf-8");
    assert!(indicators_csv.starts_with("indicator,province,month,category,"));
    assert!(
        indicators_csv.contains("4.referral_answers,AG,,GBV,,,,accepted,7,false"),
        "{indicators_csv}"
    );
    assert_nothing_personal("indicator CSV", &indicators_csv, &expected.case_ids);
    let (first, rows) = export(&mut client, monitoring_api::ExportFormat::Csv, last).await;
    let (second, _) = export(&mut client, monitoring_api::ExportFormat::Csv, last).await;
    assert_eq!(rows, 26);
    let first = String::from_utf8(first).expect("utf-8");
    let second = String::from_utf8(second).expect("utf-8");
    assert_nothing_personal("case pathway CSV", &first, &expected.case_ids);
    let pseudonyms = |csv: &str| -> Vec<String> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap_or_default().to_owned())
            .collect()
    };
    let (a, b) = (pseudonyms(&first), pseudonyms(&second));
    assert_eq!(a.len(), 26);
    assert!(
        a.iter().all(|p| p.len() == 32 && !b.contains(p)),
        "a new key per export"
    );

    // Parquet, read back by an independent reader.
    let (parquet, _) = export(&mut client, monitoring_api::ExportFormat::Parquet, last).await;
    assert_eq!(&parquet[..4], b"PAR1");
    let read = read_with_pyarrow(&parquet);
    assert_eq!(read["rows"], 26, "{read}");
    assert_eq!(read["provinces"]["AG"], 21, "{read}");
    assert_eq!(read["provinces"]["RM"], 5, "{read}");
    assert_eq!(read["referrals_accepted"], 12, "{read}");
    assert_eq!(read["referrals_expired"], 3, "{read}");
    assert_nothing_personal(
        "case pathway Parquet",
        &String::from_utf8_lossy(&parquet),
        &expected.case_ids,
    );

    // Monitoring appended nothing.
    assert_eq!(
        system.log().await.last_sequence().await.expect("last"),
        last
    );

    // No seeded name, date of birth or free text in any log line of the run.
    let lines = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(
        lines.contains("monitoring"),
        "the services' logs were captured"
    );
    for seeded in [FAMILY_NAME, GIVEN_NAME, DATE_OF_BIRTH, FREE_TEXT] {
        assert!(!lines.contains(seeded), "a log line contains {seeded:?}");
    }
}

/// Reads a Parquet file with pyarrow (from `.tools/pylib`, installed by
/// `cargo xtask setup`): its row count, rows per province, and two column sums.
fn read_with_pyarrow(parquet: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("pathways.parquet");
    std::fs::write(&file, parquet).expect("write");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf();
    let python_path = std::env::var_os("APPRODO_PYTHONPATH")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".tools/pylib"));
    let script = r#"
import json, sys, collections
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
d = t.to_pydict()
print(json.dumps({
    "rows": t.num_rows,
    "provinces": collections.Counter(d["province"]),
    "referrals_accepted": sum(d["referrals_accepted"]),
    "referrals_expired": sum(d["referrals_expired"]),
}))
"#;
    let output = std::process::Command::new("python3")
        .env("PYTHONPATH", &python_path)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "pyarrow could not read the export (is it installed? `cargo xtask setup` puts it in {}): {}",
        python_path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}
