//! Which summation order torch 2.15's CPU `mm` gives a product, by its sizes, the layouts
//! of its operands and the dtype: oneMKL's choice, which depends on the CPU (MKL runs other
//! kernels on an Intel processor with AVX-512 than on an AMD one), measured with the probes
//! and predictors in `tools/gemm_order/` (its README has the rules and the sweeps that
//! confirmed them). [`super::gemm`] runs the chosen order.

use std::sync::atomic::{AtomicU8, Ordering};

use super::gemm::{Mat, Tree};

/// Which of oneMKL's kernel sets torch's matrix products run on, and so which summation
/// orders autograd-core follows: MKL picks them by the CPU, and their sums differ in the
/// last bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MklKernels {
    /// An Intel processor with AVX-512 (measured on a Xeon, family 6 model 207).
    Avx512,
    /// Any other x86 processor: AMD's (measured on an EPYC, Zen, family 23 model 1, where
    /// MKL's verbose mode names no AVX-512 path), and Intel's without AVX-512 (not measured).
    Avx2,
}

/// 0 while not chosen, else 1 + the `MklKernels` index.
static KERNELS: AtomicU8 = AtomicU8::new(0);

/// The kernel set whose orders products follow: `AUTOGRAD_MKL_KERNELS` (`avx512` or
/// `avx2`) when set, else the one MKL picks on this CPU (see [`MklKernels`]); or what
/// [`set_mkl_kernels`] chose.
pub fn mkl_kernels() -> MklKernels {
    match KERNELS.load(Ordering::Relaxed) {
        1 => MklKernels::Avx512,
        2 => MklKernels::Avx2,
        _ => {
            let chosen = match std::env::var("AUTOGRAD_MKL_KERNELS").as_deref() {
                Ok("avx512") => MklKernels::Avx512,
                Ok("avx2") => MklKernels::Avx2,
                _ => this_cpus_kernels(),
            };
            // (a concurrent `set_mkl_kernels` wins)
            let _ = KERNELS.compare_exchange(0, chosen as u8 + 1, Ordering::Relaxed, Ordering::Relaxed);
            mkl_kernels()
        }
    }
}

/// Makes products follow `kernels`' orders from now on, in the whole process (to reproduce
/// torch's bits as they are on another machine).
pub fn set_mkl_kernels(kernels: MklKernels) {
    KERNELS.store(kernels as u8 + 1, Ordering::Relaxed);
}

/// The kernel set MKL picks on this CPU: AVX-512 on an Intel processor that has it.
fn this_cpus_kernels() -> MklKernels {
    #[cfg(target_arch = "x86_64")]
    {
        // (leaf 0: the vendor's name)
        let vendor = std::arch::x86_64::__cpuid(0);
        let intel = (vendor.ebx, vendor.edx, vendor.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e);
        if intel && std::arch::is_x86_feature_detected!("avx512f") {
            return MklKernels::Avx512;
        }
        MklKernels::Avx2
    }
    // (torch uses no MKL there; the orders measured first)
    #[cfg(not(target_arch = "x86_64"))]
    MklKernels::Avx512
}

/// A product's summation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// The blocked kernel with these cuts of the shared dimension.
    Blocked(Vec<usize>),
    /// One of the thin kernels.
    Tree(Tree),
}

/// MKL's cuts of the shared dimension `k` into blocks of at most `kc`: `kc` while more than
/// `2 kc` remain, then the rest in one block, or halved (the larger half first) when it is
/// over `kc`.
fn halving_cuts(k: usize, kc: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut rest = k;
    while rest > 2 * kc {
        cuts.push(kc);
        rest -= kc;
    }
    if rest > kc {
        cuts.extend([rest.div_ceil(2), rest / 2]);
    } else if rest > 0 {
        cuts.push(rest);
    }
    cuts
}

/// MKL's cuts for large outputs: as [`halving_cuts`] up to `2 kc`; beyond, blocks of `kc`
/// and the remainder last.
fn whole_cuts(k: usize, kc: usize) -> Vec<usize> {
    if k <= 2 * kc {
        return halving_cuts(k, kc);
    }
    let mut cuts = vec![kc; k / kc];
    if !k.is_multiple_of(kc) {
        cuts.push(k % kc);
    }
    cuts
}

/// Whether torch hands the operands to MKL transposed: `(a, b)` are transposed views of
/// row-major matrices (`x.t()`), as torch's `addmm` decides from the strides (a row-major
/// reading wins when both fit, except for `a` of a one-column product; an operand neither
/// way round is copied to row-major).
fn transposed<T: Copy>(a: &Mat<T>, b: &Mat<T>) -> (bool, bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let row_major = |x: &Mat<T>, cols: usize| x.cs == 1 && x.rs >= cols.max(1) as isize;
    let col_major = |x: &Mat<T>, rows: usize| x.rs == 1 && x.cs >= rows.max(1) as isize;
    if n == 1 {
        (col_major(a, m), col_major(b, k))
    } else {
        (!row_major(a, k) && col_major(a, m), !row_major(b, n) && col_major(b, k))
    }
}

/// Which of torch's kernels a product stands for (their sums differ in order).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// `mm` (and `matmul` of matrices).
    Mm,
    /// `mv`: `mm`'s one-column order; with one row, a dot of the row with the vector (or a
    /// chain, for a row read down its storage).
    Mv,
    /// one batch of a large `bmm`: `mm`'s order, a one-term sum added to +0.
    Bmm,
    /// `dot`: MKL's dot (`Tree::TorchDot`).
    Dot,
}

/// The float types whose products follow torch's orders.
pub(crate) trait TorchOrder: Copy + Sized {
    /// `mm`'s order for `a @ b`.
    fn mm_order(a: &Mat<Self>, b: &Mat<Self>) -> Order;
    /// MKL's one-row dot (a 1x1 product with b a transposed row).
    const ROW_DOT: Tree;
    /// Whether the type is float32 (else float64).
    const FLOAT32: bool;
}

impl TorchOrder for f32 {
    fn mm_order(a: &Mat<f32>, b: &Mat<f32>) -> Order {
        order_f32(a, b)
    }
    const ROW_DOT: Tree = Tree::RowDot { rows: 1 };
    const FLOAT32: bool = true;
}

impl TorchOrder for f64 {
    fn mm_order(a: &Mat<f64>, b: &Mat<f64>) -> Order {
        order_f64(a, b)
    }
    const ROW_DOT: Tree = Tree::Dot8;
    const FLOAT32: bool = false;
}

/// How torch's product with two threads (its default on a 2-core machine) shares out a
/// product with one output column or row, where that changes its sums (MKL's matrix-vector
/// kernels; measured with `tools/gemm_order/two_threads.py`, the bounds in its README). The
/// blocked kernel's own two-thread splits are not followed (README: "Two threads").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// For a column-major `a` (torch's `x.t() @ v`, the gradient of a weight vector), and for
    /// a row-major `a` of a few long rows, each thread sums half of the shared dimension (the
    /// first `k0` terms, the rest), each half in its one-thread order, and the second half's
    /// sums are added to the first's.
    Halves { k0: usize },
    /// For a row-major float32 `a`, rows `0..m0` and the rest are products of their own (the
    /// one-row kernel's groups of 4 rows start again at `m0`).
    Rows { m0: usize },
    /// One output row: columns `0..n0` and the rest are products of their own (the
    /// transpose of `Rows`, for a float32 `b` stored transposed, `x @ w.t()`).
    Cols { n0: usize },
}

/// The split of `a @ b` with `threads` threads, if it has one. `Halves`: from k = 256
/// (float32), or from k = 128 with `(m + 64) k >= 17600` (float64); not for more than 1001
/// rows, nor for 41 to 69 rows below k = 1000 (MKL splits the rows there, which changes no
/// sum); an `mm` of one row by one column (b not a transposed row: the column kernel's
/// chain) splits as a column-major `a` of one row. For a row-major `a`, `Halves` too where
/// its rows are long and few: float32 from k = 20000 for at most 200 rows with
/// `m (k + 288) >= 41700` (one row: k >= 41412), float64 from k = 10000 for at most 100 rows
/// (one row: k >= 17536); otherwise `Rows` (float32): from `m k >= 8192` with
/// `m (k + 288) >= 41700`. A product with one output row is the transposed one (`b.t() @
/// a.t()`, the same kernels): the same bounds with `n` for `m`. Any other thread count keeps
/// the one-thread order (not measured).
pub(crate) fn two_thread_split<T: TorchOrder>(
    kernel: Kernel,
    a: &Mat<T>,
    b: &Mat<T>,
    threads: usize,
) -> Option<Split> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if threads != 2 || !matches!(kernel, Kernel::Mm | Kernel::Mv) || mkl_kernels() == MklKernels::Avx2 {
        return None;
    }
    if m == 1 && n > 1 {
        return match two_thread_split(kernel, &b.transposed(), &a.transposed(), threads) {
            Some(Split::Rows { m0 }) => Some(Split::Cols { n0: m0 }),
            split => split,
        };
    }
    if n != 1 {
        return None;
    }
    let (ta, tb) = transposed(a, b);
    // (`mm` of one row by one column, b not a transposed row, is the column kernel's chain)
    if ta || (kernel == Kernel::Mm && m == 1 && !tb) {
        let long = if T::FLOAT32 { k >= 256 } else { k >= 128 && (m + 64) * k >= 17600 };
        let rows_instead = (41..=69).contains(&m) && k < 1000;
        (long && m <= 1001 && !rows_instead).then(|| Split::Halves { k0: k.div_ceil(2) })
    } else {
        let long_rows = if T::FLOAT32 {
            k >= 20000 && m <= 200 && m * (k + 288) >= 41700
        } else {
            k >= 10000 && m <= 100 && (m >= 2 || k >= 17536)
        };
        if long_rows {
            return Some(Split::Halves { k0: k.div_ceil(2) });
        }
        let large = m >= 2 && m * k >= 8192 && m * (k + 288) >= 41700;
        (T::FLOAT32 && large).then(|| Split::Rows { m0: m.div_ceil(2) })
    }
}

/// torch's order for `a @ b` computed by `kernel`; `None` where it is not known (a large
/// `bmm` with one output column).
pub(crate) fn order<T: TorchOrder>(kernel: Kernel, a: &Mat<T>, b: &Mat<T>) -> Option<Order> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    match kernel {
        // (a one-row matrix whose row is a column of its storage goes to MKL's gemv, which
        // sums one term at a time; any other is a dot)
        Kernel::Mv if m == 1 && a.rs == 1 && k > 1 => Some(Order::Blocked(vec![k])),
        Kernel::Mv if m == 1 => Some(Order::Tree(T::ROW_DOT)),
        Kernel::Mm | Kernel::Mv => Some(T::mm_order(a, b)),
        Kernel::Bmm if n >= 2 => Some(T::mm_order(a, b)),
        Kernel::Bmm => None,
        Kernel::Dot => Some(Order::Tree(Tree::TorchDot { lanes: 64 / std::mem::size_of::<T>() })),
    }
}

/// MKL's cuts of `k` with its AVX2 kernels: up to `kc` one block; up to `2 kc` two halves,
/// and for an odd `k` its last term a block of its own (193 is 96, 96, 1); beyond, as
/// [`whole_cuts`] (blocks of `kc`, the remainder last).
fn avx2_cuts(k: usize, kc: usize) -> Vec<usize> {
    match k {
        _ if k <= kc => vec![k],
        _ if k <= 2 * kc && k.is_multiple_of(2) => vec![k / 2, k / 2],
        _ if k <= 2 * kc => vec![k / 2, k / 2, 1],
        _ => whole_cuts(k, kc),
    }
}

/// torch's order for a float32 `mm` (at least 2 terms per sum, or one row or column).
fn order_f32(a: &Mat<f32>, b: &Mat<f32>) -> Order {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let (ta, tb) = transposed(a, b);
    if mkl_kernels() == MklKernels::Avx2 {
        if m >= 4 && n >= 12 {
            // every layout, one thread or two (MKL splits no sum there)
            return Order::Blocked(avx2_cuts(k, 192));
        }
        let small_batch_bt = tb && !ta;
        if m >= 2 && n >= 2 && !small_batch_bt {
            // the small kernels: mostly one chain of rounded products (the kernels' edge
            // tiles, e.g. the first n % 8 columns of some rows, sum otherwise: not measured)
            return Order::Tree(Tree::RoundedChain);
        }
        // x @ w.t() with a small batch, one row or one column: not measured with these
        // kernels; the AVX-512 kernels' orders below are the nearest known
    }
    if m == 1 && n == 1 {
        // a dot when b is a transposed row (MKL's `N` for b), else one chain
        return Order::Tree(if tb { Tree::RowDot { rows: 1 } } else { Tree::Chain });
    }
    if n == 1 {
        return Order::Tree(if ta { Tree::ColGemv { cols: m } } else { Tree::RowDot { rows: m } });
    }
    if m == 1 {
        return Order::Tree(if tb { Tree::RowDot { rows: n } } else { Tree::ColGemv { cols: n } });
    }
    let big = match (ta, tb) {
        (_, false) => m >= 192 && n >= 192,
        (false, true) => {
            if m <= 15 {
                // x @ w.t() with a small batch
                let dot = match n {
                    2 => true,
                    3 => m <= 10,
                    4..=11 => m < n && k <= n,
                    _ => false,
                };
                return if k >= 24 * m {
                    Order::Tree(Tree::Strided { lanes: 16 })
                } else if dot {
                    Order::Tree(Tree::Dot16)
                } else {
                    Order::Blocked(vec![k])
                };
            }
            n >= 192
        }
        // (M <= 7 with N >= 100, or M < N and K <= N, is a kernel not measured yet: the
        // blocked order is the nearest)
        (true, true) => n >= 192 && m >= 8,
    };
    Order::Blocked(if big { whole_cuts(k, 384) } else { halving_cuts(k, 384) })
}

/// torch's order for a float64 `mm` (at least 2 terms per sum, or one row or column), with
/// MKL's AVX-512 kernels; with its AVX2 kernels too, which are not mapped for float64 yet
/// (tools/gemm_order/README.md has what was seen).
fn order_f64(a: &Mat<f64>, b: &Mat<f64>) -> Order {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let (ta, tb) = transposed(a, b);
    let chain = Order::Blocked(vec![k]);
    if m == 1 && n == 1 {
        return if tb { Order::Tree(Tree::Dot8) } else { chain };
    }
    if n == 1 {
        return if ta { chain } else { Order::Tree(Tree::Dot8) };
    }
    if m == 1 {
        return if tb { Order::Tree(Tree::Dot8) } else { chain };
    }
    let big = m >= 192 && n >= 192;
    match (ta, tb) {
        (false, false) if m == 2 => chain,
        (_, false) => Order::Blocked(if big { whole_cuts(k, 384) } else { halving_cuts(k, 384) }),
        (false, true) if m <= 3 => Order::Tree(Tree::Strided { lanes: 8 }),
        (false, true) if 4 <= m && m < n && n <= 7 && k <= n => Order::Tree(Tree::Halving8),
        // (both transposed with M <= 7 and N >= 192 or K <= N: not measured yet, as below)
        _ if k <= n || big => Order::Blocked(whole_cuts(k, 384)),
        _ => Order::Blocked(halving_cuts(k, 192)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cuts of tools/gemm_order/README.md's table.
    #[test]
    fn cuts_follow_the_measured_table() {
        // K, then its cuts by R1, R2 and R1 with blocks of 192
        type Cuts = &'static [usize];
        let cases: [(usize, Cuts, Cuts, Cuts); 9] = [
            (64, &[64], &[64], &[64]),
            (257, &[257], &[257], &[129, 128]),
            (385, &[193, 192], &[193, 192], &[192, 97, 96]),
            (512, &[256, 256], &[256, 256], &[192, 160, 160]),
            (769, &[384, 193, 192], &[384, 384, 1], &[192, 192, 192, 97, 96]),
            (1000, &[384, 308, 308], &[384, 384, 232], &[192, 192, 192, 192, 116, 116]),
            (1024, &[384, 320, 320], &[384, 384, 256], &[192, 192, 192, 192, 128, 128]),
            (1500, &[384, 384, 366, 366], &[384, 384, 384, 348], &[192, 192, 192, 192, 192, 192, 174, 174]),
            (
                2048,
                &[384, 384, 384, 384, 256, 256],
                &[384, 384, 384, 384, 384, 128],
                &[192, 192, 192, 192, 192, 192, 192, 192, 192, 160, 160],
            ),
        ];
        for (k, r1, r2, r1_192) in cases {
            assert_eq!(halving_cuts(k, 384), r1, "R1 {k}");
            assert_eq!(whole_cuts(k, 384), r2, "R2 {k}");
            assert_eq!(halving_cuts(k, 192), r1_192, "R1/192 {k}");
        }
    }

    /// The AVX2 kernels' cuts, as `tools/gemm_order/avx2_kernels.py cuts` and the FPRev
    /// trees of odd K found them.
    #[test]
    fn avx2_cuts_follow_the_probes() {
        type Cuts = &'static [usize];
        let cases: [(usize, Cuts); 10] = [
            (100, &[100]),
            (192, &[192]),
            (193, &[96, 96, 1]),
            (195, &[97, 97, 1]),
            (300, &[150, 150]),
            (384, &[192, 192]),
            (385, &[192, 192, 1]),
            (450, &[192, 192, 66]),
            (700, &[192, 192, 192, 124]),
            (1000, &[192, 192, 192, 192, 192, 40]),
        ];
        for (k, cuts) in cases {
            assert_eq!(avx2_cuts(k, 192), cuts, "K = {k}");
        }
    }
}
