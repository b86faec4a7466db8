//! Which receivers to suggest for a case (SuggestReceivers): the service types
//! the rules in force give for the case's live categories, and for each, the
//! directory's organisations that can take the referral, best first.

use pathway::Category;

use crate::directory::OrganisationProfile;
use crate::pathway_rules::PathwayRules;
use crate::{Availability, Language, OrganisationId, Province, ServiceType};

/// What is asked for: the case's needs and where the person is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// The case's categories that are suspected or confirmed, not ruled out.
    pub categories: &'a [Category],
    pub province: &'a Province,
    /// Organisations speaking it come first.
    pub language: Option<&'a Language>,
    /// Only this service type, instead of every type the rules give.
    pub service_type: Option<ServiceType>,
}

/// One organisation to refer to, for one service type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub organisation_id: OrganisationId,
    pub service_type: ServiceType,
    /// The case's categories that lead to this service type, in the case's order.
    pub because_of: Vec<Category>,
    /// It speaks the language asked for (false when none was asked).
    pub speaks_language: bool,
}

/// Suggestions grouped by service type in the rules' order; within a type, the
/// active organisations that are not full, offer it and serve the province,
/// those speaking the language first, then the available ones, then by name,
/// ties in the directory's order.
pub fn suggest(
    wanted: &Wanted<'_>,
    rules: &PathwayRules,
    directory: &[OrganisationProfile],
) -> Vec<Suggestion> {
    let speaks = |organisation: &OrganisationProfile| {
        wanted
            .language
            .is_some_and(|language| organisation.languages.contains(language))
    };
    let mut suggestions = Vec::new();
    for service_type in rules.service_types_for(wanted.categories) {
        if wanted.service_type.is_some_and(|only| only != service_type) {
            continue;
        }
        let because_of: Vec<Category> = wanted
            .categories
            .iter()
            .copied()
            .filter(|category| {
                rules
                    .service_types_for(&[*category])
                    .contains(&service_type)
            })
            .collect();
        let mut matching: Vec<&OrganisationProfile> = directory
            .iter()
            .filter(|o| o.active && o.availability != Availability::Full)
            .filter(|o| o.service_types.contains(&service_type))
            .filter(|o| o.provinces.contains(wanted.province))
            .collect();
        // A stable sort: organisations alike keep the directory's order.
        matching.sort_by_key(|o| {
            (
                !speaks(o),
                o.availability != Availability::Available,
                o.name.clone(),
            )
        });
        suggestions.extend(matching.into_iter().map(|organisation| Suggestion {
            organisation_id: organisation.organisation_id.clone(),
            service_type,
            because_of: because_of.clone(),
            speaks_language: speaks(organisation),
        }));
    }
    suggestions
}
