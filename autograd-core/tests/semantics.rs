//! The rules of shared/spec/autograd-semantics.md, one test each, with PyTorch's own words
//! for every error.

use autograd_core::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    if let Some(e) = err.downcast_ref::<autograd_core::error::TorchError>() {
        e.message.clone()
    } else if let Some(s) = err.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        s.to_string()
    } else {
        panic!("panic without a message")
    }
}

/// A float tensor's values as bits, for comparisons to the last bit.
fn bits(t: &Tensor) -> Vec<u64> {
    match t.dtype() {
        DType::Float32 => t.to_vec_f32().iter().map(|v| u64::from(v.to_bits())).collect(),
        _ => t.to_vec_f64().iter().map(|v| v.to_bits()).collect(),
    }
}

fn name(t: &Tensor) -> String {
    t.grad_fn().map(|n| n.name()).unwrap_or_else(|| "None".into())
}

/// `next_functions` as names: `["AccumulateGrad", "None"]`.
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

#[test]
fn node_names_and_next_functions_follow_the_table() {
    let a = tensor!([1., 2.], requires_grad = true);
    let b = tensor!([3., 4.], requires_grad = true);
    let m = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let cases: Vec<(Tensor, &str, Vec<&str>)> = vec![
        (&a + &b, "AddBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (&a + 2.0, "AddBackward0", vec!["AccumulateGrad", "None"]),
        (2.0 + &a, "AddBackward0", vec!["AccumulateGrad", "None"]),
        (&a - &b, "SubBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (&a - 2.0, "SubBackward0", vec!["AccumulateGrad", "None"]),
        (2.0 - &a, "RsubBackward1", vec!["AccumulateGrad"]),
        (&a * &b, "MulBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (2.0 * &a, "MulBackward0", vec!["AccumulateGrad", "None"]),
        (&a / &b, "DivBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (&a / 2.0, "DivBackward0", vec!["AccumulateGrad", "None"]),
        (-&a, "NegBackward0", vec!["AccumulateGrad"]),
        (a.pow(2), "PowBackward0", vec!["AccumulateGrad"]),
        (a.pow(&b), "PowBackward1", vec!["AccumulateGrad", "AccumulateGrad"]),
        (a.rpow(2.0), "PowBackward2", vec!["AccumulateGrad"]),
        (a.sum(), "SumBackward0", vec!["AccumulateGrad"]),
        (m.sum_dim(0, false), "SumBackward1", vec!["AccumulateGrad"]),
        (a.mean(), "MeanBackward0", vec!["AccumulateGrad"]),
        (m.mean_dim(1, true), "MeanBackward1", vec!["AccumulateGrad"]),
        (a.dot(&b), "DotBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (a.matmul(&b), "DotBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (m.matmul(&m), "MmBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (m.matmul(&a), "MvBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (a.exp(), "ExpBackward0", vec!["AccumulateGrad"]),
        (a.log(), "LogBackward0", vec!["AccumulateGrad"]),
        (a.sin(), "SinBackward0", vec!["AccumulateGrad"]),
        (a.cos(), "CosBackward0", vec!["AccumulateGrad"]),
        (a.sqrt(), "SqrtBackward0", vec!["AccumulateGrad"]),
        (a.abs(), "AbsBackward0", vec!["AccumulateGrad"]),
        (a.relu(), "ReluBackward0", vec!["AccumulateGrad"]),
        (a.sigmoid(), "SigmoidBackward0", vec!["AccumulateGrad"]),
        (a.tanh(), "TanhBackward0", vec!["AccumulateGrad"]),
        (a.norm(), "LinalgVectorNormBackward0", vec!["AccumulateGrad"]),
        (a.clamp(Some(0.0), None), "ClampBackward1", vec!["AccumulateGrad"]),
        (a.max(), "MaxBackward1", vec!["AccumulateGrad"]),
        (a.maximum(&b), "MaximumBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (m.reshape([4]), "ViewBackward0", vec!["AccumulateGrad"]),
        (m.view([-1]), "ViewBackward0", vec!["AccumulateGrad"]),
        (m.flatten(), "ViewBackward0", vec!["AccumulateGrad"]),
        (m.t(), "TBackward0", vec!["AccumulateGrad"]),
        (m.T(), "PermuteBackward0", vec!["AccumulateGrad"]),
        (m.transpose(0, 1), "TransposeBackward0", vec!["AccumulateGrad"]),
        (m.select(0, 0), "SelectBackward0", vec!["AccumulateGrad"]),
        (m.index(idx![.., 1]), "SelectBackward0", vec!["AccumulateGrad"]),
        (a.unsqueeze(0), "UnsqueezeBackward0", vec!["AccumulateGrad"]),
        (a.unsqueeze(0).expand([3, 2]), "ExpandBackward0", vec!["UnsqueezeBackward0"]),
        (a.deep_clone(), "CloneBackward0", vec!["AccumulateGrad"]),
        (a.double(), "ToCopyBackward0", vec!["AccumulateGrad"]),
        (cat(&[&a, &b], 0), "CatBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
        (stack(&[&a, &b], 0), "StackBackward0", vec!["AccumulateGrad", "AccumulateGrad"]),
    ];
    for (t, node, next) in cases {
        assert_eq!(name(&t), node);
        assert_eq!(next_names(&t), next, "next_functions of {node}");
        assert!(!t.is_leaf() && t.requires_grad());
    }
    // M[0, 0] is two selects
    let corner = m.at(&[0, 0]);
    assert_eq!(name(&corner), "SelectBackward0");
    assert_eq!(next_names(&corner), ["SelectBackward0"]);
    // .float() on float32 returns the tensor itself
    assert!(a.float().same(&a));
}

#[test]
fn a_leaf_has_one_accumulate_grad_shared_by_every_use() {
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * &x;
    let next = y.grad_fn().unwrap().next_functions();
    let (first, second) = (next[0].0.clone().unwrap(), next[1].0.clone().unwrap());
    assert!(first.same(&second));
    assert_eq!(first.name(), "torch::autograd::AccumulateGrad");
    assert!(first.next_functions().is_empty());
    assert!(first.variable().unwrap().same(&x));
    assert!(first.repr().starts_with("<AccumulateGrad object at 0x"));
    assert!(y.grad_fn().unwrap().to_string().starts_with("<MulBackward0 object at 0x"));
}

#[test]
fn the_classic_example_prints_like_pytorch() {
    let x = ones(&[2, 2]).requires_grad_(true);
    assert_eq!(x.to_string(), "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)");
    let y = &x + 2.0;
    assert_eq!(y.to_string(), "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)");
    let z = &y * &y * 3.0;
    let out = z.mean();
    assert_eq!(out.to_string(), "tensor(27., grad_fn=<MeanBackward0>)");
    out.backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])");
}

#[test]
fn gradients_accumulate_and_zero_clears_them_in_place() {
    let x = tensor!([10, 20, 30, 40], requires_grad = true, dtype = float64);
    assert!(x.grad().is_none());
    for _ in 0..2 {
        (x.pow(2) + 20.0).mean().backward();
    }
    assert_eq!(x.grad().unwrap().to_string(), "tensor([10., 20., 30., 40.], dtype=torch.float64)");
    let g = x.grad().unwrap();
    g.zero_();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([0., 0., 0., 0.], dtype=torch.float64)");
    (x.pow(2) + 20.0).mean().backward();
    assert_eq!(
        g.to_string(),
        "tensor([ 5., 10., 15., 20.], dtype=torch.float64)",
        "the returned grad is the stored one"
    );
    x.grad().unwrap().data().zero_();
    assert_eq!(x.grad().unwrap().to_vec_f64(), vec![0.0; 4]);
    x.set_grad(None);
    assert!(x.grad().is_none());
}

const SECOND_BACKWARD: &str = "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.";

#[test]
fn second_backward_needs_retain_graph_unless_nothing_was_saved() {
    let x = tensor!([3.], requires_grad = true);
    let y = &x * 2.0 + x.pow(2) + 3.0;
    y.backward_opts(None, true);
    assert_eq!(x.grad().unwrap().to_string(), "tensor([8.])");
    y.backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([16.])");
    assert_eq!(panic_message(|| y.backward()), SECOND_BACKWARD);
    // nothing saved: backward again just accumulates
    let w = tensor!([1., 2.], requires_grad = true);
    let s = (&w + 3.0).sum();
    s.backward();
    s.backward();
    assert_eq!(w.grad().unwrap().to_string(), "tensor([2., 2.])");
}

#[test]
fn backward_errors_use_pytorchs_words() {
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * 2.0;
    assert_eq!(panic_message(|| y.backward()), "grad can be implicitly created only for scalar outputs");
    assert_eq!(
        panic_message(|| y.backward_with(&ones(&[2]))),
        "Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has a shape of torch.Size([3])."
    );
    let plain = tensor!([1., 2.]).sum();
    assert_eq!(
        panic_message(|| plain.backward()),
        "element 0 of tensors does not require grad and does not have a grad_fn"
    );
    let grad = tensor!([10, 20], requires_grad = true, dtype = float64);
    assert_eq!(
        panic_message(|| {
            grad.numpy();
        }),
        "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    );
    assert_eq!(grad.detach().numpy().to_string(), "[10. 20.]");
    assert_eq!(
        panic_message(|| {
            tensor!([1., 2.]).item();
        }),
        "a Tensor with 2 elements cannot be converted to Scalar"
    );
    assert_eq!(tensor!([2.5]).item(), 2.5);
}

#[test]
fn in_place_rules_and_version_counter() {
    let leaf = tensor!([1., 2.], requires_grad = true);
    assert_eq!(
        panic_message(|| {
            leaf.add_(1.0);
        }),
        "a leaf Variable that requires grad is being used in an in-place operation."
    );
    assert_eq!(
        panic_message(|| {
            leaf.select(0, 0).mul_(2.0);
        }),
        "a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
    // allowed under no_grad: the classic manual update
    no_grad(|| {
        let mut w = leaf.clone();
        w -= 0.5;
    });
    assert_eq!(leaf.to_string(), "tensor([0.5000, 1.5000], requires_grad=True)");

    // in-place on a non-leaf: the op becomes the new grad_fn
    let x = tensor!([1., 2.], requires_grad = true);
    let mut y = &x * 1.0;
    y += 1.0;
    assert_eq!(name(&y), "AddBackward0");
    assert_eq!(next_names(&y), ["MulBackward0", "None"]);
    y.mul_(3.0);
    assert_eq!(name(&y), "MulBackward0");
    assert_eq!(next_names(&y), ["AddBackward0", "None"]);
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([3., 3.])");

    // modifying a saved tensor is caught at backward
    let a = tensor!([1., 2.], requires_grad = true);
    let b = &a * 2.0;
    let c = b.pow(2);
    let before = b.version();
    b.add_(1.0);
    assert_eq!(b.version(), before + 1);
    let msg = panic_message(|| c.sum().backward());
    assert_eq!(
        msg,
        "one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [2]], which is output 0 of Add, is at version 1; expected version 0 instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    );
}

/// `requires_grad` answers from a flag kept beside the locked metadata: every way the
/// metadata changes must move the flag with it, both ways.
#[test]
fn requires_grad_follows_every_change_of_a_tensors_flags() {
    let x = tensor!([1., 2.]);
    assert!(!x.requires_grad());
    x.requires_grad_(true);
    assert!(x.requires_grad());
    x.requires_grad_(false);
    assert!(!x.requires_grad());
    assert!((&x * 2.0).grad_fn().is_none());

    let w = tensor!([3., 4.], requires_grad = true);
    let y = &w * 2.0;
    assert!(y.requires_grad());
    y.detach_();
    assert!(!y.requires_grad() && y.is_leaf());
    assert!((&y * 2.0).grad_fn().is_none());
    assert!(!w.data().requires_grad() && w.requires_grad());

    // an in-place op with a tracked operand gives a tensor that had no history one
    let z = zeros(&[2]);
    assert!(!z.requires_grad());
    z.add_(&w);
    assert!(z.requires_grad());
    assert_eq!(name(&z), "AddBackward0");
    // x.data = ... keeps the tensor's own flags
    w.set_data(&tensor!([5., 6.]));
    assert!(w.requires_grad());
}

#[test]
fn requires_grad_rules() {
    assert_eq!(
        panic_message(|| {
            tensor!([1, 2]).requires_grad_(true);
        }),
        // PyTorch 2.15's requires_grad_(); torch.tensor(..., requires_grad=True) says "Only Tensors of
        // floating point and complex dtype can require gradients" (tests/errors.rs)
        "only Tensors of floating point dtype can require gradients"
    );
    let x = tensor!([1.], requires_grad = true);
    let y = &x * 2.0;
    assert_eq!(
        panic_message(|| {
            y.requires_grad_(false);
        }),
        "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
    );
    assert!(x.is_leaf() && !y.is_leaf());
    assert!(tensor!([1.]).is_leaf());
    let a = randn(&[2, 2]);
    let a = (&a * 3.0) / (&a - 1.0);
    assert!(!a.requires_grad());
    a.requires_grad_(true);
    assert!(a.requires_grad());
    assert_eq!(name(&(&a * &a).sum()), "SumBackward0");
}

#[test]
fn detach_and_data_share_storage() {
    let x = tensor!([10, 20], requires_grad = true, dtype = float64);
    let d = x.detach();
    assert!(d.is_leaf() && !d.requires_grad() && d.grad_fn().is_none());
    d.assign(idx![0], 100.0);
    assert_eq!(x.to_string(), "tensor([100.,  20.], dtype=torch.float64, requires_grad=True)");
    assert_eq!(d.to_string(), "tensor([100.,  20.], dtype=torch.float64)");
    assert!(x.data().shares_storage(&x));
    let y = &x * 2.0;
    y.detach_();
    assert!(y.is_leaf() && !y.requires_grad());

    let w1 = Tensor::from_vec((0..27).map(|v| v as f64).collect(), &[3, 3, 3], DType::Float32)
        .requires_grad_(true);
    let w2 = w1.detach();
    w2.assign(idx![.., .., 1], 100.0);
    assert_eq!(w1.to_vec_f64()[1], 100.0);
    assert_eq!(w1.to_vec_f64()[4], 100.0);
    assert_eq!(w1.to_vec_f64()[3], 3.0);
}

#[test]
fn set_data_is_the_gradient_descent_step() {
    let x = tensor!(10, requires_grad = true, dtype = float64);
    let mut printed = Vec::new();
    for _ in 0..3 {
        let y = x.pow(2);
        if let Some(g) = x.grad() {
            g.data().zero_();
        }
        y.backward();
        x.set_data(&(x.data() - 0.001 * x.grad().unwrap()));
        printed.push(format!("{:.10}", x.data().item()));
    }
    assert_eq!(printed, ["9.9800000000", "9.9600400000", "9.9401199200"]);
    assert!(x.requires_grad() && x.is_leaf());
}

#[test]
fn grad_modes_scope_closure_guard_and_global() {
    let x = tensor!(10, requires_grad = true, dtype = float64);
    assert!(no_grad(|| !x.pow(2).requires_grad()));
    {
        let _g = NoGradGuard::new();
        assert!(!is_grad_enabled());
        assert!(enable_grad(|| x.pow(2).requires_grad()));
        let _e = EnableGradGuard::new();
        assert!(x.pow(2).requires_grad());
    }
    assert!(is_grad_enabled());
    set_grad_enabled(false);
    let y = x.pow(2);
    set_grad_enabled(true);
    assert!(!y.requires_grad() && y.grad_fn().is_none());
    // grad mode is per thread, like torch
    set_grad_enabled(false);
    let other = std::thread::spawn(is_grad_enabled).join().unwrap();
    set_grad_enabled(true);
    assert!(other);
    // a panic inside no_grad restores the mode
    let _ = catch_unwind(|| no_grad(|| panic!("boom")));
    assert!(is_grad_enabled());
}

#[test]
fn non_leaf_grad_is_none_until_retained() {
    let x = tensor!([2.], requires_grad = true);
    let y = &x + 2.0;
    let z = y.pow(2) + 3.0;
    z.backward_with(&ones(&[1]));
    assert_eq!(x.grad().unwrap().to_string(), "tensor([8.])");
    assert!(y.grad().is_none());

    let x = tensor!([2.], requires_grad = true);
    let y = &x + 2.0;
    y.retain_grad();
    let z = y.pow(2) + 3.0;
    z.sum().backward();
    assert_eq!(y.grad().unwrap().to_string(), "tensor([8.])");
}

#[test]
fn hooks_see_and_replace_gradients() {
    let x = tensor!([1., 2.], requires_grad = true);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let y = &x * 3.0;
    let h1 = y.register_hook(move |g| {
        log.lock().unwrap().push(g.to_vec_f64());
        None
    });
    let h2 = x.register_hook(|g| Some(g * 10.0));
    y.sum().backward();
    assert_eq!(*seen.lock().unwrap(), vec![vec![1.0, 1.0]]);
    assert_eq!(x.grad().unwrap().to_string(), "tensor([30., 30.])");
    h1.remove();
    h2.remove();
    x.set_grad(None);
    (&x * 3.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([3., 3.])");
}

#[test]
fn functional_grad_and_second_derivatives() {
    let x = tensor!(3., requires_grad = true, dtype = float64);
    let y = x.pow(3) + x.sin();
    let dy = grad(&[&y], &[&x], true);
    assert!((dy[0].item() - (27.0 + 3f64.cos())).abs() < 1e-12);
    assert!(x.grad().is_none(), "grad() leaves .grad alone");
    assert!(dy[0].grad_fn().is_some());
    let d2y = grad(&[&dy[0]], &[&x], false);
    assert!((d2y[0].item() - (18.0 - 3f64.sin())).abs() < 1e-12);
    // third derivative through tanh (saves its result)
    let t = tensor!(0.5, requires_grad = true, dtype = float64);
    let g1 = grad(&[&t.tanh()], &[&t], true);
    let g2 = grad(&[&g1[0]], &[&t], true);
    let th = 0.5f64.tanh();
    assert!((g2[0].item() - (-2.0 * th * (1.0 - th * th))).abs() < 1e-12);
    let unused = tensor!(1., requires_grad = true);
    let msg = panic_message(|| {
        grad(&[&(&x * 2.0)], &[&unused], false);
    });
    // PyTorch 2.15 names the unused input's index
    assert!(
        msg.starts_with("The differentiated Tensor at index 0 appears to not have been used in the graph")
    );
}

#[test]
fn dynamic_control_flow_records_what_ran() {
    fn f(a: &Tensor) -> Tensor {
        let mut b = a * 2.0;
        while b.norm().item() < 100.0 {
            b = &b * 2.0;
        }
        if b.sum().item() > 0.0 {
            b
        } else {
            100.0 * &b
        }
    }
    let a = tensor!(0.37, requires_grad = true);
    let d = f(&a);
    d.backward();
    assert_eq!(a.grad().unwrap().eq(&(&d / &a)).to_string(), "tensor(True)");
}

#[test]
fn index_assignment_builds_copy_slices() {
    let m = tensor!([[2., 3.]], requires_grad = true);
    let n = zeros(&[1, 2]);
    assert_eq!(n.to_string(), "tensor([[0., 0.]])");
    n.assign(idx![0, 0], &m.at(&[0, 0]).pow(2));
    n.assign(idx![0, 1], &m.at(&[0, 1]).pow(3));
    assert_eq!(n.to_string(), "tensor([[ 4., 27.]], grad_fn=<CopySlices>)");
    assert!(!n.is_leaf() && n.requires_grad());
    assert_eq!(next_names(&n), ["CopySlices", "PowBackward0"]);
    n.backward_with(&ones_like(&n));
    assert_eq!(m.grad().unwrap().to_string(), "tensor([[ 4., 27.]])");

    let x = tensor!([2., 3.], requires_grad = true);
    let k = zeros(&[2]);
    k.assign(idx![0], &x.at(&[0]).pow(2));
    k.assign(idx![1], &x.at(&[1]).pow(2));
    assert_eq!(k.to_string(), "tensor([4., 9.], grad_fn=<CopySlices>)");
    assert_eq!(next_names(&k)[0], "CopySlices");
    k.backward_opts(Some(&tensor!([1., 0.])), true);
    assert_eq!(x.grad().unwrap().to_string(), "tensor([4., 0.])");
    x.grad().unwrap().data().zero_();
    k.backward_with(&tensor!([0., 1.]));
    assert_eq!(x.grad().unwrap().to_string(), "tensor([0., 6.])");

    let first = zeros(&[1, 2]);
    first.assign(idx![0, 0], &m.at(&[0, 0]).pow(2));
    assert_eq!(next_names(&first), ["None", "PowBackward0"]);
}

#[test]
fn user_defined_function_reads_like_the_seed() {
    struct MulConstant {
        constant: f64,
    }
    impl Function for MulConstant {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * self.constant
        }
        fn backward(&mut self, _ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>> {
            // the seed returns grad_output unscaled
            vec![Some(grad_output.clone())]
        }
    }
    let a = rand_with(&[3, 3], TensorOptions::default().requires_grad(true));
    let b = MulConstant { constant: 5.0 }.apply(&[&a]);
    assert!(b.to_string().ends_with("grad_fn=<MulConstantBackward>)"));
    assert_eq!(next_names(&b), ["AccumulateGrad"]);
    b.backward_with(&ones_like(&a));
    assert_eq!(
        a.grad().unwrap().to_string(),
        "tensor([[1., 1., 1.],\n        [1., 1., 1.],\n        [1., 1., 1.]])"
    );

    struct Square;
    impl Function for Square {
        fn forward(&mut self, ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            ctx.save_for_backward(&[&inputs[0]]);
            inputs[0].pow(2)
        }
        fn backward(&mut self, ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            let x = &ctx.saved_tensors()[0];
            vec![Some(g * &(x * 2.0))]
        }
    }
    let x = tensor!([1., 3.], requires_grad = true);
    let y = Square.apply(&[&x]);
    assert_eq!(name(&y), "SquareBackward");
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([2., 6.])");
    assert_eq!(panic_message(|| y.sum().backward()), SECOND_BACKWARD);
}

#[test]
fn seed_outputs_of_the_basic_tutorials() {
    let x = arange(4.0);
    assert_eq!(x.to_string(), "tensor([0., 1., 2., 3.])");
    x.requires_grad_(true);
    assert_eq!((&x, x.grad()).py_repr(), "(tensor([0., 1., 2., 3.], requires_grad=True), None)");
    let y = 2.0 * dot(&x, &x);
    assert_eq!(y.to_string(), "tensor(28., grad_fn=<MulBackward0>)");
    y.backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([ 0.,  4.,  8., 12.])");
    assert_eq!(x.grad().unwrap().eq(&(4.0 * &x)).to_string(), "tensor([True, True, True, True])");
    x.grad().unwrap().zero_();
    let y = &x * &x;
    let u = y.detach();
    let z = &u * &x;
    z.sum().backward();
    assert_eq!(x.grad().unwrap().eq(&u).to_string(), "tensor([True, True, True, True])");

    let x1 = tensor!([10, 20], requires_grad = true, dtype = float64);
    let x2 = tensor!([30, 40], requires_grad = true, dtype = float64);
    (x1.pow(2) + x2.pow(2) + &x1 * &x2).sum().backward();
    assert_eq!(
        (x1.grad().unwrap(), x2.grad().unwrap()).py_repr(),
        "(tensor([50., 80.], dtype=torch.float64), tensor([ 70., 100.], dtype=torch.float64))"
    );

    let t1 = tensor!(7.0, requires_grad = true, dtype = float32);
    (t1.pow(2) + 2.0 * &t1 + 7.0).backward();
    assert_eq!(t1.grad().unwrap().to_string(), "tensor(16.)");
}

#[test]
fn broadcasting_and_promotion() {
    let a = tensor!([[1.], [2.]], requires_grad = true);
    let b = tensor!([10., 20., 30.], requires_grad = true);
    let c = &a + &b;
    assert_eq!(c.shape(), vec![2, 3]);
    c.sum().backward();
    assert_eq!(a.grad().unwrap().to_string(), "tensor([[3.],\n        [3.]])");
    assert_eq!(b.grad().unwrap().to_string(), "tensor([2., 2., 2.])");
    assert_eq!((tensor!([1, 2]) * 2).to_string(), "tensor([2, 4])");
    assert_eq!((tensor!([1, 2]) * 2.5).to_string(), "tensor([2.5000, 5.0000])");
    assert_eq!((tensor!([1, 2]) / 2).to_string(), "tensor([0.5000, 1.0000])");
    assert_eq!((tensor!([1.]) + tensor!(1., dtype = float64)).dtype(), DType::Float32);
    assert_eq!((tensor!([1.]) + tensor!([1.], dtype = float64)).dtype(), DType::Float64);
    assert_eq!(
        panic_message(|| {
            let _ = tensor!([1., 2.]) + tensor!([1., 2., 3.]);
        }),
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"
    );
}

#[test]
fn show_prints_like_python_print() {
    assert_eq!((tensor!([1.]), None::<Tensor>, true).py_repr(), "(tensor([1.]), None, True)");
    assert_eq!(tensor!(1.).py_str(), "tensor(1.)");
}

/// The engine keeps its work lists per thread between runs: a backward started inside a hook
/// of a running backward gets its own, a run that fails mid-way leaves nothing behind, and
/// every later run starts clean.
#[test]
fn backward_inside_a_hook_and_after_a_failed_run_uses_clean_work_lists() {
    let w = tensor!([1., 2.], requires_grad = true, dtype = float64);
    let inner = w.clone();
    let x = tensor!([3., 4.], requires_grad = true, dtype = float64);
    // while x's backward runs, the hook runs a whole other backward (through w; grad mode is
    // off during backward, as in torch, so the hook turns it on for its graph)
    let _handle = x.register_hook(move |g| {
        enable_grad(|| (&inner * &inner).sum()).backward();
        Some(g * 10.0)
    });
    let y = (&x * &x).sum();
    y.backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([60., 80.], dtype=torch.float64)");
    assert_eq!(w.grad().unwrap().to_string(), "tensor([2., 4.], dtype=torch.float64)");

    // a run that fails half-way (a saved tensor modified in place)
    let a = tensor!([1., 2.], requires_grad = true);
    let b = &a * 2.0;
    let c = b.sin(); // saves b
    b.mul_(3.0);
    let message = panic_message(|| (&c + &b).sum().backward());
    assert!(message.contains("modified by an inplace operation"), "{message}");

    // later runs, small and large, are unaffected by what the earlier ones left
    for n in [1usize, 3, 2000, 2] {
        let leaf = ones(&[2]).requires_grad_(true);
        let mut t = leaf.clone();
        for _ in 0..n {
            t = &t * 1.0 + 0.0;
        }
        t.sum().backward();
        assert_eq!(leaf.grad().unwrap().to_string(), "tensor([1., 1.])", "chain of {n}");
    }
}

#[test]
fn a_caught_error_leaves_the_tensor_and_its_node_usable() {
    // closures that borrow a tensor or a node may be given to `catch_unwind` as they are
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * 2.0;
    assert!(catch_unwind(|| y.select(0, 5)).is_err());
    let node = y.grad_fn().unwrap();
    assert_eq!(catch_unwind(|| node.name()).unwrap(), "MulBackward0");
    // nothing stays borrowed after the panic: the tensor's values, history and gradient work
    assert_eq!(y.to_string(), "tensor([2., 4.], grad_fn=<MulBackward0>)");
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([2., 2.])");
}

#[test]
fn a_gradient_kept_by_a_hook_or_a_trace_is_not_changed_by_the_nodes_that_run_after() {
    // `z`'s node receives [4, 4] from `w`'s; its own backward multiplies by 3. A hook on `z`
    // that keeps what it was given, and `retain_grad`, must still see [4, 4] afterwards
    let x = tensor!([1., 2.], requires_grad = true, dtype = float64);
    let y = &x * 2.0;
    y.retain_grad();
    let z = &y * 3.0;
    z.retain_grad();
    let w = &z * 4.0;
    let kept = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let into = kept.clone();
    let _handle = z.register_hook(move |g| {
        into.borrow_mut().push(g.clone());
        None
    });
    w.sum().backward();
    assert_eq!(kept.borrow()[0].to_vec_f64(), [4., 4.]);
    assert_eq!(z.grad().unwrap().to_vec_f64(), [4., 4.]);
    assert_eq!(y.grad().unwrap().to_vec_f64(), [12., 12.]);
    assert_eq!(x.grad().unwrap().to_vec_f64(), [24., 24.]);

    // the step-by-step record of a backward keeps what arrived at and left each node
    let a = tensor!([1., 2.], requires_grad = true, dtype = float64);
    let loss = (&(&(&a * 2.0) * 3.0) * 4.0).sum();
    let stepper = step_backward(&loss);
    let arrived: Vec<_> = stepper.steps().iter().map(|s| s.grad.as_ref().map(|g| g.to_vec_f64())).collect();
    let sent: Vec<_> = stepper
        .steps()
        .iter()
        .map(|s| s.sent[..s.sent.len().min(1)].iter().flatten().map(|g| g.to_vec_f64()).collect::<Vec<_>>())
        .collect();
    assert_eq!(
        arrived,
        [Some(vec![1.]), Some(vec![1., 1.]), Some(vec![4., 4.]), Some(vec![12., 12.]), Some(vec![24., 24.])]
    );
    assert_eq!(sent[2..4], [vec![vec![12., 12.]], vec![vec![24., 24.]]]);
    assert_eq!(a.grad().unwrap().to_vec_f64(), [24., 24.]);

    // the same for `pow`'s backward: `p`'s node receives [3, 3] and sends [12, 24]
    let b = tensor!([1., 2.], requires_grad = true);
    let q = &b * 2.0;
    let p = q.pow(2);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let into = seen.clone();
    let _handle = p.register_hook(move |g| {
        into.borrow_mut().push(g.clone());
        None
    });
    (&p * 3.0).sum().backward();
    assert_eq!(seen.borrow()[0].to_vec_f64(), [3., 3.]);
    assert_eq!(b.grad().unwrap().to_vec_f64(), [24., 48.]);

    // a rule that uses the gradient twice (`a * b`, both inputs needing one) and the rules of
    // `x / c`, `exp`, `log`, `sin`, `cos` give the values PyTorch gives
    let a = tensor!([1., 2.], requires_grad = true, dtype = float64);
    let b = tensor!([3., 4.], requires_grad = true, dtype = float64);
    (&(&a * &b) * 2.0).sum().backward();
    assert_eq!(
        (a.grad().unwrap().to_vec_f64(), b.grad().unwrap().to_vec_f64()),
        (vec![6., 8.], vec![2., 4.])
    );
    let u = tensor!([0.5, 2.], requires_grad = true, dtype = float64);
    let terms = [(&u * 1.0) / 4.0, (&u * 1.0).exp(), (&u * 1.0).log(), (&u * 1.0).sin(), (&u * 1.0).cos()];
    let expected = [
        vec![0.25, 0.25],
        vec![0.5f64.exp(), 2f64.exp()],
        vec![2., 0.5],
        vec![0.5f64.cos(), 2f64.cos()],
        vec![-0.5f64.sin(), -2f64.sin()],
    ];
    for (term, expected) in terms.iter().zip(expected) {
        u.set_grad(None);
        (term * 3.0).sum().backward();
        let want: Vec<f64> = expected.iter().map(|v| v * 3.0).collect();
        assert_eq!(u.grad().unwrap().to_vec_f64(), want);
    }

    // and what a node sends on cannot be told from a new tensor: a leaf's `.grad` has
    // `_version` 0 as in PyTorch, also when a hook handed on a gradient changed in place
    assert_eq!(x.grad().unwrap().version(), 0);
    let c = tensor!([1., 2.], requires_grad = true, dtype = float64);
    let d = &c * 2.0;
    let _handle = d.register_hook(|g| {
        let changed = g.mul(1.0);
        changed.mul_(1.0);
        Some(changed)
    });
    (&d * 3.0).sum().backward();
    assert_eq!(c.grad().unwrap().to_vec_f64(), [6., 6.]);
    assert_eq!(c.grad().unwrap().version(), 0);
}

#[test]
fn an_operand_with_history_given_by_value_may_hold_the_result_recorded_as_a_new_tensor() {
    // `y * 1.01 + 0.5`: the `+` writes over `y * 1.01` (no one else holds it) and records the
    // node a new tensor would get; every case gives what the same expression with every
    // operand by reference gives: bits, dtype, layout, flags, node, next_functions, gradients
    fn edges(t: &Tensor) -> Vec<(Option<String>, usize)> {
        let node = t.grad_fn().expect("a result with history");
        node.next_functions().into_iter().map(|(n, nr)| (n.map(|n| n.name().to_string()), nr)).collect()
    }
    type Case = fn(&Tensor, &Tensor, &Tensor, bool) -> Tensor;
    // `a` and `b` need gradients, `c` does not; `by` false: every operand by reference
    let cases: [(&str, Case); 20] = [
        ("a*1.01 + 0.5", |a, _, _, by| if by { a * 1.01 + 0.5 } else { &(a * 1.01) + 0.5 }),
        ("0.5 + a*2", |a, _, _, by| if by { 0.5 + a * 2.0 } else { 0.5 + &(a * 2.0) }),
        ("a*2 - b", |a, b, _, by| if by { a * 2.0 - b } else { &(a * 2.0) - b }),
        ("b - a*2", |a, b, _, by| if by { b - a * 2.0 } else { b - &(a * 2.0) }),
        ("0.3 - a*2", |a, _, _, by| if by { 0.3 - a * 2.0 } else { 0.3 - &(a * 2.0) }),
        ("a*2 * c", |a, _, c, by| if by { a * 2.0 * c } else { &(a * 2.0) * c }),
        ("c * (a*2)", |a, _, c, by| if by { c * (a * 2.0) } else { c * &(a * 2.0) }),
        ("3 * (a*2)", |a, _, _, by| if by { 3 * (a * 2.0) } else { 3 * &(a * 2.0) }),
        ("a*2 / c", |a, _, c, by| if by { a * 2.0 / c } else { &(a * 2.0) / c }),
        ("a*2 / 4", |a, _, _, by| if by { a * 2.0 / 4 } else { &(a * 2.0) / 4 }),
        ("(a*2) + (b*3)", |a, b, _, by| if by { a * 2.0 + b * 3.0 } else { &(a * 2.0) + &(b * 3.0) }),
        // cases that make a new tensor (below): the node keeps the operand
        ("a*2 * b", |a, b, _, by| if by { a * 2.0 * b } else { &(a * 2.0) * b }),
        ("b * (a*2)", |a, b, _, by| if by { b * (a * 2.0) } else { b * &(a * 2.0) }),
        ("a*2 / b", |a, b, _, by| if by { a * 2.0 / b } else { &(a * 2.0) / b }),
        ("c / (a*2)", |a, _, c, by| if by { c / (a * 2.0) } else { c / &(a * 2.0) }),
        ("2 / (a*2)", |a, _, _, by| if by { 2.0 / (a * 2.0) } else { 2.0 / &(a * 2.0) }),
        // an op that keeps its result (exp, sigmoid): the operand is not the node's alone
        ("exp(a) + 1", |a, _, _, by| if by { a.exp() + 1.0 } else { &a.exp() + 1.0 }),
        ("sigmoid(a) * c", |a, _, c, by| if by { a.sigmoid() * c } else { &a.sigmoid() * c }),
        // a leaf is never written over
        ("a + 1", |a, _, _, by| if by { a.clone() + 1.0 } else { a + 1.0 }),
        ("a*2 + 1, no grad", |a, _, _, by| no_grad(|| if by { a * 2.0 + 1.0 } else { &(a * 2.0) + 1.0 })),
    ];
    manual_seed(11);
    for dtype in [DType::Float32, DType::Float64] {
        let (a0, b0, c) = (randn(&[3, 4]), randn(&[3, 4]), randn(&[3, 4]).to_dtype(dtype));
        let run = |case: Case, by: bool| {
            let a = a0.to_dtype(dtype).detach().requires_grad_(true);
            let b = b0.to_dtype(dtype).detach().requires_grad_(true);
            let out = case(&a, &b, &c, by);
            let seen =
                (bits(&out), out.dtype(), out.shape(), out.stride(), out.version(), out.requires_grad());
            let node = out.grad_fn().map(|n| (n.name().to_string(), edges(&out)));
            if out.requires_grad() {
                out.sum().backward();
            }
            let grads = [a.grad(), b.grad()].map(|g| g.map(|g| bits(&g)));
            (seen, node, grads)
        };
        for (expression, case) in cases {
            let (got, want) = (run(case, true), run(case, false));
            assert!(got == want, "{expression}, {dtype:?}: {:?} vs {:?}", got, want);
        }
    }
    // where it may, the result is the operand's tensor (one tensor made, not two); elsewhere
    // a new one
    let (a, b, c) =
        (randn(&[3, 4]).requires_grad_(true), randn(&[3, 4]).requires_grad_(true), randn(&[3, 4]));
    let written_over = |op: &dyn Fn(Tensor) -> Tensor| {
        let operand = &a * 2.0;
        let id = operand.id();
        op(operand).id() == id
    };
    type Op<'a> = &'a dyn Fn(Tensor) -> Tensor;
    let expected: [(&str, bool, Op); 12] = [
        ("t + 0.5", true, &|t| t + 0.5),
        ("0.5 + t", true, &|t| 0.5 + t),
        ("t - b", true, &|t| t - &b),
        ("b - t", true, &|t| &b - t),
        ("t * c", true, &|t| t * &c),
        ("t / 4", true, &|t| t / 4),
        ("t * b", false, &|t| t * &b),
        ("b * t", false, &|t| &b * t),
        ("t / b", false, &|t| t / &b),
        ("c / t", false, &|t| &c / t),
        ("2 / t", false, &|t| 2.0 / t),
        ("t + 1, no grad", false, &|t| no_grad(|| t + 1.0)),
    ];
    for (expression, expected, op) in expected {
        assert_eq!(written_over(op), expected, "{expression}");
    }
    let held = &a * 2.0;
    let keep = held.clone();
    let before = bits(&keep);
    let sum = held + 1.0;
    assert!(!sum.same(&keep) && bits(&keep) == before, "a held operand keeps its values");
}

#[test]
fn an_operand_given_by_value_may_hold_the_result_without_anyone_seeing() {
    // `x.data() - lr * g`: the by-value forms give the same bits, dtype and flags as `&a op &b`
    manual_seed(7);
    for dtype in [DType::Float32, DType::Float64] {
        let a = randn(&[3, 5]).to_dtype(dtype);
        let b = randn(&[3, 5]).to_dtype(dtype);
        let fresh = |t: &Tensor| t * 1.0; // a new tensor no one else holds, the same values
        let cases: [(Tensor, Tensor); 12] = [
            (&a + &b, fresh(&a) + &b),
            (&a - &b, &a - fresh(&b)),
            (&a * &b, fresh(&a) * fresh(&b)),
            (&a / &b, &a / fresh(&b)),
            (&a / &b, fresh(&a) / &b),
            (&a - 0.1, fresh(&a) - 0.1),
            (&a * 1.01, fresh(&a) * 1.01),
            (&a / 3, fresh(&a) / 3),
            (0.1 - &a, 0.1 - fresh(&a)),
            (2.0 / &a, 2.0 / fresh(&a)),
            (7 * &a, 7 * fresh(&a)),
            (0.5 + &a, 0.5 + fresh(&a)),
        ];
        for (i, (expected, got)) in cases.iter().enumerate() {
            assert_eq!((got.dtype(), got.shape(), got.stride()), (dtype, vec![3, 5], vec![5, 1]), "case {i}");
            assert_eq!(bits(got), bits(expected), "case {i}, {dtype:?}");
            assert_eq!((got.version(), got.requires_grad(), got.is_leaf()), (0, false, true), "case {i}");
        }
    }

    // an operand someone else still holds, directly or through a view, keeps its values
    let a = tensor!([1., 2.]);
    let t = &a * 1.0;
    let kept = t.clone();
    let view = (&a * 1.0).view([2, 1]);
    let from_view = view.view([2]);
    assert_eq!((t - 1.0).to_vec_f64(), [0., 1.]);
    assert_eq!((from_view + 1.0).to_vec_f64(), [2., 3.]);
    assert_eq!((kept.to_vec_f64(), view.view([2]).to_vec_f64()), (vec![1., 2.], vec![1., 2.]));

    // nor does one with a `.grad` of its own (a new result has none)
    let with_grad = &a * 1.0;
    with_grad.set_grad(Some(tensor!([5., 5.])));
    let sum = with_grad + 1.0;
    assert!(sum.grad().is_none());

    // a result that needs history is a new tensor with its node, as before
    let w = tensor!([1., 2.], requires_grad = true);
    let r = (&a * 1.0) * &w;
    assert_eq!(name(&r), "MulBackward0");
    r.sum().backward();
    assert_eq!(w.grad().unwrap().to_vec_f64(), [1., 2.]);
}

#[test]
fn numpy_arrays_give_their_values_shape_and_dtype() {
    let a = tensor!([[1., 2.5], [-3., 4.]]).numpy();
    assert_eq!(a.shape(), vec![2, 2]);
    assert_eq!(a.dtype(), DType::Float32);
    assert_eq!(a.to_f64(), vec![1.0, 2.5, -3.0, 4.0]);
    // row-major order also for a transposed (non-contiguous) tensor
    let t = tensor!([[1, 2, 3], [4, 5, 6]]).t().numpy();
    assert_eq!((t.shape(), t.dtype()), (vec![3, 2], DType::Int64));
    assert_eq!(t.to_f64(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(t.to_string(), "[[1 4]\n [2 5]\n [3 6]]");
    let b = tensor!([true, false]).numpy();
    assert_eq!((b.dtype(), b.to_f64()), (DType::Bool, vec![1.0, 0.0]));
    assert_eq!(tensor!(7., dtype = float64).numpy().shape(), Vec::<usize>::new());
}

#[test]
fn mean_gradients_are_materialised_so_later_sums_round_as_torchs() {
    // torch's MeanBackward0/1 give `grad.expand(sizes) / numel`, a new contiguous tensor; a
    // broadcast operand's gradient then sums it. The same values left expanded (stride 0)
    // were summed in another order: 1.0 here where torch gives 0.9999998807907104 (torch
    // 2.15.0, the Python in each comment; a fresh-seed differential program found it).
    // s = torch.tensor(-0.5, requires_grad=True); (s + torch.zeros(2, 2, 3)).mean().backward()
    let s = tensor!(-0.5, requires_grad = true);
    (&s + &zeros(&[2, 2, 3])).mean().backward();
    assert_eq!(s.grad().unwrap().item(), 0.9999998807907104);
    // (s + torch.zeros(1, 12)).mean(1).sum().backward()
    let s = tensor!(-0.5, requires_grad = true);
    (&s + &zeros(&[1, 12])).mean_dim(1, false).sum().backward();
    assert_eq!(s.grad().unwrap().item(), 0.9999998807907104);
    // r = torch.zeros(3, requires_grad=True); (r + torch.zeros(10, 3)).mean().backward()
    let r = zeros(&[3]).requires_grad_(true);
    (&r + &zeros(&[10, 3])).mean().backward();
    assert_eq!(r.grad().unwrap().to_vec_f64(), vec![0.3333333432674408; 3]);
    // x9 = torch.tensor([-0.5], requires_grad=True); (x9.dot(x9) + torch.zeros(2, 2, 3)).mean().backward()
    let x9 = tensor!([-0.5], requires_grad = true);
    (x9.dot(&x9) + zeros(&[2, 2, 3])).mean().backward();
    assert_eq!(x9.grad().unwrap().to_string(), "tensor([-1.0000])");
}

#[test]
fn zero_tensor_gradients_follow_torchs_rules_in_the_four_ops() {
    // `sgn`'s backward gives torch's "efficient zero tensor", which the four arithmetic ops
    // treat by rules of their own (torch 2.15.0):
    //   x = torch.tensor([-2., 3.], requires_grad=True); z, = torch.autograd.grad(x.sgn().sum(), x)
    //   v = torch.tensor([float('-inf'), -0.0]); then each expression below printed
    let x = tensor!([-2., 3.], requires_grad = true);
    let z = grad(&[&x.sgn().sum()], &[&x], false).remove(0);
    let v = tensor!([f64::NEG_INFINITY, -0.0]);
    let cases: Vec<(&str, Tensor, &str)> = vec![
        ("z * v", &z * &v, "tensor([0., 0.])"),
        ("v * z", &v * &z, "tensor([0., 0.])"),
        ("z * -2.0", &z * -2.0, "tensor([0., 0.])"),
        ("z / v", &z / &v, "tensor([0., 0.])"),
        ("v / z", &v / &z, "tensor([inf, inf])"),
        ("z / z", &z / &z, "tensor([nan, nan])"),
        ("z + v", &z + &v, "tensor([-inf, -0.])"),
        ("v + z", &v + &z, "tensor([-inf, -0.])"),
        ("z - v", &z - &v, "tensor([inf, 0.])"),
        ("v - z", &v - &z, "tensor([-inf, -0.])"),
        ("z - 0.0", &z - 0.0, "tensor([-0., -0.])"),
        ("0.0 - z", 0.0 - &z, "tensor([0., 0.])"),
        ("z + z", &z + &z, "tensor([0., 0.])"),
        ("-z", -&z, "tensor([-0., -0.])"),
        (
            "z.view(2, 1).expand(2, 2) * v",
            &z.view([2, 1]).expand([2, 2]) * &v,
            "tensor([[0., 0.],\n        [0., 0.]])",
        ),
    ];
    for (what, got, expected) in cases {
        assert_eq!(got.to_string(), expected, "{what}");
    }
    // so a second derivative through abs has no -0. and no 0 * inf = nan (a fresh-seed
    // differential program found the nan):
    //   x = torch.tensor([-2., 3.], requires_grad=True)
    //   g, = torch.autograd.grad((x * -2).abs().sum(), x, create_graph=True)
    //   torch.autograd.grad(g.sum(), x) -> (tensor([0., 0.]),); the same with `/ -2`
    //   x = torch.tensor([-2., float('inf')], requires_grad=True); (x * x).abs() -> tensor([2., 2.])
    //   x3 = [0., -inf, 2.]; g8 = grad(x3.pow(2).abs().sum(), create_graph); grad(g8.mean()) -> [0, 0.6667, 0.6667]
    let second = |x: &Tensor, f: &dyn Fn(&Tensor) -> Tensor| {
        let g = grad(&[&f(x).abs().sum()], &[x], true).remove(0);
        grad(&[&g.sum()], &[x], false).remove(0).to_string()
    };
    let x = tensor!([-2., 3.], requires_grad = true);
    assert_eq!(second(&x, &|x| x * -2.0), "tensor([0., 0.])");
    assert_eq!(second(&x, &|x| x / -2.0), "tensor([0., 0.])");
    let x = tensor!([-2., f64::INFINITY], requires_grad = true);
    assert_eq!(second(&x, &|x| x * x), "tensor([2., 2.])");
    let x3 = tensor!([0., f64::NEG_INFINITY, 2.], requires_grad = true);
    let g8 = grad(&[&x3.pow(2).abs().sum()], &[&x3], true).remove(0);
    assert_eq!(grad(&[&g8.mean()], &[&x3], false).remove(0).to_string(), "tensor([0.0000, 0.6667, 0.6667])");
}

#[test]
fn a_float32_base_with_a_float64_exponent_takes_the_float64_log() {
    // torch's pow_backward_exponent promotes `self` to the result's dtype before its log
    // (torch 2.15.0): x = torch.tensor([8.0, 3.0, 0.7])
    // e = torch.tensor([-2.0, 1.5, 0.3], dtype=torch.float64, requires_grad=True)
    // x.pow(e).sum().backward(); e.grad.tolist()
    let x = tensor!([8.0, 3.0, 0.7]);
    let e = tensor!([-2.0, 1.5, 0.3], dtype = float64, requires_grad = true);
    x.pow(&e).sum().backward();
    assert_eq!(
        e.grad().unwrap().to_vec_f64(),
        vec![0.032491274088747434, 5.708556905378076, -0.32048081189274974]
    );
}

#[test]
fn max_and_min_along_a_dim_write_their_gradient_so_a_negative_zero_stays() {
    // torch's value_selecting_reduction_backward scatters (writes) the gradient into zeros, so
    // a -0. gradient stays -0. (an add into zeros would make it 0.); torch 2.15.0:
    //   x = torch.zeros(2, 2, requires_grad=True); v, i = x.max(dim=0); (v * -0.0).sum().backward()
    //   -> tensor([[-0., -0.], [0., 0.]]); x.min(dim=1) -> tensor([[-0., 0.], [-0., 0.]])
    //   index_select and gather add theirs: x.index_select(0, [0, 0]) -> tensor([0., 0., 0.])
    let x = zeros(&[2, 2]).requires_grad_(true);
    (&x.max_dim(0, false).0 * -0.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([[-0., -0.],\n        [0., 0.]])");
    let x = zeros(&[2, 2]).requires_grad_(true);
    (&x.min_dim(1, false).0 * -0.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([[-0., 0.],\n        [-0., 0.]])");
    let x = zeros(&[3]).requires_grad_(true);
    (&x.index_select(0, &tensor!([0i64, 0])) * -0.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([0., 0., 0.])");
}

#[test]
fn min_and_max_of_tied_zeros_keep_the_zero_torchs_vector_loop_keeps() {
    // torch 2.15.0: one -0. among 0.s at position k of n elements; t.min() and t.max() are -0.
    // for exactly one k (the rest give 0.), measured for every k:
    //   v = [0.0] * n; v[k] = -0.0; torch.tensor(v, dtype=dt).min()
    let float32 =
        [(2, 1), (3, 2), (4, 3), (6, 5), (8, 7), (9, 7), (16, 15), (17, 15), (20, 15), (32, 31), (33, 31)];
    let float64 =
        [(2, 1), (3, 2), (4, 3), (6, 3), (8, 7), (9, 7), (16, 15), (17, 15), (20, 19), (32, 31), (33, 31)];
    for (dtype, table) in [(DType::Float32, float32), (DType::Float64, float64)] {
        for (n, negative_at) in table {
            for k in 0..n {
                let mut v = vec![0.0; n];
                v[k] = -0.0;
                let t = Tensor::from_vec(v, &[n], dtype);
                for extreme in [t.min(), t.max()] {
                    let negative = extreme.item().is_sign_negative();
                    assert_eq!(negative, k == negative_at, "{dtype:?}, n = {n}, -0. at {k}");
                }
            }
        }
    }
    // a fresh-seed differential program: x1 = torch.tensor([[-1., 0.], [0., 0.], [0., 0.]],
    // requires_grad=True); (x1 * 0.0).min() -> tensor(0., grad_fn=<MinBackward1>)
    let x1 = tensor!([[-1., 0.], [0., 0.], [0., 0.]], requires_grad = true);
    assert_eq!((&x1 * 0.0).min().to_string(), "tensor(0., grad_fn=<MinBackward1>)");
}

#[test]
fn clamping_an_integer_tensor_promotes_as_the_bound_reads_and_nan_converts_as_on_x86() {
    let k = tensor!([1, 2]);
    // k.clamp(max=1.5) is float32; k.clamp(min=0) stays int64 (a whole bound reads as an
    // int); torch.tensor([True, False]).clamp(max=1) is int64
    assert_eq!(k.clamp(None, Some(1.5)).to_string(), "tensor([1.0000, 1.5000])");
    assert_eq!(k.clamp(Some(0.0), None).to_string(), "tensor([1, 2])");
    assert_eq!(tensor!([true, false]).clamp(None, Some(1.0)).to_string(), "tensor([1, 0])");
    // torch.tensor([float('nan'), float('inf'), -float('inf'), 1e19, -2.7]).long(): x86's
    // conversion gives -2^63 for NaN and whatever is out of int64's range
    let v = tensor!([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e19, -2.7]).long();
    assert_eq!(v.to_vec_i64(), vec![i64::MIN, i64::MIN, i64::MIN, i64::MIN, -2]);
    assert_eq!(tensor!([1., 0.]).reciprocal().to_dtype(DType::Int64).to_vec_i64(), vec![1, i64::MIN]);
}

#[test]
fn autograd_grad_runs_only_what_leads_to_its_inputs_and_their_hooks_first() {
    use std::cell::RefCell;
    use std::rc::Rc;
    // x = torch.tensor(2., requires_grad=True); x.register_hook(lambda g: -g)
    // torch.autograd.grad(x ** 2, x) -> (tensor(-4.),): a leaf's hooks see a captured gradient
    let x = tensor!(2.0, requires_grad = true);
    x.register_hook(|g| Some(-g));
    assert_eq!(grad(&[&x.pow(2)], &[&x], false)[0].to_string(), "tensor(-4.)");
    // v = x * 3; v.register_hook(lambda g: g * 10); y = v ** 2
    // grad(y, [v]) -> 120 (hooked); grad(y, [v, x]) -> (12, -360): v is needed on the way to
    // x, so its gradient is captured as it arrived, before its hook
    let v = &x * 3.0;
    v.register_hook(|g| Some(g * 10.0));
    let y = v.pow(2);
    let shown = |gs: Vec<Option<Tensor>>| gs.into_iter().map(|g| g.unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(shown(grad_opts(&[&y], &[&v], None, true, false, false)), ["tensor(120.)"]);
    assert_eq!(
        shown(grad_opts(&[&y], &[&v, &x], None, true, false, false)),
        ["tensor(12.)", "tensor(-360.)"]
    );
    // another branch's hooks do not run: w = x * 5 (a hook that records) ; grad(y + w, [v])
    let seen = Rc::new(RefCell::new(0));
    let w = &x * 5.0;
    let s = seen.clone();
    w.register_hook(move |_| {
        *s.borrow_mut() += 1;
        None
    });
    let z = &y + &w;
    assert_eq!(shown(grad_opts(&[&z], &[&v], None, true, false, false)), ["tensor(120.)"]);
    assert_eq!(*seen.borrow(), 0);
    z.backward();
    assert_eq!(*seen.borrow(), 1);
}

#[test]
fn a_user_function_that_saves_its_output_keeps_it_as_torch_keeps_a_saved_output() {
    struct ExpOut;
    impl Function for ExpOut {
        fn forward(&mut self, ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            let y = inputs[0].exp();
            ctx.save_for_backward(&[&y]);
            y
        }
        fn backward(&mut self, ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(g * &ctx.saved_tensors()[0])]
        }
    }
    // g, = torch.autograd.grad(ExpOut.apply(x), x, create_graph=True); g.backward(): the saved
    // output is unpacked with ExpOutBackward as its history, so the second derivative flows
    let x = tensor!(3.0, requires_grad = true);
    let g = grad(&[&ExpOut.apply(&[&x])], &[&x], true);
    assert_eq!(g[0].to_string(), "tensor(20.0855, grad_fn=<MulBackward0>)");
    g[0].backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor(20.0855)");
    // v = ExpOut.apply(x); v.sin_(); v.backward(): the error names the function that saved it
    let v = ExpOut.apply(&[&x]);
    v.sin_();
    assert_eq!(
        panic_message(|| v.backward()),
        "one of the variables needed for gradient computation has been modified by an inplace operation: \
         [torch.FloatTensor []], which is output 0 of ExpOut, is at version 1; expected version 0 instead. Hint: \
         enable anomaly detection to find the operation that failed to compute its gradient, with \
         torch.autograd.set_detect_anomaly(True, check_nan=False)."
    );
}

#[test]
fn a_node_no_gradient_reaches_still_runs_as_in_torch() {
    struct FirstOnly;
    impl Function for FirstOnly {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] + &inputs[1]
        }
        fn backward(&mut self, _ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(g.clone()), None]
        }
    }
    // v3 = x1.sqrt(); s = FirstOnly.apply(x2, v3).sum(); s.backward(retain_graph=True);
    // s.backward(); s.backward(retain_graph=True) -> the third raises: SqrtBackward0 ran (with
    // no gradient) in the second and freed what it saved
    let x1 = tensor!([3.], requires_grad = true);
    let x2 = tensor!([[0.5], [3.], [4.]], requires_grad = true);
    let s = FirstOnly.apply(&[&x2, &x1.sqrt()]).sum();
    s.backward_opts(None, true);
    s.backward();
    assert!(panic_message(|| s.backward_opts(None, true))
        .starts_with("Trying to backward through the graph a second time"));
    assert_eq!(x2.grad().unwrap().to_vec_f64(), [3.0, 3.0, 3.0]);
    assert!(x1.grad().is_none());
    // a user function reached with no gradient is called with zeros: Twice's backward runs
    struct Twice;
    impl Function for Twice {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * 2.0
        }
        fn backward(&mut self, _ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(g * 2.0)]
        }
    }
    let a = tensor!([1., 2.], requires_grad = true);
    let b = tensor!([5., 5.], requires_grad = true);
    FirstOnly.apply(&[&b, &Twice.apply(&[&a])]).sum().backward();
    assert_eq!(a.grad().unwrap().to_string(), "tensor([0., 0.])");
}

#[test]
fn leaf_hooks_run_in_torchs_order() {
    use std::cell::RefCell;
    use std::rc::Rc;
    // a, b, c = 2., 3., 4. (leaves), each with a hook that prints its name; torch 2.15 prints
    // a b for (a*b).backward(), c a b for (a*b*c), c a b for (a+b+c), a b c for stack(...).sum()
    let log = Rc::new(RefCell::new(String::new()));
    let leaf = |v: f64, name: &'static str| {
        let t = tensor!(v, requires_grad = true);
        let log = log.clone();
        t.register_hook(move |_| {
            log.borrow_mut().push_str(name);
            None
        });
        t
    };
    let (a, b, c) = (leaf(2.0, "a"), leaf(3.0, "b"), leaf(4.0, "c"));
    let order = |run: &dyn Fn()| {
        log.borrow_mut().clear();
        run();
        log.borrow().clone()
    };
    assert_eq!(order(&|| (&a * &b).backward()), "ab");
    assert_eq!(order(&|| (&(&a * &b) * &c).backward()), "cab");
    assert_eq!(order(&|| (&(&a + &b) + &c).backward()), "cab");
    assert_eq!(order(&|| stack(&[&a, &b, &c], 0).sum().backward()), "abc");
}

#[test]
fn x_data_counts_its_in_place_changes_apart_from_x() {
    // x = torch.tensor([1., 2.], requires_grad=True); y = x * x; x.data.mul_(2);
    // y.sum().backward() -> x.grad = [4., 8.] (the saved x is read as it is now), x._version 0
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * &x;
    let d = x.data();
    d.mul_(2.0);
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), "tensor([4., 8.])");
    assert_eq!((x.version(), d.version()), (0, 1));
    // a view of x.data counts with x.data; x.detach() shares x's counter (torch raises)
    let v = d.select(0, 0);
    v.add_(1.0);
    assert_eq!((x.version(), d.version(), v.version()), (0, 2, 2));
    let y = &x * &x;
    x.detach().mul_(2.0);
    assert!(panic_message(|| y.sum().backward())
        .starts_with("one of the variables needed for gradient computation"));
    // the old tutorials' step: w.data -= lr * w.grad.data between two backwards of one graph
    let w = tensor!([1., 2.], requires_grad = true);
    let y = (&w * &w).sum();
    y.backward_opts(None, true);
    w.data().sub_(&(0.1 * &w.grad().unwrap().data()));
    y.backward();
    assert_eq!(w.grad().unwrap().to_string(), "tensor([3.6000, 7.2000])");
}

#[test]
fn a_first_gradient_laid_out_as_a_resized_variable_keeps_its_own_dtype() {
    // x2 = torch.tensor([0.25, 2., 1.], dtype=torch.float64, requires_grad=True);
    // v = x2 / torch.tensor([0.25, 0.5, 4.]); x2.data = torch.ones(2, 1, 3); v.sum().backward()
    // -> x2.grad is the float64 gradient laid out as x2 now is: shape [2, 1, 3], float64
    let x2 = tensor!([0.25, 2., 1.], dtype = float64, requires_grad = true);
    let v = &x2 / &tensor!([0.25, 0.5, 4.]);
    x2.set_data(&ones(&[2, 1, 3]));
    v.sum().backward();
    let g = x2.grad().unwrap();
    assert_eq!((g.shape(), g.dtype()), (vec![2, 1, 3], DType::Float64));
    assert_eq!(g.to_vec_f64(), [4.0, 2.0, 0.25, 4.0, 2.0, 0.25]);
}

#[test]
fn a_value_put_at_index_positions_has_its_leading_ones_viewed_away() {
    // x = torch.tensor([[1.], [2.], [3.]], requires_grad=True); v = x * 1.0
    // w = torch.tensor([5.], requires_grad=True); v[torch.tensor([0])] = w
    // -> IndexPutBackward0 with next functions MulBackward0 and ViewBackward0 (w viewed as 0-dim)
    let x = tensor!([[1.], [2.], [3.]], requires_grad = true);
    let v = &x * 1.0;
    let w = tensor!([5.], requires_grad = true);
    v.assign_with(&tensor!([0]), &w);
    assert_eq!(name(&v), "IndexPutBackward0");
    assert_eq!(next_names(&v), ["MulBackward0", "ViewBackward0"]);
    v.sum().backward();
    assert_eq!(w.grad().unwrap().to_string(), "tensor([1.])");
    assert_eq!(x.grad().unwrap().to_vec_f64(), [0.0, 1.0, 1.0]);
    // a mask index too: m[torch.tensor([True, False, True])] = w2 with w2 of shape [1, 2]
    let m = &zeros_with(&[3, 2], TensorOptions::default().requires_grad(true)) * 1.0;
    m.assign_with(&tensor!([true, false, true]), &tensor!([[5., 6.]], requires_grad = true));
    assert_eq!(next_names(&m), ["MulBackward0", "ViewBackward0"]);
}

#[test]
fn int64_values_beyond_2_pow_53_stay_exact() {
    // torch.tensor([9007199254740993, 3]): the literal, max, argmax, min; max(dim) and argmax
    // compare as integers (a float64 copy ties 2^53 + 1 with 2^53)
    let t = tensor!([9007199254740993i64, 3]);
    assert_eq!(t.to_vec_i64(), [9007199254740993, 3]);
    assert_eq!(t.max().to_vec_i64(), [9007199254740993]);
    assert_eq!(t.min().to_vec_i64(), [3]);
    assert_eq!(t.argmax().to_vec_i64(), [0]);
    let m = tensor!([[9007199254740992i64, 9007199254740993], [1, 2]]);
    let (values, indices) = m.max_dim(1, false);
    assert_eq!((values.to_vec_i64(), indices.to_vec_i64()), (vec![9007199254740993, 2], vec![1, 1]));
    assert_eq!(m.argmin_dim(1, false).to_vec_i64(), [0, 0]);
    // integer literals with another dtype convert as before
    assert_eq!(tensor!([-3, 2], dtype = float64).to_string(), "tensor([-3.,  2.], dtype=torch.float64)");
    assert_eq!(tensor!([-3, 0], dtype = bool).to_string(), "tensor([ True, False])");
}
