//! What a landing needs registered before anyone arrives: the facilities
//! (screening's registry), the receiving organisations (referral's
//! directory) and the safe spaces. Fictional organisations with plausible
//! roles; registered with fixed request ids, so a second run answers from the
//! log.

/// A reception facility of screening's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility {
    pub facility_id: &'static str,
    pub province: &'static str,
    pub kind: &'static str,
}

/// Index 0 is the hotspot everyone arrives at; transfers go to the others.
pub const FACILITIES: &[Facility] = &[
    Facility {
        facility_id: "hotspot-lampedusa",
        province: "AG",
        kind: "hotspot",
    },
    Facility {
        facility_id: "cas-agrigento-1",
        province: "AG",
        kind: "cas",
    },
    Facility {
        facility_id: "cas-roma-1",
        province: "RM",
        kind: "cas",
    },
];

/// A receiving organisation of the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receiver {
    pub organisation_id: &'static str,
    pub name: &'static str,
    pub service_types: &'static [&'static str],
    pub provinces: &'static [&'static str],
}

pub const RECEIVERS: &[Receiver] = &[
    Receiver {
        organisation_id: "differenza-donna",
        name: "Differenza Donna",
        service_types: &["anti_violence_centre", "shelter"],
        provinces: &["RM", "AG"],
    },
    Receiver {
        organisation_id: "cav-agrigento",
        name: "Centro antiviolenza Agrigento",
        service_types: &["anti_violence_centre"],
        provinces: &["AG"],
    },
    Receiver {
        organisation_id: "on-the-road",
        name: "Progetto antitratta",
        service_types: &["anti_trafficking"],
        provinces: &["RM", "AG"],
    },
    Receiver {
        organisation_id: "asl-agrigento",
        name: "ASP Agrigento",
        service_types: &["health_service", "mental_health"],
        provinces: &["AG"],
    },
    Receiver {
        organisation_id: "asl-roma-1",
        name: "ASL Roma 1",
        service_types: &["health_service", "mental_health"],
        provinces: &["RM"],
    },
    Receiver {
        organisation_id: "tribunale-minorenni-palermo",
        name: "Tribunale per i minorenni di Palermo",
        service_types: &["juvenile_court"],
        provinces: &["AG"],
    },
    Receiver {
        organisation_id: "tribunale-minorenni-roma",
        name: "Tribunale per i minorenni di Roma",
        service_types: &["juvenile_court"],
        provinces: &["RM"],
    },
    Receiver {
        organisation_id: "servizi-sociali-agrigento",
        name: "Servizi sociali Agrigento",
        service_types: &["social_services"],
        provinces: &["AG"],
    },
];

/// The juvenile courts: the authorities for age assessments and guardians
/// the screening service must be configured with (`[options]
/// age_assessment_authorities`, `guardianship_authorities`).
pub const JUVENILE_COURTS: &[&str] = &["tribunale-minorenni-palermo", "tribunale-minorenni-roma"];

/// A safe space and who manages it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeSpace {
    pub key: &'static str,
    pub kind: &'static str,
    pub organisation_id: &'static str,
    pub province: &'static str,
    pub beds: u32,
    pub family_rooms: u32,
    pub sexes: &'static [&'static str],
    pub age_bands: &'static [&'static str],
    pub families_with_children: bool,
}

pub const SAFE_SPACES: &[SafeSpace] = &[
    SafeSpace {
        key: "casa-rifugio-roma",
        kind: "gbv_shelter",
        organisation_id: "differenza-donna",
        province: "RM",
        beds: 4,
        family_rooms: 2,
        sexes: &["female"],
        age_bands: &["18+"],
        families_with_children: true,
    },
    SafeSpace {
        key: "casa-rifugio-agrigento",
        kind: "gbv_shelter",
        organisation_id: "differenza-donna",
        province: "AG",
        beds: 3,
        family_rooms: 1,
        sexes: &["female"],
        age_bands: &["18+"],
        families_with_children: true,
    },
];

/// The service type a confirmed category is referred to first
/// (`shared/design/domain.md`, the pathway table); none for categories
/// referred to no one by the landing (LGBTIQ's safe placement is not a
/// referral here).
pub fn service_type_for(category: &str) -> Option<&'static str> {
    Some(match category {
        "GBV" => "anti_violence_centre",
        "TRAFFICKING" => "anti_trafficking",
        "UNACCOMPANIED_MINOR" => "juvenile_court",
        "TORTURE" | "MENTAL_HEALTH" => "mental_health",
        "SERIOUS_ILLNESS" | "PREGNANT" | "DISABILITY" => "health_service",
        _ => return None,
    })
}

/// The first receiver of `service_type` serving `province`.
pub fn receiver_for(service_type: &str, province: &str) -> &'static Receiver {
    RECEIVERS
        .iter()
        .find(|r| r.service_types.contains(&service_type) && r.provinces.contains(&province))
        .or_else(|| {
            RECEIVERS
                .iter()
                .find(|r| r.service_types.contains(&service_type))
        })
        .unwrap_or(&RECEIVERS[0])
}

/// Another receiver of the same first service type sharing a province, to
/// redirect to.
pub fn alternative(receiver: &Receiver) -> Option<&'static Receiver> {
    let service_type = receiver.service_types.first()?;
    RECEIVERS.iter().find(|r| {
        r.organisation_id != receiver.organisation_id
            && r.service_types.contains(service_type)
            && r.provinces.iter().any(|p| receiver.provinces.contains(p))
    })
}
