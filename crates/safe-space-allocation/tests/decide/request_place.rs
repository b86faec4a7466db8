//! `RequestPlace`: a request for a case; urgency, sex and age band from the
//! case's facts; a place free at once is reserved in the same commit.

use super::support::*;

#[test]
fn a_free_place_is_reserved_at_once_with_the_case_facts() {
    let state = given().space("space-a", shelter(1, 1));
    let outcome = when(
        &state,
        Command::RequestPlace {
            case: case("case-1"),
            needs: Needs {
                children: 2,
                languages: [language("ti")].into_iter().collect(),
                preferred_provinces: vec![rm()],
                avoid: [Avoid::Organisation(org(OTHER_MANAGER))]
                    .into_iter()
                    .collect(),
                ..Needs::default()
            },
            referral: Some(ReferralId::parse("ref-1").expect("referral")),
        },
        &requesting(woman(Some(Urgency::Immediate)), NOW),
    );
    expect![[r#"
        PlaceRequested {
            case: CaseId(
                "case-1",
            ),
            requested_by: OrganisationId(
                "cas-roma-1",
            ),
            referral: Some(
                ReferralId(
                    "ref-1",
                ),
            ),
            needs: Needs {
                children: 2,
                accessibility: false,
                languages: {
                    Language(
                        "ti",
                    ),
                },
                preferred_provinces: [
                    Province(
                        "RM",
                    ),
                ],
                avoid: {
                    Organisation(
                        OrganisationId(
                            "casa-rifugio-sud",
                        ),
                    ),
                },
            },
            urgency: Some(
                Immediate,
            ),
            sex: Female,
            age_band: Adult,
            requested_at: 2026-03-10 12:00:00.0 +00:00:00,
        }
        PlaceReserved {
            case: CaseId(
                "case-1",
            ),
            space: SpaceId(
                "space-a",
            ),
            unit: FamilyRoom,
            reserved_at: 2026-03-10 12:00:00.0 +00:00:00,
            held_until: 2026-03-11 12:00:00.0 +00:00:00,
            reason: PlaceFree,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn with_no_place_free_the_person_waits_in_order_of_urgency_then_time() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::Standard, T0)
        .request(
            "case-2",
            single(),
            Urgency::Standard,
            T0 + Duration::hours(1),
        )
        .request("case-3", single(), Urgency::High, T0 + Duration::hours(2))
        .run(request("case-4", single()), &requesting(woman(None), T0))
        .request(
            "case-5",
            single(),
            Urgency::Immediate,
            T0 + Duration::hours(3),
        );
    assert_eq!(state.waiting(), ["case-5", "case-3", "case-2", "case-4"]);
    assert_eq!(state.state.position(&case("case-2")), Some(3));
    assert_eq!(state.state.position(&case("case-1")), None);
    assert_eq!(
        when(
            &state,
            request("case-6", single()),
            &requesting(woman(None), NOW)
        ),
        Ok(vec![Event::PlaceRequested {
            case: case("case-6"),
            requested_by: org(REQUESTER),
            referral: None,
            needs: single(),
            urgency: None,
            sex: Sex::Female,
            age_band: AgeBand::Adult,
            requested_at: NOW,
        }])
    );
}

#[test]
fn refused_for_a_closed_case_twice_elsewhere_or_by_the_service() {
    let state =
        given()
            .space("space-a", shelter(1, 0))
            .request("case-1", single(), Urgency::High, T0);
    assert_eq!(
        when(
            &state,
            request("case-1", single()),
            &requesting(woman(None), NOW)
        ),
        Err(AllocationError::AlreadyRequested)
    );
    let closed = CaseFacts {
        closed: true,
        ..woman(None)
    };
    assert_eq!(
        when(
            &state,
            request("case-2", single()),
            &requesting(closed, NOW)
        ),
        Err(AllocationError::CaseClosed)
    );
    let elsewhere = CaseFacts {
        held_elsewhere: true,
        ..woman(None)
    };
    assert_eq!(
        when(
            &state,
            request("case-2", single()),
            &requesting(elsewhere, NOW)
        ),
        Err(AllocationError::HeldElsewhere)
    );
    assert_eq!(
        when(&state, request("case-2", single()), &system(NOW)),
        Err(AllocationError::NotTheRequester)
    );
    assert_invalid(
        when(
            &state,
            request("case-2", with_children(21)),
            &requesting(woman(None), NOW),
        ),
        "needs.children",
    );
    let palermo = Needs {
        preferred_provinces: vec![Province::parse("PA").expect("province")],
        ..single()
    };
    assert_invalid(
        when(
            &state,
            request("case-2", palermo),
            &requesting(woman(None), NOW),
        ),
        "needs.preferred_provinces",
    );
}
