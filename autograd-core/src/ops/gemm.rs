//! Matrix products that add their terms in the order torch 2.15's CPU `mm` does (oneMKL's
//! sgemm/dgemm on an AVX-512 machine, measured in `tools/gemm_order/`), so that every
//! element has torch's bits, not only its value to a few ulps.
//!
//! * [`blocked`]: the general kernel. The shared dimension is cut into blocks (the cuts are
//!   chosen in [`super::gemm_order`]); per block every element is a fused multiply-add chain
//!   from +0 in increasing k, and the blocks' sums are added to the element in turn. It runs
//!   as a packed, register-tiled product (12 x 32 tiles of float32, 12 x 16 of float64 with
//!   AVX-512), rows or columns split across threads; tiling and threads change no bit.
//! * [`by_element`]: the other kernels MKL picks for thin products (a 16- or 8-lane dot, the
//!   strided lanes of a small batch times a transposed weight, the gemv trees), one element
//!   at a time from a [`Tree`].

use std::mem::MaybeUninit;

use ndarray::ArrayView2;
use num_traits::Float;

use super::kernel::FloatElement;

/// A read-only strided matrix: element (i, j) at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<T> {
    ptr: *const T,
    pub rows: usize,
    pub cols: usize,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: a `Mat` is only made from a borrowed view that outlives every use of it (the
// products below return before the view's borrow ends); it is only read.
unsafe impl<T: Sync> Send for Mat<T> {}
unsafe impl<T: Sync> Sync for Mat<T> {}

impl<T: Copy> Mat<T> {
    pub(crate) fn of(view: &ArrayView2<'_, T>) -> Mat<T> {
        let s = view.strides();
        Mat { ptr: view.as_ptr(), rows: view.nrows(), cols: view.ncols(), rs: s[0], cs: s[1] }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> T {
        debug_assert!(i < self.rows && j < self.cols);
        // SAFETY: (i, j) lies inside the view `of` was given
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    /// Whether every row holds the values of the first (a gradient of `mean()`, one value
    /// everywhere, is materialised as torch's is): `==`, so a NaN never repeats, and a `-0.`
    /// may stand for `0.` (every sum starts from `+0.`, so their products add up alike).
    /// Stops at the first difference: one comparison for most matrices.
    fn rows_repeat(&self) -> bool
    where
        T: PartialEq,
    {
        (1..self.rows).all(|i| (0..self.cols).all(|j| self.at(i, j) == self.at(0, j)))
    }

    /// Whether every column holds the values of the first (see `rows_repeat`).
    fn cols_repeat(&self) -> bool
    where
        T: PartialEq,
    {
        (0..self.rows).all(|i| (1..self.cols).all(|j| self.at(i, j) == self.at(i, 0)))
    }

    /// Row `i` as a slice.
    ///
    /// # Safety
    /// The columns must be one after another (`cs == 1`).
    unsafe fn row_slice<'a>(&self, i: usize) -> &'a [T] {
        debug_assert!(self.cs == 1 && i < self.rows);
        // SAFETY: the row's `cols` elements lie in the view `of` was given, one after another
        unsafe { std::slice::from_raw_parts(self.ptr.offset(i as isize * self.rs), self.cols) }
    }

    /// Column `j` as a slice.
    ///
    /// # Safety
    /// The rows must be one after another (`rs == 1`).
    unsafe fn column_slice<'a>(&self, j: usize) -> &'a [T] {
        debug_assert!(self.rs == 1 && j < self.cols);
        // SAFETY: as for `row_slice`
        unsafe { std::slice::from_raw_parts(self.ptr.offset(j as isize * self.cs), self.rows) }
    }

    /// Rows `start..end` as a matrix of their own.
    pub(crate) fn rows_between(&self, start: usize, end: usize) -> Mat<T> {
        // SAFETY: start <= rows, so the pointer stays inside (or one past) the view
        let ptr = unsafe { self.ptr.offset(start as isize * self.rs) };
        Mat { ptr, rows: end - start, ..*self }
    }

    /// The transposed matrix (the same elements).
    pub(crate) fn transposed(&self) -> Mat<T> {
        Mat { ptr: self.ptr, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// Columns `start..end` as a matrix of their own.
    pub(crate) fn cols_between(&self, start: usize, end: usize) -> Mat<T> {
        // SAFETY: as in `rows_between`
        let ptr = unsafe { self.ptr.offset(start as isize * self.cs) };
        Mat { ptr, cols: end - start, ..*self }
    }
}

/// The row-major output, `rows x cols` with `ld` elements from one row to the next.
#[derive(Clone, Copy)]
struct Out<T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    ld: usize,
}

// SAFETY: the parts of one product write disjoint rows or columns of the output.
unsafe impl<T: Send> Send for Out<T> {}
unsafe impl<T: Send> Sync for Out<T> {}

impl<T> Out<T> {
    fn rows_between(&self, start: usize, end: usize) -> Out<T> {
        // SAFETY: start <= rows
        Out { ptr: unsafe { self.ptr.add(start * self.ld) }, rows: end - start, ..*self }
    }

    fn cols_between(&self, start: usize, end: usize) -> Out<T> {
        // SAFETY: start <= cols
        Out { ptr: unsafe { self.ptr.add(start) }, cols: end - start, ..*self }
    }
}

/// The floating-point types with a register-tiled kernel.
pub(crate) trait GemmFloat: FloatElement {
    /// The tile kernel this machine runs for the type.
    fn tile_kernel() -> TileKernel<Self>;
}

/// One register tile: `rows x cols` (at most `mr x nr`) elements of the output get the sums of
/// a `kb`-long block from packed panels (`mr` values of A, then `nr` of B, per k).
#[derive(Clone, Copy)]
pub(crate) struct TileKernel<T> {
    mr: usize,
    nr: usize,
    run: unsafe fn(
        kb: usize,
        a: *const T,
        b: *const T,
        c: *mut T,
        ldc: usize,
        rows: usize,
        cols: usize,
        first: bool,
    ),
}

/// `acc = fma(a[r], b[j], acc)` over the block for every (r, j) of an `MR x NR` tile, from +0;
/// then the tile's valid part is written (`first`) or added to the output. The accumulators
/// must stay in registers: LLVM's code for this loop is fragile (passing the arguments as one
/// struct put them on the stack every step, 3x slower), so after a change check the loop in
/// `objdump -d` (AVX-512 float32: 24 `vfmadd231ps` on zmm, no stores) and its speed.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<T: Float, const MR: usize, const NR: usize>(
    kb: usize,
    a: *const T,
    b: *const T,
    c: *mut T,
    ldc: usize,
    rows: usize,
    cols: usize,
    first: bool,
) {
    let mut acc = [[T::zero(); NR]; MR];
    for k in 0..kb {
        // SAFETY: the packed panels hold kb steps of MR and NR values
        let bv: [T; NR] = unsafe { std::ptr::read_unaligned(b.add(k * NR) as *const [T; NR]) };
        let av: [T; MR] = unsafe { std::ptr::read_unaligned(a.add(k * MR) as *const [T; MR]) };
        #[cfg(target_arch = "x86_64")]
        {
            // the lines of b's panel a few steps ahead
            let ahead = b.wrapping_add((k + PF) * NR) as *const i8;
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ahead);
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ahead.wrapping_add(64));
            }
        }
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] = av[r].mul_add(bv[j], acc[r][j]);
            }
        }
    }
    if rows == MR && cols == NR {
        // a whole tile: straight from the registers
        for (r, row) in acc.iter().enumerate() {
            // SAFETY: as below, with every row and column of the tile inside the output
            let out = unsafe { c.add(r * ldc) as *mut [T; NR] };
            if first {
                unsafe { out.write_unaligned(*row) };
            } else {
                let mut sum = unsafe { out.read_unaligned() };
                for j in 0..NR {
                    sum[j] = sum[j] + row[j];
                }
                unsafe { out.write_unaligned(sum) };
            }
        }
        return;
    }
    // SAFETY (below): the caller's output has `rows x cols` elements here, `ldc` apart by row
    for (r, row) in acc.iter().enumerate().take(rows) {
        if first {
            // SAFETY: (the same elements, not read)
            unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), c.add(r * ldc), cols) };
        } else {
            // SAFETY: written by the first block
            let out = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), cols) };
            for (o, &v) in out.iter_mut().zip(row) {
                *o = *o + v;
            }
        }
    }
}

macro_rules! tile_kernels {
    ($t:ty, $avx512:ident, $avx2:ident, $plain:ident, [$mr512:literal, $nr512:literal], [$mr2:literal, $nr2:literal], [$mr:literal, $nr:literal]) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx512(
            kb: usize,
            a: *const $t,
            b: *const $t,
            c: *mut $t,
            ldc: usize,
            rows: usize,
            cols: usize,
            first: bool,
        ) {
            unsafe { tile::<$t, $mr512, $nr512>(kb, a, b, c, ldc, rows, cols, first) }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx2(
            kb: usize,
            a: *const $t,
            b: *const $t,
            c: *mut $t,
            ldc: usize,
            rows: usize,
            cols: usize,
            first: bool,
        ) {
            unsafe { tile::<$t, $mr2, $nr2>(kb, a, b, c, ldc, rows, cols, first) }
        }

        #[allow(clippy::too_many_arguments)]
        unsafe fn $plain(
            kb: usize,
            a: *const $t,
            b: *const $t,
            c: *mut $t,
            ldc: usize,
            rows: usize,
            cols: usize,
            first: bool,
        ) {
            unsafe { tile::<$t, $mr, $nr>(kb, a, b, c, ldc, rows, cols, first) }
        }

        impl GemmFloat for $t {
            fn tile_kernel() -> TileKernel<$t> {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        return TileKernel { mr: $mr512, nr: $nr512, run: $avx512 };
                    }
                    if std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                    {
                        return TileKernel { mr: $mr2, nr: $nr2, run: $avx2 };
                    }
                }
                TileKernel { mr: $mr, nr: $nr, run: $plain }
            }
        }
    };
}

tile_kernels!(f32, tile_f32_avx512, tile_f32_avx2, tile_f32_plain, [12, 32], [6, 16], [4, 8]);
tile_kernels!(f64, tile_f64_avx512, tile_f64_avx2, tile_f64_plain, [12, 16], [6, 8], [4, 4]);

/// Rows of A packed at a time, and columns of B (a packed block of B stays in the core's
/// second-level cache while every row panel of A passes over it).
const MC: usize = 1536;
const PF: usize = 16;
const NC_BYTES: usize = 768 * 1024;

/// `a @ b` (row-major, `a.rows x b.cols` elements), the shared dimension cut into `blocks`
/// (which add up to `a.cols`); see the module's documentation.
pub(crate) fn blocked<T: GemmFloat>(a: Mat<T>, b: Mat<T>, blocks: &[usize]) -> Vec<T> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert_eq!(blocks.iter().sum::<usize>(), k);
    if m == 0 || n == 0 || k == 0 {
        return vec![T::zero(); m * n];
    }
    if (a.rs == 0 && m > 1) || (b.cs == 0 && n > 1) {
        return repeated(a, b, blocks);
    }
    // rows (columns) that are equal in separate storage: the same sums, computed once
    if m > 1 && a.rows_repeat() {
        return repeated(Mat { rs: 0, ..a }, b, blocks);
    }
    if n > 1 && b.cols_repeat() {
        return repeated(a, Mat { cs: 0, ..b }, blocks);
    }
    let mut out: Vec<T> = Vec::with_capacity(m * n);
    let c = Out { ptr: out.spare_capacity_mut().as_mut_ptr() as *mut T, rows: m, cols: n, ld: n };
    blocked_into(a, b, blocks, c);
    // SAFETY: the first block wrote every element (its tiles cover the output)
    unsafe { out.set_len(m * n) };
    out
}

/// [`blocked`] where every row of `a` is one row of storage (row stride 0) or every column
/// of `b` one column (as a gradient broadcast from `sum()` or `mean()` reaches a product):
/// every element's sum is then the same as its row's (or column's) first one, in the same
/// order, so that one row or column is computed and repeated. (torch computes each element
/// with the same sums on its materialized gradient: the bits are the same.)
fn repeated<T: GemmFloat>(a: Mat<T>, b: Mat<T>, blocks: &[usize]) -> Vec<T> {
    let (m, n) = (a.rows, b.cols);
    let rows = if a.rs == 0 { 1 } else { m };
    let cols = if b.cs == 0 { 1 } else { n };
    let (row_of, col_of) = (rows == 1, cols == 1);
    let core = if col_of {
        // one column: computed as the row of its transpose (b's column times a's rows), so
        // that the tiles run along m; fma(a, b) and fma(b, a) round the same
        blocked(b.cols_between(0, 1).transposed(), a.rows_between(0, rows).transposed(), blocks)
    } else {
        blocked(a.rows_between(0, 1), b, blocks)
    };
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        let i = if row_of { 0 } else { i };
        if col_of {
            out.extend(std::iter::repeat_n(core[i], n));
        } else {
            out.extend_from_slice(&core[i * cols..(i + 1) * cols]);
        }
    }
    out
}

/// [`blocked`] into `c` (written only through its pointer: the first block writes, the
/// others add).
fn blocked_into<T: GemmFloat>(a: Mat<T>, b: Mat<T>, blocks: &[usize], c: Out<T>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let kernel = T::tile_kernel();
    // one part per thread, and only when each part has enough work to pay for the wake-up
    let parts = rayon::current_num_threads().min((m * k + k * n) / (1 << 14)).min(m.max(n) / 16).max(1);
    if parts == 1 {
        blocked_part(&kernel, a, b, blocks, c);
        return;
    }
    // whole tiles per part: rows when there are at least as many as columns
    let by_rows = m >= n;
    let (len, unit) = if by_rows { (m, kernel.mr) } else { (n, kernel.nr) };
    let step = len.div_ceil(parts).div_ceil(unit) * unit;
    let count = len.div_ceil(step);
    super::parallel::run_parts(count, &|p| {
        let (start, end) = (p * step, ((p + 1) * step).min(len));
        // parts write disjoint rows (or columns) of `out`
        if by_rows {
            blocked_part(&kernel, a.rows_between(start, end), b, blocks, c.rows_between(start, end));
        } else {
            blocked_part(&kernel, a, b.cols_between(start, end), blocks, c.cols_between(start, end));
        }
    });
}

/// One thread's share of [`blocked`].
fn blocked_part<T: GemmFloat>(kernel: &TileKernel<T>, a: Mat<T>, b: Mat<T>, blocks: &[usize], c: Out<T>) {
    let (m, n) = (c.rows, c.cols);
    let (mr, nr) = (kernel.mr, kernel.nr);
    let kb_max = blocks.iter().copied().max().unwrap_or(0);
    let nc = (NC_BYTES / (kb_max.max(1) * std::mem::size_of::<T>())).max(nr) / nr * nr;
    let mc = MC.min(m.div_ceil(mr) * mr);
    // (b's panels start on a 64-byte line)
    let a_len = (mc * kb_max).next_multiple_of(64 / std::mem::size_of::<T>());
    let b_len = nc.min(n.div_ceil(nr) * nr) * kb_max;
    with_pack_buffers(a_len + b_len, |pack: &mut [T]| {
        let (a_pack, b_pack) = pack.split_at_mut(a_len);
        blocked_loops(kernel, a, b, blocks, c, (mc, nc), a_pack, b_pack);
    });
}

/// The loops of [`blocked_part`] over its packed blocks.
#[allow(clippy::too_many_arguments)]
fn blocked_loops<T: GemmFloat>(
    kernel: &TileKernel<T>,
    a: Mat<T>,
    b: Mat<T>,
    blocks: &[usize],
    c: Out<T>,
    (mc, nc): (usize, usize),
    a_pack: &mut [T],
    b_pack: &mut [T],
) {
    let (m, n) = (c.rows, c.cols);
    let (mr, nr) = (kernel.mr, kernel.nr);
    for i0 in (0..m).step_by(mc) {
        let rows = mc.min(m - i0);
        let mut k0 = 0;
        for (index, &kb) in blocks.iter().enumerate() {
            pack_rows(&a, i0, rows, k0, kb, mr, a_pack);
            for j0 in (0..n).step_by(nc) {
                let cols = nc.min(n - j0);
                // (b's columns are the rows of b transposed)
                pack_rows(&b.transposed(), j0, cols, k0, kb, nr, b_pack);
                for ir in (0..rows).step_by(mr) {
                    let ap = a_pack[ir * kb..].as_ptr();
                    for jr in (0..cols).step_by(nr) {
                        let bp = b_pack[jr * kb..].as_ptr();
                        // SAFETY: the panels hold kb steps; the tile lies inside the output
                        unsafe {
                            let cp = c.ptr.add((i0 + ir) * c.ld + j0 + jr);
                            (kernel.run)(
                                kb,
                                ap,
                                bp,
                                cp,
                                c.ld,
                                mr.min(rows - ir),
                                nr.min(cols - jr),
                                index == 0,
                            );
                        }
                    }
                }
            }
            k0 += kb;
        }
    }
}

thread_local! {
    /// Each thread's packing space, kept between products (in 64-byte lines, so that every
    /// packed vector is one aligned load).
    static PACK: std::cell::RefCell<Vec<[f64; 8]>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Packing space kept for the next product up to this size (a larger one is freed).
const PACK_KEPT_BYTES: usize = 16 << 20;

/// Calls `f` with `len` elements of this thread's 64-byte-aligned packing space.
fn with_pack_buffers<T: GemmFloat>(len: usize, f: impl FnOnce(&mut [T])) {
    let bytes = len * std::mem::size_of::<T>();
    let lines = bytes.div_ceil(64);
    let mut space = PACK.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if space.len() < lines {
        space = vec![[0.0; 8]; lines];
    }
    // SAFETY: f32 and f64 have no invalid bit patterns, the lines are 8-byte aligned and
    // hold at least `len` elements of T
    let view = unsafe { std::slice::from_raw_parts_mut(space.as_mut_ptr() as *mut T, len) };
    f(view);
    if lines * 64 <= PACK_KEPT_BYTES {
        PACK.with(|p| *p.borrow_mut() = space);
    }
}

/// Packs `a[i0..i0 + rows, k0..k0 + kb]` as panels of `mr` rows: per panel, per k, `mr`
/// values (zeros past the last row). (B is packed by columns as its transpose's rows.)
fn pack_rows<T: GemmFloat>(
    a: &Mat<T>,
    i0: usize,
    rows: usize,
    k0: usize,
    kb: usize,
    mr: usize,
    pack: &mut [T],
) {
    for (p, panel) in pack.chunks_exact_mut(mr * kb).take(rows.div_ceil(mr)).enumerate() {
        let live = mr.min(rows - p * mr);
        let first = a.rows_between(i0 + p * mr, i0 + p * mr + live).cols_between(k0, k0 + kb);
        pack_panel(&first, live, mr, panel);
    }
}

/// One packed panel: `panel[k * width + r] = x[r, k]` for the `live` rows of `x`, zeros in
/// the rows past them; reads along whichever side of `x` is contiguous.
fn pack_panel<T: GemmFloat>(x: &Mat<T>, live: usize, width: usize, panel: &mut [T]) {
    if live < width {
        panel.fill(T::zero());
    }
    if x.rs == 1 {
        // each k's values lie side by side
        for (k, step) in panel.chunks_exact_mut(width).enumerate() {
            // SAFETY: column k of the view holds `live` elements from here
            let src = unsafe { std::slice::from_raw_parts(x.ptr.offset(k as isize * x.cs), live) };
            // in runs of 8 (a call to memcpy per step costs more than the copy)
            let full = live / 8 * 8;
            for i in (0..full).step_by(8) {
                let run: [T; 8] = src[i..i + 8].try_into().expect("8 elements");
                step[i..i + 8].copy_from_slice(&run);
            }
            step[full..live].copy_from_slice(&src[full..]);
        }
        return;
    }
    // k by k, one value from each row (a row may be a broadcast: cs = 0)
    let mut rows = [std::ptr::null::<T>(); 32];
    assert!(live <= rows.len(), "panels are at most 32 wide");
    for (r, row) in rows.iter_mut().enumerate().take(live) {
        // SAFETY: row r of the view holds kb elements, cs apart
        *row = unsafe { x.ptr.offset(r as isize * x.rs) };
    }
    for (k, step) in panel.chunks_exact_mut(width).enumerate() {
        let at = k as isize * x.cs;
        for (d, row) in step.iter_mut().zip(&rows[..live]) {
            *d = unsafe { *row.offset(at) };
        }
    }
}

/// A running sum in one of MKL's trees: empty, or a value.
type Part<T> = Option<T>;

/// `acc + a b` with one rounding; an empty accumulator is a register of +0 (so a first
/// product of -0 gives +0, as in torch).
#[inline(always)]
fn fma<T: Float>(acc: Part<T>, (a, b): (T, T)) -> Part<T> {
    Some(a.mul_add(b, acc.unwrap_or_else(T::zero)))
}

/// `x + y`, rounded; an empty side is nothing to add.
#[inline(always)]
fn add<T: Float>(x: Part<T>, y: Part<T>) -> Part<T> {
    match (x, y) {
        (Some(x), Some(y)) => Some(x + y),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Two vector lanes added: an empty lane holds +0 (so -0 in the other gives +0).
#[inline(always)]
fn add_lanes<T: Float>(x: Part<T>, y: Part<T>) -> Part<T> {
    match (x, y) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or_else(T::zero) + y.unwrap_or_else(T::zero)),
    }
}

/// `x + round(a b)`.
#[inline(always)]
fn add_product<T: Float>(x: Part<T>, (a, b): (T, T)) -> Part<T> {
    add(x, Some(a * b))
}

/// Halves the lanes until one is left: lane l gets lane l + half.
#[inline(always)]
fn halving<T: Float>(lanes: &mut [Part<T>]) -> Part<T> {
    halve_to(lanes, 1);
    lanes[0]
}

/// Halves the lanes (lane l gets lane l + half) until at most `left` are left; returns how
/// many are.
#[inline(always)]
fn halve_to<T: Float>(lanes: &mut [Part<T>], left: usize) -> usize {
    let mut len = lanes.len();
    while len > left.max(1) {
        len /= 2;
        for l in 0..len {
            lanes[l] = add_lanes(lanes[l], lanes[l + len]);
        }
    }
    len
}

/// float64's 8-lane reduction: ((l0 + l2) + (l1 + l3)) + ((l4 + l6) + (l5 + l7)).
#[inline(always)]
fn reduce8<T: Float>(c: &[Part<T>]) -> Part<T> {
    let add = add_lanes;
    add(add(add(c[0], c[2]), add(c[1], c[3])), add(add(c[4], c[6]), add(c[5], c[7])))
}

/// The kernels of MKL's thin products, each a fixed tree over the k terms of one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tree {
    /// One fused multiply-add chain in increasing k.
    Chain,
    /// One chain in increasing k of rounded products, from +0 (no fused multiply-add):
    /// MKL's small float32 kernels on AVX2 (`gemm_order::MklKernels::Avx2`).
    RoundedChain,
    /// `lanes` strided fma chains (lane l takes k = l mod lanes), then lanes l, l + 4, ...
    /// added into 4 sums and those added pairwise: float32 `x @ w.t()` with a batch of 2..15
    /// (16 lanes), float64 with at most 3 (8 lanes).
    Strided { lanes: usize },
    /// A 16-lane dot (on even rows two accumulators over 32-term chunks from 32 terms on;
    /// full vectors, then the tail), lanes halved: float32 `x @ w.t()` with small sizes.
    Dot16,
    /// An 8-lane dot (two accumulators from 16 terms on), [`reduce8`]: float64 dots.
    Dot8,
    /// All k terms in the lanes of one 8-lane vector, halved: float64 small `x @ w.t()`.
    Halving8,
    /// float32 products with one output column (or one row, B transposed), `rows` long:
    /// MKL's 4-row dot on the rows of whole groups of 4, its one-row dot on the rest.
    RowDot { rows: usize },
    /// `torch.dot` (MKL's dot): up to `lanes` lanes (16 float32, 8 float64), up to 4
    /// accumulators; fma, or rounded products below `lanes` terms ([`torch_dot`]).
    TorchDot { lanes: usize },
    /// float32 products with one output row (or one column, A transposed), `cols` long:
    /// MKL's 8-term gemv groups on the first whole 16-vectors, a chain on the rest.
    ColGemv { cols: usize },
}

impl Tree {
    /// The sum of element (i, j); `x(p)` gives its p-th pair of factors.
    #[inline(always)]
    fn sum<T: Float>(self, k: usize, (i, j): (usize, usize), x: impl Fn(usize) -> (T, T)) -> T {
        self.sum_of(k, (i, j), x, None)
    }

    /// [`Tree::sum`], with the two factor sequences also as slices where the caller has them
    /// (`x(p)` is then `(factors.0[p], factors.1[p])`), for the trees that read whole vectors.
    #[inline(always)]
    fn sum_of<T: Float>(
        self,
        k: usize,
        (i, j): (usize, usize),
        x: impl Fn(usize) -> (T, T),
        factors: Option<(&[T], &[T])>,
    ) -> T {
        let s = match self {
            Tree::Chain => (0..k).fold(None, |acc, p| fma(acc, x(p))),
            Tree::RoundedChain => Some((0..k).fold(T::zero(), |acc, p| {
                let (a, b) = x(p);
                acc + a * b
            })),
            Tree::Strided { lanes } => {
                let mut lanes_of = [None; 16];
                let l = &mut lanes_of[..lanes];
                for p in 0..k {
                    l[p % lanes] = fma(l[p % lanes], x(p));
                }
                let s: [Part<T>; 4] =
                    std::array::from_fn(|r| (r..lanes).step_by(4).fold(None, |acc, q| add(acc, l[q])));
                add(add(s[0], s[1]), add(s[2], s[3]))
            }
            Tree::Dot16 => dot(0..k, 16, if i % 2 == 0 { 32 } else { usize::MAX }, &x, |c| halving(c)),
            Tree::Dot8 => dot(0..k, 8, 16, &x, |c| reduce8(c)),
            Tree::Halving8 => {
                let mut c: [Part<T>; 8] = std::array::from_fn(|p| (p < k).then(|| x(p).0 * x(p).1));
                halving(&mut c)
            }
            Tree::RowDot { rows } => {
                // the place along the output's one long side (the other index is 0)
                let index = i + j;
                if index < rows / 4 * 4 {
                    four_row_dot(k, &x, factors)
                } else {
                    let two_acc_min = if index - rows / 4 * 4 == 1 { usize::MAX } else { 32 };
                    let rest = dot(1..k, 16, two_acc_min, &x, |c| halving(c));
                    // (the empty dot is a vector of +0)
                    add_lanes(rest, Some(x(0).0 * x(0).1))
                }
            }
            Tree::TorchDot { lanes } => torch_dot(k, lanes, &x),
            Tree::ColGemv { cols } => {
                let index = i + j;
                if cols >= 16 && index < cols / 16 * 16 {
                    gemv_groups(k, &x)
                } else {
                    (0..k).fold(None, |acc, p| fma(acc, x(p)))
                }
            }
        };
        s.unwrap_or_else(T::zero)
    }
}

/// MKL's vector dot over the terms `ks`: `lanes` fma lanes (two accumulators over chunks of
/// `2 lanes` while they last when there are at least `two_acc_min` terms, then added
/// lane-wise), the remaining full vectors, the tail into lanes 0.., then `reduce`.
#[inline(always)]
fn dot<T: Float>(
    ks: std::ops::Range<usize>,
    lanes: usize,
    two_acc_min: usize,
    x: &impl Fn(usize) -> (T, T),
    reduce: impl Fn(&mut [Part<T>]) -> Part<T>,
) -> Part<T> {
    let (start, n) = (ks.start, ks.len());
    let mut pos = 0;
    let mut lanes_of = [None; 16];
    let c = &mut lanes_of[..lanes];
    if n >= two_acc_min {
        let mut second = [None; 16];
        let b = &mut second[..lanes];
        while n - pos >= 2 * lanes {
            for l in 0..lanes {
                c[l] = fma(c[l], x(start + pos + l));
                b[l] = fma(b[l], x(start + pos + lanes + l));
            }
            pos += 2 * lanes;
        }
        for l in 0..lanes {
            c[l] = add_lanes(c[l], b[l]);
        }
    }
    while n - pos >= lanes {
        for (l, lane) in c.iter_mut().enumerate() {
            *lane = fma(*lane, x(start + pos + l));
        }
        pos += lanes;
    }
    for (l, lane) in c.iter_mut().enumerate().take(n - pos) {
        *lane = fma(*lane, x(start + pos + l));
    }
    reduce(c)
}

/// MKL's `?dot` as torch calls it (probed with FPRev pairs, checked on random dots): the
/// widest vector of at most `lanes` lanes that `k` fills; whole vectors go to 4 accumulators
/// in turn while 4 vectors remain (from `4 lanes` terms on), then to 2 (from `2 lanes` on),
/// then to the first, and the tail into the first's lanes 0..; the accumulators added as
/// `(a + b) + (c + d)`, then [`dot_reduce`]. float32 sums of 2 or 3 terms are one chain.
/// Fused multiply-adds, except in dots of fewer than `lanes` terms: there each product is
/// rounded and added (tools/gemm_order/dot_typing.py).
#[inline(always)]
fn torch_dot<T: Float>(k: usize, lanes: usize, x: &impl Fn(usize) -> (T, T)) -> Part<T> {
    // a dot shorter than the full vector rounds its products and adds them to lanes of +0
    // (no fma); a longer one fuses them
    let short = k < lanes;
    let term = |acc: Part<T>, p: usize| {
        if short {
            add_product(acc.or(Some(T::zero())), x(p))
        } else {
            fma(acc, x(p))
        }
    };
    if lanes == 16 && k < 4 {
        return (0..k).fold(None, term);
    }
    let mut width = lanes;
    while width > k && width > 1 {
        width /= 2;
    }
    let count = if k >= 4 * width {
        4
    } else if k >= 2 * width {
        2
    } else {
        1
    };
    let mut acc: Vec<Vec<Part<T>>> = vec![vec![None; width]; count];
    let mut pos = 0;
    for group in [4, 2, 1] {
        if group > count {
            continue;
        }
        while k - pos >= group * width {
            for (v, lanes_of) in acc.iter_mut().enumerate().take(group) {
                for (l, lane) in lanes_of.iter_mut().enumerate() {
                    *lane = term(*lane, pos + v * width + l);
                }
            }
            pos += group * width;
        }
    }
    for (l, lane) in acc[0].iter_mut().enumerate().take(k - pos) {
        *lane = term(*lane, pos + l);
    }
    let add = |p: &[Part<T>], q: &[Part<T>]| -> Vec<Part<T>> {
        p.iter().zip(q).map(|(&x, &y)| add_lanes(x, y)).collect()
    };
    let mut c = match count {
        4 => add(&add(&acc[0], &acc[1]), &add(&acc[2], &acc[3])),
        2 => add(&acc[0], &acc[1]),
        _ => acc.swap_remove(0),
    };
    dot_reduce(&mut c, lanes == 16)
}

/// The dot's lane reduction: halving, except that float32 adds neighbours once 4 lanes are
/// left ((l0 + l1) + (l2 + l3)).
#[inline(always)]
fn dot_reduce<T: Float>(c: &mut [Part<T>], float32: bool) -> Part<T> {
    if float32 && halve_to(c, 4) == 4 {
        return add_lanes(add_lanes(c[0], c[1]), add_lanes(c[2], c[3]));
    }
    halving(c)
}

/// MKL's 4-row dot (float32 `A @ v`): the first product in lane 0; whole 16-term vectors in
/// 16 fma lanes (from 32 terms on; exactly 16 go into 8 lanes, fma then multiply-add),
/// halved; that sum in lane 0 of an 8-lane tail (up to 8 terms by fma, the rest by
/// multiply-add), halved.
#[inline(always)]
fn four_row_dot<T: Float>(k: usize, x: &impl Fn(usize) -> (T, T), factors: Option<(&[T], &[T])>) -> Part<T> {
    let n = k.saturating_sub(1);
    let main = n / 16 * 16;
    let mut carry = Some(x(0).0 * x(0).1);
    if main == 16 {
        let mut lanes: [Part<T>; 8] = [None; 8];
        lanes[0] = carry;
        for (l, lane) in lanes.iter_mut().enumerate() {
            *lane = add_product(fma(*lane, x(1 + l)), x(9 + l));
        }
        carry = halving(&mut lanes);
    } else if main > 0 {
        // 16 lanes of plain values (an empty lane's first fused multiply-add adds to +0, as a
        // lane of +0's does), a chunk of 16 terms at a time: from slices a vector loop
        let mut lanes = [T::zero(); 16];
        lanes[0] = carry.unwrap_or_else(T::zero);
        // (plain loops: an iterator's `fold` is a function of its own, built without the
        // vector instructions of the caller's build, where `mul_add` is a call)
        match factors {
            Some((a, b)) => {
                let (a, b) = (&a[1..1 + main], &b[1..1 + main]);
                for chunk in 0..main / 16 {
                    let a: &[T; 16] = a[16 * chunk..][..16].try_into().expect("16 terms");
                    let b: &[T; 16] = b[16 * chunk..][..16].try_into().expect("16 terms");
                    for l in 0..16 {
                        lanes[l] = a[l].mul_add(b[l], lanes[l]);
                    }
                }
            }
            None => {
                for chunk in 0..main / 16 {
                    for (l, lane) in lanes.iter_mut().enumerate() {
                        let (a, b) = x(1 + 16 * chunk + l);
                        *lane = a.mul_add(b, *lane);
                    }
                }
            }
        }
        carry = halving(&mut lanes.map(Some));
    }
    let tail = n - main;
    if tail > 0 {
        let mut lanes: [Part<T>; 8] = [None; 8];
        lanes[0] = carry;
        for (l, lane) in lanes.iter_mut().enumerate().take(tail) {
            *lane = fma(*lane, x(1 + main + l));
        }
        for l in 8..tail {
            lanes[l - 8] = add_product(lanes[l - 8], x(1 + main + l));
        }
        carry = halving(&mut lanes);
    }
    if k == 1 {
        // the one product still passes through a vector reduction with +0 lanes
        return add_lanes(carry, None);
    }
    carry
}

/// MKL's float32 gemv on whole 16-column vectors (`u @ B`): per group of 8 terms from b,
/// `((fma(x4, fma(x6, y)) + fma(x5, round(x7))) + (fma(x0, round(x2)) + fma(x1, round(x3))))`,
/// then the last `k mod 8` terms by fma.
#[inline(always)]
fn gemv_groups<T: Float>(k: usize, x: &impl Fn(usize) -> (T, T)) -> Part<T> {
    let mut y = None;
    for g in 0..k / 8 {
        let b = 8 * g;
        let t1 = fma(fma(y, x(b + 6)), x(b + 4));
        let t2 = fma(Some(x(b + 7).0 * x(b + 7).1), x(b + 5));
        let t3 = add(fma(Some(x(b + 2).0 * x(b + 2).1), x(b)), fma(Some(x(b + 3).0 * x(b + 3).1), x(b + 1)));
        y = add(add(t1, t2), t3);
    }
    (k / 8 * 8..k).fold(y, |acc, p| fma(acc, x(p)))
}

/// `a @ b` (row-major) with every element summed by `tree`: the elements shared out among
/// the threads (each is summed on its own, so that changes no bit), each part's loop compiled
/// for the widest vector build (`widest_build!`), where the trees' fused multiply-adds are
/// instructions (elsewhere calls to the C library's `fma`: `mv` of 1000x1000 was 75 times
/// slower than torch's).
pub(crate) fn by_element<T: GemmFloat>(a: Mat<T>, b: Mat<T>, tree: Tree) -> Vec<T> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if k == 0 {
        return vec![T::zero(); m * n];
    }
    #[inline(always)]
    fn run<T: GemmFloat>(a: Mat<T>, b: Mat<T>, tree: Tree, start: usize, out: &mut [MaybeUninit<T>]) {
        let (k, n) = (a.cols, b.cols);
        if let (Tree::RowDot { .. }, 1, 1) = (tree, a.cs, b.rs) {
            // a row of `a` times a column of `b`, both contiguous (`A @ v`): read as slices,
            // so that the dot's chunks of 16 terms load whole vectors
            for (slot, e) in out.iter_mut().zip(start..) {
                // SAFETY: a row of `a` and a column of `b` are `k` elements one after another
                let (row, column) = unsafe { (a.row_slice(e / n), b.column_slice(e % n)) };
                slot.write(tree.sum_of(k, (e / n, e % n), |p| (row[p], column[p]), Some((row, column))));
            }
            return;
        }
        for (slot, e) in out.iter_mut().zip(start..) {
            slot.write(tree.sum(k, (e / n, e % n), |p| (a.at(e / n, p), b.at(p, e % n))));
        }
    }
    fn part<T: GemmFloat>(a: Mat<T>, b: Mat<T>, tree: Tree, start: usize, out: &mut [MaybeUninit<T>]) {
        super::transcendental::widest_build!(run<T: GemmFloat>(
            a: Mat<T>,
            b: Mat<T>,
            tree: Tree,
            start: usize,
            out: &mut [MaybeUninit<T>]
        ))
    }
    // SAFETY: each part's loop writes every slot of its part
    unsafe { super::kernel::build_costly_parts(m * n, |start, out| part(a, b, tree, start, out)) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The order written out one element at a time: per block an fma chain from +0, the
    /// blocks added in turn.
    fn reference<T: Float>(a: &[T], b: &[T], (m, k, n): (usize, usize, usize), blocks: &[usize]) -> Vec<T> {
        let mut out = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                let mut k0 = 0;
                let mut sum = None;
                for &kb in blocks {
                    let block =
                        (k0..k0 + kb).fold(T::zero(), |acc, p| a[i * k + p].mul_add(b[p * n + j], acc));
                    sum = Some(sum.map_or(block, |s: T| s + block));
                    k0 += kb;
                }
                out.push(sum.unwrap_or_else(T::zero));
            }
        }
        out
    }

    /// `count` values in [-0.5, 0.5) from a fixed xorshift sequence.
    pub(crate) fn test_values<T: FloatElement>(count: usize) -> Vec<T> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..count)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                T::from_f64((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
            })
            .collect()
    }

    fn check<T: GemmFloat>((m, k, n): (usize, usize, usize), blocks: &[usize], threads: usize) {
        let values = test_values::<T>(m * k + k * n);
        let (a, b) = values.split_at(m * k);
        let want = reference(a, b, (m, k, n), blocks);
        let av = ArrayView2::from_shape((m, k), a).unwrap();
        let bv = ArrayView2::from_shape((k, n), b).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got = pool.install(|| blocked(Mat::of(&av), Mat::of(&bv), blocks));
        assert!(
            got.iter()
                .zip(&want)
                .all(|(g, w)| g.to_f64().unwrap().to_bits() == w.to_f64().unwrap().to_bits()),
            "{m}x{k}x{n} {blocks:?} on {threads} threads"
        );
        // the same product from transposed copies of both operands
        let at: Vec<T> = (0..m * k).map(|e| a[(e % m) * k + e / m]).collect();
        let bt: Vec<T> = (0..k * n).map(|e| b[(e % k) * n + e / k]).collect();
        let atv = ArrayView2::from_shape((k, m), &at).unwrap().reversed_axes();
        let btv = ArrayView2::from_shape((n, k), &bt).unwrap().reversed_axes();
        let got = pool.install(|| blocked(Mat::of(&atv), Mat::of(&btv), blocks));
        assert!(
            got.iter()
                .zip(&want)
                .all(|(g, w)| g.to_f64().unwrap().to_bits() == w.to_f64().unwrap().to_bits()),
            "transposed {m}x{k}x{n}"
        );
    }

    /// A product whose rows of A (or columns of B) are one broadcast row (column) gives the
    /// same bits as on the materialized operands.
    #[test]
    fn repeated_rows_and_columns_give_the_bits_of_the_whole_product() {
        use ndarray::ShapeBuilder;
        let (m, k, n) = (30, 500, 41);
        let blocks = [384, 116];
        let values = test_values::<f32>(m * k + k * n);
        let (a, b) = values.split_at(m * k);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        // a's first row for every row; b's first column for every column; a single element
        let a_row: Vec<f32> = (0..m * k).map(|e| a[e % k]).collect();
        let b_col: Vec<f32> = (0..k * n).map(|e| b[e / n * n]).collect();
        let b_one: Vec<f32> = vec![b[0]; k * n];
        let a_bcast = ArrayView2::from_shape((m, k).strides((0, 1)), a).unwrap();
        let b_bcast = ArrayView2::from_shape((k, n).strides((n, 0)), b).unwrap();
        let b_scalar = ArrayView2::from_shape((k, n).strides((0, 0)), b).unwrap();
        let av = ArrayView2::from_shape((m, k), a).unwrap();
        let bv = ArrayView2::from_shape((k, n), b).unwrap();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| blocked(Mat::of(&a_bcast), Mat::of(&bv), &blocks));
            assert_eq!(bits(&got), bits(&reference(&a_row, b, (m, k, n), &blocks)), "rows");
            let got = pool.install(|| blocked(Mat::of(&av), Mat::of(&b_bcast), &blocks));
            assert_eq!(bits(&got), bits(&reference(a, &b_col, (m, k, n), &blocks)), "columns");
            let got = pool.install(|| blocked(Mat::of(&a_bcast), Mat::of(&b_scalar), &blocks));
            assert_eq!(bits(&got), bits(&reference(&a_row, &b_one, (m, k, n), &blocks)), "both");
            // the same rows and columns materialised (found equal, computed once)
            let a_rows = ArrayView2::from_shape((m, k), &a_row[..]).unwrap();
            let b_cols = ArrayView2::from_shape((k, n), &b_col[..]).unwrap();
            let got = pool.install(|| blocked(Mat::of(&a_rows), Mat::of(&bv), &blocks));
            assert_eq!(bits(&got), bits(&reference(&a_row, b, (m, k, n), &blocks)), "equal rows");
            let got = pool.install(|| blocked(Mat::of(&av), Mat::of(&b_cols), &blocks));
            assert_eq!(bits(&got), bits(&reference(a, &b_col, (m, k, n), &blocks)), "equal columns");
        }
    }

    /// Tiles, packing and threads change no bit: whole and partial tiles, blocks of every
    /// size, both layouts, 1 and 3 threads.
    #[test]
    fn the_blocked_kernel_sums_in_the_stated_order() {
        for (shape, blocks) in [
            ((1, 1, 1), vec![1]),
            ((13, 7, 33), vec![4, 3]),
            ((24, 400, 64), vec![200, 200]),
            ((100, 769, 70), vec![384, 193, 192]),
            ((37, 1000, 250), vec![384, 384, 232]),
            ((300, 20, 5), vec![20]),
        ] {
            for threads in [1, 3] {
                check::<f32>(shape, &blocks, threads);
                check::<f64>(shape, &blocks, threads);
            }
        }
    }
}
