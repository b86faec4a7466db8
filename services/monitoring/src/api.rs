//! `MonitoringService`: indicators by filter, period and grouping, and their
//! exports (CSV or Parquet, streamed in chunks). Every request is validated
//! whole (each offending field named), the caller's province scope comes
//! from its token only, and the computation runs on a blocking thread over
//! the projection's rows.

use std::pin::Pin;

use contracts::monitoring::v1 as api;
use contracts::monitoring::v1::monitoring_service_server::{
    MonitoringService, MonitoringServiceServer,
};
use projection_sled::ProjectionHandle;
use service_runtime::reads::Reads;
use service_runtime::{
    Caller, CallerExtractor, Kernel, OrganisationType, ServiceContext, ServiceError, Violations,
};
use time::OffsetDateTime;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::compute::{self, Computed, Dimension, Query};
use crate::export::{self, Pseudonyms, Sheet};
use crate::options::MonitoringOptions;
use crate::projection;

pub struct MonitoringApi {
    projection: ProjectionHandle,
    callers: CallerExtractor,
    reads: Reads,
    kernel: Kernel,
    options: MonitoringOptions,
}

type ChunkStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

const URGENCIES: [&str; 4] = ["immediate", "high", "standard", "none"];
const CSV: &str = "text/csv";
const PARQUET: &str = "application/vnd.apache.parquet";

impl MonitoringApi {
    pub fn new(context: &ServiceContext, options: MonitoringOptions) -> MonitoringApi {
        MonitoringApi {
            projection: context.projection.clone(),
            callers: context.callers.clone(),
            reads: context.reads(),
            kernel: context.kernel.clone(),
            options,
        }
    }

    pub fn into_server(self) -> MonitoringServiceServer<MonitoringApi> {
        MonitoringServiceServer::new(self)
    }

    /// The province the caller is limited to: a prefecture's own (it must
    /// have one), an analyst's if its token names one; `None`: national.
    fn scope(caller: &Caller) -> Result<Option<String>, ServiceError> {
        match caller.organisation_type {
            OrganisationType::Prefecture => caller.province.clone().map(Some).ok_or_else(|| {
                ServiceError::PermissionDenied("a prefecture's token names no province".to_owned())
            }),
            OrganisationType::Analyst => Ok(caller.province.clone()),
            _ => Ok(None),
        }
    }

    /// The query a request asks, within the caller's scope; every offending field named.
    fn query(
        &self,
        request: &api::GetIndicatorsRequest,
        scope: Option<&str>,
        prefix: &str,
    ) -> Result<Query, ServiceError> {
        let mut violations = Violations::default();
        let now = self.kernel.now();
        let (from, to) = period(
            &mut violations,
            prefix,
            request.period_from.as_ref(),
            request.period_to.as_ref(),
            now,
        );
        let mut group_by = Vec::new();
        for (i, code) in request.group_by.iter().enumerate() {
            match Dimension::from_code(code) {
                Some(d) if !group_by.contains(&d) => group_by.push(d),
                Some(_) => violations.add(format!("{prefix}group_by[{i}]"), "given twice"),
                None => violations.add(
                    format!("{prefix}group_by[{i}]"),
                    "must be one of province, month, category, service_type, urgency, age_band",
                ),
            }
        }
        for (i, id) in request.indicators.iter().enumerate() {
            if !compute::TABLES.iter().any(|(table, _, _)| table == id) {
                violations.add(
                    format!("{prefix}indicators[{i}]"),
                    "not an indicator table id",
                );
            }
        }
        let filter = request.filter.clone().unwrap_or_default();
        let query = filter_query(&mut violations, &format!("{prefix}filter."), &filter, scope);
        violations.finish()?;
        Ok(Query {
            from,
            to,
            group_by,
            indicators: request.indicators.clone(),
            ..query
        })
    }

    /// Reads the projection and computes, on a blocking thread.
    async fn compute(&self, query: Query) -> Result<(Vec<Computed>, u64), ServiceError> {
        let projection = self.projection.clone();
        let population = self.options.population.clone();
        tokio::task::spawn_blocking(move || {
            let position = projection.status().position;
            // Within a province scope or filter, only the cases recorded there.
            let (cases, _cost) = projection::cases_in(projection.store(), &query.provinces)?;
            let spaces = projection::spaces(projection.store())?;
            let training = projection::training(projection.store())?;
            Ok((
                compute::compute(&query, &cases, &spaces, &training, &population),
                position,
            ))
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("indicators task: {e}")))?
    }

    fn stream<T: Send + 'static>(
        &self,
        sheet: Sheet,
        format: i32,
        make: fn(Vec<u8>, bool, u64, &'static str) -> T,
    ) -> Result<ChunkStream<T>, ServiceError> {
        let rows = u64::try_from(sheet.rows()).unwrap_or(u64::MAX);
        let (file, media_type) = match api::ExportFormat::try_from(format) {
            Ok(api::ExportFormat::Csv) => (sheet.csv(), CSV),
            Ok(api::ExportFormat::Parquet) => (
                sheet
                    .parquet()
                    .map_err(|e| ServiceError::Internal(format!("parquet export: {e}")))?,
                PARQUET,
            ),
            _ => unreachable!("checked by validation"),
        };
        let chunks = export::chunks(&file, self.options.export_chunk_bytes);
        let last = chunks.len() - 1;
        let messages: Vec<Result<T, Status>> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, data)| {
                Ok(make(
                    data,
                    i == last,
                    if i == last { rows } else { 0 },
                    media_type,
                ))
            })
            .collect();
        Ok(Box::pin(tokio_stream::iter(messages)))
    }
}

fn format_violation(violations: &mut Violations, field: &str, format: i32) {
    if !matches!(
        api::ExportFormat::try_from(format),
        Ok(api::ExportFormat::Csv | api::ExportFormat::Parquet)
    ) {
        violations.add(field, "must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_PARQUET");
    }
}

fn period(
    violations: &mut Violations,
    prefix: &str,
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
    now: OffsetDateTime,
) -> (Option<OffsetDateTime>, OffsetDateTime) {
    let read = |violations: &mut Violations, field: &str, t: Option<&prost_types::Timestamp>| {
        t.and_then(|t| {
            let parsed = case_log_jetstream::envelope::from_timestamp(t);
            if parsed.is_none() {
                violations.add(format!("{prefix}{field}"), "not a valid time");
            }
            parsed
        })
    };
    let from = read(violations, "period_from", from);
    let to = read(violations, "period_to", to).unwrap_or(now);
    if from.is_some_and(|from| from >= to) {
        violations.add(format!("{prefix}period_from"), "must be before period_to");
    }
    (from, to)
}

/// The filter's lists, checked, with the province forced to the caller's scope.
fn filter_query(
    violations: &mut Violations,
    prefix: &str,
    filter: &api::IndicatorFilter,
    scope: Option<&str>,
) -> Query {
    let field = |name: &str| format!("{prefix}{name}");
    let provinces = violations.each(&field("provinces"), &filter.provinces, |p| {
        pathway::Province::parse(p).map(|_| p.to_owned())
    });
    let categories = violations.each(&field("categories"), &filter.categories, |c| {
        if compute::NEVER_SHOWN.contains(&c) {
            Err(
                "never a dimension or a filter (special-category data kept out of analyst views)"
                    .to_owned(),
            )
        } else {
            pathway::Category::from_code(c)
                .map(|_| c.to_owned())
                .map_err(|e| e.to_string())
        }
    });
    let service_types = violations.each(&field("service_types"), &filter.service_types, |s| {
        pathway::Code::parse(s).map(|_| s.to_owned())
    });
    let urgencies = violations.each(&field("urgencies"), &filter.urgencies, |u| {
        if URGENCIES.contains(&u) {
            Ok(u.to_owned())
        } else {
            Err("must be immediate, high, standard or none")
        }
    });
    let age_bands = violations.each(&field("age_bands"), &filter.age_bands, |a| {
        pathway::AgeBand::from_code(a)
            .map(|_| a.to_owned())
            .map_err(|e| e.to_string())
    });
    Query {
        // The token's province, whatever the request says.
        provinces: scope.map_or(provinces, |p| vec![p.to_owned()]),
        categories,
        service_types,
        urgencies,
        age_bands,
        ..Query::default()
    }
}

fn table(computed: &Computed) -> api::IndicatorTable {
    let out = &computed.table;
    let row_totals = out.protected.extended_columns() > out.columns.len();
    let cell = |count: Option<u64>, total: Option<u64>| api::IndicatorCell {
        suppressed: count.is_none(),
        count: count.unwrap_or(0),
        share: match (count, total) {
            (Some(c), Some(t)) if t > 0 => Some(c as f64 / t as f64),
            _ => None,
        },
    };
    let row = |r: &indicators::table::RowOutput| api::IndicatorRow {
        group: r.group.clone(),
        cells: r.cells.iter().map(|c| cell(*c, r.total)).collect(),
        total: row_totals.then(|| cell(r.total, None)),
        median: r.median,
        p90: r.p90,
        places_per_10000_inhabitants: computed.per_10000.get(&r.group).copied(),
    };
    api::IndicatorTable {
        indicator: computed.id.to_owned(),
        measure: computed.measure.to_owned(),
        dimensions: computed
            .dimensions
            .iter()
            .map(|d| d.code().to_owned())
            .collect(),
        columns: out.columns.clone(),
        rows: out.rows.iter().map(row).collect(),
        total: out.total.as_ref().map(row),
        unit: computed.unit.to_owned(),
    }
}

#[tonic::async_trait]
impl MonitoringService for MonitoringApi {
    async fn get_indicators(
        &self,
        request: Request<api::GetIndicatorsRequest>,
    ) -> Result<Response<api::GetIndicatorsResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let scope = Self::scope(&caller)?;
        let request = request.into_inner();
        let query = self.query(&request, scope.as_deref(), "")?;
        self.reads.wait_for(request.min_sequence).await?;
        let as_of = query.to;
        let (tables, position) = self.compute(query).await?;
        Ok(Response::new(api::GetIndicatorsResponse {
            tables: tables.iter().map(table).collect(),
            as_of: Some(prost_types::Timestamp {
                seconds: as_of.unix_timestamp(),
                nanos: i32::try_from(as_of.nanosecond()).unwrap_or(0),
            }),
            scope_province: scope.unwrap_or_default(),
            log_sequence: position,
        }))
    }

    type ExportIndicatorsStream = ChunkStream<api::ExportIndicatorsResponse>;

    async fn export_indicators(
        &self,
        request: Request<api::ExportIndicatorsRequest>,
    ) -> Result<Response<Self::ExportIndicatorsStream>, Status> {
        let caller = self.callers.caller(&request)?;
        let scope = Self::scope(&caller)?;
        let request = request.into_inner();
        let inner = request.query.clone().unwrap_or_default();
        let mut violations = Violations::default();
        format_violation(&mut violations, "format", request.format);
        let query = self.query(&inner, scope.as_deref(), "query.");
        if let Err(ServiceError::InvalidArgument(fields)) = &query {
            for f in fields {
                violations.add(f.field.clone(), f.description.clone());
            }
        }
        violations.finish()?;
        let query = query?;
        self.reads.wait_for(inner.min_sequence).await?;
        let (tables, _) = self.compute(query).await?;
        let sheet = export::indicator_sheet(&tables);
        Ok(Response::new(self.stream(
            sheet,
            request.format,
            |data, last, rows, media_type| api::ExportIndicatorsResponse {
                data,
                last,
                rows,
                media_type: media_type.to_owned(),
            },
        )?))
    }

    type ExportCasePathwaysStream = ChunkStream<api::ExportCasePathwaysResponse>;

    async fn export_case_pathways(
        &self,
        request: Request<api::ExportCasePathwaysRequest>,
    ) -> Result<Response<Self::ExportCasePathwaysStream>, Status> {
        let caller = self.callers.caller(&request)?;
        let scope = Self::scope(&caller)?;
        let request = request.into_inner();
        let mut violations = Violations::default();
        format_violation(&mut violations, "format", request.format);
        let (from, to) = period(
            &mut violations,
            "",
            request.period_from.as_ref(),
            request.period_to.as_ref(),
            self.kernel.now(),
        );
        let filter = request.filter.clone().unwrap_or_default();
        let query = filter_query(&mut violations, "filter.", &filter, scope.as_deref());
        violations.finish()?;
        self.reads.wait_for(request.min_sequence).await?;
        let projection = self.projection.clone();
        // The cases opened in the period, in the provinces asked, from the index.
        let provinces = query.provinces.clone();
        let (cases, _cost) = tokio::task::spawn_blocking(move || {
            projection::cases_opened(projection.store(), &provinces, from, to)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("export task: {e}")))??;
        let keep =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        let selected: Vec<(&String, &crate::pathway::CasePathway)> = cases
            .iter()
            .filter(|(_, p)| {
                let Some(facts) = &p.facts else { return false };
                let opened = p.opened.as_ref().and_then(|o| o.opened_at.or(o.arrived_at));
                let in_period = opened.is_some_and(|at| from.is_none_or(|f| at >= f) && at < to);
                let urgency = if facts.urgency.is_empty() {
                    "none"
                } else {
                    facts.urgency.as_str()
                };
                let age_band = if facts.age_band.is_empty() {
                    "unknown"
                } else {
                    facts.age_band.as_str()
                };
                in_period
                    && keep(&query.provinces, &facts.province)
                    && keep(&query.urgencies, urgency)
                    && keep(&query.age_bands, age_band)
                    && (query.categories.is_empty()
                        || facts
                            .categories
                            .iter()
                            .any(|(c, s)| s != "ruled_out" && query.categories.contains(c)))
                    && (query.service_types.is_empty()
                        || p.referrals
                            .values()
                            .any(|r| query.service_types.contains(&r.service_type)))
            })
            .map(|(id, p)| (id, p))
            .collect();
        // A key for this export only, never stored: two exports cannot be linked.
        let pseudonyms = Pseudonyms::with_key(rand::random());
        let sheet = export::pathway_sheet(&selected, &pseudonyms);
        drop(pseudonyms);
        Ok(Response::new(self.stream(
            sheet,
            request.format,
            |data, last, rows, media_type| api::ExportCasePathwaysResponse {
                data,
                last,
                rows,
                media_type: media_type.to_owned(),
            },
        )?))
    }
}

impl std::fmt::Debug for MonitoringApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringApi").finish_non_exhaustive()
    }
}
