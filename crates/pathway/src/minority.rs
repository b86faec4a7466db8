//! Who is a minor: the one rule every rule about minors asks, in screening
//! (detention, guardian, first reception) and in referral (consent and
//! assent). The age band says so; or a minor category (MINOR,
//! UNACCOMPANIED_MINOR, AGE_DISPUTED) is not ruled out and the competent
//! authority has not assessed the age: in doubt, minority is presumed, whatever
//! band the opening declared (unknown, or an adult's: the age is disputed).

use crate::{AgeBand, Category, CategoryStatus};

/// Whether a category is suspected or confirmed on the case.
fn not_ruled_out(status: Option<CategoryStatus>) -> bool {
    matches!(
        status,
        Some(CategoryStatus::Suspected | CategoryStatus::Confirmed)
    )
}

/// Presumed a minor: a minor category (MINOR, UNACCOMPANIED_MINOR,
/// AGE_DISPUTED) is not ruled out, and the age band is not a minor's and was
/// not assessed (`age_assessed`: the band is the competent authority's, not
/// the one declared at opening).
pub fn is_presumed_minor(
    age_band: AgeBand,
    age_assessed: bool,
    status_of: impl Fn(Category) -> Option<CategoryStatus>,
) -> bool {
    !age_band.is_minor()
        && !age_assessed
        && Category::ALL
            .iter()
            .any(|category| category.concerns_a_minor() && not_ruled_out(status_of(*category)))
}

/// The one rule of minority: a minor age band, or presumed a minor.
pub fn is_minor(
    age_band: AgeBand,
    age_assessed: bool,
    status_of: impl Fn(Category) -> Option<CategoryStatus>,
) -> bool {
    age_band.is_minor() || is_presumed_minor(age_band, age_assessed, status_of)
}

/// A minor (or presumed one) with UNACCOMPANIED_MINOR not ruled out.
pub fn is_unaccompanied_minor(
    age_band: AgeBand,
    age_assessed: bool,
    status_of: impl Fn(Category) -> Option<CategoryStatus>,
) -> bool {
    not_ruled_out(status_of(Category::UnaccompaniedMinor))
        && is_minor(age_band, age_assessed, status_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suspected(category: Category) -> impl Fn(Category) -> Option<CategoryStatus> {
        move |c| (c == category).then_some(CategoryStatus::Suspected)
    }

    #[test]
    fn a_declared_adult_band_does_not_defeat_a_disputed_age_an_assessed_one_does() {
        let disputed = suspected(Category::AgeDisputed);
        assert!(is_presumed_minor(AgeBand::Adult, false, &disputed));
        assert!(is_presumed_minor(AgeBand::Unknown, false, &disputed));
        assert!(!is_minor(AgeBand::Adult, true, &disputed), "assessed");
        assert!(!is_minor(AgeBand::Adult, false, |_| None), "no doubt");
        let unaccompanied = suspected(Category::UnaccompaniedMinor);
        assert!(is_unaccompanied_minor(
            AgeBand::Adult,
            false,
            &unaccompanied
        ));
        assert!(!is_unaccompanied_minor(
            AgeBand::Adult,
            true,
            &unaccompanied
        ));
        assert!(is_minor(AgeBand::From16To17, true, |_| None));
        assert!(!is_presumed_minor(AgeBand::From16To17, false, &disputed));
    }
}
