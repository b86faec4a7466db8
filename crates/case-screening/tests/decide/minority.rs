//! Who is a minor: the one rule every rule about minors asks. The age band
//! says so, or a minor category is not ruled out and no assessment decided the
//! band (in doubt, minority is presumed, whatever the opening declared);
//! unaccompanied when UNACCOMPANIED_MINOR is not ruled out.

use super::care::*;
use super::support::*;

#[test]
fn a_minor_age_band_is_a_minor_whatever_the_categories() {
    for band in [
        AgeBand::UpTo5,
        AgeBand::From6To13,
        AgeBand::From14To15,
        AgeBand::From16To17,
    ] {
        let state = given(&[opened_as(band)]);
        assert!(state.is_minor(), "{band}");
        assert!(!state.is_presumed_minor(), "{band}");
        assert!(
            !state.is_unaccompanied_minor(),
            "{band}: accompaniment not recorded"
        );
    }
}

#[test]
fn an_adult_band_declared_at_opening_yields_to_a_minor_category_until_assessed() {
    // The opening declared 18+, the check disputes it: in doubt, a minor.
    for category in [
        Category::Minor,
        Category::UnaccompaniedMinor,
        Category::AgeDisputed,
    ] {
        let state = given(&[opened_as(AgeBand::Adult), suspected(category)]);
        assert!(state.is_minor() && state.is_presumed_minor(), "{category}");
    }
    let mut events = vec![
        opened_as(AgeBand::Adult),
        suspected(Category::UnaccompaniedMinor),
    ];
    assert!(given(&events).is_unaccompanied_minor());
    // Only the competent authority's assessment ends the doubt.
    events.push(Event::AgeAssessed(age_assessment(AgeBand::Adult, NOW)));
    let assessed = given(&events);
    assert!(!assessed.is_minor() && !assessed.is_unaccompanied_minor());
    // No minor category: no doubt about the declared adult.
    assert!(!given(&[opened_as(AgeBand::Adult), suspected(Category::Torture)]).is_minor());
}

#[test]
fn an_unknown_band_with_a_minor_category_not_ruled_out_is_presumed_a_minor() {
    for category in [
        Category::Minor,
        Category::UnaccompaniedMinor,
        Category::AgeDisputed,
    ] {
        let state = given(&[opened_as(AgeBand::Unknown), suspected(category)]);
        assert!(state.is_minor(), "{category}");
        assert!(state.is_presumed_minor(), "{category}");
    }
    let none = given(&[opened_as(AgeBand::Unknown), suspected(Category::Torture)]);
    assert!(!none.is_minor());
    let ruled_out = given(&[
        opened_as(AgeBand::Unknown),
        suspected(Category::AgeDisputed),
        assessed_early(&[(Category::AgeDisputed, Outcome::RuledOut)]),
    ]);
    assert!(!ruled_out.is_minor());
}

#[test]
fn unaccompanied_means_unaccompanied_minor_not_ruled_out() {
    assert!(given(&unaccompanied_minor()).is_unaccompanied_minor());
    let presumed = given(&[
        opened_as(AgeBand::Unknown),
        suspected(Category::UnaccompaniedMinor),
    ]);
    assert!(presumed.is_unaccompanied_minor() && presumed.is_presumed_minor());
    let accompanied = given(&[
        opened_as(AgeBand::From6To13),
        suspected(Category::UnaccompaniedMinor),
        assessed_early(&[
            (Category::UnaccompaniedMinor, Outcome::RuledOut),
            (Category::Minor, Outcome::Confirmed),
        ]),
    ]);
    assert!(accompanied.is_minor() && !accompanied.is_unaccompanied_minor());
}

#[test]
fn the_assessed_age_replaces_the_band_of_the_opening() {
    let mut events = unaccompanied_minor();
    events.push(Event::AgeAssessed(age_assessment(AgeBand::Adult, NOW)));
    let state = given(&events);
    assert_eq!(state.age_band(), AgeBand::Adult);
    assert!(!state.is_minor() && !state.is_unaccompanied_minor());
    assert_eq!(
        state.minor.age_assessed,
        Some(age_assessment(AgeBand::Adult, NOW))
    );
}

#[test]
fn an_opening_recorded_before_age_bands_reads_as_unknown() {
    // What the codec decodes from a CaseOpened without age_band.
    let state = given(&[opened_in(None, AgeBand::Unknown)]);
    assert_eq!(state.age_band(), AgeBand::Unknown);
    assert!(!state.is_minor());
    assert_eq!(state.minor.first_reception.entered_on, None);
}
