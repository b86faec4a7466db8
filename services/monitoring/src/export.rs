//! Exports an analyst opens directly (pandas, R, DuckDB): a [`Sheet`] of
//! typed columns written as CSV (RFC 4180, header row, empty for a missing
//! value) or as Apache Parquet (the `parquet` crate's column writers,
//! uncompressed, one row group), then cut into chunks for a server stream.
//!
//! What goes in: the protected indicator tables ([`indicator_sheet`]) and
//! one row per case ([`pathway_sheet`]): durations, months and codes, never a
//! date, a name or free text, and the case id replaced by a pseudonym keyed
//! with a random key drawn for this export only and never stored
//! ([`Pseudonyms`]), so two exports cannot be linked by it.

use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use sha2::{Digest, Sha256};

use crate::compute::{Computed, Dimension};
use crate::pathway::CasePathway;

/// One typed column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<bool>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    fn csv(&self, row: usize) -> String {
        match self {
            Column::Text(v) => v[row].as_deref().map(csv_text).unwrap_or_default(),
            Column::Int(v) => v[row].map(|n| n.to_string()).unwrap_or_default(),
            Column::Float(v) => v[row].map(|n| n.to_string()).unwrap_or_default(),
            Column::Bool(v) => v[row].to_string(),
        }
    }
}

fn csv_text(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sheet {
    pub name: &'static str,
    pub columns: Vec<(&'static str, Column)>,
}

impl Sheet {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    pub fn csv(&self) -> Vec<u8> {
        let mut out = String::new();
        let header: Vec<&str> = self.columns.iter().map(|(name, _)| *name).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in 0..self.rows() {
            let cells: Vec<String> = self.columns.iter().map(|(_, c)| c.csv(row)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out.into_bytes()
    }

    pub fn parquet(&self) -> Result<Vec<u8>, parquet::errors::ParquetError> {
        let fields = self
            .columns
            .iter()
            .map(|(name, column)| {
                let (physical, logical, repetition) = match column {
                    Column::Text(_) => (
                        PhysicalType::BYTE_ARRAY,
                        Some(LogicalType::String),
                        Repetition::OPTIONAL,
                    ),
                    Column::Int(_) => (PhysicalType::INT64, None, Repetition::OPTIONAL),
                    Column::Float(_) => (PhysicalType::DOUBLE, None, Repetition::OPTIONAL),
                    Column::Bool(_) => (PhysicalType::BOOLEAN, None, Repetition::REQUIRED),
                };
                Type::primitive_type_builder(name, physical)
                    .with_logical_type(logical)
                    .with_repetition(repetition)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Arc::new(
            Type::group_type_builder(self.name)
                .with_fields(fields)
                .build()?,
        );
        let properties = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::UNCOMPRESSED)
                .build(),
        );
        let mut buffer = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut buffer, schema, properties)?;
        let mut group = writer.next_row_group()?;
        for (_, column) in &self.columns {
            let Some(mut writer) = group.next_column()? else {
                break;
            };
            match column {
                Column::Text(values) => {
                    let (present, levels) = levels(values);
                    let present: Vec<ByteArray> = present
                        .into_iter()
                        .map(|s| ByteArray::from(s.as_bytes().to_vec()))
                        .collect();
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&present, Some(&levels), None)?;
                }
                Column::Int(values) => {
                    let (present, levels) = levels(values);
                    writer
                        .typed::<Int64Type>()
                        .write_batch(&present, Some(&levels), None)?;
                }
                Column::Float(values) => {
                    let (present, levels) = levels(values);
                    writer
                        .typed::<DoubleType>()
                        .write_batch(&present, Some(&levels), None)?;
                }
                Column::Bool(values) => {
                    writer.typed::<BoolType>().write_batch(values, None, None)?;
                }
            }
            writer.close()?;
        }
        group.close()?;
        writer.close()?;
        Ok(buffer)
    }
}

/// The present values and the definition levels of an optional column.
fn levels<T: Clone>(values: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
    let present = values.iter().flatten().cloned().collect();
    let levels = values.iter().map(|v| i16::from(v.is_some())).collect();
    (present, levels)
}

/// Case ids replaced by a keyed hash: SHA-256 of a random key drawn for one
/// export and the case id, 32 hex digits. The key lives as long as the
/// export, is never stored or logged, and is wiped when dropped.
pub struct Pseudonyms {
    key: [u8; 32],
}

impl Pseudonyms {
    pub fn with_key(key: [u8; 32]) -> Pseudonyms {
        Pseudonyms { key }
    }

    /// The pseudonym of `case_id` under this export's key.
    pub fn of(&self, case_id: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update(case_id.as_bytes());
        hex::encode(&hasher.finalize()[..16])
    }
}

impl Drop for Pseudonyms {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// The indicator tables, one row per published table row and column
/// (`column` "total" for a row's total), dimensions as columns.
pub fn indicator_sheet(tables: &[Computed]) -> Sheet {
    let mut indicator = Vec::new();
    let mut dims: Vec<Vec<Option<String>>> = vec![Vec::new(); Dimension::ALL.len()];
    let mut column = Vec::new();
    let mut count = Vec::new();
    let mut suppressed = Vec::new();
    let mut share = Vec::new();
    let mut median = Vec::new();
    let mut p90 = Vec::new();
    let mut unit = Vec::new();
    let mut per_10000 = Vec::new();
    for table in tables {
        let out = &table.table;
        let row_totals = out.protected.extended_columns() > out.columns.len();
        let rows = out.rows.iter().map(|r| (r, false));
        for (row, is_total) in rows.chain(out.total.iter().map(|r| (r, true))) {
            let mut cells: Vec<(String, Option<u64>)> = out
                .columns
                .iter()
                .cloned()
                .zip(row.cells.iter().copied())
                .collect();
            if row_totals {
                cells.push(("total".to_owned(), row.total));
            }
            for (index, (name, value)) in cells.into_iter().enumerate() {
                indicator.push(Some(table.id.to_owned()));
                for (d, dimension) in Dimension::ALL.iter().enumerate() {
                    let value = table
                        .dimensions
                        .iter()
                        .position(|x| x == dimension)
                        .map(|p| {
                            if is_total {
                                "total".to_owned()
                            } else {
                                row.group.get(p).cloned().unwrap_or_default()
                            }
                        });
                    dims[d].push(value);
                }
                column.push(Some(name));
                count.push(value.map(|v| i64::try_from(v).unwrap_or(i64::MAX)));
                suppressed.push(value.is_none());
                share.push(match (value, row.total) {
                    (Some(v), Some(t)) if t > 0 && index < out.columns.len() => {
                        Some(v as f64 / t as f64)
                    }
                    _ => None,
                });
                let first = index == 0;
                median.push(row.median.filter(|_| first));
                p90.push(row.p90.filter(|_| first));
                unit.push((!table.unit.is_empty()).then(|| table.unit.to_owned()));
                per_10000.push(table.per_10000.get(&row.group).copied().filter(|_| first));
            }
        }
    }
    let mut columns = vec![("indicator", Column::Text(indicator))];
    for (dimension, values) in Dimension::ALL.iter().zip(dims) {
        columns.push((dimension.code(), Column::Text(values)));
    }
    columns.extend([
        ("column", Column::Text(column)),
        ("count", Column::Int(count)),
        ("suppressed", Column::Bool(suppressed)),
        ("share", Column::Float(share)),
        ("median", Column::Float(median)),
        ("p90", Column::Float(p90)),
        ("unit", Column::Text(unit)),
        ("places_per_10000_inhabitants", Column::Float(per_10000)),
    ]);
    Sheet {
        name: "indicators",
        columns,
    }
}

/// One row per case: codes, months and durations, the case id pseudonymised.
pub fn pathway_sheet(cases: &[(&String, &CasePathway)], pseudonyms: &Pseudonyms) -> Sheet {
    let hours =
        |from: Option<time::OffsetDateTime>, to: Option<time::OffsetDateTime>| match (from, to) {
            (Some(from), Some(to)) => Some((to - from).as_seconds_f64() / 3600.0),
            _ => None,
        };
    let count = |n: usize| Some(i64::try_from(n).unwrap_or(i64::MAX));
    let mut c: Vec<(&'static str, Column)> = Vec::new();
    let text = |f: &dyn Fn(&CasePathway, &str) -> Option<String>| {
        Column::Text(cases.iter().map(|(id, p)| f(p, id)).collect())
    };
    let int = |f: &dyn Fn(&CasePathway) -> Option<i64>| {
        Column::Int(cases.iter().map(|(_, p)| f(p)).collect())
    };
    let float = |f: &dyn Fn(&CasePathway) -> Option<f64>| {
        Column::Float(cases.iter().map(|(_, p)| f(p)).collect())
    };
    let flag =
        |f: &dyn Fn(&CasePathway) -> bool| Column::Bool(cases.iter().map(|(_, p)| f(p)).collect());
    let opened = |p: &CasePathway| p.opened.as_ref().and_then(|o| o.opened_at.or(o.arrived_at));
    c.push(("case", text(&|_, id| Some(pseudonyms.of(id)))));
    c.push(("province", text(&|p, _| Some(p.province()))));
    c.push((
        "opened_month",
        text(&|p, _| {
            opened(p).map(|at| {
                let day = pathway::calendar::date_in_rome(at);
                format!("{:04}-{:02}", day.year(), u8::from(day.month()))
            })
        }),
    ));
    c.push((
        "facility_kind_at_opening",
        text(&|p, _| p.opened.as_ref().map(|o| o.facility_kind.clone())),
    ));
    c.push((
        "age_band",
        text(&|p, _| p.facts.as_ref().map(|f| f.age_band.clone())),
    ));
    c.push((
        "urgency",
        text(&|p, _| p.facts.as_ref().map(|f| f.urgency.clone())),
    ));
    c.push((
        "categories",
        text(&|p, _| {
            p.facts.as_ref().map(|f| {
                f.categories
                    .iter()
                    .filter(|(code, status)| {
                        status.as_str() != "ruled_out"
                            && !crate::compute::NEVER_SHOWN.contains(&code.as_str())
                    })
                    .map(|(code, _)| code.clone())
                    .collect::<Vec<_>>()
                    .join(";")
            })
        }),
    ));
    c.push((
        "preliminary_check_hours",
        float(&|p| hours(opened(p), p.check_at)),
    ));
    c.push((
        "screening_deadline_missed",
        flag(&|p| p.screening_deadline_missed),
    ));
    c.push((
        "application_to_assessment_completed_hours",
        float(&|p| {
            let start = p.application_date.as_deref().and_then(|d| {
                time::Date::parse(
                    d,
                    &time::macros::format_description!("[year]-[month]-[day]"),
                )
                .ok()
                .map(pathway::calendar::start_of_day_in_rome)
            });
            hours(start, p.assessment_completed_at)
        }),
    ));
    c.push((
        "assessment_deadline_missed",
        flag(&|p| p.assessment_deadline_missed),
    ));
    c.push((
        "signal_to_first_referral_sent_hours",
        float(&|p| {
            hours(
                p.first_suspicion_at,
                p.referrals.values().filter_map(|r| r.sent_at).min(),
            )
        }),
    ));
    c.push((
        "referrals_sent",
        int(&|p| count(p.referrals.values().filter(|r| r.sent_at.is_some()).count())),
    ));
    c.push((
        "referrals_accepted",
        int(&|p| {
            count(
                p.referrals
                    .values()
                    .filter(|r| r.accepted_at.is_some())
                    .count(),
            )
        }),
    ));
    c.push((
        "referrals_declined",
        int(&|p| {
            count(
                p.referrals
                    .values()
                    .filter(|r| r.declined_at.is_some() && !r.redirected)
                    .count(),
            )
        }),
    ));
    c.push((
        "referrals_redirected",
        int(&|p| count(p.referrals.values().filter(|r| r.redirected).count())),
    ));
    c.push((
        "referrals_expired",
        int(&|p| {
            count(
                p.referrals
                    .values()
                    .filter(|r| r.expired_at.is_some())
                    .count(),
            )
        }),
    ));
    c.push((
        "needs_identified_after_assessment",
        int(&|p| count(p.needs_after_assessment.len())),
    ));
    c.push(("vulnerable_detentions", int(&|p| count(p.detentions.len()))));
    c.push((
        "arrival_to_guardian_days",
        float(&|p| {
            hours(p.opened.as_ref().and_then(|o| o.arrived_at), p.guardian_at).map(|h| h / 24.0)
        }),
    ));
    c.push(("transfers", int(&|p| count(p.transfers.len()))));
    c.push((
        "lost_to_follow_up",
        int(&|p| count(p.transfers.iter().filter(|t| t.lost).count())),
    ));
    c.push(("safe_space_requests", int(&|p| count(p.places.len()))));
    c.push(("personal_data_erased", flag(&|p| p.erased)));
    Sheet {
        name: "case_pathways",
        columns: c,
    }
}

/// Cuts a file into chunks of at most `size` bytes (at least one chunk).
pub fn chunks(file: &[u8], size: usize) -> Vec<Vec<u8>> {
    if file.is_empty() {
        return vec![Vec::new()];
    }
    file.chunks(size.max(1)).map(<[u8]>::to_vec).collect()
}
