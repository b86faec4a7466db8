//! The indicators 1-10 of the domain brief, computed from the projection's
//! case pathways and safe spaces for one query (period, filter, grouping,
//! the caller's province scope), each an `indicators` table protected before
//! it leaves. The definitions are in ARCHITECTURE.md ("Monitoring
//! indicators"); this is the one place they are computed.

use std::collections::BTreeMap;

use indicators::{Group, Layout, Observation, TableBuilder, TableOutput};
use pathway::calendar;
use time::OffsetDateTime;

use crate::pathway::{CasePathway, SpaceRecord};
use crate::projection::TrainingSession;

/// A grouping dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    Province,
    Month,
    Category,
    ServiceType,
    Urgency,
    AgeBand,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Province,
        Dimension::Month,
        Dimension::Category,
        Dimension::ServiceType,
        Dimension::Urgency,
        Dimension::AgeBand,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Dimension::Province => "province",
            Dimension::Month => "month",
            Dimension::Category => "category",
            Dimension::ServiceType => "service_type",
            Dimension::Urgency => "urgency",
            Dimension::AgeBand => "age_band",
        }
    }

    pub fn from_code(code: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// Categories never shown as a dimension value, nor filtered on: special-category
/// data the domain brief keeps out of every analyst view.
pub const NEVER_SHOWN: [&str; 1] = ["LGBTIQ"];

/// What one query asks.
#[derive(Debug, Clone)]
pub struct Query {
    pub from: Option<OffsetDateTime>,
    pub to: OffsetDateTime,
    pub group_by: Vec<Dimension>,
    pub provinces: Vec<String>,
    pub categories: Vec<String>,
    pub service_types: Vec<String>,
    pub urgencies: Vec<String>,
    pub age_bands: Vec<String>,
    /// Table ids to compute (empty: all).
    pub indicators: Vec<String>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            from: None,
            to: OffsetDateTime::UNIX_EPOCH,
            group_by: Vec::new(),
            provinces: Vec::new(),
            categories: Vec::new(),
            service_types: Vec::new(),
            urgencies: Vec::new(),
            age_bands: Vec::new(),
            indicators: Vec::new(),
        }
    }
}

/// One computed indicator table.
#[derive(Debug, Clone)]
pub struct Computed {
    pub id: &'static str,
    pub measure: &'static str,
    pub unit: &'static str,
    pub dimensions: Vec<Dimension>,
    pub table: TableOutput,
    /// Places per 10,000 inhabitants per row (indicator 9), by row group.
    pub per_10000: BTreeMap<Group, f64>,
}

/// One observation's coordinates before grouping.
#[derive(Debug, Clone)]
struct Point {
    start: OffsetDateTime,
    province: String,
    categories: Vec<String>,
    service_type: Option<String>,
    urgency: String,
    age_band: String,
}

/// The table ids, with what each measures, its unit and whether it has a service type.
pub const TABLES: &[(&str, &str, &str)] = &[
    (
        "1.preliminary_check",
        "arrivals (cases opened) by whether a preliminary vulnerability check is recorded, on time or after the screening deadline",
        "",
    ),
    (
        "2.application_to_assessment_completed",
        "time from the day the application was made to the assessment completed",
        "hours",
    ),
    (
        "2.assessment_on_time",
        "assessments completed within 30 days of the application, and those whose deadline was missed",
        "",
    ),
    (
        "3.signal_to_referral_sent",
        "time from the first suspected category to the case's first referral sent",
        "hours",
    ),
    (
        "3.sent_to_received",
        "time from a referral sent to received",
        "hours",
    ),
    (
        "3.received_to_accepted",
        "time from a referral received to accepted",
        "hours",
    ),
    (
        "3.accepted_to_in_care",
        "time from a referral accepted to taken into care",
        "hours",
    ),
    (
        "4.referral_answers",
        "referrals sent by answer: accepted, declined by reason, redirected, expired",
        "",
    ),
    (
        "5.referrals_with_valid_consent",
        "referrals sent under a consent in force, under an exception, or neither",
        "",
    ),
    (
        "5.consent_events",
        "consents given, refused, withdrawn, withdrawn during care",
        "",
    ),
    (
        "6.follow_up_on_time",
        "scheduled follow-ups recorded on time or missed",
        "",
    ),
    (
        "6.lost_after_transfer",
        "transfers whose arrival was confirmed, and people lost to follow-up after one",
        "",
    ),
    (
        "7.late_identification",
        "needs identified after the first assessment, within or after 30 days of the application",
        "",
    ),
    (
        "8.vulnerable_people_detained",
        "placements in detention of a minor or a person with a category confirmed",
        "",
    ),
    (
        "9.safe_space_places",
        "safe-space places, places occupied (reserved or arrived) and people waiting, at the period's end",
        "",
    ),
    (
        "9.safe_space_waiting_time",
        "time from a request for a safe-space place to a place reserved",
        "hours",
    ),
    (
        "10.time_to_guardian",
        "unaccompanied minors: time from arrival to the first guardian appointed",
        "days",
    ),
    (
        "10.days_in_first_reception",
        "unaccompanied minors: calendar days of each stay in first reception (to its end, or the period's end)",
        "days",
    ),
    (
        "11.staff_training_sessions",
        "staff training sessions held, by topic (facilities by their province; organisations' own under none)",
        "",
    ),
    (
        "10.first_reception_over_45_days",
        "unaccompanied minors' stays in first reception ended within 45 days, or past the limit",
        "",
    ),
];

/// Which dimensions each table has.
fn has(id: &str, dimension: Dimension) -> bool {
    match dimension {
        Dimension::ServiceType => {
            id.starts_with("3.") || id.starts_with("4.") || id == "5.referrals_with_valid_consent"
        }
        Dimension::Province => true,
        _ if id == "9.safe_space_places" => false,
        Dimension::Month => true,
        _ if id == "11.staff_training_sessions" => false,
        Dimension::Category => id != "9.safe_space_waiting_time",
        Dimension::Urgency | Dimension::AgeBand => true,
    }
}

fn month(at: OffsetDateTime) -> String {
    let day = calendar::date_in_rome(at);
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

fn hours(from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    (to - from).as_seconds_f64() / 3600.0
}

fn day_start(date: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, &format)
        .ok()
        .map(calendar::start_of_day_in_rome)
}

/// A case's categories as a dimension: not ruled out, never LGBTIQ; `none` if no other.
fn shown_categories(pathway: &CasePathway) -> Vec<String> {
    let mut categories: Vec<String> = pathway
        .facts
        .as_ref()
        .map(|f| {
            f.categories
                .iter()
                .filter(|(_, status)| status.as_str() != "ruled_out")
                .map(|(code, _)| code.clone())
                .filter(|code| !NEVER_SHOWN.contains(&code.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if categories.is_empty() {
        categories.push("none".to_owned());
    }
    categories
}

fn shown(categories: &[String]) -> Vec<String> {
    let mut shown: Vec<String> = categories
        .iter()
        .filter(|c| !NEVER_SHOWN.contains(&c.as_str()))
        .cloned()
        .collect();
    if shown.is_empty() {
        shown.push("none".to_owned());
    }
    shown
}

fn is_unaccompanied_minor(pathway: &CasePathway) -> bool {
    pathway.facts.as_ref().is_some_and(|f| {
        f.categories
            .get("UNACCOMPANIED_MINOR")
            .is_some_and(|status| status != "ruled_out")
    })
}

impl Point {
    fn of_case(pathway: &CasePathway, start: OffsetDateTime, province: &str) -> Point {
        let facts = pathway.facts.clone().unwrap_or_default();
        Point {
            start,
            province: province.to_owned(),
            categories: shown_categories(pathway),
            service_type: None,
            urgency: if facts.urgency.is_empty() {
                "none".to_owned()
            } else {
                facts.urgency
            },
            age_band: if facts.age_band.is_empty() {
                "unknown".to_owned()
            } else {
                facts.age_band
            },
        }
    }
}

struct Grouper<'a> {
    query: &'a Query,
    id: &'static str,
}

impl Grouper<'_> {
    fn dimensions(&self) -> Vec<Dimension> {
        self.query
            .group_by
            .iter()
            .copied()
            .filter(|d| has(self.id, *d))
            .collect()
    }

    /// The groups a point falls in, or `None` when the filter or the period leaves it out.
    fn groups(&self, point: &Point) -> Option<Vec<Group>> {
        let q = self.query;
        if q.from.is_some_and(|from| point.start < from) || point.start >= q.to {
            return None;
        }
        let keep =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        if !keep(&q.provinces, &point.province)
            || (has(self.id, Dimension::Urgency) && !keep(&q.urgencies, &point.urgency))
            || (has(self.id, Dimension::AgeBand) && !keep(&q.age_bands, &point.age_band))
        {
            return None;
        }
        if let Some(service_type) = &point.service_type
            && !keep(&q.service_types, service_type)
        {
            return None;
        }
        let categories: Vec<String> = if has(self.id, Dimension::Category) {
            point
                .categories
                .iter()
                .filter(|c| keep(&q.categories, c))
                .cloned()
                .collect()
        } else {
            vec![String::new()]
        };
        if categories.is_empty() {
            return None;
        }
        let dimensions = self.dimensions();
        let by_category = dimensions.contains(&Dimension::Category);
        let one = |category: &str| -> Group {
            dimensions
                .iter()
                .map(|d| match d {
                    Dimension::Province => point.province.clone(),
                    Dimension::Month => month(point.start),
                    Dimension::Category => category.to_owned(),
                    Dimension::ServiceType => point.service_type.clone().unwrap_or_default(),
                    Dimension::Urgency => point.urgency.clone(),
                    Dimension::AgeBand => point.age_band.clone(),
                })
                .collect()
        };
        Some(if by_category {
            categories.iter().map(|c| one(c)).collect()
        } else {
            vec![one("")]
        })
    }
}

/// Computes the tables the query asks for.
pub fn compute(
    query: &Query,
    cases: &[(String, CasePathway)],
    spaces: &[SpaceRecord],
    training: &[TrainingSession],
    population: &BTreeMap<String, u64>,
) -> Vec<Computed> {
    TABLES
        .iter()
        .filter(|(id, _, _)| {
            query.indicators.is_empty() || query.indicators.iter().any(|i| i == id)
        })
        .map(|(id, measure, unit)| {
            let grouper = Grouper { query, id };
            let (layout, observations) = observe(id, &grouper, cases, spaces, training);
            let mut builder = TableBuilder::new(layout);
            for observation in observations {
                builder.add(observation);
            }
            let table = builder.build(indicators::THRESHOLD);
            let per_10000 = if *id == "9.safe_space_places" {
                places_per_10000(&table, &grouper, population)
            } else {
                BTreeMap::new()
            };
            Computed {
                id,
                measure,
                unit,
                dimensions: grouper.dimensions(),
                table,
                per_10000,
            }
        })
        .collect()
}

/// Places per 10,000 inhabitants of each row's province (the total row: every
/// province in the population figures that the query's filter keeps), from
/// the published places only.
fn places_per_10000(
    table: &TableOutput,
    grouper: &Grouper<'_>,
    population: &BTreeMap<String, u64>,
) -> BTreeMap<Group, f64> {
    let by_province = grouper.dimensions().contains(&Dimension::Province);
    let mut out = BTreeMap::new();
    let rate = |places: u64, inhabitants: u64| {
        (inhabitants > 0).then(|| places as f64 * 10_000.0 / inhabitants as f64)
    };
    for row in table.rows.iter().chain(table.total.iter()) {
        let Some(places) = row.cells.first().copied().flatten() else {
            continue;
        };
        let inhabitants = if by_province && row.group.first().map(String::as_str) != Some("total") {
            row.group
                .first()
                .and_then(|p| population.get(p))
                .copied()
                .unwrap_or(0)
        } else {
            population
                .iter()
                .filter(|(p, _)| {
                    grouper.query.provinces.is_empty() || grouper.query.provinces.contains(p)
                })
                .map(|(_, n)| *n)
                .sum()
        };
        if let Some(r) = rate(places, inhabitants) {
            out.insert(row.group.clone(), r);
        }
    }
    out
}

fn outcomes(columns: &[&str]) -> Layout {
    Layout::Outcomes(columns.iter().map(|c| (*c).to_owned()).collect())
}

fn observe(
    id: &str,
    g: &Grouper<'_>,
    cases: &[(String, CasePathway)],
    spaces: &[SpaceRecord],
    training: &[TrainingSession],
) -> (Layout, Vec<Observation>) {
    let as_of = g.query.to;
    let mut out = Vec::new();
    let mut push = |point: Option<Point>, column: usize, value: Option<f64>, weight: u64| {
        if let Some(point) = point
            && let Some(groups) = g.groups(&point)
        {
            out.push(Observation {
                groups,
                column,
                value,
                weight,
            });
        }
    };
    let layout = match id {
        "1.preliminary_check" => {
            for (_, c) in cases {
                let Some(opened) = &c.opened else { continue };
                let Some(start) = opened.opened_at.or(opened.arrived_at) else {
                    continue;
                };
                let column = match (c.check_at.is_some(), c.screening_deadline_missed) {
                    (true, false) => 0,
                    (true, true) => 1,
                    (false, _) => 2,
                };
                push(
                    Some(Point::of_case(c, start, &opened.province)),
                    column,
                    None,
                    1,
                );
            }
            outcomes(&["checked_on_time", "checked_late", "not_checked"])
        }
        "2.application_to_assessment_completed" | "2.assessment_on_time" => {
            for (_, c) in cases {
                let Some(start) = c.application_date.as_deref().and_then(day_start) else {
                    continue;
                };
                let province = c
                    .opened
                    .as_ref()
                    .map(|o| o.province.clone())
                    .unwrap_or_default();
                let point = Point::of_case(c, start, &province);
                if id == "2.assessment_on_time" {
                    match (c.assessment_completed_at, c.assessment_deadline_missed) {
                        (_, true) => push(Some(point), 1, None, 1),
                        (Some(_), false) => push(Some(point), 0, None, 1),
                        (None, false) => {}
                    }
                } else if let Some(done) = c.assessment_completed_at {
                    push(Some(point), 0, Some(hours(start, done)), 1);
                }
            }
            if id == "2.assessment_on_time" {
                outcomes(&["on_time", "late"])
            } else {
                Layout::Durations
            }
        }
        "3.signal_to_referral_sent" => {
            for (_, c) in cases {
                let Some(signal) = c.first_suspicion_at else {
                    continue;
                };
                let first = c
                    .referrals
                    .values()
                    .filter_map(|r| r.sent_at.map(|s| (s, r)))
                    .min_by_key(|(s, _)| *s);
                if let Some((sent, r)) = first {
                    let mut point = Point::of_case(c, signal, &r.province);
                    point.service_type = Some(r.service_type.clone());
                    push(Some(point), 0, Some(hours(signal, sent)), 1);
                }
            }
            Layout::Durations
        }
        "3.sent_to_received" | "3.received_to_accepted" | "3.accepted_to_in_care" => {
            for (_, c) in cases {
                for r in c.referrals.values() {
                    let (from, to) = match id {
                        "3.sent_to_received" => (r.sent_at, r.received_at),
                        "3.received_to_accepted" => (r.received_at, r.accepted_at),
                        _ => (r.accepted_at, r.in_care_at),
                    };
                    if let (Some(from), Some(to)) = (from, to) {
                        let mut point = Point::of_case(c, from, &r.province);
                        point.service_type = Some(r.service_type.clone());
                        point.urgency = r.urgency.clone();
                        push(Some(point), 0, Some(hours(from, to)), 1);
                    }
                }
            }
            Layout::Durations
        }
        "4.referral_answers" | "5.referrals_with_valid_consent" => {
            const REASONS: [&str; 4] = ["no_capacity", "out_of_scope", "person_refused", "unsafe"];
            for (_, c) in cases {
                for r in c.referrals.values() {
                    let Some(sent) = r.sent_at else { continue };
                    let column = if id == "4.referral_answers" {
                        if r.accepted_at.is_some() {
                            Some(0)
                        } else if r.redirected {
                            Some(6)
                        } else if r.declined_at.is_some() {
                            Some(
                                REASONS
                                    .iter()
                                    .position(|reason| *reason == r.decline_reason)
                                    .map_or(5, |i| i + 1),
                            )
                        } else if r.expired_at.is_some() {
                            Some(7)
                        } else {
                            None
                        }
                    } else if r.sent_with_valid_consent == Some(true) {
                        Some(0)
                    } else if r.sent_under_exception {
                        Some(1)
                    } else {
                        Some(2)
                    };
                    if let Some(column) = column {
                        let mut point = Point::of_case(c, sent, &r.province);
                        point.service_type = Some(r.service_type.clone());
                        point.urgency = r.urgency.clone();
                        push(Some(point), column, None, 1);
                    }
                }
            }
            if id == "4.referral_answers" {
                outcomes(&[
                    "accepted",
                    "declined_no_capacity",
                    "declined_out_of_scope",
                    "declined_person_refused",
                    "declined_unsafe",
                    "declined_other",
                    "redirected",
                    "expired",
                ])
            } else {
                outcomes(&["valid_consent", "exception", "no_valid_consent"])
            }
        }
        "5.consent_events" => {
            for (_, c) in cases {
                for consent in c.consents.values() {
                    if let Some(given) = consent.given_at {
                        push(
                            Some(Point::of_case(c, given, &consent.province)),
                            0,
                            None,
                            1,
                        );
                    }
                    if let Some(withdrawn) = consent.withdrawn_at {
                        push(
                            Some(Point::of_case(c, withdrawn, &consent.province)),
                            2,
                            None,
                            1,
                        );
                    }
                }
                for refusal in &c.refusals {
                    push(
                        Some(Point::of_case(c, refusal.at, &refusal.province)),
                        1,
                        None,
                        1,
                    );
                }
                for w in &c.withdrawals_during_care {
                    push(Some(Point::of_case(c, w.at, &w.province)), 3, None, 1);
                }
            }
            Layout::Counts(
                ["given", "refused", "withdrawn", "withdrawn_during_care"]
                    .map(str::to_owned)
                    .to_vec(),
            )
        }
        "6.follow_up_on_time" => {
            for (_, c) in cases {
                for f in c.follow_ups.values() {
                    let Some(due) = day_start(&f.due_on) else {
                        continue;
                    };
                    let column = match (f.recorded, f.missed) {
                        (_, true) => 1,
                        (true, false) => 0,
                        (false, false) => continue,
                    };
                    push(Some(Point::of_case(c, due, &f.province)), column, None, 1);
                }
            }
            outcomes(&["on_time", "missed"])
        }
        "6.lost_after_transfer" => {
            for (_, c) in cases {
                for t in &c.transfers {
                    let column = match (t.arrival_confirmed, t.lost) {
                        (_, true) => 1,
                        (true, false) => 0,
                        (false, false) => continue,
                    };
                    push(
                        Some(Point::of_case(c, t.placed_at, &t.province)),
                        column,
                        None,
                        1,
                    );
                }
            }
            outcomes(&["arrival_confirmed", "lost_to_follow_up"])
        }
        "7.late_identification" => {
            for (_, c) in cases {
                let limit = c
                    .application_date
                    .as_deref()
                    .and_then(|d| {
                        time::Date::parse(
                            d,
                            &time::macros::format_description!("[year]-[month]-[day]"),
                        )
                        .ok()
                    })
                    .map(|d| calendar::limit_ends(d, 30));
                for need in &c.needs_after_assessment {
                    let column = match limit {
                        Some(limit) if need.raised_at >= limit => 1,
                        Some(_) => 0,
                        None => 2,
                    };
                    let mut point = Point::of_case(c, need.raised_at, &need.province);
                    point.categories = shown(std::slice::from_ref(&need.category));
                    push(Some(point), column, None, 1);
                }
            }
            outcomes(&[
                "within_30_days_of_application",
                "after_30_days",
                "no_application_date",
            ])
        }
        "8.vulnerable_people_detained" => {
            for (_, c) in cases {
                for d in &c.detentions {
                    let mut point = Point::of_case(c, d.at, &d.province);
                    point.categories = shown(&d.categories);
                    if !d.age_band.is_empty() {
                        point.age_band = d.age_band.clone();
                    }
                    push(Some(point), 0, None, 1);
                }
            }
            Layout::Counts(vec!["detained".to_owned()])
        }
        "11.staff_training_sessions" => {
            const TOPICS: &[&str] = &[
                "vulnerability_identification",
                "gbv",
                "trafficking",
                "minors",
                "consent_and_data_protection",
            ];
            for session in training {
                let (Some(start), Some(column)) = (
                    day_start(&session.held_on),
                    TOPICS.iter().position(|t| *t == session.topic),
                ) else {
                    continue;
                };
                let point = Point {
                    start,
                    province: session.province.clone(),
                    categories: vec![String::new()],
                    service_type: None,
                    urgency: "none".to_owned(),
                    age_band: "unknown".to_owned(),
                };
                push(Some(point), column, None, 1);
            }
            outcomes(TOPICS)
        }
        "9.safe_space_places" => {
            let snapshot = as_of - time::Duration::nanoseconds(1);
            let at = |province: &str| Point {
                start: snapshot,
                province: province.to_owned(),
                categories: vec![String::new()],
                service_type: None,
                urgency: "none".to_owned(),
                age_band: "unknown".to_owned(),
            };
            for space in spaces {
                let places = u64::from(space.places_at(as_of));
                if places > 0 {
                    push(Some(at(&space.province)), 0, None, places);
                }
            }
            let t = as_of.unix_timestamp();
            for (_, c) in cases {
                for p in &c.places {
                    let ended = p.ended_at.is_some_and(|e| e <= as_of);
                    if p.requested_at > as_of || ended {
                        continue;
                    }
                    let holding = p.holding_since.is_some_and(|s| s <= as_of)
                        || p.held.iter().any(|(from, to)| *from <= t && t < *to);
                    push(Some(at(&p.province)), if holding { 1 } else { 2 }, None, 1);
                }
            }
            Layout::Counts(
                ["places", "occupied", "waiting"]
                    .map(str::to_owned)
                    .to_vec(),
            )
        }
        "9.safe_space_waiting_time" => {
            for (_, c) in cases {
                for p in &c.places {
                    if let Some(reserved) = p.first_reserved_at {
                        let mut point = Point::of_case(c, p.requested_at, &p.province);
                        point.urgency = if p.urgency.is_empty() {
                            "none".to_owned()
                        } else {
                            p.urgency.clone()
                        };
                        if !p.age_band.is_empty() {
                            point.age_band = p.age_band.clone();
                        }
                        push(Some(point), 0, Some(hours(p.requested_at, reserved)), 1);
                    }
                }
            }
            Layout::Durations
        }
        "10.time_to_guardian" => {
            for (_, c) in cases {
                if !is_unaccompanied_minor(c) {
                    continue;
                }
                let Some(opened) = &c.opened else { continue };
                let (Some(arrived), Some(guardian)) =
                    (opened.arrived_at.or(opened.opened_at), c.guardian_at)
                else {
                    continue;
                };
                push(
                    Some(Point::of_case(c, arrived, &opened.province)),
                    0,
                    Some(hours(arrived, guardian) / 24.0),
                    1,
                );
            }
            Layout::Durations
        }
        "10.days_in_first_reception" | "10.first_reception_over_45_days" => {
            for (_, c) in cases {
                if !is_unaccompanied_minor(c) {
                    continue;
                }
                for stay in &c.stays {
                    let point = Point::of_case(c, stay.entered_at, &stay.province);
                    if id == "10.days_in_first_reception" {
                        let end = stay.ended_at.map_or(as_of, |e| e.min(as_of));
                        let days = calendar::calendar_days_between(stay.entered_at, end);
                        push(Some(point), 0, Some(days as f64), 1);
                    } else if stay.exceeded {
                        push(Some(point), 1, None, 1);
                    } else if stay.ended_at.is_some() {
                        push(Some(point), 0, None, 1);
                    }
                }
            }
            if id == "10.days_in_first_reception" {
                Layout::Durations
            } else {
                outcomes(&["within_45_days", "over_45_days"])
            }
        }
        _ => Layout::Durations,
    };
    (layout, out)
}
