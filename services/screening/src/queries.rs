//! Listing cases: filters, the two orders (newest, priority), and page tokens
//! that stay valid while cases change (a token is the sort key of the last case).

use contracts::screening::v1 as api;
use pathway::{Category, CategoryStatus, Urgency};
use service_runtime::{ServiceError, Violations};

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
    fn sort_key(&self, case: &api::CaseView) -> String {
        let nanos = |t: &Option<prost_types::Timestamp>| {
            t.as_ref().map_or(0_i128, |t| {
                i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
            })
        };
        // Shift times so they are positive and sort as fixed-width decimal.
        let opened = nanos(&case.opened_at) + (1_i128 << 100);
        if self.priority {
            // Those who have waited longest since they arrived first.
            let arrived =
                nanos(&case.arrival.as_ref().and_then(|a| a.arrived_at)) + (1_i128 << 100);
            let urgency_rank = Urgency::from_code(&case.current_urgency).map_or(9, |u| match u {
                Urgency::Immediate => 0,
                Urgency::High => 1,
                Urgency::Standard => 2,
            });
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
