//! A stored event rendered for an analyst: an allowlist of fields per event
//! type (screening's and referral's through the shared codecs' contracts,
//! safe-space's that name a case through the contracts' types), each typed
//! (id, code, time, date, flag, number) or withheld. A field
//! that is not listed here is not shown, so a field added to an event later
//! stays hidden until someone decides it may be shown. Never shown: identity
//! and special-category details (sealed: "sealed", or "erased" once the
//! person's data is erased), indicators and health flags, GBV disclosures,
//! the codes of special categories (`pathway::Category::is_special_category`)
//! and of the service types that would name one, and the organisation that
//! formally identified a victim of trafficking ("special_category").

use contracts::log::v1 as log;
use contracts::monitoring::v1::{PayloadField, payload_field::Value};
use contracts::referral::v1 as rwire;
use contracts::screening::v1 as swire;
use event_codecs::referral::WireEvent as Referral;
use event_codecs::screening::WireEvent as Screening;

/// Why a field is withheld.
pub const SEALED: &str = "sealed";
pub const ERASED: &str = "erased";
pub const SPECIAL_CATEGORY: &str = "special_category";

/// Service types whose very code names a special category.
const SPECIAL_SERVICE_TYPES: &[&str] =
    &["lgbtiq_support", "anti_trafficking", "anti_violence_centre"];

/// Whether a category code is one analysts never see in clear (unknown codes
/// are withheld too).
pub fn special_category(code: &str) -> bool {
    pathway::Category::from_code(code).map_or(true, |c| c.is_special_category())
}

/// Whether a service type code would name a special category.
pub fn special_service_type(code: &str) -> bool {
    SPECIAL_SERVICE_TYPES.contains(&code)
}

/// The rendered fields of one event.
struct Fields {
    out: Vec<PayloadField>,
    /// What a sealed field says: sealed, or erased.
    sealed: &'static str,
}

impl Fields {
    fn push(&mut self, name: impl Into<String>, value: Value) {
        self.out.push(PayloadField {
            name: name.into(),
            value: Some(value),
        });
    }
    fn id(&mut self, name: impl Into<String>, raw: &str) {
        if !raw.is_empty() {
            self.push(name, Value::Id(raw.to_owned()));
        }
    }
    fn code(&mut self, name: impl Into<String>, raw: &str) {
        if !raw.is_empty() {
            self.push(name, Value::Code(raw.to_owned()));
        }
    }
    fn category(&mut self, name: impl Into<String>, raw: &str) {
        if special_category(raw) {
            self.withheld(name, SPECIAL_CATEGORY);
        } else {
            self.code(name, raw);
        }
    }
    fn service_type(&mut self, name: impl Into<String>, raw: &str) {
        if special_service_type(raw) {
            self.withheld(name, SPECIAL_CATEGORY);
        } else {
            self.code(name, raw);
        }
    }
    fn time(&mut self, name: impl Into<String>, at: &Option<prost_types::Timestamp>) {
        if let Some(at) = at {
            self.push(name, Value::Time(*at));
        }
    }
    fn date(&mut self, name: impl Into<String>, raw: &str) {
        if !raw.is_empty() {
            self.push(name, Value::Date(raw.to_owned()));
        }
    }
    fn flag(&mut self, name: impl Into<String>, on: bool) {
        self.push(name, Value::Flag(on));
    }
    fn number(&mut self, name: impl Into<String>, n: u64) {
        self.push(name, Value::Number(n));
    }
    fn withheld(&mut self, name: impl Into<String>, why: &str) {
        self.push(name, Value::Withheld(why.to_owned()));
    }
    fn sealed(&mut self, name: impl Into<String>) {
        let why = self.sealed;
        self.withheld(name, why);
    }
}

/// The allowlisted fields of a stored event, or `None` for an event type
/// replay has no allowlist for (shown by its type only). `erased`: the
/// person's data is erased, so what was sealed reads "erased".
pub fn render(event: &log::Event, erased: bool) -> Option<Vec<PayloadField>> {
    let mut f = Fields {
        out: Vec::new(),
        sealed: if erased { ERASED } else { SEALED },
    };
    if let Ok(screening) = Screening::decode(event) {
        self::screening(&mut f, screening);
    } else if let Ok(referral) = Referral::decode(event) {
        self::referral(&mut f, referral)?;
    } else {
        self::safe_space(&mut f, event)?;
    }
    Some(f.out)
}

/// The payload of `event` if it is an `M` that decodes.
fn as_a<M: prost::Message + prost::Name + Default>(event: &log::Event) -> Option<M> {
    case_log_jetstream::contract::is::<M>(&event.event_type)
        .then(|| M::decode(event.payload.as_slice()).ok())
        .flatten()
}

/// The safe-space events that name a case (decoded from the contracts'
/// types: the safe-space service's codec is its own). Never a space's kind,
/// name or address, nor the person's sex or needs; `None` for the others.
fn safe_space(f: &mut Fields, event: &log::Event) -> Option<()> {
    use contracts::safe_space::v1 as space;
    if let Some(e) = as_a::<space::PlaceRequested>(event) {
        f.id("case_id", &e.case_id);
        f.id("requested_by", &e.requested_by);
        f.id("referral_id", &e.referral_id);
        f.code("urgency", &e.urgency);
        f.code("age_band", &e.age_band);
        f.time("requested_at", &e.requested_at);
    } else if let Some(e) = as_a::<space::PlaceReserved>(event) {
        f.id("case_id", &e.case_id);
        f.id("space_id", &e.space_id);
        f.code("unit", &e.unit);
        f.time("reserved_at", &e.reserved_at);
        f.time("held_until", &e.held_until);
        f.code("reason", &e.reason);
    } else if let Some(e) = as_a::<space::ReturnedToWaitingList>(event) {
        f.id("case_id", &e.case_id);
        f.id("space_id", &e.space_id);
    } else if let Some(e) = as_a::<space::ArrivalConfirmed>(event) {
        f.id("case_id", &e.case_id);
        f.id("space_id", &e.space_id);
        f.code("unit", &e.unit);
        f.time("arrived_at", &e.arrived_at);
    } else if let Some(e) = as_a::<space::RequestCancelled>(event) {
        f.id("case_id", &e.case_id);
        f.time("cancelled_at", &e.cancelled_at);
    } else if let Some(e) = as_a::<space::PlaceReleased>(event) {
        f.id("case_id", &e.case_id);
        f.code("reason", &e.reason);
        f.time("released_at", &e.released_at);
    } else if let Some(e) = as_a::<space::HoldExpired>(event) {
        f.id("case_id", &e.case_id);
        f.id("space_id", &e.space_id);
        f.time("expired_at", &e.expired_at);
    } else if let Some(e) = as_a::<space::CasePlaceRequested>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.id("requested_by", &e.requested_by);
        f.id("referral_id", &e.referral_id);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::CasePlaceReserved>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.id("space_id", &e.space_id);
        f.code("unit", &e.unit);
        f.code("reason", &e.reason);
        f.time("held_until", &e.held_until);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::CaseReturnedToWaitingList>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.id("space_id", &e.space_id);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::CaseArrivalConfirmed>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.id("space_id", &e.space_id);
        f.code("unit", &e.unit);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::CaseRequestCancelled>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::CasePlaceReleased>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.code("reason", &e.reason);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::CaseHoldExpired>(event) {
        f.id("case_id", &e.case_id);
        mirrors(f, &e.mirrors);
        f.id("space_id", &e.space_id);
        f.time("at", &e.at);
    } else if let Some(e) = as_a::<space::LocationDisclosed>(event) {
        f.id("case_id", &e.case_id);
        f.id("space_id", &e.space_id);
        f.id("disclosed_to_organisation", &e.disclosed_to_organisation);
        f.code("purpose", &e.purpose);
        f.time("at", &e.at);
    } else {
        return None;
    }
    Some(())
}

/// The allocator commit a case-record event mirrors: its province and log
/// sequence; the allocator's id and kind are withheld (a shelter's kind, a
/// GBV or trafficking shelter, names a special category).
fn mirrors(f: &mut Fields, mirrors: &Option<contracts::safe_space::v1::AllocatorCommit>) {
    if let Some(m) = mirrors {
        f.code("mirrors.province", &m.province);
        f.number("mirrors.sequence", m.sequence);
        f.withheld("mirrors.kind", SPECIAL_CATEGORY);
    }
}

fn suspected(f: &mut Fields, prefix: &str, s: &swire::SuspectedCategory) {
    f.category(format!("{prefix}.category"), &s.category);
    if !special_category(&s.category) {
        f.code(format!("{prefix}.other_need"), &s.other_need);
    }
}

fn grounds(f: &mut Fields, prefix: &str, g: &Option<swire::DetentionGrounds>) {
    if let Some(g) = g {
        f.code(format!("{prefix}.justification"), &g.justification);
        f.id(
            format!("{prefix}.decided_by_organisation"),
            &g.decided_by_organisation,
        );
        f.code(format!("{prefix}.authority"), &g.authority);
    }
}

fn screening(f: &mut Fields, event: Screening) {
    match event {
        Screening::CaseOpened(e) => {
            f.id("case_id", &e.case_id);
            if let Some(arrival) = &e.arrival {
                f.code("arrival.place", &arrival.place);
                f.time("arrival.arrived_at", &arrival.arrived_at);
            }
            f.code("province", &e.province);
            f.id("facility_id", &e.facility_id);
            f.code("facility_kind", &e.facility_kind);
            f.time("opened_at", &e.opened_at);
            f.code("age_band", &e.age_band);
            for (i, link) in e.family_links.iter().enumerate() {
                f.id(format!("family_links[{i}].case_id"), &link.case_id);
                f.code(format!("family_links[{i}].relation"), &link.relation);
            }
            f.date("application_date", &e.application_date);
            // Whichever arm: never shown (the clear arms predate sealing).
            if e.identity.is_some() {
                f.sealed("identity");
            }
            if e.special_category.is_some() {
                f.sealed("special_category");
            }
        }
        Screening::PreliminaryCheckRecorded(e) => {
            for (i, s) in e.suspected.iter().enumerate() {
                suspected(f, &format!("suspected[{i}]"), s);
            }
            f.flag("urgent_care_needed", e.urgent_care_needed);
            f.code("urgency", &e.urgency);
            f.code("place", &e.place);
            f.time("checked_at", &e.checked_at);
        }
        Screening::VulnerabilitySignalRaised(e) => {
            if let Some(s) = &e.suspected {
                suspected(f, "suspected", s);
            }
            f.code("urgency", &e.urgency);
            f.code("raised_by_role", &e.raised_by_role);
            f.id("raised_by_organisation", &e.raised_by_organisation);
            f.time("raised_at", &e.raised_at);
        }
        Screening::AssessmentRecorded(e) => {
            for (i, o) in e.outcomes.iter().enumerate() {
                f.category(format!("outcomes[{i}].category"), &o.category);
                f.code(format!("outcomes[{i}].status"), &o.status);
                if !special_category(&o.category) {
                    f.code(format!("outcomes[{i}].other_need"), &o.other_need);
                }
            }
            f.flag("special_reception_needs", e.special_reception_needs);
            f.flag(
                "special_procedural_guarantees",
                e.special_procedural_guarantees,
            );
            f.time("assessed_at", &e.assessed_at);
            f.flag("reassessment", e.reassessment);
            f.code("assessor_role", &e.assessor_role);
            f.code("urgency", &e.urgency);
            for (i, c) in e.still_to_assess.iter().enumerate() {
                f.category(format!("still_to_assess[{i}]"), c);
            }
        }
        Screening::NeedIdentifiedAfterAssessment(e) => {
            f.category("category", &e.category);
            f.time("raised_at", &e.raised_at);
            f.time("due_at", &e.due_at);
        }
        Screening::NeedAssessmentDeadlineMissed(e) => {
            f.category("category", &e.category);
            f.time("raised_at", &e.raised_at);
            f.time("due_at", &e.due_at);
            f.time("detected_at", &e.detected_at);
        }
        Screening::FormalIdentificationRecorded(e) => {
            f.category("category", &e.category);
            // The body names the category it identifies.
            f.withheld("identified_by_organisation", SPECIAL_CATEGORY);
            f.time("identified_at", &e.identified_at);
        }
        Screening::ApplicationRecorded(e) => f.date("application_date", &e.application_date),
        Screening::FacilityRegistered(e) => {
            f.id("facility_id", &e.facility_id);
            f.code("province", &e.province);
            f.code("facility_kind", &e.facility_kind);
        }
        Screening::CasePlaced(e) => {
            f.id("facility_id", &e.facility_id);
            f.code("province", &e.province);
            f.code("facility_kind", &e.facility_kind);
            f.time("placed_at", &e.placed_at);
            f.time("arrival_due_at", &e.arrival_due_at);
            grounds(f, "detention", &e.detention);
        }
        Screening::CaseClosed(e) => {
            f.code("reason", &e.reason);
            f.time("closed_at", &e.closed_at);
        }
        Screening::ScreeningDeadlineMissed(e) => {
            f.time("due_at", &e.due_at);
            f.time("detected_at", &e.detected_at);
        }
        Screening::AssessmentDeadlineMissed(e) => {
            f.time("due_at", &e.due_at);
            f.time("detected_at", &e.detected_at);
        }
        Screening::PersonalDataErased(e) => {
            f.code("reason", &e.reason);
            f.time("erased_at", &e.erased_at);
        }
        Screening::IdentityRead(e) => {
            f.code("purpose", &e.purpose);
            f.time("read_at", &e.read_at);
        }
        Screening::AgeAssessed(e) => {
            f.code("age_band", &e.age_band);
            f.id("assessed_by_organisation", &e.assessed_by_organisation);
            f.time("assessed_at", &e.assessed_at);
        }
        Screening::GuardianAppointed(e) => {
            f.code("guardian_kind", &e.guardian_kind);
            f.id("guardian_organisation_id", &e.guardian_organisation_id);
            f.id("appointed_by_organisation", &e.appointed_by_organisation);
            f.time("appointed_at", &e.appointed_at);
        }
        Screening::VulnerablePersonDetained(e) => {
            f.id("facility_id", &e.facility_id);
            for (i, c) in e.categories.iter().enumerate() {
                f.category(format!("categories[{i}]"), c);
            }
            f.code("age_band", &e.age_band);
            grounds(f, "grounds", &e.grounds);
            f.time("detained_at", &e.detained_at);
        }
        Screening::FirstReceptionLimitExceeded(e) => {
            f.id("facility_id", &e.facility_id);
            f.date("entered_on", &e.entered_on);
            f.time("due_at", &e.due_at);
            f.time("detected_at", &e.detected_at);
        }
        Screening::FollowUpScheduled(e) => {
            f.id("follow_up_id", &e.follow_up_id);
            f.date("due_on", &e.due_on);
            f.code("purpose", &e.purpose);
            f.id("scheduled_by_organisation", &e.scheduled_by_organisation);
        }
        Screening::FollowUpRecorded(e) => {
            f.id("follow_up_id", &e.follow_up_id);
            f.code("outcome", &e.outcome);
            f.time("at", &e.at);
            f.id("recorded_by_organisation", &e.recorded_by_organisation);
        }
        Screening::FollowUpMissed(e) => {
            f.id("follow_up_id", &e.follow_up_id);
            f.date("due_on", &e.due_on);
            f.time("detected_at", &e.detected_at);
        }
        Screening::LostToFollowUp(e) => {
            f.id("facility_id", &e.facility_id);
            f.time("placed_at", &e.placed_at);
            f.time("due_at", &e.due_at);
            f.time("detected_at", &e.detected_at);
        }
    }
}

fn recipient(f: &mut Fields, prefix: &str, r: &Option<rwire::Recipient>) {
    match r.as_ref().and_then(|r| r.recipient.as_ref()) {
        Some(rwire::recipient::Recipient::OrganisationId(id)) => {
            f.id(format!("{prefix}.organisation_id"), id)
        }
        Some(rwire::recipient::Recipient::ServiceType(t)) => {
            f.service_type(format!("{prefix}.service_type"), t)
        }
        None => {}
    }
}

/// `None` for the referral events that are not a case's (directory, rules,
/// the per-organisation access record): shown by type only.
fn referral(f: &mut Fields, event: Referral) -> Option<()> {
    match event {
        Referral::OrganisationRegistered(_)
        | Referral::OrganisationUpdated(_)
        | Referral::PathwayRulesPublished(_)
        | Referral::ReferralDatasetsRead(_) => return None,
        Referral::ConsentGiven(e) => {
            f.id("consent_id", &e.consent_id);
            recipient(f, "recipient", &e.recipient);
            match &e.basis {
                Some(rwire::consent_given::Basis::Consent(c)) => {
                    f.code("basis", "consent");
                    f.code("consent.purpose", &c.purpose);
                    for (i, s) in c.scopes.iter().enumerate() {
                        f.code(format!("consent.scopes[{i}]"), s);
                    }
                    f.time("consent.valid_until", &c.valid_until);
                    f.code("consent.grantor", &c.grantor);
                    f.flag("consent.child_assent", c.child_assent);
                }
                Some(rwire::consent_given::Basis::Exception(x)) => {
                    f.code("basis", "exception");
                    f.code("exception.reason", &x.reason);
                    f.code("exception.authority", &x.authority);
                }
                None => {}
            }
            f.time("given_at", &e.given_at);
            f.code("age_band", &e.age_band);
        }
        Referral::ConsentWithdrawn(e) => {
            f.id("consent_id", &e.consent_id);
            f.time("withdrawn_at", &e.withdrawn_at);
        }
        Referral::ConsentRefused(e) => {
            f.id("consent_id", &e.consent_id);
            recipient(f, "recipient", &e.recipient);
            f.code("purpose", &e.purpose);
            f.time("refused_at", &e.refused_at);
        }
        Referral::ConsentWithdrawnDuringCare(e) => {
            f.id("referral_id", &e.referral_id);
            f.id("consent_id", &e.consent_id);
            f.time("at", &e.at);
        }
        Referral::ReferralDrafted(e) => {
            f.id("referral_id", &e.referral_id);
            f.id("referrer_organisation_id", &e.referrer_organisation_id);
            f.id("receiver_organisation_id", &e.receiver_organisation_id);
            f.service_type("service_type", &e.service_type);
            f.id("consent_id", &e.consent_id);
            // Whichever arm: the dataset is the person's data.
            if e.dataset.is_some() {
                f.sealed("dataset");
            }
            f.code("province", &e.province);
            f.id("facility_id", &e.facility_id);
            f.number("pathway_rules_version", e.pathway_rules_version.into());
        }
        Referral::ReferralSent(e) => {
            f.id("referral_id", &e.referral_id);
            f.time("sent_at", &e.sent_at);
            f.time("acknowledge_by", &e.acknowledge_by);
            f.time("answer_by", &e.answer_by);
            f.code("urgency", &e.urgency);
            f.number("deadline_policy_version", e.deadline_policy_version.into());
        }
        Referral::DeadlinesTightened(e) => {
            f.id("referral_id", &e.referral_id);
            f.code("urgency", &e.urgency);
            f.time("acknowledge_by", &e.acknowledge_by);
            f.time("answer_by", &e.answer_by);
            f.time("at", &e.at);
        }
        Referral::ReferralReceived(e) => at(f, &e.referral_id, &e.at),
        Referral::TakenIntoCare(e) => at(f, &e.referral_id, &e.at),
        Referral::PutOnHold(e) => at(f, &e.referral_id, &e.at),
        Referral::Resumed(e) => at(f, &e.referral_id, &e.at),
        Referral::ReferralExpired(e) => at(f, &e.referral_id, &e.at),
        Referral::ReferralAccepted(e) => {
            at(f, &e.referral_id, &e.at);
            f.time("take_charge_by", &e.take_charge_by);
        }
        Referral::ReferralDeclined(e) => {
            at(f, &e.referral_id, &e.at);
            f.code("reason", &e.reason);
            f.id(
                "redirect_to_organisation_id",
                &e.redirect_to_organisation_id,
            );
        }
        Referral::ReferralCompleted(e) => {
            at(f, &e.referral_id, &e.at);
            f.code("outcome", &e.outcome);
        }
        Referral::ReferralCancelled(e) => {
            at(f, &e.referral_id, &e.at);
            f.code("reason", &e.reason);
        }
        Referral::ReferralRevoked(e) => {
            at(f, &e.referral_id, &e.at);
            f.id("consent_id", &e.consent_id);
        }
        Referral::ReferralFailed(e) => {
            at(f, &e.referral_id, &e.at);
            f.code("reason", &e.reason);
        }
        Referral::CaseClosureNotified(e) => {
            at(f, &e.referral_id, &e.at);
            f.code("reason", &e.reason);
        }
        Referral::ReferralCaseTransferred(e) => {
            at(f, &e.referral_id, &e.at);
            f.code("province", &e.province);
            f.id("facility_id", &e.facility_id);
        }
        Referral::ReferralDeadlineMissed(e) => {
            f.id("referral_id", &e.referral_id);
            f.code("deadline", &e.deadline);
            f.time("due_at", &e.due_at);
            f.time("detected_at", &e.detected_at);
            f.code("escalated_to_province", &e.escalated_to_province);
        }
        Referral::ReferralDatasetRead(e) => {
            for (i, id) in e.referral_ids.iter().enumerate() {
                f.id(format!("referral_ids[{i}]"), id);
            }
            f.time("read_at", &e.read_at);
        }
    }
    Some(())
}

fn at(f: &mut Fields, referral_id: &str, at: &Option<prost_types::Timestamp>) {
    f.id("referral_id", referral_id);
    f.time("at", at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::person::v1 as person;
    use proptest::prelude::*;

    fn stored<M: prost::Message + prost::Name>(message: M) -> log::Event {
        log::Event {
            event_id: "e".to_owned(),
            event_type: case_log_jetstream::contract::event_type::<M>(),
            schema_version: 1,
            payload: message.encode_to_vec(),
        }
    }

    fn names(fields: &[PayloadField]) -> Vec<&str> {
        fields.iter().map(|f| f.name.as_str()).collect()
    }

    fn value<'a>(fields: &'a [PayloadField], name: &str) -> Option<&'a Value> {
        fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.as_ref())
    }

    fn opened_in_clear() -> swire::CaseOpened {
        swire::CaseOpened {
            case_id: "case-1".to_owned(),
            province: "AG".to_owned(),
            facility_id: "hotspot-lampedusa".to_owned(),
            sex: "female".to_owned(),
            // An opening recorded before sealing, in clear: never shown either.
            identity: Some(swire::case_opened::Identity::PersonalData(
                person::PersonalData {
                    given_names: "Clearname".to_owned(),
                    date_of_birth: "1980-01-02".to_owned(),
                    ..Default::default()
                },
            )),
            special_category: Some(swire::case_opened::SpecialCategory::SpecialCategoryDetails(
                person::SpecialCategoryDetails {
                    health_notes: "clear note".to_owned(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn personal_data_is_withheld_as_sealed_then_erased_whatever_its_arm() {
        let event = stored(opened_in_clear());
        let sealed = render(&event, false).expect("an allowlist");
        assert_eq!(
            value(&sealed, "identity"),
            Some(&Value::Withheld(SEALED.to_owned()))
        );
        assert_eq!(
            value(&sealed, "special_category"),
            Some(&Value::Withheld(SEALED.to_owned()))
        );
        let erased = render(&event, true).expect("an allowlist");
        assert_eq!(
            value(&erased, "identity"),
            Some(&Value::Withheld(ERASED.to_owned()))
        );
        let text = format!("{erased:?}");
        for seeded in ["Clearname", "1980", "clear note", "female"] {
            assert!(!text.contains(seeded), "{seeded} rendered");
        }
        assert_eq!(
            names(&sealed),
            [
                "case_id",
                "province",
                "facility_id",
                "identity",
                "special_category"
            ]
        );
    }

    #[test]
    fn special_categories_indicators_health_flags_and_disclosures_are_never_named() {
        let check = stored(swire::PreliminaryCheckRecorded {
            suspected: vec![
                swire::SuspectedCategory {
                    category: "LGBTIQ".to_owned(),
                    indicators: vec!["self_disclosure".to_owned()],
                    other_need: String::new(),
                },
                swire::SuspectedCategory {
                    category: "PREGNANT".to_owned(),
                    indicators: vec!["visible".to_owned()],
                    other_need: String::new(),
                },
            ],
            health_flags: vec!["hiv_treatment".to_owned()],
            urgency: "high".to_owned(),
            ..Default::default()
        });
        let fields = render(&check, false).expect("an allowlist");
        assert_eq!(
            value(&fields, "suspected[0].category"),
            Some(&Value::Withheld(SPECIAL_CATEGORY.to_owned()))
        );
        assert_eq!(
            value(&fields, "suspected[1].category"),
            Some(&Value::Code("PREGNANT".to_owned()))
        );
        let text = format!("{fields:?}");
        for hidden in ["LGBTIQ", "self_disclosure", "visible", "hiv_treatment"] {
            assert!(!text.contains(hidden), "{hidden} rendered");
        }
        let signal = stored(swire::VulnerabilitySignalRaised {
            suspected: Some(swire::SuspectedCategory {
                category: "GBV".to_owned(),
                ..Default::default()
            }),
            gbv_disclosure: true,
            ..Default::default()
        });
        let fields = render(&signal, false).expect("an allowlist");
        assert!(!format!("{fields:?}").contains("GBV"));
        assert!(!names(&fields).contains(&"gbv_disclosure"));
        let identified = stored(swire::FormalIdentificationRecorded {
            category: "TRAFFICKING".to_owned(),
            identified_by_organisation: "anti-tratta-ag".to_owned(),
            ..Default::default()
        });
        let fields = render(&identified, false).expect("an allowlist");
        assert!(!format!("{fields:?}").contains("anti-tratta"));
        assert!(!format!("{fields:?}").contains("TRAFFICKING"));
    }

    #[test]
    fn a_referral_shows_its_ids_and_codes_and_never_its_dataset() {
        let drafted = stored(rwire::ReferralDrafted {
            referral_id: "r-1".to_owned(),
            receiver_organisation_id: "cav-1".to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            dataset: Some(rwire::referral_drafted::Dataset::MinimumDataset(
                rwire::MinimumDataset {
                    categories: vec!["PREGNANT".to_owned()],
                    languages: vec!["tir".to_owned()],
                    ..Default::default()
                },
            )),
            ..Default::default()
        });
        let fields = render(&drafted, true).expect("an allowlist");
        assert_eq!(
            value(&fields, "dataset"),
            Some(&Value::Withheld(ERASED.to_owned()))
        );
        assert_eq!(
            value(&fields, "service_type"),
            Some(&Value::Withheld(SPECIAL_CATEGORY.to_owned()))
        );
        assert_eq!(
            value(&fields, "referral_id"),
            Some(&Value::Id("r-1".to_owned()))
        );
        assert!(!format!("{fields:?}").contains("tir"));
    }

    #[test]
    fn events_without_an_allowlist_are_shown_by_type_only() {
        let directory = stored(rwire::OrganisationRegistered::default());
        assert_eq!(render(&directory, false), None);
        let registry = stored(contracts::safe_space::v1::SafeSpaceRegistered::default());
        assert_eq!(render(&registry, false), None);
    }

    #[test]
    fn a_safe_space_event_shows_ids_and_codes_never_the_persons_sex() {
        let requested = stored(contracts::safe_space::v1::PlaceRequested {
            case_id: "case-1".to_owned(),
            requested_by: "hotspot".to_owned(),
            urgency: "high".to_owned(),
            sex: "female".to_owned(),
            age_band: "18+".to_owned(),
            ..Default::default()
        });
        let fields = render(&requested, false).expect("an allowlist");
        assert_eq!(
            names(&fields),
            ["case_id", "requested_by", "urgency", "age_band"]
        );
        assert!(!format!("{fields:?}").contains("female"));
    }

    proptest! {
        /// Whatever free text a stored event's string fields hold, a text
        /// field that is neither an id nor a code is never rendered: only the
        /// allowlisted fields of the payload come out.
        #[test]
        fn free_text_in_a_payload_never_comes_out(text in "[A-Za-z ]{12,30}") {
            let opened = swire::CaseOpened {
                identity: Some(swire::case_opened::Identity::PersonalData(person::PersonalData {
                    given_names: text.clone(),
                    family_names: text.clone(),
                    contact: text.clone(),
                    gender_identity: text.clone(),
                    ..Default::default()
                })),
                special_category: Some(swire::case_opened::SpecialCategory::SpecialCategoryDetails(
                    person::SpecialCategoryDetails {
                        health_notes: text.clone(),
                        disability_details: text.clone(),
                        other_notes: text.clone(),
                    },
                )),
                sex: text.clone(),
                ..Default::default()
            };
            let fields = render(&stored(opened), false).expect("an allowlist");
            let rendered = format!("{:?}", fields);
            prop_assert!(!rendered.contains(&text));
        }
    }

    #[test]
    fn a_case_record_event_shows_its_space_and_reason_never_the_shelters_kind() {
        let reserved = stored(contracts::safe_space::v1::CasePlaceReserved {
            case_id: "case-1".to_owned(),
            mirrors: Some(contracts::safe_space::v1::AllocatorCommit {
                allocator_id: "allocator-rm-gbv-shelter".to_owned(),
                province: "RM".to_owned(),
                kind: "gbv_shelter".to_owned(),
                sequence: 42,
            }),
            space_id: "space-1".to_owned(),
            unit: "bed".to_owned(),
            reason: "place_free".to_owned(),
            ..Default::default()
        });
        let fields = render(&reserved, false).expect("allowlisted");
        let text = format!("{fields:?}");
        assert!(text.contains("space-1") && text.contains("place_free") && text.contains("42"));
        assert!(!text.contains("gbv"), "{text}");
        assert!(text.contains(SPECIAL_CATEGORY));
    }
}
