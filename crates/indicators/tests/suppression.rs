//! Small-cell suppression: no published cell under 5, and no suppressed cell
//! recoverable by difference from the published cells and totals, checked
//! here by an independent exact (rational) computation of what the
//! published cells determine.

use indicators::{Layout, Observation, THRESHOLD, TableBuilder, protect};
use proptest::prelude::*;

/// A fraction-free exact rank over the integers (Bareiss elimination).
fn rank(mut m: Vec<Vec<i128>>) -> usize {
    let rows = m.len();
    let columns = m.first().map_or(0, Vec::len);
    let mut rank = 0;
    let mut previous = 1i128;
    for c in 0..columns {
        let Some(p) = (rank..rows).find(|r| m[*r][c] != 0) else {
            continue;
        };
        m.swap(rank, p);
        for r in rank + 1..rows {
            for k in c + 1..columns {
                m[r][k] = (m[rank][c] * m[r][k] - m[r][c] * m[rank][k]) / previous;
            }
            m[r][c] = 0;
        }
        previous = m[rank][c];
        rank += 1;
        if rank == rows {
            break;
        }
    }
    rank
}

/// The table's equations (each row of the extended table sums to its total
/// column, each column to its total row), restricted to the suppressed cells;
/// a suppressed cell is recoverable when removing its unknown lowers the rank.
fn recoverable_independently(
    suppressed: &[Vec<bool>],
    row_totals: bool,
    column_totals: bool,
) -> Vec<(usize, usize)> {
    let height = suppressed.len();
    let width = suppressed[0].len();
    let (rows, columns) = (
        height - usize::from(column_totals),
        width - usize::from(row_totals),
    );
    let unknowns: Vec<(usize, usize)> = (0..height)
        .flat_map(|r| (0..width).map(move |c| (r, c)))
        .filter(|(r, c)| suppressed[*r][*c])
        .collect();
    let mut equations: Vec<Vec<i128>> = Vec::new();
    let coefficient = |cells: &[((usize, usize), i128)]| {
        unknowns
            .iter()
            .map(|u| {
                cells
                    .iter()
                    .filter(|(cell, _)| cell == u)
                    .map(|(_, k)| k)
                    .sum()
            })
            .collect::<Vec<i128>>()
    };
    if row_totals {
        for r in 0..height {
            let mut cells: Vec<((usize, usize), i128)> =
                (0..columns).map(|c| ((r, c), 1)).collect();
            cells.push(((r, columns), -1));
            equations.push(coefficient(&cells));
        }
    }
    if column_totals {
        for c in 0..width {
            let mut cells: Vec<((usize, usize), i128)> = (0..rows).map(|r| ((r, c), 1)).collect();
            cells.push(((rows, c), -1));
            equations.push(coefficient(&cells));
        }
    }
    if unknowns.is_empty() || equations.is_empty() {
        return Vec::new();
    }
    let full = rank(equations.clone());
    unknowns
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let without: Vec<Vec<i128>> = equations
                .iter()
                .map(|e| {
                    e.iter()
                        .enumerate()
                        .filter(|(k, _)| k != i)
                        .map(|(_, v)| *v)
                        .collect()
                })
                .collect();
            rank(without) < full
        })
        .map(|(_, u)| *u)
        .collect()
}

/// The extended table's values (margins added), computed here again.
fn extended(values: &[u64], rows: usize, columns: usize, rt: bool, ct: bool) -> Vec<Vec<u64>> {
    let mut grid = vec![vec![0u64; columns + usize::from(rt)]; rows + usize::from(ct)];
    for r in 0..rows {
        for c in 0..columns {
            let v = values[r * columns + c];
            grid[r][c] = v;
            if rt {
                grid[r][columns] += v;
            }
            if ct {
                grid[rows][c] += v;
            }
            if rt && ct {
                grid[rows][columns] += v;
            }
        }
    }
    grid
}

/// Suppressed cells an attacker knows are 0: in a line whose total is
/// published (or known) and whose published cells add up to it. They are
/// taken off the suppressed grid (as good as published).
fn without_known_zeros(
    grid: &[Vec<bool>],
    values: &[Vec<u64>],
    rt: bool,
    ct: bool,
) -> Vec<Vec<bool>> {
    let mut hidden = grid.to_vec();
    let height = grid.len();
    let width = grid[0].len();
    loop {
        let mut lines: Vec<Vec<(usize, usize)>> = Vec::new();
        if rt {
            for r in 0..height {
                lines.push((0..width).map(|c| (r, c)).collect());
            }
        }
        if ct {
            for c in 0..width {
                lines.push((0..height).map(|r| (r, c)).collect());
            }
        }
        let mut learnt = false;
        for line in lines {
            let (total, cells) = line.split_last().expect("a line");
            let published_sum: u64 = cells
                .iter()
                .filter(|(r, c)| !hidden[*r][*c])
                .map(|(r, c)| values[*r][*c])
                .sum();
            let unknown: Vec<&(usize, usize)> =
                cells.iter().filter(|(r, c)| hidden[*r][*c]).collect();
            if !hidden[total.0][total.1]
                && !unknown.is_empty()
                && published_sum == values[total.0][total.1]
            {
                for (r, c) in unknown {
                    hidden[*r][*c] = false;
                }
                learnt = true;
            }
        }
        if !learnt {
            return hidden;
        }
    }
}

fn suppressed_grid(p: &indicators::Protected) -> Vec<Vec<bool>> {
    (0..p.extended_rows())
        .map(|r| {
            (0..p.extended_columns())
                .map(|c| p.is_suppressed(r, c))
                .collect()
        })
        .collect()
}

#[test]
fn a_small_cell_whose_row_total_would_reveal_it_is_hidden_with_a_complement() {
    // Two provinces, outcomes within / late. AG's "late" is 3: alone
    // suppressed, it would be AG's total 28 minus 25.
    let values = [25, 3, 40, 12];
    let naive_suppressed = vec![
        vec![false, true, false],
        vec![false, false, false],
        vec![false, false, false],
    ];
    assert_eq!(
        recoverable_independently(&naive_suppressed, true, true),
        vec![(0, 1)],
        "the table is built so that primary suppression alone discloses the 3"
    );
    let protected = protect(&values, 2, 2, true, true, THRESHOLD);
    assert_eq!(protected.published(0, 1), None, "the 3 is suppressed");
    assert!(protected.recoverable().is_empty());
    assert!(recoverable_independently(&suppressed_grid(&protected), true, true).is_empty());
    let hidden = (0..3)
        .flat_map(|r| (0..3).map(move |c| (r, c)))
        .filter(|(r, c)| protected.is_suppressed(*r, *c))
        .count();
    assert!(
        hidden >= 4,
        "a complement in its row, its column, and theirs: {hidden}"
    );
}

#[test]
fn a_chain_of_differences_across_rows_and_columns_is_closed() {
    // Rows whose small cells sit in a pattern where a row-only rule is not enough.
    let values = [3, 20, 30, 2, 25, 40, 50, 60, 70];
    let protected = protect(&values, 3, 3, true, true, THRESHOLD);
    assert!(recoverable_independently(&suppressed_grid(&protected), true, true).is_empty());
}

#[test]
fn zeros_known_from_a_line_that_already_adds_up_do_not_open_a_difference() {
    // RM's row adds up without its two zeros, so they are known to be 0;
    // AG's 3 must not rest on them: by differences alone (AG 3 + RM 0 in the
    // first column, AG 6 + RM 0 in the second) it would be hidden, but not
    // once the zeros are known.
    let values = [3, 6, 20, 0, 0, 30];
    let protected = protect(&values, 2, 3, true, true, THRESHOLD);
    let grid = suppressed_grid(&protected);
    let values_grid = extended(&values, 2, 3, true, true);
    let unknown = without_known_zeros(&grid, &values_grid, true, true);
    assert!(recoverable_independently(&unknown, true, true).is_empty());
    assert_eq!(protected.published(0, 0), None, "{grid:?}");
}

#[test]
fn durations_are_published_only_for_rows_of_five_or_more() {
    let mut table = TableBuilder::new(Layout::Durations);
    for hours in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] {
        table.add(Observation::lasting(vec![vec!["AG".to_owned()]], hours));
    }
    for hours in [10.0, 20.0, 30.0, 40.0, 50.0] {
        table.add(Observation::lasting(vec![vec!["PA".to_owned()]], hours));
    }
    for hours in [10.0, 20.0] {
        table.add(Observation::lasting(vec![vec!["RM".to_owned()]], hours));
    }
    let out = table.build(THRESHOLD);
    let ag = &out.rows[0];
    assert_eq!(ag.cells, vec![Some(6)]);
    assert_eq!((ag.median, ag.p90), (Some(3.5), Some(6.0)));
    let [pa, rm] = [&out.rows[1], &out.rows[2]];
    assert_eq!(
        (rm.cells.clone(), rm.median, rm.p90),
        (vec![None], None, None)
    );
    assert_eq!(
        (pa.cells.clone(), pa.median),
        (vec![None], None),
        "13 - 6 - 5 would reveal RM's 2: the smallest other row is hidden too"
    );
    let total = out.total.expect("additive");
    assert_eq!(total.cells, vec![Some(13)]);
}

#[test]
fn a_table_with_multi_valued_groups_publishes_no_total_row() {
    let mut table = TableBuilder::new(Layout::Outcomes(vec!["a".into(), "b".into()]));
    for _ in 0..6 {
        table.add(Observation::counted(
            vec![vec!["GBV".to_owned()], vec!["TRAFFICKING".to_owned()]],
            0,
        ));
    }
    let out = table.build(THRESHOLD);
    assert!(out.total.is_none());
    assert_eq!(out.rows.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn no_published_cell_is_under_five_and_no_suppressed_cell_is_recoverable(
        rows in 1usize..5,
        columns in 1usize..4,
        row_totals in any::<bool>(),
        column_totals in any::<bool>(),
        seed in proptest::collection::vec(0u64..14, 16),
    ) {
        let values: Vec<u64> = (0..rows * columns).map(|i| seed[i % seed.len()]).collect();
        let protected = protect(&values, rows, columns, row_totals, column_totals, THRESHOLD);
        for r in 0..protected.extended_rows() {
            for c in 0..protected.extended_columns() {
                if let Some(v) = protected.published(r, c) {
                    prop_assert!(v >= THRESHOLD, "published {v} at {r},{c}");
                }
            }
        }
        let grid = suppressed_grid(&protected);
        let values_grid = extended(&values, rows, columns, row_totals, column_totals);
        let unknown = without_known_zeros(&grid, &values_grid, row_totals, column_totals);
        prop_assert!(recoverable_independently(&unknown, row_totals, column_totals).is_empty());
        prop_assert!(protected.recoverable().is_empty());
    }
}
