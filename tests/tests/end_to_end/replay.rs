//! Analyst replay (`approdo.monitoring.v1.CaseReplayService`) end to end:
//! screening, referral and monitoring in process against a real
//! nats-server. A scenario records what the services answered after each
//! step (`GetCase`, `GetCaseReferrals`) with the step's log sequence; the
//! replay as of each step shows exactly the case's commits up to it, and its
//! folded state equals the recorded answers on the fields both carry. Sealed
//! personal data reads "sealed", then "erased" entry by entry after
//! `EraseCase`; the seeded name, date of birth and free texts appear in no
//! replay output. The what-if replay leaves the log's last sequence
//! unchanged and gives other compliance figures under a tighter policy.

use case_log_jetstream::{HistoryBound, HistoryScope, RootKind, TokenId};
use contracts::monitoring::v1 as api;
use contracts::monitoring::v1::case_replay_service_client::CaseReplayServiceClient;
use contracts::person::v1 as person;
use contracts::referral::v1 as referral_api;
use contracts::screening::v1 as screening_api;
use service_runtime::caller::OrganisationType;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::referral::{CAV, NOW, OPERATOR, by_receiver, consent_request, operator};
use crate::support::{Caller, Service, System, ts};

use referral_api::update_referral_request::{self as update, Action};

const GIVEN: &str = "Seededgivenname";
const FAMILY: &str = "Seededfamilyname";
const BIRTH: &str = "1991-07-23";
const HEALTH_NOTE: &str = "seeded health note about asthma";
const OTHER_NOTE: &str = "seeded other note in her own words";

type Replay = CaseReplayServiceClient<InterceptedService<Channel, crate::support::auth::Bearer>>;

async fn replay(system: &System, caller: &Caller) -> Replay {
    CaseReplayServiceClient::with_interceptor(
        system.channel(Service::Monitoring).await,
        caller.bearer(),
    )
}

fn analyst(province: Option<&str>) -> Caller {
    Caller::new(OrganisationType::Analyst, "analisi-ministero", province)
}

/// What the services answered after a step, and the step's log sequence.
struct Moment {
    sequence: u64,
    case: screening_api::CaseView,
    referrals: referral_api::GetCaseReferralsResponse,
}

/// `screened`: the last screening commit (screening's projection follows only
/// its own subjects); `sequence`: the step's.
async fn record(system: &System, case_id: &str, screened: u64, sequence: u64) -> Moment {
    let case = system
        .screening(&Caller::operator(OPERATOR, "AG"))
        .await
        .get_case(operator(screening_api::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: screened,
        }))
        .await
        .expect("get case")
        .into_inner()
        .case
        .expect("a case");
    let referrals = system
        .referral(&Caller::operator(OPERATOR, "AG"))
        .await
        .get_case_referrals(operator(referral_api::GetCaseReferralsRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: sequence,
        }))
        .await
        .expect("case referrals")
        .into_inner();
    Moment {
        sequence,
        case,
        referrals,
    }
}

async fn as_of(
    system: &System,
    case_id: &str,
    at: api::get_case_history_as_of_request::AsOf,
) -> api::GetCaseHistoryAsOfResponse {
    replay(system, &analyst(None))
        .await
        .get_case_history_as_of(api::GetCaseHistoryAsOfRequest {
            case_id: case_id.to_owned(),
            as_of: Some(at),
        })
        .await
        .expect("replay")
        .into_inner()
}

fn by_sequence(sequence: u64) -> api::get_case_history_as_of_request::AsOf {
    api::get_case_history_as_of_request::AsOf::AsOfSequence(sequence)
}

/// The replay's folded state equals what the services answered then.
fn assert_state_matches(moment: &Moment, replayed: &api::GetCaseHistoryAsOfResponse) {
    let screening = replayed.screening.as_ref().expect("screening state");
    let case = &moment.case;
    assert_eq!(
        (
            screening.status.as_str(),
            screening.province.as_str(),
            screening.facility_id.as_str(),
            screening.current_urgency.as_str(),
            screening.personal_data_erased,
        ),
        (
            case.status.as_str(),
            case.province.as_str(),
            case.facility_id.as_str(),
            case.current_urgency.as_str(),
            case.personal_data_erased,
        ),
        "screening as of {}",
        moment.sequence
    );
    // Special categories are counted, never named, by the replay.
    let special = |c: &str| ["LGBTIQ", "GBV", "FGM", "TRAFFICKING"].contains(&c);
    let categories: Vec<(String, String)> = case
        .categories
        .iter()
        .filter(|c| !special(&c.category))
        .map(|c| (c.category.clone(), c.status.clone()))
        .collect();
    assert_eq!(
        screening.special_categories_withheld as usize,
        case.categories
            .iter()
            .filter(|c| special(&c.category))
            .count()
    );
    let replayed_categories: Vec<(String, String)> = screening
        .categories
        .iter()
        .map(|c| (c.category.clone(), c.status.clone()))
        .collect();
    let mut categories = categories;
    categories.sort();
    let mut replayed_categories = replayed_categories;
    replayed_categories.sort();
    assert_eq!(
        replayed_categories, categories,
        "categories as of {}",
        moment.sequence
    );
    assert_eq!(
        screening.screening_due_at,
        case.screening_deadline.as_ref().and_then(|d| d.due_at),
        "screening deadline as of {}",
        moment.sequence
    );
    let referral = replayed.referral.as_ref().expect("referral state");
    let mut answered: Vec<_> = moment
        .referrals
        .referrals
        .iter()
        .map(|r| {
            (
                r.referral_id.clone(),
                r.receiver_organisation_id.clone(),
                r.service_type.clone(),
                r.consent_id.clone(),
                r.state.clone(),
                r.urgency.clone(),
                r.acknowledge_by,
                r.answer_by,
                r.take_charge_by,
            )
        })
        .collect();
    answered.sort_by(|a, b| a.0.cmp(&b.0));
    let folded: Vec<_> = referral
        .referrals
        .iter()
        .map(|r| {
            (
                r.referral_id.clone(),
                r.receiver_organisation_id.clone(),
                r.service_type.clone(),
                r.consent_id.clone(),
                r.state.clone(),
                r.urgency.clone(),
                r.acknowledge_by,
                r.answer_by,
                r.take_charge_by,
            )
        })
        .collect();
    assert_eq!(folded, answered, "referrals as of {}", moment.sequence);
    let mut consents: Vec<_> = moment
        .referrals
        .consents
        .iter()
        .map(|c| (c.consent_id.clone(), c.given_at, c.withdrawn_at))
        .collect();
    consents.sort_by(|a, b| a.0.cmp(&b.0));
    let replayed_consents: Vec<_> = referral
        .consents
        .iter()
        .map(|c| (c.consent_id.clone(), c.given_at, c.withdrawn_at))
        .collect();
    assert_eq!(
        replayed_consents, consents,
        "consents as of {}",
        moment.sequence
    );
}

/// The sequences of the case's commits (every producer) up to `last`, read
/// straight from the log.
async fn logged(system: &System, case_id: &str, last: u64) -> Vec<u64> {
    system
        .log()
        .await
        .history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse(case_id).expect("case id"),
            },
            HistoryBound::UpToSequence(last),
        )
        .await
        .expect("history")
        .iter()
        .map(|c| c.sequence)
        .collect()
}

/// The withheld marks of a replay's fields named `name`.
fn withheld(replayed: &api::GetCaseHistoryAsOfResponse, name: &str) -> Vec<String> {
    replayed
        .commits
        .iter()
        .flat_map(|c| c.events.iter())
        .flat_map(|e| e.fields.iter())
        .filter(|f| f.name == name)
        .filter_map(|f| match &f.value {
            Some(api::payload_field::Value::Withheld(why)) => Some(why.clone()),
            _ => None,
        })
        .collect()
}

/// None of the seeded personal data anywhere in an output.
fn assert_no_personal_data(output: &impl std::fmt::Debug) {
    let text = format!("{output:?}");
    for seeded in [
        GIVEN,
        FAMILY,
        BIRTH,
        HEALTH_NOTE,
        OTHER_NOTE,
        "1991",
        "asthma",
    ] {
        assert!(!text.contains(seeded), "{seeded} in a replay output");
    }
}

async fn register_shelter(system: &System) {
    system
        .referral(&Caller::administrator())
        .await
        .register_organisation(Caller::administrator().request(
            referral_api::RegisterOrganisationRequest {
                request_id: format!("register-{CAV}"),
                profile: Some(referral_api::OrganisationProfile {
                    organisation_id: CAV.to_owned(),
                    name: format!("Centro {CAV}"),
                    service_types: vec!["shelter".to_owned()],
                    provinces: vec!["AG".to_owned()],
                    languages: vec!["it".to_owned(), "fr".to_owned()],
                    accessibility: vec![],
                    opening_hours: "Mon-Fri 9-18".to_owned(),
                    intake_channel: "approdo".to_owned(),
                    availability: "available".to_owned(),
                    active: true,
                }),
            },
        ))
        .await
        .expect("register");
}

/// The scenario: a case opened with identity and special-category details,
/// checked, referred (sent), received and accepted. Answers the case id and
/// the moments recorded after each step.
async fn scenario(system: &System) -> (String, Vec<Moment>) {
    register_shelter(system).await;
    let mut screening = system.screening(&Caller::operator(OPERATOR, "AG")).await;
    let arrived = NOW - time::Duration::days(3);
    let opened = screening
        .open_case(operator(screening_api::OpenCaseRequest {
            request_id: "replay-open".to_owned(),
            arrival: Some(screening_api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(arrived),
            }),
            province: "AG".to_owned(),
            facility_id: OPERATOR.to_owned(),
            personal_data: Some(person::PersonalData {
                given_names: GIVEN.to_owned(),
                family_names: FAMILY.to_owned(),
                date_of_birth: BIRTH.to_owned(),
                sex: "female".to_owned(),
                ..Default::default()
            }),
            special_category_details: Some(person::SpecialCategoryDetails {
                health_notes: HEALTH_NOTE.to_owned(),
                other_notes: OTHER_NOTE.to_owned(),
                ..Default::default()
            }),
            age_band: "18+".to_owned(),
            ..Default::default()
        }))
        .await
        .expect("open")
        .into_inner();
    let case_id = opened.case_id.clone();
    let mut moments =
        vec![record(system, &case_id, opened.log_sequence, opened.log_sequence).await];

    let checked = screening
        .record_preliminary_check(operator(screening_api::RecordPreliminaryCheckRequest {
            request_id: "replay-check".to_owned(),
            case_id: case_id.clone(),
            suspected: vec![
                screening_api::SuspectedCategory {
                    category: "PREGNANT".to_owned(),
                    ..Default::default()
                },
                screening_api::SuspectedCategory {
                    category: "GBV".to_owned(),
                    ..Default::default()
                },
            ],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(arrived + time::Duration::hours(4)),
            ..Default::default()
        }))
        .await
        .expect("check")
        .into_inner();
    let screened = checked.log_sequence;
    moments.push(record(system, &case_id, screened, screened).await);

    let mut referrals = system.referral(&Caller::operator(OPERATOR, "AG")).await;
    let consent_id = referrals
        .give_consent(operator(referral_api::GiveConsentRequest {
            request_id: "replay-consent".to_owned(),
            ..consent_request(&case_id, CAV)
        }))
        .await
        .expect("consent")
        .into_inner()
        .consent_id;
    let sent = referrals
        .create_referral(operator(referral_api::CreateReferralRequest {
            request_id: "replay-refer".to_owned(),
            case_id: case_id.clone(),
            receiver_organisation_id: CAV.to_owned(),
            service_type: "shelter".to_owned(),
            consent_id,
            dataset: Some(referral_api::MinimumDataset {
                categories: vec!["PREGNANT".to_owned()],
                urgency: "high".to_owned(),
                languages: vec!["fr".to_owned()],
                ..Default::default()
            }),
            send: true,
        }))
        .await
        .expect("referral")
        .into_inner();
    moments.push(record(system, &case_id, screened, sent.log_sequence).await);

    // Two hours later (within the 24 h of a high urgency, not within 1 h),
    // the receiver receives and accepts.
    system.advance(time::Duration::hours(2));
    let mut last = 0;
    for (request, action) in [
        ("replay-receive", Action::Receive(update::Receive {})),
        ("replay-accept", Action::Accept(update::Accept {})),
    ] {
        let (metadata, extensions, ()) = by_receiver(CAV).into_parts();
        last = referrals
            .update_referral(tonic::Request::from_parts(
                metadata,
                extensions,
                referral_api::UpdateReferralRequest {
                    request_id: request.to_owned(),
                    case_id: case_id.clone(),
                    referral_id: sent.referral_id.clone(),
                    action: Some(action),
                },
            ))
            .await
            .expect(request)
            .into_inner()
            .log_sequence;
    }
    moments.push(record(system, &case_id, screened, last).await);
    (case_id, moments)
}

/// Run with every log line captured (JSON, down to debug): none holds the
/// seeded personal data.
#[test]
fn a_case_replayed_as_of_each_moment_shows_exactly_its_commits_and_the_state_the_services_answered_then()
 {
    use tracing_subscriber::layer::SubscriberExt;
    let logs = crate::telemetry_privacy::Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "debug,h2=info,hyper=info,tower=info",
        ))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(logs.clone()),
        );
    crate::support::traced::with_subscriber(subscriber, replayed_as_of_each_moment());
    let captured = String::from_utf8_lossy(&logs.0.lock().expect("logs")).to_string();
    assert!(
        captured.contains("personal data erased"),
        "the scenario was logged"
    );
    for seeded in [GIVEN, FAMILY, BIRTH, HEALTH_NOTE, OTHER_NOTE] {
        assert!(!captured.contains(seeded), "{seeded} in the logs");
    }
}

async fn replayed_as_of_each_moment() {
    let system = System::start_at(
        NOW,
        &[Service::Screening, Service::Referral, Service::Monitoring],
    )
    .await;
    let (case_id, moments) = scenario(&system).await;
    for moment in &moments {
        let replayed = as_of(&system, &case_id, by_sequence(moment.sequence)).await;
        let sequences: Vec<u64> = replayed.commits.iter().map(|c| c.sequence).collect();
        assert_eq!(
            sequences,
            logged(&system, &case_id, moment.sequence).await,
            "the commits up to {}",
            moment.sequence
        );
        assert_eq!(replayed.last_included_sequence, moment.sequence);
        assert_state_matches(moment, &replayed);
        // The same point by time: the commit's recorded time.
        let at = replayed
            .commits
            .last()
            .and_then(|c| c.recorded_at)
            .expect("a time");
        let by_time = as_of(
            &system,
            &case_id,
            api::get_case_history_as_of_request::AsOf::AsOfTime(at),
        )
        .await;
        assert_eq!(
            by_time.commits, replayed.commits,
            "by time {}",
            moment.sequence
        );
        assert_no_personal_data(&replayed);
    }
    // Before erasure the sealed parts read as sealed; GBV is never named.
    let before = as_of(&system, &case_id, by_sequence(moments[3].sequence)).await;
    assert_eq!(withheld(&before, "identity"), ["sealed"]);
    assert_eq!(withheld(&before, "special_category"), ["sealed"]);
    assert_eq!(withheld(&before, "dataset"), ["sealed"]);
    assert_eq!(
        withheld(&before, "suspected[1].category"),
        ["special_category"]
    );
    assert_eq!(
        before
            .screening
            .as_ref()
            .map(|s| s.special_categories_withheld),
        Some(1)
    );
    assert!(!format!("{before:?}").contains("GBV"));
    let opened = &before.commits[0];
    assert_eq!(
        (
            opened.producer.as_str(),
            opened.author_organisation_id.as_str()
        ),
        ("screening", OPERATOR)
    );

    // Erasure: every sealed field of every entry now reads erased, the
    // replays of the past included.
    system
        .screening(&Caller::prefecture("prefettura-ag", "AG"))
        .await
        .erase_case(Caller::prefecture("prefettura-ag", "AG").request(
            screening_api::EraseCaseRequest {
                request_id: "replay-erase".to_owned(),
                case_id: case_id.clone(),
                reason: "retention_expired".to_owned(),
            },
        ))
        .await
        .expect("erase");
    let past = as_of(&system, &case_id, by_sequence(moments[0].sequence)).await;
    assert_eq!(withheld(&past, "identity"), ["erased"]);
    assert_eq!(withheld(&past, "special_category"), ["erased"]);
    let now = as_of(&system, &case_id, by_sequence(u64::MAX)).await;
    assert_eq!(withheld(&now, "dataset"), ["erased"]);
    assert!(
        now.screening
            .as_ref()
            .is_some_and(|s| s.personal_data_erased),
        "the folded state knows the erasure"
    );
    assert_no_personal_data(&now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_what_if_replay_writes_nothing_and_a_tighter_policy_gives_other_compliance() {
    let system = System::start_at(
        NOW,
        &[Service::Screening, Service::Referral, Service::Monitoring],
    )
    .await;
    let (_, _) = scenario(&system).await;
    let log = system.log().await;
    let before = log.last_sequence().await.expect("last");
    let request =
        |alternative: api::AlternativeDeadlinePolicy| api::ReplayDeadlineComplianceRequest {
            from: ts(NOW - time::Duration::days(10)),
            to: ts(NOW + time::Duration::days(10)),
            alternative: Some(alternative),
            province: String::new(),
        };
    let answer = replay(&system, &analyst(None))
        .await
        .replay_deadline_compliance(request(api::AlternativeDeadlinePolicy {
            acknowledge_high_hours: 1,
            ..Default::default()
        }))
        .await
        .expect("what-if")
        .into_inner();
    assert_eq!(
        log.last_sequence().await.expect("last"),
        before,
        "nothing written"
    );
    assert_eq!(answer.read_up_to_sequence, before);
    let figure = |figures: &[api::DeadlineCompliance], kind: &str| {
        figures
            .iter()
            .find(|f| f.deadline == kind)
            .map(|f| (f.within, f.total))
            .expect(kind)
    };
    assert_eq!(figure(&answer.in_force, "referral_acknowledgement"), (1, 1));
    assert_eq!(
        figure(&answer.alternative, "referral_acknowledgement"),
        (0, 1)
    );
    assert_eq!(figure(&answer.in_force, "screening"), (1, 1));
    assert_eq!(figure(&answer.alternative, "screening"), (1, 1));
    assert_no_personal_data(&answer);

    // The policy in force given as the alternative gives the in-force figures
    // (the referral service runs the default policy here).
    let same = replay(&system, &analyst(None))
        .await
        .replay_deadline_compliance(request(api::AlternativeDeadlinePolicy {
            screening_days: 7,
            assessment_days: 30,
            acknowledge_immediate_hours: 4,
            acknowledge_high_hours: 24,
            acknowledge_standard_hours: 72,
        }))
        .await
        .expect("what-if in force")
        .into_inner();
    assert_eq!(same.alternative, same.in_force);
    assert_eq!(same.in_force, answer.in_force);

    // A prefecture's analyst of another province counts none of AG's cases.
    let elsewhere = replay(&system, &analyst(Some("RM")))
        .await
        .replay_deadline_compliance(request(api::AlternativeDeadlinePolicy::default()))
        .await
        .expect("what-if of RM")
        .into_inner();
    assert!(elsewhere.in_force.iter().all(|f| f.total == 0));
    assert_eq!(log.last_sequence().await.expect("last"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_for_analysts_of_the_cases_province_and_refuses_bad_input_naming_every_field() {
    let system = System::start_at(
        NOW,
        &[Service::Screening, Service::Referral, Service::Monitoring],
    )
    .await;
    let (case_id, moments) = scenario(&system).await;
    let ask = |case_id: &str| api::GetCaseHistoryAsOfRequest {
        case_id: case_id.to_owned(),
        as_of: Some(by_sequence(moments[0].sequence)),
    };
    let before = system.log().await.last_sequence().await.expect("last");
    let bad = replay(&system, &analyst(None))
        .await
        .get_case_history_as_of(api::GetCaseHistoryAsOfRequest {
            case_id: "Not A Token".to_owned(),
            as_of: None,
        })
        .await
        .expect_err("bad replay");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad), ["as_of", "case_id"]);
    let bad = replay(&system, &analyst(Some("AG")))
        .await
        .replay_deadline_compliance(api::ReplayDeadlineComplianceRequest {
            from: ts(NOW),
            to: ts(NOW - time::Duration::days(1)),
            alternative: Some(api::AlternativeDeadlinePolicy {
                screening_days: 1000,
                acknowledge_standard_hours: 100_000,
                ..Default::default()
            }),
            province: "RM".to_owned(),
        })
        .await
        .expect_err("bad what-if");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&bad),
        [
            "alternative.acknowledge_standard_hours",
            "alternative.screening_days",
            "province",
            "to"
        ]
    );
    assert_eq!(
        system.log().await.last_sequence().await.expect("last"),
        before,
        "bad input appends nothing"
    );

    // A prefecture's analyst of the case's province, and an administrator.
    for caller in [analyst(Some("AG")), Caller::administrator()] {
        replay(&system, &caller)
            .await
            .get_case_history_as_of(ask(&case_id))
            .await
            .expect("allowed");
    }
    // Another province's analyst; an operator of the case's own facility.
    let refused = replay(&system, &analyst(Some("RM")))
        .await
        .get_case_history_as_of(ask(&case_id))
        .await
        .expect_err("another province");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = replay(&system, &Caller::operator(OPERATOR, "AG"))
        .await
        .get_case_history_as_of(ask(&case_id))
        .await
        .expect_err("not an analyst");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // An unknown case.
    let unknown = replay(&system, &analyst(None))
        .await
        .get_case_history_as_of(ask("no-such-case"))
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
}

/// The fields a bad request's status names, sorted.
fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let mut fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    fields.sort();
    fields
}
