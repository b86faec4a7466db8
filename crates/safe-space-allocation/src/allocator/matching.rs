//! Who may be offered which space, and in which order of fit: the one rule
//! of eligibility (sex, age band, families with children, accessibility,
//! places to avoid), and the proposals of free eligible spaces, best first.

use crate::allocator::{Entry, Space, State};
use crate::{Avoid, CaseId, SpaceId, Unit};

/// Whether `space` may ever be offered to the person of `entry` (whether a
/// unit is free is another question):
/// - the space is open, and not a place the person must avoid (the space,
///   or its managing organisation; a list that can no longer be read avoids
///   every space);
/// - it admits the person's sex (`unknown` only where any sex is admitted)
///   and age band (exactly: an unknown band only where it is listed, or any);
/// - a family with children only where families are admitted, in a family
///   room (a single women-only room never has one) that holds the parent
///   and the children when the rooms are sized (unsized: one family per room);
/// - an accessible need only in an accessible space;
/// - the space has capacity in the unit the person needs.
pub fn eligible(space_id: &SpaceId, space: &Space, entry: &Entry) -> bool {
    let eligibility = &space.eligibility;
    let needs = &entry.needs;
    !space.closed
        && !needs.avoid.contains(&Avoid::Unreadable)
        && !needs.avoid.contains(&Avoid::Space(space_id.clone()))
        && !needs
            .avoid
            .contains(&Avoid::Organisation(space.organisation.clone()))
        && (eligibility.sexes.is_empty() || eligibility.sexes.contains(&entry.sex))
        && (eligibility.age_bands.is_empty() || eligibility.age_bands.contains(&entry.age_band))
        && (needs.children == 0 || eligibility.families_with_children)
        && (needs.children == 0
            || eligibility.family_room_persons == 0
            || u32::from(needs.children) < u32::from(eligibility.family_room_persons))
        && (!needs.accessibility || eligibility.accessible)
        && space.capacity.of(needs.unit()) > 0
}

/// A free eligible space for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub space: SpaceId,
    pub unit: Unit,
    /// Units of that kind free there now.
    pub free: u32,
}

/// The spaces with a free unit `case` is eligible for, best fit first: a
/// space whose staff speak one of the person's languages; then one that does
/// not spend what others need (an accessible space on a person without an
/// accessibility need, a space for families on a person without children);
/// then by space id. Empty for a case not here.
pub fn proposals(state: &State, case: &CaseId) -> Vec<Proposal> {
    let Some(entry) = state.cases.get(case) else {
        return Vec::new();
    };
    let unit = entry.needs.unit();
    let mut proposals: Vec<(Fit, Proposal)> = state
        .spaces
        .iter()
        .filter(|(id, space)| eligible(id, space, entry))
        .filter_map(|(id, space)| {
            let free = state.free(id, unit);
            (free > 0).then(|| {
                (
                    fit(space, entry),
                    Proposal {
                        space: id.clone(),
                        unit,
                        free,
                    },
                )
            })
        })
        .collect();
    proposals.sort_by(|(a, pa), (b, pb)| a.cmp(b).then_with(|| pa.space.cmp(&pb.space)));
    proposals
        .into_iter()
        .map(|(_, proposal)| proposal)
        .collect()
}

/// Lower is better: (no language in common, spends accessibility, spends a family space).
type Fit = (bool, bool, bool);

fn fit(space: &Space, entry: &Entry) -> Fit {
    let eligibility = &space.eligibility;
    let needs = &entry.needs;
    let speaks = needs.languages.is_empty()
        || needs
            .languages
            .iter()
            .any(|language| eligibility.languages.contains(language));
    (
        !speaks,
        eligibility.accessible && !needs.accessibility,
        eligibility.families_with_children && needs.children == 0,
    )
}
