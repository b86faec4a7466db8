//! Listing cases: filters, the two orders (newest, priority), and page tokens
//! that stay valid while cases change (a token is the sort key of the last case).
//!
//! A page is read from the list index (`screening.case_list`), kept by the
//! projection in the transaction that changes the case: one entry per order
//! (newest, priority) and per scope (every case, its province, its
//! facility), under its status, keyed by the order's sort key, its value the
//! case's filter attributes (a trimmed `CaseView`): six entries a case.
//! Jurisdiction (a facility or a province, set as a filter before the query)
//! and status are in the key (without a status filter, the ranges of the
//! statuses are merged); with the priority order, the urgency is the sort
//! key's first character, so that filter is a narrower range. What is left
//! (category, urgency in the newest order, overdue, a province beside a
//! facility) is filtered on the entries' values, without reading a row: a
//! page reads the rows it returns, and index entries until it has them.

use contracts::screening::v1 as api;
use pathway::{Category, CategoryStatus, Urgency};
use projection_sled::store::IndexEntry;
use projection_sled::{ProjectionStore, StoreError};
use prost::Message;
use service_runtime::{ServiceError, Violations};

/// The list index: `<order><scope>\0<status>\0<sort key>` -> the
/// case's filter attributes (a trimmed `CaseView` whose `case_id` is its row key).
pub const INDEX: &str = "screening.case_list";

/// The orders, by their byte in the index key.
const ORDERS: [(u8, bool); 2] = [(b'n', false), (b'p', true)];

/// What a page cost: index entries walked and case rows read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub entries: u64,
    pub rows: u64,
}

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

pub struct ListQuery {
    province: Option<String>,
    facility_id: Option<String>,
    category: Option<(Category, Option<CategoryStatus>)>,
    urgency: Option<Urgency>,
    case_status: Option<String>,
    overdue_only: bool,
    priority: bool,
    page_size: usize,
    after: Option<String>,
}

impl ListQuery {
    pub fn parse(request: &api::ListCasesRequest) -> Result<ListQuery, ServiceError> {
        let mut v = Violations::default();
        let optional = |raw: &str| (!raw.is_empty()).then(|| raw.to_owned());
        if !request.province.is_empty() {
            v.check(
                "province",
                case_screening::Province::parse(&request.province),
            );
        }
        if !request.facility_id.is_empty() {
            v.check(
                "facility_id",
                case_screening::FacilityId::parse(&request.facility_id),
            );
        }
        let category = if request.category.is_empty() {
            if !request.category_status.is_empty() {
                v.add("category_status", "needs a category");
            }
            None
        } else {
            let category = v.check("category", Category::from_code(&request.category));
            let status = if request.category_status.is_empty() {
                None
            } else {
                v.check(
                    "category_status",
                    CategoryStatus::from_code(&request.category_status),
                )
            };
            category.map(|c| (c, status))
        };
        let urgency = if request.urgency.is_empty() {
            None
        } else {
            v.check("urgency", Urgency::from_code(&request.urgency))
        };
        if !request.case_status.is_empty() {
            v.check(
                "case_status",
                case_screening::CaseStatus::from_code(&request.case_status)
                    .map_err(|_| "must be open or closed"),
            );
        }
        let priority = match api::ListOrder::try_from(request.order) {
            Ok(api::ListOrder::Priority) => true,
            Ok(_) => false,
            Err(_) => {
                v.add("order", "unknown order");
                false
            }
        };
        if request.page_size as usize > MAX_PAGE {
            v.add("page_size", format!("at most {MAX_PAGE}"));
        }
        let after = if request.page_token.is_empty() {
            None
        } else {
            v.check(
                "page_token",
                hex::decode(&request.page_token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or("is not a token from a previous answer"),
            )
        };
        v.finish()?;
        Ok(ListQuery {
            province: optional(&request.province),
            facility_id: optional(&request.facility_id),
            category,
            urgency,
            case_status: optional(&request.case_status),
            overdue_only: request.overdue_only,
            priority,
            page_size: match request.page_size as usize {
                0 => DEFAULT_PAGE,
                n => n,
            },
            after,
        })
    }

    fn matches(&self, case: &api::CaseView) -> bool {
        let overdue = |d: &Option<api::Deadline>| d.as_ref().is_some_and(|d| d.overdue);
        self.province.as_ref().is_none_or(|p| *p == case.province)
            && self
                .facility_id
                .as_ref()
                .is_none_or(|f| *f == case.facility_id)
            && self.case_status.as_ref().is_none_or(|s| *s == case.status)
            && self
                .urgency
                .is_none_or(|u| u.code() == case.current_urgency)
            && (!self.overdue_only
                || overdue(&case.screening_deadline)
                || overdue(&case.assessment_deadline)
                || case.late_needs.iter().any(|need| overdue(&need.deadline)))
            && self.category.is_none_or(|(category, status)| {
                case.categories.iter().any(|c| {
                    c.category == category.code() && status.is_none_or(|s| s.code() == c.status)
                })
            })
    }

    /// A string that sorts cases in the requested order.
    #[cfg(test)]
    fn sort_key(&self, case: &api::CaseView) -> String {
        sort_key(self.priority, case)
    }
}

/// A string that sorts cases in the order asked (priority, or newest).
fn sort_key(priority: bool, case: &api::CaseView) -> String {
    let nanos = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().map_or(0_i128, |t| {
            i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
        })
    };
    // Shift times so they are positive and sort as fixed-width decimal.
    let opened = nanos(&case.opened_at) + (1_i128 << 100);
    if priority {
        // Those who have waited longest since they arrived first.
        let arrived = nanos(&case.arrival.as_ref().and_then(|a| a.arrived_at)) + (1_i128 << 100);
        let urgency_rank = Urgency::from_code(&case.current_urgency).map_or(9, urgency_rank);
        let live = |c: &&api::CategoryState| c.status != CategoryStatus::RuledOut.code();
        // Minors by the one rule of minority, as the view records it.
        let minor = case.minor;
        let special_needs =
            case.special_reception_needs || case.categories.iter().any(|c| live(&c));
        let first = if minor || special_needs { 0 } else { 1 };
        format!("{urgency_rank}{first}{arrived:040}{}", case.case_id)
    } else {
        let newest_first = (1_i128 << 101) - opened;
        format!("{newest_first:040}{}", case.case_id)
    }
}

/// An urgency's place in the priority order (the sort key's first digit).
fn urgency_rank(urgency: Urgency) -> u8 {
    match urgency {
        Urgency::Immediate => 0,
        Urgency::High => 1,
        Urgency::Standard => 2,
    }
}

fn index_key(order: u8, scope: &str, status: &str, sort_key: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(3 + scope.len() + status.len() + sort_key.len());
    key.push(order);
    key.extend_from_slice(scope.as_bytes());
    key.push(0);
    key.extend_from_slice(status.as_bytes());
    key.push(0);
    key.extend_from_slice(sort_key.as_bytes());
    key
}

/// What the list's filters read of a case, and no more (`ListQuery::matches`
/// reads only these fields); `case_id` is the case's row key.
fn attributes(row_key: &str, case: &api::CaseView) -> api::CaseView {
    let overdue = |d: &Option<api::Deadline>| {
        d.as_ref().filter(|d| d.overdue).map(|_| api::Deadline {
            overdue: true,
            ..Default::default()
        })
    };
    api::CaseView {
        case_id: row_key.to_owned(),
        province: case.province.clone(),
        facility_id: case.facility_id.clone(),
        status: case.status.clone(),
        current_urgency: case.current_urgency.clone(),
        screening_deadline: overdue(&case.screening_deadline),
        assessment_deadline: overdue(&case.assessment_deadline),
        late_needs: case
            .late_needs
            .iter()
            .filter_map(|need| {
                overdue(&need.deadline).map(|deadline| api::LateNeed {
                    deadline: Some(deadline),
                    ..Default::default()
                })
            })
            .take(1)
            .collect(),
        categories: case
            .categories
            .iter()
            .map(|c| api::CategoryState {
                category: c.category.clone(),
                status: c.status.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The list index's entries of one case (`row_key`: its row's key): kept by
/// the projection in the transaction that writes the case.
pub fn index_entries(row_key: &str, case: &api::CaseView) -> Vec<IndexEntry> {
    let value = attributes(row_key, case).encode_to_vec();
    let scopes = [
        "*".to_owned(),
        format!("p={}", case.province),
        format!("f={}", case.facility_id),
    ];
    let mut entries = Vec::with_capacity(6);
    for (order, priority) in ORDERS {
        let sort = sort_key(priority, case);
        for scope in &scopes {
            entries.push((index_key(order, scope, &case.status, &sort), value.clone()));
        }
    }
    entries
}

impl ListQuery {
    /// The page, read from the list index: the rows it returns, and the
    /// index entries up to the one after its last (to know whether more
    /// follow). Without a status filter, the ranges of each status are
    /// merged in the order's key (a case is in one of them).
    pub fn page(
        &self,
        store: &ProjectionStore,
    ) -> Result<(api::ListCasesResponse, Cost), StoreError> {
        let order = if self.priority { b'p' } else { b'n' };
        // The narrowest scope the filters name; a province beside a facility is checked on the value.
        let scope = match (&self.facility_id, &self.province) {
            (Some(facility), _) => format!("f={facility}"),
            (None, Some(province)) => format!("p={province}"),
            (None, None) => "*".to_owned(),
        };
        let statuses: Vec<&str> = match &self.case_status {
            Some(status) => vec![status.as_str()],
            // A view before its opening has no status.
            None => std::iter::once("")
                .chain(case_screening::CaseStatus::ALL.iter().map(|s| s.code()))
                .collect(),
        };
        let corrupt = |key: &[u8], reason: String| StoreError::CorruptRow {
            table: INDEX.to_owned(),
            key: String::from_utf8_lossy(key).into_owned(),
            reason,
        };
        // Each status's range, merged in the order's key.
        let mut ranges = Vec::with_capacity(statuses.len());
        for status in statuses {
            let base = index_key(order, &scope, status, "");
            let mut within = base.clone();
            if self.priority
                && let Some(urgency) = self.urgency
            {
                within.push(b'0' + urgency_rank(urgency));
            }
            let mut after = base.clone();
            after.extend_from_slice(self.after.as_deref().unwrap_or_default().as_bytes());
            ranges.push((base, within, after));
        }
        let mut merged = store.merge_after(INDEX, ranges);
        let mut found: Vec<(String, String)> = Vec::new();
        while found.len() <= self.page_size {
            let Some(row) = merged.next() else { break };
            let (sort, value) = row?;
            let case = api::CaseView::decode(value.as_slice())
                .map_err(|e| corrupt(&sort, e.to_string()))?;
            if self.matches(&case) {
                let sort = String::from_utf8(sort).map_err(|e| corrupt(b"", e.to_string()))?;
                found.push((sort, case.case_id));
            }
        }
        let entries = merged.read;
        let more = found.len() > self.page_size;
        found.truncate(self.page_size);
        let mut cases = Vec::with_capacity(found.len());
        for (_, row_key) in &found {
            let case = crate::projection::case(store, row_key)?.ok_or_else(|| {
                corrupt(row_key.as_bytes(), "an index entry of no case".to_owned())
            })?;
            cases.push(case);
        }
        let next_page_token = match found.last() {
            Some((sort, _)) if more => hex::encode(sort),
            _ => String::new(),
        };
        let cost = Cost {
            entries,
            rows: cases.len() as u64,
        };
        Ok((
            api::ListCasesResponse {
                cases,
                next_page_token,
            },
            cost,
        ))
    }

    /// The page as a scan of every case computes it (the list before the
    /// index): the tests' reference.
    #[cfg(test)]
    pub fn run(&self, cases: Vec<api::CaseView>) -> api::ListCasesResponse {
        let mut keyed: Vec<(String, api::CaseView)> = cases
            .into_iter()
            .filter(|case| self.matches(case))
            .map(|case| (self.sort_key(&case), case))
            .filter(|(key, _)| self.after.as_ref().is_none_or(|after| key > after))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let more = keyed.len() > self.page_size;
        keyed.truncate(self.page_size);
        let next_page_token = match keyed.last() {
            Some((key, _)) if more => hex::encode(key),
            _ => String::new(),
        };
        api::ListCasesResponse {
            cases: keyed.into_iter().map(|(_, case)| case).collect(),
            next_page_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use case_log_jetstream::RecordedCommit;
    use case_log_jetstream::envelope::timestamp;
    use contracts::log::v1 as log;
    use contracts::screening::v1 as wire;
    use projection_sled::ProjectionStore;
    use time::OffsetDateTime;

    use super::*;
    use crate::projection::{self, ScreeningProjection};

    const PROVINCES: [&str; 3] = ["AG", "RM", "TO"];
    const CATEGORIES: [&str; 3] = ["TRAFFICKING", "TORTURE", "UNACCOMPANIED_MINOR"];
    const STATUSES: [&str; 3] = ["suspected", "confirmed", "ruled_out"];
    const URGENCIES: [&str; 4] = ["", "immediate", "high", "standard"];

    /// A small deterministic generator (xorshift): the same cases every run.
    struct Draw(u64);

    impl Draw {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len() as u64) as usize]
        }
    }

    fn event<M: prost::Name>(message: &M) -> log::Event {
        log::Event {
            event_type: M::full_name(),
            schema_version: 1,
            payload: message.encode_to_vec(),
            ..Default::default()
        }
    }

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(timestamp(
            OffsetDateTime::from_unix_timestamp(1_780_000_000 + seconds).expect("time"),
        ))
    }

    fn facility(province: &str, n: u64) -> String {
        format!("facility-{}-{n}", province.to_lowercase())
    }

    /// `cases` cases with what moves their entries: checks and signals
    /// (urgency, categories), assessments, missed deadlines, placements in
    /// another province, closures; interleaved across cases.
    fn commits(cases: usize, seed: u64) -> Vec<(RecordedCommit, telemetry::TraceContext)> {
        let mut draw = Draw(seed);
        let mut per_case: Vec<Vec<log::Event>> = Vec::new();
        for n in 0..cases {
            let province = draw.pick(&PROVINCES);
            // Ties of times on purpose: the case id orders them.
            let opened = draw.below(cases as u64 / 2) as i64 * 60;
            let mut events = vec![event(&wire::CaseOpened {
                case_id: format!("case-{n:05}"),
                province: province.to_owned(),
                facility_id: facility(province, draw.below(2)),
                facility_kind: "hotspot".to_owned(),
                arrival: Some(wire::Arrival {
                    place: "LAMPEDUSA".to_owned(),
                    arrived_at: at(opened - draw.below(5000) as i64),
                }),
                opened_at: at(opened),
                ..Default::default()
            })];
            if draw.below(3) > 0 {
                events.push(event(&wire::PreliminaryCheckRecorded {
                    suspected: (0..draw.below(3))
                        .map(|_| wire::SuspectedCategory {
                            category: draw.pick(&CATEGORIES).to_owned(),
                            ..Default::default()
                        })
                        .collect(),
                    urgency: draw.pick(&URGENCIES).to_owned(),
                    checked_at: at(opened + 100),
                    ..Default::default()
                }));
            }
            if draw.below(4) == 0 {
                events.push(event(&wire::ScreeningDeadlineMissed {
                    due_at: at(opened + 200),
                    detected_at: at(opened + 300),
                }));
            }
            if draw.below(3) == 0 {
                events.push(event(&wire::AssessmentRecorded {
                    outcomes: (0..draw.below(3))
                        .map(|_| wire::CategoryOutcome {
                            category: draw.pick(&CATEGORIES).to_owned(),
                            status: draw.pick(&STATUSES).to_owned(),
                            ..Default::default()
                        })
                        .collect(),
                    special_reception_needs: draw.below(4) == 0,
                    urgency: draw.pick(&URGENCIES).to_owned(),
                    assessed_at: at(opened + 400),
                    ..Default::default()
                }));
            }
            if draw.below(5) == 0 {
                let to = draw.pick(&PROVINCES);
                events.push(event(&wire::CasePlaced {
                    facility_id: facility(to, draw.below(2)),
                    province: to.to_owned(),
                    facility_kind: "cas".to_owned(),
                    placed_at: at(opened + 500),
                    ..Default::default()
                }));
            }
            if draw.below(3) == 0 {
                events.push(event(&wire::CaseClosed {
                    reason: "transferred".to_owned(),
                    closed_at: at(opened + 600),
                }));
            }
            per_case.push(events);
        }
        // One event per commit, the cases' commits interleaved.
        let mut commits = Vec::new();
        let mut round = 0;
        loop {
            let mut any = false;
            for (n, events) in per_case.iter().enumerate() {
                if let Some(event) = events.get(round) {
                    any = true;
                    let sequence = commits.len() as u64 + 1;
                    commits.push((
                        RecordedCommit {
                            sequence,
                            subject: format!("approdo.case.case-{n:05}.screening"),
                            recorded_at: OffsetDateTime::UNIX_EPOCH,
                            commit: log::Commit {
                                commit_id: format!("commit-{sequence}"),
                                events: vec![event.clone()],
                                ..Default::default()
                            },
                        },
                        telemetry::TraceContext::default(),
                    ));
                }
            }
            if !any {
                return commits;
            }
            round += 1;
        }
    }

    fn filled(cases: usize) -> (tempfile::TempDir, ProjectionStore) {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        for batch in commits(cases, 0x5eed_1234_abcd_0001).chunks(512) {
            store
                .apply_batch(&ScreeningProjection, batch)
                .expect("applied");
        }
        (dir, store)
    }

    fn query(request: &api::ListCasesRequest, page_size: usize) -> ListQuery {
        let mut query = ListQuery::parse(request).expect("a valid request");
        query.page_size = page_size;
        query
    }

    /// Every filter and order the RPC takes, each alone and in combinations.
    fn requests() -> Vec<api::ListCasesRequest> {
        let mut requests = Vec::new();
        for order in [api::ListOrder::Newest, api::ListOrder::Priority] {
            for place in [
                ("", ""),
                ("RM", ""),
                ("", "facility-ag-1"),
                ("TO", "facility-to-0"),
                ("AG", "facility-rm-0"),
            ] {
                for case_status in ["", "open", "closed"] {
                    for urgency in ["", "immediate", "standard"] {
                        for category in [("", ""), ("TRAFFICKING", ""), ("TORTURE", "confirmed")] {
                            for overdue_only in [false, true] {
                                requests.push(api::ListCasesRequest {
                                    province: place.0.to_owned(),
                                    facility_id: place.1.to_owned(),
                                    category: category.0.to_owned(),
                                    category_status: category.1.to_owned(),
                                    urgency: urgency.to_owned(),
                                    case_status: case_status.to_owned(),
                                    overdue_only,
                                    order: order as i32,
                                    ..Default::default()
                                });
                            }
                        }
                    }
                }
            }
        }
        requests
    }

    #[test]
    fn every_filter_and_order_pages_from_the_index_as_the_full_scan_did() {
        let (_dir, store) = filled(3_000);
        let all = projection::all_cases(&store).expect("cases");
        assert_eq!(all.len(), 3_000);
        let mut non_empty = 0;
        for request in requests() {
            // The full scan's answer, one page of everything, then cut in pages.
            let whole = query(&request, usize::MAX);
            let matching: Vec<api::CaseView> =
                all.iter().filter(|c| whole.matches(c)).cloned().collect();
            let everything = whole.run(matching.clone()).cases;
            non_empty += usize::from(!everything.is_empty());
            for page_size in [1, 37] {
                let mut expected = everything.chunks(page_size).peekable();
                let mut token = String::new();
                let mut pages = 0;
                loop {
                    let mut asked = request.clone();
                    asked.page_token = token.clone();
                    let (page, _) = query(&asked, page_size).page(&store).expect("page");
                    let want = expected.next().unwrap_or_default();
                    assert_eq!(page.cases, want, "{request:?} page {pages}");
                    let want_token = match (want.last(), expected.peek()) {
                        (Some(last), Some(_)) => hex::encode(sort_key(
                            request.order == api::ListOrder::Priority as i32,
                            last,
                        )),
                        _ => String::new(),
                    };
                    assert_eq!(page.next_page_token, want_token, "{request:?} page {pages}");
                    // The full scan given the same token answers the same page.
                    if pages == 1 {
                        let scanned = query(&asked, page_size).run(matching.clone());
                        assert_eq!(scanned, page, "{request:?}");
                    }
                    pages += 1;
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    token = page.next_page_token;
                    // Walking everything with pages of one is slow: a few pages do.
                    if page_size == 1 && pages == 5 {
                        break;
                    }
                }
            }
        }
        assert!(
            non_empty > 300,
            "the generated cases fill most lists: {non_empty}"
        );
    }

    #[test]
    fn a_page_reads_its_rows_and_one_entry_more_whatever_the_number_of_cases() {
        let indexed = [
            api::ListCasesRequest::default(),
            api::ListCasesRequest {
                province: "RM".to_owned(),
                case_status: "open".to_owned(),
                ..Default::default()
            },
            api::ListCasesRequest {
                facility_id: "facility-ag-1".to_owned(),
                order: api::ListOrder::Priority as i32,
                ..Default::default()
            },
            api::ListCasesRequest {
                province: "TO".to_owned(),
                urgency: "standard".to_owned(),
                case_status: "open".to_owned(),
                order: api::ListOrder::Priority as i32,
                ..Default::default()
            },
        ];
        let mut costs = Vec::new();
        for cases in [600, 3_000] {
            let (_dir, store) = filled(cases);
            let mut these = Vec::new();
            for request in &indexed {
                // The first page and the third.
                let (first, cost) = query(request, 20).page(&store).expect("page");
                let mut asked = request.clone();
                asked.page_token = first.next_page_token;
                let (second, _) = query(&asked, 20).page(&store).expect("page");
                asked.page_token = second.next_page_token;
                let (third, third_cost) = query(&asked, 20).page(&store).expect("page");
                assert_eq!(third.cases.len(), 20, "{request:?}");
                for cost in [cost, third_cost] {
                    // The page's rows, the entry after, and without a status
                    // filter the next entry of each other status.
                    let statuses = if request.case_status.is_empty() { 3 } else { 1 };
                    assert_eq!(cost.rows, 20, "{request:?} with {cases} cases");
                    assert!(
                        (21..=20 + statuses).contains(&cost.entries),
                        "{request:?} with {cases} cases: {cost:?}"
                    );
                }
                these.push((cost, third_cost));
            }
            costs.push(these);
        }
        assert_eq!(costs[0], costs[1], "the same cost at 600 and 3,000 cases");
    }

    #[test]
    fn a_rebuild_writes_the_same_index_and_moved_cases_leave_no_entry_behind() {
        let (_dir, store) = filled(800);
        let digest = store.content_digest().expect("digest");
        store.reset().expect("reset");
        for batch in commits(800, 0x5eed_1234_abcd_0001).chunks(97) {
            store
                .apply_batch(&ScreeningProjection, batch)
                .expect("applied");
        }
        assert_eq!(store.content_digest().expect("digest"), digest);
        // Exactly the entries the cases as they are now give: none left where a case was.
        let mut expected: Vec<IndexEntry> = projection::all_cases(&store)
            .expect("cases")
            .iter()
            .flat_map(|case| index_entries(&case.case_id, case))
            .collect();
        expected.sort();
        assert_eq!(store.scan(INDEX, b"").expect("index"), expected);
    }
}
