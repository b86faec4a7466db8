//! The safe-space pathway across services (issue 12), in process over gRPC
//! against a real nats-server with the injected clock: the case's own
//! safe-space record (`approdo.case.<case>.safe-space`) shows its request,
//! reservation, arrival and release; an arrival becomes screening's
//! placement (the shelter's opaque id, or the managing reception facility),
//! so jurisdiction follows the person and the old facility's operator is
//! refused; a transfer elsewhere releases the place, which goes to the first
//! person waiting; and the watcher repairs what a crash between two appends
//! left undone (a registration not forwarded to its allocator, an allocator
//! commit not mirrored on the case's record), exactly once.

use std::sync::Arc;

use case_log_jetstream::{
    AggregateAddress, CaseLog, HistoryBound, HistoryScope, Producer, RecordedCommit, RootKind,
    TokenId,
};
use contracts::safe_space::v1 as api;
use contracts::screening::v1 as screening_api;
use safe_space::aggregate::{Allocator, AllocatorContext, SafeSpace, SpaceContext};
use safe_space_allocation::{Actor, CaseId, Context, OrganisationId, Province, SpaceKind};
use service_runtime::{Authority, Kernel, ManualClock, Target};
use tonic::Code;

use crate::safe_space::{
    ALLOCATOR, NOW, SHELTER, allocator_history, client, events, open_cases, operator,
    place_request, profile, register,
};
use crate::support::{Caller, Service, System, eventually, ts};

fn prefecture() -> Caller {
    Caller::prefecture("prefettura-ag", "AG")
}

fn here() -> Option<api::AllocatorRef> {
    Some(api::AllocatorRef {
        province: "AG".to_owned(),
        kind: "trafficking_shelter".to_owned(),
    })
}

/// The case's own safe-space record, read from the log.
async fn record(log: &CaseLog, case_id: &str) -> Vec<RecordedCommit> {
    log.history(
        &HistoryScope::Aggregate(AggregateAddress::new(
            RootKind::Case,
            TokenId::parse(case_id).expect("id"),
            Producer::SafeSpace,
        )),
        HistoryBound::All,
    )
    .await
    .expect("history")
}

/// The short names of a history's event types, in log order.
fn types(history: &[RecordedCommit]) -> Vec<String> {
    history
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .map(|e| {
            e.event_type
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The short names of the event types of the case's safe-space record.
pub(crate) async fn record_types(log: &CaseLog, case_id: &str) -> Vec<String> {
    types(&record(log, case_id).await)
}

/// Screening's record of the case, read from the log.
async fn screening_history(log: &CaseLog, case_id: &str) -> Vec<RecordedCommit> {
    log.history(
        &HistoryScope::Aggregate(AggregateAddress::new(
            RootKind::Case,
            TokenId::parse(case_id).expect("id"),
            Producer::Screening,
        )),
        HistoryBound::All,
    )
    .await
    .expect("history")
}

async fn get_case(
    system: &System,
    caller: &Caller,
    case_id: &str,
) -> Result<screening_api::CaseView, tonic::Status> {
    system
        .screening(caller)
        .await
        .get_case(screening_api::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: 0,
        })
        .await
        .map(|r| r.into_inner().case.unwrap_or_default())
}

/// A full pass of the safe-space watcher that started after now.
async fn one_more_pass(system: &System) {
    system.advance(time::Duration::seconds(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrival_moves_the_case_to_the_shelter_and_a_transfer_elsewhere_frees_the_place_for_the_next_person()
 {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let space = register(&system, "pathway-bed", profile(1, false)).await;
    let cases = open_cases(&system, "pathway", 2).await;
    let (first, second) = (&cases[0], &cases[1]);
    let mut requester = client(system.channel(Service::SafeSpace).await, &operator());
    let reserved = requester
        .request_place(place_request("pathway-first", first, api::Needs::default()))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(reserved.standing, "reserved");
    system.advance(time::Duration::minutes(1));
    let waits = requester
        .request_place(place_request(
            "pathway-second",
            second,
            api::Needs::default(),
        ))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(waits.standing, "waiting");
    // The old facility's operator sees the case before the move.
    assert_eq!(
        get_case(&system, &operator(), first)
            .await
            .expect("in the operator's facility")
            .facility_id,
        crate::safe_space::OPERATOR
    );

    let mut manager = client(
        system.channel(Service::SafeSpace).await,
        &Caller::receiver(SHELTER, Some("AG")),
    );
    manager
        .confirm_arrival(api::ConfirmArrivalRequest {
            request_id: "pathway-arrival".to_owned(),
            case_id: first.clone(),
            allocator: here(),
        })
        .await
        .expect("arrival confirmed");
    let log = system.log().await;
    // The case's record shows its request, its reservation and its arrival,
    // each naming the allocator commit it mirrors.
    let shown = types(&record(&log, first).await);
    assert_eq!(
        shown,
        [
            "CasePlaceRequested",
            "CasePlaceReserved",
            "CaseArrivalConfirmed"
        ],
        "the case's record follows the allocator right after each command"
    );
    let arrival: Vec<api::CaseArrivalConfirmed> = events(&record(&log, first).await);
    let mirrors = arrival[0].mirrors.clone().expect("mirrors");
    assert_eq!(mirrors.allocator_id, ALLOCATOR);
    let allocator = allocator_history(&log).await;
    assert!(
        allocator
            .iter()
            .any(|c| c.sequence == mirrors.sequence && c.request_id() == "pathway-arrival"),
        "the mirror names the allocator commit of the arrival"
    );

    // Screening records the arrival as its own placement, in the shelter's opaque id.
    eventually("screening places the case in the shelter", || async {
        get_case(&system, &prefecture(), first)
            .await
            .is_ok_and(|view| view.facility_id == space)
    })
    .await;
    let view = get_case(&system, &prefecture(), first).await.expect("case");
    assert_eq!(
        (view.province.as_str(), view.facility_kind.as_str()),
        ("AG", "shelter")
    );
    let placements: Vec<screening_api::CasePlaced> = events(&screening_history(&log, first).await);
    assert_eq!(placements.len(), 1);
    let placed_by = screening_history(&log, first)
        .await
        .into_iter()
        .find(|c| {
            c.commit
                .events
                .iter()
                .any(|e| e.event_type.ends_with("CasePlaced"))
        })
        .expect("placement commit");
    assert!(
        placed_by
            .request_id()
            .starts_with(&format!("safe-space-arrival.{first}.{space}.")),
        "the placement is named after the arrival it follows"
    );
    // Jurisdiction followed the person: the old facility's operator is refused.
    let refused = get_case(&system, &operator(), first)
        .await
        .expect_err("the old facility no longer reaches the case");
    assert_eq!(refused.code(), Code::PermissionDenied);

    // A transfer elsewhere (the prefecture places the person in a CAS):
    // the place is released by itself and goes to the person waiting.
    system
        .screening(&prefecture())
        .await
        .place_case(screening_api::PlaceCaseRequest {
            request_id: "pathway-transfer".to_owned(),
            case_id: first.clone(),
            facility_id: "cas-agrigento".to_owned(),
            placed_at: ts(system.now()),
            ..Default::default()
        })
        .await
        .expect("placed elsewhere");
    eventually("the watcher releases the place on the transfer", || async {
        !events::<api::PlaceReleased>(&allocator_history(&log).await).is_empty()
    })
    .await;
    let allocator = allocator_history(&log).await;
    let released: Vec<api::PlaceReleased> = events(&allocator);
    assert_eq!(
        released
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        [(first.as_str(), "transfer")]
    );
    assert!(
        allocator.iter().any(|c| c
            .request_id()
            .starts_with(&format!("release.transfer.{first}."))),
        "the release is named after the case and its request"
    );
    let reservations: Vec<api::PlaceReserved> = events(&allocator);
    assert_eq!(
        reservations
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            (first.as_str(), "place_free"),
            (second.as_str(), "place_released")
        ],
        "the freed place goes to the first person waiting"
    );
    // Both records follow (the watcher mirrors what it appended itself).
    eventually(
        "the records show the release and the new reservation",
        || async {
            types(&record(&log, first).await).last().map(String::as_str)
                == Some("CasePlaceReleased")
                && types(&record(&log, second).await) == ["CasePlaceRequested", "CasePlaceReserved"]
        },
    )
    .await;
    let released: Vec<api::CasePlaceReleased> = events(&record(&log, first).await);
    assert_eq!(released[0].reason, "transfer");
    // The case's history (screening's GetCaseHistory, every service) shows them.
    let shown: Vec<String> = system
        .screening(&prefecture())
        .await
        .get_case_history(screening_api::GetCaseHistoryRequest {
            case_id: first.clone(),
            min_log_sequence: 0,
        })
        .await
        .expect("the case's history")
        .into_inner()
        .entries
        .into_iter()
        .filter(|entry| entry.producer == "safe-space")
        .flat_map(|entry| entry.event_types)
        .collect();
    assert_eq!(
        shown,
        [
            "approdo.safe_space.v1.CasePlaceRequested",
            "approdo.safe_space.v1.CasePlaceReserved",
            "approdo.safe_space.v1.CaseArrivalConfirmed",
            "approdo.safe_space.v1.CasePlaceReleased"
        ]
    );
    // Nothing more happens: the arrival is not placed again, nothing released twice.
    one_more_pass(&system).await;
    one_more_pass(&system).await;
    let placements: Vec<screening_api::CasePlaced> = events(&screening_history(&log, first).await);
    assert_eq!(
        placements
            .iter()
            .map(|p| p.facility_id.as_str())
            .collect::<Vec<_>>(),
        [space.as_str(), "cas-agrigento"]
    );
    assert_eq!(
        events::<api::PlaceReleased>(&allocator_history(&log).await).len(),
        1
    );
    assert_eq!(types(&record(&log, first).await).len(), 4);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrival_in_a_space_run_by_a_registered_reception_facility_places_the_case_there() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let centre = Caller::operator("cas-agrigento", "AG");
    let space = client(system.channel(Service::SafeSpace).await, &centre)
        .register_safe_space(api::RegisterSafeSpaceRequest {
            request_id: "centre-area".to_owned(),
            profile: Some(api::SpaceProfile {
                organisation_id: "cas-agrigento".to_owned(),
                ..profile(2, false)
            }),
            ..Default::default()
        })
        .await
        .expect("registered")
        .into_inner()
        .space_id;
    let cases = open_cases(&system, "centre", 1).await;
    client(system.channel(Service::SafeSpace).await, &operator())
        .request_place(place_request(
            "centre-request",
            &cases[0],
            api::Needs::default(),
        ))
        .await
        .expect("requested");
    client(system.channel(Service::SafeSpace).await, &centre)
        .confirm_arrival(api::ConfirmArrivalRequest {
            request_id: "centre-arrival".to_owned(),
            case_id: cases[0].clone(),
            allocator: here(),
        })
        .await
        .expect("arrival confirmed by the centre");
    eventually("screening places the case in the centre", || async {
        get_case(&system, &centre, &cases[0])
            .await
            .is_ok_and(|view| view.facility_id == "cas-agrigento")
    })
    .await;
    let view = get_case(&system, &centre, &cases[0]).await.expect("case");
    assert_eq!(
        (view.province.as_str(), view.facility_kind.as_str()),
        ("AG", "cas"),
        "the facility's registered province and kind, never the space's id"
    );
    assert_ne!(view.facility_id, space);
    let refused = get_case(&system, &operator(), &cases[0])
        .await
        .expect_err("the old facility no longer reaches the case");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The arrival's own placement is not a transfer: the place stays.
    one_more_pass(&system).await;
    one_more_pass(&system).await;
    let log = system.log().await;
    assert!(events::<api::PlaceReleased>(&allocator_history(&log).await).is_empty());
    system.stop().await;
}

/// A kernel on the safe-space service's aggregates, outside the service: what
/// a crash leaves when the service appended one command and died before the next.
fn bare_kernel(log: CaseLog, system: &System) -> Kernel {
    Kernel::new(log, Arc::new(ManualClock::new(system.now())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_mirrors_an_allocator_commit_the_case_record_lacks_exactly_once() {
    let mut system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let space = register(&system, "mirror-bed", profile(1, false)).await;
    let cases = open_cases(&system, "mirror", 1).await;
    client(system.channel(Service::SafeSpace).await, &operator())
        .request_place(place_request(
            "mirror-request",
            &cases[0],
            api::Needs::default(),
        ))
        .await
        .expect("requested");
    // Two instances: their watchers race on the repair.
    let replica = system.start_replica(Service::SafeSpace).await;
    // The allocator's append alone (the service died before the mirror).
    let log = system.log().await;
    let kernel = bare_kernel(log.clone(), &system);
    let context = AllocatorContext {
        domain: Context {
            now: system.now(),
            actor: Actor::System,
            province: Province::parse("AG").expect("province"),
            kind: SpaceKind::TraffickingShelter,
            policy: Default::default(),
            case: Default::default(),
        },
        case: None,
        ended: Default::default(),
        referred_to: Vec::new(),
        urgencies: Default::default(),
        registered: Vec::new(),
    };
    // No places to avoid in this allocator: a codec without keys folds it.
    let codec = safe_space::needs::AvoidCodec::new(std::sync::Arc::new(
        safe_space::needs::NeedsKeys::in_memory([]),
    ));
    let arrived = kernel
        .execute(
            Target::<Allocator> {
                id: ALLOCATOR,
                codec: &codec,
                context: &context,
            },
            &Authority::system("safe-space"),
            "mirror-arrival",
            safe_space_allocation::allocator::Command::ConfirmArrival {
                case: CaseId::parse(&cases[0]).expect("case"),
            },
        )
        .await
        .expect("the allocator's append");
    assert_eq!(
        types(&record(&log, &cases[0]).await),
        ["CasePlaceRequested", "CasePlaceReserved"],
        "the record lacks the arrival"
    );
    eventually("the watcher mirrors the arrival", || async {
        types(&record(&log, &cases[0]).await).len() == 3
    })
    .await;
    let mirrored: Vec<api::CaseArrivalConfirmed> = events(&record(&log, &cases[0]).await);
    assert_eq!(mirrored.len(), 1);
    assert_eq!(mirrored[0].space_id, space);
    assert_eq!(
        mirrored[0].mirrors.as_ref().map(|m| m.sequence),
        Some(arrived.sequence)
    );
    let repaired = record(&log, &cases[0]).await;
    assert_eq!(
        repaired.last().map(|c| c.request_id().to_owned()),
        Some(format!(
            "case-record.{ALLOCATOR}.{}.{}",
            arrived.sequence, cases[0]
        ))
    );
    // Holding a place in one allocator, the case is refused a request in another.
    let elsewhere = client(system.channel(Service::SafeSpace).await, &prefecture())
        .request_place(api::RequestPlaceRequest {
            allocator: Some(api::AllocatorRef {
                province: "AG".to_owned(),
                kind: "gbv_shelter".to_owned(),
            }),
            ..place_request("mirror-elsewhere", &cases[0], api::Needs::default())
        })
        .await
        .expect_err("held elsewhere");
    assert_eq!(elsewhere.code(), Code::FailedPrecondition);
    // Across more passes of both instances and a restart: still once.
    one_more_pass(&system).await;
    replica.deadlines_checked(system.now()).await;
    system.restart(Service::SafeSpace).await;
    one_more_pass(&system).await;
    assert_eq!(types(&record(&log, &cases[0]).await).len(), 3);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_forwards_a_registration_interrupted_before_its_allocator_once() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let log = system.log().await;
    let kernel = bare_kernel(log.clone(), &system);
    // The registry's append alone (the service died before forwarding it).
    let space = safe_space::api::space_id(SHELTER, "interrupted");
    let context = SpaceContext {
        space: space.clone(),
        domain: safe_space_allocation::space::Context {
            now: system.now(),
            actor: Actor::Organisation(OrganisationId::parse(SHELTER).expect("organisation")),
        },
        sealed_location: None,
    };
    let domain_profile =
        safe_space::codec::profile_from_wire(Some(&profile(1, false))).expect("a valid profile");
    kernel
        .execute(
            Target::<SafeSpace> {
                id: space.as_str(),
                codec: &(),
                context: &context,
            },
            &Authority::system("safe-space"),
            "interrupted",
            safe_space_allocation::space::Command::Register(domain_profile),
        )
        .await
        .expect("the registry's append");
    eventually(
        "the watcher forwards the space to its allocator",
        || async {
            events::<api::SpaceAdded>(&allocator_history(&log).await)
                .iter()
                .any(|added| added.space_id == space.as_str())
        },
    )
    .await;
    let allocator = allocator_history(&log).await;
    assert_eq!(
        allocator
            .iter()
            .map(|c| c.request_id().to_owned())
            .collect::<Vec<_>>(),
        [format!("space-added.{space}")]
    );
    one_more_pass(&system).await;
    one_more_pass(&system).await;
    assert_eq!(allocator_history(&log).await.len(), 1, "forwarded once");
    // The space is offered.
    let cases = open_cases(&system, "interrupted", 1).await;
    let reserved = client(system.channel(Service::SafeSpace).await, &operator())
        .request_place(place_request(
            "interrupted-request",
            &cases[0],
            api::Needs::default(),
        ))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(
        (reserved.standing.as_str(), reserved.space_id.as_str()),
        ("reserved", space.as_str())
    );
    system.stop().await;
}

/// Moving into a shelter is a transfer for referrals: the referral the
/// shelter accepted follows the person (its place is the space's opaque id
/// in the space's province), nothing is cancelled, and the place linked to it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_in_care_follows_the_person_into_the_shelter_and_stays_in_care() {
    use crate::referral::{CAV, Fixture};
    use contracts::referral::v1 as referral_api;
    let mut system = Fixture::start().await;
    system.start_service(Service::SafeSpace).await;
    let case_id = system.screened_case("shelter-move", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "consent-shelter", CAV).await;
    let sent = system
        .refer(&case_id, "refer-shelter", CAV, &consent, "")
        .await
        .expect("referred");
    system
        .walk(&case_id, &sent.referral_id, ["r", "a", "t"], None)
        .await;
    let manager = Caller::receiver(CAV, Some("AG"));
    let mut shelter = client(system.channel(Service::SafeSpace).await, &manager);
    let space = shelter
        .register_safe_space(api::RegisterSafeSpaceRequest {
            request_id: "cav-shelter".to_owned(),
            profile: Some(api::SpaceProfile {
                organisation_id: CAV.to_owned(),
                ..profile(1, false)
            }),
            ..Default::default()
        })
        .await
        .expect("registered")
        .into_inner()
        .space_id;
    client(system.channel(Service::SafeSpace).await, &operator())
        .request_place(api::RequestPlaceRequest {
            referral_id: sent.referral_id.clone(),
            ..place_request("shelter-request", &case_id, api::Needs::default())
        })
        .await
        .expect("requested");
    shelter
        .confirm_arrival(api::ConfirmArrivalRequest {
            request_id: "shelter-arrival".to_owned(),
            case_id: case_id.clone(),
            allocator: here(),
        })
        .await
        .expect("arrival confirmed");
    let log = system.log().await;
    let case_history = || {
        let log = log.clone();
        let case_id = case_id.clone();
        async move {
            log.history(
                &HistoryScope::Root {
                    kind: RootKind::Case,
                    id: TokenId::parse(&case_id).expect("id"),
                },
                HistoryBound::All,
            )
            .await
            .expect("history")
        }
    };
    eventually(
        "the referral follows the person into the shelter",
        || async {
            !events::<referral_api::ReferralCaseTransferred>(&case_history().await).is_empty()
        },
    )
    .await;
    let history = case_history().await;
    let moved: Vec<referral_api::ReferralCaseTransferred> = events(&history);
    assert_eq!(
        moved
            .iter()
            .map(|m| (m.province.as_str(), m.facility_id.as_str()))
            .collect::<Vec<_>>(),
        [("AG", space.as_str())]
    );
    assert!(events::<referral_api::ReferralCancelled>(&history).is_empty());
    assert!(events::<referral_api::ReferralRevoked>(&history).is_empty());
    // The shelter still has the referral in care, and the place stays.
    let in_care = system
        .referral(&manager)
        .await
        .get_case_referrals(crate::referral::receiver(
            CAV,
            referral_api::GetCaseReferralsRequest {
                case_id: case_id.clone(),
                min_log_sequence: log.last_sequence().await.expect("last"),
            },
        ))
        .await
        .expect("the receiver reads its referral")
        .into_inner();
    assert_eq!(
        in_care
            .referrals
            .iter()
            .map(|r| r.state.as_str())
            .collect::<Vec<_>>(),
        ["in_care"]
    );
    one_more_pass(&system).await;
    assert!(events::<api::PlaceReleased>(&allocator_history(&log).await).is_empty());
}
