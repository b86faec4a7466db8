//! The screening events between the domain and the wire: the codec itself is
//! the shared `event_codecs::screening` (monitoring's replay decodes with it
//! too); this service adds what needs the person's key: sealing the personal
//! parts of `CaseOpened`.

pub use event_codecs::screening::*;

use contracts::person::v1 as person;

/// Seals the request's personal data with the person's key.
pub fn sealed_parts(
    key: &person_crypto::DataKey,
    case_id: &str,
    personal_data: Option<&person::PersonalData>,
    special: Option<&person::SpecialCategoryDetails>,
) -> Result<PersonalParts, service_runtime::ServiceError> {
    use service_runtime::person_keys::seal;
    Ok(PersonalParts {
        identity: personal_data
            .map(|p| seal(key, case_id, IDENTITY, p))
            .transpose()?
            .map(contracts::screening::v1::case_opened::Identity::EncryptedPersonalData),
        special_category: special
            .map(|s| seal(key, case_id, SPECIAL_CATEGORY, s))
            .transpose()?
            .map(contracts::screening::v1::case_opened::SpecialCategory::EncryptedSpecialCategoryDetails),
    })
}
