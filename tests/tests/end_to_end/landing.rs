//! The synthetic landing (`crates/synthetic-landing`) driven through the four
//! services with the injected clock: every step of the plan reaches the log
//! (read back here message by message, not from any projection), and the
//! same landing run again appends nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use case_log_jetstream::RecordedCommit;
use futures::future::BoxFuture;
use prost::Name;
use service_runtime::caller::OrganisationType;
use synthetic_landing::{Action, Actor, Credentials, Endpoints, Landing, Pace, registry};
use time::{Duration, OffsetDateTime};

use crate::support::auth;
use crate::support::system::{Service, System};

const NOW: OffsetDateTime = time::macros::datetime!(2026-04-01 06:00 UTC);

pub(crate) struct TestCredentials;

impl Credentials for TestCredentials {
    fn token(&self, actor: Actor<'_>) -> String {
        match actor {
            Actor::Administrator => auth::token(OrganisationType::Administrator, "ministero", None),
            Actor::Operator { facility, province } => auth::token(
                OrganisationType::ReceptionOperator,
                facility,
                Some(province),
            ),
            Actor::Receiver { organisation } => {
                auth::token(OrganisationType::ReceivingService, organisation, None)
            }
        }
    }
}

/// Moves the system's clock to each step's time; at each new day, waits for
/// the watchers of referral and safe-space to have checked what fell due.
struct ManualPace<'a> {
    system: &'a System,
    origin: OffsetDateTime,
    last_wait: Mutex<OffsetDateTime>,
}

impl Pace for ManualPace<'_> {
    fn origin(&self) -> OffsetDateTime {
        self.origin
    }

    fn reach(&self, at: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let target = self.origin + at;
            let now = self.system.now();
            if target > now {
                self.system.advance(target - now);
            }
            let crossed_a_day = {
                let last = *self.last_wait.lock().expect("lock");
                target - last >= Duration::days(1)
            };
            if crossed_a_day {
                let now = self.system.now();
                self.system.deadlines_checked(Service::Referral, now).await;
                self.system.deadlines_checked(Service::SafeSpace, now).await;
                *self.last_wait.lock().expect("lock") = now;
            }
        })
    }
}

async fn start() -> System {
    let courts = registry::JUVENILE_COURTS
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    System::builder()
        .clock_at(NOW)
        .services(&Service::EVERY)
        .options(
            Service::Screening,
            &format!(
                "age_assessment_authorities = [{courts}]\nguardianship_authorities = [{courts}]\n"
            ),
        )
        .start()
        .await
}

async fn endpoints(system: &System) -> Endpoints {
    Endpoints {
        screening: system.channel(Service::Screening).await,
        referral: system.channel(Service::Referral).await,
        safe_space: system.channel(Service::SafeSpace).await,
    }
}

/// Every commit of the log, read one by one by sequence.
pub(crate) async fn whole_log(system: &System) -> Vec<RecordedCommit> {
    let log = system.log().await;
    let last = log.last_sequence().await.expect("last sequence");
    let mut commits = Vec::new();
    for sequence in 1..=last {
        commits.push(log.commit_at(sequence).await.expect("a commit"));
    }
    commits
}

pub(crate) fn count<M: Name>(log: &[RecordedCommit]) -> usize {
    log.iter()
        .flat_map(|c| c.commit.events.iter())
        .filter(|e| e.event_type == M::full_name())
        .count()
}

/// Every event of type `M` in the log, decoded.
fn events<M: Name + prost::Message + Default>(log: &[RecordedCommit]) -> Vec<M> {
    log.iter()
        .flat_map(|c| c.commit.events.iter())
        .filter(|e| e.event_type == M::full_name())
        .map(|e| M::decode(e.payload.as_slice()).expect("decodes"))
        .collect()
}

/// Monitoring's indicator tables, national, once it has applied `sequence`.
async fn indicators(
    system: &System,
    sequence: u64,
) -> Vec<contracts::monitoring::v1::IndicatorTable> {
    use contracts::monitoring::v1 as monitoring;
    let caller = crate::support::Caller::administrator();
    let mut client =
        monitoring::monitoring_service_client::MonitoringServiceClient::with_interceptor(
            system.channel(Service::Monitoring).await,
            caller.bearer(),
        );
    client
        .get_indicators(caller.request(monitoring::GetIndicatorsRequest {
            min_sequence: sequence,
            ..Default::default()
        }))
        .await
        .expect("indicators")
        .into_inner()
        .tables
}

fn planned(landing: &Landing, f: fn(&Action) -> bool) -> usize {
    landing.steps.iter().filter(|s| f(&s.action)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_landing_goes_through_the_four_services_and_a_second_run_appends_nothing() {
    use contracts::referral::v1 as referral;
    use contracts::safe_space::v1 as safe_space;
    use contracts::screening::v1 as screening;

    let system = start().await;
    let landing = Landing::plan(11, 60);
    let pace = ManualPace {
        system: &system,
        origin: system.now(),
        last_wait: Mutex::new(system.now()),
    };
    let endpoints = endpoints(&system).await;
    let report = synthetic_landing::run(&landing, &endpoints, &TestCredentials, &pace)
        .await
        .expect("the landing runs");

    let log = whole_log(&system).await;
    assert_eq!(count::<screening::CaseOpened>(&log), 60);
    assert_eq!(report.cases.len(), 60);
    assert_eq!(
        count::<screening::PreliminaryCheckRecorded>(&log),
        planned(&landing, |a| matches!(a, Action::PreliminaryCheck { .. }))
    );
    let answered = |what: &str| report.done.get(what).copied().unwrap_or(0) as usize;
    assert_eq!(
        count::<screening::CasePlaced>(&log),
        planned(&landing, |a| matches!(a, Action::Transfer { .. })) + answered("arrival"),
        "every transfer placed, and every arrival in a shelter placed by screening"
    );
    let sent = planned(&landing, |a| matches!(a, Action::Refer { .. }));
    assert!(sent > 5, "{sent} referrals planned");
    assert_eq!(count::<referral::ReferralSent>(&log), sent);
    assert_eq!(
        count::<referral::ConsentWithdrawn>(&log),
        planned(&landing, |a| matches!(a, Action::WithdrawConsent { .. }))
    );
    let answered = |what: &str| report.done.get(what).copied().unwrap_or(0) as usize;
    assert_eq!(
        count::<referral::ReferralAccepted>(&log),
        answered("accept")
    );
    assert_eq!(
        count::<referral::ReferralDeclined>(&log),
        answered("decline") + answered("redirect")
    );
    assert!(
        answered("accept") > 0 && answered("take_charge") > 0,
        "{:?}",
        report.done
    );
    let requested = planned(&landing, |a| matches!(a, Action::RequestPlace { .. }));
    assert_eq!(
        count::<safe_space::PlaceRequested>(&log),
        requested - answered("place_refused")
    );
    assert_eq!(
        count::<safe_space::ArrivalConfirmed>(&log),
        answered("arrival")
    );

    // The same landing again: every request id is in the log already.
    let now = system.now();
    system.deadlines_checked(Service::Referral, now).await;
    system.deadlines_checked(Service::SafeSpace, now).await;
    system.deadlines_checked(Service::Screening, now).await;
    let before = system.log().await.last_sequence().await.expect("last");

    // Monitoring's indicators equal what the log says, counted here from the
    // stream itself (the log as it stands after the watchers' passes).
    let log = whole_log(&system).await;
    let indicators = indicators(&system, before).await;
    let table = |id: &str| {
        indicators
            .iter()
            .find(|t| t.indicator == id)
            .unwrap_or_else(|| panic!("table {id}"))
    };
    let cell = |id: &str, column: &str| {
        let t = table(id);
        let total = t.total.as_ref().expect("a total row");
        let at = t.columns.iter().position(|c| c == column).expect(column);
        let c = &total.cells[at];
        (!c.suppressed).then_some(c.count as usize)
    };
    let total = |id: &str| {
        let c = table(id)
            .total
            .as_ref()
            .and_then(|t| t.total)
            .expect("total");
        (!c.suppressed).then_some(c.count as usize)
    };
    let opened = count::<screening::CaseOpened>(&log);
    let checked = count::<screening::PreliminaryCheckRecorded>(&log);
    assert_eq!(total("1.preliminary_check"), Some(opened));
    if let Some(not_checked) = cell("1.preliminary_check", "not_checked") {
        assert_eq!(not_checked, opened - checked);
    }
    let declined: Vec<referral::ReferralDeclined> = events(&log);
    let redirected = declined
        .iter()
        .filter(|d| !d.redirect_to_organisation_id.is_empty())
        .count();
    let accepted = count::<referral::ReferralAccepted>(&log);
    let expired = count::<referral::ReferralExpired>(&log);
    assert_eq!(cell("4.referral_answers", "accepted"), Some(accepted));
    assert_eq!(
        total("4.referral_answers"),
        Some(accepted + declined.len() + expired),
        "every referral answered, redirected or expired counted once"
    );
    if let Some(n) = cell("4.referral_answers", "redirected") {
        assert_eq!(n, redirected);
    }

    let again = synthetic_landing::run(&landing, &endpoints, &TestCredentials, &pace)
        .await
        .expect("the landing runs again");
    assert_eq!(
        again.cases, report.cases,
        "the same cases, answered from the log"
    );
    let after = system.log().await.last_sequence().await.expect("last");
    assert_eq!(after, before, "nothing appended by the second run");
    let by_kind: BTreeMap<_, _> = report.done.iter().collect();
    println!("landing of 60 (seed 11): {by_kind:?}");
    system.stop().await;
}
