//! Value objects of safe spaces and their allocation: ids (opaque, usable as
//! subject tokens), the kinds of space, units of capacity, eligibility, a
//! person's needs, and the reasons a place is reserved or released.

use std::collections::BTreeSet;

use pathway::{AgeBand, vocabulary};

pub use pathway::{InvalidValue, Province};

pathway::validated_string!(
    /// A safe space's opaque public id: never its name or address, never a
    /// reception facility's id (the service keeps the real identity sealed).
    SpaceId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);
pathway::validated_string!(
    /// A person's case.
    CaseId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);
pathway::validated_string!(
    /// An organisation of the directory: a space's managing organisation, a requester.
    OrganisationId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);
pathway::validated_string!(
    /// The accepted referral a request is linked to.
    ReferralId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);

pub use pathway::Language;

vocabulary!(
    /// The kinds of safe space (`shared/design/domain.md`, "Safe spaces").
    SpaceKind, "space kind", {
    /// A women-only area in a reception facility.
    WomenOnlyArea = "women_only_area",
    /// A single women-only room: beds only, never a family.
    WomenOnlyRoom = "women_only_room",
    /// A shelter for survivors of gender-based violence (casa rifugio): women and their children.
    GbvShelter = "gbv_shelter",
    /// A shelter for survivors of trafficking.
    TraffickingShelter = "trafficking_shelter",
    /// Places for unaccompanied minors.
    UnaccompaniedMinors = "unaccompanied_minors",
    /// Accessible places.
    Accessible = "accessible",
});

vocabulary!(
    /// A unit of capacity: one person takes a bed, a family with children a family room.
    Unit, "unit", {
    Bed = "bed",
    FamilyRoom = "family_room",
});

/// A person's sex as the case's facts hold it (screening's, in clear on the
/// case): `other` and `unknown` only ever match a space that admits any sex.
pub use pathway::Sex;

vocabulary!(
    /// Why a place was reserved: the event says it, for the person waiting and for analysts.
    ReservationReason, "reservation reason", {
    /// A place was free when the request was made.
    PlaceFree = "place_free",
    /// The requester chose this space among the proposals (moving a reservation).
    Chosen = "chosen",
    /// From the waiting list: another person's place was released.
    PlaceReleased = "place_released",
    /// From the waiting list: another person's hold expired.
    HoldExpired = "hold_expired",
    /// From the waiting list: another person's request was cancelled.
    RequestCancelled = "request_cancelled",
    /// From the waiting list: another person moved to another space.
    ReservationMoved = "reservation_moved",
    /// From the waiting list: a space's capacity grew.
    CapacityAdded = "capacity_added",
    /// From the waiting list: a new space joined the allocator.
    SpaceAdded = "space_added",
    /// The person's reserved space closed; another was found.
    SpaceClosed = "space_closed",
});

impl ReservationReason {
    /// Given to the first eligible person waiting, not asked for.
    pub fn from_waiting_list(self) -> bool {
        !matches!(
            self,
            ReservationReason::PlaceFree | ReservationReason::Chosen
        )
    }
}

vocabulary!(
    /// Why a space's real name and address are disclosed (`LocationDisclosed.purpose`).
    DisclosurePurpose, "disclosure purpose", {
        /// Taking the person to the space.
        Transfer = "transfer",
        /// Receiving the person at the space.
        Arrival = "arrival",
        /// The person's safety (a visit, an emergency).
        Safety = "safety",
        /// Care the receiving organisation gives at the space.
        Care = "care",
});

vocabulary!(
    /// Why a request, a reservation or a place ends.
    ReleaseReason, "release reason", {
    /// The person left the space (end of stay).
    Discharge = "discharge",
    /// The person was placed elsewhere.
    Transfer = "transfer",
    /// The case was closed.
    CaseClosed = "case_closed",
    /// The person's data was erased.
    Erasure = "erasure",
    /// The linked referral was revoked (consent withdrawn).
    ReferralRevoked = "referral_revoked",
    /// The linked referral was cancelled.
    ReferralCancelled = "referral_cancelled",
    /// The linked referral failed.
    ReferralFailed = "referral_failed",
});

impl ReleaseReason {
    /// Reasons only the service records, from the case's and the referral's
    /// facts (its watcher), never an organisation's say-so.
    pub fn by_the_system_only(self) -> bool {
        !matches!(self, ReleaseReason::Discharge | ReleaseReason::Transfer)
    }
}

/// Capacity by unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    pub beds: u32,
    pub family_rooms: u32,
}

impl Capacity {
    pub fn of(self, unit: Unit) -> u32 {
        match unit {
            Unit::Bed => self.beds,
            Unit::FamilyRoom => self.family_rooms,
        }
    }

    pub fn total(self) -> u32 {
        self.beds.saturating_add(self.family_rooms)
    }

    /// Whether this capacity holds `held` in every unit.
    pub fn holds(self, held: Capacity) -> bool {
        held.beds <= self.beds && held.family_rooms <= self.family_rooms
    }
}

/// Who a space admits. Empty sets admit anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Eligibility {
    /// Sexes admitted (never `unknown`); empty: any.
    pub sexes: BTreeSet<Sex>,
    /// Age bands admitted; empty: any.
    pub age_bands: BTreeSet<AgeBand>,
    /// Whether a parent with children is admitted (in family rooms).
    pub families_with_children: bool,
    /// Whether the space is accessible.
    pub accessible: bool,
    /// Languages spoken by the staff (a better fit, never a condition).
    pub languages: BTreeSet<Language>,
    /// How many persons one family room holds (the parent and the
    /// children): a family fits only where it is enough. 0: unsized, one
    /// family per family room whatever its size.
    pub family_room_persons: u8,
}

/// What the registry knows of a space: no name, no address (sealed apart by the service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceProfile {
    pub kind: SpaceKind,
    pub organisation: OrganisationId,
    pub province: Province,
    pub capacity: Capacity,
    pub eligibility: Eligibility,
}

/// Why a profile is not acceptable: the field and the rule, never a value.
pub type Violation = (&'static str, &'static str);

impl SpaceProfile {
    /// The rules of each kind, and the consistency of capacity and eligibility.
    pub fn check(&self) -> Result<(), Violation> {
        let eligibility = &self.eligibility;
        if self.capacity.total() == 0 {
            return Err(("capacity", "a space has at least one place"));
        }
        check_capacity(self.kind, self.capacity, eligibility)?;
        if eligibility.sexes.contains(&Sex::Unknown) || eligibility.sexes.contains(&Sex::Other) {
            return Err((
                "eligibility.sexes",
                "admits female or male, or is empty for any",
            ));
        }
        let women_only = [Sex::Female].into_iter().collect::<BTreeSet<_>>();
        match self.kind {
            SpaceKind::WomenOnlyArea | SpaceKind::WomenOnlyRoom | SpaceKind::GbvShelter
                if eligibility.sexes != women_only =>
            {
                Err(("eligibility.sexes", "a women-only space admits women only"))
            }
            SpaceKind::Accessible if !eligibility.accessible => Err((
                "eligibility.accessible",
                "an accessible space is accessible",
            )),
            SpaceKind::UnaccompaniedMinors
                if eligibility.age_bands.is_empty()
                    || eligibility
                        .age_bands
                        .iter()
                        .any(|band| *band == AgeBand::Adult) =>
            {
                Err((
                    "eligibility.age_bands",
                    "a space for unaccompanied minors admits minors' age bands only",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// A capacity acceptable for a space of `kind` with `eligibility`: family
/// rooms only where families are admitted, none in a single women-only room.
pub fn check_capacity(
    kind: SpaceKind,
    capacity: Capacity,
    eligibility: &Eligibility,
) -> Result<(), Violation> {
    if kind == SpaceKind::WomenOnlyRoom
        && (capacity.family_rooms > 0 || eligibility.families_with_children)
    {
        return Err((
            "capacity.family_rooms",
            "a women-only room is a single room: beds only, no families",
        ));
    }
    if capacity.family_rooms > 0 && !eligibility.families_with_children {
        return Err((
            "capacity.family_rooms",
            "family rooms only in a space that admits families with children",
        ));
    }
    if eligibility.family_room_persons > 0
        && (!eligibility.families_with_children
            || eligibility.family_room_persons < 2
            || eligibility.family_room_persons > MAX_CHILDREN + 1)
    {
        return Err((
            "eligibility.family_room_persons",
            "0 (unsized), or 2 to 21 persons where families are admitted",
        ));
    }
    Ok(())
}

/// A place a person must not be sent to, for safety (sealed by the service in the log).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Avoid {
    Space(SpaceId),
    Organisation(OrganisationId),
    /// The list was sealed and can no longer be read (its key was destroyed
    /// when the case was erased): every space is avoided, so a list nobody
    /// can read never sends the person anywhere. Never accepted from a request.
    Unreadable,
}

/// What a person needs from a place (the request's part; urgency, sex and age
/// band come from the case's facts, never from the request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Children coming with the person: any needs a family room.
    pub children: u8,
    pub accessibility: bool,
    /// Languages the person speaks (a better fit, never a condition).
    pub languages: BTreeSet<Language>,
    /// Provinces the person may go to; empty: the allocator's own. The
    /// service routes the request to an allocator of one of them.
    pub preferred_provinces: Vec<Province>,
    /// Places to avoid for safety reasons.
    pub avoid: BTreeSet<Avoid>,
}

/// At most this many children, preferred provinces, places to avoid, languages.
pub const MAX_CHILDREN: u8 = 20;
pub const MAX_LIST: usize = 20;

impl Needs {
    /// The unit this person needs.
    pub fn unit(&self) -> Unit {
        if self.children > 0 {
            Unit::FamilyRoom
        } else {
            Unit::Bed
        }
    }

    pub fn check(&self) -> Result<(), Violation> {
        if self.children > MAX_CHILDREN {
            return Err(("needs.children", "at most 20"));
        }
        if self.preferred_provinces.len() > MAX_LIST {
            return Err(("needs.preferred_provinces", "at most 20"));
        }
        if self.avoid.len() > MAX_LIST {
            return Err(("needs.avoid", "at most 20"));
        }
        if self.languages.len() > MAX_LIST {
            return Err(("needs.languages", "at most 20"));
        }
        Ok(())
    }
}
