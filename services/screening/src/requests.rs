//! Validation at the edge: each gRPC request becomes a domain command, or
//! INVALID_ARGUMENT naming every offending field. Messages describe the rule,
//! never echo the value (it may be personal data).

use case_log_jetstream::envelope::from_timestamp;
use case_screening::*;
use contracts::person::v1 as person;
use contracts::screening::v1 as api;
use pathway::vocabularies::{Vocabularies, VocabularyKind};
use pathway::{Category, Urgency};
use service_runtime::{ServiceError, Violations};
use time::OffsetDateTime;

use crate::codec::parse_date;

/// A client request id: 1 to 128 characters of `[A-Za-z0-9._:-]`.
/// A client request id (the rule is the runtime's, shared by every service).
pub fn request_id(violations: &mut Violations, raw: &str) -> String {
    violations.request_id(raw)
}

pub fn case_id(violations: &mut Violations, raw: &str) -> Option<CaseId> {
    violations.check("case_id", CaseId::parse(raw))
}

pub(crate) fn time(
    violations: &mut Violations,
    field: &str,
    raw: &Option<prost_types::Timestamp>,
) -> Option<OffsetDateTime> {
    match raw.as_ref().map(|t| (t, from_timestamp(t))) {
        None => {
            violations.add(field, "is required");
            None
        }
        Some((t, Some(at))) if t.nanos >= 0 && t.nanos < 1_000_000_000 => Some(at),
        Some(_) => {
            violations.add(field, "is not a valid time");
            None
        }
    }
}

/// Codes of one closed vocabulary in force.
fn codes(
    violations: &mut Violations,
    in_force: &Vocabularies,
    kind: VocabularyKind,
    field: &str,
    raw: &[String],
) -> Vec<Code> {
    if raw.len() > 32 {
        violations.add(field, "at most 32 codes");
    }
    violations.each(field, raw, |c| in_force.code(kind, c))
}

fn suspicion(
    violations: &mut Violations,
    in_force: &Vocabularies,
    field: &str,
    raw: Option<&api::SuspectedCategory>,
) -> Option<Suspicion> {
    let Some(raw) = raw else {
        violations.add(field, "is required");
        return None;
    };
    let category = violations.check(
        &format!("{field}.category"),
        Category::from_code(&raw.category),
    );
    let indicators = codes(
        violations,
        in_force,
        VocabularyKind::Indicator,
        &format!("{field}.indicators"),
        &raw.indicators,
    );
    let other_need = other_need(violations, in_force, field, &raw.other_need);
    Some(Suspicion {
        category: category?,
        indicators,
        other_need,
    })
}

/// The code of an `OTHER` need, if any: one of the `other_need` vocabulary in
/// force (that `OTHER` and only it carries one is the domain's rule).
fn other_need(
    violations: &mut Violations,
    in_force: &Vocabularies,
    field: &str,
    raw: &str,
) -> Option<Code> {
    if raw.is_empty() {
        return None;
    }
    violations.check(
        &format!("{field}.other_need"),
        in_force.code(VocabularyKind::OtherNeed, raw),
    )
}

fn text(violations: &mut Violations, field: &str, raw: &str, max: usize) {
    if raw.chars().count() > max {
        violations.add(field, format!("at most {max} characters"));
    }
    if raw.chars().any(|c| c.is_control() && c != '\n') {
        violations.add(field, "must not contain control characters");
    }
}

fn personal_data(violations: &mut Violations, raw: &person::PersonalData) {
    for (field, value) in [
        ("personal_data.given_names", &raw.given_names),
        ("personal_data.family_names", &raw.family_names),
        ("personal_data.gender_identity", &raw.gender_identity),
        ("personal_data.contact", &raw.contact),
    ] {
        text(violations, field, value, 200);
    }
    if !raw.date_of_birth.is_empty() && parse_date(&raw.date_of_birth).is_err() {
        violations.add("personal_data.date_of_birth", "must be a date YYYY-MM-DD");
    }
    for (i, n) in raw.nationalities.iter().enumerate() {
        if n.len() != 3 || !n.bytes().all(|b| b.is_ascii_uppercase()) {
            violations.add(
                format!("personal_data.nationalities[{i}]"),
                "must be an ISO 3166-1 alpha-3 code",
            );
        }
    }
    for (i, l) in raw.languages.iter().enumerate() {
        if !(2..=3).contains(&l.len()) || !l.bytes().all(|b| b.is_ascii_lowercase()) {
            violations.add(
                format!("personal_data.languages[{i}]"),
                "must be an ISO 639 code",
            );
        }
    }
    if !matches!(
        raw.sex.as_str(),
        "" | "female" | "male" | "other" | "unknown"
    ) {
        violations.add(
            "personal_data.sex",
            "must be female, male, other or unknown",
        );
    }
}

fn special_category(violations: &mut Violations, raw: &person::SpecialCategoryDetails) {
    for (field, value) in [
        ("special_category_details.health_notes", &raw.health_notes),
        (
            "special_category_details.disability_details",
            &raw.disability_details,
        ),
        ("special_category_details.other_notes", &raw.other_notes),
    ] {
        text(violations, field, value, 2_000);
    }
}

/// Validates an `OpenCase` request; its personal data is sealed by the caller.
pub fn open_case(
    request: &api::OpenCaseRequest,
    new_case_id: impl FnOnce(&str) -> CaseId,
) -> Result<(String, OpenCase), ServiceError> {
    let mut v = Violations::default();
    let request_id = request_id(&mut v, &request.request_id);
    let (place, arrived_at) = match &request.arrival {
        Some(arrival) => (
            v.check("arrival.place", PlaceCode::parse(&arrival.place)),
            time(&mut v, "arrival.arrived_at", &arrival.arrived_at),
        ),
        None => {
            v.add("arrival", "is required");
            (None, None)
        }
    };
    let province = v.check("province", Province::parse(&request.province));
    let facility_id = v.check("facility_id", FacilityId::parse(&request.facility_id));
    let family_links: Vec<FamilyLink> = request
        .family_links
        .iter()
        .enumerate()
        .filter_map(|(i, link)| {
            let case_id = v.check(
                &format!("family_links[{i}].case_id"),
                CaseId::parse(&link.case_id),
            );
            let relation = v.check(
                &format!("family_links[{i}].relation"),
                Relation::from_code(&link.relation),
            );
            Some(FamilyLink {
                case_id: case_id?,
                relation: relation?,
            })
        })
        .collect();
    if request.family_links.len() > 32 {
        v.add("family_links", "at most 32 links");
    }
    let application_date = if request.application_date.is_empty() {
        None
    } else {
        v.check("application_date", parse_date(&request.application_date))
    };
    if let Some(data) = &request.personal_data {
        personal_data(&mut v, data);
    }
    if let Some(details) = &request.special_category_details {
        special_category(&mut v, details);
    }
    let age_band = crate::protection_requests::opening_age_band(&mut v, request, arrived_at);
    // The sex as the personal data records it (validated there), in clear on
    // the case for sex-separated places; the identity itself is sealed.
    let sex = request
        .personal_data
        .as_ref()
        .and_then(|p| Sex::from_code(&p.sex).ok())
        .unwrap_or(Sex::Unknown);
    v.finish()?;
    let (Some(arrival_place), Some(arrived_at), Some(province), Some(facility_id)) =
        (place, arrived_at, province, facility_id)
    else {
        return Err(ServiceError::validated_without_fields());
    };
    let open = OpenCase {
        case_id: new_case_id(&request_id),
        arrival_place,
        arrived_at,
        province,
        facility_id,
        // The facility's registered kind, which the handler reads from the
        // registry (never from the request); the time is the domain's.
        facility_kind: None,
        opened_at: None,
        family_links,
        application_date,
        age_band,
        sex,
    };
    Ok((request_id, open))
}

/// The parts every command on an existing case has.
pub struct Target {
    pub request_id: String,
    pub case_id: CaseId,
}

pub(crate) fn target(
    v: &mut Violations,
    request_id_raw: &str,
    case_id_raw: &str,
) -> (String, Option<CaseId>) {
    (request_id(v, request_id_raw), case_id(v, case_id_raw))
}

pub(crate) fn finish(
    v: Violations,
    request_id: String,
    case_id: Option<CaseId>,
    command: Option<Command>,
) -> Result<(Target, Command), ServiceError> {
    v.finish()?;
    match (case_id, command) {
        (Some(case_id), Some(command)) => Ok((
            Target {
                request_id,
                case_id,
            },
            command,
        )),
        _ => Err(ServiceError::validated_without_fields()),
    }
}

pub fn preliminary_check(
    r: &api::RecordPreliminaryCheckRequest,
    in_force: &Vocabularies,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    if r.suspected.len() > Category::ALL.len() {
        v.add("suspected", "too many categories");
    }
    let suspected: Vec<Option<Suspicion>> = r
        .suspected
        .iter()
        .enumerate()
        .map(|(i, s)| suspicion(&mut v, in_force, &format!("suspected[{i}]"), Some(s)))
        .collect();
    let health_flags = codes(
        &mut v,
        in_force,
        VocabularyKind::HealthFlag,
        "health_flags",
        &r.health_flags,
    );
    let urgency = v.check("urgency", Urgency::from_code(&r.urgency));
    let place = v.check("place", PlaceCode::parse(&r.place));
    let checked_at = time(&mut v, "checked_at", &r.checked_at);
    let command = (|| {
        Some(Command::RecordPreliminaryCheck(PreliminaryCheck {
            suspected: suspected.into_iter().collect::<Option<Vec<_>>>()?,
            urgent_care_needed: r.urgent_care_needed,
            health_flags,
            urgency: urgency?,
            place: place?,
            checked_at: checked_at?,
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn signal(
    r: &api::RaiseVulnerabilitySignalRequest,
    organisation: &str,
    in_force: &Vocabularies,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let suspected = suspicion(&mut v, in_force, "suspected", r.suspected.as_ref());
    let urgency = v.check("urgency", Urgency::from_code(&r.urgency));
    let role = v.check(
        "raised_by_role",
        in_force.code(VocabularyKind::Role, &r.raised_by_role),
    );
    let raised_at = time(&mut v, "raised_at", &r.raised_at);
    let command = (|| {
        Some(Command::RaiseSignal(Signal {
            suspected: suspected?,
            urgency: urgency?,
            raised_by_role: role?,
            raised_by_organisation: organisation.to_owned(),
            raised_at: raised_at?,
            gbv_disclosure: r.gbv_disclosure,
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn assessment(
    r: &api::RecordAssessmentRequest,
    in_force: &Vocabularies,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    if r.outcomes.len() > Category::ALL.len() {
        v.add("outcomes", "too many categories");
    }
    let mut other_code = None;
    let outcomes: Vec<Option<(Category, Outcome)>> = r
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let category = v.check(
                &format!("outcomes[{i}].category"),
                Category::from_code(&o.category),
            );
            let outcome = v.check(
                &format!("outcomes[{i}].status"),
                Outcome::from_code(&o.status),
            );
            let field = format!("outcomes[{i}]");
            match category {
                // The domain's assessment carries OTHER's code (a category is
                // assessed once); it requires one.
                Some(Category::Other) => {
                    other_code = other_need(&mut v, in_force, &field, &o.other_need)
                }
                _ if !o.other_need.is_empty() => v.add(
                    format!("{field}.other_need"),
                    "only OTHER carries a code of the other_need vocabulary",
                ),
                _ => {}
            }
            Some((category?, outcome?))
        })
        .collect();
    let assessed_at = time(&mut v, "assessed_at", &r.assessed_at);
    let role = v.check(
        "assessor_role",
        in_force.code(VocabularyKind::Role, &r.assessor_role),
    );
    let urgency = if r.urgency.is_empty() {
        Some(None)
    } else {
        v.check("urgency", Urgency::from_code(&r.urgency)).map(Some)
    };
    let command = (|| {
        Some(Command::RecordAssessment(Assessment {
            outcomes: outcomes.into_iter().collect::<Option<Vec<_>>>()?,
            special_reception_needs: r.special_reception_needs,
            special_procedural_guarantees: r.special_procedural_guarantees,
            assessed_at: assessed_at?,
            assessor_role: role?,
            urgency: urgency?,
            other_need: other_code,
        }))
    })();
    finish(v, request_id, case_id, command)
}

/// A formal identification by `organisation`: the caller's verified
/// organisation (whether it is a competent body is the handler's check).
pub fn formal_identification(
    r: &api::RecordFormalIdentificationRequest,
    organisation: &str,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let category = v.check("category", Category::from_code(&r.category));
    let identified_at = time(&mut v, "identified_at", &r.identified_at);
    let command = (|| {
        Some(Command::RecordFormalIdentification(FormalIdentification {
            category: category?,
            identified_by_organisation: organisation.to_owned(),
            identified_at: identified_at?,
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn application(r: &api::RecordApplicationRequest) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let date = v.check("application_date", parse_date(&r.application_date));
    let command = date.map(|application_date| Command::RecordApplication { application_date });
    finish(v, request_id, case_id, command)
}

/// A placement by `organisation` (who decides a detention); the new facility
/// must confirm the person's arrival within `arrival_within`.
pub fn placement(
    r: &api::PlaceCaseRequest,
    organisation: &str,
    arrival_within: time::Duration,
) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let facility_id = v.check("facility_id", FacilityId::parse(&r.facility_id));
    let province = v.check("province", Province::parse(&r.province));
    let kind = v.check("facility_kind", FacilityKind::from_code(&r.facility_kind));
    let placed_at = time(&mut v, "placed_at", &r.placed_at);
    let detention = crate::protection_requests::detention_grounds(&mut v, r, organisation);
    let command = (|| {
        Some(Command::Place(Placement {
            facility_id: facility_id?,
            province: province?,
            facility_kind: kind?,
            placed_at: placed_at?,
            arrival_due_at: placed_at.map(|at| at + arrival_within),
            detention,
        }))
    })();
    finish(v, request_id, case_id, command)
}

pub fn close(r: &api::CloseCaseRequest) -> Result<(Target, Command), ServiceError> {
    let mut v = Violations::default();
    let (request_id, case_id) = target(&mut v, &r.request_id, &r.case_id);
    let reason = v.check("reason", CloseReason::from_code(&r.reason));
    let closed_at = time(&mut v, "closed_at", &r.closed_at);
    let command = (|| {
        Some(Command::Close {
            reason: reason?,
            closed_at: closed_at?,
        })
    })();
    finish(v, request_id, case_id, command)
}
