//! Who may read a person's identity, and for what: each purpose of an identity
//! read is open to the organisation types whose work needs it, and the
//! special-category details (health, disability, the person's own words) only
//! to the professional roles bound by secrecy (GDPR Art. 9(2)(h) and 9(3)).

use case_screening::ReadPurpose;
use service_runtime::{Caller, OrganisationType, ServiceError};

/// Roles that may read special-category details, from the caller's token.
pub const SPECIAL_CATEGORY_ROLES: &[&str] = &[
    "physician",
    "psychologist",
    "psychiatrist",
    "nurse",
    "social_worker",
];

/// Whether `org_type` may read identities for `purpose`.
pub fn purpose_open_to(purpose: ReadPurpose, org_type: OrganisationType) -> bool {
    use OrganisationType::*;
    match purpose {
        // Reaching the person: the facility that hosts them.
        ReadPurpose::ContactPerson => org_type == ReceptionOperator,
        // Moving the person between facilities: the facility and the prefecture.
        ReadPurpose::Transfer => matches!(org_type, ReceptionOperator | Prefecture),
        // A legal duty (identification, court orders): the authorities.
        ReadPurpose::LegalObligation => matches!(org_type, Police | Prefecture),
        // Protecting the person from harm: whoever holds the case.
        ReadPurpose::Safeguarding => matches!(org_type, ReceptionOperator | Prefecture | Police),
    }
}

/// Refuses a read whose purpose is not open to the caller's organisation type.
pub fn check_purpose(caller: &Caller, purpose: ReadPurpose) -> Result<(), ServiceError> {
    if purpose_open_to(purpose, caller.organisation_type) {
        Ok(())
    } else {
        Err(ServiceError::PermissionDenied(format!(
            "identities are not read for {} by a {}",
            purpose.code(),
            caller.organisation_type.code()
        )))
    }
}

/// Whether the caller may read the special-category details.
pub fn reads_special_category(caller: &Caller) -> bool {
    caller
        .roles
        .iter()
        .any(|role| SPECIAL_CATEGORY_ROLES.contains(&role.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org_type: OrganisationType, roles: &[&str]) -> Caller {
        Caller {
            subject: "s".to_owned(),
            organisation_id: "org".to_owned(),
            organisation_type: org_type,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            province: Some("AG".to_owned()),
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn each_purpose_is_open_to_the_organisations_whose_work_needs_it() {
        use OrganisationType::*;
        assert!(purpose_open_to(
            ReadPurpose::ContactPerson,
            ReceptionOperator
        ));
        assert!(!purpose_open_to(ReadPurpose::ContactPerson, Police));
        assert!(!purpose_open_to(ReadPurpose::ContactPerson, Prefecture));
        assert!(purpose_open_to(ReadPurpose::LegalObligation, Police));
        assert!(!purpose_open_to(
            ReadPurpose::LegalObligation,
            ReceptionOperator
        ));
        assert!(purpose_open_to(ReadPurpose::Transfer, Prefecture));
        for purpose in ReadPurpose::ALL {
            for org_type in [ReceivingService, Analyst, Administrator] {
                assert!(
                    !purpose_open_to(*purpose, org_type),
                    "{purpose} {org_type:?}"
                );
            }
        }
        let refused = check_purpose(&caller(Police, &[]), ReadPurpose::ContactPerson);
        assert!(matches!(refused, Err(ServiceError::PermissionDenied(_))));
    }

    #[test]
    fn special_category_details_need_a_role_bound_by_secrecy() {
        use OrganisationType::ReceptionOperator;
        assert!(!reads_special_category(&caller(
            ReceptionOperator,
            &["operator"]
        )));
        assert!(reads_special_category(&caller(
            ReceptionOperator,
            &["operator", "psychologist"]
        )));
    }
}
