//! Numeric loops shared by the ops: typed access to a tensor's elements, broadcasting maps,
//! and the switch to both cores for large tensors.

use std::mem::MaybeUninit;

use ndarray::{ArrayViewD, IxDyn, Zip};

use crate::dtype::DType;
use crate::layout::numel;
use crate::storage::Buffer;
use crate::tensor::{gather, Tensor};

/// Tensors at least this large are processed on all cores.
pub(crate) const PARALLEL_MIN: usize = 1 << 16;

/// An element type the kernels work on.
pub(crate) trait Element: Copy + Send + Sync + 'static {
    const DTYPE: DType;
    fn slice(buffer: &Buffer) -> Option<&[Self]>;
    fn wrap(values: Vec<Self>) -> Buffer;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

macro_rules! element {
    ($t:ty, $variant:ident, $dtype:ident, |$v:ident| $from:expr, |$s:ident| $to:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dtype;
            fn slice(buffer: &Buffer) -> Option<&[Self]> {
                match buffer {
                    Buffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(values: Vec<Self>) -> Buffer {
                Buffer::$variant(values)
            }
            fn from_f64($v: f64) -> Self {
                $from
            }
            fn to_f64(self) -> f64 {
                let $s = self;
                $to
            }
        }
    };
}

element!(f32, F32, Float32, |v| v as f32, |s| s as f64);
element!(f64, F64, Float64, |v| v, |s| s);
element!(i64, I64, Int64, |v| crate::storage::float_to_i64(v), |s| s as f64);
element!(bool, Bool, Bool, |v| v != 0.0, |s| s as u8 as f64);

/// Floating-point element types.
pub(crate) trait FloatElement: Element + num_traits::Float + std::iter::Sum + std::fmt::Debug {}
impl FloatElement for f32 {}
impl FloatElement for f64 {}

/// Converts a buffer to another dtype.
pub(crate) fn cast(buffer: Buffer, dtype: DType) -> Buffer {
    if buffer.dtype() == dtype {
        return buffer;
    }
    match (&buffer, dtype) {
        (Buffer::F32(v), DType::Float64) => Buffer::F64(v.iter().map(|&x| x as f64).collect()),
        (Buffer::F64(v), DType::Float32) => Buffer::F32(v.iter().map(|&x| x as f32).collect()),
        (Buffer::I64(v), DType::Float32) => Buffer::F32(v.iter().map(|&x| x as f32).collect()),
        (Buffer::I64(v), DType::Float64) => Buffer::F64(v.iter().map(|&x| x as f64).collect()),
        (Buffer::Bool(v), DType::Int64) => Buffer::I64(v.iter().map(|&x| x as i64).collect()),
        (Buffer::I64(v), DType::Bool) => Buffer::Bool(v.iter().map(|&x| x != 0).collect()),
        _ => Buffer::from_f64((0..buffer.len()).map(|i| buffer.get_f64(i)), dtype),
    }
}

/// Calls `f` with the tensor's elements as a row-major slice of `T`, borrowing the storage
/// when it already is contiguous `T`, converting otherwise.
pub(crate) fn with_slice<T: Element, R>(t: &Tensor, f: impl FnOnce(&[T]) -> R) -> R {
    t.with_data(|d| {
        let buffer = d.storage.read();
        if d.layout.numel() == 0 {
            return f(&[]);
        }
        if d.layout.is_contiguous() {
            if let Some(all) = T::slice(&buffer) {
                return f(&all[d.layout.span()]);
            }
        }
        let converted = cast(gather(&buffer, &d.layout), T::DTYPE);
        drop(buffer);
        f(T::slice(&converted).expect("cast gives the requested dtype"))
    })
}

/// Row-major elements converted to `T`, as an owned vector.
pub(crate) fn to_vec<T: Element>(t: &Tensor) -> Vec<T> {
    with_slice(t, |s: &[T]| s.to_vec())
}

/// `$run(args)` (generic over the parameters after `for`) through a copy compiled for the
/// vector instructions the CPU has (AVX-512 or AVX2, with fused multiply-adds), as
/// `transcendental::widest_build!` does for its slice loops: the elementwise closures of
/// the kernels (`map`, `zip_map`) then run 8 or 16 lanes at a time instead of SSE2's 4, and
/// their explicit `mul_add`s (`tanh`'s backward) are instructions instead of calls to the C
/// library's `fma`. Rust fuses nothing on its own, so every build gives the same bits.
macro_rules! wide_build {
    ($run:ident($($arg:ident: $ty:ty),*) for [$($g:tt)*]) => {{
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
            unsafe fn avx512<$($g)*>($($arg: $ty),*) {
                $run($($arg),*)
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<$($g)*>($($arg: $ty),*) {
                $run($($arg),*)
            }
            if has!("avx512f") && has!("avx512dq") && has!("avx512vl") && has!("avx2") && has!("fma") {
                // SAFETY: the CPU has the instructions this build was compiled for
                return unsafe { avx512($($arg),*) };
            }
            if has!("avx2") && has!("fma") {
                // SAFETY: as above
                return unsafe { avx2($($arg),*) };
            }
        }
        $run($($arg),*)
    }};
}
pub(crate) use wide_build;

/// Elementwise map, in parallel for large inputs: a plain loop per part, which vectorises
/// (rayon's `par_iter().map().collect()` wrote one element at a time: `x * 1.0` on 1M float32
/// took as long as `exp`).
pub(crate) fn map<T: Element, U: Element>(input: &[T], f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
    // SAFETY: `map_part` writes every slot of `out` (`input` has `n` elements from `start`)
    unsafe { build_parts(input.len(), |start, out| map_part(&f, &input[start..start + out.len()], out)) }
}

/// `out[i] = f(input[i])`. A function of its own so that `f` and `out` arrive as references
/// the compiler knows do not overlap: inlined into `map`'s closure, the loop reloaded what
/// `f` captured (the scalar of `x * 1.0`) after every store and did not vectorise.
fn map_part<T: Copy, U, F: Fn(T) -> U>(f: &F, input: &[T], out: &mut [MaybeUninit<U>]) {
    #[inline(always)]
    fn run<T: Copy, U, F: Fn(T) -> U>(f: &F, input: &[T], out: &mut [MaybeUninit<U>]) {
        for (o, &x) in out.iter_mut().zip(input) {
            o.write(f(x));
        }
    }
    wide_build!(run(f: &F, input: &[T], out: &mut [MaybeUninit<U>]) for [T: Copy, U, F: Fn(T) -> U])
}

/// `out[i] = f(a[i], b[i])`, a function of its own for the reason given at `map_part`.
fn zip_part<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(f: &F, a: &[A], b: &[B], out: &mut [MaybeUninit<U>]) {
    #[inline(always)]
    fn run<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(f: &F, a: &[A], b: &[B], out: &mut [MaybeUninit<U>]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    }
    wide_build!(run(f: &F, a: &[A], b: &[B], out: &mut [MaybeUninit<U>]) for [A: Copy, B: Copy, U, F: Fn(A, B) -> U])
}

/// Runs `f` compiled for the CPU's fused multiply-add instructions when it has them:
/// softmax's kernels use `mul_add` (one rounding, as torch's fused kernels), which without
/// the instructions is a call into the C library's `fma` for each. Same bits either way.
/// `f` profits when what it calls is inlined into it (`#[inline(always)]`).
#[inline(always)]
pub(crate) fn with_fma<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the instructions `fma_enabled` may use
        return unsafe { fma_enabled(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn fma_enabled<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Elements per part when a large op is shared out between the cores.
pub(crate) const PARALLEL_CHUNK: usize = 1 << 14;

/// `PARALLEL_MIN` and `PARALLEL_CHUNK` for maps that cost a few nanoseconds per element (the
/// slice functions of `transcendental.rs`). Measured with `examples/parallel_threshold.rs` on
/// a 2-core machine (us per op, one thread / both): `exp` on 16K float32 5.75 / 4.4-4.5, 32K
/// 11.2 / 6.3-6.6, 64K 20.6 / 12.4 in parts of 4K (15.5 in parts of 16K); while `x + y` and
/// `x * 2` lost in parts of 4K at every size (x * 2 on 64K: 2.5 in parts of 16K, 3.4 in parts
/// of 4K) and below 64K elements, hence the two settings.
const COSTLY_PARALLEL_MIN: usize = 1 << 14;
const COSTLY_CHUNK: usize = 1 << 12;

/// Parts per thread for a map through MKL's VML (`super::mkl_vml`), whose calls cost about
/// half a microsecond each (an `exp` of 4 float32: 0.69 us with MKL, 0.22 without): 1M
/// float32 in parts of 4K made 256 calls. Measured on 2 cores (`cargo bench -p autograd-core
/// --bench side_by_side -- exp tanh`, the builds in turns, six runs each, best of 5 per run,
/// medians): parts of 4K exp 0.21 ms, tanh 0.255; 8 parts 0.183, 0.222; 16 parts 0.176,
/// 0.225; 32 parts 0.177, 0.238. MKL's bits do not depend on where a call starts or ends.
const VML_PARTS_PER_THREAD: usize = 8;

/// Elementwise map done a slice at a time, `f(input, out)` (in parallel for large inputs, a
/// part per task): for the functions in `transcendental.rs`, whose slice forms run the
/// whole loop in a copy compiled for the CPU's vector instructions, and write every element
/// of `out`; with MKL's VML (see `VML_PARTS_PER_THREAD`), fewer and larger parts.
pub(crate) fn map_slices<T: Element, U: Element>(
    input: &[T],
    f: impl Fn(&[T], &mut [MaybeUninit<U>]) + Sync + Send,
) -> Vec<U> {
    let n = input.len();
    let chunk = match super::mkl_vml::vml() {
        Some(_) => COSTLY_CHUNK.max(n.div_ceil(VML_PARTS_PER_THREAD * super::parallel::torch_threads())),
        None => COSTLY_CHUNK,
    };
    // SAFETY: `f` writes all of `out` (the slice functions' contract)
    unsafe {
        build_parts_from(n, COSTLY_PARALLEL_MIN, chunk, |start, out| f(&input[start..start + out.len()], out))
    }
}

/// `map_slices` with a flag per element passed along (`f(input, flags, out)`).
pub(crate) fn map_slices_flagged<T: Element, U: Element>(
    input: &[T],
    flags: &[bool],
    f: impl Fn(&[T], &[bool], &mut [MaybeUninit<U>]) + Sync + Send,
) -> Vec<U> {
    // SAFETY: as in `map_slices`
    unsafe {
        build_costly_parts(input.len(), |start, out| {
            let end = start + out.len();
            f(&input[start..end], &flags[start..end], out)
        })
    }
}

/// A vector of `n` elements made a part at a time by `fill(start, part)` (in parallel for
/// large `n`, a part per task). The parts are not zeroed first: that was a sixth of `exp`'s
/// time on 1M elements when one thread zeroed the whole vector, and still an eighth when
/// each task zeroed its own part.
///
/// # Safety
/// `fill` must write every element of the part it is given.
pub(crate) unsafe fn build_parts<U: Element>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<U>]) + Sync + Send,
) -> Vec<U> {
    // SAFETY: the caller's promise
    unsafe { build_parts_from(n, PARALLEL_MIN, PARALLEL_CHUNK, fill) }
}

/// `build_parts` for a `fill` that costs a few nanoseconds per element (the slice functions
/// of `transcendental.rs`): shared out from smaller sizes, in smaller parts.
///
/// # Safety
/// As `build_parts`.
pub(crate) unsafe fn build_costly_parts<U: Element>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<U>]) + Sync + Send,
) -> Vec<U> {
    // SAFETY: the caller's promise
    unsafe { build_parts_from(n, COSTLY_PARALLEL_MIN, COSTLY_CHUNK, fill) }
}

/// # Safety
/// As `build_parts`.
unsafe fn build_parts_from<U: Element>(
    n: usize,
    parallel_min: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<U>]) + Sync + Send,
) -> Vec<U> {
    let mut out: Vec<U> = Vec::with_capacity(n);
    let parts = &mut out.spare_capacity_mut()[..n];
    if n >= parallel_min {
        super::parallel::for_each_part(parts, chunk, fill);
    } else {
        fill(0, parts);
    }
    // SAFETY: `fill` wrote all `n` elements (the caller's promise; a panic in `fill`
    // leaves the length 0)
    unsafe { out.set_len(n) };
    out
}

/// `part` with `value` written into every slot, as the initialized slice it now is.
pub(crate) fn filled<T: Copy>(part: &mut [MaybeUninit<T>], value: T) -> &mut [T] {
    for slot in part.iter_mut() {
        slot.write(value);
    }
    // SAFETY: every element of `part` was written just above
    unsafe { &mut *(part as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// `out` as slots to write into, for the slice functions of `transcendental.rs` when the
/// caller's buffer is already initialized.
///
/// # Safety
/// Whoever writes through the result must write initialized values only (the slice
/// functions do).
pub(crate) unsafe fn as_slots<T>(out: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout; the caller keeps the values initialized
    unsafe { &mut *(out as *mut [T] as *mut [MaybeUninit<T>]) }
}

/// Elementwise binary map with NumPy broadcasting; `out_shape` is the broadcast shape.
/// True when an operand of `shape`, broadcast to `out_shape`, is the same block of trailing
/// dims repeated: its shape (right-aligned) is all 1 over some leading dims and equal to
/// `out_shape` over the rest, with at least one element.
fn repeats_as_rows(shape: &[usize], out_shape: &[usize]) -> bool {
    if shape.len() > out_shape.len() || numel(shape) == 0 {
        return false;
    }
    // dims of `shape` matching the output's, counted from the end
    let same = shape.iter().rev().zip(out_shape.iter().rev()).take_while(|(s, o)| s == o).count();
    shape[..shape.len() - same].iter().all(|&s| s == 1)
}

/// `f(full[i], row[i % row.len()])` for every element of `full` (`n` of them), row by row.
fn map_rows<A: Element, B: Element, U: Element>(
    full: &[A],
    row: &[B],
    n: usize,
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U> {
    let m = row.len();
    let mut out: Vec<U> = Vec::with_capacity(n);
    let fill = |(dst, src): (&mut [std::mem::MaybeUninit<U>], &[A])| {
        for ((d, &x), &y) in dst.iter_mut().zip(src).zip(row) {
            d.write(f(x, y));
        }
    };
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PARALLEL_MIN {
        // whole rows per task (a row of one element would make a task per element)
        let rows_per_task = (PARALLEL_MIN / 4 / m).max(1);
        super::parallel::for_each_part(spare, m * rows_per_task, |start, dst| {
            let src = &full[start..start + dst.len()];
            dst.chunks_mut(m).zip(src.chunks(m)).for_each(&fill);
        });
    } else {
        spare.chunks_mut(m).zip(full.chunks(m)).for_each(fill);
    }
    // SAFETY: every one of the first n slots was written above (full has n elements, cut in
    // rows of m, each row of `dst` written element by element)
    unsafe { out.set_len(n) };
    out
}

/// `f` of `a` and `b` broadcast to `out_shape`, row-major. Inlined where it is called: the
/// usual cases (same length, or one side a single value) are a few compares away from their
/// loop, which matters for the tiny tensors of a small graph; broadcasting proper is
/// `zip_map_broadcast`.
#[inline]
pub(crate) fn zip_map<A: Element, B: Element, U: Element>(
    a: &[A],
    a_shape: &[usize],
    b: &[B],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U> {
    let n = numel(out_shape);
    if a.len() == n && b.len() == n {
        // SAFETY: `zip_part` writes every slot of `out` (both operands have `n` elements)
        return unsafe {
            build_parts(n, |start, out| {
                let end = start + out.len();
                zip_part(&f, &a[start..end], &b[start..end], out)
            })
        };
    }
    if a.len() == 1 && b.len() == 1 {
        // two single values broadcast (an expanded gradient times a scalar): one value
        // repeated, instead of ndarray's general broadcasting walk
        let value = f(a[0], b[0]);
        // SAFETY: `filled` writes every slot of the part
        return unsafe {
            build_parts(n, |_, out| {
                filled(out, value);
            })
        };
    }
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map(a, move |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map(b, move |y| f(x, y));
    }
    zip_map_broadcast(a, a_shape, b, b_shape, out_shape, n, f)
}

/// `zip_map` when neither operand is full-size nor a single value: a row repeated over the
/// leading dims, or ndarray's general broadcasting walk. Kept out of line, so that `zip_map`
/// stays small where it is inlined; `n` is `zip_map`'s element count of `out_shape`.
#[inline(never)]
fn zip_map_broadcast<A: Element, B: Element, U: Element>(
    a: &[A],
    a_shape: &[usize],
    b: &[B],
    b_shape: &[usize],
    out_shape: &[usize],
    n: usize,
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U> {
    let parallel = n >= PARALLEL_MIN;
    // a row (or any block of trailing dims) repeated over the leading dims of the other
    // operand, `m + row`: a plain loop per row, which vectorises (ndarray's general
    // broadcasting walk made this case three times slower than PyTorch)
    if a.len() == n && repeats_as_rows(b_shape, out_shape) {
        return map_rows(a, b, n, &f);
    }
    if b.len() == n && repeats_as_rows(a_shape, out_shape) {
        return map_rows(b, a, n, |y, x| f(x, y));
    }
    let av = ArrayViewD::from_shape(IxDyn(a_shape), a).expect("shape matches data");
    let bv = ArrayViewD::from_shape(IxDyn(b_shape), b).expect("shape matches data");
    let av = av.broadcast(IxDyn(out_shape)).expect("shapes were checked to broadcast");
    let bv = bv.broadcast(IxDyn(out_shape)).expect("shapes were checked to broadcast");
    let zip = Zip::from(&av).and(&bv);
    let out =
        if parallel { zip.par_map_collect(|&x, &y| f(x, y)) } else { zip.map_collect(|&x, &y| f(x, y)) };
    // Zip lays its result out in the order it prefers for its inputs (column-major for an
    // input like a [2, 1] column expanded to [2, 3]); the caller wants row-major
    if out.is_standard_layout() {
        out.into_raw_vec_and_offset().0
    } else {
        out.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: each output element from its broadcast index into both operands.
    fn by_index(a: &[f64], a_shape: &[usize], b: &[f64], b_shape: &[usize], out_shape: &[usize]) -> Vec<f64> {
        let rank = out_shape.len();
        let at = |values: &[f64], shape: &[usize], index: &[usize]| {
            let lead = rank - shape.len();
            let mut pos = 0;
            for (d, &size) in shape.iter().enumerate() {
                pos = pos * size + if size == 1 { 0 } else { index[lead + d] };
            }
            values[pos]
        };
        let mut out = Vec::new();
        let mut index = vec![0; rank];
        for _ in 0..numel(out_shape) {
            out.push(at(a, a_shape, &index) * 10.0 + at(b, b_shape, &index));
            for d in (0..rank).rev() {
                index[d] += 1;
                if index[d] < out_shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        out
    }

    #[test]
    fn rows_repeated_over_leading_dims_match_general_broadcasting() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[3, 4], &[4]),
            (&[3, 4], &[1, 4]),
            (&[2, 3, 4], &[3, 4]),
            (&[2, 3, 4], &[1, 1, 4]),
            (&[2, 3, 4], &[4]),
            (&[5, 1], &[1]),
            (&[3, 4], &[3, 1]), // a column: not rows, the general path
            (&[2, 3, 4], &[2, 1, 4]),
            (&[300, 700], &[700]), // large: the parallel path
            (&[70_000, 2], &[2]),
        ];
        check_against_by_index(cases);
    }

    /// `zip_map` of a `full` operand and a `part` broadcast to it, either way round, against
    /// `by_index`.
    fn check_against_by_index(cases: &[(&[usize], &[usize])]) {
        for &(full_shape, part_shape) in cases {
            let full: Vec<f64> = (0..numel(full_shape)).map(|i| i as f64).collect();
            let part: Vec<f64> = (0..numel(part_shape)).map(|i| (i % 10) as f64 * 0.5 + 0.25).collect();
            let f = |x: f64, y: f64| x * 10.0 + y;
            let expected = by_index(&full, full_shape, &part, part_shape, full_shape);
            assert_eq!(
                zip_map(&full, full_shape, &part, part_shape, full_shape, f),
                expected,
                "{full_shape:?} op {part_shape:?}"
            );
            // the part on the left: f(part, full)
            let flipped = zip_map(&part, part_shape, &full, full_shape, full_shape, |y: f64, x: f64| f(x, y));
            assert_eq!(flipped, expected, "{part_shape:?} op {full_shape:?}");
        }
    }

    #[test]
    fn same_shape_and_scalar_operands_fill_every_element() {
        // the part loops of `map` and of the same-shape zip, one task and many (the tail
        // part shorter than the others)
        let cases: &[(&[usize], &[usize])] = &[
            (&[3, 4], &[3, 4]),
            (&[3, 4], &[1]),
            (&[70_001], &[70_001]),
            (&[70_001], &[1]),
            (&[300, 700], &[1, 1]),
        ];
        check_against_by_index(cases);
        // both single values (an expanded gradient times a scalar), broadcast to a shape
        let (a, b) = ([2.0], [3.5]);
        let expected = by_index(&a, &[1, 1], &b, &[1], &[400, 300]);
        assert_eq!(zip_map(&a, &[1, 1], &b, &[1], &[400, 300], |x: f64, y: f64| x * 10.0 + y), expected);
        let x: Vec<f32> = (0..70_001).map(|i| i as f32).collect();
        assert_eq!(map(&x, |v| v * 2.0), x.iter().map(|v| v * 2.0).collect::<Vec<f32>>());
    }
}
