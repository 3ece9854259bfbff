//! The layout torch's CPU reductions walk: `TensorIterator` with the reduced dims innermost,
//! the rest ordered by the input's strides, size-1 dims dropped and neighbours that are one
//! run in memory merged. The order in which a kernel meets the elements, and which kernel
//! torch picks at all, follow from it (`sum_order`, `reduce_loops`). The dim ordering itself
//! (`insertion_reorder`, `operand_order`) also orders an elementwise result's dims
//! (`out_layout`).

/// The dims torch iterates for reducing `shape` (with `strides`, in elements) over the dims
/// where `reduce` is true, innermost first; the output is row-major over the kept dims.
pub(crate) fn reduction_dims(shape: &[usize], strides: &[usize], reduce: &[bool]) -> Vec<Dim> {
    // the output's strides: row-major over the kept dims, 0 along the reduced ones
    let mut out_strides = vec![0usize; shape.len()];
    let mut acc = 1;
    for d in (0..shape.len()).rev() {
        if !reduce[d] {
            out_strides[d] = acc;
            acc *= shape[d];
        }
    }
    // TensorIterator's dims, innermost first; size-1 dims disappear when dims are merged
    let mut dims: Vec<Dim> = (0..shape.len())
        .rev()
        .filter(|&d| shape[d] != 1)
        .map(|d| Dim { size: shape[d], out: out_strides[d], input: strides[d] })
        .collect();
    reorder(&mut dims);
    coalesce(dims)
}

/// `f(in_base, out_base)` for every point of the dims from the third on (dim 2 fastest),
/// and the first two dims (padded with size-1 dims).
pub(crate) fn two_d_loops(dims: &[Dim], offset: usize, mut f: impl FnMut(usize, usize, Dim, Dim)) {
    let one = Dim { size: 1, out: 0, input: 0 };
    let d0 = dims.first().copied().unwrap_or(one);
    let d1 = dims.get(1).copied().unwrap_or(one);
    let outer = dims.get(2..).unwrap_or(&[]);
    let mut index = vec![0usize; outer.len()];
    loop {
        let in_base = offset + outer.iter().zip(&index).map(|(d, &i)| d.input * i).sum::<usize>();
        let out_base = outer.iter().zip(&index).map(|(d, &i)| d.out * i).sum::<usize>();
        f(in_base, out_base, d0, d1);
        let mut k = 0;
        while k < outer.len() {
            index[k] += 1;
            if index[k] < outer[k].size {
                break;
            }
            index[k] = 0;
            k += 1;
        }
        if k == outer.len() {
            return;
        }
    }
}

/// `f(in_base, out_base, d0, d1)` for the 2-D steps in which torch's `serial_for_each` walks
/// the part `range` of the iteration (positions counted with dim 0 fastest), as a thread of a
/// split reduction does: the rest of the first row, then blocks of whole rows up to the end
/// of dim 1, then the start of the last row.
pub(crate) fn two_d_steps(
    dims: &[Dim],
    offset: usize,
    range: std::ops::Range<usize>,
    mut f: impl FnMut(usize, usize, Dim, Dim),
) {
    let one = Dim { size: 1, out: 0, input: 0 };
    if dims.is_empty() {
        if !range.is_empty() {
            f(offset, 0, one, one);
        }
        return;
    }
    let d1 = dims.get(1).copied().unwrap_or(one);
    let mut position = range.start;
    while position < range.end {
        let mut rest = position;
        let (mut in_base, mut out_base) = (offset, 0);
        let mut first = [0usize; 2];
        for (k, d) in dims.iter().enumerate() {
            let v = rest % d.size;
            rest /= d.size;
            in_base += v * d.input;
            out_base += v * d.out;
            if k < 2 {
                first[k] = v;
            }
        }
        let step0 = (dims[0].size - first[0]).min(range.end - position);
        let step1 = if step0 == dims[0].size {
            (d1.size - first[1]).min((range.end - position) / dims[0].size)
        } else {
            1
        };
        f(in_base, out_base, Dim { size: step0, ..dims[0] }, Dim { size: step1, ..d1 });
        position += step0 * step1;
    }
}

/// One dim of the iteration: its size and the output's and input's strides (elements).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dim {
    pub(crate) size: usize,
    pub(crate) out: usize,
    pub(crate) input: usize,
}

/// TensorIterator's `reorder_dimensions` for a reduction: reduced dims (output stride 0) go
/// innermost, then dims by increasing stride (output's, then input's).
fn reorder(dims: &mut [Dim]) {
    insertion_reorder(dims, |a, b| {
        // the output first: reduced dims to the front
        if (a.out == 0) != (b.out == 0) {
            return if b.out == 0 { 1 } else { -1 };
        }
        [(a.out, b.out), (a.input, b.input)]
            .into_iter()
            .find_map(|(s0, s1)| operand_order(s0, s1, a.size, b.size))
            .unwrap_or(0)
    });
}

/// One operand's say in TensorIterator's `reorder_dimensions` on dims `a` (now the faster)
/// and `b` with its strides `s0`, `s1`: 1 to swap them, -1 to keep them, `None` where it
/// cannot tell (a broadcast dim, or equal strides the sizes do not break) and the next
/// operand decides.
pub(crate) fn operand_order(s0: usize, s1: usize, size_a: usize, size_b: usize) -> Option<i32> {
    if s0 == 0 || s1 == 0 {
        None
    } else if s0 != s1 {
        Some(if s0 < s1 { -1 } else { 1 })
    } else {
        (size_a > size_b).then_some(1)
    }
}

/// `reorder_dimensions`' insertion sort over `items` (fastest first): each item moves towards
/// the front past the ones `should_swap(earlier, later)` puts after it (1), stops at one that
/// must stay before it (-1), and steps over undecided pairs (0).
pub(crate) fn insertion_reorder<T>(items: &mut [T], should_swap: impl Fn(&T, &T) -> i32) {
    for i in 1..items.len() {
        let mut later = i;
        for earlier in (0..i).rev() {
            match should_swap(&items[earlier], &items[later]) {
                c if c > 0 => {
                    items.swap(earlier, later);
                    later = earlier;
                }
                c if c < 0 => break,
                _ => {}
            }
        }
    }
}

/// TensorIterator's `coalesce_dimensions`: neighbouring dims that are one run in memory for
/// both output and input become one.
fn coalesce(dims: Vec<Dim>) -> Vec<Dim> {
    let mut out: Vec<Dim> = Vec::with_capacity(dims.len());
    for d in dims {
        if let Some(prev) = out.last_mut() {
            if prev.size * prev.out == d.out && prev.size * prev.input == d.input {
                prev.size *= d.size;
                continue;
            }
        }
        out.push(d);
    }
    out
}
