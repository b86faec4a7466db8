//! `approdo monitoring`: the pathway's indicators (the domain brief's
//! "Monitoring", 1-10) as tables, and their exports as CSV or Parquet files.
//! Counts under 5, and those that would reveal one by difference, print as `*`.

use std::path::PathBuf;

use access_token::OrganisationType;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use contracts::monitoring::v1 as api;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use api::monitoring_service_client::MonitoringServiceClient;

const PORT: u16 = 50054;

/// Which figures, for which period, grouped how.
#[derive(Args, Clone, Default)]
pub struct Selection {
    /// Group by these dimensions, in order: province, month, category,
    /// service_type, urgency, age_band (comma-separated). None: national totals.
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    /// From this time (RFC 3339, e.g. 2026-06-01T00:00:00Z). Default: the start.
    #[arg(long)]
    from: Option<String>,
    /// Until this time, excluded (RFC 3339). Default: now.
    #[arg(long)]
    to: Option<String>,
    /// Only these provinces (comma-separated codes, e.g. AG,RM).
    #[arg(long, value_delimiter = ',')]
    province: Vec<String>,
    /// Only cases with these categories (e.g. GBV,TRAFFICKING).
    #[arg(long, value_delimiter = ',')]
    category: Vec<String>,
    /// Only referrals to these service types (e.g. anti_violence_centre).
    #[arg(long, value_delimiter = ',')]
    service_type: Vec<String>,
    /// Only these indicator tables (e.g. 4.referral_answers); default: all.
    #[arg(long, value_delimiter = ',')]
    indicator: Vec<String>,
    /// Ask as the prefecture of this province (its figures only) instead of
    /// a national analyst.
    #[arg(long)]
    as_prefecture: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Parquet,
}

#[derive(Subcommand)]
pub enum MonitoringCommand {
    /// Uniform monitoring visits to facilities and staff training records.
    #[command(flatten)]
    Visits(crate::visits::VisitCommand),
    /// Prints the indicator tables: counts by outcome, shares, medians and
    /// 90th percentiles of the times between the pathway's steps.
    Indicators {
        #[command(flatten)]
        selection: Selection,
    },
    /// Writes the indicator tables (or, with --cases, one pseudonymised row
    /// per case) to a file that pandas, R or DuckDB open directly.
    Export {
        #[arg(long, value_enum)]
        format: Format,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// One row per case (durations, months, codes; the case id replaced by
        /// a pseudonym valid for this file only) instead of the tables.
        #[arg(long)]
        cases: bool,
        #[command(flatten)]
        selection: Selection,
    },
}

fn time(field: &str, raw: Option<&String>) -> Result<Option<prost_types::Timestamp>> {
    raw.map(|raw| {
        let at = OffsetDateTime::parse(raw, &Rfc3339)
            .with_context(|| format!("--{field} must be an RFC 3339 time"))?;
        Ok(prost_types::Timestamp {
            seconds: at.unix_timestamp(),
            nanos: i32::try_from(at.nanosecond()).unwrap_or(0),
        })
    })
    .transpose()
}

impl Selection {
    fn request(&self) -> Result<api::GetIndicatorsRequest> {
        Ok(api::GetIndicatorsRequest {
            period_from: time("from", self.from.as_ref())?,
            period_to: time("to", self.to.as_ref())?,
            group_by: self.group_by.clone(),
            filter: Some(self.filter()),
            indicators: self.indicator.clone(),
            min_sequence: 0,
        })
    }

    fn filter(&self) -> api::IndicatorFilter {
        api::IndicatorFilter {
            provinces: self.province.clone(),
            categories: self.category.clone(),
            service_types: self.service_type.clone(),
            ..Default::default()
        }
    }

    /// `message` with an analyst's token, or a prefecture's.
    fn authorised<T>(&self, message: T) -> tonic::Request<T> {
        let (org_type, organisation, province) = match &self.as_prefecture {
            Some(province) => (
                OrganisationType::Prefecture,
                format!("prefettura-{}", province.to_ascii_lowercase()),
                Some(province.as_str()),
            ),
            None => (OrganisationType::Analyst, "local-analyst".to_owned(), None),
        };
        let mut request = tonic::Request::new(message);
        let token = crate::token(org_type, &organisation, &["analyst"], province);
        if let Ok(value) = format!("Bearer {token}").parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }
}

/// The demo's indicators: national tables once the projection has applied
/// `min_sequence` (the landing's last commit), grouped by province.
pub async fn print_indicators(host: &str, min_sequence: u64) -> Result<()> {
    let mut client = MonitoringServiceClient::new(crate::connect(host, PORT).await?);
    let selection = Selection {
        group_by: vec!["province".to_owned()],
        ..Selection::default()
    };
    let mut request = selection.request()?;
    request.min_sequence = min_sequence;
    let answer = client
        .get_indicators(selection.authorised(request))
        .await?
        .into_inner();
    println!(
        "  indicators (national, by province; log position {}; counts under 5 print as *)",
        answer.log_sequence
    );
    for table in &answer.tables {
        print!("{}", render(table));
    }
    Ok(())
}

pub async fn run(host: &str, command: MonitoringCommand) -> Result<()> {
    if let MonitoringCommand::Visits(command) = command {
        return crate::visits::run(host, command).await;
    }
    let mut client = MonitoringServiceClient::new(crate::connect(host, PORT).await?);
    match command {
        MonitoringCommand::Visits(_) => unreachable!("handled above"),
        MonitoringCommand::Indicators { selection } => {
            let answer = client
                .get_indicators(selection.authorised(selection.request()?))
                .await?
                .into_inner();
            let scope = if answer.scope_province.is_empty() {
                "national".to_owned()
            } else {
                format!("province {}", answer.scope_province)
            };
            println!("indicators ({scope}, log position {})", answer.log_sequence);
            for table in &answer.tables {
                print!("{}", render(table));
            }
        }
        MonitoringCommand::Export {
            format,
            out,
            cases,
            selection,
        } => {
            let format = match format {
                Format::Csv => api::ExportFormat::Csv,
                Format::Parquet => api::ExportFormat::Parquet,
            } as i32;
            let mut file = Vec::new();
            let mut rows = 0;
            if cases {
                let request = api::ExportCasePathwaysRequest {
                    period_from: time("from", selection.from.as_ref())?,
                    period_to: time("to", selection.to.as_ref())?,
                    filter: Some(selection.filter()),
                    format,
                    min_sequence: 0,
                };
                let mut stream = client
                    .export_case_pathways(selection.authorised(request))
                    .await?
                    .into_inner();
                while let Some(chunk) = stream.message().await? {
                    file.extend_from_slice(&chunk.data);
                    rows = rows.max(chunk.rows);
                }
            } else {
                let request = api::ExportIndicatorsRequest {
                    query: Some(selection.request()?),
                    format,
                };
                let mut stream = client
                    .export_indicators(selection.authorised(request))
                    .await?
                    .into_inner();
                while let Some(chunk) = stream.message().await? {
                    file.extend_from_slice(&chunk.data);
                    rows = rows.max(chunk.rows);
                }
            }
            if file.is_empty() {
                bail!("the service sent an empty file");
            }
            std::fs::write(&out, &file)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "wrote {} rows ({} bytes) to {}",
                rows,
                file.len(),
                out.display()
            );
        }
    }
    Ok(())
}

fn count(cell: Option<&api::IndicatorCell>) -> String {
    match cell {
        Some(c) if c.suppressed => "*".to_owned(),
        Some(c) => match c.share {
            Some(share) => format!("{} ({:.0}%)", c.count, share * 100.0),
            None => c.count.to_string(),
        },
        None => String::new(),
    }
}

/// One table as text: a line per row, `*` for suppressed counts.
fn render(table: &api::IndicatorTable) -> String {
    let mut out = format!("\n{}: {}\n", table.indicator, table.measure);
    let mut header: Vec<String> = table.dimensions.clone();
    header.extend(table.columns.iter().cloned());
    let has_totals = table
        .rows
        .iter()
        .chain(table.total.iter())
        .any(|r| r.total.is_some());
    if has_totals {
        header.push("total".to_owned());
    }
    if !table.unit.is_empty() {
        header.push(format!("median ({})", table.unit));
        header.push(format!("p90 ({})", table.unit));
    }
    if table.indicator.starts_with("9.safe_space_places") {
        header.push("places per 10,000".to_owned());
    }
    out.push_str(&format!("  {}\n", header.join(" | ")));
    if table.rows.is_empty() {
        out.push_str("  (no observations)\n");
    }
    for row in table.rows.iter().chain(table.total.iter()) {
        let mut line: Vec<String> = if row.group.is_empty() {
            vec!["all".to_owned()]
        } else {
            row.group.clone()
        };
        line.extend(row.cells.iter().map(|c| count(Some(c))));
        if has_totals {
            line.push(count(row.total.as_ref()));
        }
        if !table.unit.is_empty() {
            let figure = |v: Option<f64>| v.map_or("*".to_owned(), |v| format!("{v:.1}"));
            line.push(figure(row.median));
            line.push(figure(row.p90));
        }
        if let Some(rate) = row.places_per_10000_inhabitants {
            line.push(format!("{rate:.2}"));
        }
        out.push_str(&format!("  {}\n", line.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressed_counts_print_as_a_star_and_shares_as_percentages() {
        let cell = |count, suppressed, share| api::IndicatorCell {
            suppressed,
            count,
            share,
        };
        let table = api::IndicatorTable {
            indicator: "4.referral_answers".to_owned(),
            measure: "referrals sent by answer".to_owned(),
            dimensions: vec!["province".to_owned()],
            columns: vec!["accepted".to_owned(), "expired".to_owned()],
            rows: vec![api::IndicatorRow {
                group: vec!["AG".to_owned()],
                cells: vec![cell(7, false, Some(0.7)), cell(0, true, None)],
                total: Some(cell(10, false, None)),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = render(&table);
        assert!(
            text.contains("province | accepted | expired | total"),
            "{text}"
        );
        assert!(text.contains("AG | 7 (70%) | * | 10"), "{text}");
    }

    #[test]
    fn times_must_be_rfc_3339() {
        assert!(time("from", Some(&"2026-06-01".to_owned())).is_err());
        assert!(time("from", Some(&"2026-06-01T00:00:00Z".to_owned())).is_ok());
    }
}
