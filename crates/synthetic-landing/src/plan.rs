//! The plan of a landing, drawn from a seed: who arrives, and every step of
//! their pathway with when it happens (hours after the landing). Pure and
//! reproducible: the same seed and size give the same plan on any machine
//! (ChaCha8, seeded), so a run can be repeated and compared.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::Duration;

use crate::registry::{self, Receiver};

/// The version of the planning rules: part of every request id, so a landing
/// planned by other rules (another release) never collides with one already
/// in the log under the same seed. Raise it whenever `plan` changes what it draws.
pub const PLAN_VERSION: u32 = 3;

/// One person of the landing. No name: the driver gives each a fictional one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub index: u32,
    /// `female`, `male`.
    pub sex: &'static str,
    /// `16-17` or `18+` (children of a family are not cases of their own).
    pub age_band: &'static str,
    /// ISO 639-1.
    pub language: &'static str,
    /// Children travelling with her (a family needs a family room).
    pub children: u32,
}

/// A category suspected at the check or later by a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspicion {
    pub category: &'static str,
    /// An indicator of the built-in vocabulary.
    pub indicator: &'static str,
    pub urgency: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Arrived at the hotspot at the landing; the case opened now.
    Open,
    PreliminaryCheck {
        suspected: Vec<Suspicion>,
    },
    Signal(Suspicion),
    Application,
    /// Placed in another facility (`registry::FACILITIES` index).
    Transfer {
        facility: usize,
    },
    /// Every category suspected so far confirmed or ruled out.
    Assessment {
        confirmed: Vec<&'static str>,
        ruled_out: Vec<&'static str>,
    },
    Consent {
        receiver: &'static Receiver,
    },
    RefuseConsent {
        receiver: &'static Receiver,
    },
    Refer {
        receiver: &'static Receiver,
        category: &'static str,
    },
    Receive {
        receiver: &'static Receiver,
    },
    Accept {
        receiver: &'static Receiver,
    },
    Decline {
        receiver: &'static Receiver,
        reason: &'static str,
    },
    Redirect {
        receiver: &'static Receiver,
        to: &'static Receiver,
    },
    WithdrawConsent {
        receiver: &'static Receiver,
    },
    TakeCharge {
        receiver: &'static Receiver,
    },
    AgeAssessment {
        band: &'static str,
    },
    Guardian,
    /// A place in a safe space of this kind, linked to the accepted referral
    /// to `receiver` when there is one.
    RequestPlace {
        kind: &'static str,
        linked: Option<&'static Receiver>,
    },
    ConfirmArrival {
        kind: &'static str,
    },
    Close {
        reason: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// After the landing.
    pub at: Duration,
    pub person: u32,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub seed: u64,
    pub people: Vec<Person>,
    /// Every step of everyone, in time order (a person's own steps in their order).
    pub steps: Vec<Step>,
}

/// Hours as a duration.
fn h(hours: i64) -> Duration {
    Duration::hours(hours)
}

impl Landing {
    /// The landing of `people` people drawn from `seed`.
    pub fn plan(seed: u64, people: u32) -> Landing {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut all_people = Vec::new();
        let mut steps = Vec::new();
        for index in 0..people {
            let (person, mut own) = plan_person(&mut rng, index);
            all_people.push(person);
            steps.append(&mut own);
        }
        // A stable sort: a person's steps at the same hour keep their order.
        steps.sort_by_key(|s| s.at);
        Landing {
            seed,
            people: all_people,
            steps,
        }
    }

    /// How far after the landing its last step happens.
    pub fn span(&self) -> Duration {
        self.steps.last().map_or(Duration::ZERO, |s| s.at)
    }
}

fn chance(rng: &mut ChaCha8Rng, percent: u32) -> bool {
    rng.random_range(0..100) < percent
}

fn hours(rng: &mut ChaCha8Rng, from: i64, to: i64) -> Duration {
    h(rng.random_range(from..=to))
}

const LANGUAGES: &[&str] = &["ar", "fr", "en", "ti", "bn", "ur", "ps", "so"];

/// One person and their pathway. Proportions are plausible for a landing in
/// the central Mediterranean (mostly adult men; some women, some of them
/// with children; unaccompanied minors, almost all 16-17), not statistics.
fn plan_person(rng: &mut ChaCha8Rng, index: u32) -> (Person, Vec<Step>) {
    let minor = chance(rng, 12);
    let sex = if chance(rng, if minor { 10 } else { 22 }) {
        "female"
    } else {
        "male"
    };
    let children = if sex == "female" && !minor && chance(rng, 30) {
        rng.random_range(1..=3)
    } else {
        0
    };
    let person = Person {
        index,
        sex,
        age_band: if minor { "16-17" } else { "18+" },
        language: LANGUAGES[rng.random_range(0..LANGUAGES.len())],
        children,
    };
    let mut plan = PersonPlan {
        person: index,
        steps: Vec::new(),
        suspected: Vec::new(),
        arrival: None,
    };

    // Arrival and opening at the hotspot, then the preliminary check (most people).
    let opened = hours(rng, 1, 12);
    plan.at(opened, Action::Open);
    let mut at_check = Vec::new();
    if minor {
        at_check.push(Suspicion {
            category: "UNACCOMPANIED_MINOR",
            indicator: "unaccompanied",
            urgency: "high",
        });
    }
    let mut later = Vec::new();
    let mut draw = |rng: &mut ChaCha8Rng, percent: u32, s: Suspicion| {
        if chance(rng, percent) {
            if chance(rng, 75) {
                at_check.push(s)
            } else {
                later.push(s)
            }
        }
    };
    if sex == "female" {
        draw(
            rng,
            45,
            Suspicion {
                category: "GBV",
                indicator: "disclosure_to_staff",
                urgency: "high",
            },
        );
        draw(
            rng,
            20,
            Suspicion {
                category: "TRAFFICKING",
                indicator: "controlled_by_others",
                urgency: "immediate",
            },
        );
        draw(
            rng,
            12,
            Suspicion {
                category: "PREGNANT",
                indicator: "pregnancy_visible",
                urgency: "high",
            },
        );
    } else {
        draw(
            rng,
            15,
            Suspicion {
                category: "TORTURE",
                indicator: "signs_of_torture",
                urgency: "standard",
            },
        );
        draw(
            rng,
            6,
            Suspicion {
                category: "TRAFFICKING",
                indicator: "debt_bondage",
                urgency: "high",
            },
        );
    }
    draw(
        rng,
        12,
        Suspicion {
            category: "MENTAL_HEALTH",
            indicator: "signs_of_distress",
            urgency: "standard",
        },
    );
    draw(
        rng,
        6,
        Suspicion {
            category: "SERIOUS_ILLNESS",
            indicator: "untreated_illness",
            urgency: "high",
        },
    );
    draw(
        rng,
        3,
        Suspicion {
            category: "DISABILITY",
            indicator: "mobility_impairment",
            urgency: "standard",
        },
    );
    let checked = chance(rng, 90);
    let check_at = opened + hours(rng, 1, 6);
    if checked {
        plan.suspect(
            check_at,
            Action::PreliminaryCheck {
                suspected: at_check,
            },
        );
    } else {
        // Without a check, what it would have found comes later, by signals.
        later.extend(at_check);
    }
    let application = opened + hours(rng, 24, 120);
    plan.at(application, Action::Application);
    for s in later {
        let at = opened + hours(rng, 48, 24 * 50);
        plan.suspect(at, Action::Signal(s));
    }

    // Some move on from the hotspot to a reception centre in Agrigento or Rome.
    let mut moved: Option<(Duration, usize)> = None;
    if chance(rng, 45) {
        let at = opened + hours(rng, 72, 240);
        let facility = if chance(rng, 50) { 1 } else { 2 };
        moved = Some((at, facility));
        plan.at(at, Action::Transfer { facility });
    }
    // Where the person is at a time: the province of the receivers and shelters asked.
    let province = |at: Duration| match moved {
        Some((since, facility)) if at >= since => registry::FACILITIES[facility].province,
        _ => registry::FACILITIES[0].province,
    };

    // Minors: a disputed age assessed, a guardian appointed, through the juvenile court.
    if minor {
        // Referred once the suspicion is on record (at the check, or by a later signal).
        let suspected_at = plan
            .suspected
            .iter()
            .find(|(_, s)| s.category == "UNACCOMPANIED_MINOR")
            .map_or(check_at, |(at, _)| *at);
        let consent = suspected_at + hours(rng, 2, 24);
        let court = registry::receiver_for("juvenile_court", province(consent));
        referral(rng, &mut plan, court, "UNACCOMPANIED_MINOR", consent, true);
        let received = consent + hours(rng, 3, 30);
        let mut adult = false;
        if chance(rng, 30) {
            adult = chance(rng, 30);
            let band = if adult { "18+" } else { "16-17" };
            plan.at(
                received + hours(rng, 24 * 3, 24 * 20),
                Action::AgeAssessment { band },
            );
        }
        // A person found adult gets no guardian.
        if !adult {
            plan.at(received + hours(rng, 24 * 5, 24 * 50), Action::Guardian);
        }
    }

    // The assessment confirms or rules out what was suspected before it.
    let assessed = application + hours(rng, 24 * 5, 24 * 40);
    let (mut confirmed, mut ruled_out) = (Vec::new(), Vec::new());
    for (at, s) in plan.suspected.clone() {
        if at <= assessed && s.category != "UNACCOMPANIED_MINOR" {
            if chance(rng, 80) {
                confirmed.push(s.category)
            } else {
                ruled_out.push(s.category)
            }
        }
    }
    if !confirmed.is_empty() || !ruled_out.is_empty() {
        plan.at(
            assessed,
            Action::Assessment {
                confirmed: confirmed.clone(),
                ruled_out,
            },
        );
    }

    // Referrals for what was confirmed, with consent; a place in a shelter for
    // a survivor of gender-based violence whose centre accepted.
    let mut last = assessed;
    // Consent is given to a receiver: one path per receiver, even when it
    // offers the service types of two confirmed categories (a second path
    // would withdraw or refer on a consent the first already withdrew).
    let mut receivers: Vec<&'static str> = Vec::new();
    for category in confirmed {
        let Some(service_type) = registry::service_type_for(category) else {
            continue;
        };
        let consent_at = assessed + hours(rng, 1, 48);
        let receiver = registry::receiver_for(service_type, province(consent_at));
        if receivers.contains(&receiver.organisation_id) {
            continue;
        }
        receivers.push(receiver.organisation_id);
        let outcome = referral(rng, &mut plan, receiver, category, consent_at, false);
        if let Some(accepted_at) = outcome {
            last = last.max(accepted_at);
            if category == "GBV" && chance(rng, 80) {
                let request = accepted_at + h(1);
                plan.at(
                    request,
                    Action::RequestPlace {
                        kind: "gbv_shelter",
                        linked: Some(receiver),
                    },
                );
                if chance(rng, 70) {
                    plan.arrival = Some((request + hours(rng, 2, 20), "gbv_shelter"));
                }
            }
        }
    }
    if chance(rng, 3) {
        let at = last + hours(rng, 24, 24 * 20);
        plan.at(
            at,
            Action::Close {
                reason: "left_reception",
            },
        );
        plan.truncate_after(at);
        plan.arrival = None;
    }
    if let Some((at, kind)) = plan.arrival.take() {
        // The arrival is the person's last step: from then on the shelter is
        // where the case is.
        let at = at.max(plan.steps.iter().map(|s| s.at).max().unwrap_or(at) + h(1));
        plan.at(at, Action::ConfirmArrival { kind });
    }
    (person, plan.steps)
}

struct PersonPlan {
    person: u32,
    steps: Vec<Step>,
    suspected: Vec<(Duration, Suspicion)>,
    arrival: Option<(Duration, &'static str)>,
}

impl PersonPlan {
    fn at(&mut self, at: Duration, action: Action) {
        self.steps.push(Step {
            at,
            person: self.person,
            action,
        });
    }

    fn suspect(&mut self, at: Duration, action: Action) {
        match &action {
            Action::PreliminaryCheck { suspected } => {
                self.suspected.extend(suspected.iter().map(|s| (at, *s)));
            }
            Action::Signal(s) => self.suspected.push((at, *s)),
            _ => {}
        }
        self.at(at, action);
    }

    fn truncate_after(&mut self, at: Duration) {
        self.steps.retain(|s| s.at <= at);
    }
}

/// Consent (or its refusal), the referral, and the receiver's answer; the
/// time of acceptance when it was accepted.
fn referral(
    rng: &mut ChaCha8Rng,
    plan: &mut PersonPlan,
    receiver: &'static Receiver,
    category: &'static str,
    consent_at: Duration,
    always: bool,
) -> Option<Duration> {
    if !always && chance(rng, 10) {
        plan.at(consent_at, Action::RefuseConsent { receiver });
        return None;
    }
    plan.at(consent_at, Action::Consent { receiver });
    let sent = consent_at + Duration::minutes(10);
    plan.at(sent, Action::Refer { receiver, category });
    if !always && chance(rng, 6) {
        plan.at(
            sent + hours(rng, 1, 12),
            Action::WithdrawConsent { receiver },
        );
        return None;
    }
    // Some referrals are never answered: their deadlines pass.
    if !always && chance(rng, 8) {
        return None;
    }
    // The court answers a minor's referral within its day.
    let received = sent + hours(rng, 1, if always { 12 } else { 30 });
    plan.at(received, Action::Receive { receiver });
    let answered = received + hours(rng, 1, 48);
    let draw = rng.random_range(0..100);
    if always || draw < 70 {
        plan.at(answered, Action::Accept { receiver });
        if chance(rng, 80) {
            plan.at(
                answered + hours(rng, 24, 120),
                Action::TakeCharge { receiver },
            );
        }
        Some(answered)
    } else if draw < 85 {
        const REASONS: &[&str] = &["no_capacity", "out_of_scope", "person_refused"];
        let reason = REASONS[rng.random_range(0..REASONS.len())];
        plan.at(answered, Action::Decline { receiver, reason });
        None
    } else {
        match registry::alternative(receiver) {
            Some(to) => plan.at(answered, Action::Redirect { receiver, to }),
            None => plan.at(
                answered,
                Action::Decline {
                    receiver,
                    reason: "no_capacity",
                },
            ),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_landing_and_another_seed_another() {
        assert_eq!(Landing::plan(7, 120), Landing::plan(7, 120));
        assert_ne!(Landing::plan(7, 120).steps, Landing::plan(8, 120).steps);
    }

    #[test]
    fn steps_are_in_time_order_and_each_person_starts_with_the_opening() {
        let landing = Landing::plan(42, 200);
        assert!(landing.steps.windows(2).all(|w| w[0].at <= w[1].at));
        for person in &landing.people {
            let own: Vec<&Step> = landing
                .steps
                .iter()
                .filter(|s| s.person == person.index)
                .collect();
            assert_eq!(
                own.first().map(|s| &s.action),
                Some(&Action::Open),
                "person {}",
                person.index
            );
            assert_eq!(own.iter().filter(|s| s.action == Action::Open).count(), 1);
            let adult = own
                .iter()
                .any(|s| s.action == Action::AgeAssessment { band: "18+" });
            assert!(
                !(adult && own.iter().any(|s| s.action == Action::Guardian)),
                "no guardian for an adult"
            );
            // An arrival in a shelter is the person's last step; a closure too.
            for (n, step) in own.iter().enumerate() {
                if matches!(
                    step.action,
                    Action::ConfirmArrival { .. } | Action::Close { .. }
                ) {
                    assert_eq!(n, own.len() - 1, "person {}", person.index);
                }
            }
        }
    }

    #[test]
    fn a_landing_has_a_plausible_mix_and_every_kind_of_step() {
        let landing = Landing::plan(2026, 200);
        let minors = landing
            .people
            .iter()
            .filter(|p| p.age_band != "18+")
            .count();
        let women = landing.people.iter().filter(|p| p.sex == "female").count();
        let families = landing.people.iter().filter(|p| p.children > 0).count();
        assert!((10..=45).contains(&minors), "{minors} minors");
        assert!((15..=60).contains(&women), "{women} women");
        assert!(families >= 3, "{families} families");
        let has = |f: fn(&Action) -> bool| landing.steps.iter().any(|s| f(&s.action));
        assert!(has(|a| matches!(a, Action::Signal(_))));
        assert!(has(|a| matches!(a, Action::Transfer { .. })));
        assert!(has(|a| matches!(a, Action::Decline { .. })));
        assert!(has(|a| matches!(a, Action::Redirect { .. })));
        assert!(has(|a| matches!(a, Action::WithdrawConsent { .. })));
        assert!(has(|a| matches!(a, Action::RefuseConsent { .. })));
        assert!(has(|a| matches!(a, Action::TakeCharge { .. })));
        assert!(has(|a| matches!(a, Action::Guardian)));
        assert!(has(|a| matches!(a, Action::RequestPlace { .. })));
        assert!(has(|a| matches!(a, Action::ConfirmArrival { .. })));
    }

    #[test]
    fn a_referral_follows_its_consent_and_the_suspicion_of_its_category() {
        for seed in [9, 2026, 11, 1, 2, 3] {
            suspicion_then_consent_then_referral(&Landing::plan(seed, 200));
        }
    }

    fn suspicion_then_consent_then_referral(landing: &Landing) {
        for person in &landing.people {
            let mut consented = Vec::new();
            // Whom the person was asked to consent to, whatever the answer.
            let mut asked = Vec::new();
            let mut referred = Vec::new();
            let mut on_record = Vec::new();
            for step in landing.steps.iter().filter(|s| s.person == person.index) {
                match &step.action {
                    Action::Consent { receiver } | Action::RefuseConsent { receiver } => {
                        assert!(
                            !asked.contains(&receiver.organisation_id),
                            "a person asked twice for consent to {}",
                            receiver.organisation_id
                        );
                        asked.push(receiver.organisation_id);
                        if matches!(step.action, Action::Consent { .. }) {
                            consented.push(receiver.organisation_id);
                        }
                    }
                    Action::PreliminaryCheck { suspected } => {
                        on_record.extend(suspected.iter().map(|s| s.category));
                    }
                    Action::Signal(s) => on_record.push(s.category),
                    Action::Refer { receiver, category } => {
                        assert!(consented.contains(&receiver.organisation_id));
                        assert!(
                            on_record.contains(category),
                            "{category} referred before it is suspected"
                        );
                        referred.push(receiver.organisation_id);
                    }
                    Action::Receive { receiver }
                    | Action::Accept { receiver }
                    | Action::Decline { receiver, .. }
                    | Action::Redirect { receiver, .. }
                    | Action::TakeCharge { receiver }
                    | Action::WithdrawConsent { receiver } => {
                        assert!(referred.contains(&receiver.organisation_id));
                    }
                    _ => {}
                }
            }
        }
    }
}
