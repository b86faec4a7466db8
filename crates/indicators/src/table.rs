//! One indicator's table: observations counted by group (the values of the
//! requested dimensions) and outcome column, with the durations' median and
//! 90th percentile per group, protected before anything is published.
//!
//! An observation falls in one group, or in several when a dimension is
//! multi-valued (a case with two categories is counted in both category
//! rows). Then rows do not add up to a total and no total row is published
//! (a table is *additive* only if every observation fell in exactly one group).

use std::collections::BTreeMap;

use crate::stats;
use crate::suppression::{Protected, protect};

/// The values of a table's dimensions for one row, in the dimensions' order.
pub type Group = Vec<String>;

/// How a table is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Counts by outcome (`columns`), with each row's total: shares are a
    /// column over its row's total.
    Outcomes(Vec<String>),
    /// Counts only (`columns`), no row total: the columns are not parts of a
    /// whole (places, occupied, waiting).
    Counts(Vec<String>),
    /// One column, `observations`, and the median and 90th percentile of
    /// their values.
    Durations,
}

impl Layout {
    pub fn columns(&self) -> Vec<String> {
        match self {
            Layout::Outcomes(columns) | Layout::Counts(columns) => columns.clone(),
            Layout::Durations => vec!["observations".to_owned()],
        }
    }

    fn row_totals(&self) -> bool {
        matches!(self, Layout::Outcomes(_))
    }
}

/// One observation: the groups it falls in, its outcome column, and for a
/// duration its value. `weight` counts it more than once (places of a space).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub groups: Vec<Group>,
    pub column: usize,
    pub value: Option<f64>,
    pub weight: u64,
}

impl Observation {
    /// A single observation in `groups`, in outcome `column`.
    pub fn counted(groups: Vec<Group>, column: usize) -> Observation {
        Observation {
            groups,
            column,
            value: None,
            weight: 1,
        }
    }

    /// A duration of `value` in `groups`.
    pub fn lasting(groups: Vec<Group>, value: f64) -> Observation {
        Observation {
            groups,
            column: 0,
            value: Some(value),
            weight: 1,
        }
    }
}

/// Collects a table's observations.
#[derive(Debug, Clone)]
pub struct TableBuilder {
    layout: Layout,
    observations: Vec<Observation>,
}

/// One published row: each column's count (`None`: suppressed), its total
/// (outcome tables), and the durations' statistics (duration tables, only
/// when the row's count is published).
#[derive(Debug, Clone, PartialEq)]
pub struct RowOutput {
    pub group: Group,
    pub cells: Vec<Option<u64>>,
    pub total: Option<u64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// A protected table, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct TableOutput {
    pub columns: Vec<String>,
    pub rows: Vec<RowOutput>,
    /// The total row (`None` when the table is not additive, or empty).
    pub total: Option<RowOutput>,
    /// What suppression left: for tests and audits.
    pub protected: Protected,
}

impl TableBuilder {
    pub fn new(layout: Layout) -> TableBuilder {
        TableBuilder {
            layout,
            observations: Vec::new(),
        }
    }

    pub fn add(&mut self, observation: Observation) {
        self.observations.push(observation);
    }

    /// Groups, counts and protects with `threshold`.
    pub fn build(self, threshold: u64) -> TableOutput {
        let columns = self.layout.columns();
        let width = columns.len();
        let additive = self.observations.iter().all(|o| o.groups.len() == 1);
        let mut counts: BTreeMap<Group, (Vec<u64>, Vec<f64>)> = BTreeMap::new();
        let mut all_values = Vec::new();
        for observation in &self.observations {
            let column = observation.column.min(width - 1);
            for group in &observation.groups {
                let (cells, values) = counts
                    .entry(group.clone())
                    .or_insert_with(|| (vec![0; width], Vec::new()));
                cells[column] += observation.weight;
                values.extend(observation.value);
            }
            all_values.extend(observation.value);
        }
        let groups: Vec<&Group> = counts.keys().collect();
        let flat: Vec<u64> = counts
            .values()
            .flat_map(|(cells, _)| cells.iter().copied())
            .collect();
        let row_totals = self.layout.row_totals();
        let protected = protect(&flat, groups.len(), width, row_totals, additive, threshold);
        let durations = matches!(self.layout, Layout::Durations);
        let row = |index: usize, group: Group, values: &[f64]| {
            let cells: Vec<Option<u64>> =
                (0..width).map(|c| protected.published(index, c)).collect();
            let total = if row_totals {
                protected.published(index, width)
            } else {
                None
            };
            let shown = durations && cells.first().copied().flatten().is_some();
            RowOutput {
                group,
                cells,
                total,
                median: shown.then(|| stats::median(values)).flatten(),
                p90: shown.then(|| stats::percentile(values, 90)).flatten(),
            }
        };
        let rows = counts
            .iter()
            .enumerate()
            .map(|(index, (group, (_, values)))| row(index, group.clone(), values))
            .collect();
        // An empty table has no total row: nothing to add up.
        let total = (additive && !groups.is_empty())
            .then(|| row(groups.len(), vec!["total".to_owned()], &all_values));
        TableOutput {
            columns,
            rows,
            total,
            protected,
        }
    }
}
