//! Where elementwise results sit in memory: torch's TensorIterator keeps a transposed or
//! permuted input's order. Every expected (shape, strides) pair below was printed by torch
//! 2.15 for the Python named in the case (`tools/layout/record.py`).

use autograd_core::prelude::*;

#[test]
fn elementwise_results_take_torchs_strides() {
    let a = arange(6.0).reshape([2, 3]);
    let b = arange(24.0).reshape([2, 3, 4]);
    let c = arange(6.0).reshape([3, 2]);
    let row = arange(2.0);
    let col = arange(3.0).reshape([3, 1]);
    let cases: Vec<(&str, Tensor, Vec<usize>, Vec<usize>)> = vec![
        ("a.t() * 2", &a.t() * 2.0, vec![3, 2], vec![1, 3]),
        ("a.t() + c", &a.t() + &c, vec![3, 2], vec![1, 3]),
        ("c + a.t()", &c + &a.t(), vec![3, 2], vec![2, 1]),
        ("a.t() + row", &a.t() + &row, vec![3, 2], vec![1, 3]),
        ("row + a.t()", &row + &a.t(), vec![3, 2], vec![1, 3]),
        ("a.t() + col", &a.t() + &col, vec![3, 2], vec![1, 3]),
        ("col + a.t()", &col + &a.t(), vec![3, 2], vec![1, 3]),
        ("a.t().exp()", a.t().exp(), vec![3, 2], vec![1, 3]),
        ("a.t().neg()", -&a.t(), vec![3, 2], vec![1, 3]),
        ("a.t().clone()", a.t().deep_clone(), vec![3, 2], vec![1, 3]),
        ("a.t().relu()", a.t().relu(), vec![3, 2], vec![1, 3]),
        ("a.t() > 1", a.t().gt(1.0), vec![3, 2], vec![1, 3]),
        ("a.t().sigmoid()", a.t().sigmoid(), vec![3, 2], vec![1, 3]),
        ("b.permute(2, 0, 1) * 1", &b.permute([2, 0, 1]) * 1.0, vec![4, 2, 3], vec![1, 12, 4]),
        ("b.permute(1, 2, 0) + 1", &b.permute([1, 2, 0]) + 1.0, vec![3, 4, 2], vec![4, 1, 12]),
        ("b.transpose(0, 2).sin()", b.transpose(0, 2).sin(), vec![4, 3, 2], vec![1, 4, 12]),
        (
            "b.transpose(0, 1) * b.permute(1, 0, 2)",
            &b.transpose(0, 1) * &b.permute([1, 0, 2]),
            vec![3, 2, 4],
            vec![4, 12, 1],
        ),
        (
            "b.transpose(0, 1) * b.transpose(0, 1).contiguous()",
            &b.transpose(0, 1) * &b.transpose(0, 1).contiguous(),
            vec![3, 2, 4],
            vec![4, 12, 1],
        ),
        ("b.transpose(1, 2)[0] * 2", &b.transpose(1, 2).select(0, 0) * 2.0, vec![4, 3], vec![1, 4]),
        ("b[:, 1] * 2", &b.select(1, 1) * 2.0, vec![2, 4], vec![4, 1]),
        ("b[:, 1].t() * 2", &b.select(1, 1).t() * 2.0, vec![4, 2], vec![1, 4]),
        ("a.t().unsqueeze(1) * 2", &a.t().unsqueeze(1) * 2.0, vec![3, 1, 2], vec![1, 6, 3]),
        (
            "a.unsqueeze(2).transpose(0, 2) * 2",
            &a.unsqueeze(2).transpose(0, 2) * 2.0,
            vec![1, 3, 2],
            vec![1, 1, 3],
        ),
        ("a[:1].t() * 2", &a.index(idx![..1]).t() * 2.0, vec![3, 1], vec![1, 3]),
        ("a[:, :1].t() * 2", &a.index(idx![.., ..1]).t() * 2.0, vec![1, 2], vec![1, 1]),
        ("a.t().expand(2, 3, 2) * 1", &a.t().expand([2, 3, 2]) * 1.0, vec![2, 3, 2], vec![6, 1, 3]),
        ("a.t().pow(2)", a.t().pow(2.0), vec![3, 2], vec![1, 3]),
        ("a.t().clamp(0, 3)", a.t().clamp(Some(0.0), Some(3.0)), vec![3, 2], vec![1, 3]),
        ("a.t() / a.t()", &a.t() / &a.t(), vec![3, 2], vec![1, 3]),
        ("a.t().masked_fill(a.t() > 2, 0)", a.t().masked_fill(&a.t().gt(2.0), 0.0), vec![3, 2], vec![2, 1]),
        (
            "torch.where(a.t() > 2, a.t(), 0.)",
            where_(&a.t().gt(2.0), &a.t(), &tensor!(0.)),
            vec![3, 2],
            vec![1, 3],
        ),
        ("torch.maximum(a.t(), c)", a.t().maximum(&c), vec![3, 2], vec![1, 3]),
        ("a.t().abs()", a.t().abs(), vec![3, 2], vec![1, 3]),
        ("a.t().sqrt()", a.t().sqrt(), vec![3, 2], vec![1, 3]),
        ("a.t().tanh()", a.t().tanh(), vec![3, 2], vec![1, 3]),
        ("a.t().log()", a.t().log(), vec![3, 2], vec![1, 3]),
        ("a.t().sgn()", a.t().sgn(), vec![3, 2], vec![1, 3]),
    ];
    for (python, result, shape, strides) in cases {
        assert_eq!((result.shape(), result.stride()), (shape, strides), "{python}");
    }
}

#[test]
fn a_transposed_result_views_and_flattens_as_in_torch() {
    // torch 2.15: x = torch.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
    // y = x.t() * 2; y.is_contiguous() False; y.view(-1) raises; y.flatten().grad_fn
    // UnsafeViewBackward0 over CloneBackward0; values [2., 8., 4., 10., 6., 12.]
    let x = tensor!([[1., 2., 3.], [4., 5., 6.]], requires_grad = true);
    let y = &x.t() * 2.0;
    assert!(!y.is_contiguous());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.view([-1]))).expect_err("view");
    assert_eq!(
        autograd_core::error::TorchError::from_payload(err.as_ref()).message,
        "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead."
    );
    let flat = y.flatten();
    assert_eq!(flat.to_string(), "tensor([ 2.,  8.,  4., 10.,  6., 12.], grad_fn=<UnsafeViewBackward0>)");
    let next = flat.grad_fn().unwrap().next_functions();
    assert_eq!(next[0].0.as_ref().unwrap().name(), "CloneBackward0");
    flat.sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([[2., 2., 2.],\n        [2., 2., 2.]])");
    // .contiguous() is row-major again
    assert_eq!(y.contiguous().stride(), vec![2, 1]);
}

/// A tensor and a number (`x * 1.01`, `2 - x`) have a path of their own for row-major float
/// tensors; every result must be the one the same number as a 0-dim tensor of `x`'s dtype gives
/// through the general broadcasting path: same bits, shape, strides and dtype, for row-major,
/// offset, transposed, expanded and large (parallel) inputs.
#[test]
fn a_number_operand_gives_what_the_same_number_as_a_tensor_gives() {
    manual_seed(0);
    let base = randn(&[4, 3]);
    let inputs: Vec<(&str, Tensor)> = vec![
        ("0-dim", randn(&[])),
        ("row", randn(&[5])),
        ("matrix", base.clone()),
        ("3-d with a 1", randn(&[3, 1, 4])),
        ("rows 1..3 (offset)", base.narrow(0, 1, 2)),
        ("column (stride 3)", base.narrow(1, 1, 1)),
        ("transposed", base.t()),
        ("expanded", randn(&[3, 1]).expand([3, 4])),
        ("large", randn(&[300, 300])),
    ];
    type Op = fn(&Tensor, Scalar) -> Tensor;
    type TensorOp = fn(&Tensor, &Tensor) -> Tensor;
    let ops: [(&str, Op, TensorOp); 5] = [
        ("x + c", |x, c| x.add(c), |x, t| x.add(t)),
        ("x - c", |x, c| x.sub(c), |x, t| x.sub(t)),
        ("x * c", |x, c| x.mul(c), |x, t| x.mul(t)),
        ("x / c", |x, c| x.div(c), |x, t| x.div(t)),
        ("c - x", |x, c| x.rsub(c), |x, t| t.sub(x)),
    ];
    let bits = |t: &Tensor| t.to_vec_f64().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for dtype in [DType::Float32, DType::Float64] {
        for (name, input) in &inputs {
            let x = input.to_dtype(dtype);
            for number in [Scalar::Float(1.01), Scalar::Float(-0.1), Scalar::Int(3), Scalar::Float(0.0)] {
                let as_tensor = Tensor::from_vec(vec![number.as_f64()], &[], dtype);
                for (op, with_number, with_tensor) in ops {
                    let (got, want) = (with_number(&x, number), with_tensor(&x, &as_tensor));
                    let case = format!("{op} with x {name} ({dtype:?}), c = {number:?}");
                    assert_eq!(
                        (got.shape(), got.stride(), got.dtype()),
                        (want.shape(), want.stride(), want.dtype()),
                        "{case}"
                    );
                    assert_eq!(bits(&got), bits(&want), "{case}");
                }
            }
        }
    }
}

/// Two tensors of one shape and dtype (`x.data - step`, `a * b`) have a path of their own when
/// both are row-major: every value must be the float arithmetic of the two elements, in the
/// tensors' dtype, for row-major, offset and transposed operands, small and large (parallel).
#[test]
fn two_tensors_of_one_shape_give_their_elements_arithmetic() {
    manual_seed(0);
    let m = randn(&[4, 3]);
    let big = randn(&[300, 300]);
    let pairs: Vec<(&str, Tensor, Tensor)> = vec![
        ("0-dim", randn(&[]), randn(&[])),
        ("rows", randn(&[5]), randn(&[5])),
        ("matrices", m.clone(), randn(&[4, 3])),
        ("the same tensor twice", m.clone(), m.clone()),
        ("offset rows", m.narrow(0, 1, 2), m.narrow(0, 2, 2)),
        ("transposed", m.t(), randn(&[3, 4])),
        ("large", big.clone(), randn(&[300, 300])),
        ("large, transposed", big.t(), big.clone()),
    ];
    type TensorOp = fn(&Tensor, &Tensor) -> Tensor;
    /// the op's name, on tensors, and on one element of each dtype
    type Case = (&'static str, TensorOp, fn(f64, f64) -> f64, fn(f32, f32) -> f32);
    let ops: [Case; 4] = [
        ("x + y", |x, y| x.add(y), |a, b| a + b, |a, b| a + b),
        ("x - y", |x, y| x.sub(y), |a, b| a - b, |a, b| a - b),
        ("x * y", |x, y| x.mul(y), |a, b| a * b, |a, b| a * b),
        ("x / y", |x, y| x.div(y), |a, b| a / b, |a, b| a / b),
    ];
    for dtype in [DType::Float32, DType::Float64] {
        for (name, x, y) in &pairs {
            let (x, y) = (x.to_dtype(dtype), y.to_dtype(dtype));
            for (op, tensors, in_f64, in_f32) in ops {
                let got = tensors(&x, &y);
                let case = format!("{op} on {name} ({dtype:?})");
                assert_eq!((got.shape(), got.dtype()), (x.shape(), dtype), "{case}");
                if x.is_contiguous() && y.is_contiguous() {
                    assert!(got.is_contiguous(), "{case}");
                }
                let want: Vec<u64> = x
                    .to_vec_f64()
                    .into_iter()
                    .zip(y.to_vec_f64())
                    .map(|(a, b)| match dtype {
                        DType::Float32 => (in_f32(a as f32, b as f32) as f64).to_bits(),
                        _ => in_f64(a, b).to_bits(),
                    })
                    .collect();
                let bits: Vec<u64> = got.to_vec_f64().iter().map(|v| v.to_bits()).collect();
                assert_eq!(bits, want, "{case}");
            }
        }
    }
}

/// `x.pow(number)` has a path of its own for row-major float tensors (torch's special cases,
/// `x*x` for 2, `sqrt` for 0.5, ...); its results must be those of the general path, which a
/// column-major copy of the same values takes: same bits, shape and dtype. Any other exponent
/// (`2.5`, or `0.5000000001`, which is not `sqrt` even in float32) runs SLEEF's `pow` on the
/// elements torch takes a vector at a time, and those depend on the layout (tests/pow.rs
/// checks them against torch): it is compared here on inputs too short for a vector, where
/// every element goes through `std::pow` in both layouts.
#[test]
fn a_number_exponent_gives_what_the_general_path_gives() {
    manual_seed(0);
    let inputs: Vec<(&str, Tensor)> = vec![
        ("0-dim", randn(&[])),
        ("matrix", randn(&[4, 3])),
        ("with zeros", Tensor::from_vec(vec![0.0, -0.0, 2.0, -3.0, 0.25, 1e-30], &[2, 3], DType::Float64)),
        ("large", randn(&[300, 300])),
    ];
    let exponents = [
        Scalar::Int(2),
        Scalar::Int(3),
        Scalar::Int(-2),
        Scalar::Int(0),
        Scalar::Int(1),
        Scalar::Float(0.5),
        Scalar::Float(-0.5),
        Scalar::Float(-1.0),
        Scalar::Float(2.5),
        Scalar::Float(0.1),
        Scalar::Float(0.5000000001),
    ];
    let bits = |t: &Tensor| t.to_vec_f64().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for dtype in [DType::Float32, DType::Float64] {
        for (name, input) in &inputs {
            let x = input.to_dtype(dtype);
            // the same values, column-major (a 0-dim tensor has no other layout)
            let other = if x.dim() == 2 { x.t().contiguous().t() } else { x.clone() };
            for e in exponents {
                let special = [2.0, 3.0, -2.0, 0.0, 1.0, 0.5, -0.5, -1.0].contains(&e.as_f64());
                if !special && x.numel() >= 16 {
                    continue;
                }
                let (got, want) = (x.pow(e), other.pow(e));
                let case = format!("x.pow({e:?}) with x {name} ({dtype:?})");
                assert_eq!((got.shape(), got.dtype()), (want.shape(), want.dtype()), "{case}");
                assert!(got.is_contiguous(), "{case}");
                assert_eq!(bits(&got), bits(&want), "{case}");
            }
        }
    }
}
