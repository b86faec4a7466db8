//! What the web inbox's pages receive of a referral: the inbox row (no
//! dataset: a list never shows one, though the service records the reads of
//! the inbox it answers) and the detail (the dataset and the timeline). Times
//! are Unix seconds; the page formats them in the reader's language.

use contracts::referral::v1 as referral;
use contracts::safe_space::v1 as safe_space;
use serde_json::{Value, json};

fn seconds(at: Option<&prost_types::Timestamp>) -> Value {
    at.map_or(Value::Null, |t| json!(t.seconds))
}

/// The inbox row of a referral.
pub fn summary(view: &referral::ReferralView) -> Value {
    json!({
        "referral_id": view.referral_id,
        "case_id": view.case_id,
        "state": view.state,
        "service_type": view.service_type,
        "urgency": view.urgency,
        "referrer_organisation_id": view.referrer_organisation_id,
        "acknowledge_by": seconds(view.acknowledge_by.as_ref()),
        "answer_by": seconds(view.answer_by.as_ref()),
        "take_charge_by": seconds(view.take_charge_by.as_ref()),
        "missed_deadlines": view.missed_deadlines,
        "sent_at": seconds(
            view.timeline
                .iter()
                .find(|t| t.state == "sent")
                .and_then(|t| t.at.as_ref())
        ),
        "last_log_sequence": view.last_log_sequence,
    })
}

/// The detail of a referral, with the places of its case.
pub fn detail(view: &referral::ReferralView, places: &[safe_space::CasePlace]) -> Value {
    let mut value = summary(view);
    let dataset = view.dataset.as_ref().map(|d| {
        json!({
            "categories": d.categories,
            "urgency": d.urgency,
            "languages": d.languages,
            "communication_needs": d.communication_needs,
            "safety_instructions": d.safety_instructions,
        })
    });
    let timeline: Vec<Value> = view
        .timeline
        .iter()
        .map(|t| {
            json!({
                "state": t.state,
                "at": seconds(t.at.as_ref()),
                "organisation_id": t.organisation_id,
                "role": t.role,
            })
        })
        .collect();
    let places: Vec<Value> = places
        .iter()
        .map(|p| {
            let allocator = p.allocator.clone().unwrap_or_default();
            json!({
                "province": allocator.province,
                "kind": allocator.kind,
                "standing": p.standing,
                "space_id": p.space_id,
                "held_until": seconds(p.held_until.as_ref()),
                "position": p.position,
            })
        })
        .collect();
    if let Value::Object(map) = &mut value {
        map.insert("dataset".to_owned(), dataset.unwrap_or(Value::Null));
        map.insert(
            "dataset_access_revoked".to_owned(),
            json!(view.dataset_access_revoked),
        );
        map.insert(
            "personal_data_erased".to_owned(),
            json!(view.personal_data_erased),
        );
        map.insert("timeline".to_owned(), Value::Array(timeline));
        map.insert("decline_reason".to_owned(), json!(view.decline_reason));
        map.insert(
            "redirect_to_organisation_id".to_owned(),
            json!(view.redirect_to_organisation_id),
        );
        map.insert("outcome".to_owned(), json!(view.outcome));
        map.insert("cancel_reason".to_owned(), json!(view.cancel_reason));
        map.insert("failure_reason".to_owned(), json!(view.failure_reason));
        map.insert("places".to_owned(), Value::Array(places));
    }
    value
}
