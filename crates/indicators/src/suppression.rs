//! Small-cell suppression of a published table of counts.
//!
//! A table is `rows x columns` counts with, when published, a total for each
//! row (the last column) and a total for each column (the last row, with the
//! grand total). The rule:
//!
//! 1. **primary**: every cell under [`THRESHOLD`] (5) is suppressed, totals
//!    and zeros included ("no published cell under 5");
//! 2. **complementary**: while some suppressed cell is *determined by
//!    difference*, i.e. its value follows from the published cells through
//!    the table's sums (each row adds up to its total, each column to its
//!    total), another cell of its row or column is suppressed: the smallest
//!    one whose suppression leaves that cell undetermined, or the smallest
//!    if none does alone.
//!
//! "Determined" is exact linear algebra: the suppressed cells are the
//! unknowns of the table's sum equations; a cell is determined when the unit
//! vector of its unknown lies in the row space of those equations (the
//! reduced row echelon form has a row with that cell alone). This catches
//! chains of differences across rows and columns, not only a row with one
//! suppressed cell. Suppressing everything is always safe, so the loop ends.
//! Bounds from non-negativity (a suppressed pair known to add up to 0) are
//! not considered: only differences.

/// The smallest count published.
pub const THRESHOLD: u64 = 5;

/// A table after suppression: every cell, margins included, with whether it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    rows: usize,
    columns: usize,
    row_totals: bool,
    column_totals: bool,
    values: Vec<u64>,
    suppressed: Vec<bool>,
}

impl Protected {
    /// Rows of the extended table (with the total row when column totals are published).
    pub fn extended_rows(&self) -> usize {
        self.rows + usize::from(self.column_totals)
    }

    /// Columns of the extended table (with the total column when row totals are published).
    pub fn extended_columns(&self) -> usize {
        self.columns + usize::from(self.row_totals)
    }

    /// The published value of a cell of the extended table (`None`: suppressed).
    /// Row `rows` is the total row, column `columns` the total column.
    pub fn published(&self, row: usize, column: usize) -> Option<u64> {
        let index = row * self.extended_columns() + column;
        (!self.suppressed[index]).then(|| self.values[index])
    }

    /// Whether a cell of the extended table is suppressed.
    pub fn is_suppressed(&self, row: usize, column: usize) -> bool {
        self.suppressed[row * self.extended_columns() + column]
    }

    /// Every cell of the extended table that can be recovered from the
    /// published ones by the table's sums (empty after [`protect`]).
    pub fn recoverable(&self) -> Vec<(usize, usize)> {
        let width = self.extended_columns();
        determined(self, &self.suppressed)
            .into_iter()
            .map(|index| (index / width, index % width))
            .collect()
    }
}

/// Protects `values` (`rows x columns`, row-major): adds the margins asked
/// for, then suppresses as the module says.
pub fn protect(
    values: &[u64],
    rows: usize,
    columns: usize,
    row_totals: bool,
    column_totals: bool,
    threshold: u64,
) -> Protected {
    assert_eq!(values.len(), rows * columns, "a table of rows x columns");
    let ext_rows = rows + usize::from(column_totals);
    let ext_columns = columns + usize::from(row_totals);
    let mut extended = vec![0u64; ext_rows * ext_columns];
    for r in 0..rows {
        for c in 0..columns {
            let v = values[r * columns + c];
            extended[r * ext_columns + c] = v;
            if row_totals {
                extended[r * ext_columns + columns] += v;
            }
            if column_totals {
                extended[rows * ext_columns + c] += v;
            }
            if row_totals && column_totals {
                extended[rows * ext_columns + columns] += v;
            }
        }
    }
    let mut table = Protected {
        rows,
        columns,
        row_totals,
        column_totals,
        suppressed: extended.iter().map(|v| *v < threshold).collect(),
        values: extended,
    };
    loop {
        let open = determined(&table, &table.suppressed);
        let Some(&cell) = open.first() else {
            return table;
        };
        let mut candidates = line_mates(&table, cell);
        candidates.retain(|i| !table.suppressed[*i]);
        if candidates.is_empty() {
            // Its row and column are all suppressed: widen to the whole table.
            candidates = (0..table.values.len())
                .filter(|i| !table.suppressed[*i])
                .collect();
        }
        candidates.sort_by_key(|i| (table.values[*i], *i));
        let freeing = candidates.iter().copied().find(|candidate| {
            let mut trial = table.suppressed.clone();
            trial[*candidate] = true;
            !determined(&table, &trial).contains(&cell)
        });
        match freeing.or(candidates.first().copied()) {
            Some(chosen) => table.suppressed[chosen] = true,
            // Nothing left to suppress: cannot happen (all suppressed is safe).
            None => return table,
        }
    }
}

/// The cells of the extended table in the same row or column as `cell`.
fn line_mates(table: &Protected, cell: usize) -> Vec<usize> {
    let width = table.extended_columns();
    let (row, column) = (cell / width, cell % width);
    let mut mates: Vec<usize> = (0..width)
        .filter(|c| *c != column)
        .map(|c| row * width + c)
        .collect();
    mates.extend(
        (0..table.extended_rows())
            .filter(|r| *r != row)
            .map(|r| r * width + column),
    );
    mates
}

/// The table's sum equations over the extended table: each row's cells
/// minus its total, each column's cells minus its total. Coefficients per cell.
fn equations(table: &Protected) -> Vec<Vec<(usize, f64)>> {
    let width = table.extended_columns();
    let height = table.extended_rows();
    let mut equations = Vec::new();
    if table.row_totals {
        for r in 0..height {
            let mut equation: Vec<(usize, f64)> =
                (0..table.columns).map(|c| (r * width + c, 1.0)).collect();
            equation.push((r * width + table.columns, -1.0));
            equations.push(equation);
        }
    }
    if table.column_totals {
        for c in 0..width {
            let mut equation: Vec<(usize, f64)> =
                (0..table.rows).map(|r| (r * width + c, 1.0)).collect();
            equation.push((table.rows * width + c, -1.0));
            equations.push(equation);
        }
    }
    equations
}

/// The suppressed cells that are known to be 0 without any difference: in a
/// line whose total is published and whose published cells already add up to
/// it, every suppressed cell is 0 (counts are never negative). Repeated until
/// nothing more is learnt; a zero learnt this way discloses no one, but it is
/// then as good as published for the differences.
pub fn known_zeros(table: &Protected, suppressed: &[bool]) -> Vec<bool> {
    let width = table.extended_columns();
    let height = table.extended_rows();
    let mut known = vec![false; suppressed.len()];
    let mut lines: Vec<(Vec<usize>, usize)> = Vec::new();
    if table.row_totals {
        for r in 0..height {
            lines.push((
                (0..table.columns).map(|c| r * width + c).collect(),
                r * width + table.columns,
            ));
        }
    }
    if table.column_totals {
        for c in 0..width {
            lines.push((
                (0..table.rows).map(|r| r * width + c).collect(),
                table.rows * width + c,
            ));
        }
    }
    loop {
        let mut learnt = false;
        for (cells, total) in &lines {
            let total_known = !suppressed[*total] || known[*total];
            let hidden: Vec<usize> = cells
                .iter()
                .copied()
                .filter(|i| suppressed[*i] && !known[*i])
                .collect();
            if total_known && !hidden.is_empty() && hidden.iter().all(|i| table.values[*i] == 0) {
                for i in hidden {
                    known[i] = true;
                }
                learnt = true;
            }
        }
        if !learnt {
            return known;
        }
    }
}

/// The suppressed cells (indexes in the extended table) whose value follows
/// from the published ones by the table's sums, once the suppressed cells
/// known to be 0 ([`known_zeros`]) are counted as published.
fn determined(table: &Protected, suppressed: &[bool]) -> Vec<usize> {
    let zeros = known_zeros(table, suppressed);
    let unknowns: Vec<usize> = (0..suppressed.len())
        .filter(|i| suppressed[*i] && !zeros[*i])
        .collect();
    if unknowns.is_empty() {
        return Vec::new();
    }
    let column_of = |cell: usize| unknowns.binary_search(&cell).ok();
    let mut matrix: Vec<Vec<f64>> = equations(table)
        .into_iter()
        .map(|equation| {
            let mut row = vec![0.0; unknowns.len()];
            for (cell, coefficient) in equation {
                if let Some(c) = column_of(cell) {
                    row[c] += coefficient;
                }
            }
            row
        })
        .collect();
    let pivots = reduce(&mut matrix, unknowns.len());
    pivots
        .into_iter()
        .filter(|(row, column)| {
            matrix[*row]
                .iter()
                .enumerate()
                .all(|(c, v)| c == *column || v.abs() < EPSILON)
        })
        .map(|(_, column)| unknowns[column])
        .collect()
}

const EPSILON: f64 = 1e-9;

/// Reduced row echelon form in place; the (row, column) of each pivot.
fn reduce(matrix: &mut [Vec<f64>], width: usize) -> Vec<(usize, usize)> {
    let mut pivots = Vec::new();
    let mut next_row = 0;
    for column in 0..width {
        if next_row == matrix.len() {
            break;
        }
        let Some(best) = (next_row..matrix.len()).max_by(|a, b| {
            matrix[*a][column]
                .abs()
                .total_cmp(&matrix[*b][column].abs())
        }) else {
            break;
        };
        if matrix[best][column].abs() < EPSILON {
            continue;
        }
        matrix.swap(next_row, best);
        let pivot = matrix[next_row][column];
        for v in matrix[next_row].iter_mut() {
            *v /= pivot;
        }
        let pivot_row = matrix[next_row].clone();
        for (r, row) in matrix.iter_mut().enumerate() {
            if r == next_row {
                continue;
            }
            let factor = row[column];
            if factor.abs() >= EPSILON {
                for (v, p) in row.iter_mut().zip(&pivot_row) {
                    *v -= factor * p;
                }
            }
        }
        pivots.push((next_row, column));
        next_row += 1;
    }
    pivots
}
