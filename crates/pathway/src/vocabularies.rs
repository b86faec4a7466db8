//! Closed vocabularies for the codes people type: indicators seen, health
//! flags, the roles of who acts, the other needs (what `OTHER` stands for),
//! the purposes of a consent, communication needs and safety instructions. A code outside the vocabulary in force is
//! refused, so no free text (a diagnosis, a name) can travel as a "code" in
//! clear. Vocabularies are versioned configuration: the built-in lists are
//! version 1; an administrator publishes the next version of a service's lists.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Code, vocabulary};

vocabulary!(
    /// Which closed list a code belongs to.
    VocabularyKind, "vocabulary", {
    /// What a front-line actor saw (screening).
    Indicator = "indicator",
    /// A flag of the preliminary health check (screening).
    HealthFlag = "health_flag",
    /// The role someone acts in (screening signals and assessments).
    Role = "role",
    /// Which need a suspicion or outcome of category `OTHER` stands for (screening).
    OtherNeed = "other_need",
    /// Why a person consents to a referral (referral).
    ConsentPurpose = "consent_purpose",
    /// How to communicate with the person (a referral's dataset).
    CommunicationNeed = "communication_need",
    /// How to keep the person safe (a referral's dataset).
    SafetyInstruction = "safety_instruction",
});

/// The version of the built-in vocabularies, in force until one is published.
pub const BUILT_IN_VERSION: u32 = 1;

/// Codes at most in one list.
pub const MAX_CODES: usize = 500;

/// The vocabularies in force: a version and, for each kind, its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabularies {
    pub version: u32,
    pub lists: BTreeMap<VocabularyKind, BTreeSet<Code>>,
}

/// A code outside the vocabulary in force (names the list, never the code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a code of the {0} vocabulary in force")]
pub struct NotInVocabulary(pub &'static str);

impl Vocabularies {
    /// Version 1: the codes the pathway starts with.
    pub fn built_in() -> Vocabularies {
        use VocabularyKind::*;
        let list = |codes: &[&str]| -> BTreeSet<Code> {
            codes.iter().filter_map(|c| Code::parse(c).ok()).collect()
        };
        let lists = BTreeMap::from([
            (
                Indicator,
                list(&[
                    "disclosure_to_staff",
                    "visible_injury",
                    "signs_of_distress",
                    "signs_of_torture",
                    "controlled_by_others",
                    "debt_bondage",
                    "documents_withheld",
                    "restricted_movement",
                    "inconsistent_account",
                    "apparent_minor",
                    "unaccompanied",
                    "separated_from_family",
                    "pregnancy_visible",
                    "mobility_impairment",
                    "sensory_impairment",
                    "self_harm_risk",
                    "untreated_illness",
                    "forced_marriage_risk",
                    "fgm_risk",
                ]),
            ),
            (
                HealthFlag,
                list(&[
                    "needs_medication",
                    "chronic_condition",
                    "infectious_disease_suspected",
                    "injury",
                    "pregnancy",
                    "malnutrition",
                    "dehydration",
                    "hypothermia",
                    "mobility_aid_needed",
                    "mental_distress",
                ]),
            ),
            (
                Role,
                list(&[
                    "operator",
                    "cultural_mediator",
                    "psychologist",
                    "psychiatrist",
                    "physician",
                    "nurse",
                    "social_worker",
                    "legal_advisor",
                    "police_officer",
                    "anti_trafficking_officer",
                    "guardian",
                ]),
            ),
            (
                // Special reception needs outside the categories of Directive
                // Art. 24 and D.Lgs. 142/2015 art. 17: kinds of need, nothing
                // distinctive to a person.
                OtherNeed,
                list(&[
                    "substance_dependence",
                    "missing_family_members",
                    "caregiver_of_dependent_person",
                    "care_leaver",
                    "statelessness",
                    "illiteracy",
                    "medical_device_dependence",
                    "shipwreck_survivor",
                    "large_family",
                ]),
            ),
            (
                ConsentPurpose,
                list(&[
                    "protection_and_support",
                    "protection",
                    "health_care",
                    "legal_support",
                    "accommodation",
                    "family_tracing",
                ]),
            ),
            (
                CommunicationNeed,
                list(&[
                    "interpreter",
                    "female_interpreter",
                    "cultural_mediator",
                    "sign_language",
                    "easy_read",
                    "written_only",
                ]),
            ),
            (
                SafetyInstruction,
                list(&[
                    "contact_via_operator",
                    "no_phone_contact",
                    "no_contact_with_family",
                    "do_not_disclose_location",
                    "female_staff_only",
                    "escort_required",
                ]),
            ),
        ]);
        Vocabularies {
            version: BUILT_IN_VERSION,
            lists,
        }
    }

    /// `raw` as a code of the `kind` list in force.
    pub fn code(&self, kind: VocabularyKind, raw: &str) -> Result<Code, NotInVocabulary> {
        Code::parse(raw)
            .ok()
            .filter(|code| {
                self.lists
                    .get(&kind)
                    .is_some_and(|list| list.contains(code))
            })
            .ok_or(NotInVocabulary(kind.code()))
    }
}

/// Publishing the next version of some lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Replace these lists (the others stay as they are).
    Publish {
        lists: BTreeMap<VocabularyKind, BTreeSet<Code>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The lists of this version (every list of the service, after the change).
    Published {
        version: u32,
        lists: BTreeMap<VocabularyKind, BTreeSet<Code>>,
    },
}

/// Why a publication is refused (names lists, never codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicationError {
    #[error("a publication names at least one list")]
    Empty,
    #[error("the {0} list is not one this service keeps")]
    NotKept(&'static str),
    #[error("the {0} list holds no code")]
    EmptyList(&'static str),
    #[error("the {0} list holds more than {MAX_CODES} codes")]
    TooLong(&'static str),
}

/// The publications so far: the vocabularies in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub vocabularies: Vocabularies,
}

impl Default for State {
    fn default() -> Self {
        State {
            vocabularies: Vocabularies::built_in(),
        }
    }
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::Published { version, lists } => {
                self.vocabularies.version = *version;
                for (kind, codes) in lists {
                    self.vocabularies.lists.insert(*kind, codes.clone());
                }
            }
        }
        self
    }
}

/// Decides a publication of the lists a service keeps (`kept`): the next version.
pub fn decide(
    state: &State,
    command: Command,
    kept: &[VocabularyKind],
) -> Result<Vec<Event>, PublicationError> {
    match command {
        Command::Publish { lists } => {
            if lists.is_empty() {
                return Err(PublicationError::Empty);
            }
            for (kind, codes) in &lists {
                if !kept.contains(kind) {
                    return Err(PublicationError::NotKept(kind.code()));
                }
                if codes.is_empty() {
                    return Err(PublicationError::EmptyList(kind.code()));
                }
                if codes.len() > MAX_CODES {
                    return Err(PublicationError::TooLong(kind.code()));
                }
            }
            let mut after = state.vocabularies.lists.clone();
            after.extend(lists);
            after.retain(|kind, _| kept.contains(kind));
            Ok(vec![Event::Published {
                version: state.vocabularies.version + 1,
                lists: after,
            }])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(raw: &[&str]) -> BTreeSet<Code> {
        raw.iter().map(|c| Code::parse(c).expect("code")).collect()
    }

    #[test]
    fn only_codes_of_the_list_in_force_are_accepted() {
        let built_in = Vocabularies::built_in();
        assert!(
            built_in
                .code(VocabularyKind::HealthFlag, "pregnancy")
                .is_ok()
        );
        assert_eq!(
            built_in.code(VocabularyKind::HealthFlag, "hiv_positive_12"),
            Err(NotInVocabulary("health_flag"))
        );
        assert!(
            built_in.code(VocabularyKind::Role, "pregnancy").is_err(),
            "another list"
        );
        assert!(built_in.code(VocabularyKind::Role, "Maria Rossi").is_err());
        assert!(
            built_in
                .code(VocabularyKind::OtherNeed, "substance_dependence")
                .is_ok()
        );
        assert!(
            built_in
                .code(VocabularyKind::OtherNeed, "visible_injury")
                .is_err(),
            "an indicator is not an other need"
        );
        for kind in VocabularyKind::ALL {
            assert!(!built_in.lists[kind].is_empty(), "{kind} has codes");
        }
    }

    #[test]
    fn a_publication_is_the_next_version_of_the_lists_a_service_keeps() {
        let kept = [VocabularyKind::Indicator, VocabularyKind::HealthFlag];
        let lists = BTreeMap::from([(VocabularyKind::HealthFlag, codes(&["dialysis"]))]);
        let events = decide(&State::default(), Command::Publish { lists }, &kept).expect("v2");
        let state = State::default().evolve(&events[0]);
        assert_eq!(state.vocabularies.version, 2);
        assert!(
            state
                .vocabularies
                .code(VocabularyKind::HealthFlag, "dialysis")
                .is_ok()
        );
        assert!(
            state
                .vocabularies
                .code(VocabularyKind::HealthFlag, "pregnancy")
                .is_err(),
            "a published list replaces the list"
        );
        assert!(
            state
                .vocabularies
                .code(VocabularyKind::Indicator, "debt_bondage")
                .is_ok(),
            "the lists not published stay"
        );
        let other = BTreeMap::from([(VocabularyKind::ConsentPurpose, codes(&["x"]))]);
        assert_eq!(
            decide(&state, Command::Publish { lists: other }, &kept),
            Err(PublicationError::NotKept("consent_purpose"))
        );
        let empty = BTreeMap::from([(VocabularyKind::Indicator, BTreeSet::new())]);
        assert_eq!(
            decide(&state, Command::Publish { lists: empty }, &kept),
            Err(PublicationError::EmptyList("indicator"))
        );
    }
}
