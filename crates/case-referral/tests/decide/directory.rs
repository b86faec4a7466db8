//! The organisation directory: `Register` and `Update` of a profile.

use case_referral::directory::{self, DirectoryError, OrganisationProfile};
use case_referral::{Availability, OpeningHours, OrganisationName, Province};

use super::support::*;

pub fn profile(organisation_id: &str, name: &str) -> OrganisationProfile {
    OrganisationProfile {
        organisation_id: org(organisation_id),
        name: OrganisationName::parse(name).expect("valid name"),
        service_types: vec![ServiceType::AntiViolenceCentre],
        provinces: vec![Province::parse("RM").expect("valid province")],
        languages: vec![language("it"), language("en")],
        accessibility: vec![code("female_staff_only")],
        opening_hours: OpeningHours::parse("Mon-Fri 9-18; helpline 24/7").expect("valid hours"),
        intake_channel: Some(code("approdo")),
        availability: Availability::Available,
        active: true,
    }
}

fn registered() -> directory::Event {
    directory::Event::Registered(profile(RECEIVER, "Differenza Donna"))
}

fn when_directory(
    events: &[directory::Event],
    command: directory::Command,
) -> Result<Vec<directory::Event>, DirectoryError> {
    directory::decide(&directory::State::from_events(events), command)
}

#[test]
fn snapshot_of_a_registration() {
    let outcome = when_directory(
        &[],
        directory::Command::Register(profile(RECEIVER, "Differenza Donna")),
    );
    expect![[r#"
        Ok(
            [
                Registered(
                    OrganisationProfile {
                        organisation_id: OrganisationId(
                            "cav-differenza-donna",
                        ),
                        name: OrganisationName(
                            "Differenza Donna",
                        ),
                        service_types: [
                            AntiViolenceCentre,
                        ],
                        provinces: [
                            Province(
                                "RM",
                            ),
                        ],
                        languages: [
                            Language(
                                "it",
                            ),
                            Language(
                                "en",
                            ),
                        ],
                        accessibility: [
                            Code(
                                "female_staff_only",
                            ),
                        ],
                        opening_hours: OpeningHours(
                            "Mon-Fri 9-18; helpline 24/7",
                        ),
                        intake_channel: Some(
                            Code(
                                "approdo",
                            ),
                        ),
                        availability: Available,
                        active: true,
                    },
                ),
            ],
        )"#]]
    .assert_eq(&format!("{outcome:#?}"));
}

#[test]
fn snapshot_of_an_update() {
    let full = OrganisationProfile {
        availability: Availability::Full,
        ..profile(RECEIVER, "Differenza Donna")
    };
    let outcome = when_directory(&[registered()], directory::Command::Update(full));
    expect![[r#"
        Ok(
            [
                Updated(
                    OrganisationProfile {
                        organisation_id: OrganisationId(
                            "cav-differenza-donna",
                        ),
                        name: OrganisationName(
                            "Differenza Donna",
                        ),
                        service_types: [
                            AntiViolenceCentre,
                        ],
                        provinces: [
                            Province(
                                "RM",
                            ),
                        ],
                        languages: [
                            Language(
                                "it",
                            ),
                            Language(
                                "en",
                            ),
                        ],
                        accessibility: [
                            Code(
                                "female_staff_only",
                            ),
                        ],
                        opening_hours: OpeningHours(
                            "Mon-Fri 9-18; helpline 24/7",
                        ),
                        intake_channel: Some(
                            Code(
                                "approdo",
                            ),
                        ),
                        availability: Full,
                        active: true,
                    },
                ),
            ],
        )"#]]
    .assert_eq(&format!("{outcome:#?}"));
}

#[test]
fn registering_twice_is_already_registered() {
    assert_eq!(
        when_directory(
            &[registered()],
            directory::Command::Register(profile(RECEIVER, "Another name"))
        ),
        Err(DirectoryError::AlreadyRegistered)
    );
}

#[test]
fn updating_an_organisation_never_registered_is_not_found() {
    assert_eq!(
        when_directory(
            &[],
            directory::Command::Update(profile(RECEIVER, "Differenza Donna"))
        ),
        Err(DirectoryError::OrganisationNotFound)
    );
}

#[test]
fn an_update_cannot_change_the_organisation() {
    assert_eq!(
        when_directory(
            &[registered()],
            directory::Command::Update(profile(OTHER_CAV, "CAV Palermo"))
        ),
        Err(DirectoryError::Invalid {
            field: "profile.organisation_id",
            reason: "is not the organisation being updated",
        })
    );
}

#[test]
fn a_profile_offers_some_service_somewhere_and_is_checked_before_the_directory() {
    let no_service = OrganisationProfile {
        service_types: vec![],
        ..profile(RECEIVER, "Differenza Donna")
    };
    let nowhere = OrganisationProfile {
        provinces: vec![],
        ..profile(RECEIVER, "Differenza Donna")
    };
    for (events, command) in [
        (vec![], directory::Command::Register(no_service.clone())),
        (
            vec![registered()],
            directory::Command::Register(no_service.clone()),
        ),
        (vec![], directory::Command::Update(no_service)),
    ] {
        assert!(matches!(
            when_directory(&events, command),
            Err(DirectoryError::Invalid {
                field: "profile.service_types",
                ..
            })
        ));
    }
    assert!(matches!(
        when_directory(&[], directory::Command::Register(nowhere)),
        Err(DirectoryError::Invalid {
            field: "profile.provinces",
            ..
        })
    ));
}

#[test]
fn the_state_is_the_last_profile_recorded() {
    let limited = OrganisationProfile {
        availability: Availability::Limited,
        active: false,
        ..profile(RECEIVER, "Differenza Donna")
    };
    let state =
        directory::State::from_events(&[registered(), directory::Event::Updated(limited.clone())]);
    assert_eq!(state.profile, Some(limited));
    assert_eq!(directory::State::default().profile, None);
}

#[test]
fn profile_fields_accept_only_what_the_service_accepts() {
    assert!(OrganisationName::parse("Differenza Donna").is_ok());
    for bad in ["", "   ", "line\nbreak"] {
        assert!(OrganisationName::parse(bad).is_err(), "{bad:?}");
    }
    assert!(OrganisationName::parse(&"n".repeat(200)).is_ok());
    assert!(OrganisationName::parse(&"n".repeat(201)).is_err());
    assert!(OpeningHours::parse("").is_ok());
    assert!(OpeningHours::parse(&"h".repeat(201)).is_err());
    assert!(OpeningHours::parse("tab\there").is_err());
    for code in ["available", "limited", "full"] {
        assert_eq!(
            Availability::from_code(code).map(Availability::code),
            Ok(code)
        );
    }
    assert!(Availability::from_code("closed").is_err());
}

#[test]
fn directory_errors_carry_no_profile_data() {
    let errors = [
        DirectoryError::AlreadyRegistered,
        DirectoryError::OrganisationNotFound,
    ];
    assert_eq!(
        errors.map(|e| e.to_string()),
        ["organisation already registered", "organisation not found"]
    );
}
