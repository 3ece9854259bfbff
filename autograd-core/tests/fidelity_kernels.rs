//! Kernels and backward formulas that must match PyTorch 2.15 to the printed digit and the
//! node name: selects that never multiply by a mask (NaN and infinities stay local), torch's
//! formula order (so `x / x` has gradient exactly 0), `pow` at base 0, real negation, and the
//! nodes torch's own backward formulas create under `create_graph`. Every expected string
//! below was printed by PyTorch 2.15.

use autograd_core::error::{ErrorKind, TorchError};
use autograd_core::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn grad(x: &Tensor) -> String {
    x.grad().unwrap().to_string()
}

fn name(t: &Tensor) -> String {
    t.grad_fn().map(|n| n.name()).unwrap_or_else(|| "None".into())
}

/// `next_functions` as names, `None` for a missing edge.
fn next_names(t: &Tensor) -> Vec<String> {
    t.grad_fn()
        .unwrap()
        .next_functions()
        .iter()
        .map(|(n, _)| {
            n.as_ref().map(|n| n.name().replace("torch::autograd::", "")).unwrap_or_else(|| "None".into())
        })
        .collect()
}

fn error_of(f: impl FnOnce()) -> TorchError {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected an error");
    TorchError::from_payload(&*payload)
}

#[test]
fn masked_fill_selects_and_keeps_the_dtype() {
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = x.masked_fill(&x.gt(2.0), f64::NEG_INFINITY);
    assert_eq!(y.to_string(), "tensor([1., 2., -inf], grad_fn=<MaskedFillBackward0>)");
    assert_eq!(next_names(&y), ["AccumulateGrad"]);
    y.sum().backward();
    assert_eq!(grad(&x), "tensor([1., 1., 0.])");

    let m = tensor!([true, false, false]);
    assert_eq!(tensor!([1., INF, NAN]).masked_fill(&m, 5.0).to_string(), "tensor([5., inf, nan])");
    assert_eq!(tensor!([1, 2, 3]).masked_fill(&m, 5.5).to_string(), "tensor([5, 2, 3])");
    let d = tensor!([1., 2.], dtype = float64).masked_fill(&tensor!([false, true]), NAN);
    assert_eq!(d.to_string(), "tensor([1., nan], dtype=torch.float64)");
}

#[test]
fn masked_fill_broadcasts_and_its_gradient_never_meets_the_fill() {
    let x = tensor!([1., 2.], requires_grad = true);
    let y = x.masked_fill(&tensor!([[true, false], [false, false]]), 0.0);
    assert_eq!(y.to_string(), "tensor([[0., 2.],\n        [1., 2.]], grad_fn=<MaskedFillBackward0>)");
    y.sum().backward();
    assert_eq!(grad(&x), "tensor([1., 2.])");

    let x = tensor!([-1., 2.], requires_grad = true);
    let y = x.masked_fill(&tensor!([true, false]), 0.0);
    (&y * &tensor!([INF, 1.])).sum().backward();
    assert_eq!(grad(&x), "tensor([0., 1.])");
}

#[test]
fn masked_fill_errors_as_torch() {
    let e = error_of(|| {
        tensor!([1., 2.]).masked_fill(&tensor!([1, 0]), 0.0);
    });
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::RuntimeError,
            "masked_fill_ only supports boolean masks, but got mask with dtype long int"
        )
    );
    let e = error_of(|| {
        tensor!([1., 2.]).masked_fill(&tensor!([true, false, true]), 0.0);
    });
    assert_eq!(
        e.message,
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"
    );
    let e = error_of(|| {
        tensor!([1, 2]).masked_fill(&tensor!([true, false]), NAN);
    });
    assert_eq!(e.message, "value cannot be converted to type int64_t without overflow");
}

#[test]
fn relu_keeps_nan_negative_zero_and_int64() {
    assert_eq!(tensor!([NAN, -1., 2.]).relu().to_string(), "tensor([nan, 0., 2.])");
    assert_eq!(tensor!([3, -2]).relu().to_string(), "tensor([3, 0])");
    assert_eq!(tensor!([-0., 0.]).relu().to_string(), "tensor([-0., 0.])");
    let e = error_of(|| {
        tensor!([true, false]).relu();
    });
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotImplementedError, "Boolean inputs not supported for relu")
    );
}

#[test]
fn relu_backward_selects() {
    let x = tensor!([-1., 2.], requires_grad = true);
    (&x.relu() * &tensor!([INF, 1.])).sum().backward();
    assert_eq!(grad(&x), "tensor([0., 1.])");
    // threshold_backward: grad unless result <= 0, so a NaN result passes the gradient
    let x = tensor!([NAN, 0., -3., 2.], requires_grad = true);
    x.relu().sum().backward();
    assert_eq!(grad(&x), "tensor([1., 0., 0., 1.])");
}

#[test]
fn clamp_values_and_gradient_at_the_bounds() {
    let cases = [
        (
            Some(-1.0),
            Some(1.0),
            "tensor([ 1.0000,  0.5000, -1.0000,  1.0000,     nan, -1.0000],\n       grad_fn=<ClampBackward1>)",
            "tensor([0., 1., 0., 0., 0., 0.])",
        ),
        (
            Some(-1.0),
            None,
            "tensor([ 1.0000,  0.5000, -1.0000,  3.0000,     nan, -1.0000],\n       grad_fn=<ClampBackward1>)",
            "tensor([1., 1., 0., 1., 0., 0.])",
        ),
        (
            None,
            Some(1.0),
            "tensor([ 1.0000,  0.5000, -1.0000,  1.0000,     nan, -3.0000],\n       grad_fn=<ClampBackward1>)",
            "tensor([0., 1., 1., 0., 0., 1.])",
        ),
    ];
    for (lo, hi, value, gradient) in cases {
        let x = tensor!([1., 0.5, -1., 3., NAN, -3.], requires_grad = true);
        let y = x.clamp(lo, hi);
        assert_eq!(y.to_string(), value);
        y.sum().backward();
        assert_eq!(grad(&x), gradient, "clamp({lo:?}, {hi:?})");
    }
    let x = tensor!([[1., 0.], [-1., 4.], [4., 3.]], requires_grad = true);
    (1.5 - x.clamp(None, Some(1.0))).sum().backward();
    assert_eq!(grad(&x), "tensor([[ 0., -1.],\n        [-1.,  0.],\n        [ 0.,  0.]])");
    let x = tensor!([-1., 2.], requires_grad = true);
    (&x.clamp(Some(0.0), Some(1.0)) * &tensor!([INF, 1.])).sum().backward();
    assert_eq!(grad(&x), "tensor([0., 0.])");
    assert_eq!(tensor!([1, 5]).clamp(Some(2.0), Some(3.0)).to_string(), "tensor([2, 3])");
    assert_eq!(tensor!([1., 2.]).clamp(Some(3.0), Some(1.0)).to_string(), "tensor([1., 1.])");
    assert_eq!(tensor!([-0.]).clamp(Some(0.0), None).to_string(), "tensor([-0.])");
}

#[test]
fn maximum_and_minimum_send_the_gradient_where_torch_does() {
    let w = tensor!([1., 2., 3., 4., -5.]);
    let a = tensor!([NAN, 1., 2., NAN, 3.], requires_grad = true);
    let b = tensor!([1., NAN, 2., NAN, 1.], requires_grad = true);
    let y = a.maximum(&b);
    assert_eq!(y.to_string(), "tensor([nan, nan, 2., nan, 3.], grad_fn=<MaximumBackward0>)");
    (&y * &w).sum().backward();
    assert_eq!(grad(&a), "tensor([ 1.0000,  2.0000,  1.5000,  4.0000, -5.0000])");
    assert_eq!(grad(&b), "tensor([1.0000, 2.0000, 1.5000, 4.0000, 0.0000])");

    let a = tensor!([NAN, 1., 2., NAN, 3.], requires_grad = true);
    let b = tensor!([1., NAN, 2., NAN, 1.], requires_grad = true);
    let y = a.minimum(&b);
    assert_eq!(y.to_string(), "tensor([nan, nan, 2., nan, 1.], grad_fn=<MinimumBackward0>)");
    (&y * &w).sum().backward();
    assert_eq!(grad(&a), "tensor([1.0000, 2.0000, 1.5000, 4.0000, 0.0000])");
    assert_eq!(grad(&b), "tensor([ 1.0000,  2.0000,  1.5000,  4.0000, -5.0000])");
}

/// Of `-0.` and `0.`, torch's vector form of maximum/minimum keeps the second operand and its
/// scalar form the first; the scalar form takes the last `n % 16` (float32) or `n % 8`
/// (float64) elements of each contiguous run and every element of a strided one. Strings
/// printed by torch 2.15.
#[test]
fn maximum_and_minimum_of_signed_zeros_follow_torchs_lanes() {
    let zeros = |shape: &[usize]| zeros(shape);
    let negative = |shape: &[usize]| -zeros(shape);
    assert_eq!(
        negative(&[20]).maximum(&zeros(&[20])).to_string(),
        "tensor([0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., -0., -0., -0., -0.])"
    );
    assert_eq!(
        zeros(&[20]).minimum(&negative(&[20])).to_string(),
        "tensor([-0., -0., -0., -0., -0., -0., -0., -0., -0., -0., -0., -0., -0., -0., -0., -0., 0., 0., 0., 0.])"
    );
    let z64 = zeros_with(&[10], TensorOptions::default().dtype(DType::Float64));
    assert_eq!(
        (-&z64).maximum(&z64).to_string(),
        "tensor([0., 0., 0., 0., 0., 0., 0., 0., -0., -0.], dtype=torch.float64)"
    );
    assert_eq!(
        negative(&[2, 20]).maximum(&zeros(&[20])).to_string(),
        "tensor([[0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., -0., -0., -0., -0.],\n        \
         [0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., -0., -0., -0., -0.]])"
    );
    assert_eq!(
        negative(&[3, 4]).t().maximum(&zeros(&[4, 3])).to_string(),
        "tensor([[-0., -0., -0.],\n        [-0., -0., -0.],\n        [-0., -0., -0.],\n        [-0., -0., -0.]])"
    );
    assert_eq!(
        negative(&[3, 6]).t().maximum(&zeros(&[3, 6]).t()).to_string(),
        "tensor([[0., 0., 0.],\n        [0., 0., 0.],\n        [0., 0., 0.],\n        [0., 0., 0.],\n        \
         [0., 0., -0.],\n        [0., 0., -0.]])"
    );
}

#[test]
fn x_over_x_has_gradient_exactly_zero() {
    manual_seed(0);
    let x = randn(&[5]).requires_grad_(true);
    (&x / &x).sum().backward();
    assert_eq!(grad(&x), "tensor([0., 0., 0., 0., 0.])");
}

#[test]
fn pow_at_base_zero_matches_torch() {
    let a = tensor!([0., 0., 1., 2.], requires_grad = true);
    let b = tensor!([2., 0., 0., 3.], requires_grad = true);
    a.pow(&b).sum().backward();
    assert_eq!(grad(&a), "tensor([ 0.,  0.,  0., 12.])");
    assert_eq!(grad(&b), "tensor([0.0000, 0.0000, 0.0000, 5.5452])");

    let b = tensor!([0., 1., 2.], requires_grad = true);
    let y = b.rpow(0.0);
    assert_eq!(y.to_string(), "tensor([1., 0., 0.], grad_fn=<PowBackward2>)");
    y.sum().backward();
    assert_eq!(grad(&b), "tensor([0., 0., 0.])");

    let b = tensor!([0., 1., -1., NAN], requires_grad = true);
    let y = b.rpow(0.0);
    assert_eq!(y.to_string(), "tensor([1., 0., inf, nan], grad_fn=<PowBackward2>)");
    y.sum().backward();
    assert_eq!(grad(&b), "tensor([0., 0., -inf, nan])");
}

#[test]
fn pow_with_a_number_at_zero_and_negative_zero() {
    let cases: [(i32, &str, &str); 3] = [
        (0, "tensor([1., 1., 1., 1.], grad_fn=<PowBackward0>)", "tensor([0., 0., 0., 0.])"),
        (
            -1,
            "tensor([    inf,    -inf,  1.0000, -0.5000], grad_fn=<PowBackward0>)",
            "tensor([   -inf,    -inf, -1.0000, -0.2500])",
        ),
        (2, "tensor([0., 0., 1., 4.], grad_fn=<PowBackward0>)", "tensor([ 0., -0.,  2., -4.])"),
    ];
    for (e, value, gradient) in cases {
        let a = tensor!([0., -0., 1., -2.], requires_grad = true);
        let y = a.pow(e);
        assert_eq!(y.to_string(), value);
        y.sum().backward();
        assert_eq!(grad(&a), gradient, "pow({e})");
    }
}

#[test]
fn integer_pow_follows_torch() {
    let r = tensor!([2, -1, 1, -1, 0]).pow(&tensor!([-1, -3, -5, -2, -1]));
    assert_eq!(r.to_string(), "tensor([ 0, -1,  1,  1,  0])");
    let e = error_of(|| {
        tensor!([1, 2]).pow(-1);
    });
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::RuntimeError, "Integers to negative integer powers are not allowed.")
    );
    assert_eq!(tensor!([2, 3]).pow(2).to_string(), "tensor([4, 9])");
}

#[test]
fn ops_on_an_expanded_tensor_give_full_size_results() {
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = x.expand([2, 3]).pow(2);
    assert_eq!(y.to_string(), "tensor([[1., 4., 9.],\n        [1., 4., 9.]], grad_fn=<PowBackward0>)");
    assert_eq!(y.to_vec_f64().len(), 6);
    y.sum().backward();
    assert_eq!(grad(&x), "tensor([ 4.,  8., 12.])");
    let z = tensor!([1., 2., 3.]).expand([2, 3]).pow(0.5);
    assert_eq!(z.to_string(), "tensor([[1.0000, 1.4142, 1.7321],\n        [1.0000, 1.4142, 1.7321]])");
    assert_eq!((z.pow(2.0) + 1.0).sum().item(), 18.0);
}

#[test]
fn negation_is_a_real_negation() {
    let z = -zeros(&[2]);
    assert_eq!(z.to_string(), "tensor([-0., -0.])");
    assert_eq!((1.0 / &z).to_string(), "tensor([-inf, -inf])");
    assert_eq!((-tensor!([1, 2])).to_string(), "tensor([-1, -2])");
    let x = tensor!([1., 2.], requires_grad = true);
    let y = -&x;
    assert_eq!(name(&y), "NegBackward0");
    y.backward_with(&tensor!([0., 1.]));
    assert_eq!(grad(&x), "tensor([-0., -1.])");
    let e = error_of(|| {
        let _ = -tensor!([true]);
    });
    assert_eq!(e.kind, ErrorKind::NotImplementedError);
}

#[test]
fn sum_and_mean_over_a_dim_of_a_zero_dim_tensor() {
    let t = tensor!(3., requires_grad = true);
    let y = t.sum_dim(0, false);
    let y2 = t.mean_dim(-1, true);
    assert_eq!(y.to_string(), "tensor(3., grad_fn=<SumBackward1>)");
    assert_eq!(y2.to_string(), "tensor(3., grad_fn=<MeanBackward1>)");
    (&y + &y2).backward();
    assert_eq!(grad(&t), "tensor(2.)");
    let e = error_of(|| {
        t.sum_dim(1, false);
    });
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    );
}

#[test]
fn matmul_node_names() {
    let v = tensor!([1., 2., 3.], requires_grad = true);
    let m = ones(&[3, 2]).requires_grad_(true);
    let y = v.matmul(&m);
    assert_eq!(name(&y), "SqueezeBackward4");
    assert_eq!(next_names(&y), ["MmBackward0"]);
    y.sum().backward();
    assert_eq!(grad(&v), "tensor([2., 2., 2.])");

    let b = ones(&[4, 2, 3]).requires_grad_(true);
    let y = b.matmul(&m);
    assert_eq!((name(&y), y.shape()), ("UnsafeViewBackward0".to_string(), vec![4, 2, 2]));
    assert_eq!(next_names(&y), ["MmBackward0"]);
    let mm = y.grad_fn().unwrap().next_functions()[0].0.clone().unwrap();
    let under: Vec<String> = mm
        .next_functions()
        .iter()
        .map(|(n, _)| n.as_ref().unwrap().name().replace("torch::autograd::", ""))
        .collect();
    assert_eq!(under, ["ViewBackward0", "AccumulateGrad"]);
    let y = b.matmul(&v);
    assert_eq!(name(&y), "UnsafeViewBackward0");
    assert_eq!(next_names(&y), ["MvBackward0"]);
}

#[test]
fn reshape_node_names_follow_viewability() {
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let cases: [(Tensor, &str, &str); 5] = [
        (x.reshape([3, 1]), "ViewBackward0", "AccumulateGrad"),
        (x.expand([2, 3]).reshape([2, 1, 3]), "ReshapeAliasBackward0", "ExpandBackward0"),
        (x.expand([2, 3]).reshape([6]), "UnsafeViewBackward0", "CloneBackward0"),
        (x.expand([2, 3]).flatten(), "UnsafeViewBackward0", "CloneBackward0"),
        (x.expand([2, 3]).view([2, 1, 3]), "ViewBackward0", "ExpandBackward0"),
    ];
    for (y, node, next) in cases {
        assert_eq!(name(&y), node);
        assert_eq!(next_names(&y), [next]);
    }
    let m = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3], DType::Float32).requires_grad_(true);
    let y = m.t().reshape([3, 2]);
    assert_eq!(
        (name(&y), next_names(&y)),
        ("ReshapeAliasBackward0".to_string(), vec!["TBackward0".to_string()])
    );
    let y = m.t().reshape([6]);
    assert_eq!(y.to_string(), "tensor([1., 4., 2., 5., 3., 6.], grad_fn=<UnsafeViewBackward0>)");
    (&y * &arange(6.0)).sum().backward();
    assert_eq!(grad(&m), "tensor([[0., 2., 4.],\n        [1., 3., 5.]])");
}

/// The node a gradient computed with `create_graph` carries, and its next functions.
fn second_order(f: impl Fn(&Tensor) -> Tensor) -> (String, Vec<String>) {
    let x = tensor!([0.3, -0.7, 1.2], requires_grad = true);
    let y = f(&x);
    let go = ones_like(&y).requires_grad_(true);
    let g = grad_opts(&[&y], &[&x], Some(&[&go]), true, true, false).remove(0).unwrap();
    (name(&g), next_names(&g))
}

type UnaryFn = Box<dyn Fn(&Tensor) -> Tensor>;

#[test]
fn double_backward_nodes_carry_torch_names() {
    let table: Vec<(&str, UnaryFn, &str, Vec<&str>)> = vec![
        ("tanh", Box::new(|x| x.tanh()), "TanhBackwardBackward0", vec!["AccumulateGrad", "TanhBackward0"]),
        (
            "sigmoid",
            Box::new(|x| x.sigmoid()),
            "SigmoidBackwardBackward0",
            vec!["AccumulateGrad", "SigmoidBackward0"],
        ),
        (
            "relu",
            Box::new(|x| x.relu()),
            "ThresholdBackwardBackward0",
            vec!["AccumulateGrad", "ReluBackward0"],
        ),
        (
            "clamp",
            Box::new(|x| x.clamp(Some(-1.0), Some(1.0))),
            "WhereBackward0",
            vec!["AccumulateGrad", "None"],
        ),
        (
            "masked_fill",
            Box::new(|x| x.masked_fill(&x.gt(1.0), 0.0)),
            "MaskedFillBackward0",
            vec!["AccumulateGrad"],
        ),
        ("max", Box::new(|x| x.max()), "MaskedFillBackward1", vec!["None", "DivBackward0"]),
        (
            "maximum",
            Box::new(|x| x.maximum(&(x.detach() * 0.0))),
            "MaskedFillBackward0",
            vec!["WhereBackward0"],
        ),
        ("neg", Box::new(|x| -x), "NegBackward0", vec!["AccumulateGrad"]),
        ("exp", Box::new(|x| x.exp()), "MulBackward0", vec!["AccumulateGrad", "ExpBackward0"]),
        ("abs", Box::new(|x| x.abs()), "MulBackward0", vec!["AccumulateGrad", "SgnBackward0"]),
        ("reciprocal", Box::new(|x| x.reciprocal()), "MulBackward0", vec!["NegBackward0", "MulBackward0"]),
        ("mul2", Box::new(|x| x * 2.0), "MulBackward0", vec!["AccumulateGrad", "None"]),
        ("div2", Box::new(|x| x / 2.0), "DivBackward0", vec!["AccumulateGrad", "None"]),
        ("pow2", Box::new(|x| x.pow(2)), "MulBackward0", vec!["AccumulateGrad", "MulBackward1"]),
        ("sum", Box::new(|x| x.sum()), "ExpandBackward0", vec!["AccumulateGrad"]),
        ("mean", Box::new(|x| x.mean()), "DivBackward1", vec!["ExpandBackward0"]),
        ("rsub", Box::new(|x| 1.0 - x), "NegBackward0", vec!["AccumulateGrad"]),
        ("sqrt", Box::new(|x| x.sqrt()), "DivBackward0", vec!["AccumulateGrad", "MulBackward1"]),
        ("log", Box::new(|x| x.log()), "DivBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        ("sin", Box::new(|x| x.sin()), "MulBackward0", vec!["AccumulateGrad", "CosBackward0"]),
        ("cos", Box::new(|x| x.cos()), "MulBackward0", vec!["AccumulateGrad", "NegBackward0"]),
        ("rpow", Box::new(|x| x.rpow(2.0)), "MulBackward0", vec!["AccumulateGrad", "MulBackward1"]),
        ("rpow at 0", Box::new(|x| x.rpow(0.0)), "MulBackward0", vec!["AccumulateGrad", "WhereBackward0"]),
        ("pow tensor", Box::new(|x| x.pow(x)), "AddBackward0", vec!["WhereBackward0", "MulBackward0"]),
        ("pow 2.5", Box::new(|x| x.pow(2.5)), "MulBackward0", vec!["AccumulateGrad", "MulBackward1"]),
        ("1-D @ 2-D", Box::new(|x| x.matmul(&ones(&[3, 2]))), "SqueezeBackward1", vec!["MmBackward0"]),
        ("div", Box::new(|x| x / &(x.detach() + 1.0)), "DivBackward0", vec!["AccumulateGrad", "None"]),
        ("div other", Box::new(|x| &x.detach() / x), "MulBackward0", vec!["NegBackward0", "DivBackward0"]),
        ("min", Box::new(|x| x.min()), "MaskedFillBackward1", vec!["None", "DivBackward0"]),
        ("norm", Box::new(|x| x.norm()), "MulBackward0", vec!["AccumulateGrad", "MaskedFillBackward0"]),
        (
            "mean dim",
            Box::new(|x| x.reshape([1, 3]).mean_dim(1, false)),
            "ViewBackward0",
            vec!["DivBackward1"],
        ),
        (
            "sum dim",
            Box::new(|x| x.reshape([1, 3]).sum_dim(1, false)),
            "ReshapeAliasBackward0",
            vec!["ExpandBackward0"],
        ),
    ];
    for (op, f, node, next) in table {
        let (got, got_next) = second_order(f);
        assert_eq!(
            (got.as_str(), got_next),
            (node, next.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            "{op}"
        );
    }
}

#[test]
fn second_derivatives_through_the_new_nodes() {
    // values printed by torch for d2/dx2 of sum(f(x)) at x = [0.3, -0.7, 1.2]
    let cases: Vec<(UnaryFn, &str)> = vec![
        (Box::new(|x| x.tanh()), "tensor([-0.5332,  0.7672, -0.5086])"),
        (Box::new(|x| x.sigmoid()), "tensor([-0.0364,  0.0746, -0.0955])"),
        (Box::new(|x| x.relu()), "tensor([0., 0., 0.])"),
    ];
    for (f, expected) in cases {
        let x = tensor!([0.3, -0.7, 1.2], requires_grad = true);
        let g = grad_opts(&[&f(&x).sum()], &[&x], None, true, true, false).remove(0).unwrap();
        g.sum().backward();
        assert_eq!(grad(&x), expected);
    }
}

#[test]
fn sums_of_negative_zeros_are_positive_zero_as_in_torch() {
    assert_eq!(tensor!([-0., -0.]).sum().to_string(), "tensor(0.)");
    assert_eq!(tensor!(-0.).sum_dim(0, false).to_string(), "tensor(0.)");
    assert_eq!(tensor!([[-0., -0.]]).sum_dim(1, false).to_string(), "tensor([0.])");
    // a broadcast gradient summed back: torch prints 0., not -0.
    let x = tensor!([1., 2.], requires_grad = true);
    (&x.expand([2, 2]) * &tensor!([-0., 1.])).sum().backward();
    assert_eq!(grad(&x), "tensor([0., 2.])");
    let x = tensor!([[1.], [2.]], requires_grad = true);
    (&x * &tensor!([-0., -0.])).sum().backward();
    assert_eq!(grad(&x), "tensor([[0.],\n        [0.]])");
    // no sum involved: the -0 stays, as in torch
    let x = tensor!([1., 2.], requires_grad = true);
    (&x * &tensor!([-0., 1.])).sum().backward();
    assert_eq!(grad(&x), "tensor([-0., 1.])");
}

/// Sum of the gradient's bit patterns, to compare 256 gradients with torch's to the bit.
fn bit_checksum(t: &Tensor) -> u64 {
    match t.dtype() {
        DType::Float32 => t.to_vec_f32().iter().fold(0u64, |acc, v| acc.wrapping_add(v.to_bits() as u64)),
        _ => t.to_vec_f64().iter().fold(0u64, |acc, v| acc.wrapping_add(v.to_bits())),
    }
}

/// FNV-1a over the elements' bit patterns (float32 widened): any change of a bit shows.
fn bit_hash(t: &Tensor) -> u64 {
    let bits: Vec<u64> = match t.dtype() {
        DType::Float32 => t.to_vec_f32().iter().map(|v| v.to_bits() as u64).collect(),
        _ => t.to_vec_f64().iter().map(|v| v.to_bits()).collect(),
    };
    bits.iter().fold(0xcbf2_9ce4_8422_2325u64, |acc, &b| (acc ^ b).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn unary_backward_formulas_agree_with_torch_to_the_bit() {
    // x = (arange(256) - 127.5) / 37 (abs for sqrt), gradient 0.7: checksums of x, y and
    // x.grad printed by torch. The gradient is compared only where the forward agrees. torch's
    // tanh and sqrt are MKL's, whose bits depend on the CPU: one set per MKL kernel set, printed
    // by torch 2.15 on an AMD EPYC (Zen) and on an Intel Xeon (family 6 model 207, AVX-512) by
    //   for dt in (float32, float64): for op in (tanh, sigmoid, sqrt, reciprocal):
    //     x = (torch.arange(0, 256, dtype=dt) - 127.5) / 37  (.abs() for sqrt), requires_grad
    //     y = getattr(x, op)(); y.backward(torch.full([256], 0.7, dtype=dt))
    //     print the sums (mod 2^64) of the bit patterns of x, y and x.grad
    // (on the Xeon y's is an FNV-1a hash of the patterns instead: a sum let MKL's float64 tanh
    // through, its last bits one up and one down at mirrored inputs)
    let avx2 = [
        (DType::Float32, "tanh", 548232488018u64, 546438918230u64, 264340614076u64),
        (DType::Float32, "sigmoid", 548232488018, 269224543803, 264718746740),
        (DType::Float32, "sqrt", 273354581074, 272974348198, 268979302834),
        (DType::Float32, "reciprocal", 548232488018, 546722251088, 819750896618),
        (DType::Float64, "tanh", 17628914725160839114, 16665999276639658810, 12789577964444971740),
        (DType::Float64, "sigmoid", 17628914725160839114, 15411617843787166964, 12992586483419232293),
        (DType::Float64, "sqrt", 17628914725160839114, 17424778750326170436, 15279955142100277344),
        (DType::Float64, "reciprocal", 17628914725160839114, 16818112451406869838, 15825297814024797894),
    ];
    let avx512 = [
        (DType::Float32, "tanh", 548232488018u64, 9657450772925555205u64, 264340614076u64),
        (DType::Float32, "sigmoid", 548232488018, 5582475497811312600, 264718746740),
        (DType::Float32, "sqrt", 273354581074, 11120381484826439063, 268979302842),
        (DType::Float32, "reciprocal", 548232488018, 6215123772711596589, 819750896618),
        (DType::Float64, "tanh", 17628914725160839114, 7269740550108029847, 12789577964444971918),
        (DType::Float64, "sigmoid", 17628914725160839114, 1848780663975516551, 12992586483419232293),
        (DType::Float64, "sqrt", 17628914725160839114, 7520148576600331477, 15279955142100277350),
        (DType::Float64, "reciprocal", 17628914725160839114, 8932668184113219271, 15825297814024797894),
    ];
    let (expected, forward_checksum): (_, fn(&Tensor) -> u64) =
        match autograd_core::ops::linalg::mkl_kernels() {
            autograd_core::ops::linalg::MklKernels::Avx512 => (avx512, bit_hash),
            autograd_core::ops::linalg::MklKernels::Avx2 => (avx2, bit_checksum),
        };
    let mut compared = 0;
    for (dtype, op, x_sum, y_sum, grad_sum) in expected {
        let mut x = (arange_with(0, 256, 1, TensorOptions { dtype: Some(dtype), requires_grad: false })
            - 127.5)
            / 37.0;
        if op == "sqrt" {
            x = x.abs();
        }
        assert_eq!(bit_checksum(&x), x_sum, "input {op} {dtype}");
        let x = x.requires_grad_(true);
        let y = match op {
            "tanh" => x.tanh(),
            "sigmoid" => x.sigmoid(),
            "sqrt" => x.sqrt(),
            _ => x.reciprocal(),
        };
        if forward_checksum(&y.detach()) != y_sum {
            eprintln!("forward of {op} {dtype} differs from torch in some last bit; gradient not compared");
            continue;
        }
        y.backward_with(&full_with(&[256], 0.7, TensorOptions { dtype: Some(dtype), requires_grad: false }));
        assert_eq!(bit_checksum(&x.grad().unwrap()), grad_sum, "{op} {dtype}");
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} forwards agreed with torch");
}

#[test]
fn a_column_broadcast_against_a_number_stays_row_major() {
    // an expanded [2, 1] column (strides [1, 0]) divided by a number: row-major result
    let col = tensor!([[1.], [2.]]).expand([2, 3]);
    assert_eq!(
        (&col / 2.0).to_string(),
        "tensor([[0.5000, 0.5000, 0.5000],\n        [1.0000, 1.0000, 1.0000]])"
    );
    let x = tensor!([[1., 2., 3.], [4., 5., 6.]], requires_grad = true);
    x.mean_dim(-1, true).backward_with(&tensor!([[1.], [0.]]));
    assert_eq!(grad(&x), "tensor([[0.3333, 0.3333, 0.3333],\n        [0.0000, 0.0000, 0.0000]])");
}

#[test]
fn a_product_of_one_term_keeps_the_sign_of_zero() {
    // torch 2.15: [[0.],[1.]] @ [[-1., 2.]] -> [[-0., 0.], [-1., 2.]]; [[0., 0.]] @ [[-1.],[-3.]] -> [[0.]]
    let a = tensor!([[0.], [1.]]);
    let b = tensor!([[-1., 2.]]);
    assert_eq!(a.matmul(&b).to_string(), "tensor([[-0.,  0.],\n        [-1.,  2.]])");
    assert_eq!(tensor!([[0., 0.]]).matmul(&tensor!([[-1.], [-3.]])).to_string(), "tensor([[0.]])");
}

#[test]
fn log_softmax_backward_rounds_once_as_torchs_fused_kernel() {
    // torch 2.15: `x = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)`,
    // `x.log_softmax(1).sum().backward()`: 1 - 3 * exp(-log 3) with one rounding is 2^-54, not 0
    let x = zeros_with(&[1, 3], TensorOptions::default().dtype(DType::Float64).requires_grad(true));
    x.log_softmax(1).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec_f64(), vec![5.551115123125783e-17; 3]);
}

#[test]
fn small_bmm_adds_rounded_products_as_torchs_kernel() {
    // torch 2.15: a bmm with k*n*m < 400 sums separately rounded products from +0, so
    // -1.5 * g + -1.5 * -g is exactly 0 (a fused multiply-add would leave 2^-27 here)
    let g = 1.0f64 / 6.0;
    let a = Tensor::from_vec(vec![-1.5, -1.5], &[1, 1, 2], DType::Float32);
    let b = Tensor::from_vec(vec![g, 2.0 * g, -g, -2.0 * g], &[1, 2, 2], DType::Float32);
    assert_eq!(a.bmm(&b).to_vec_f64(), vec![0.0, 0.0]);
    let a = tensor!([[[0.1, 0.2, 0.3]]]);
    let b = tensor!([[[0.3], [0.2], [0.1]]]);
    assert_eq!(a.bmm(&b).item(), 0.10000000894069672);
}

#[test]
fn a_norm_over_dims_of_size_one_is_the_absolute_value() {
    // torch 2.15: x2.norm(p=3.0, dim=1, keepdim=True) of [[0.25], [0.5], [4.0]] is exactly
    // [[0.25], [0.5], [4.0]] and the gradient exactly 1 (pow and root would give 0.24999999)
    let x = tensor!([[0.25], [0.5], [4.]], requires_grad = true);
    let n = x.norm_dim(3.0, 1, true);
    assert_eq!(n.to_vec_f64(), vec![0.25, 0.5, 4.0]);
    n.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec_f64(), vec![1.0, 1.0, 1.0]);
    assert_eq!(tensor!([-0.25]).norm_p(0.5).item(), 0.25);
}

#[test]
fn pow_special_cases_are_for_a_number_exponent_only() {
    // torch 2.15, x = [-inf, -0., 4.] float64: x.pow(-0.5) uses 1/sqrt(x), a 0-dim tensor
    // exponent uses std::pow
    let x = Tensor::from_vec(vec![-INF, -0.0, 4.0], &[3], DType::Float64);
    let bits = |t: Tensor| t.to_vec_f64().iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(" ");
    assert_eq!(bits(x.pow(&Tensor::from_vec(vec![-0.5], &[], DType::Float64))), "0.0 inf 0.5");
    assert_eq!(bits(x.pow(-0.5)), "NaN -inf 0.5");
    assert_eq!(bits(x.pow(&Tensor::from_vec(vec![0.5], &[], DType::Float64))), "inf 0.0 2.0");
    assert_eq!(bits(x.pow(0.5)), "NaN -0.0 2.0");
}

#[test]
fn the_gradient_of_sgn_is_an_immutable_zero_tensor_as_in_torch() {
    // torch 2.15: x.sgn().sum().backward() leaves x.grad an efficient zero tensor; adding
    // into it (another backward, or add_) raises
    let x = tensor!([1.5, -2.], requires_grad = true);
    x.sgn().sum().backward();
    assert_eq!(grad(&x), "tensor([0., 0.])");
    let message = "ZeroTensors are immutable. Please use the materialized zero tensor obtained using .clone() if you want a mutable tensor.";
    let err = error_of(|| (&x * 2.0).sum().backward());
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::RuntimeError, message));
    assert_eq!(grad(&x), "tensor([0., 0.])", "the gradient is kept as it was");
    let err = error_of(|| {
        x.grad().unwrap().add_(1.0);
    });
    assert_eq!(err.message, message);
    // a copy is an ordinary tensor; the second derivative of abs reaches x through sgn
    let copy = x.grad().unwrap().deep_clone();
    copy.add_(1.0);
    let y = tensor!([1.5, -2.], requires_grad = true);
    let g = autograd_core::prelude::grad(&[&y.abs().sum()], &[&y], true).remove(0);
    g.sum().backward();
    assert!(error_of(|| (&y * 1.0).sum().backward()).message.starts_with("ZeroTensors are immutable"));
    // sign (not sgn) gives ordinary zeros
    let z = tensor!([1.5, -2.], requires_grad = true);
    z.sign().sum().backward();
    (&z * 2.0).sum().backward();
    assert_eq!(grad(&z), "tensor([2., 2.])");
}

#[test]
fn a_zero_tensor_takes_a_python_float_as_a_float64_tensor() {
    // torch 2.15.0: x = torch.tensor(4.0, requires_grad=True)
    //   g, = torch.autograd.grad([x.abs()], [x], create_graph=True); z, = torch.autograd.grad([g], [x])
    //   z * 3.0 -> tensor(0., dtype=torch.float64) (a zero tensor); 3.0 * z, z / 2.0 the same;
    //   z + 3.0 -> tensor(3., dtype=torch.float64); z - 1.0 -> tensor(-1., dtype=torch.float64);
    //   z * 3, z * True, z * torch.tensor(3.0) -> float32; z.exp() -> tensor(1.); 1.0 - z ->
    //   tensor(1.), 2.0 / z -> tensor(inf) (float32: the number first is still wrapped)
    // and for a 1-dim z ([4., -2.], abs summed): z * 3.0, z + 1.5 -> float32 (a 0-dim float64
    // tensor does not promote a dimensioned float32 one)
    let x = tensor!(4.0, requires_grad = true);
    let g = autograd_core::prelude::grad(&[&x.abs()], &[&x], true).remove(0);
    let z = autograd_core::prelude::grad(&[&g], &[&x], false).remove(0);
    assert_eq!((&z * 3.0).to_string(), "tensor(0., dtype=torch.float64)");
    assert_eq!((3.0 * &z).to_string(), "tensor(0., dtype=torch.float64)");
    assert_eq!((&z / 2.0).to_string(), "tensor(0., dtype=torch.float64)");
    assert_eq!((&z + 3.0).to_string(), "tensor(3., dtype=torch.float64)");
    assert_eq!((&z - 1.0).to_string(), "tensor(-1., dtype=torch.float64)");
    assert_eq!((&z * 3).to_string(), "tensor(0.)");
    assert_eq!((&z * &tensor!(3.0)).to_string(), "tensor(0.)");
    assert_eq!(z.exp().to_string(), "tensor(1.)");
    // a number first stays a wrapped number: 1.0 - z -> tensor(1.), 2.0 / z -> tensor(inf)
    assert_eq!((1.0 - &z).to_string(), "tensor(1.)");
    assert_eq!((2.0 / &z).to_string(), "tensor(inf)");
    let x = tensor!([4.0, -2.], requires_grad = true);
    let g = autograd_core::prelude::grad(&[&x.abs().sum()], &[&x], true).remove(0);
    let z = autograd_core::prelude::grad(&[&g.sum()], &[&x], false).remove(0);
    assert_eq!((&z * 3.0).to_string(), "tensor([0., 0.])");
    assert_eq!((&z + 1.5).to_string(), "tensor([1.5000, 1.5000])");
}

#[test]
fn a_small_matrix_product_fuses_its_sums_as_torch() {
    // torch 2.15 (oneMKL, Intel Xeon family 6 model 207; measured 2026-12-04): x2.t() @ g with
    // g = -1/6 everywhere; row 1 is fma(1.5, g, round(-1.5 * g)) = 1.3878e-17, not the 0 of
    // separately rounded products (tools/gemm_order/README.md)
    let x2 = Tensor::from_vec(vec![3.0, -1.5, 1.0, -1.0, 1.5, -3.0], &[2, 3], DType::Float64);
    let g = Tensor::from_vec(vec![-1.0 / 6.0; 6], &[2, 3], DType::Float64);
    let r = x2.t().mm(&g).to_vec_f64();
    assert_eq!(&r[3..6], &[1.3877787807814457e-17; 3]);
}

#[test]
fn softmax_rows_split_over_cores_equal_each_row_alone() {
    use autograd_core::prelude::grad;
    // 400 x 300 = 120000 elements: the rows are shared out to both cores (forward and fused
    // backward); one row alone is small and runs in one loop. Same bits either way.
    manual_seed(7);
    let x = (rand(&[400, 300]) * 8.0 - 4.0).requires_grad_(true);
    let g = rand(&[400, 300]);
    for log in [false, true] {
        let y = if log { x.log_softmax(1) } else { x.softmax(1) };
        // the gradient that reaches softmax's backward is exactly `g`
        let gx = grad(&[&(&y * &g).sum()], &[&x], false).remove(0);
        for r in [0, 1, 199, 399] {
            let row = x.select(0, r).detach().requires_grad_(true);
            let y_row = if log { row.log_softmax(0) } else { row.softmax(0) };
            assert_eq!(y.select(0, r).to_vec_f32(), y_row.to_vec_f32(), "log {log}, row {r}");
            let g_row = grad(&[&(&y_row * &g.select(0, r)).sum()], &[&row], false).remove(0);
            assert_eq!(gx.select(0, r).to_vec_f32(), g_row.to_vec_f32(), "gradient, log {log}, row {r}");
        }
    }
}

#[test]
fn a_sums_gradient_accumulates_into_a_large_leaf_as_one_value() {
    // the second backward adds `x.sum()`'s gradient, one value expanded over 300 x 300, into
    // the existing x.grad (in parts on both cores): every element 3 + 0.1 rounded once
    for float64 in [false, true] {
        let x = zeros(&[300, 300]);
        let x = if float64 { x.double() } else { x }.requires_grad_(true);
        (x.sum() * 3.0).backward();
        (x.sum() * 0.1).backward();
        let got = x.grad().unwrap().to_vec_f64();
        let want = if float64 { 3.0 + 0.1 } else { (3.0f32 + 0.1f32) as f64 };
        assert_eq!(got.len(), 90000);
        assert!(got.iter().all(|&g| g == want), "float64 {float64}: {:?}", &got[..3]);
    }
}

#[test]
fn a_gradient_expanded_along_one_dim_accumulates_element_by_element() {
    // `x.sum(0)`'s gradient is a row expanded down the 300 rows (not one value): the second
    // backward adds it into x.grad element by element, row j of the gradient being w[j]
    let x = zeros(&[300, 300]).requires_grad_(true);
    let w = arange(300) * 0.1;
    (x.sum_dim(0, false) * &w).sum().backward();
    (x.sum_dim(0, false) * &w).sum().backward();
    let got = x.grad().unwrap().to_vec_f64();
    let w = w.to_vec_f64();
    for (i, &g) in got.iter().enumerate() {
        let wj = w[i % 300] as f32;
        assert_eq!(g, (wj + wj) as f64, "element {i}");
    }
}

#[test]
fn std_and_var_over_a_dim_with_one_result_take_the_two_pass_sum_as_torch() {
    // torch 2.15.0 (float64): x = torch.tensor([-1.5, 0.25, -1.5, 4.0], dtype=torch.float64)
    //   x.std(dim=-1) -> 2.5930596470836016, x.var(dim=0) -> 6.723958333333333 (as x.std(),
    //   x.var(): a reduction to one element is torch's all-reduce, mean first, then the
    //   squared deviations); x.view(1, 4).std(dim=1, keepdim=True) -> [[2.5930596470836016]];
    //   x.view(4, 1).var(dim=0) -> [6.723958333333333]; two rows of x: std(dim=1) ->
    //   [2.593059647083602, 2.593059647083602], var -> 6.723958333333335 each (Welford's running
    //   mean, one lane at a time)
    let x = Tensor::from_vec(vec![-1.5, 0.25, -1.5, 4.0], &[4], DType::Float64);
    assert_eq!(x.std_dim(-1, false).item(), 2.5930596470836016);
    assert_eq!(x.var_dim(0, false).item(), 6.723958333333333);
    assert_eq!(x.view([1, 4]).std_dim(1, true).to_vec_f64(), vec![2.5930596470836016]);
    assert_eq!(x.view([1, 4]).std_dim(1, true).shape(), vec![1, 1]);
    assert_eq!(x.view([4, 1]).var_dim(0, false).to_vec_f64(), vec![6.723958333333333]);
    let rows = Tensor::from_vec([[-1.5, 0.25, -1.5, 4.0]; 2].concat(), &[2, 4], DType::Float64);
    assert_eq!(rows.std_dim(1, false).to_vec_f64(), vec![2.593059647083602; 2]);
    assert_eq!(rows.var_dim(1, false).to_vec_f64(), vec![6.723958333333335; 2]);
    // the one result is a tensor of its own, not a view: s = x.std(dim=0); s.mul_(2.0) runs
    let x = tensor!([1., 2., 4.], requires_grad = true);
    let s = x.std_dim(0, false);
    s.mul_(2.0);
    assert_eq!(s.to_string(), "tensor(3.0551, grad_fn=<MulBackward0>)");
}

#[test]
fn a_p_norm_of_a_0_dim_tensor_along_a_dim_takes_the_p_th_power_and_root() {
    // torch 2.15.0, float64: tensor(4.).norm(p=3.0, dim=-1) -> 3.9999999999999996 (p=1.5 too),
    // .norm(p=3.0) -> 4.0, tensor([4.]).norm(p=3.0, dim=-1) -> 4.0, p=0.5 -> 4.0; float32 4.0
    // (a fresh-seed differential program, 5772/p2104)
    let x = Tensor::from_vec(vec![4.0], &[], DType::Float64);
    assert_eq!(x.norm_dim(3.0, -1, false).item(), 3.9999999999999996);
    assert_eq!(x.norm_dim(1.5, -1, true).item(), 3.9999999999999996);
    assert_eq!(x.norm_dim(0.5, -1, false).item(), 4.0);
    assert_eq!(x.norm_p(3.0).item(), 4.0);
    assert_eq!(Tensor::from_vec(vec![4.0], &[1], DType::Float64).norm_dim(3.0, -1, false).item(), 4.0);
    assert_eq!(Tensor::from_vec(vec![4.0], &[], DType::Float32).norm_dim(3.0, -1, false).item(), 4.0);
}

#[test]
fn the_gradient_of_mv_for_its_matrix_is_an_outer_product_keeping_negative_zeros() {
    // torch 2.15.0: a = torch.tensor([[1.5], [4.0], [-2.0]], requires_grad=True)
    //   v = torch.tensor([0.0], requires_grad=True); w = torch.tensor([-1.5, -1.5, 0.0])
    //   w.matmul(a.matmul(v)).backward() -> a.grad tensor([[-0.], [-0.], [0.]]) (grad.ger(vec):
    //   products, no sum; a fresh-seed differential program, 5772/p0257)
    let a = tensor!([[1.5], [4.0], [-2.0]], requires_grad = true);
    let v = tensor!([0.0], requires_grad = true);
    tensor!([-1.5, -1.5, 0.0]).matmul(&a.matmul(&v)).backward();
    assert_eq!(grad(&a), "tensor([[-0.],\n        [-0.],\n        [0.]])");
    assert_eq!(grad(&v), "tensor([-8.2500])");
}

#[test]
fn add_and_sub_with_alpha_and_one_element_leave_torchs_tail_unfused() {
    // torch 2.15.0 (x86-64 wheel, Intel Xeon): torch.sub(torch.full([n], a), torch.tensor(b),
    // alpha=3.0): whole blocks (16 float32, 8 float64) are fused multiply-adds, then the tail's
    // first element, then 4 (float32) or 2 (float64) at a time unfused, the rest fused again.
    // (n, first unfused index, how many), float64 a = 2.1213203435596424, b = 0.7071067811865476
    // (fused -3.3306690738754696e-16, unfused -4.440892098500626e-16), float32 a = fl(3 * 0.1),
    // b = 0.1 (fused 7.450580596923828e-09, unfused 0); a fresh-seed differential program,
    // 5772/p1812, printed the fused value for all of v4 - 3 * v7
    let f64_runs = [
        (1, 0, 0),
        (2, 0, 0),
        (3, 1, 2),
        (4, 1, 2),
        (5, 1, 4),
        (6, 1, 4),
        (7, 1, 6),
        (8, 0, 0),
        (9, 0, 0),
        (10, 0, 0),
        (11, 9, 2),
        (12, 9, 2),
        (13, 9, 4),
        (14, 9, 4),
        (15, 9, 6),
        (16, 0, 0),
        (17, 0, 0),
        (18, 0, 0),
        (19, 17, 2),
        (20, 17, 2),
        (21, 17, 4),
        (22, 17, 4),
        (23, 17, 6),
        (24, 0, 0),
        (25, 0, 0),
        (26, 0, 0),
        (27, 25, 2),
        (28, 25, 2),
        (29, 25, 4),
        (30, 25, 4),
        (31, 25, 6),
        (32, 0, 0),
        (33, 0, 0),
        (34, 0, 0),
        (35, 33, 2),
        (36, 33, 2),
        (37, 33, 4),
        (38, 33, 4),
        (39, 33, 6),
        (40, 0, 0),
        (100, 97, 2),
        (1000, 0, 0),
        (4097, 0, 0),
        (32768, 0, 0),
    ];
    let f32_runs = [
        (1, 0, 0),
        (2, 0, 0),
        (3, 0, 0),
        (4, 0, 0),
        (5, 1, 4),
        (6, 1, 4),
        (7, 1, 4),
        (8, 1, 4),
        (9, 1, 8),
        (10, 1, 8),
        (11, 1, 8),
        (12, 1, 8),
        (13, 1, 12),
        (14, 1, 12),
        (15, 1, 12),
        (16, 0, 0),
        (17, 0, 0),
        (18, 0, 0),
        (19, 0, 0),
        (20, 0, 0),
        (21, 17, 4),
        (22, 17, 4),
        (23, 17, 4),
        (24, 17, 4),
        (25, 17, 8),
        (26, 17, 8),
        (27, 17, 8),
        (28, 17, 8),
        (29, 17, 12),
        (30, 17, 12),
        (31, 17, 12),
        (32, 0, 0),
        (33, 0, 0),
        (34, 0, 0),
        (35, 0, 0),
        (36, 0, 0),
        (37, 33, 4),
        (38, 33, 4),
        (39, 33, 4),
        (40, 33, 4),
        (100, 0, 0),
        (1000, 993, 4),
        (4097, 0, 0),
        (32768, 0, 0),
    ];
    let unfused_of = |values: Vec<f64>, unfused: f64| -> (usize, usize) {
        let at: Vec<usize> = (0..values.len()).filter(|&i| values[i] == unfused).collect();
        (at.first().copied().unwrap_or(0), at.len())
    };
    for (n, first, count) in f64_runs {
        let a = full_with(&[n], 2.1213203435596424, TensorOptions::default().dtype(DType::Float64));
        let b = Tensor::from_vec(vec![std::f64::consts::FRAC_1_SQRT_2], &[], DType::Float64);
        let got = unfused_of(a.sub_alpha(&b, 3.0).to_vec_f64(), -4.440892098500626e-16);
        assert_eq!(got, (first, count), "float64 n = {n}");
    }
    let (b32, a32) = (0.1f32, 3.0f32 * 0.1f32);
    for (n, first, count) in f32_runs {
        let a = full_with(&[n], a32 as f64, TensorOptions::default().dtype(DType::Float32));
        let b = Tensor::from_vec(vec![b32 as f64], &[], DType::Float32);
        let got = unfused_of(a.sub_alpha(&b, 3.0).to_vec_f64(), 0.0);
        assert_eq!(got, (first, count), "float32 n = {n}");
    }
}

#[test]
fn cumsum_of_a_0_dim_tensor_is_its_value() {
    // torch 2.15.0: torch.tensor(-0.).cumsum(0) -> tensor(-0.); torch.tensor([-0.]).cumsum(0)
    // -> tensor([0.]) (newops fresh seed 9001/p3620: x.prod() of a product with a -0. factor,
    // then cumsum, printed 0. here)
    assert_eq!(tensor!(-0.).cumsum(0).to_string(), "tensor(-0.)");
    assert_eq!(tensor!(-0., dtype = float64).cumsum(0).to_string(), "tensor(-0., dtype=torch.float64)");
    assert_eq!(tensor!([-0.]).cumsum(0).to_string(), "tensor([0.])");
    assert_eq!(tensor!([[-0., -0.]]).cumsum(1).to_string(), "tensor([[0., 0.]])");
}

/// `sgn`'s backward sends an efficient zero tensor. torch adds it into the other gradient
/// of the same input in place, zeros materialized, so `-0 + 0` gives `+0` there (where the
/// out-of-place sum with a zero tensor is a copy). Expected strings printed by PyTorch 2.15.
#[test]
fn a_zero_gradient_from_sgn_is_added_for_real() {
    let x = tensor!([0., -0., 1.], requires_grad = true);
    (x.sgn() * &x).backward_with(&tensor!([-1., -1., -1.]));
    assert_eq!(grad(&x), "tensor([ 0.,  0., -1.])");
    let x = tensor!([0., -0., 2.], requires_grad = true);
    (&x * x.sgn()).backward_with(&tensor!([-1., -1., -1.]));
    assert_eq!(grad(&x), "tensor([ 0.,  0., -1.])");
    let x = tensor!([0., -0., 2.], requires_grad = true);
    (x.sgn() * &x).sum().backward();
    assert_eq!(grad(&x), "tensor([0., 0., 1.])");
}
