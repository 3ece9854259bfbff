//! A small layered ("Sugiyama-style") layout: every box gets a level (the longest path from
//! the top, so edges always point down), the boxes of a level are ordered to reduce crossings
//! (barycentre sweeps), then placed left to right under the boxes that lead to them.
//! Satellite boxes (saved tensors) sit right of their owner on its level. Pure arithmetic on
//! the input order, so the same graph always gets the same coordinates.

/// A box to place: its size and, for satellites, the box it belongs to.
pub struct LayoutBox {
    pub width: f64,
    pub height: f64,
    pub owner: Option<usize>,
}

pub struct Layout {
    /// Top-left corner of each box.
    pub positions: Vec<(f64, f64)>,
    pub width: f64,
    pub height: f64,
}

const H_GAP: f64 = 18.0;
const V_GAP: f64 = 46.0;
const SATELLITE_GAP: f64 = 10.0;
const SWEEPS: usize = 4;

/// The level of every node: the length of the longest path to it from a node nothing points
/// to (Kahn's order), so every edge goes from a lower level to a higher one.
pub fn levels(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in edges {
        children[a].push(b);
        indegree[b] += 1;
    }
    let mut level = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(v) = ready.pop() {
        for &c in &children[v] {
            level[c] = level[c].max(level[v] + 1);
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(c);
            }
        }
    }
    level
}

/// Lays out `boxes` with `edges` (from, to); `flip` puts the last level on top (the forward
/// view, where data flows from the leaves down to the output).
pub fn layout(boxes: &[LayoutBox], edges: &[(usize, usize)], margin: f64, flip: bool) -> Layout {
    let n = boxes.len();
    let main: Vec<usize> = (0..n).filter(|&i| boxes[i].owner.is_none()).collect();
    // satellites take no part in levels or ordering
    let main_edges: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(a, b)| boxes[a].owner.is_none() && boxes[b].owner.is_none() && a != b)
        .collect();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &main_edges {
        children[a].push(b);
        parents[b].push(a);
    }
    let level = levels(n, &main_edges);
    let levels = main.iter().map(|&i| level[i]).max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); levels];
    for &i in &main {
        rows[level[i]].push(i);
    }
    // crossing reduction: order each level by the mean position of its neighbours above,
    // then below; ties keep the previous order (sort is stable)
    let mut pos = vec![0.0f64; n];
    let renumber = |rows: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for row in rows {
            for (k, &i) in row.iter().enumerate() {
                pos[i] = k as f64;
            }
        }
    };
    renumber(&rows, &mut pos);
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let order: Vec<usize> =
            if down { (1..levels).collect() } else { (0..levels.saturating_sub(1)).rev().collect() };
        for r in order {
            let neighbours = if down { &parents } else { &children };
            let mut keyed: Vec<(f64, usize)> = rows[r]
                .iter()
                .map(|&i| {
                    let ns = &neighbours[i];
                    let key = if ns.is_empty() {
                        pos[i]
                    } else {
                        ns.iter().map(|&j| pos[j]).sum::<f64>() / ns.len() as f64
                    };
                    (key, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            rows[r] = keyed.into_iter().map(|(_, i)| i).collect();
            for (k, &i) in rows[r].iter().enumerate() {
                pos[i] = k as f64;
            }
        }
    }
    // satellites ride along with their owner
    let mut satellites: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, b) in boxes.iter().enumerate() {
        if let Some(o) = b.owner {
            satellites[o].push(i);
        }
    }
    let block_width = |i: usize| {
        boxes[i].width + satellites[i].iter().map(|&s| SATELLITE_GAP + boxes[s].width).sum::<f64>()
    };
    // x: each box as close as it can get under the centre of the boxes that lead to it
    let mut centre = vec![0.0f64; n];
    let mut left = vec![0.0f64; n];
    for row in &rows {
        let mut next_free = f64::NEG_INFINITY;
        for &i in row {
            let wanted = if parents[i].is_empty() {
                next_free.max(0.0)
            } else {
                parents[i].iter().map(|&p| centre[p]).sum::<f64>() / parents[i].len() as f64
                    - boxes[i].width / 2.0
            };
            let x = if next_free.is_finite() { wanted.max(next_free) } else { wanted };
            left[i] = x;
            centre[i] = x + boxes[i].width / 2.0;
            next_free = x + block_width(i) + H_GAP;
        }
    }
    // y: levels stacked, each as tall as its tallest box
    let heights: Vec<f64> = rows
        .iter()
        .map(|row| {
            row.iter()
                .flat_map(|&i| std::iter::once(i).chain(satellites[i].iter().copied()))
                .map(|i| boxes[i].height)
                .fold(0.0, f64::max)
        })
        .collect();
    let mut tops = vec![0.0f64; levels];
    let mut y = margin;
    let level_order: Vec<usize> = if flip { (0..levels).rev().collect() } else { (0..levels).collect() };
    for &r in &level_order {
        tops[r] = y;
        y += heights[r] + V_GAP;
    }
    let mut positions = vec![(0.0, 0.0); n];
    for (r, row) in rows.iter().enumerate() {
        for &i in row {
            let top = tops[r] + (heights[r] - boxes[i].height) / 2.0;
            positions[i] = (left[i], top);
            let mut x = left[i] + boxes[i].width + SATELLITE_GAP;
            for &s in &satellites[i] {
                positions[s] = (x, tops[r] + (heights[r] - boxes[s].height) / 2.0);
                x += boxes[s].width + SATELLITE_GAP;
            }
        }
    }
    // shift everything right of the margin and measure
    let min_x = positions.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let shift = if min_x.is_finite() { margin - min_x } else { margin };
    for p in positions.iter_mut() {
        p.0 += shift;
    }
    let width = (0..n).map(|i| positions[i].0 + boxes[i].width).fold(0.0, f64::max) + margin;
    let height = if levels == 0 { 2.0 * margin } else { y - V_GAP + margin };
    Layout { positions, width, height }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(w: f64) -> LayoutBox {
        LayoutBox { width: w, height: 20.0, owner: None }
    }

    #[test]
    fn edges_point_down_and_boxes_do_not_overlap() {
        // a diamond with a long edge: 0 -> 1 -> 3, 0 -> 2 -> 3, 0 -> 3
        let boxes = vec![b(40.0), b(60.0), b(60.0), b(40.0)];
        let edges = vec![(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)];
        let l = layout(&boxes, &edges, 10.0, false);
        for &(a, c) in &edges {
            assert!(l.positions[a].1 < l.positions[c].1, "{a} above {c}");
        }
        let (p1, p2) = (l.positions[1], l.positions[2]);
        assert!((p1.1 - p2.1).abs() < 1e-9 && (p1.0 + 60.0 <= p2.0 || p2.0 + 60.0 <= p1.0));
        let flipped = layout(&boxes, &edges, 10.0, true);
        assert!(flipped.positions[0].1 > flipped.positions[3].1);
    }

    #[test]
    fn satellites_sit_beside_their_owner() {
        let boxes = vec![b(40.0), LayoutBox { width: 30.0, height: 20.0, owner: Some(0) }];
        let l = layout(&boxes, &[], 10.0, false);
        assert_eq!(l.positions[0].1, l.positions[1].1);
        assert!(l.positions[1].0 >= l.positions[0].0 + 40.0);
    }
}
