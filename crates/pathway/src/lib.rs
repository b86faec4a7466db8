//! The vocabulary of the referral pathway, shared by every domain crate:
//! vulnerability categories (Reception Conditions Directive (EU) 2024/1346
//! Art. 24, D.Lgs. 142/2015 art. 17), the status of a category on a case, and
//! the urgency of a signal, and the value objects more than one domain crate
//! needs (codes, provinces). Pure: no I/O, no clock, no randomness.
//! Codes are those of `shared/design/domain.md`.

pub mod calendar;
pub mod minority;
pub mod vocabularies;

/// A code that is not part of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} code")]
pub struct UnknownCode {
    pub kind: &'static str,
}

/// Why a value could not be built; names the rule, never the value (it may be personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

/// `[a-z0-9-]{1,64}`: pseudonymous ids (UUIDs in practice), usable as subject tokens.
pub fn is_id_token(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `[a-z0-9_]{1,64}`: short codes (an indicator, a role, a purpose).
pub fn is_code_token(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Declares a string value object valid by construction: `parse` checks `$check`
/// and answers [`InvalidValue`] with `$rule`.
#[macro_export]
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, $crate::InvalidValue> {
                let check: fn(&str) -> bool = $check;
                if check(raw) { Ok($name(raw.to_owned())) } else { Err($crate::InvalidValue($rule)) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_string!(
    /// A short code: an indicator seen, a health flag, a role, a purpose (`visible_injury`, `psychologist`).
    Code, "must be 1 to 64 characters of [a-z0-9_]", is_code_token
);

validated_string!(
    /// Province (prefecture) code: two capital letters, as on Italian number plates (`AG`, `RM`).
    Province, "must be two capital letters",
    |raw| raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase())
);

/// The state after `events`, from the default state: how every aggregate's
/// state is rebuilt from its history.
pub fn replay<'a, S: Default, E: 'a>(
    events: impl IntoIterator<Item = &'a E>,
    evolve: impl Fn(S, &E) -> S,
) -> S {
    events.into_iter().fold(S::default(), evolve)
}

/// Declares a closed set of codes: an enum with `ALL`, `code()`, `from_code()` and `Display`.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code used in the API, the events and the exports.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn from_code(code: &str) -> Result<Self, $crate::UnknownCode> {
                match code {
                    $($code => Ok($name::$variant),)+
                    _ => Err($crate::UnknownCode { kind: $kind }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary!(
    /// A vulnerability category: the EU list is non-exhaustive, hence `Other`.
    Category, "category", {
    /// Minor, accompanied (Art. 24 a).
    Minor = "MINOR",
    /// Unaccompanied or separated minor (b).
    UnaccompaniedMinor = "UNACCOMPANIED_MINOR",
    /// Age disputed, presumed minor.
    AgeDisputed = "AGE_DISPUTED",
    /// Physical, sensory, intellectual or psychosocial disability (c).
    Disability = "DISABILITY",
    /// Elderly person (d).
    Elderly = "ELDERLY",
    /// Pregnant or recently gave birth (e).
    Pregnant = "PREGNANT",
    /// LGBTIQ person (f): special-category data, never in analyst views.
    Lgbtiq = "LGBTIQ",
    /// Single parent with minor children (g).
    SingleParent = "SINGLE_PARENT",
    /// Presumed or identified victim of trafficking (h).
    Trafficking = "TRAFFICKING",
    /// Serious illness (i).
    SeriousIllness = "SERIOUS_ILLNESS",
    /// Mental disorder, including PTSD (j).
    MentalHealth = "MENTAL_HEALTH",
    /// Survivor of torture (k).
    Torture = "TORTURE",
    /// Survivor of rape or serious sexual, physical or psychological violence (k).
    Gbv = "GBV",
    /// Female genital mutilation (k).
    Fgm = "FGM",
    /// Child or forced marriage (k).
    ForcedMarriage = "FORCED_MARRIAGE",
    /// Violence with a sexual, gender, racist or religious motive (k).
    HateViolence = "HATE_VIOLENCE",
    /// Other need, described by a reviewer.
    Other = "OTHER",
});

impl Category {
    /// Categories whose very presence is special-category data that must never
    /// reach analyst or monitoring views in clear.
    pub fn is_special_category(self) -> bool {
        matches!(
            self,
            Category::Lgbtiq | Category::Gbv | Category::Fgm | Category::Trafficking
        )
    }

    /// Minors and presumed minors: the best interests of the child apply.
    pub fn concerns_a_minor(self) -> bool {
        matches!(
            self,
            Category::Minor | Category::UnaccompaniedMinor | Category::AgeDisputed
        )
    }
}

vocabulary!(
    /// Where a category stands on a case.
    CategoryStatus, "category status", {
    Suspected = "suspected",
    Confirmed = "confirmed",
    RuledOut = "ruled_out",
});

vocabulary!(
    /// How soon a signal must be acted on. Ordered from most to least urgent.
    Urgency, "urgency", {
    /// Life or safety at risk.
    Immediate = "immediate",
    High = "high",
    Standard = "standard",
});

impl Urgency {
    /// The more urgent of two: a signal raises a case's urgency, never lowers it.
    pub fn most_urgent(self, other: Urgency) -> Urgency {
        self.min(other)
    }
}

/// A case's urgency now: each check or signal can only raise it; an
/// assessment sets it, lower too (the events keep the history). One rule for
/// screening's record and for the facts referral reads from screening's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseUrgency(Option<Urgency>);

impl CaseUrgency {
    pub fn raised(self, by: Urgency) -> CaseUrgency {
        CaseUrgency(Some(self.0.map_or(by, |now| now.most_urgent(by))))
    }

    pub fn assessed(self, to: Urgency) -> CaseUrgency {
        CaseUrgency(Some(to))
    }

    /// `None` before any check, signal or assessment stated one.
    pub fn current(self) -> Option<Urgency> {
        self.0
    }
}

/// An ISO 639 language code (`en`, `fr`, `tir`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);

impl Language {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if (2..=3).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Language(raw.to_owned()))
        } else {
            Err(InvalidValue("must be an ISO 639 code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

vocabulary!(
    /// A person's sex as recorded at registration, in clear on the case (the
    /// identity stays sealed; a self-described gender identity too): what
    /// sex-separated places (women-only areas and rooms, shelters) need.
    Sex, "sex", {
    Female = "female",
    Male = "male",
    Other = "other",
    Unknown = "unknown",
});

vocabulary!(
    /// A person's age band, recorded in clear at opening (the date of birth
    /// stays sealed) and changed by an age assessment.
    AgeBand, "age band", {
    UpTo5 = "0-5",
    From6To13 = "6-13",
    From14To15 = "14-15",
    From16To17 = "16-17",
    Adult = "18+",
    /// Not known: in doubt, minority is presumed (the assessment decides).
    Unknown = "unknown",
});

impl AgeBand {
    /// Known to be a minor.
    pub fn is_minor(self) -> bool {
        matches!(
            self,
            AgeBand::UpTo5 | AgeBand::From6To13 | AgeBand::From14To15 | AgeBand::From16To17
        )
    }

    /// The youngest age in the band (`None` for unknown): what consent and
    /// assent rules by age compare with.
    pub fn youngest(self) -> Option<u8> {
        match self {
            AgeBand::UpTo5 => Some(0),
            AgeBand::From6To13 => Some(6),
            AgeBand::From14To15 => Some(14),
            AgeBand::From16To17 => Some(16),
            AgeBand::Adult => Some(18),
            AgeBand::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for category in Category::ALL {
            assert_eq!(Category::from_code(category.code()), Ok(*category));
            assert!(seen.insert(category.code()));
        }
        assert_eq!(Category::ALL.len(), 17);
        for status in CategoryStatus::ALL {
            assert_eq!(CategoryStatus::from_code(status.code()), Ok(*status));
        }
        for urgency in Urgency::ALL {
            assert_eq!(Urgency::from_code(urgency.code()), Ok(*urgency));
        }
    }

    #[test]
    fn unknown_and_differently_cased_codes_are_refused() {
        assert_eq!(
            Category::from_code("gbv"),
            Err(UnknownCode { kind: "category" })
        );
        assert!(Urgency::from_code("IMMEDIATE").is_err());
        assert!(CategoryStatus::from_code("").is_err());
    }

    #[test]
    fn urgency_orders_the_most_urgent_first() {
        let mut urgencies = vec![Urgency::Standard, Urgency::Immediate, Urgency::High];
        urgencies.sort();
        assert_eq!(
            urgencies,
            [Urgency::Immediate, Urgency::High, Urgency::Standard]
        );
    }

    #[test]
    fn a_signal_only_raises_the_urgency_and_an_assessment_may_lower_it() {
        let urgency = CaseUrgency::default();
        assert_eq!(urgency.current(), None);
        let urgency = urgency.raised(Urgency::High).raised(Urgency::Standard);
        assert_eq!(urgency.current(), Some(Urgency::High));
        let urgency = urgency.raised(Urgency::Immediate);
        assert_eq!(urgency.current(), Some(Urgency::Immediate));
        let urgency = urgency.assessed(Urgency::Standard);
        assert_eq!(urgency.current(), Some(Urgency::Standard));
        assert_eq!(urgency.raised(Urgency::High).current(), Some(Urgency::High));
    }

    #[test]
    fn age_bands_know_minors() {
        assert!(AgeBand::UpTo5.is_minor());
        assert!(AgeBand::From16To17.is_minor());
        assert!(!AgeBand::Adult.is_minor());
        assert!(!AgeBand::Unknown.is_minor());
        assert_eq!(AgeBand::from_code("14-15"), Ok(AgeBand::From14To15));
        assert_eq!(AgeBand::Unknown.youngest(), None);
    }
}
