//! Validation at the edge for minors, detention and follow-up: the age band of
//! an opening (and its agreement with a sealed date of birth), the detention
//! grounds of a placement, and the requests of `RecordAgeAssessment`,
//! `AppointGuardian`, `ScheduleFollowUp` and `RecordFollowUp`. Every offending
//! field is named; no value is echoed (a date of birth is personal data).
//! Who decided or recorded is always the caller's verified organisation.

use case_screening::*;
use contracts::screening::v1 as api;
use service_runtime::{ServiceError, Violations};
use time::{Date, OffsetDateTime};

use crate::codec::parse_date;
use crate::requests::{Target, finish, target, time};

/// The age band of an `OpenCase` request (empty is `unknown`). When the
/// request's personal data carries a date of birth, a known band must be the
/// one of the person's age on the arrival day (in Rome).
pub fn opening_age_band(
    v: &mut Violations,
    request: &api::OpenCaseRequest,
    arrived_at: Option<OffsetDateTime>,
) -> AgeBand {
    if request.age_band.is_empty() {
        return AgeBand::Unknown;
    }
    let Some(band) = v.check("age_band", AgeBand::from_code(&request.age_band)) else {
        return AgeBand::Unknown;
    };
    let date_of_birth = request
        .personal_data
        .as_ref()
        .map(|p| p.date_of_birth.as_str())
        .filter(|raw| !raw.is_empty())
        .and_then(|raw| parse_date(raw).ok());
    if let (Some(born), Some(arrived_at), Some(youngest)) =
        (date_of_birth, arrived_at, band.youngest())
    {
        match age_on(born, pathway::calendar::date_in_rome(arrived_at)) {
            None => v.add("personal_data.date_of_birth", "is after the arrival"),
            Some(age) if band_of(age).youngest() != Some(youngest) => {
                v.add(
                    "age_band",
                    "does not agree with personal_data.date_of_birth on the arrival day",
                );
                v.add(
                    "personal_data.date_of_birth",
                    "does not agree with age_band",
                );
            }
            Some(_) => {}
        }
    }
    band
}

/// Whole years from `born` to `day`; `None` if born after it.
fn age_on(born: Date, day: Date) -> Option<i32> {
    if born > day {
        return None;
    }
    let birthday_passed = (day.month() as u8, day.day()) >= (born.month() as u8, born.day());
    Some(day.year() - born.year() - i32::from(!birthday_passed))
}

fn band_of(age: i32) -> AgeBand {
    match age {
        ..=5 => AgeBand::UpTo5,
        6..=13 => AgeBand::From6To13,
        14..=15 => AgeBand::From14To15,
        16..=17 => AgeBand::From16To17,
        _ => AgeBand::Adult,
    }
}

/// The detention grounds of a `PlaceCase` request: none when no justification
/// is given; decided by the caller's organisation.
pub fn detention_grounds(
    v: &mut Violations,
    request: &api::PlaceCaseRequest,
    organisation: &str,
) -> Option<DetentionGrounds> {
    let authority = if request.detention_authority.is_empty() {
        None
    } else {
        v.check(
            "detention_authority",
            DetentionAuthority::from_code(&request.detention_authority),
        )
    };
    if request.detention_justification.is_empty() {
        if !request.detention_authority.is_empty() {
            v.add(
                "detention_authority",
                "is given only with detention_justification",
            );
        }
        return None;
    }
    let justification = v.check(
        "detention_justification",
        DetentionJustification::from_code(&request.detention_justification),
    )?;
    Some(DetentionGrounds {
        justification,
        decided_by_organisation: organisation.to_owned(),
        authority,
    })
}

pub fn age_assessment(
    r: &api::RecordAgeAssessmentRequest,
    organisation: &str,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let band = match AgeBand::from_code(&r.age_band) {
        Ok(AgeBand::Unknown) | Err(_) => {
            v.add("age_band", "must be 0-5, 6-13, 14-15, 16-17 or 18+");
            None
        }
        Ok(band) => Some(band),
    };
    let assessed_at = time(&mut v, "assessed_at", &r.assessed_at);
    let command = (|| {
        Some(Command::AssessAge(AgeAssessment {
            age_band: band?,
            assessed_by_organisation: organisation.to_owned(),
            assessed_at: assessed_at?,
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn guardian(
    r: &api::AppointGuardianRequest,
    organisation: &str,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let kind = v.check("guardian_kind", GuardianKind::from_code(&r.guardian_kind));
    let guardian_organisation_id = if r.guardian_organisation_id.is_empty() {
        None
    } else if pathway::is_id_token(&r.guardian_organisation_id) {
        Some(r.guardian_organisation_id.clone())
    } else {
        v.add(
            "guardian_organisation_id",
            "must be 1 to 64 characters of [a-z0-9-]",
        );
        None
    };
    let appointed_at = time(&mut v, "appointed_at", &r.appointed_at);
    let command = (|| {
        Some(Command::AppointGuardian(GuardianAppointment {
            guardian_kind: kind?,
            guardian_organisation_id,
            appointed_by_organisation: organisation.to_owned(),
            appointed_at: appointed_at?,
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn schedule_follow_up(
    r: &api::ScheduleFollowUpRequest,
    organisation: &str,
    follow_up_id: impl FnOnce(&CaseId, &str) -> FollowUpId,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let due_on = v.check("due_on", parse_date(&r.due_on));
    let purpose = v.check("purpose", FollowUpPurpose::from_code(&r.purpose));
    let command = (|| {
        Some(Command::ScheduleFollowUp(FollowUpSchedule {
            follow_up_id: follow_up_id(case_id.as_ref()?, &request_id),
            due_on: due_on?,
            purpose: purpose?,
            scheduled_by_organisation: organisation.to_owned(),
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn record_follow_up(
    r: &api::RecordFollowUpRequest,
    organisation: &str,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let follow_up_id = if r.follow_up_id.is_empty() {
        None
    } else {
        v.check("follow_up_id", FollowUpId::parse(&r.follow_up_id))
    };
    let outcome = v.check("outcome", FollowUpOutcome::from_code(&r.outcome));
    let at = time(&mut v, "at", &r.at);
    let command = (|| {
        Some(Command::RecordFollowUp(FollowUpRecord {
            follow_up_id,
            outcome: outcome?,
            at: at?,
            recorded_by_organisation: organisation.to_owned(),
        }))
    })();
    finish(v, request_id, case_id, command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::person::v1 as person;
    use time::macros::{date, datetime};

    fn refused<T>(result: Result<T, ServiceError>) -> ServiceError {
        match result {
            Err(error) => error,
            Ok(_) => panic!("an invalid request was accepted"),
        }
    }

    fn fields(error: ServiceError) -> Vec<String> {
        match error {
            ServiceError::InvalidArgument(violations) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("not invalid: {other:?}"),
        }
    }

    fn opening(band: &str, born: &str) -> api::OpenCaseRequest {
        api::OpenCaseRequest {
            age_band: band.to_owned(),
            personal_data: Some(person::PersonalData {
                date_of_birth: born.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// 10 March 2026, 23:30 UTC: already 11 March in Rome.
    const ARRIVED: OffsetDateTime = datetime!(2026-03-10 23:30 UTC);

    #[test]
    fn ages_are_whole_years_on_the_day() {
        assert_eq!(
            age_on(date!(2010 - 03 - 11), date!(2026 - 03 - 11)),
            Some(16)
        );
        assert_eq!(
            age_on(date!(2010 - 03 - 12), date!(2026 - 03 - 11)),
            Some(15)
        );
        assert_eq!(age_on(date!(2026 - 03 - 12), date!(2026 - 03 - 11)), None);
        assert_eq!(band_of(17), AgeBand::From16To17);
        assert_eq!(band_of(18), AgeBand::Adult);
        assert_eq!(band_of(0), AgeBand::UpTo5);
    }

    #[test]
    fn an_age_band_agreeing_with_the_date_of_birth_in_rome_is_accepted() {
        // Sixteen on 11 March, the arrival day in Rome (still 10 March in UTC).
        let mut v = Violations::default();
        let band = opening_age_band(&mut v, &opening("16-17", "2010-03-11"), Some(ARRIVED));
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(band, AgeBand::From16To17);
        let mut v = Violations::default();
        assert_eq!(
            opening_age_band(&mut v, &opening("", "2010-03-11"), Some(ARRIVED)),
            AgeBand::Unknown
        );
        assert!(v.is_empty());
    }

    #[test]
    fn an_age_band_disagreeing_with_the_date_of_birth_names_both_fields() {
        let mut v = Violations::default();
        opening_age_band(&mut v, &opening("18+", "2010-03-11"), Some(ARRIVED));
        let error = v.finish().expect_err("refused");
        assert!(!error.to_string().contains("2010"), "no date echoed");
        assert_eq!(fields(error), ["age_band", "personal_data.date_of_birth"]);
        let mut v = Violations::default();
        opening_age_band(&mut v, &opening("minor", ""), Some(ARRIVED));
        assert_eq!(fields(v.finish().expect_err("refused")), ["age_band"]);
    }

    #[test]
    fn unknown_agrees_with_any_date_of_birth() {
        let mut v = Violations::default();
        opening_age_band(&mut v, &opening("unknown", "2010-03-11"), Some(ARRIVED));
        assert!(v.is_empty());
    }

    #[test]
    fn detention_grounds_are_codes_and_the_caller_decides() {
        let request = api::PlaceCaseRequest {
            detention_justification: "public_order".to_owned(),
            detention_authority: "police_chief".to_owned(),
            ..Default::default()
        };
        let mut v = Violations::default();
        assert_eq!(
            detention_grounds(&mut v, &request, "questura-ag"),
            Some(DetentionGrounds {
                justification: DetentionJustification::PublicOrder,
                decided_by_organisation: "questura-ag".to_owned(),
                authority: Some(DetentionAuthority::PoliceChief),
            })
        );
        let free_text = api::PlaceCaseRequest {
            detention_justification: "he looked suspicious".to_owned(),
            detention_authority: "the boss".to_owned(),
            ..Default::default()
        };
        let mut v = Violations::default();
        assert_eq!(detention_grounds(&mut v, &free_text, "questura-ag"), None);
        assert_eq!(
            fields(v.finish().expect_err("refused")),
            ["detention_authority", "detention_justification"]
        );
        let authority_alone = api::PlaceCaseRequest {
            detention_authority: "court".to_owned(),
            ..Default::default()
        };
        let mut v = Violations::default();
        detention_grounds(&mut v, &authority_alone, "questura-ag");
        assert_eq!(
            fields(v.finish().expect_err("refused")),
            ["detention_authority"]
        );
    }

    #[test]
    fn every_field_of_the_new_requests_is_named_when_invalid() {
        let error = refused(age_assessment(
            &api::RecordAgeAssessmentRequest {
                age_band: "unknown".to_owned(),
                ..Default::default()
            },
            "court",
        ));
        assert_eq!(
            fields(error),
            ["request_id", "case_id", "age_band", "assessed_at"]
        );
        let error = refused(guardian(
            &api::AppointGuardianRequest {
                guardian_organisation_id: "Servizi Sociali".to_owned(),
                ..Default::default()
            },
            "court",
        ));
        assert_eq!(
            fields(error),
            [
                "request_id",
                "case_id",
                "guardian_kind",
                "guardian_organisation_id",
                "appointed_at"
            ]
        );
        let error = refused(schedule_follow_up(
            &api::ScheduleFollowUpRequest {
                due_on: "next week".to_owned(),
                ..Default::default()
            },
            "cas-1",
            |_, _| unreachable!("no id for an invalid request"),
        ));
        assert_eq!(
            fields(error),
            ["request_id", "case_id", "due_on", "purpose"]
        );
        let error = refused(record_follow_up(
            &api::RecordFollowUpRequest {
                follow_up_id: "F 1".to_owned(),
                ..Default::default()
            },
            "cas-1",
        ));
        assert_eq!(
            fields(error),
            ["request_id", "case_id", "follow_up_id", "outcome", "at"]
        );
    }
}
