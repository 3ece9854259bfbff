//! Which elements of an elementwise result torch computes with the vectorized form of its
//! kernel (`cpu_kernel_vec`) and which with the scalar form. Where the two forms round
//! differently (SLEEF's `pow` against the C library's, `sigmoid`), that decides the bits.
//!
//! torch's loop runs over inner runs of the iteration: a run whose operands are all
//! contiguous, or all but one contiguous and that one a single broadcast value, goes a block
//! of two vectors at a time (32 float32 or 16 float64 with AVX-512, the kernels torch runs
//! on this kind of CPU) and finishes its last `len % block` elements one by one; any other
//! run is computed one by one. Past 32768 elements torch splits the iteration between its
//! threads, and each thread's part starts its runs afresh (`parallel::torch_split`).

use std::ops::Range;

/// The elements (row-major) taken by the vectorized form.
pub(crate) enum Lanes {
    /// The elements of these ranges (ascending, disjoint).
    Ranges(Vec<Range<usize>>),
    /// One flag per element.
    Flags(Vec<bool>),
}

impl Lanes {
    /// No element vectorized.
    pub fn none() -> Lanes {
        Lanes::Ranges(Vec::new())
    }

    pub fn is_none(&self) -> bool {
        match self {
            Lanes::Ranges(ranges) => ranges.iter().all(|r| r.is_empty()),
            Lanes::Flags(flags) => !flags.contains(&true),
        }
    }

    /// `start..end` cut where the form changes: each piece and whether it is vectorized.
    pub fn segments(&self, start: usize, end: usize) -> Vec<(Range<usize>, bool)> {
        let mut pieces = Vec::new();
        let mut push = |range: Range<usize>, vectorized: bool| {
            if !range.is_empty() {
                pieces.push((range, vectorized));
            }
        };
        match self {
            Lanes::Ranges(ranges) => {
                let mut at = start;
                for r in ranges.iter().filter(|r| r.end > start && r.start < end) {
                    push(at..r.start.max(at), false);
                    at = r.start.max(at);
                    push(at..r.end.min(end), true);
                    at = r.end.min(end);
                }
                push(at..end, false);
            }
            Lanes::Flags(flags) => {
                let mut at = start;
                while at < end {
                    let kind = flags[at];
                    let stop = flags[at..end].iter().position(|&f| f != kind).map_or(end, |k| at + k);
                    push(at..stop, kind);
                    at = stop;
                }
            }
        }
        pieces
    }
}

/// Two vectors of torch's AVX-512 kernels (a power of two).
pub(crate) fn block(float64: bool) -> usize {
    if float64 {
        16
    } else {
        32
    }
}

/// `n` elements that are one run in memory: each thread's part vectorized but its tail.
fn one_run(n: usize, block: usize) -> Lanes {
    let parts = super::parallel::torch_split(n).unwrap_or_else(|| std::iter::once(0..n).collect());
    Lanes::Ranges(parts.into_iter().map(|p| p.start..p.start + (p.len() & !(block - 1))).collect())
}

/// For `n` elements iterated in runs of `run` (the last part of each run going one by one),
/// split between torch's threads as it splits them.
fn by_runs(n: usize, run: usize, block: usize) -> Lanes {
    if run >= n {
        return one_run(n, block);
    }
    let parts: Vec<Range<usize>> =
        super::parallel::torch_split(n).unwrap_or_else(|| std::iter::once(0..n).collect());
    let mut flags = vec![false; n];
    for part in parts {
        let mut i = part.start;
        while i < part.end {
            let end = ((i / run + 1) * run).min(part.end);
            let vectorized = (end - i) & !(block - 1);
            flags[i..i + vectorized].iter_mut().for_each(|f| *f = true);
            i = end;
        }
    }
    Lanes::Flags(flags)
}

/// A unary op's lanes, for an input of this layout (row-major element order).
pub(crate) fn unary(shape: &[usize], strides: &[usize], float64: bool) -> Lanes {
    let block = block(float64);
    let n: usize = shape.iter().product();
    match super::sum_order::vectorized_prefix(shape, strides, block) {
        Some(_) => one_run(n, block),
        None => Lanes::Flags(super::sum_order::vectorized_elements(shape, strides, block)),
    }
}

/// A binary op's lanes over `out_shape`, for operands broadcast to it: each `None` (a number)
/// or the operand's shape and strides; whole blocks of `block` elements are vectorized (two
/// vectors, `block(float64)`, for most kernels; one for `maximum`, whose scalar loop the
/// compiler vectorized too). Modelled where every tensor operand's strides shrink from its
/// outer dims to its inner ones (row-major, or rows of a narrowed tensor: torch then iterates
/// in row-major order too); `None` otherwise.
pub(crate) fn binary(
    out_shape: &[usize],
    operands: [Option<(&[usize], &[usize])>; 2],
    block: usize,
) -> Option<Lanes> {
    let n: usize = out_shape.iter().product();
    // each operand's stride in every dim of the output (0 where it is broadcast)
    let mut expanded: Vec<Vec<usize>> = Vec::new();
    for (shape, strides) in operands.into_iter().flatten() {
        let lead = out_shape.len() - shape.len();
        let stride: Vec<usize> = (0..out_shape.len())
            .map(|d| if d < lead || shape[d - lead] == 1 { 0 } else { strides[d - lead] })
            .collect();
        let moving: Vec<usize> = stride.iter().copied().filter(|&s| s != 0).collect();
        if moving.windows(2).any(|w| w[0] < w[1]) {
            return None;
        }
        expanded.push(stride);
    }
    // the inner run: innermost dims merged while every operand stays one run through them
    let dims: Vec<usize> = (0..out_shape.len()).rev().filter(|&d| out_shape[d] != 1).collect();
    let Some(&inner) = dims.first() else {
        return Some(Lanes::none());
    };
    let mut run = out_shape[inner];
    let mut last = inner;
    for &d in &dims[1..] {
        let merges = expanded.iter().all(|s| s[d] == s[last] * out_shape[last]);
        if !merges {
            break;
        }
        run *= out_shape[d];
        last = d;
    }
    // vectorized when every operand is contiguous along the run, or all but one of them and
    // that one a single value
    let inner_strides: Vec<usize> = expanded.iter().map(|s| s[inner]).collect();
    let broadcast = inner_strides.iter().filter(|&&s| s == 0).count();
    let contiguous = inner_strides.iter().filter(|&&s| s == 1).count();
    let vectorizes = contiguous + broadcast == inner_strides.len() && broadcast <= 1 && contiguous >= 1;
    if !vectorizes {
        return Some(Lanes::none());
    }
    Some(by_runs(n, run, block))
}
