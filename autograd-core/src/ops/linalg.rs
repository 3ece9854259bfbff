//! Linear algebra: `dot`, `mm`, `mv` and `matmul` (which picks among them like torch).
//! `mm` (and `matmul` of matrices), `mv`, `dot` and large `bmm` sum in torch's order
//! (`gemm_order`, `gemm`); a large `bmm` with one output column runs on `matrixmultiply`
//! (through ndarray), split across rayon's threads (`parallel::run_parts`).

use std::sync::Mutex;

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::gemm::{self, GemmFloat, Mat};
use super::gemm_order::{self, Kernel, Order, Split, TorchOrder};
pub use super::gemm_order::{mkl_kernels, set_mkl_kernels, MklKernels};
use super::kernel::{with_slice, Element, FloatElement};
use crate::autograd::record::record;
use crate::autograd::saved::SavedTensor;
use crate::dtype::DType;
use crate::storage::Buffer;
use crate::tensor::Tensor;

fn dtype_title(dtype: DType) -> &'static str {
    match dtype {
        DType::Float32 => "Float",
        DType::Float64 => "Double",
        DType::Int64 => "Long",
        DType::Bool => "Bool",
    }
}

/// Calls `f` with a 2-D view of the tensor's elements, strided in place when the storage
/// already holds `T`.
fn with_matrix<T: Element, R>(t: &Tensor, f: impl FnOnce(ArrayView2<T>) -> R) -> R {
    let data = t.read_data();
    let (rows, cols) = (data.layout.shape[0], data.layout.shape[1]);
    let buffer = data.storage.read();
    if let Some(all) = T::slice(&buffer) {
        if rows > 0 && cols > 0 {
            let (s0, s1) = (data.layout.strides[0], data.layout.strides[1]);
            let view = ArrayView2::from_shape((rows, cols).strides((s0, s1)), &all[data.layout.offset..])
                .expect("layout lies inside the storage");
            return f(view);
        }
    }
    drop(buffer);
    with_slice(t, |s: &[T]| f(ArrayView2::from_shape((rows, cols), s).expect("contiguous copy")))
}

fn matmul_values<T: FloatElement + ndarray::LinalgScalar + GemmFloat + TorchOrder>(
    a: &Tensor,
    b: &Tensor,
    kernel: Kernel,
) -> Vec<T> {
    with_matrix(a, |av: ArrayView2<T>| with_matrix(b, |bv: ArrayView2<T>| matmul_views(av, bv, kernel)))
}

/// `a @ b` of two matrix views, summed as torch's `kernel` sums.
fn matmul_views<T: FloatElement + ndarray::LinalgScalar + GemmFloat + TorchOrder>(
    av: ArrayView2<T>,
    bv: ArrayView2<T>,
    kernel: Kernel,
) -> Vec<T> {
    let (m, k, n) = (av.nrows(), av.ncols(), bv.ncols());
    if kernel == Kernel::Mm && k == 1 && m >= 2 && n >= 2 {
        // one term per sum: torch's matrix-matrix kernel writes the product itself
        // (so 0 * -1 is -0.), where every other kernel adds it to +0. (torch 2.15:
        // [[0], [0]] @ [[-1, 2]] is [[-0., 0.], [-0., 0.]], [[0]] @ [[-1]] is 0.)
        return (0..m * n).map(|e| av[(e / n, 0)] * bv[(0, e % n)]).collect();
    }
    let (am, bm) = (Mat::of(&av), Mat::of(&bv));
    // each part in its one-thread order
    let part = |a: Mat<T>, b: Mat<T>| {
        let order = gemm_order::order(kernel, &a, &b).expect("mm and mv have an order");
        in_order(order, a, b)
    };
    match gemm_order::two_thread_split(kernel, &am, &bm, crate::ops::parallel::torch_threads()) {
        Some(Split::Halves { k0 }) => {
            let mut out = part(am.cols_between(0, k0), bm.rows_between(0, k0));
            let second = part(am.cols_between(k0, k), bm.rows_between(k0, k));
            out.iter_mut().zip(second).for_each(|(x, y)| *x = *x + y);
            return out;
        }
        Some(Split::Rows { m0 }) => {
            // (each part in the matrix-vector kernel's order for its rows: a part of one row
            // too, which `mm` alone would sum as one row by one column)
            let rows = |from, to| {
                let (a, b) = (am.rows_between(from, to), bm);
                in_order(gemm_order::order(Kernel::Mv, &a, &b).expect("mv has an order"), a, b)
            };
            let mut out = rows(0, m0);
            out.extend(rows(m0, m));
            return out;
        }
        Some(Split::Cols { n0 }) => {
            // (one output row)
            let mut out = part(am, bm.cols_between(0, n0));
            out.extend(part(am, bm.cols_between(n0, n)));
            return out;
        }
        None => {}
    }
    match gemm_order::order(kernel, &am, &bm) {
        Some(order) => in_order(order, am, bm),
        None => {
            let mut out = Array2::<T>::zeros((m, n));
            split_gemm(av, bv, out.view_mut());
            out.into_raw_vec_and_offset().0
        }
    }
}

/// `a @ b` summed in `order` (torch's kernel's, oneMKL's, on one thread).
fn in_order<T: GemmFloat>(order: Order, a: Mat<T>, b: Mat<T>) -> Vec<T> {
    match order {
        Order::Blocked(cuts) => gemm::blocked(a, b, &cuts),
        Order::Tree(tree) => gemm::by_element(a, b, tree),
    }
}

/// `out = a @ b` on matrixmultiply, shared out by `parallel::run_parts` by rows of `out`
/// (by columns when it has fewer rows than columns) into as many parts as matrixmultiply's
/// own threading would use (one thread per 16384 elements of `a` and `b`). Each part is a
/// product of its own with the same blocking along the shared dimension, and with
/// `alpha = 1`, `beta = 0` every kernel path adds the same terms in the same order: the bits
/// do not depend on the split (the test below; and the same bits as matrixmultiply's own
/// threading gave, values and gradients of 13 shapes from 1x1000x1000 to 512x512x512).
fn split_gemm<T: FloatElement + ndarray::LinalgScalar>(
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    mut out: ArrayViewMut2<T>,
) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let parts = rayon::current_num_threads().min((m * k + k * n) / (1 << 14)).min(m.max(n) / 16).max(1);
    let (one, zero) = (T::from_f64(1.0), T::from_f64(0.0));
    if parts == 1 {
        general_mat_mul(one, &a, &b, zero, &mut out);
        return;
    }
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    // parts of whole 16-row (or column) tiles
    let step = len.div_ceil(parts).div_ceil(16) * 16;
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = out;
    for start in (0..len).step_by(step) {
        let end = (start + step).min(len);
        let (part, tail) = if by_rows {
            rest.split_at(ndarray::Axis(0), end - start)
        } else {
            rest.split_at(ndarray::Axis(1), end - start)
        };
        rest = tail;
        let (a, b) = if by_rows {
            (a.slice_move(s![start..end, ..]), b)
        } else {
            (a, b.slice_move(s![.., start..end]))
        };
        pieces.push(Mutex::new(Some((a, b, part))));
    }
    // the caller starts on a part at once (see `parallel`)
    super::parallel::run_parts(pieces.len(), &|i| {
        let piece = pieces[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((a, b, mut part)) = piece {
            general_mat_mul(one, &a, &b, zero, &mut part);
        }
    });
}

/// `a @ b` of two matrices, without history, summed as torch's `kernel` sums.
fn mm_values(a: &Tensor, b: &Tensor, kernel: Kernel) -> Tensor {
    let (sa, sb) = (a.shape(), b.shape());
    let shape = [sa[0], sb[1]];
    let buffer = match a.dtype() {
        DType::Float64 => Buffer::F64(matmul_values::<f64>(a, b, kernel)),
        DType::Float32 => Buffer::F32(matmul_values::<f32>(a, b, kernel)),
        DType::Int64 | DType::Bool => {
            let (x, y) = (a.to_vec_i64(), b.to_vec_i64());
            let (n, k, m) = (sa[0], sa[1], sb[1]);
            let mut out = vec![0i64; n * m];
            for i in 0..n {
                for p in 0..k {
                    for j in 0..m {
                        out[i * m + j] += x[i * k + p] * y[p * m + j];
                    }
                }
            }
            Buffer::I64(out)
        }
    };
    Tensor::from_buffer(buffer, &shape)
}

/// `a @ v` for a vector `v` whose every element is `x`, one element of storage (stride 0),
/// as torch computes it: its `gemv` hands BLAS no stride 0 (`gemv_use_fast_path`) and sums
/// each row itself, in order, adding one rounded product at a time, in the dtype. Reading
/// a column-major `a` (`strides` as torch tests them: `'n'`) a row's sum starts from its
/// first product, otherwise (`'t'`, a copy when `a` is neither way round) from +0, which
/// differs only for a sum of -0s.
///
/// Like torch's loops, a column-major `a` is read a column at a time (each row's running sum
/// updated in turn, which vectorizes: 0.82 -> 0.16 ms for 1000x1000 float32, torch 0.36), a
/// row-major one a row at a time (each sum one chain, as torch's: 0.71 ms, torch 0.77).
fn mv_stride_zero<T: FloatElement>(a: ArrayView2<T>, x: T, strides: &[usize]) -> Vec<T> {
    let (m, k) = a.dim();
    if strides[0] == 1 && (k == 1 || strides[1] >= m.max(1)) {
        let mut sums: Vec<T> = a.column(0).iter().map(|&v| x * v).collect();
        for j in 1..k {
            let column = a.column(j);
            match column.as_slice() {
                Some(column) => {
                    for (sum, &v) in sums.iter_mut().zip(column) {
                        *sum = *sum + x * v;
                    }
                }
                None => {
                    for (sum, &v) in sums.iter_mut().zip(column.iter()) {
                        *sum = *sum + x * v;
                    }
                }
            }
        }
        sums
    } else {
        a.rows().into_iter().map(|row| row.iter().fold(T::zero(), |sum, &v| sum + x * v)).collect()
    }
}

#[track_caller]
fn check_same_dtype(a: &Tensor, b: &Tensor, what: &str) {
    let (da, db) = (a.dtype(), b.dtype());
    if da != db {
        match what {
            "dot" => crate::raise!(
                "dot : expected both vectors to have same dtype, but found {} and {}",
                dtype_title(da),
                dtype_title(db)
            ),
            // torch.mv goes through addmv: (vec, mat, vec)
            "mv" => crate::raise!(
                "addmv input tensors must have the same dtype, but got {}, {}, and {}",
                dtype_title(db),
                dtype_title(da),
                dtype_title(db)
            ),
            _ => crate::raise!(
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                da.cpp_name(),
                db.cpp_name()
            ),
        }
    }
}

impl Tensor {
    /// Inner product of two 1-D tensors (`torch.dot`, `DotBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = arange(4.0).requires_grad_(true);
    /// let y = 2.0 * x.dot(&x);
    /// assert_eq!(y.to_string(), "tensor(28., grad_fn=<MulBackward0>)");
    /// y.backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([ 0.,  4.,  8., 12.])");
    /// ```
    #[track_caller]
    pub fn dot(&self, other: &Tensor) -> Tensor {
        let (sa, sb) = (self.shape(), other.shape());
        if sa.len() != 1 || sb.len() != 1 {
            crate::raise!("1D tensors expected, but got {}D and {}D tensors", sa.len(), sb.len());
        }
        if sa[0] != sb[0] {
            crate::raise!(
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                sa[0], sb[0], sa[0], sb[0]
            );
        }
        check_same_dtype(self, other, "dot");
        let out = mm_values(&self.reshape([1, -1]), &other.reshape([-1, 1]), Kernel::Dot)
            .reshape(Vec::<isize>::new())
            .detach();
        // d (a . b) = b da + a db
        record(
            out,
            "DotBackward0",
            &[Some(self), Some(other)],
            &["self", "tensor"],
            |_| vec![SavedTensor::input(self), SavedTensor::input(other)],
            |s, g, needs| vec![needs[0].then(|| s[1].mul(g)), needs[1].then(|| s[0].mul(g))],
        )
    }

    /// Matrix product of two 2-D tensors (`torch.mm`, `MmBackward0`).
    #[track_caller]
    pub fn mm(&self, other: &Tensor) -> Tensor {
        let (sa, sb) = (self.shape(), other.shape());
        if sa.len() != 2 {
            crate::raise!("mm: self must be a matrix, got {}-D tensor", sa.len());
        }
        if sb.len() != 2 {
            crate::raise!("mm: mat2 must be a matrix, got {}-D tensor", sb.len());
        }
        if sa[1] != sb[0] {
            crate::raise!(
                "mm: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                sa[0],
                sa[1],
                sb[0],
                sb[1]
            );
        }
        check_same_dtype(self, other, "mm");
        let out = mm_values(self, other, Kernel::Mm);
        let (a_req, b_req) = (self.requires_grad(), other.requires_grad());
        // torch's mm_mat1_backward / mm_mat2_backward compute a column-major input's gradient
        // transposed (`(B G^T)^T`, `(G^T A)^T`), which rounds as that other product does
        let column_major = |t: &Tensor| {
            let (shape, strides) = (t.shape(), t.stride());
            strides[0] == 1 && strides[1] == shape[0]
        };
        let (a_columns, b_columns) = (column_major(self), column_major(other));
        // d (A B) = dA B + A dB:  grad_A = G B^T,  grad_B = A^T G
        record(
            out,
            "MmBackward0",
            &[Some(self), Some(other)],
            &["mat2", "self"],
            |_| {
                let mut saved = Vec::new();
                if a_req {
                    saved.push(SavedTensor::input(other));
                }
                if b_req {
                    saved.push(SavedTensor::input(self));
                }
                saved
            },
            move |s, g, needs| {
                let mat2 = a_req.then(|| &s[0]);
                let mat1 = b_req.then(|| &s[usize::from(a_req)]);
                vec![
                    needs[0].then(|| {
                        let mat2 = mat2.expect("saved");
                        if a_columns {
                            mat2.mm(&g.t()).t()
                        } else {
                            g.mm(&mat2.t())
                        }
                    }),
                    needs[1].then(|| {
                        let mat1 = mat1.expect("saved");
                        if b_columns {
                            g.t().mm(mat1).t()
                        } else {
                            mat1.t().mm(g)
                        }
                    }),
                ]
            },
        )
    }

    /// Matrix-vector product (`torch.mv`, `MvBackward0`).
    #[track_caller]
    pub fn mv(&self, vec: &Tensor) -> Tensor {
        let (sa, sv) = (self.shape(), vec.shape());
        if sa.len() != 2 || sv.len() != 1 {
            crate::raise!("vector + matrix @ vector expected, got {}, {}, {}", 1, sa.len(), sv.len());
        }
        if sa[1] != sv[0] {
            crate::raise!("size mismatch, got input ({}), mat ({}x{}), vec ({})", sa[0], sa[0], sa[1], sv[0]);
        }
        check_same_dtype(self, vec, "mv");
        let (m, k) = (sa[0], sa[1]);
        let out = match self.dtype() {
            // one element for all of `vec` (e.g. the gradient `sum()` sends back, expanded)
            DType::Float32 | DType::Float64 if vec.stride()[0] == 0 && m > 0 && k > 0 => {
                let x = vec.to_vec_f64()[0];
                let buffer = match self.dtype() {
                    DType::Float64 => {
                        Buffer::F64(with_matrix(self, |a| mv_stride_zero(a, x, &self.stride())))
                    }
                    _ => Buffer::F32(with_matrix(self, |a| mv_stride_zero(a, x as f32, &self.stride()))),
                };
                Tensor::from_buffer(buffer, &[m])
            }
            _ => mm_values(self, &vec.reshape([-1, 1]).detach(), Kernel::Mv).reshape([-1]).detach(),
        };
        // d (A v) = dA v + A dv:  grad_A = g v^T (torch's grad.ger(vec): outer, the column
        // g times the row v elementwise, so -1.5 * 0. stays -0.),  grad_v = A^T g
        record(
            out,
            "MvBackward0",
            &[Some(self), Some(vec)],
            &["vec", "self"],
            |_| vec![SavedTensor::input(vec), SavedTensor::input(self)],
            |s, g, needs| {
                vec![needs[0].then(|| g.reshape([-1, 1]).mul(&s[0])), needs[1].then(|| s[1].t().mv(g))]
            },
        )
    }

    /// `a @ b` like `torch.matmul`: dot for 1-D·1-D, mv for 2-D·1-D, a row vector times a
    /// matrix for 1-D·2-D, mm for 2-D·2-D; with more dims either one `mm`/`mv` on the batch
    /// dims folded into rows (`should_fold`) or `bmm` on both inputs expanded to their
    /// broadcast batch shape, the result an `_unsafe_view` of it — torch's `_matmul_impl`,
    /// whose choice shows in the graph (`UnsafeViewBackward0`, `BmmBackward0`, ...) and in
    /// the last bits.
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let (da, db) = (self.dim(), other.dim());
        match (da, db) {
            (0, _) | (_, 0) => {
                crate::raise!("both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
            }
            (1, 1) => self.dot(other),
            (2, 1) => self.mv(other),
            // torch: t1.unsqueeze(0).mm(t2).squeeze_(0)  (SqueezeBackward4)
            (1, 2) => squeeze_first_in_place(&self.unsqueeze(0).mm(other)),
            (2, 2) => self.mm(other),
            _ if should_fold(self, other) => folded_matmul(self, other),
            _ => batched_matmul(self, other),
        }
    }
}

/// torch's `should_fold`: whether `matmul` folds the batch dims of the larger input (at least
/// 3-D, against a vector or matrix) into the rows of one `mm`/`mv`. It does when the smaller
/// input requires grad; otherwise not for a matrix on the left, and only when the larger
/// one's batch dims are one run in memory (no copy).
fn should_fold(a: &Tensor, b: &Tensor) -> bool {
    let a_larger = a.dim() >= b.dim();
    // the larger input (the right one transposed in its last two dims)
    let (mut shape, mut strides) = if a_larger { (a.shape(), a.stride()) } else { (b.shape(), b.stride()) };
    if !a_larger {
        let n = shape.len();
        shape.swap(n - 2, n - 1);
        strides.swap(n - 2, n - 1);
    }
    let smaller = if a_larger { b } else { a };
    if !(shape.len() >= 3 && smaller.dim() <= 2) {
        return false;
    }
    if smaller.requires_grad() {
        return true;
    }
    if a.dim() == 2 {
        return false;
    }
    if shape.contains(&0) {
        return true;
    }
    (0..shape.len() - 2).all(|i| strides[i] == strides[i + 1] * shape[i + 1])
}

/// `matmul` as one `mm` (or `mv`) on the larger input with its batch dims folded into rows;
/// when the right side is the larger, on both transposed and the result transposed back.
#[track_caller]
fn folded_matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let transpose = b.dim() > a.dim();
    let t1 = if transpose { b.transpose(-2, -1) } else { a.clone() };
    let t2 = if !transpose {
        b.clone()
    } else if a.dim() == 2 {
        a.t()
    } else {
        a.clone()
    };
    let sizes = t1.shape();
    let (batch, k) = sizes.split_at(sizes.len() - 1);
    let mut out_shape = batch.to_vec();
    let rows: usize = batch.iter().product();
    let folded = t1.reshape([rows as isize, k[0] as isize]);
    if t2.dim() == 2 {
        out_shape.push(t2.shape()[1]);
        let out = folded.mm(&t2).unsafe_view(&out_shape);
        if transpose {
            out.transpose(-2, -1).contiguous()
        } else {
            out
        }
    } else {
        folded.mv(&t2).unsafe_view(&out_shape)
    }
}

/// `matmul` as `bmm` of both inputs expanded to their broadcast batch shape and flattened to
/// one batch dim (a vector on the right as a one-column matrix).
#[track_caller]
fn batched_matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let (da, db) = (a.dim(), b.dim());
    let (sa, sb) = (a.shape(), b.shape());
    let n = if da > 1 { sa[da - 2] } else { 1 };
    let m1 = sa[da - 1];
    let batch_a = &sa[..da.saturating_sub(2)];
    let (m2, p) = if db > 1 { (sb[db - 2], sb[db - 1]) } else { (sb[0], 1) };
    let batch_b = &sb[..db.saturating_sub(2)];
    if da == 3 && db == 3 && batch_a[0] != batch_b[0] {
        // a batch of one that requires grad: matmul without that dim
        if batch_a[0] == 1 && a.requires_grad() {
            return a.squeeze_dim(0).matmul(b);
        }
        if batch_b[0] == 1 && b.requires_grad() {
            return a.matmul(&b.squeeze_dim(0));
        }
    }
    let batch = super::elementwise::broadcast_or_raise(batch_a, batch_b).to_vec();
    let count: usize = batch.iter().product();
    let sized = |tail: &[usize]| -> Vec<usize> { batch.iter().chain(tail).copied().collect() };
    let a3 = a.expand(sized(&[n, m1])).reshape([count, n, m1]);
    let vector = db == 1;
    let b3 = if vector {
        b.expand(sized(&[m2])).reshape([count, m2]).unsqueeze(2)
    } else {
        b.expand(sized(&[m2, p])).reshape([count, m2, p])
    };
    let mut out_shape = batch.clone();
    if da > 1 {
        out_shape.push(n);
    }
    if db > 1 {
        out_shape.push(p);
    }
    let product = a3.bmm(&b3);
    let product = if vector { product.squeeze_dim(-1) } else { product };
    product.unsafe_view(&out_shape)
}

/// `torch.dot(a, b)`.
#[track_caller]
pub fn dot(a: &Tensor, b: &Tensor) -> Tensor {
    a.dot(b)
}

/// `torch.matmul(a, b)`.
#[track_caller]
pub fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    a.matmul(b)
}

/// `m.squeeze_(0)` on a fresh matrix product: the same storage without its first dim (not a
/// view; torch's node `SqueezeBackward4`).
fn squeeze_first_in_place(m: &Tensor) -> Tensor {
    let data = m.read_data();
    let mut layout = data.layout.clone();
    layout.shape.remove(0);
    layout.strides.remove(0);
    // squeeze_ is an in-place op: torch bumps the version counter (`(x @ m)._version` is 1)
    data.bump_version();
    let out = Tensor::from_parts_counted(data.storage, layout, data.dtype, data.own_version);
    // d squeeze(x, 0) = grad with the dim put back (torch: grad.unsqueeze(0))
    record(out, "SqueezeBackward4", &[Some(m)], &[], |_| vec![], |_, g, _| vec![Some(g.unsqueeze(0))])
}

impl Tensor {
    /// Batched matrix product of two 3-D tensors, `[b, n, k] @ [b, k, m] -> [b, n, m]`
    /// (`torch.bmm`, node `BmmBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let a = ones(&[2, 1, 3]).requires_grad_(true);
    /// let b = arange(6.0).reshape([2, 3, 1]);
    /// let c = a.bmm(&b);
    /// assert_eq!(c.to_string(), "tensor([[[ 3.]],\n\n        [[12.]]], grad_fn=<BmmBackward0>)");
    /// c.sum().backward();
    /// assert_eq!(a.grad().unwrap().to_string(), "tensor([[[0., 1., 2.]],\n\n        [[3., 4., 5.]]])");
    /// ```
    pub fn bmm(&self, other: &Tensor) -> Tensor {
        let (sa, sb) = (self.shape(), other.shape());
        if sa.len() != 3 {
            crate::raise!("batch1 must be a 3D tensor");
        }
        if sb.len() != 3 {
            crate::raise!("batch2 must be a 3D tensor");
        }
        if sb[0] != sa[0] || sb[1] != sa[2] {
            crate::raise!(
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                sa[0],
                sa[2],
                sb[0],
                sb[1]
            );
        }
        let (da, db) = (self.dtype(), other.dtype());
        if da != db {
            crate::raise!("expected scalar type {} but found {}", dtype_title(da), dtype_title(db));
        }
        let (a, b) = (self.detach(), other.detach());
        let (n, k, m) = (sa[1], sa[2], sb[2]);
        let buffer = if k * n * m < 400 && da.is_floating_point() {
            // torch's small-bmm kernel: per element a sum from +0 of separately rounded products
            match da {
                DType::Float64 => Buffer::F64(small_bmm(
                    &super::kernel::to_vec::<f64>(&a),
                    &super::kernel::to_vec::<f64>(&b),
                    sa[0],
                    n,
                    k,
                    m,
                )),
                _ => Buffer::F32(small_bmm(
                    &super::kernel::to_vec::<f32>(&a),
                    &super::kernel::to_vec::<f32>(&b),
                    sa[0],
                    n,
                    k,
                    m,
                )),
            }
        } else {
            bmm_by_batch(&a, &b, sa[0], da)
        };
        let out = Tensor::from_buffer(buffer, &[sa[0], sa[1], sb[2]]);
        let (a_req, b_req) = (self.requires_grad(), other.requires_grad());
        // d (A B) per batch: grad_A = G B^T,  grad_B = A^T G
        record(
            out,
            "BmmBackward0",
            &[Some(self), Some(other)],
            &["mat2", "self"],
            |_| {
                let mut saved = Vec::new();
                if a_req {
                    saved.push(SavedTensor::input(other));
                }
                if b_req {
                    saved.push(SavedTensor::input(self));
                }
                saved
            },
            move |s, g, needs| {
                let mat2 = a_req.then(|| &s[0]);
                let mat1 = b_req.then(|| &s[usize::from(a_req)]);
                vec![
                    needs[0].then(|| g.bmm(&mat2.expect("saved").transpose(1, 2))),
                    needs[1].then(|| mat1.expect("saved").transpose(1, 2).bmm(g)),
                ]
            },
        )
    }
}

/// `a @ b` in row-major order, each element `0 + a[i,0] b[0,j] + a[i,1] b[1,j] + ...` with
/// every product rounded before the add (torch's small mm and bmm kernels, no fused
/// multiply-add).
fn rounded_product_sums<'a, T: FloatElement>(
    a: ArrayView2<'a, T>,
    b: ArrayView2<'a, T>,
) -> impl Iterator<Item = T> + 'a {
    let (n, k, m) = (a.nrows(), a.ncols(), b.ncols());
    (0..n * m).map(move |e| (0..k).fold(T::zero(), |acc, p| acc + a[(e / m, p)] * b[(p, e % m)]))
}

/// torch's `baddbmm_cpu_kernel`, used for a bmm whose `k * n * m` is under 400: per batch,
/// [`rounded_product_sums`].
fn small_bmm<T: FloatElement>(a: &[T], b: &[T], batches: usize, n: usize, k: usize, m: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(batches * n * m);
    for batch in 0..batches {
        let av = ArrayView2::from_shape((n, k), &a[batch * n * k..][..n * k]).expect("contiguous batch");
        let bv = ArrayView2::from_shape((k, m), &b[batch * k * m..][..k * m]).expect("contiguous batch");
        out.extend(rounded_product_sums(av, bv));
    }
    out
}

/// The matrices of a 3-D tensor, one view per batch (of a contiguous copy when the tensor's
/// storage is not of type `T`); None when a dim is empty.
fn with_batches<T: Element, R>(t: &Tensor, f: impl FnOnce(&[ArrayView2<T>]) -> R) -> Option<R> {
    let data = t.read_data();
    let (shape, strides) = (&data.layout.shape, &data.layout.strides);
    let (batches, rows, cols) = (shape[0], shape[1], shape[2]);
    if batches == 0 || rows == 0 || cols == 0 {
        return None;
    }
    fn views<T>(
        all: &[T],
        offset: usize,
        (b, r, c): (usize, usize, usize),
        (s0, s1, s2): (usize, usize, usize),
    ) -> Vec<ArrayView2<'_, T>> {
        (0..b)
            .map(|i| {
                ArrayView2::from_shape((r, c).strides((s1, s2)), &all[offset + i * s0..])
                    .expect("layout lies inside the storage")
            })
            .collect()
    }
    let dims = (batches, rows, cols);
    let buffer = data.storage.read();
    if let Some(all) = T::slice(&buffer) {
        return Some(f(&views(all, data.layout.offset, dims, (strides[0], strides[1], strides[2]))));
    }
    drop(buffer);
    Some(with_slice(t, |s: &[T]| f(&views(s, 0, dims, (rows * cols, cols, 1)))))
}

/// Which gemm a larger bmm of `a` and `b` (3-D) runs on, as torch decides: MKL's batched
/// gemm (`Kernel::Bmm`) when each operand's matrices are row- or column-major
/// (`batch_items_contiguous_or_transposed`), else `addmm` on one batch after another
/// (`Kernel::Mm`: a one-term sum is then the product itself, -0 kept, and a product with one
/// output column has `mm`'s order). A gradient reshaped from a transposed one is such an
/// operand, e.g. in the backward of `v @ x` for a vector `v` and a 3-D `x`.
fn bmm_kernel(a: &Tensor, b: &Tensor) -> Kernel {
    let row_or_column_major = |t: &Tensor| {
        let (shape, strides) = (t.shape(), t.stride());
        let (rows, cols, rs, cs) = (shape[1], shape[2], strides[1], strides[2]);
        (cs == 1 && (rows == 1 || rs >= cols)) || (rs == 1 && (cols == 1 || cs >= rows))
    };
    if row_or_column_major(a) && row_or_column_major(b) {
        Kernel::Bmm
    } else {
        Kernel::Mm
    }
}

/// A larger float bmm: one matrix product per batch, in the order torch's gemm call for that
/// batch sums it, the batches shared out among the threads (each product is summed on one
/// thread, in its own order: the bits do not depend on where it runs).
fn float_bmm<T: FloatElement + ndarray::LinalgScalar + GemmFloat + TorchOrder>(
    a: &Tensor,
    b: &Tensor,
) -> Option<Vec<T>> {
    let kernel = bmm_kernel(a, b);
    with_batches(a, |a_views: &[ArrayView2<T>]| {
        with_batches(b, |b_views: &[ArrayView2<T>]| {
            let (n, k, m) = (a_views[0].nrows(), a_views[0].ncols(), b_views[0].ncols());
            let mut out = vec![T::zero(); a_views.len() * n * m];
            let product = |i: usize, part: &mut [T]| {
                part.copy_from_slice(&matmul_views(a_views[i].view(), b_views[i].view(), kernel))
            };
            if out.len() * k >= 1 << 16 && a_views.len() >= 2 {
                super::parallel::for_each_part(&mut out, n * m, |start, part| product(start / (n * m), part));
            } else {
                out.chunks_mut(n * m).enumerate().for_each(|(i, part)| product(i, part));
            }
            out
        })
    })
    .flatten()
}

/// A larger bmm: one matrix product per batch (torch calls its gemm per batch).
fn bmm_by_batch(a: &Tensor, b: &Tensor, batches: usize, dtype: DType) -> Buffer {
    let floats = match dtype {
        DType::Float32 => float_bmm::<f32>(a, b).map(Buffer::F32),
        DType::Float64 => float_bmm::<f64>(a, b).map(Buffer::F64),
        _ => None,
    };
    if let Some(buffer) = floats {
        return buffer;
    }
    let kernel = bmm_kernel(a, b);
    let parts: Vec<Buffer> = (0..batches as isize)
        .map(|i| mm_values(&a.select(0, i), &b.select(0, i), kernel).contiguous_buffer())
        .collect();
    // one copy per batch (collecting element by element through `flat_map`, which knows no
    // length, took longer than the products of 32 64x64 matrices)
    fn joined<T: Copy>(parts: Vec<Buffer>, slice: impl Fn(&Buffer) -> &[T]) -> Vec<T> {
        let mut out = Vec::with_capacity(parts.iter().map(|p| slice(p).len()).sum());
        for part in &parts {
            out.extend_from_slice(slice(part));
        }
        out
    }
    match dtype {
        DType::Float32 => {
            Buffer::F32(joined(parts, |p| if let Buffer::F32(v) = p { v } else { unreachable!() }))
        }
        DType::Float64 => {
            Buffer::F64(joined(parts, |p| if let Buffer::F64(v) = p { v } else { unreachable!() }))
        }
        _ => Buffer::I64(joined(parts, |p| if let Buffer::I64(v) = p { v } else { unreachable!() })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batches of a bmm on the threads have the bits of one gemm per batch in turn (as
    /// `mm_values` on each batch's matrices), for contiguous, transposed, narrowed and
    /// broadcast batches, float32 and float64, one thread and two.
    #[test]
    fn batches_on_the_threads_have_the_bits_of_one_product_per_batch() {
        fn bits(t: &Tensor) -> Vec<u64> {
            t.to_vec_f64().iter().map(|v| v.to_bits()).collect()
        }
        // (the bits one gemm per batch gives, the bits of bmm) for each case
        fn cases(dtype: DType) -> Vec<(Vec<u64>, Vec<u64>)> {
            let options = crate::factory::TensorOptions::default().dtype(dtype);
            crate::factory::manual_seed(5);
            let a = crate::factory::randn_with(&[6, 40, 50], options);
            let b = crate::factory::randn_with(&[6, 50, 30], options);
            let bt = crate::factory::randn_with(&[6, 30, 50], options).transpose(1, 2);
            let narrowed = crate::factory::randn_with(&[6, 40, 70], options).narrow(2, 10, 50);
            let one = crate::factory::randn_with(&[1, 50, 30], options).expand([6, 50, 30]);
            [(&a, &b), (&a, &bt), (&narrowed, &b), (&a, &one), (&narrowed, &bt)]
                .into_iter()
                .map(|(x, y)| {
                    let per_batch = (0..6)
                        .flat_map(|i| bits(&mm_values(&x.select(0, i), &y.select(0, i), Kernel::Bmm)))
                        .collect();
                    (per_batch, bits(&x.bmm(y)))
                })
                .collect()
        }
        for dtype in [DType::Float32, DType::Float64] {
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                for (k, (per_batch, got)) in pool.install(|| cases(dtype)).into_iter().enumerate() {
                    assert!(got == per_batch, "{dtype:?} case {k}, {threads} threads");
                }
            }
        }
    }

    /// Every split gives the bits of one unsplit product: rows and columns, tile-aligned or not,
    /// float32 and float64, on 4 threads (more parts than the machine has cores).
    #[test]
    fn split_products_have_the_bits_of_one_product() {
        fn check<T: FloatElement + ndarray::LinalgScalar + std::fmt::Debug>(m: usize, k: usize, n: usize) {
            let values = crate::ops::gemm::tests::test_values::<T>(m * k + k * n);
            let a = Array2::from_shape_vec((m, k), values[..m * k].to_vec()).unwrap();
            let b = Array2::from_shape_vec((k, n), values[m * k..].to_vec()).unwrap();
            let mut whole = Array2::<T>::zeros((m, n));
            general_mat_mul(T::from_f64(1.0), &a, &b, T::from_f64(0.0), &mut whole);
            let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
            let mut split = Array2::<T>::zeros((m, n));
            pool.install(|| split_gemm(a.view(), b.view(), split.view_mut()));
            assert_eq!(split, whole, "{m}x{k}x{n}");
        }
        for (m, k, n) in [
            (512, 64, 512),
            (100, 300, 70),
            (1, 700, 900),
            (900, 700, 1),
            (33, 129, 257),
            (257, 129, 33),
            (17, 2000, 19),
        ] {
            check::<f32>(m, k, n);
            check::<f64>(m, k, n);
        }
    }
}
