//! Who is a minor: the one rule every rule about minors asks, in screening
//! (detention, guardian, first reception) and in referral (consent and
//! assent). The age band says so, or it is unknown and a minor category
//! (MINOR, UNACCOMPANIED_MINOR, AGE_DISPUTED) is not ruled out: in doubt,
//! minority is presumed until the competent authority assesses the age.

use crate::{AgeBand, Category, CategoryStatus};

/// Whether a category is suspected or confirmed on the case.
fn not_ruled_out(status: Option<CategoryStatus>) -> bool {
    matches!(
        status,
        Some(CategoryStatus::Suspected | CategoryStatus::Confirmed)
    )
}

/// Presumed a minor: the age band is unknown and a minor category (MINOR,
/// UNACCOMPANIED_MINOR, AGE_DISPUTED) is not ruled out.
pub fn is_presumed_minor(
    age_band: AgeBand,
    status_of: impl Fn(Category) -> Option<CategoryStatus>,
) -> bool {
    age_band == AgeBand::Unknown
        && Category::ALL
            .iter()
            .any(|category| category.concerns_a_minor() && not_ruled_out(status_of(*category)))
}

/// The one rule of minority: a minor age band, or presumed a minor.
pub fn is_minor(age_band: AgeBand, status_of: impl Fn(Category) -> Option<CategoryStatus>) -> bool {
    age_band.is_minor() || is_presumed_minor(age_band, status_of)
}

/// A minor (or presumed one) with UNACCOMPANIED_MINOR not ruled out.
pub fn is_unaccompanied_minor(
    age_band: AgeBand,
    status_of: impl Fn(Category) -> Option<CategoryStatus>,
) -> bool {
    not_ruled_out(status_of(Category::UnaccompaniedMinor)) && is_minor(age_band, status_of)
}
