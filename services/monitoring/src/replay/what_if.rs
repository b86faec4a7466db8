//! What-if replay: deadline compliance of a period recomputed under an
//! alternative deadline policy, beside the policy in force, from the log
//! alone, read message by message (`CaseLog::commit_at`, no consumer, nothing
//! written).
//!
//! Definitions (per deadline kind):
//! - `screening`: cases opened in the period (`CaseOpened.opened_at`, or
//!   the commit's time for older openings); met by the preliminary check.
//!   In force: `case_screening::screening_due_at`; alternative: the same rule
//!   with its days (`case_screening::DeadlineDays`).
//! - `assessment`: cases opened in the period with an application; met when
//!   the assessment is completed. In force: `assessment_due_at`.
//! - `referral_acknowledgement`: referrals sent in the period; met by the
//!   first of received, accepted or declined. In force: the deadline the log
//!   recorded (`ReferralSent`, then `DeadlinesTightened`); alternative: the
//!   window of `case_referral::DeadlinePolicy::acknowledge_within` for the
//!   urgency it was sent with (standard when none was recorded), from
//!   sending, and for each tightening's urgency from the tightening, the
//!   earlier of them. A referral that ended unacknowledged (cancelled,
//!   revoked, failed) is not counted.
//!
//! `total` counts the decided ones: met, or whose deadline passed by the
//! replay's time; `within` those met at or before the deadline.

use std::collections::BTreeMap;

use case_log_jetstream::{CaseLog, LogError, Producer, RecordedCommit, RootKind};
use case_referral::{DeadlinePolicy, ReferralId, ReferralState};
use case_screening::DeadlineDays;
use contracts::monitoring::v1 as api;
use pathway::Urgency;
use service_runtime::ServiceError;
use time::{Duration, OffsetDateTime};

/// The alternative policy, validated.
#[derive(Debug, Clone)]
pub struct Alternative {
    pub days: DeadlineDays,
    pub acknowledge: DeadlinePolicy,
}

/// One case's commits, screening's and referral's, in log order.
#[derive(Debug, Default)]
pub struct CaseCommits {
    pub commits: Vec<RecordedCommit>,
}

/// Reads every case commit of screening and referral up to `last`.
pub async fn read_cases(
    log: &CaseLog,
    last: u64,
) -> Result<BTreeMap<String, CaseCommits>, ServiceError> {
    let mut cases: BTreeMap<String, CaseCommits> = BTreeMap::new();
    for sequence in 1..=last {
        let commit = match log.commit_at(sequence).await {
            Ok(commit) => commit,
            // Untrusted messages are left out, as every history read does.
            Err(LogError::Codec { .. }) => continue,
            Err(error) => return Err(error.into()),
        };
        if commit.check_claim().is_err() {
            continue;
        }
        let Some((RootKind::Case, case_id, Producer::Screening | Producer::Referral)) =
            commit.aggregate()
        else {
            continue;
        };
        let case_id = case_id.to_owned();
        cases.entry(case_id).or_default().commits.push(commit);
    }
    Ok(cases)
}

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    within: u64,
    total: u64,
}

impl Count {
    fn add(&mut self, done: Option<OffsetDateTime>, due: OffsetDateTime, now: OffsetDateTime) {
        match done {
            Some(at) => {
                self.total += 1;
                if at <= due {
                    self.within += 1;
                }
            }
            None if due <= now => self.total += 1,
            None => {}
        }
    }
}

#[derive(Debug, Default)]
struct Figures {
    screening: Count,
    assessment: Count,
    acknowledgement: Count,
}

impl Figures {
    fn render(&self) -> Vec<api::DeadlineCompliance> {
        [
            ("screening", self.screening),
            ("assessment", self.assessment),
            ("referral_acknowledgement", self.acknowledgement),
        ]
        .into_iter()
        .map(|(deadline, c)| api::DeadlineCompliance {
            deadline: deadline.to_owned(),
            within: c.within,
            total: c.total,
        })
        .collect()
    }
}

/// A referral's acknowledgement as the log tells it.
#[derive(Debug, Default)]
struct Acknowledgement {
    sent: Option<(OffsetDateTime, Option<Urgency>)>,
    tightened: Vec<(Urgency, OffsetDateTime)>,
    acknowledged_at: Option<OffsetDateTime>,
}

/// The compliance figures in force and under `alternative`, for the cases
/// of `province` (any when `None`) in [from, to), judged at `now`.
pub fn compliance(
    cases: &BTreeMap<String, CaseCommits>,
    from: OffsetDateTime,
    to: OffsetDateTime,
    province: Option<&str>,
    alternative: &Alternative,
    now: OffsetDateTime,
) -> Result<(Vec<api::DeadlineCompliance>, Vec<api::DeadlineCompliance>), ServiceError> {
    let in_period = |at: OffsetDateTime| from <= at && at < to;
    let mut in_force = Figures::default();
    let mut alt = Figures::default();
    for (case_id, case) in cases {
        let folded = super::state::fold(case_id, &case.commits)?;
        let screening = &folded.screening;
        if province.is_some() && super::state::province(screening).as_deref() != province {
            continue;
        }
        if let Some(opened) = &screening.opened {
            let opened_at = opened.opened_at.or_else(|| {
                case.commits
                    .iter()
                    .find(|c| c.producer() == Some(Producer::Screening))
                    .map(|c| c.recorded_at)
            });
            if opened_at.is_some_and(in_period) {
                let check = screening.preliminary_check_at;
                in_force
                    .screening
                    .add(check, opened.screening_due_at(), now);
                alt.screening.add(
                    check,
                    alternative.days.screening_due_at(
                        opened.arrived_at,
                        opened.facility_kind,
                        opened.opened_at,
                    ),
                    now,
                );
                if let Some(application) = screening.application_date {
                    let done = screening.assessment_completed_at;
                    in_force.assessment.add(
                        done,
                        DeadlineDays::IN_FORCE.assessment_due_at(application),
                        now,
                    );
                    alt.assessment
                        .add(done, alternative.days.assessment_due_at(application), now);
                }
            }
        }
        let acknowledgements = acknowledgements(case_id, &case.commits)?;
        for (referral_id, ack) in acknowledgements {
            let Some((sent_at, urgency)) = ack.sent else {
                continue;
            };
            if !in_period(sent_at) {
                continue;
            }
            let Some(referral) = folded.referral.referrals.get(&referral_id) else {
                continue;
            };
            let ended_unacknowledged = ack.acknowledged_at.is_none()
                && matches!(
                    referral.state,
                    ReferralState::Cancelled | ReferralState::Revoked | ReferralState::Failed
                );
            if ended_unacknowledged {
                continue;
            }
            if let Some(due) = referral.acknowledge_by {
                in_force.acknowledgement.add(ack.acknowledged_at, due, now);
            }
            let policy = &alternative.acknowledge;
            let window = |u: Urgency| -> Duration { policy.acknowledge_within(u) };
            let mut due = sent_at + window(urgency.unwrap_or(Urgency::Standard));
            for (u, at) in &ack.tightened {
                due = due.min((*at).max(sent_at) + window(*u));
            }
            alt.acknowledgement.add(ack.acknowledged_at, due, now);
        }
    }
    Ok((in_force.render(), alt.render()))
}

fn acknowledgements(
    case_id: &str,
    commits: &[RecordedCommit],
) -> Result<BTreeMap<ReferralId, Acknowledgement>, ServiceError> {
    use case_referral::Event;
    let known = event_codecs::referral::WireEvent::event_types();
    let mut out: BTreeMap<ReferralId, Acknowledgement> = BTreeMap::new();
    for commit in commits {
        if commit.producer() != Some(Producer::Referral) {
            continue;
        }
        for event in &commit.commit.events {
            if !known.contains(&event.event_type) {
                continue;
            }
            let decoded = event_codecs::referral::decode_with(event, case_id, |_, _| Ok(None))
                .map_err(|e| ServiceError::internal(format!("replay: {e}")))?;
            let acknowledged = |out: &mut BTreeMap<ReferralId, Acknowledgement>,
                                id: &ReferralId,
                                at: OffsetDateTime| {
                let entry = out.entry(id.clone()).or_default();
                entry.acknowledged_at.get_or_insert(at);
            };
            match decoded {
                Some(Event::ReferralSent {
                    referral_id,
                    sent_at,
                    urgency,
                    ..
                }) => out.entry(referral_id).or_default().sent = Some((sent_at, urgency)),
                Some(Event::DeadlinesTightened {
                    referral_id,
                    urgency,
                    at,
                    ..
                }) => out
                    .entry(referral_id)
                    .or_default()
                    .tightened
                    .push((urgency, at)),
                Some(Event::ReferralReceived { referral_id, at })
                | Some(Event::ReferralAccepted {
                    referral_id, at, ..
                })
                | Some(Event::ReferralDeclined {
                    referral_id, at, ..
                }) => acknowledged(&mut out, &referral_id, at),
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use case_referral::Event;
    use contracts::log::v1 as log;
    use time::macros::datetime;

    const SENT: OffsetDateTime = datetime!(2026-06-01 10:00 UTC);

    fn referral_commit(sequence: u64, events: &[Event]) -> RecordedCommit {
        let events = events
            .iter()
            .map(|event| {
                let new = event_codecs::referral::encode_with(event, "AG", |_, _| {
                    Err::<contracts::referral::v1::referral_drafted::Dataset, ()>(())
                })
                .expect("encodes")
                .encode();
                log::Event {
                    event_id: format!("e{sequence}"),
                    event_type: new.event_type,
                    schema_version: new.schema_version,
                    payload: new.payload,
                }
            })
            .collect();
        RecordedCommit {
            sequence,
            subject: "approdo.case.case-1.referral".to_owned(),
            recorded_at: SENT,
            commit: log::Commit {
                events,
                ..Default::default()
            },
        }
    }

    fn id(raw: &str) -> ReferralId {
        ReferralId::parse(raw).expect("id")
    }

    fn sent(referral: &str, urgency: Urgency, acknowledge_by: OffsetDateTime) -> Event {
        Event::ReferralSent {
            referral_id: id(referral),
            sent_at: SENT,
            acknowledge_by,
            answer_by: acknowledge_by + Duration::hours(72),
            urgency: Some(urgency),
            policy_version: 1,
        }
    }

    /// Referrals of one case, acknowledged or not, judged at `now` under the
    /// alternative of `immediate` and `standard` hours.
    fn figures(
        commits: Vec<RecordedCommit>,
        immediate: i64,
        standard: i64,
        now: OffsetDateTime,
    ) -> (Count, Count) {
        let mut cases = BTreeMap::new();
        cases.insert("case-1".to_owned(), CaseCommits { commits });
        let alternative = Alternative {
            days: DeadlineDays::IN_FORCE,
            acknowledge: DeadlinePolicy {
                acknowledge_immediate: Duration::hours(immediate),
                acknowledge_standard: Duration::hours(standard),
                ..DeadlinePolicy::default()
            },
        };
        let (in_force, alt) = compliance(
            &cases,
            SENT - Duration::days(1),
            SENT + Duration::days(1),
            None,
            &alternative,
            now,
        )
        .expect("figures");
        let pick = |figures: &[api::DeadlineCompliance]| {
            let f = figures
                .iter()
                .find(|f| f.deadline == "referral_acknowledgement")
                .expect("acknowledgement");
            Count {
                within: f.within,
                total: f.total,
            }
        };
        (pick(&in_force), pick(&alt))
    }

    fn draft_commit(sequence: u64, referral: &str) -> RecordedCommit {
        // A draft as recorded before datasets were sealed (replay never opens one).
        let wire = contracts::referral::v1::ReferralDrafted {
            referral_id: referral.to_owned(),
            referrer_organisation_id: "hotspot".to_owned(),
            receiver_organisation_id: "cav-1".to_owned(),
            service_type: "shelter".to_owned(),
            consent_id: "c-1".to_owned(),
            dataset: Some(
                contracts::referral::v1::referral_drafted::Dataset::MinimumDataset(
                    Default::default(),
                ),
            ),
            ..Default::default()
        };
        let new = event_codecs::referral::WireEvent::ReferralDrafted(wire).encode();
        RecordedCommit {
            sequence,
            subject: "approdo.case.case-1.referral".to_owned(),
            recorded_at: SENT,
            commit: log::Commit {
                events: vec![log::Event {
                    event_id: format!("d{sequence}"),
                    event_type: new.event_type,
                    schema_version: new.schema_version,
                    payload: new.payload,
                }],
                ..Default::default()
            },
        }
    }

    /// Sent standard (72 h in force), tightened to immediate an hour later
    /// (the log records 5 h), received after 3 h.
    fn tightened() -> Vec<RecordedCommit> {
        vec![
            draft_commit(1, "r-1"),
            referral_commit(
                2,
                &[sent("r-1", Urgency::Standard, SENT + Duration::hours(72))],
            ),
            referral_commit(
                3,
                &[Event::DeadlinesTightened {
                    referral_id: id("r-1"),
                    urgency: Urgency::Immediate,
                    acknowledge_by: SENT + Duration::hours(5),
                    answer_by: SENT + Duration::hours(9),
                    at: SENT + Duration::hours(1),
                }],
            ),
            referral_commit(
                4,
                &[Event::ReferralReceived {
                    referral_id: id("r-1"),
                    at: SENT + Duration::hours(3),
                }],
            ),
        ]
    }

    #[test]
    fn a_tightening_runs_the_alternative_window_of_its_urgency_from_the_tightening() {
        let now = SENT + Duration::days(1);
        let (in_force, within_four) = figures(tightened(), 4, 72, now);
        assert_eq!((in_force.within, in_force.total), (1, 1));
        // Four hours for immediate: due five hours after sending.
        assert_eq!((within_four.within, within_four.total), (1, 1));
        // One hour: due two hours after sending, received after three.
        let (_, within_one) = figures(tightened(), 1, 72, now);
        assert_eq!((within_one.within, within_one.total), (0, 1));
    }

    /// r-1 and r-2 sent standard; r-2 cancelled, never acknowledged.
    fn two_sent() -> Vec<RecordedCommit> {
        vec![
            draft_commit(1, "r-1"),
            draft_commit(2, "r-2"),
            referral_commit(
                3,
                &[
                    sent("r-1", Urgency::Standard, SENT + Duration::hours(72)),
                    sent("r-2", Urgency::Standard, SENT + Duration::hours(72)),
                ],
            ),
            referral_commit(
                4,
                &[Event::ReferralCancelled {
                    referral_id: id("r-2"),
                    at: SENT + Duration::hours(100),
                    reason: case_referral::CancelReason::ReferrerDecision,
                }],
            ),
        ]
    }

    #[test]
    fn pending_referrals_count_once_overdue_and_cancelled_unacknowledged_ones_never() {
        let (in_force, alt) = figures(two_sent(), 4, 72, SENT + Duration::hours(10));
        assert_eq!((in_force.total, alt.total), (0, 0), "nothing decided yet");
        let (in_force, alt) = figures(two_sent(), 4, 72, SENT + Duration::hours(200));
        assert_eq!(
            (in_force.within, in_force.total, alt.within, alt.total),
            (0, 1, 0, 1),
            "r-1 missed, r-2 cancelled unacknowledged"
        );
    }

    proptest::proptest! {
        /// A tighter alternative never counts more referrals within than a
        /// looser one, and, once every deadline has passed, both count the
        /// same referrals: only the deadline moves, never the population.
        #[test]
        fn a_tighter_alternative_never_counts_more_within(
            received_after in proptest::option::of(0_i64..300),
            tightened_after in proptest::option::of(0_i64..100),
            tighter in 1_i64..200,
            looser_by in 0_i64..200,
        ) {
            let mut commits = vec![
                draft_commit(1, "r-1"),
                referral_commit(2, &[sent("r-1", Urgency::Standard, SENT + Duration::hours(72))]),
            ];
            if let Some(after) = tightened_after {
                commits.push(referral_commit(3, &[Event::DeadlinesTightened {
                    referral_id: id("r-1"),
                    urgency: Urgency::High,
                    acknowledge_by: SENT + Duration::hours(after + 24),
                    answer_by: SENT + Duration::hours(after + 48),
                    at: SENT + Duration::hours(after),
                }]));
            }
            if let Some(after) = received_after {
                commits.push(referral_commit(4, &[Event::ReferralReceived {
                    referral_id: id("r-1"),
                    at: SENT + Duration::hours(after),
                }]));
            }
            let now = SENT + Duration::days(60);
            let (_, tight) = figures(commits.clone(), 4, tighter, now);
            let (_, loose) = figures(commits, 4, tighter + looser_by, now);
            proptest::prop_assert!(tight.within <= loose.within);
            proptest::prop_assert_eq!(tight.total, loose.total);
        }
    }
}
