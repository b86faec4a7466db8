//! The one checklist of a monitoring visit, for every reception and
//! detention facility: sections after the EU Asylum Agency's reception
//! standards, each with its indicators, every indicator scored the same way
//! ([`Score`]), so facilities and provinces can be compared.
//!
//! The checklist is versioned ([`CHECKLIST_VERSION`]): a visit records the
//! version it was scored against, and a change of indicators is a new version.

use pathway::vocabulary;

/// The version of [`INDICATORS`] visits are scored against now.
pub const CHECKLIST_VERSION: u32 = 1;

vocabulary!(
    /// A section of the checklist: the EUAA reception standards' chapters.
    Section, "checklist section", {
    Housing = "housing",
    Food = "food",
    ClothingAndNonFoodItems = "clothing_and_non_food_items",
    Allowance = "allowance",
    HealthCare = "health_care",
    InformationAndCounselling = "information_and_counselling",
    SpecialNeeds = "special_needs",
    StaffTraining = "staff_training",
});

vocabulary!(
    /// How one indicator is found at a visit. Every indicator is scored the
    /// same way: met 2 points, partially met 1, not met 0; not applicable
    /// indicators count neither in the points nor in the maximum.
    Score, "score", {
    Met = "met",
    PartiallyMet = "partially_met",
    NotMet = "not_met",
    NotApplicable = "not_applicable",
});

impl Score {
    /// Points out of [`Score::MAX_POINTS`]; `None` when not applicable.
    pub fn points(self) -> Option<u32> {
        match self {
            Score::Met => Some(2),
            Score::PartiallyMet => Some(1),
            Score::NotMet => Some(0),
            Score::NotApplicable => None,
        }
    }

    pub const MAX_POINTS: u32 = 2;
}

/// How an indicator gets its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// The visiting team observes it and scores it.
    Observed,
    /// Computed by the domain from the facility's records when the visit is
    /// recorded (the visitors do not score it): see
    /// [`crate::training::topics_coverage_score`].
    TrainingCoverage,
}

/// One indicator of the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indicator {
    pub code: &'static str,
    pub section: Section,
    pub scoring: Scoring,
    /// What the visiting team checks, in plain words (English; the code is
    /// what the API and the exports carry).
    pub checks: &'static str,
}

const fn observed(code: &'static str, section: Section, checks: &'static str) -> Indicator {
    Indicator {
        code,
        section,
        scoring: Scoring::Observed,
        checks,
    }
}

/// Every indicator of checklist version [`CHECKLIST_VERSION`], in order.
pub const INDICATORS: &[Indicator] = &[
    observed(
        "housing.living_space",
        Section::Housing,
        "minimum living space per person respected, no overcrowding",
    ),
    observed(
        "housing.sanitary_by_sex",
        Section::Housing,
        "sanitary facilities separated by sex, lockable from inside, lit",
    ),
    observed(
        "housing.lockable_space",
        Section::Housing,
        "lockable space for personal belongings; bedrooms lockable from inside",
    ),
    observed(
        "housing.family_unity",
        Section::Housing,
        "families accommodated together, with the family's consent",
    ),
    observed(
        "housing.safe_common_areas",
        Section::Housing,
        "common areas and routes lit and safe at night",
    ),
    observed(
        "food.meals",
        Section::Food,
        "at least three meals a day, one of them hot, at set times",
    ),
    observed(
        "food.dietary_needs",
        Section::Food,
        "medical, religious and age-related dietary needs met",
    ),
    observed(
        "food.drinking_water",
        Section::Food,
        "drinking water available at all times",
    ),
    observed(
        "clothing.seasonal_clothing",
        Section::ClothingAndNonFoodItems,
        "clothing and footwear adequate to the season",
    ),
    observed(
        "clothing.hygiene_items",
        Section::ClothingAndNonFoodItems,
        "personal hygiene items, sanitary items for women and girls, baby items",
    ),
    observed(
        "clothing.bedding",
        Section::ClothingAndNonFoodItems,
        "clean bedding, changed regularly",
    ),
    observed(
        "allowance.paid_on_time",
        Section::Allowance,
        "daily expenses allowance paid in full and on time",
    ),
    observed(
        "allowance.informed",
        Section::Allowance,
        "residents informed of the allowance's amount and schedule",
    ),
    observed(
        "health.screening_on_arrival",
        Section::HealthCare,
        "medical screening offered on arrival",
    ),
    observed(
        "health.emergency_and_essential",
        Section::HealthCare,
        "emergency care and essential treatment of illness accessible",
    ),
    observed(
        "health.mental_health",
        Section::HealthCare,
        "access to psychological support and mental-health services",
    ),
    observed(
        "information.rights_in_language",
        Section::InformationAndCounselling,
        "information on rights and obligations in a language understood, within 15 days",
    ),
    observed(
        "information.legal_counselling",
        Section::InformationAndCounselling,
        "access to legal counselling",
    ),
    observed(
        "information.interpretation",
        Section::InformationAndCounselling,
        "interpretation available when needed",
    ),
    observed(
        "special_needs.identification",
        Section::SpecialNeeds,
        "a procedure identifies special reception needs at arrival and later",
    ),
    observed(
        "special_needs.referral",
        Section::SpecialNeeds,
        "people with special needs are referred to specialised services, with consent",
    ),
    observed(
        "special_needs.safe_spaces",
        Section::SpecialNeeds,
        "safe spaces for women and survivors of violence available",
    ),
    observed(
        "special_needs.minors_separated",
        Section::SpecialNeeds,
        "unaccompanied minors accommodated apart from unrelated adults",
    ),
    observed(
        "staff_training.induction",
        Section::StaffTraining,
        "staff trained at induction on their duties and on vulnerability",
    ),
    Indicator {
        code: "staff_training.topics_covered",
        section: Section::StaffTraining,
        scoring: Scoring::TrainingCoverage,
        checks: "training sessions recorded for the facility in the 12 months before the visit, by topic",
    },
];

/// The indicator with this code, in the current version.
pub fn indicator(code: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.code == code)
}
