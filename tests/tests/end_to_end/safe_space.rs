//! The safe-space service end to end, in process over gRPC against a real
//! nats-server, with the injected clock: a space registered, a place
//! requested and reserved, the arrival, a release giving the place to the
//! first eligible person waiting (the event says why), a hold expired by the
//! watcher, eligibility, bad input, and 200 concurrent requests for 10 places
//! over two instances, checked by reading the allocator's history in the log.

use case_log_jetstream::{CaseLog, HistoryBound, HistoryScope, RecordedCommit, RootKind, TokenId};
use contracts::safe_space::v1 as api;
use contracts::screening::v1 as screening_api;
use prost::Message;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::{Caller, Service, System, eventually, ts};

pub(crate) const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);
pub(crate) const OPERATOR: &str = "hotspot-lampedusa";
/// A shelter's managing organisation (a receiving service of the directory).
pub(crate) const SHELTER: &str = "casa-tratta-ag";
pub(crate) const ALLOCATOR: &str = "allocator-ag-trafficking-shelter";

pub(crate) type Client = api::safe_space_service_client::SafeSpaceServiceClient<
    InterceptedService<Channel, crate::support::auth::Bearer>,
>;

pub(crate) fn operator() -> Caller {
    Caller::operator(OPERATOR, "AG")
}

fn shelter() -> Caller {
    Caller::receiver(SHELTER, Some("AG"))
}

pub(crate) fn client(channel: Channel, caller: &Caller) -> Client {
    api::safe_space_service_client::SafeSpaceServiceClient::with_interceptor(
        channel,
        caller.bearer(),
    )
}

async fn safe_space(system: &System, caller: &Caller) -> Client {
    client(system.channel(Service::SafeSpace).await, caller)
}

fn here() -> Option<api::AllocatorRef> {
    Some(api::AllocatorRef {
        province: "AG".to_owned(),
        kind: "trafficking_shelter".to_owned(),
    })
}

pub(crate) fn profile(beds: u32, accessible: bool) -> api::SpaceProfile {
    api::SpaceProfile {
        kind: "trafficking_shelter".to_owned(),
        organisation_id: SHELTER.to_owned(),
        province: "AG".to_owned(),
        capacity: Some(api::Capacity {
            beds,
            family_rooms: 0,
        }),
        eligibility: Some(api::Eligibility {
            accessible,
            ..Default::default()
        }),
    }
}

pub(crate) async fn register(
    system: &System,
    request_id: &str,
    profile: api::SpaceProfile,
) -> String {
    safe_space(system, &shelter())
        .await
        .register_safe_space(api::RegisterSafeSpaceRequest {
            request_id: request_id.to_owned(),
            profile: Some(profile),
            ..Default::default()
        })
        .await
        .expect("registered")
        .into_inner()
        .space_id
}

/// Opens `count` cases in the operator's facility.
pub(crate) async fn open_cases(system: &System, prefix: &str, count: usize) -> Vec<String> {
    let mut screening = system.screening(&operator()).await;
    let mut cases = Vec::new();
    for i in 0..count {
        let opened = screening
            .open_case(screening_api::OpenCaseRequest {
                request_id: format!("{prefix}-{i}"),
                arrival: Some(screening_api::Arrival {
                    place: "LAMPEDUSA".to_owned(),
                    arrived_at: ts(NOW - time::Duration::days(1)),
                }),
                province: "AG".to_owned(),
                facility_id: OPERATOR.to_owned(),
                ..Default::default()
            })
            .await
            .expect("open")
            .into_inner();
        cases.push(opened.case_id);
    }
    cases
}

pub(crate) fn place_request(
    request_id: &str,
    case_id: &str,
    needs: api::Needs,
) -> api::RequestPlaceRequest {
    api::RequestPlaceRequest {
        request_id: request_id.to_owned(),
        case_id: case_id.to_owned(),
        allocator: here(),
        needs: Some(needs),
        ..Default::default()
    }
}

async fn request(
    client: &mut Client,
    request_id: &str,
    case_id: &str,
) -> api::RequestPlaceResponse {
    client
        .request_place(place_request(request_id, case_id, api::Needs::default()))
        .await
        .expect("requested")
        .into_inner()
}

/// The allocator's commits, read from the log itself (not the service's projection).
pub(crate) async fn allocator_history(log: &CaseLog) -> Vec<RecordedCommit> {
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

/// The allocator's events of type `M`, in log order.
pub(crate) fn events<M: Message + Default + prost::Name>(history: &[RecordedCommit]) -> Vec<M> {
    history
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .filter(|e| e.event_type == M::full_name())
        .map(|e| M::decode(e.payload.as_slice()).expect("decodes"))
        .collect()
}

async fn places(system: &System, caller: &Caller, case_id: &str) -> Vec<api::CasePlace> {
    safe_space(system, caller)
        .await
        .get_case_places(api::GetCasePlacesRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .expect("case places")
        .into_inner()
        .places
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_is_reserved_taken_and_released_to_the_first_eligible_person_waiting() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let space = register(&system, "one-bed", profile(1, false)).await;
    let cases = open_cases(&system, "lifecycle", 3).await;
    let (first, second, family) = (&cases[0], &cases[1], &cases[2]);
    let mut requester = safe_space(&system, &operator()).await;

    let reserved = request(&mut requester, "lifecycle-first", first).await;
    assert_eq!(
        (reserved.standing.as_str(), reserved.space_id.as_str()),
        ("reserved", space.as_str())
    );
    assert_eq!(reserved.held_until, ts(NOW + time::Duration::hours(24)));
    // A family needs a family room: it waits, though it asked before the second person.
    system.advance(time::Duration::minutes(1));
    let waits = requester
        .request_place(place_request(
            "lifecycle-family",
            family,
            api::Needs {
                children: 2,
                ..Default::default()
            },
        ))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!((waits.standing.as_str(), waits.position), ("waiting", 1));
    system.advance(time::Duration::minutes(1));
    let waits = request(&mut requester, "lifecycle-second", second).await;
    assert_eq!((waits.standing.as_str(), waits.position), ("waiting", 2));

    let mut manager = safe_space(&system, &shelter()).await;
    manager
        .confirm_arrival(api::ConfirmArrivalRequest {
            request_id: "lifecycle-arrival".to_owned(),
            case_id: first.clone(),
            allocator: here(),
        })
        .await
        .expect("arrival confirmed by the shelter");
    let occupancy = requester
        .list_occupancy(api::ListOccupancyRequest { allocator: here() })
        .await
        .expect("occupancy")
        .into_inner()
        .spaces;
    assert_eq!(occupancy.len(), 1);
    assert_eq!(occupancy[0].occupied.as_ref().map(|c| c.beds), Some(1));
    assert_eq!(occupancy[0].free.as_ref().map(|c| c.beds), Some(0));

    manager
        .release_place(api::ReleasePlaceRequest {
            request_id: "lifecycle-discharge".to_owned(),
            case_id: first.clone(),
            allocator: here(),
            reason: "discharge".to_owned(),
        })
        .await
        .expect("released at discharge");
    let history = allocator_history(&system.log().await).await;
    let reservations = events::<api::PlaceReserved>(&history);
    assert_eq!(
        reservations
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (first.as_str(), "place_free"),
            (second.as_str(), "place_released")
        ],
        "the freed bed goes to the first person waiting it fits, and the event says why"
    );
    eventually("the second person holds the reservation", || async {
        let second_places = places(&system, &operator(), second).await;
        second_places.len() == 1 && second_places[0].standing == "reserved"
    })
    .await;
    eventually("the family still waits, first on the list", || async {
        let family_places = places(&system, &operator(), family).await;
        family_places.len() == 1
            && family_places[0].standing == "waiting"
            && family_places[0].position == 1
    })
    .await;
    // The released person holds nothing any more (asked by the prefecture:
    // since the arrival, screening places the case in the shelter, so the
    // hotspot's operator no longer reaches it).
    eventually("the released case holds nothing", || async {
        places(&system, &Caller::prefecture("prefettura-ag", "AG"), first)
            .await
            .is_empty()
    })
    .await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_frees_the_place_for_the_next_person_once() {
    let mut system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    // Two instances, two watchers racing on the same holds.
    let replica = system.start_replica(Service::SafeSpace).await;
    register(&system, "expiry-bed", profile(1, false)).await;
    let cases = open_cases(&system, "expiry", 2).await;
    let mut requester = safe_space(&system, &operator()).await;
    assert_eq!(
        request(&mut requester, "expiry-a", &cases[0])
            .await
            .standing,
        "reserved"
    );
    assert_eq!(
        request(&mut requester, "expiry-b", &cases[1])
            .await
            .standing,
        "waiting"
    );

    // Not yet due: a pass changes nothing.
    system.advance(time::Duration::hours(23));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    assert_eq!(
        events::<api::HoldExpired>(&allocator_history(&system.log().await).await).len(),
        0
    );
    system.advance(time::Duration::hours(2));
    let due = system.now();
    system.deadlines_checked(Service::SafeSpace, due).await;
    let log = system.log().await;
    eventually("the watcher expires the hold", || async {
        !events::<api::HoldExpired>(&allocator_history(&log).await).is_empty()
    })
    .await;
    let history = allocator_history(&log).await;
    let expired = events::<api::HoldExpired>(&history);
    assert_eq!(
        expired
            .iter()
            .map(|e| e.case_id.as_str())
            .collect::<Vec<_>>(),
        vec![cases[0].as_str()]
    );
    let reservations = events::<api::PlaceReserved>(&history);
    assert_eq!(
        reservations
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (cases[0].as_str(), "place_free"),
            (cases[1].as_str(), "hold_expired")
        ]
    );
    assert_eq!(
        reservations[1].held_until,
        ts(due + time::Duration::hours(24))
    );
    // More passes, of both instances and after a restart, append nothing more.
    system.restart(Service::SafeSpace).await;
    system.advance(time::Duration::minutes(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    replica.deadlines_checked(system.now()).await;
    assert_eq!(allocator_history(&log).await.len(), history.len());
    replica.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_case_releases_its_place_by_itself_to_the_next_person() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    register(&system, "closure-bed", profile(1, false)).await;
    let cases = open_cases(&system, "closure", 2).await;
    let mut requester = safe_space(&system, &operator()).await;
    assert_eq!(
        request(&mut requester, "closure-a", &cases[0])
            .await
            .standing,
        "reserved"
    );
    assert_eq!(
        request(&mut requester, "closure-b", &cases[1])
            .await
            .standing,
        "waiting"
    );
    system
        .screening(&operator())
        .await
        .close_case(screening_api::CloseCaseRequest {
            request_id: "closure-close".to_owned(),
            case_id: cases[0].clone(),
            reason: "left_reception".to_owned(),
            closed_at: ts(NOW),
        })
        .await
        .expect("closed");
    system.advance(time::Duration::seconds(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    let log = system.log().await;
    eventually("the watcher releases the closed case's place", || async {
        !events::<api::PlaceReleased>(&allocator_history(&log).await).is_empty()
    })
    .await;
    let history = allocator_history(&log).await;
    let released = events::<api::PlaceReleased>(&history);
    assert_eq!(
        released
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![(cases[0].as_str(), "case_closed")]
    );
    let reservations = events::<api::PlaceReserved>(&history);
    assert_eq!(
        reservations
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (cases[0].as_str(), "place_free"),
            (cases[1].as_str(), "place_released")
        ]
    );
    // A closed case asks for no place.
    let refused = requester
        .request_place(place_request(
            "closure-again",
            &cases[0],
            api::Needs::default(),
        ))
        .await
        .expect_err("a closed case");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    system.advance(time::Duration::minutes(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    assert_eq!(
        allocator_history(&log).await.len(),
        history.len(),
        "released once"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_referral_releases_the_place_it_was_linked_to() {
    use crate::referral::{CAV, Fixture};
    use contracts::referral::v1 as referral_api;
    let mut system = Fixture::start().await;
    system.start_service(Service::SafeSpace).await;
    register(&system, "referral-bed", profile(1, false)).await;
    let linked = system.screened_case("safe-space-linked", false).await;
    let next = system.screened_case("safe-space-next", false).await;
    system.register(CAV, &["AG"]).await;
    let consent_id = system.consent_to(&linked, "safe-space-consent", CAV).await;
    let referral_id = system
        .refer(&linked, "safe-space-referral", CAV, &consent_id, "high")
        .await
        .expect("sent")
        .referral_id;
    let mut requester = safe_space(&system, &operator()).await;
    let reserved = requester
        .request_place(api::RequestPlaceRequest {
            referral_id: referral_id.clone(),
            ..place_request("linked-place", &linked, api::Needs::default())
        })
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(reserved.standing, "reserved");
    assert_eq!(
        request(&mut requester, "next-place", &next).await.standing,
        "waiting"
    );

    // The person withdraws consent: the referral is revoked, and with it the place.
    system
        .referrals()
        .await
        .withdraw_consent(crate::referral::operator(
            referral_api::WithdrawConsentRequest {
                request_id: "safe-space-withdraw".to_owned(),
                case_id: linked.clone(),
                consent_id,
            },
        ))
        .await
        .expect("withdrawn");
    system.advance(time::Duration::seconds(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    let log = system.log().await;
    eventually(
        "the watcher releases the place of the revoked referral",
        || async { !events::<api::PlaceReleased>(&allocator_history(&log).await).is_empty() },
    )
    .await;
    let history = allocator_history(&log).await;
    assert_eq!(
        events::<api::PlaceReleased>(&history)
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![(linked.as_str(), "referral_revoked")]
    );
    assert_eq!(
        events::<api::PlaceReserved>(&history)
            .iter()
            .map(|r| (r.case_id.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (linked.as_str(), "place_free"),
            (next.as_str(), "place_released")
        ]
    );
    system.stop_service(Service::SafeSpace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_changes_and_closures_are_decided_by_the_allocator_first() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let space = register(&system, "capacity-bed", profile(1, false)).await;
    let cases = open_cases(&system, "capacity", 2).await;
    let mut requester = safe_space(&system, &operator()).await;
    assert_eq!(
        request(&mut requester, "capacity-a", &cases[0])
            .await
            .standing,
        "reserved"
    );
    assert_eq!(
        request(&mut requester, "capacity-b", &cases[1])
            .await
            .standing,
        "waiting"
    );
    let change = |request_id: &str, beds: u32| api::ChangeSafeSpaceCapacityRequest {
        request_id: request_id.to_owned(),
        space_id: space.clone(),
        capacity: Some(api::Capacity {
            beds,
            family_rooms: 0,
        }),
    };
    let log = system.log().await;
    let mut manager = safe_space(&system, &shelter()).await;
    // Never below what is held; never by another organisation.
    let below = manager
        .change_safe_space_capacity(change("capacity-zero", 0))
        .await
        .expect_err("below the place reserved");
    assert_eq!(below.code(), Code::FailedPrecondition, "{below:?}");
    let other = safe_space(&system, &Caller::receiver("another-shelter", Some("AG"))).await;
    let refused = other
        .clone()
        .change_safe_space_capacity(change("capacity-other", 3))
        .await
        .expect_err("not the managing organisation");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let before = allocator_history(&log).await.len();
    // One bed more: the first person waiting gets it, and the event says why.
    manager
        .change_safe_space_capacity(change("capacity-two", 2))
        .await
        .expect("capacity changed");
    let history = allocator_history(&log).await;
    assert_eq!(history.len(), before + 1, "one commit");
    let reservations = events::<api::PlaceReserved>(&history);
    assert_eq!(
        reservations
            .last()
            .map(|r| (r.case_id.as_str(), r.reason.as_str())),
        Some((cases[1].as_str(), "capacity_added"))
    );
    // Closing: reservations not taken up wait again, from when they asked.
    manager
        .close_safe_space(api::CloseSafeSpaceRequest {
            request_id: "capacity-close".to_owned(),
            space_id: space.clone(),
        })
        .await
        .expect("closed");
    let history = allocator_history(&log).await;
    let mut returned: Vec<String> = events::<api::ReturnedToWaitingList>(&history)
        .into_iter()
        .map(|r| r.case_id)
        .collect();
    returned.sort_unstable();
    let mut expected = cases.clone();
    expected.sort_unstable();
    assert_eq!(returned, expected);
    let registry = log
        .history(
            &HistoryScope::Root {
                kind: RootKind::Facility,
                id: TokenId::parse(&space).expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("history");
    assert_eq!(events::<api::SafeSpaceCapacityChanged>(&registry).len(), 1);
    assert_eq!(events::<api::SafeSpaceClosed>(&registry).len(), 1);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligibility_decides_which_places_a_person_is_offered() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    // A single women-only room never admits a family: refused at registration.
    let mut admin = safe_space(&system, &Caller::administrator()).await;
    let refused = admin
        .register_safe_space(api::RegisterSafeSpaceRequest {
            request_id: "room-with-family".to_owned(),
            profile: Some(api::SpaceProfile {
                kind: "women_only_room".to_owned(),
                capacity: Some(api::Capacity {
                    beds: 1,
                    family_rooms: 1,
                }),
                eligibility: Some(api::Eligibility {
                    sexes: vec!["female".to_owned()],
                    families_with_children: true,
                    ..Default::default()
                }),
                ..profile(1, false)
            }),
            ..Default::default()
        })
        .await
        .expect_err("a women-only room with a family room");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("profile.capacity.family_rooms"),
        "{refused:?}"
    );

    let plain = register(&system, "plain", profile(5, false)).await;
    let accessible = register(&system, "accessible", profile(1, true)).await;
    let cases = open_cases(&system, "eligibility", 4).await;
    let mut requester = safe_space(&system, &operator()).await;
    let needs_access = |request_id: &str, case: &str| {
        place_request(
            request_id,
            case,
            api::Needs {
                accessibility: true,
                ..Default::default()
            },
        )
    };
    let first = requester
        .request_place(needs_access("access-1", &cases[0]))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(
        first.space_id, accessible,
        "an accessible need gets the accessible place"
    );
    let second = requester
        .request_place(needs_access("access-2", &cases[1]))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(
        (second.standing.as_str(), second.space_id.as_str()),
        ("waiting", ""),
        "never a place that is not accessible, though the plain space has free beds"
    );
    // No accessible place is spent on someone who does not need it.
    let plain_need = request(&mut requester, "plain-1", &cases[2]).await;
    assert_eq!(plain_need.space_id, plain);
    let family = requester
        .request_place(place_request(
            "family-1",
            &cases[3],
            api::Needs {
                children: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(family.standing, "waiting", "a family needs a family room");
    system.stop().await;
}

/// Opens a case for a person whose sealed personal data records `sex`.
async fn open_case_of(system: &System, request_id: &str, sex: &str) -> String {
    system
        .screening(&operator())
        .await
        .open_case(screening_api::OpenCaseRequest {
            request_id: request_id.to_owned(),
            arrival: Some(screening_api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(NOW - time::Duration::days(1)),
            }),
            province: "AG".to_owned(),
            facility_id: OPERATOR.to_owned(),
            personal_data: Some(contracts::person::v1::PersonalData {
                sex: sex.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("open")
        .into_inner()
        .case_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_womens_shelter_takes_the_women_its_eligibility_names_by_the_cases_sex() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let women_only = register(
        &system,
        "women-only",
        api::SpaceProfile {
            eligibility: Some(api::Eligibility {
                sexes: vec!["female".to_owned()],
                ..Default::default()
            }),
            ..profile(2, false)
        },
    )
    .await;
    // The sex comes from the case (screening's, recorded from the sealed
    // personal data), never from the request.
    let woman = open_case_of(&system, "sex-woman", "female").await;
    let man = open_case_of(&system, "sex-man", "male").await;
    let not_recorded = open_case_of(&system, "sex-unknown", "").await;
    let mut requester = safe_space(&system, &operator()).await;
    let placed = request(&mut requester, "woman-asks", &woman).await;
    assert_eq!(
        placed.space_id, women_only,
        "a woman gets the women-only place"
    );
    for (request_id, case) in [("man-asks", &man), ("unknown-asks", &not_recorded)] {
        let answer = request(&mut requester, request_id, case).await;
        assert_eq!(
            (answer.standing.as_str(), answer.space_id.as_str()),
            ("waiting", ""),
            "{request_id}: never a place in a women-only space"
        );
    }
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_every_field_and_appends_nothing() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    register(&system, "bad-input-bed", profile(1, false)).await;
    let cases = open_cases(&system, "bad-input", 1).await;
    let log = system.log().await;
    let before = allocator_history(&log).await.len();
    let mut requester = safe_space(&system, &operator()).await;
    let refused = requester
        .request_place(api::RequestPlaceRequest {
            request_id: "bad input".to_owned(),
            case_id: "NOT A CASE".to_owned(),
            allocator: Some(api::AllocatorRef {
                province: "agrigento".to_owned(),
                kind: "hotel".to_owned(),
            }),
            needs: Some(api::Needs {
                children: 300,
                languages: vec!["english".to_owned()],
                preferred_provinces: vec!["x".to_owned()],
                ..Default::default()
            }),
            referral_id: "NO".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("bad input");
    assert_eq!(refused.code(), Code::InvalidArgument);
    for field in [
        "request_id",
        "case_id",
        "allocator.province",
        "allocator.kind",
        "needs.children",
        "needs.languages[0]",
        "needs.preferred_provinces[0]",
        "referral_id",
    ] {
        assert!(refused.message().contains(field), "{field}: {refused:?}");
    }
    let release = requester
        .release_place(api::ReleasePlaceRequest {
            request_id: "release-bad".to_owned(),
            case_id: cases[0].clone(),
            allocator: None,
            reason: "case_closed".to_owned(),
        })
        .await
        .expect_err("a reason only the service records, and no allocator");
    assert_eq!(release.code(), Code::InvalidArgument);
    assert!(release.message().contains("reason") && release.message().contains("allocator"));
    let mut admin = safe_space(&system, &Caller::administrator()).await;
    let space = admin
        .register_safe_space(api::RegisterSafeSpaceRequest {
            request_id: "bad-space".to_owned(),
            profile: Some(api::SpaceProfile {
                kind: "castle".to_owned(),
                organisation_id: "Not An Org".to_owned(),
                province: "rome".to_owned(),
                capacity: None,
                eligibility: None,
            }),
            ..Default::default()
        })
        .await
        .expect_err("bad profile");
    assert_eq!(space.code(), Code::InvalidArgument);
    for field in [
        "profile.kind",
        "profile.organisation_id",
        "profile.province",
        "profile.capacity",
    ] {
        assert!(space.message().contains(field), "{field}: {space:?}");
    }
    assert_eq!(
        allocator_history(&log).await.len(),
        before,
        "nothing appended"
    );
    system.stop().await;
}

/// 200 people ask at once for the 10 places of one province and kind, through
/// two instances of the service: nobody sees an error, exactly 10 are
/// reserved (the first 10 to ask, in the log's order) and 190 wait in order;
/// the log, read here and not through the service, says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_for_ten_places_over_two_instances() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let replica = system.start_replica(Service::SafeSpace).await;
    let first = register(&system, "concurrency-a", profile(6, false)).await;
    let second = register(&system, "concurrency-b", profile(4, false)).await;
    let cases = open_cases(&system, "concurrency", 200).await;
    let channels = [
        system.channel(Service::SafeSpace).await,
        replica.channel().await,
    ];
    let mut calls = tokio::task::JoinSet::new();
    for (i, case) in cases.iter().enumerate() {
        let mut client = client(channels[i % 2].clone(), &operator());
        let case = case.clone();
        calls.spawn(async move {
            client
                .request_place(place_request(
                    &format!("concurrency-{i}"),
                    &case,
                    api::Needs::default(),
                ))
                .await
                .map(|answer| answer.into_inner().standing)
        });
    }
    let mut standings = Vec::new();
    while let Some(answer) = calls.join_next().await {
        standings.push(answer.expect("joined").expect("no caller sees an error"));
    }
    assert_eq!(standings.iter().filter(|s| *s == "reserved").count(), 10);
    assert_eq!(standings.iter().filter(|s| *s == "waiting").count(), 190);

    let history = allocator_history(&system.log().await).await;
    let requested = events::<api::PlaceRequested>(&history);
    let reserved = events::<api::PlaceReserved>(&history);
    assert_eq!(requested.len(), 200, "each request appended once");
    let mut distinct: Vec<&str> = requested.iter().map(|r| r.case_id.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 200);
    assert_eq!(reserved.len(), 10, "exactly 10 reservations");
    for (space, capacity) in [(&first, 6), (&second, 4)] {
        assert_eq!(
            reserved.iter().filter(|r| &r.space_id == space).count(),
            capacity,
            "no space over its capacity"
        );
    }
    let in_log_order: Vec<&str> = requested.iter().map(|r| r.case_id.as_str()).collect();
    let mut reserved_cases: Vec<&str> = reserved.iter().map(|r| r.case_id.as_str()).collect();
    reserved_cases.sort_unstable();
    let mut first_ten = in_log_order[..10].to_vec();
    first_ten.sort_unstable();
    assert_eq!(
        reserved_cases, first_ten,
        "the first 10 to ask got the places"
    );

    // The waiting list: the other 190, by when they asked (the injected
    // clock stands still: equal times), then by case id.
    let mut expected: Vec<(i64, i32, &str)> = requested
        .iter()
        .filter(|r| !reserved_cases.contains(&r.case_id.as_str()))
        .map(|r| {
            let at = r.requested_at.expect("requested at");
            (at.seconds, at.nanos, r.case_id.as_str())
        })
        .collect();
    expected.sort_unstable();
    let mut prefecture = safe_space(&system, &Caller::prefecture("prefettura-ag", "AG")).await;
    let waiting = prefecture
        .get_waiting_list(api::GetWaitingListRequest { allocator: here() })
        .await
        .expect("waiting list")
        .into_inner()
        .waiting;
    assert_eq!(
        waiting
            .iter()
            .map(|w| w.case_id.as_str())
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|(_, _, case)| *case)
            .collect::<Vec<_>>()
    );
    assert!(
        waiting
            .iter()
            .enumerate()
            .all(|(i, w)| w.position as usize == i + 1)
    );
    replica.stop().await;
    system.stop().await;
}
