//! Validation at the edge: requests become domain commands, or
//! INVALID_ARGUMENT naming every offending field (never echoing values).
//! Urgency, sex and age band are never read from a request.

use contracts::safe_space::v1 as api;
use safe_space_allocation::{
    Avoid, Capacity, CaseId, Needs, OrganisationId, Province, ReferralId, ReleaseReason, SpaceId,
    SpaceKind, SpaceProfile,
};
use service_runtime::{ServiceError, Violations};

use crate::codec;

/// Which allocator a request names.
pub fn allocator(
    v: &mut Violations,
    raw: Option<&api::AllocatorRef>,
) -> Option<(Province, SpaceKind)> {
    let Some(raw) = raw else {
        v.add("allocator", "is required");
        return None;
    };
    let province = v.check("allocator.province", Province::parse(&raw.province));
    let kind = v.check("allocator.kind", SpaceKind::from_code(&raw.kind));
    Some((province?, kind?))
}

fn case_id(v: &mut Violations, raw: &str) -> Option<CaseId> {
    v.check("case_id", CaseId::parse(raw))
}

/// The longest name and address of a space, in characters.
pub const NAME_MAX: usize = 200;
pub const ADDRESS_MAX: usize = 500;

/// Plain text: not blank, at most `max` characters, no control characters
/// (a newline included). The value is never echoed.
fn plain_text(v: &mut Violations, field: &str, raw: &str, max: usize) {
    if raw.trim().is_empty() {
        v.add(field, "is required");
    } else if raw.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    } else if raw.chars().any(char::is_control) {
        v.add(field, "must not contain control characters");
    }
}

/// A registration: its request id, the profile, and the real name and
/// address (both or neither) to seal.
pub type Registration = (String, SpaceProfile, Option<api::SpaceLocation>);

pub fn register_safe_space(
    request: &api::RegisterSafeSpaceRequest,
) -> Result<Registration, ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let location = if request.name.is_empty() && request.address.is_empty() {
        None
    } else {
        plain_text(&mut v, "name", &request.name, NAME_MAX);
        plain_text(&mut v, "address", &request.address, ADDRESS_MAX);
        Some(api::SpaceLocation {
            name: request.name.clone(),
            address: request.address.clone(),
        })
    };
    let profile = match request.profile.as_ref() {
        None => {
            v.add("profile", "is required");
            None
        }
        Some(p) => {
            let kind = v.check("profile.kind", SpaceKind::from_code(&p.kind));
            let organisation = v.check(
                "profile.organisation_id",
                OrganisationId::parse(&p.organisation_id),
            );
            let province = v.check("profile.province", Province::parse(&p.province));
            if p.capacity.is_none() {
                v.add("profile.capacity", "is required");
            }
            let eligibility = match codec::eligibility_from_wire(p.eligibility.as_ref()) {
                Ok(e) => Some(e),
                Err(field) => {
                    v.add(format!("profile.{field}"), "has an unknown code");
                    None
                }
            };
            match (kind, organisation, province, eligibility) {
                (Some(kind), Some(organisation), Some(province), Some(eligibility)) => {
                    let profile = SpaceProfile {
                        kind,
                        organisation,
                        province,
                        capacity: codec::capacity_from_wire(p.capacity.as_ref()),
                        eligibility,
                    };
                    if let Err((field, reason)) = profile.check() {
                        v.add(format!("profile.{field}"), reason);
                    }
                    Some(profile)
                }
                _ => None,
            }
        }
    };
    v.finish()?;
    Ok((
        request_id,
        profile.ok_or_else(ServiceError::validated_without_fields)?,
        location,
    ))
}

pub struct PlaceRequest {
    pub request_id: String,
    pub case: CaseId,
    pub province: Province,
    pub kind: SpaceKind,
    pub needs: Needs,
    pub referral: Option<ReferralId>,
}

pub fn request_place(request: &api::RequestPlaceRequest) -> Result<PlaceRequest, ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let case = case_id(&mut v, &request.case_id);
    let allocator = allocator(&mut v, request.allocator.as_ref());
    let needs = match request.needs.as_ref() {
        None => Some(Needs::default()),
        Some(raw) => {
            let children = match u8::try_from(raw.children) {
                Ok(children) => Some(children),
                Err(_) => {
                    v.add("needs.children", "at most 20");
                    None
                }
            };
            let languages = v.each("needs.languages", &raw.languages, |l| {
                safe_space_allocation::Language::parse(l)
            });
            let provinces = v.each(
                "needs.preferred_provinces",
                &raw.preferred_provinces,
                Province::parse,
            );
            children.map(|children| Needs {
                children,
                accessibility: raw.accessibility,
                languages: languages.into_iter().collect(),
                preferred_provinces: provinces,
                avoid: Default::default(),
            })
        }
    };
    // Places to avoid: opaque space ids and organisation ids (never echoed).
    let avoid_spaces = v.each("avoid_space_ids", &request.avoid_space_ids, SpaceId::parse);
    let avoid_organisations = v.each(
        "avoid_organisation_ids",
        &request.avoid_organisation_ids,
        OrganisationId::parse,
    );
    let needs = needs.map(|mut needs| {
        needs.avoid = avoid_spaces
            .into_iter()
            .map(Avoid::Space)
            .chain(avoid_organisations.into_iter().map(Avoid::Organisation))
            .collect();
        needs
    });
    if let Some(Err((field, reason))) = needs.as_ref().map(Needs::check) {
        v.add(field, reason);
    }
    let referral = if request.referral_id.is_empty() {
        None
    } else {
        v.check("referral_id", ReferralId::parse(&request.referral_id))
    };
    v.finish()?;
    let missing = ServiceError::validated_without_fields;
    let (province, kind) = allocator.ok_or_else(missing)?;
    Ok(PlaceRequest {
        request_id,
        case: case.ok_or_else(missing)?,
        province,
        kind,
        needs: needs.ok_or_else(missing)?,
        referral,
    })
}

/// A command naming a case in an allocator: request id, case, allocator.
pub fn case_in_allocator(
    request_id: &str,
    case: &str,
    allocator_ref: Option<&api::AllocatorRef>,
) -> Result<(String, CaseId, Province, SpaceKind), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(request_id);
    let case = case_id(&mut v, case);
    let allocator = allocator(&mut v, allocator_ref);
    v.finish()?;
    let missing = ServiceError::validated_without_fields;
    let (province, kind) = allocator.ok_or_else(missing)?;
    Ok((request_id, case.ok_or_else(missing)?, province, kind))
}

/// A release by a party: `discharge` or `transfer` only (the others are the service's own).
pub fn release_place(
    request: &api::ReleasePlaceRequest,
) -> Result<(String, CaseId, Province, SpaceKind, ReleaseReason), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let case = case_id(&mut v, &request.case_id);
    let allocator = allocator(&mut v, request.allocator.as_ref());
    let reason = match ReleaseReason::from_code(&request.reason) {
        Ok(reason) if !reason.by_the_system_only() => Some(reason),
        _ => {
            v.add("reason", "must be discharge or transfer");
            None
        }
    };
    v.finish()?;
    let missing = ServiceError::validated_without_fields;
    let (province, kind) = allocator.ok_or_else(missing)?;
    Ok((
        request_id,
        case.ok_or_else(missing)?,
        province,
        kind,
        reason.ok_or_else(missing)?,
    ))
}

/// A case id of a query.
pub fn query_case(raw: &str) -> Result<CaseId, ServiceError> {
    let mut v = Violations::default();
    let case = case_id(&mut v, raw);
    v.finish()?;
    case.ok_or_else(ServiceError::validated_without_fields)
}

/// The allocator of a query.
pub fn query_allocator(
    raw: Option<&api::AllocatorRef>,
) -> Result<(Province, SpaceKind), ServiceError> {
    let mut v = Violations::default();
    let allocator = allocator(&mut v, raw);
    v.finish()?;
    allocator.ok_or_else(ServiceError::validated_without_fields)
}

/// A space named by a registry command: request id and space id.
pub fn space_command(request_id: &str, space_id: &str) -> Result<(String, SpaceId), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(request_id);
    let space = v.check("space_id", SpaceId::parse(space_id));
    v.finish()?;
    Ok((
        request_id,
        space.ok_or_else(ServiceError::validated_without_fields)?,
    ))
}

pub fn change_capacity(
    request: &api::ChangeSafeSpaceCapacityRequest,
) -> Result<(String, SpaceId, Capacity), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let space = v.check("space_id", SpaceId::parse(&request.space_id));
    if request.capacity.is_none() {
        v.add("capacity", "is required");
    }
    v.finish()?;
    Ok((
        request_id,
        space.ok_or_else(ServiceError::validated_without_fields)?,
        codec::capacity_from_wire(request.capacity.as_ref()),
    ))
}

pub struct LocationQuery {
    pub request_id: String,
    pub case: CaseId,
    pub space: SpaceId,
    pub purpose: safe_space_allocation::DisclosurePurpose,
}

pub fn disclose_location(
    request: &api::DiscloseLocationRequest,
) -> Result<LocationQuery, ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let case = case_id(&mut v, &request.case_id);
    let space = v.check("space_id", SpaceId::parse(&request.space_id));
    let purpose = v.check(
        "purpose",
        safe_space_allocation::DisclosurePurpose::from_code(&request.purpose),
    );
    v.finish()?;
    let missing = ServiceError::validated_without_fields;
    Ok(LocationQuery {
        request_id,
        case: case.ok_or_else(missing)?,
        space: space.ok_or_else(missing)?,
        purpose: purpose.ok_or_else(missing)?,
    })
}

/// A choice among the proposals: request id, case, allocator, space.
pub fn reserve(
    request: &api::ReserveRequest,
) -> Result<(String, CaseId, Province, SpaceKind, SpaceId), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let case = case_id(&mut v, &request.case_id);
    let allocator = allocator(&mut v, request.allocator.as_ref());
    let space = v.check("space_id", SpaceId::parse(&request.space_id));
    v.finish()?;
    let missing = ServiceError::validated_without_fields;
    let (province, kind) = allocator.ok_or_else(missing)?;
    Ok((
        request_id,
        case.ok_or_else(missing)?,
        province,
        kind,
        space.ok_or_else(missing)?,
    ))
}

/// The province of an availability watch.
pub fn watch_province(raw: &str) -> Result<Province, ServiceError> {
    let mut v = Violations::default();
    let province = v.check("province", Province::parse(raw));
    v.finish()?;
    province.ok_or_else(ServiceError::validated_without_fields)
}
