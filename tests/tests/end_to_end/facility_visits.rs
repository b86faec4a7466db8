//! Uniform monitoring visits and staff training records
//! (`approdo.monitoring.v1.FacilityMonitoringService`) end to end: screening
//! (the facility registry) and monitoring in process against a real
//! nats-server. One checklist for every facility; the staff-training section
//! counts the facility's recorded sessions; the facility's province comes from
//! the registry, never the request; refusals append nothing; comparisons
//! follow the projection and the caller's province.

use contracts::monitoring::v1 as api;
use contracts::monitoring::v1::facility_monitoring_service_client::FacilityMonitoringServiceClient;
use contracts::screening::v1 as screening_api;
use service_runtime::caller::OrganisationType;
use time::OffsetDateTime;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::{Caller, Service, System, eventually};

type Visits =
    FacilityMonitoringServiceClient<InterceptedService<Channel, crate::support::auth::Bearer>>;

const NOW: OffsetDateTime = time::macros::datetime!(2026-06-15 09:00 UTC);

async fn visits(system: &System, caller: &Caller) -> Visits {
    FacilityMonitoringServiceClient::with_interceptor(
        system.channel(Service::Monitoring).await,
        caller.bearer(),
    )
}

fn prefecture(province: &str) -> Caller {
    Caller::prefecture(&format!("prefettura-{}", province.to_lowercase()), province)
}

fn analyst(province: Option<&str>) -> Caller {
    Caller::new(OrganisationType::Analyst, "istat-analisi", province)
}

async fn start() -> System {
    let system = System::builder()
        .clock_at(NOW)
        .services(&[Service::Screening, Service::Monitoring])
        .start()
        .await;
    let mut registry = system.screening(&Caller::administrator()).await;
    for (id, province, kind) in [
        ("cas-roma-1", "RM", "cas"),
        ("cpr-roma", "RM", "detention"),
        ("cas-agrigento-1", "AG", "cas"),
    ] {
        registry
            .register_facility(Caller::administrator().request(
                screening_api::RegisterFacilityRequest {
                    request_id: format!("facility-{id}"),
                    facility_id: id.to_owned(),
                    province: province.to_owned(),
                    facility_kind: kind.to_owned(),
                },
            ))
            .await
            .expect("registered");
    }
    system
}

/// Every observed indicator of the checklist scored `score`, but those in `except`.
async fn scores(
    client: &mut Visits,
    score: &str,
    except: &[(&str, &str)],
) -> Vec<api::IndicatorScore> {
    let checklist = client
        .get_checklist(api::GetChecklistRequest {})
        .await
        .expect("checklist")
        .into_inner();
    checklist
        .indicators
        .iter()
        .filter(|i| i.scoring == "observed")
        .map(|i| api::IndicatorScore {
            indicator: i.indicator.clone(),
            score: except
                .iter()
                .find(|(code, _)| *code == i.indicator)
                .map_or(score, |(_, s)| *s)
                .to_owned(),
        })
        .collect()
}

fn visit(
    request_id: &str,
    facility: &str,
    day: &str,
    scores: Vec<api::IndicatorScore>,
) -> api::RecordVisitRequest {
    api::RecordVisitRequest {
        request_id: request_id.to_owned(),
        facility_id: facility.to_owned(),
        visit_id: request_id.to_owned(),
        visited_on: day.to_owned(),
        scores,
    }
}

fn session(
    request_id: &str,
    facility: &str,
    topic: &str,
    day: &str,
) -> api::RecordTrainingSessionRequest {
    api::RecordTrainingSessionRequest {
        request_id: request_id.to_owned(),
        of: Some(api::record_training_session_request::Of::FacilityId(
            facility.to_owned(),
        )),
        session_id: request_id.to_owned(),
        topic: topic.to_owned(),
        held_on: day.to_owned(),
        participants: 14,
        hours: 6,
    }
}

fn section(score: &api::VisitScore, name: &str) -> Option<f64> {
    score
        .sections
        .iter()
        .find(|s| s.section == name)
        .and_then(|s| s.ratio.as_ref())
        .and_then(|r| r.percent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_is_scored_on_the_one_checklist_with_the_facilitys_training_and_shows_in_its_scorecard()
 {
    let system = start().await;
    let operator = Caller::operator("cas-roma-1", "RM");
    let mut by_operator = visits(&system, &operator).await;
    for (n, topic) in ["gbv", "minors", "trafficking"].iter().enumerate() {
        by_operator
            .record_training_session(operator.request(session(
                &format!("training-{n}"),
                "cas-roma-1",
                topic,
                "2026-03-02",
            )))
            .await
            .expect("its own session");
    }
    // Another facility's operator records nothing for this one.
    let other = Caller::operator("cas-roma-2", "RM");
    let refused = visits(&system, &other)
        .await
        .record_training_session(other.request(session(
            "intruder",
            "cas-roma-1",
            "gbv",
            "2026-03-02",
        )))
        .await
        .expect_err("not its facility");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let rm = prefecture("RM");
    let mut by_prefecture = visits(&system, &rm).await;
    let first = scores(
        &mut by_prefecture,
        "met",
        &[
            ("health.mental_health", "not_met"),
            ("allowance.paid_on_time", "not_applicable"),
        ],
    )
    .await;
    let recorded = by_prefecture
        .record_visit(rm.request(visit("visit-1", "cas-roma-1", "2026-04-10", first.clone())))
        .await
        .expect("recorded")
        .into_inner();
    let score = recorded.score.expect("its score");
    assert_eq!(score.province, "RM", "the registry's province");
    assert_eq!(score.facility_kind, "cas");
    // Health care: 2 + 2 + 0 of 6; staff training: induction met (2) and three
    // topics of five partially met (1), of 4.
    let health = section(&score, "health_care").expect("health");
    assert!((health - 400.0 / 6.0).abs() < 1e-9, "{health}");
    assert_eq!(section(&score, "staff_training"), Some(75.0));
    // The same request again: the same commit, nothing appended.
    let again = by_prefecture
        .record_visit(rm.request(visit("visit-1", "cas-roma-1", "2026-04-10", first)))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(again.log_sequence, recorded.log_sequence);

    let second = scores(&mut by_prefecture, "met", &[]).await;
    by_prefecture
        .record_visit(rm.request(visit("visit-2", "cas-roma-1", "2026-06-01", second)))
        .await
        .expect("recorded");
    let card = by_prefecture
        .get_facility_scorecard(rm.request(api::GetFacilityScorecardRequest {
            facility_id: "cas-roma-1".to_owned(),
            as_of: String::new(),
        }))
        .await
        .expect("scorecard")
        .into_inner();
    let trend: Vec<&str> = card.trend.iter().map(|v| v.visit_id.as_str()).collect();
    assert_eq!(trend, ["visit-1", "visit-2"]);
    assert_eq!(
        card.latest.as_ref().map(|v| v.visit_id.as_str()),
        Some("visit-2")
    );
    let health_change = card
        .change
        .iter()
        .find(|c| c.section == "health_care")
        .expect("health change")
        .percentage_points;
    assert!((health_change - (100.0 - 400.0 / 6.0)).abs() < 1e-9);
    let gbv = card
        .training
        .iter()
        .find(|t| t.topic == "gbv")
        .expect("gbv");
    assert_eq!((gbv.sessions, gbv.participants, gbv.hours), (1, 14, 6));

    // Another facility's operator does not read this scorecard.
    let denied = visits(&system, &other)
        .await
        .get_facility_scorecard(other.request(api::GetFacilityScorecardRequest {
            facility_id: "cas-roma-1".to_owned(),
            as_of: String::new(),
        }))
        .await
        .expect_err("not its facility");
    assert_eq!(denied.code(), Code::PermissionDenied);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_visits_name_every_field_or_the_jurisdiction_and_append_nothing() {
    let system = start().await;
    let log = system.log().await;
    let ag = prefecture("AG");
    let mut by_ag = visits(&system, &ag).await;
    let complete = scores(&mut by_ag, "partially_met", &[]).await;
    let before = log.last_sequence().await.expect("last");

    // A prefecture of another province.
    let outside = by_ag
        .record_visit(ag.request(visit(
            "visit-x",
            "cas-roma-1",
            "2026-04-10",
            complete.clone(),
        )))
        .await
        .expect_err("outside its province");
    assert_eq!(outside.code(), Code::PermissionDenied);
    // Bad input: every field named.
    let mut partial = complete.clone();
    partial.retain(|s| s.indicator != "food.meals");
    partial.push(api::IndicatorScore {
        indicator: "staff_training.topics_covered".to_owned(),
        score: "met".to_owned(),
    });
    let invalid = by_ag
        .record_visit(ag.request(visit("bad visit", "cas-agrigento-1", "2026-06-16", partial)))
        .await
        .expect_err("invalid");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    for field in [
        "request_id",
        "visited_on",
        "scores.staff_training.topics_covered",
        "scores.food.meals",
    ] {
        assert!(
            invalid.message().contains(field),
            "{field}: {}",
            invalid.message()
        );
    }
    // A facility the registry does not know.
    let unknown = by_ag
        .record_visit(ag.request(visit("visit-y", "cas-nowhere", "2026-04-10", complete)))
        .await
        .expect_err("unregistered");
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(unknown.message().contains("facility_id"));
    // A reception operator does not visit.
    let operator = Caller::operator("cas-agrigento-1", "AG");
    let not_a_body = visits(&system, &operator)
        .await
        .record_visit(operator.request(visit(
            "visit-z",
            "cas-agrigento-1",
            "2026-04-10",
            Vec::new(),
        )))
        .await
        .expect_err("not a visiting body");
    assert_eq!(not_a_body.code(), Code::PermissionDenied);

    // Nothing appended but the runtime's records of the refused accesses.
    let after = log.last_sequence().await.expect("last");
    for sequence in before + 1..=after {
        let commit = log.commit_at(sequence).await.expect("commit");
        for event in &commit.commit.events {
            assert_eq!(
                event.event_type,
                <contracts::access::v1::AccessRefused as prost::Name>::full_name(),
                "nothing appended but access records"
            );
        }
    }
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provinces_and_facilities_compare_on_their_latest_visits_within_the_callers_province() {
    let system = start().await;
    let administrator = Caller::administrator();
    let mut national = visits(&system, &administrator).await;
    let met = scores(&mut national, "met", &[]).await;
    let not_met = scores(&mut national, "not_met", &[]).await;
    for (request, facility, day, scores) in [
        ("v-rm-old", "cas-roma-1", "2026-01-10", not_met.clone()),
        ("v-rm-new", "cas-roma-1", "2026-05-10", met.clone()),
        ("v-cpr", "cpr-roma", "2026-05-12", not_met.clone()),
        ("v-ag", "cas-agrigento-1", "2026-05-20", met.clone()),
    ] {
        national
            .record_visit(administrator.request(visit(request, facility, day, scores)))
            .await
            .expect("recorded");
    }
    let compare = |group_by: &str, province: &str| api::CompareFacilitiesRequest {
        group_by: group_by.to_owned(),
        from: "2026-01-01".to_owned(),
        to: "2026-06-15".to_owned(),
        province: province.to_owned(),
    };
    // The comparison reads the projection: wait until it holds the four visits.
    let mut groups = Vec::new();
    eventually("the projection holds the visits", || {
        let mut national = national.clone();
        let administrator = administrator.clone();
        let request = compare("facility", "");
        async move {
            let answer = national
                .compare_facilities(administrator.request(request))
                .await
                .expect("compared")
                .into_inner();
            answer.groups.len() == 3
        }
    })
    .await;
    let by_province = national
        .compare_facilities(administrator.request(compare("province", "")))
        .await
        .expect("compared")
        .into_inner();
    for group in &by_province.groups {
        groups.push((group.group.clone(), group.facilities, group.overall_percent));
    }
    // RM: cas-roma-1's latest visit (96) and the CPR's (0), each weighing the same.
    assert_eq!(
        groups,
        [
            ("AG".to_owned(), 1, Some(96.0)),
            ("RM".to_owned(), 2, Some(48.0)),
        ],
        "without training sessions the coverage is not met: 48 of 50 points at best"
    );
    // A prefecture compares its own province only.
    let rm = prefecture("RM");
    let own = visits(&system, &rm)
        .await
        .compare_facilities(rm.request(compare("province", "")))
        .await
        .expect("its own")
        .into_inner();
    let own: Vec<&str> = own.groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(own, ["RM"]);
    let elsewhere = visits(&system, &rm)
        .await
        .compare_facilities(rm.request(compare("province", "AG")))
        .await
        .expect_err("another province");
    assert_eq!(elsewhere.code(), Code::PermissionDenied);
    // A province analyst likewise; a national analyst sees both.
    let analyst_ag = analyst(Some("AG"));
    let ag_only = visits(&system, &analyst_ag)
        .await
        .compare_facilities(analyst_ag.request(compare("facility", "AG")))
        .await
        .expect("its province")
        .into_inner();
    let ag_only: Vec<&str> = ag_only.groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(ag_only, ["cas-agrigento-1"]);
    let national_analyst = analyst(None);
    let all = visits(&system, &national_analyst)
        .await
        .compare_facilities(national_analyst.request(compare("province", "")))
        .await
        .expect("national")
        .into_inner();
    assert_eq!(all.groups.len(), 2);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_sessions_are_an_indicator_by_topic_and_province_with_small_counts_suppressed() {
    use contracts::monitoring::v1::monitoring_service_client::MonitoringServiceClient;

    let system = start().await;
    let operator = Caller::operator("cas-roma-1", "RM");
    let mut by_operator = visits(&system, &operator).await;
    let mut last = 0;
    for n in 0..6 {
        last = by_operator
            .record_training_session(operator.request(session(
                &format!("gbv-{n}"),
                "cas-roma-1",
                "gbv",
                "2026-05-04",
            )))
            .await
            .expect("recorded")
            .into_inner()
            .log_sequence;
    }
    last = last.max(
        by_operator
            .record_training_session(operator.request(session(
                "minors-0",
                "cas-roma-1",
                "minors",
                "2026-05-05",
            )))
            .await
            .expect("recorded")
            .into_inner()
            .log_sequence,
    );
    let administrator = Caller::administrator();
    let mut indicators = MonitoringServiceClient::with_interceptor(
        system.channel(Service::Monitoring).await,
        administrator.bearer(),
    );
    let answer = indicators
        .get_indicators(administrator.request(api::GetIndicatorsRequest {
            group_by: vec!["province".to_owned()],
            indicators: vec!["11.staff_training_sessions".to_owned()],
            min_sequence: last,
            ..Default::default()
        }))
        .await
        .expect("indicators")
        .into_inner();
    let [table] = answer.tables.as_slice() else {
        panic!("one table: {:?}", answer.tables);
    };
    assert_eq!(table.dimensions, ["province"]);
    let column = |name: &str| table.columns.iter().position(|c| c == name).expect(name);
    let rm = table
        .rows
        .iter()
        .find(|r| r.group == ["RM"])
        .expect("RM's row");
    let gbv = &rm.cells[column("gbv")];
    assert_eq!(
        (gbv.suppressed, gbv.count),
        (false, 6),
        "six sessions published"
    );
    let minors = &rm.cells[column("minors")];
    assert!(
        minors.suppressed && minors.count == 0,
        "one session: suppressed"
    );
    system.stop().await;
}
