//! A case's pathway as monitoring keeps it: the times of its steps and the
//! codes the indicators group by, folded from the events of every producer
//! (screening's case record, referral's, and the safe-space allocators'
//! entries for the case). Ids and codes only: no identity, no free text, no
//! date of birth. Each observation records the province the case was in
//! when it began (where the case opened, was placed, was referred from).
//!
//! Screening's facts (province now, categories and their status, urgency,
//! age band, closure) come from the shared fold, `case_facts::CaseFacts`.

use std::collections::BTreeMap;

use case_facts::{CaseFacts, Recorded};
use case_log_jetstream::contract::is;
use contracts::referral::v1 as referral;
use contracts::safe_space::v1 as safe_space;
use contracts::screening::v1 as screening;
use prost::Message;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Facility kinds of first reception (D.Lgs. 142/2015 art. 19: the 45 days).
pub const FIRST_RECEPTION_KINDS: [&str; 3] = ["hotspot", "first_reception", "cas"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CasePathway {
    /// Screening's facts now (the shared fold); `None` until `CaseOpened`.
    pub facts: Option<CaseFacts>,
    pub opened: Option<Opening>,
    /// `YYYY-MM-DD`, from the opening or `ApplicationRecorded`.
    pub application_date: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub check_at: Option<OffsetDateTime>,
    pub screening_deadline_missed: bool,
    /// The first time a category became suspected (check or signal).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub first_suspicion_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub first_assessment_at: Option<OffsetDateTime>,
    /// The assessment after which no category suspected before the first
    /// assessment is still to assess.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub assessment_completed_at: Option<OffsetDateTime>,
    pub assessment_deadline_missed: bool,
    pub needs_after_assessment: Vec<LateNeed>,
    pub detentions: Vec<Detention>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub guardian_at: Option<OffsetDateTime>,
    pub stays: Vec<Stay>,
    pub transfers: Vec<Transfer>,
    pub follow_ups: BTreeMap<String, FollowUp>,
    pub referrals: BTreeMap<String, ReferralSteps>,
    pub consents: BTreeMap<String, Consent>,
    pub refusals: Vec<Dated>,
    pub withdrawals_during_care: Vec<Dated>,
    pub places: Vec<PlaceRequest>,
    pub erased: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Opening {
    pub province: String,
    pub facility_kind: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub arrived_at: Option<OffsetDateTime>,
    /// When the case was opened (the command's time; old events: arrival).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub opened_at: Option<OffsetDateTime>,
}

/// Something that happened at a time, in a province.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dated {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub province: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateNeed {
    pub category: String,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
    pub province: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detention {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub province: String,
    pub categories: Vec<String>,
    pub age_band: String,
}

/// A stay in first reception: from entering a facility of a first-reception
/// kind until a placement elsewhere or the closure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stay {
    #[serde(with = "time::serde::rfc3339")]
    pub entered_at: OffsetDateTime,
    pub province: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub ended_at: Option<OffsetDateTime>,
    /// `FirstReceptionLimitExceeded` was recorded for it.
    pub exceeded: bool,
}

/// A placement that expects an arrival (`CasePlaced.arrival_due_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
    pub province: String,
    pub arrival_confirmed: bool,
    pub lost: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// `YYYY-MM-DD`.
    pub due_on: String,
    pub province: String,
    pub recorded: bool,
    pub missed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferralSteps {
    pub service_type: String,
    pub province: String,
    pub consent_id: String,
    pub urgency: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub sent_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub received_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub declined_at: Option<OffsetDateTime>,
    pub decline_reason: String,
    /// Declined with a new referral suggested.
    pub redirected: bool,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub in_care_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expired_at: Option<OffsetDateTime>,
    /// Whether the consent it relied on was a consent in force when it was
    /// sent (not an exception, not withdrawn, not past its validity).
    pub sent_with_valid_consent: Option<bool>,
    /// Sent under an exception (risk to life, child protection, mandatory reporting).
    pub sent_under_exception: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub exception: bool,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub given_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub valid_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub withdrawn_at: Option<OffsetDateTime>,
    pub province: String,
}

/// A request for a safe-space place, in the allocator of a province and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceRequest {
    pub province: String,
    pub kind: String,
    pub urgency: String,
    pub age_band: String,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub first_reserved_at: Option<OffsetDateTime>,
    /// Holding a place (reserved or arrived) since.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub holding_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub ended_at: Option<OffsetDateTime>,
    /// Places held before, as intervals (a return to the waiting list ends one).
    pub held: Vec<(i64, i64)>,
}

/// The time an event states, or else its commit's.
fn time_of(stated: Option<&prost_types::Timestamp>, at: Recorded) -> Option<OffsetDateTime> {
    stated
        .and_then(case_log_jetstream::envelope::from_timestamp)
        .or(at.occurred_at)
}

impl CasePathway {
    /// The province the case is in now ("" before it opened).
    pub fn province(&self) -> String {
        self.facts
            .as_ref()
            .map(|f| f.province.clone())
            .unwrap_or_default()
    }

    /// Applies one screening event of the case.
    pub fn apply_screening(
        &mut self,
        at: Recorded,
        event_type: &str,
        payload: &[u8],
    ) -> Result<(), prost::DecodeError> {
        let before = self.facts.clone();
        CaseFacts::apply(&mut self.facts, at, event_type, payload);
        match event_type {
            t if is::<screening::CaseOpened>(t) => {
                let e = screening::CaseOpened::decode(payload)?;
                let arrived_at =
                    time_of(e.arrival.as_ref().and_then(|a| a.arrived_at.as_ref()), at);
                let opened_at = time_of(e.opened_at.as_ref(), at).or(arrived_at);
                if !e.application_date.is_empty() {
                    self.application_date = Some(e.application_date.clone());
                }
                if FIRST_RECEPTION_KINDS.contains(&e.facility_kind.as_str())
                    && let Some(entered_at) = opened_at
                {
                    self.stays.push(Stay {
                        entered_at,
                        province: e.province.clone(),
                        ended_at: None,
                        exceeded: false,
                    });
                }
                self.opened = Some(Opening {
                    province: e.province,
                    facility_kind: e.facility_kind,
                    arrived_at,
                    opened_at,
                });
            }
            t if is::<screening::ApplicationRecorded>(t) => {
                let e = screening::ApplicationRecorded::decode(payload)?;
                if !e.application_date.is_empty() {
                    self.application_date = Some(e.application_date);
                }
            }
            t if is::<screening::PreliminaryCheckRecorded>(t) => {
                let e = screening::PreliminaryCheckRecorded::decode(payload)?;
                let when = time_of(e.checked_at.as_ref(), at);
                self.check_at = self.check_at.or(when);
                if !e.suspected.is_empty() {
                    self.first_suspicion_at = self.first_suspicion_at.or(when);
                }
            }
            t if is::<screening::VulnerabilitySignalRaised>(t) => {
                let e = screening::VulnerabilitySignalRaised::decode(payload)?;
                if e.suspected.is_some() {
                    self.first_suspicion_at = self
                        .first_suspicion_at
                        .or(time_of(e.raised_at.as_ref(), at));
                }
            }
            t if is::<screening::AssessmentRecorded>(t) => {
                let e = screening::AssessmentRecorded::decode(payload)?;
                let when = time_of(e.assessed_at.as_ref(), at);
                self.first_assessment_at = self.first_assessment_at.or(when);
                if self.assessment_completed_at.is_none() && e.still_to_assess.is_empty() {
                    self.assessment_completed_at = when;
                }
            }
            t if is::<screening::ScreeningDeadlineMissed>(t) => {
                self.screening_deadline_missed = true;
            }
            t if is::<screening::AssessmentDeadlineMissed>(t) => {
                self.assessment_deadline_missed = true;
            }
            t if is::<screening::NeedIdentifiedAfterAssessment>(t) => {
                let e = screening::NeedIdentifiedAfterAssessment::decode(payload)?;
                if let Some(raised_at) = time_of(e.raised_at.as_ref(), at) {
                    self.needs_after_assessment.push(LateNeed {
                        category: e.category,
                        raised_at,
                        province: self.province(),
                    });
                }
            }
            t if is::<screening::CasePlaced>(t) => {
                let e = screening::CasePlaced::decode(payload)?;
                let Some(placed_at) = time_of(e.placed_at.as_ref(), at) else {
                    return Ok(());
                };
                let moved = before
                    .as_ref()
                    .is_some_and(|f| f.facility_id != e.facility_id || f.province != e.province);
                let first_reception = FIRST_RECEPTION_KINDS.contains(&e.facility_kind.as_str());
                let in_stay = self.stays.last().is_some_and(|s| s.ended_at.is_none());
                if in_stay && !first_reception {
                    if let Some(stay) = self.stays.last_mut() {
                        stay.ended_at = Some(placed_at);
                    }
                } else if !in_stay && first_reception {
                    self.stays.push(Stay {
                        entered_at: placed_at,
                        province: e.province.clone(),
                        ended_at: None,
                        exceeded: false,
                    });
                }
                if moved && e.arrival_due_at.is_some() {
                    self.transfers.push(Transfer {
                        placed_at,
                        province: e.province,
                        arrival_confirmed: false,
                        lost: false,
                    });
                }
            }
            t if is::<screening::VulnerablePersonDetained>(t) => {
                let e = screening::VulnerablePersonDetained::decode(payload)?;
                if let Some(when) = time_of(e.detained_at.as_ref(), at) {
                    self.detentions.push(Detention {
                        at: when,
                        province: self.province(),
                        categories: e.categories,
                        age_band: e.age_band,
                    });
                }
            }
            t if is::<screening::GuardianAppointed>(t) => {
                let e = screening::GuardianAppointed::decode(payload)?;
                self.guardian_at = self.guardian_at.or(time_of(e.appointed_at.as_ref(), at));
            }
            t if is::<screening::FirstReceptionLimitExceeded>(t) => {
                if let Some(stay) = self.stays.last_mut() {
                    stay.exceeded = true;
                }
            }
            t if is::<screening::FollowUpScheduled>(t) => {
                let e = screening::FollowUpScheduled::decode(payload)?;
                let province = self.province();
                let entry = self.follow_ups.entry(e.follow_up_id).or_default();
                entry.due_on = e.due_on;
                entry.province = province;
            }
            t if is::<screening::FollowUpRecorded>(t) => {
                let e = screening::FollowUpRecorded::decode(payload)?;
                if let Some(entry) = self.follow_ups.get_mut(&e.follow_up_id) {
                    entry.recorded = true;
                }
                if e.outcome == "found"
                    && let Some(transfer) = self.transfers.last_mut()
                    && !transfer.lost
                {
                    transfer.arrival_confirmed = true;
                }
            }
            t if is::<screening::FollowUpMissed>(t) => {
                let e = screening::FollowUpMissed::decode(payload)?;
                if let Some(entry) = self.follow_ups.get_mut(&e.follow_up_id) {
                    entry.missed = true;
                }
            }
            t if is::<screening::LostToFollowUp>(t) => {
                if let Some(transfer) = self.transfers.last_mut()
                    && !transfer.arrival_confirmed
                {
                    transfer.lost = true;
                }
            }
            t if is::<screening::CaseClosed>(t) => {
                let e = screening::CaseClosed::decode(payload)?;
                let when = time_of(e.closed_at.as_ref(), at);
                if let Some(stay) = self.stays.last_mut()
                    && stay.ended_at.is_none()
                {
                    stay.ended_at = when;
                }
            }
            t if is::<screening::PersonalDataErased>(t) => {
                self.erased = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies one referral event of the case.
    pub fn apply_referral(
        &mut self,
        at: Recorded,
        event_type: &str,
        payload: &[u8],
    ) -> Result<(), prost::DecodeError> {
        match event_type {
            t if is::<referral::ConsentGiven>(t) => {
                let e = referral::ConsentGiven::decode(payload)?;
                let (exception, valid_until) = match &e.basis {
                    Some(referral::consent_given::Basis::Exception(_)) => (true, None),
                    Some(referral::consent_given::Basis::Consent(c)) => (
                        false,
                        c.valid_until
                            .as_ref()
                            .and_then(case_log_jetstream::envelope::from_timestamp),
                    ),
                    None => (false, None),
                };
                self.consents.insert(
                    e.consent_id,
                    Consent {
                        exception,
                        given_at: time_of(e.given_at.as_ref(), at),
                        valid_until,
                        withdrawn_at: None,
                        province: self.province(),
                    },
                );
            }
            t if is::<referral::ConsentWithdrawn>(t) => {
                let e = referral::ConsentWithdrawn::decode(payload)?;
                if let Some(consent) = self.consents.get_mut(&e.consent_id) {
                    consent.withdrawn_at = time_of(e.withdrawn_at.as_ref(), at);
                }
            }
            t if is::<referral::ConsentRefused>(t) => {
                let e = referral::ConsentRefused::decode(payload)?;
                if let Some(when) = time_of(e.refused_at.as_ref(), at) {
                    self.refusals.push(Dated {
                        at: when,
                        province: self.province(),
                    });
                }
            }
            t if is::<referral::ConsentWithdrawnDuringCare>(t) => {
                let e = referral::ConsentWithdrawnDuringCare::decode(payload)?;
                if let Some(when) = time_of(e.at.as_ref(), at) {
                    self.withdrawals_during_care.push(Dated {
                        at: when,
                        province: self.province(),
                    });
                }
            }
            t if is::<referral::ReferralDrafted>(t) => {
                let e = referral::ReferralDrafted::decode(payload)?;
                let province = if e.province.is_empty() {
                    self.province()
                } else {
                    e.province
                };
                self.referrals.insert(
                    e.referral_id,
                    ReferralSteps {
                        service_type: e.service_type,
                        province,
                        consent_id: e.consent_id,
                        ..ReferralSteps::default()
                    },
                );
            }
            t if is::<referral::ReferralSent>(t) => {
                let e = referral::ReferralSent::decode(payload)?;
                let when = time_of(e.sent_at.as_ref(), at);
                let consent = self
                    .referrals
                    .get(&e.referral_id)
                    .and_then(|r| self.consents.get(&r.consent_id))
                    .cloned();
                if let Some(r) = self.referrals.get_mut(&e.referral_id) {
                    r.sent_at = when;
                    r.urgency = if e.urgency.is_empty() {
                        "standard".to_owned()
                    } else {
                        e.urgency
                    };
                    r.sent_under_exception = consent.as_ref().is_some_and(|c| c.exception);
                    r.sent_with_valid_consent = Some(consent.is_some_and(|c| {
                        !c.exception
                            && c.withdrawn_at.is_none_or(|w| when.is_some_and(|s| w > s))
                            && c.valid_until.is_none_or(|v| when.is_some_and(|s| v > s))
                    }));
                }
            }
            t if is::<referral::ReferralReceived>(t) => {
                let e = referral::ReferralReceived::decode(payload)?;
                if let Some(r) = self.referrals.get_mut(&e.referral_id) {
                    r.received_at = r.received_at.or(time_of(e.at.as_ref(), at));
                }
            }
            t if is::<referral::ReferralAccepted>(t) => {
                let e = referral::ReferralAccepted::decode(payload)?;
                if let Some(r) = self.referrals.get_mut(&e.referral_id) {
                    r.accepted_at = time_of(e.at.as_ref(), at);
                }
            }
            t if is::<referral::ReferralDeclined>(t) => {
                let e = referral::ReferralDeclined::decode(payload)?;
                if let Some(r) = self.referrals.get_mut(&e.referral_id) {
                    r.declined_at = time_of(e.at.as_ref(), at);
                    r.decline_reason = e.reason;
                    r.redirected = !e.redirect_to_organisation_id.is_empty();
                }
            }
            t if is::<referral::TakenIntoCare>(t) => {
                let e = referral::TakenIntoCare::decode(payload)?;
                if let Some(r) = self.referrals.get_mut(&e.referral_id) {
                    r.in_care_at = r.in_care_at.or(time_of(e.at.as_ref(), at));
                }
            }
            t if is::<referral::ReferralExpired>(t) => {
                let e = referral::ReferralExpired::decode(payload)?;
                if let Some(r) = self.referrals.get_mut(&e.referral_id) {
                    r.expired_at = time_of(e.at.as_ref(), at);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies one allocator event about the case, in the allocator of `province` and `kind`.
    pub fn apply_allocator(
        &mut self,
        at: Recorded,
        province: &str,
        kind: &str,
        event_type: &str,
        payload: &[u8],
    ) -> Result<(), prost::DecodeError> {
        fn open<'a>(
            places: &'a mut [PlaceRequest],
            province: &str,
            kind: &str,
        ) -> Option<&'a mut PlaceRequest> {
            places
                .iter_mut()
                .rev()
                .find(|p| p.ended_at.is_none() && p.province == province && p.kind == kind)
        }
        match event_type {
            t if is::<safe_space::PlaceRequested>(t) => {
                let e = safe_space::PlaceRequested::decode(payload)?;
                if let Some(requested_at) = time_of(e.requested_at.as_ref(), at) {
                    self.places.push(PlaceRequest {
                        province: province.to_owned(),
                        kind: kind.to_owned(),
                        urgency: e.urgency,
                        age_band: e.age_band,
                        requested_at,
                        first_reserved_at: None,
                        holding_since: None,
                        ended_at: None,
                        held: Vec::new(),
                    });
                }
            }
            t if is::<safe_space::PlaceReserved>(t) => {
                let e = safe_space::PlaceReserved::decode(payload)?;
                let when = time_of(e.reserved_at.as_ref(), at);
                if let Some(p) = open(&mut self.places, province, kind) {
                    p.first_reserved_at = p.first_reserved_at.or(when);
                    p.holding_since = p.holding_since.or(when);
                }
            }
            t if is::<safe_space::ReturnedToWaitingList>(t) => {
                if let Some(p) = open(&mut self.places, province, kind)
                    && let (Some(since), Some(now)) = (p.holding_since.take(), at.occurred_at)
                {
                    p.held.push((since.unix_timestamp(), now.unix_timestamp()));
                }
            }
            t if is::<safe_space::RequestCancelled>(t)
                || is::<safe_space::PlaceReleased>(t)
                || is::<safe_space::HoldExpired>(t) =>
            {
                let stated = if is::<safe_space::RequestCancelled>(t) {
                    safe_space::RequestCancelled::decode(payload)?.cancelled_at
                } else if is::<safe_space::PlaceReleased>(t) {
                    safe_space::PlaceReleased::decode(payload)?.released_at
                } else {
                    safe_space::HoldExpired::decode(payload)?.expired_at
                };
                let when = time_of(stated.as_ref(), at);
                if let Some(p) = open(&mut self.places, province, kind) {
                    p.ended_at = when;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A safe space in the registry: its province and its places over time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpaceRecord {
    pub province: String,
    pub kind: String,
    /// (unix time, places: beds plus family rooms), in log order.
    pub places: Vec<(i64, u32)>,
    pub closed_at: Option<i64>,
}

impl SpaceRecord {
    /// Its places at `at` (0 before registration or after closure).
    pub fn places_at(&self, at: OffsetDateTime) -> u32 {
        let t = at.unix_timestamp();
        if self.closed_at.is_some_and(|closed| closed <= t) {
            return 0;
        }
        self.places
            .iter()
            .rev()
            .find(|(since, _)| *since <= t)
            .map_or(0, |(_, places)| *places)
    }

    /// Applies one registry event of the space.
    pub fn apply(
        record: &mut Option<SpaceRecord>,
        at: Recorded,
        event_type: &str,
        payload: &[u8],
    ) -> Result<(), prost::DecodeError> {
        let places = |c: Option<&safe_space::Capacity>| c.map_or(0, |c| c.beds + c.family_rooms);
        match event_type {
            t if is::<safe_space::SafeSpaceRegistered>(t) => {
                let e = safe_space::SafeSpaceRegistered::decode(payload)?;
                let profile = e.profile.unwrap_or_default();
                let when = time_of(e.registered_at.as_ref(), at).map_or(0, |t| t.unix_timestamp());
                *record = Some(SpaceRecord {
                    province: profile.province,
                    kind: profile.kind,
                    places: vec![(when, places(profile.capacity.as_ref()))],
                    closed_at: None,
                });
            }
            t if is::<safe_space::SafeSpaceCapacityChanged>(t) => {
                let e = safe_space::SafeSpaceCapacityChanged::decode(payload)?;
                let when = time_of(e.changed_at.as_ref(), at).map_or(0, |t| t.unix_timestamp());
                if let Some(r) = record.as_mut() {
                    r.places.push((when, places(e.capacity.as_ref())));
                }
            }
            t if is::<safe_space::SafeSpaceClosed>(t) => {
                let e = safe_space::SafeSpaceClosed::decode(payload)?;
                if let Some(r) = record.as_mut() {
                    r.closed_at = time_of(e.closed_at.as_ref(), at).map(|t| t.unix_timestamp());
                }
            }
            _ => {}
        }
        Ok(())
    }
}
