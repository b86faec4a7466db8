//! `Open`: a case begins with the arrival.

use super::support::*;

#[test]
fn open_on_a_new_case_records_case_opened() {
    let open = OpenCase {
        family_links: vec![FamilyLink {
            case_id: case_id("sister-case"),
            relation: Relation::Sibling,
        }],
        ..open_case()
    };
    assert_eq!(
        when(&given(&[]), Command::Open(open.clone()), NOW),
        Ok(vec![Event::CaseOpened(OpenCase {
            opened_at: Some(NOW),
            ..open
        })])
    );
}

#[test]
fn open_with_arrival_and_application_date_of_now_is_accepted() {
    let open = OpenCase {
        arrived_at: NOW,
        application_date: Some(NOW.date()),
        opened_at: Some(NOW),
        ..open_case()
    };
    let events = when(&given(&[]), Command::Open(open.clone()), NOW).expect("accepted");
    assert_eq!(events, vec![Event::CaseOpened(open.clone())]);
    let state = apply(given(&[]), &events);
    assert_eq!(state.opened, Some(open));
    assert_eq!(state.application_date, Some(NOW.date()));
    assert!(!state.closed);
}

#[test]
fn open_twice_is_refused() {
    assert_eq!(
        when(&given(&[opened()]), Command::Open(open_case()), NOW),
        Err(ScreeningError::AlreadyOpened)
    );
}

#[test]
fn open_on_a_closed_case_is_refused_as_already_opened() {
    // A closed case still exists: opening it again is AlreadyOpened, checked before CaseClosed.
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::Open(open_case()),
            NOW
        ),
        Err(ScreeningError::AlreadyOpened)
    );
}

#[test]
fn open_with_arrival_in_the_future_is_invalid() {
    let open = OpenCase {
        arrived_at: NOW + Duration::SECOND,
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "arrival.arrived_at",
    );
}

#[test]
fn open_with_application_date_in_the_future_is_invalid() {
    let open = OpenCase {
        application_date: Some(NOW.date().next_day().expect("a next day")),
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "application_date",
    );
}

#[test]
fn open_with_a_family_link_to_itself_is_invalid() {
    let itself = FamilyLink {
        case_id: case_id(CASE),
        relation: Relation::Parent,
    };
    let other = FamilyLink {
        case_id: case_id("mother-case"),
        relation: Relation::Parent,
    };
    let open = OpenCase {
        family_links: vec![itself.clone()],
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[0].case_id",
    );
    let open = OpenCase {
        family_links: vec![other, itself],
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[1].case_id",
    );
}

#[test]
fn open_with_the_same_case_linked_twice_is_invalid() {
    let links = vec![
        FamilyLink {
            case_id: case_id("child-case"),
            relation: Relation::Child,
        },
        FamilyLink {
            case_id: case_id("spouse-case"),
            relation: Relation::Spouse,
        },
        // Same case, even with another relation.
        FamilyLink {
            case_id: case_id("child-case"),
            relation: Relation::OtherRelative,
        },
    ];
    let open = OpenCase {
        family_links: links.clone(),
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[2].case_id",
    );
    let open = OpenCase {
        family_links: vec![links[1].clone(), links[1].clone()],
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[1].case_id",
    );

    let open = OpenCase {
        family_links: links[..2].to_vec(),
        ..open_case()
    };
    assert_eq!(
        when(&given(&[]), Command::Open(open.clone()), NOW),
        Ok(vec![Event::CaseOpened(OpenCase {
            opened_at: Some(NOW),
            ..open
        })])
    );
}

#[test]
fn the_opening_records_the_time_of_the_command_whatever_the_command_holds() {
    let open = OpenCase {
        opened_at: Some(ARRIVAL - Duration::days(300)),
        ..open_case()
    };
    let events = when(&given(&[]), Command::Open(open), NOW).expect("opened");
    assert!(matches!(
        events.as_slice(),
        [Event::CaseOpened(OpenCase { opened_at: Some(at), .. })] if *at == NOW
    ));
    let open = OpenCase {
        opened_at: None,
        ..open_case()
    };
    let state = apply(
        given(&[]),
        &when(&given(&[]), Command::Open(open), NOW).expect("opened"),
    );
    assert_eq!(state.opened.and_then(|o| o.opened_at), Some(NOW));
}

#[test]
fn open_without_the_facility_kind_is_invalid() {
    let open = OpenCase {
        facility_kind: None,
        ..open_case()
    };
    assert_invalid(when(&given(&[]), Command::Open(open), NOW), "facility_kind");
}

#[test]
fn an_application_date_is_a_day_in_rome() {
    // 23:30 UTC on 4 March is already 5 March in Rome: an application made
    // "today" in Rome is not in the future.
    let now = datetime!(2026-03-04 23:30 UTC);
    let open = OpenCase {
        application_date: Some(date!(2026 - 03 - 05)),
        ..open_case()
    };
    assert!(when(&given(&[]), Command::Open(open.clone()), now).is_ok());
    assert_invalid(
        when(
            &given(&[]),
            Command::Open(open),
            datetime!(2026-03-04 22:59 UTC),
        ),
        "application_date",
    );
}

#[test]
fn snapshot_of_open() {
    let outcome = when(&given(&[]), Command::Open(open_case()), NOW);
    expect![[r#"
        CaseOpened(
            OpenCase {
                case_id: CaseId(
                    "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                ),
                arrival_place: PlaceCode(
                    "LAMPEDUSA",
                ),
                arrived_at: 2026-03-02 8:30:00.0 +00:00:00,
                province: Province(
                    "AG",
                ),
                facility_id: FacilityId(
                    "hotspot-lampedusa",
                ),
                facility_kind: Some(
                    Hotspot,
                ),
                opened_at: Some(
                    2026-03-04 12:00:00.0 +00:00:00,
                ),
                family_links: [],
                application_date: None,
                age_band: Unknown,
                sex: Unknown,
            },
        )"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn a_minor_is_not_opened_in_detention_and_an_adult_is() {
    // Given no case; when a minor's case is opened in a detention facility,
    // then it is refused: a minor is detained only with recorded grounds,
    // which only a placement carries.
    let in_detention = |age_band| OpenCase {
        facility_kind: Some(FacilityKind::Detention),
        age_band,
        ..open_case()
    };
    for band in [AgeBand::UpTo5, AgeBand::From14To15, AgeBand::From16To17] {
        assert_eq!(
            when(&given(&[]), Command::Open(in_detention(band)), NOW),
            Err(ScreeningError::DetentionNeedsJustification),
            "{band:?}"
        );
    }
    // An adult (or a person whose age is not known) is opened there as before.
    for band in [AgeBand::Adult, AgeBand::Unknown] {
        assert!(
            when(&given(&[]), Command::Open(in_detention(band)), NOW).is_ok(),
            "{band:?}"
        );
    }
}
