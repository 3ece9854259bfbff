//! Views and in-place ops as PyTorch 2.15 runs them. Every expected text below is what
//! torch 2.15.0 printed for the same program (run by hand with the Python shown in each
//! test's comment).

// Tables of (Python text, the Rust twin as a boxed closure, expected) read best inline.
#![allow(clippy::type_complexity)]

use autograd_core::error::{ErrorKind, TorchError};
use autograd_core::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn raised(f: impl FnOnce()) -> TorchError {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected an error");
    TorchError::from_payload(payload.as_ref())
}

fn grad_text(t: &Tensor) -> String {
    t.grad().map(|g| g.to_string()).unwrap_or_else(|| "None".into())
}

fn names(node: &Node) -> Vec<String> {
    node.next_functions()
        .iter()
        .map(|(n, _)| n.as_ref().map(|n| n.name()).unwrap_or_else(|| "None".into()))
        .collect()
}

#[test]
fn in_place_on_a_view_rewires_the_base_through_copy_slices() {
    // x = torch.tensor([1.,2.,3.], requires_grad=True); y = x*2; v = y.select(0,0); v.mul_(10)
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * 2.0;
    let v = y.select(0, 0);
    v.mul_(10.0);
    assert_eq!(y.to_string(), "tensor([20.,  4.,  6.], grad_fn=<CopySlices>)");
    assert_eq!(v.to_string(), "tensor(20., grad_fn=<AsStridedBackward0>)");
    let node = y.grad_fn().unwrap();
    assert_eq!(node.name(), "torch::autograd::CopySlices");
    assert_eq!(names(&node), vec!["MulBackward0", "None"]);
    assert_eq!(names(&v.grad_fn().unwrap()), vec!["torch::autograd::CopySlices"]);
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([20.,  2.,  2.])");
}

#[test]
fn in_place_on_a_view_by_a_tensor_that_requires_grad() {
    // y = x*2; y[0].mul_(w); y.sum().backward() -> x.grad [10,2,2], w.grad 2
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let w = tensor!(5., requires_grad = true);
    let y = &x * 2.0;
    y.select(0, 0).mul_(&w);
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([10.,  2.,  2.])");
    assert_eq!(grad_text(&w), "tensor(2.)");
}

#[test]
fn in_place_on_a_view_of_a_base_without_grad() {
    // n = torch.zeros(3); n[1] = w*3 -> CopySlices ((None, 0), (MulBackward0, 0))
    let w = tensor!(2., requires_grad = true);
    let n = zeros(&[3]);
    n.assign(idx![0], 5.0);
    assert_eq!(n.to_string(), "tensor([5., 0., 0.])");
    n.assign(idx![1], &(&w * 3.0));
    assert_eq!(n.to_string(), "tensor([5., 6., 0.], grad_fn=<CopySlices>)");
    assert_eq!(names(&n.grad_fn().unwrap()), vec!["None", "MulBackward0"]);
    n.sum().backward();
    assert_eq!(grad_text(&w), "tensor(3.)");
}

#[test]
fn scalar_assignment_has_one_next_function_and_whole_range_is_fill() {
    let x = tensor!([1., 2.], requires_grad = true);
    // n4 = x*2; n4[0] = 5. -> CopySlices ((MulBackward0, 0),)
    let n = &x * 2.0;
    n.assign(idx![0], 5.0);
    assert_eq!(names(&n.grad_fn().unwrap()), vec!["MulBackward0"]);
    // n3 = x*2; n3[:] = 5. -> FillBackward2
    let m = &x * 2.0;
    m.assign(idx![..], 5.0);
    assert_eq!(m.grad_fn().unwrap().name(), "FillBackward2");
    assert_eq!(names(&m.grad_fn().unwrap()), vec!["MulBackward0"]);
    // y.zero_() -> ZeroBackward0
    let z = &x * 2.0;
    z.zero_();
    assert_eq!(z.grad_fn().unwrap().name(), "ZeroBackward0");
    // a plain tensor: n2 = torch.zeros(3); n2[:] = 5.
    let p = zeros(&[3]);
    p.assign(idx![..], 5.0);
    assert_eq!(p.to_string(), "tensor([5., 5., 5.])");
}

#[test]
fn views_go_stale_after_an_in_place_change_of_their_base() {
    // y = x*1; v = y.unsqueeze(0); y.mul_(3); v.sum().backward() -> x.grad [3, 3]
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * 1.0;
    let v = y.unsqueeze(0);
    assert_eq!(v.grad_fn().unwrap().name(), "UnsqueezeBackward0");
    y.mul_(3.0);
    assert_eq!(v.to_string(), "tensor([[3., 6.]], grad_fn=<AsStridedBackward0>)");
    v.sum().backward();
    assert_eq!(grad_text(&x), "tensor([3., 3.])");
}

#[test]
fn a_view_of_a_view_and_a_transposed_view() {
    // y = x*1; v = y[0]; vv = v[1]; vv.mul_(5)
    let x = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let y = &x * 1.0;
    let v = y.select(0, 0);
    let vv = v.select(0, 1);
    vv.mul_(5.0);
    assert_eq!(y.to_string(), "tensor([[ 1., 10.],\n        [ 3.,  4.]], grad_fn=<CopySlices>)");
    assert_eq!(v.to_string(), "tensor([ 1., 10.], grad_fn=<AsStridedBackward0>)");
    // t = y.t(); t[0].mul_(3); y.sum().backward() -> x.grad [[3,1],[3,1]]
    let x = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let y = &x * 1.0;
    y.t().select(0, 0).mul_(3.0);
    assert_eq!(y.to_string(), "tensor([[3., 2.],\n        [9., 4.]], grad_fn=<CopySlices>)");
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([[3., 1.],\n        [3., 1.]])");
    // y = x*2; v = y[1:]; y.mul_(2); (v*v).sum().backward() -> [0, 64, 96]
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * 2.0;
    let v = y.index(idx![1..]);
    y.mul_(2.0);
    (&v * &v).sum().backward();
    assert_eq!(grad_text(&x), "tensor([ 0., 64., 96.])");
}

#[test]
fn copy_replaces_the_history() {
    // y = x*2; y.copy_(torch.tensor([5.,6.])) -> CopyBackwards ((MulBackward0, 0), (None, 0)); x.grad [0, 0]
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * 2.0;
    y.copy_(&tensor!([5., 6.]));
    assert_eq!(y.to_string(), "tensor([5., 6.], grad_fn=<CopyBackwards>)");
    assert_eq!(y.grad_fn().unwrap().name(), "torch::autograd::CopyBackwards");
    assert_eq!(names(&y.grad_fn().unwrap()), vec!["MulBackward0", "None"]);
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([0., 0.])");
}

#[test]
fn copy_keeps_inf_nan_out_and_converts_to_the_destination_dtype() {
    let dst = tensor!([1., 2., 3.]);
    dst.assign(idx![1], f64::INFINITY);
    dst.assign(idx![2], f64::NAN);
    dst.copy_(&tensor!([5., 6., 7.]));
    assert_eq!(dst.to_string(), "tensor([5., 6., 7.])");
    let ints = tensor!([1, 2, 3]);
    ints.copy_(&tensor!([1.5, -2.5, 3.0]));
    assert_eq!(ints.to_string(), "tensor([ 1, -2,  3])");
    // an int64 tensor assigned a value that requires grad stays without grad
    let w = tensor!(2., requires_grad = true);
    let n = zeros_with(&[3], TensorOptions::default().dtype(DType::Int64));
    n.assign(idx![0], &(&w * 3.0));
    assert_eq!(n.to_string(), "tensor([6, 0, 0])");
    assert!(!n.requires_grad());
}

#[test]
fn in_place_ops_save_the_value_before_the_change() {
    // y = x*2; y.mul_(w) -> x.grad [6, 8], w.grad [2, 4]; y = x*2; y.pow_(2) -> x.grad += [8, 16]
    let x = tensor!([1., 2.], requires_grad = true);
    let w = tensor!([3., 4.], requires_grad = true);
    let y = &x * 2.0;
    y.mul_(&w);
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([6., 8.])");
    assert_eq!(grad_text(&w), "tensor([2., 4.])");
    let y = &x * 2.0;
    y.pow_(2);
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([14., 24.])");
}

#[test]
fn a_saved_result_changed_in_place_is_caught() {
    // y = x*1; y.exp_(); y.mul_(2); y.sum().backward() -> version error
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * 1.0;
    y.exp_();
    assert_eq!(y.grad_fn().unwrap().name(), "ExpBackward0");
    y.mul_(2.0);
    let err = raised(|| y.sum().backward());
    assert_eq!(err.kind, ErrorKind::RuntimeError);
    assert!(err.message.starts_with("one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [2]]"), "{}", err.message);
    assert!(err.message.contains("is at version 2; expected version 1 instead."), "{}", err.message);
}

#[test]
fn in_place_through_detach_is_caught_too() {
    let x = ones(&[3]).requires_grad_(true);
    let y = x.exp();
    y.detach().add_(1.0);
    let err = raised(|| y.sum().backward());
    assert!(err.message.contains("is at version 1; expected version 0 instead."), "{}", err.message);
}

#[test]
fn in_place_rules_for_leaves_and_their_views() {
    let x = ones(&[3]).requires_grad_(true);
    let err = raised(|| {
        x.select(0, 0).mul_(2.0);
    });
    assert_eq!(
        err.message,
        "a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
    let err = raised(|| {
        x.assign(idx![0], 5.0);
    });
    assert_eq!(
        err.message,
        "a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
    let err = raised(|| {
        x.add_(1.0);
    });
    assert_eq!(err.message, "a leaf Variable that requires grad is being used in an in-place operation.");
}

#[test]
fn views_made_under_no_grad() {
    // with torch.no_grad(): v = x[0:2] -> tensor([1., 1.], requires_grad=True), grad_fn None, is_leaf True
    let x = ones(&[3]).requires_grad_(true);
    let v = no_grad(|| x.index(idx![0..2]));
    assert_eq!(v.to_string(), "tensor([1., 1.], requires_grad=True)");
    assert!(v.requires_grad() && v.is_leaf() && v.grad_fn().is_none());
    // z = v*2 -> MulBackward0 with ((None, 0), (None, 0)): no gradient reaches x
    let z = &v * 2.0;
    assert_eq!(z.to_string(), "tensor([2., 2.], grad_fn=<MulBackward0>)");
    assert_eq!(names(&z.grad_fn().unwrap()), vec!["None", "None"]);
    z.sum().backward();
    assert_eq!(grad_text(&x), "None");
    // y = x*2; with no_grad: v = y[0:2]; v.mul_(2) -> error
    let y = &x * 2.0;
    let v = no_grad(|| y.index(idx![0..2]));
    let err = raised(|| {
        v.mul_(2.0);
    });
    assert!(
        err.message.starts_with(
            "A view was created in no_grad mode and is being modified inplace with grad mode enabled."
        ),
        "{}",
        err.message
    );
}

#[test]
fn writing_into_an_expanded_tensor_is_refused() {
    let x = ones(&[2]);
    let err = raised(|| {
        x.expand([2, 2]).add_(1.0);
    });
    assert_eq!(
        err.message,
        "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation."
    );
}

#[test]
fn an_input_that_partly_overlaps_the_written_tensor_is_refused() {
    // torch 2.15: x = torch.arange(4.); x.add_(x[3]) -> RuntimeError (assert_no_partial_overlap);
    // reading exactly the written tensor (x.add_(x)) or a disjoint part of it is fine
    const PARTIAL: &str = "unsupported operation: some elements of the input tensor and the written-to tensor refer to \
                           a single memory location. Please clone() the tensor before performing the operation.";
    let refused = |f: &dyn Fn(&Tensor)| {
        let x = arange(4.0);
        raised(|| f(&x))
    };
    let ran = |f: &dyn Fn(&Tensor)| {
        let x = arange(4.0);
        f(&x);
        x.to_string()
    };
    let cases: Vec<(&str, Box<dyn Fn(&Tensor)>)> = vec![
        ("x.add_(x[3])", Box::new(|x| drop(x.add_(&x.index(idx![3]))))),
        (
            "x += x[3]",
            Box::new(|x| {
                let mut y = x.clone();
                y += &x.index(idx![3]);
            }),
        ),
        ("x.mul_(x[3:])", Box::new(|x| drop(x.mul_(&x.index(idx![3..]))))),
        ("x.pow_(x[3])", Box::new(|x| drop(x.pow_(&x.index(idx![3]))))),
        ("x[0:2].sub_(x[1:3])", Box::new(|x| drop(x.index(idx![0..2]).sub_(&x.index(idx![1..3]))))),
        ("x[3].div_(x)", Box::new(|x| drop(x.index(idx![3]).div_(x)))),
        ("x.view(2, 2).add_(x.view(2, 2).t())", Box::new(|x| drop(x.view([2, 2]).add_(&x.view([2, 2]).t())))),
        ("x.unsqueeze(0).add_(x)", Box::new(|x| drop(x.unsqueeze(0).add_(x)))),
        ("x[1:2].add_(x[1])", Box::new(|x| drop(x.index(idx![1..2]).add_(&x.index(idx![1]))))),
        ("x.copy_(x[3])", Box::new(|x| drop(x.copy_(&x.index(idx![3]))))),
        // the overlap is found before the shapes are compared
        ("x[0:2].copy_(x[1:4])", Box::new(|x| drop(x.index(idx![0..2]).copy_(&x.index(idx![1..4]))))),
        ("x[0:2] = x[1:3]", Box::new(|x| drop(x.assign(idx![0..2], &x.index(idx![1..3]))))),
        // index_put_ refuses any value in the written tensor, even a disjoint part
        (
            "x[torch.tensor([0, 1])] = x[2:4]",
            Box::new(|x| drop(x.assign_with(&tensor!([0, 1]), &x.index(idx![2..4])))),
        ),
    ];
    for (python, f) in &cases {
        assert_eq!(refused(f.as_ref()).message, PARTIAL, "{python}");
    }
    let cases: Vec<(&str, Box<dyn Fn(&Tensor)>, &str)> = vec![
        ("x.add_(x)", Box::new(|x| drop(x.add_(x))), "tensor([0., 2., 4., 6.])"),
        (
            "x[0:2].add_(x[2:4])",
            Box::new(|x| drop(x.index(idx![0..2]).add_(&x.index(idx![2..4])))),
            "tensor([2., 4., 2., 3.])",
        ),
        // the same elements in the same order, through other views
        (
            "x.view(2, 2).add_(x.view(1, 4).view(2, 2))",
            Box::new(|x| drop(x.view([2, 2]).add_(&x.view([1, 4]).view([2, 2])))),
            "tensor([0., 2., 4., 6.])",
        ),
        (
            "x.add_(x.unsqueeze(0)[0])",
            Box::new(|x| drop(x.add_(&x.unsqueeze(0).select(0, 0)))),
            "tensor([0., 2., 4., 6.])",
        ),
        // a column of a matrix is not dense: torch does not decide, and does not raise
        (
            "x.view(2, 2)[0].add_(x.view(2, 2)[:, 0])",
            Box::new(|x| drop(x.view([2, 2]).select(0, 0).add_(&x.view([2, 2]).select(1, 0)))),
            "tensor([0., 3., 2., 3.])",
        ),
        ("x.fill_(x[3])", Box::new(|x| drop(x.fill_tensor_(&x.index(idx![3])))), "tensor([3., 3., 3., 3.])"),
        // Python's setitem fills from a 0-dim value and copies from the value expanded
        (
            "x[0:3] = x[3]",
            Box::new(|x| drop(x.assign(idx![0..3], &x.index(idx![3])))),
            "tensor([3., 3., 3., 3.])",
        ),
        (
            "x[1:3] = x[0:1]",
            Box::new(|x| drop(x.assign(idx![1..3], &x.index(idx![0..1])))),
            "tensor([0., 0., 0., 3.])",
        ),
        ("x[0] = x[3]", Box::new(|x| drop(x.assign(idx![0], &x.index(idx![3])))), "tensor([3., 1., 2., 3.])"),
        ("x[3] = x[3]", Box::new(|x| drop(x.assign(idx![3], &x.index(idx![3])))), "tensor([0., 1., 2., 3.])"),
    ];
    for (python, f, expected) in &cases {
        assert_eq!(ran(f.as_ref()), *expected, "{python}");
    }
    // masks: x[0:2].masked_fill_(x[1:3], False) is refused, x.masked_fill_(x, False) runs
    let b = tensor!([true, false, true, true]);
    assert_eq!(raised(|| drop(b.index(idx![0..2]).masked_fill_(&b.index(idx![1..3]), 0.0))).message, PARTIAL);
    assert_eq!(b.masked_fill_(&b, 0.0).to_string(), "tensor([False, False, False, False])");
    // x.expand(2, 4).add_(x[1]): the written tensor's own overlap is reported first
    let x = arange(4.0);
    assert!(raised(|| drop(x.expand([2, 4]).add_(&x.index(idx![1]))))
        .message
        .starts_with("unsupported operation: more than one element"));
    // a leaf that requires grad: the leaf rule comes first
    let x = arange(4.0).requires_grad_(true);
    assert_eq!(
        raised(|| drop(x.add_(&x.index(idx![3])))).message,
        "a leaf Variable that requires grad is being used in an in-place operation."
    );
    // with history: y = x * 1; y.add_(y[3])
    let y = &x * 1.0;
    assert_eq!(raised(|| drop(y.add_(&y.index(idx![3])))).message, PARTIAL);
}

#[test]
fn new_in_place_ops_record_their_node() {
    let x = tensor!([-1., 0.5, 2.], requires_grad = true);
    let cases: Vec<(&str, Box<dyn Fn(&Tensor) -> Tensor>)> = vec![
        ("ExpBackward0", Box::new(|t: &Tensor| t.exp_())),
        ("ReluBackward0", Box::new(|t: &Tensor| t.relu_())),
        ("NegBackward0", Box::new(|t: &Tensor| t.neg_())),
        ("AbsBackward0", Box::new(|t: &Tensor| t.abs_())),
        ("SigmoidBackward0", Box::new(|t: &Tensor| t.sigmoid_())),
        ("TanhBackward0", Box::new(|t: &Tensor| t.tanh_())),
    ];
    for (name, op) in cases {
        let y = &x * 1.0;
        op(&y);
        assert_eq!(y.grad_fn().unwrap().name(), name);
        assert_eq!(names(&y.grad_fn().unwrap()), vec!["MulBackward0"]);
    }
    let y = &x * 1.0;
    y.masked_fill_(&x.gt(0.0), 0.0);
    assert_eq!(y.to_string().split("grad_fn").next().unwrap(), "tensor([-1.,  0.,  0.], ");
}

#[test]
fn in_place_under_no_grad_updates_values_only() {
    let w = tensor!([1., 2.], requires_grad = true);
    (&w * 3.0).sum().backward();
    no_grad(|| {
        w.sub_(&(w.grad().unwrap() * 0.5));
    });
    assert_eq!(w.to_string(), "tensor([-0.5000,  0.5000], requires_grad=True)");
    assert!(w.is_leaf());
}

#[test]
fn assignment_through_a_mask_or_positions_is_index_put() {
    // y = x*2; y[y<0] = w*1 -> IndexPutBackward0 ((MulBackward0, 0), (MulBackward0, 0)); x.grad [2,0,2], w.grad 1
    let x = tensor!([1., -2., 3.], requires_grad = true);
    let w = tensor!(5., requires_grad = true);
    let y = &x * 2.0;
    y.assign_with(&y.lt(0.0), &(&w * 1.0));
    assert_eq!(y.to_string(), "tensor([2., 5., 6.], grad_fn=<IndexPutBackward0>)");
    assert_eq!(names(&y.grad_fn().unwrap()), vec!["MulBackward0", "MulBackward0"]);
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([2., 0., 2.])");
    assert_eq!(grad_text(&w), "tensor(1.)");
    // y = m*1; y[torch.tensor([1])] = v; (y*c).sum().backward() -> m.grad [[1,2],[0,0]], v.grad [3,4]
    let m = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let v = tensor!([10., 20.], requires_grad = true);
    let c = tensor!([[1., 2.], [3., 4.]]);
    let y = &m * 1.0;
    y.assign_with(&tensor!([1]), &v);
    assert_eq!(y.to_string(), "tensor([[ 1.,  2.],\n        [10., 20.]], grad_fn=<IndexPutBackward0>)");
    (&y * &c).sum().backward();
    assert_eq!(grad_text(&m), "tensor([[1., 2.],\n        [0., 0.]])");
    assert_eq!(grad_text(&v), "tensor([3., 4.])");
    let err = raised(|| {
        (&m * 1.0).assign_with(&tensor!([5]), 1.0);
    });
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::IndexError, "index 5 is out of bounds for dimension 0 with size 2")
    );
    let err = raised(|| {
        (&m * 1.0).assign_with(&Tensor::from_bools(vec![true, false, true], &[3]), 1.0);
    });
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::IndexError, "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 2] at index 0")
    );
    let err = raised(|| {
        (&m * 1.0).assign_with(&tensor!([0]), &ones(&[3]));
    });
    assert_eq!(
        err.message,
        "shape mismatch: value tensor of shape [3] cannot be broadcast to indexing result of shape [1, 2]"
    );
}

#[test]
fn indexing_gives_slices_and_aliases_as_python_does() {
    // x[:, :] AliasBackward0; x[:] SliceBackward0; x[0:2] SliceBackward0; x[:, 0:2] AliasBackward0; x[0:1, :] SliceBackward0
    let x = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let cases = [
        (idx![.., ..], "AliasBackward0"),
        (idx![..], "SliceBackward0"),
        (idx![0..2], "SliceBackward0"),
        (idx![.., 0..2], "AliasBackward0"),
        (idx![0..1, ..], "SliceBackward0"),
        (idx![.., 1], "SelectBackward0"),
        (idx![0..5], "SliceBackward0"),
    ];
    for (items, name) in cases {
        let y = x.index(items.clone());
        assert_eq!(y.grad_fn().map(|n| n.name()).as_deref(), Some(name), "{items:?}");
        assert!(!y.is_leaf());
    }
}

#[test]
fn assignment_that_picks_everything_writes_into_the_tensor_itself() {
    // y[:, :] = 5. / y[0:2] = 5. -> FillBackward2; y[0:2] = torch.ones(2,2) -> CopyBackwards; y[:] = w*1 -> FillBackward3
    let x = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let w = tensor!(3., requires_grad = true);
    for items in [idx![.., ..], idx![..], idx![0..2], idx![.., 0..2]] {
        let y = &x * 1.0;
        y.assign(items, 5.0);
        assert_eq!(y.grad_fn().unwrap().name(), "FillBackward2");
    }
    let y = &x * 1.0;
    y.assign(idx![0..2], &ones(&[2, 2]));
    assert_eq!(y.grad_fn().unwrap().name(), "torch::autograd::CopyBackwards");
    let y = &x * 1.0;
    y.assign(idx![..], &(&w * 1.0));
    assert_eq!(y.grad_fn().unwrap().name(), "FillBackward3");
    assert_eq!(names(&y.grad_fn().unwrap()), vec!["MulBackward0", "MulBackward0"]);
    y.sum().backward();
    assert_eq!(grad_text(&w), "tensor(4.)");
    assert_eq!(grad_text(&x), "tensor([[0., 0.],\n        [0., 0.]])");
}

#[test]
fn python_setitem_becomes_the_in_place_op_torch_picks() {
    // torch 2.15: y = x*1 with x 2x2 requiring grad, then each assignment; grad_fn name and next_functions
    let x = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
    let w = tensor!(3., requires_grad = true);
    let check = |f: &dyn Fn(&Tensor), name: &str, next: &[&str]| {
        let y = &x * 1.0;
        f(&y);
        let node = y.grad_fn().unwrap();
        assert_eq!(node.name(), name);
        assert_eq!(names(&node), next);
    };
    check(&|y| drop(y.assign_with(&y.gt(2.0), 0.0)), "MaskedFillBackward0", &["MulBackward0"]);
    check(
        &|y| drop(y.assign_with(&y.gt(2.0), &(&w * 1.0))),
        "IndexPutBackward0",
        &["MulBackward0", "MulBackward0"],
    );
    check(
        &|y| drop(y.assign_with(&y.gt(2.0), &tensor!([7., 8.]))),
        "IndexPutBackward0",
        &["MulBackward0", "None"],
    );
    check(&|y| drop(y.assign_with(&tensor!([0]), 0.0)), "IndexFillBackward0", &["MulBackward0"]);
    check(
        &|y| drop(y.assign_with(&tensor!([0]), &(&w * 1.0))),
        "IndexPutBackward0",
        &["MulBackward0", "MulBackward0"],
    );
    check(&|y| drop(y.assign(idx![0], 5.0)), "torch::autograd::CopySlices", &["MulBackward0"]);
    check(
        &|y| drop(y.assign(idx![0], &(&w * 1.0))),
        "torch::autograd::CopySlices",
        &["MulBackward0", "MulBackward0"],
    );
    check(&|y| drop(y.assign(idx![1..], 5.0)), "torch::autograd::CopySlices", &["MulBackward0"]);
    check(&|y| drop(y.assign(idx![0..2, ..], 5.0)), "FillBackward2", &["MulBackward0"]);
    // a negative start is a real slice even when it covers everything: v6[-2:2] = 3.0
    check(&|y| drop(y.assign(idx![-2..2], 5.0)), "torch::autograd::CopySlices", &["MulBackward0"]);
    check(
        &|y| drop(y.assign_with(&Tensor::from_bools(vec![true], &[]), 5.0)),
        "torch::autograd::CopySlices",
        &["MulBackward0"],
    );
    // x2[-2, -1:] on a [2, 1, 3] tensor ends in a slice
    let x2 = ones(&[2, 1, 3]).requires_grad_(true);
    assert_eq!(x2.index(idx![-2, -1..]).grad_fn().unwrap().name(), "SliceBackward0");
}

#[test]
fn a_gradient_kept_for_higher_derivatives_is_a_copy_in_the_graph() {
    // y = (x**3).sum(); y.backward(create_graph=True) -> x.grad tensor([ 3., 12.], grad_fn=<CopyBackwards>), next ((None, 0), (MulBackward0, 0))
    let x = tensor!([1., 2.], requires_grad = true);
    x.pow(3).sum().backward_create_graph(None);
    let g = x.grad().unwrap();
    assert_eq!(g.to_string(), "tensor([ 3., 12.], grad_fn=<CopyBackwards>)");
    assert_eq!(names(&g.grad_fn().unwrap()), vec!["None", "MulBackward0"]);
    x.pow(3).sum().backward_create_graph(None);
    assert_eq!(x.grad().unwrap().to_string(), "tensor([ 6., 24.], grad_fn=<AddBackward0>)");
}

#[test]
fn a_number_multiplied_in_is_saved_so_a_second_backward_fails() {
    // (x*2).sum() and (x/2).sum() twice raise; (x+2).sum() twice accumulates
    let x = tensor!([1., 2.], requires_grad = true);
    for y in [(&x * 2.0).sum(), (&x / 2.0).sum(), (2.0 * &x).sum()] {
        y.backward();
        let err = raised(|| y.backward());
        assert!(
            err.message.starts_with("Trying to backward through the graph a second time"),
            "{}",
            err.message
        );
    }
    let y = (&x + 2.0).sum();
    y.backward();
    y.backward();
}

#[test]
fn backward_with_inputs_still_fills_the_roots_retained_grad() {
    // v20 = x15.mean(); v20.retain_grad(); v20.backward(inputs=[x4]) -> v20.grad tensor(1.), x4.grad None
    let x15 = tensor!([[2., 1.5], [4., 1.5]], requires_grad = true);
    let x4 = tensor!([4., 3.], requires_grad = true);
    let v20 = x15.mean();
    v20.retain_grad();
    v20.backward_inputs(None, false, &[&x4]);
    assert_eq!(grad_text(&v20), "tensor(1.)");
    assert_eq!(grad_text(&x4), "None");
    assert_eq!(grad_text(&x15), "None");
}

#[test]
fn saved_tensors_are_the_ones_torch_keeps() {
    // torch 2.15: gather keeps its input, so changing it afterwards is the version error
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * 2.0;
    let g = y.gather(0, &tensor!([1]));
    y.mul_(2.0);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.sum().backward()))
        .expect_err("torch raises");
    let err = autograd_core::error::TorchError::from_payload(&*err);
    assert_eq!(
        err.message,
        "one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of Mul, is at version 1; expected version 0 instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    );
    // a / b keeps `a` only when b needs a gradient: changing `a` afterwards is fine here
    let a = tensor!([1., 2.], requires_grad = true);
    let y = &a * 1.0;
    let z = y.div(&tensor!([4., 5.]));
    y.mul_(3.0);
    z.sum().backward();
    assert_eq!(a.grad().unwrap().to_string(), "tensor([0.2500, 0.2000])");
}

#[test]
fn the_result_of_an_in_place_op_on_a_view_has_the_views_history() {
    // torch 2.15 saves the result of v.exp_() on a view with the view's new grad_fn (its
    // AsStridedBackward0), weakly: the version error names it while it lives (v kept, or a
    // node made from v), else the op itself
    fn message(node: &str) -> String {
        format!(
            "one of the variables needed for gradient computation has been modified by an inplace operation: \
             [torch.FloatTensor [2]], which is output 0 of {node}, is at version 2; expected version 1 instead. \
             Hint: enable anomaly detection to find the operation that failed to compute its gradient, with \
             torch.autograd.set_detect_anomaly(True, check_nan=False)."
        )
    }
    let x = tensor!([1., 2., 3.], requires_grad = true);
    // y = x*3; v = y[0:2]; v.exp_(); y.mul_(2); y.sum().backward()
    let y = &x * 3.0;
    let v = y.index(idx![0..2]);
    v.exp_();
    y.mul_(2.0);
    assert_eq!(raised(|| y.sum().backward()).message, message("AsStrided"));
    // y[0:2].exp_() on a view that is gone at once
    let y = &x * 3.0;
    y.index(idx![0..2]).exp_();
    y.mul_(2.0);
    assert_eq!(raised(|| y.sum().backward()).message, message("Exp"));
    // v kept, but v.grad_fn read after y.mul_(2): v's grad_fn is rebuilt and the first one gone
    let y = &x * 3.0;
    let v = y.index(idx![0..2]);
    v.exp_();
    y.mul_(2.0);
    v.grad_fn();
    assert_eq!(raised(|| y.sum().backward()).message, message("Exp"));
    // ... unless a node made from v still holds it: w = v * 1
    let y = &x * 3.0;
    let v = y.index(idx![0..2]);
    v.exp_();
    let _w = &v * 1.0;
    y.mul_(2.0);
    v.grad_fn();
    assert_eq!(raised(|| y.sum().backward()).message, message("AsStrided"));
    // y = x*3; v = y[1]; v.sigmoid_(); v.mul_(2): the second in-place rebuilds v's grad_fn
    let y = &x * 3.0;
    let v = y.index(idx![1]);
    v.sigmoid_();
    v.mul_(2.0);
    assert!(raised(|| y.sum().backward())
        .message
        .contains("[torch.FloatTensor []], which is output 0 of Sigmoid, is at version 2"));
}

#[test]
fn a_view_made_under_no_grad_is_refused_once_its_storage_changed() {
    // torch 2.15 (VariableHooks::grad_fn -> handle_view_on_rebase): x = torch.tensor([1., 2., 3.],
    // requires_grad=True); y = x * 2; with torch.no_grad(): v = y[0:2]; then y.add_(1) (with or
    // without grad mode) and anything that asks for v's grad_fn raises
    const TAIL: &str = " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your \
                        code by moving both the view and the inplace either both inside the no_grad block (if you don't \
                        want the inplace to be tracked) or both outside (if you want the inplace to be tracked).";
    let indirect = format!("A view was created in no_grad mode and its base or another view of its base has been modified inplace with grad mode enabled.{TAIL}");
    let direct = format!(
        "A view was created in no_grad mode and is being modified inplace with grad mode enabled.{TAIL}"
    );
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let stale = |base_change_under_no_grad: bool| {
        let y = &x * 2.0;
        let v = no_grad(|| y.index(idx![0..2]));
        if base_change_under_no_grad {
            no_grad(|| drop(y.add_(1.0)));
        } else {
            y.add_(1.0);
        }
        v
    };
    for under_no_grad in [false, true] {
        let v = stale(under_no_grad);
        assert_eq!(raised(|| drop(v.grad_fn())).message, indirect);
        assert_eq!(raised(|| assert!(v.is_leaf())).message, indirect);
        assert_eq!(raised(|| drop(&v * 2.0)).message, indirect);
        assert_eq!(raised(|| drop(v.sum())).message, indirect);
        assert_eq!(raised(|| drop(v.view([2]))).message, indirect);
        assert_eq!(raised(|| drop(&x.index(idx![0..2]) * &v)).message, indirect);
        assert_eq!(raised(|| drop(v.add_(1.0))).message, direct);
        // print(v): torch's repr catches the error
        assert_eq!(v.to_string(), "tensor([3., 5.], grad_fn=<Invalid>)");
        assert_eq!(no_grad(|| v.to_string()), "tensor([3., 5.], grad_fn=<Invalid>)");
        assert!(v.requires_grad());
        assert_eq!(v.detach().to_string(), "tensor([3., 5.])");
        assert_eq!(v.to_vec_f64(), vec![3.0, 5.0]);
        assert_eq!(no_grad(|| (&v * 2.0).to_string()), "tensor([ 6., 10.])");
        v.retain_grad();
        assert!(v.grad().is_none());
        // a view of it made under no_grad starts afresh: with torch.no_grad(): v2 = v[0:1]
        let v2 = no_grad(|| v.index(idx![0..1]));
        assert_eq!((&v2 * 2.0).to_string(), "tensor([6.], grad_fn=<MulBackward0>)");
    }
    // the base's own history is not affected: y.sum().backward() -> x.grad [2., 2., 2.]
    let y = &x * 2.0;
    let _v = no_grad(|| y.view([3]));
    no_grad(|| drop(y.add_(1.0)));
    y.sum().backward();
    assert_eq!(grad_text(&x), "tensor([2., 2., 2.])");
    // a leaf base: with torch.no_grad(): v = x[0:2]; x.add_(1)
    let leaf = tensor!([1., 2., 3.], requires_grad = true);
    let v = no_grad(|| leaf.index(idx![0..2]));
    no_grad(|| drop(leaf.add_(1.0)));
    assert_eq!(raised(|| drop(&v * 2.0)).message, indirect);
    assert_eq!(v.to_string(), "tensor([2., 3.], grad_fn=<Invalid>)");
    // a base that requires no grad: z = torch.zeros(3); with torch.no_grad(): v = z[0:2]; z.add_(1)
    let z = zeros(&[3]);
    let v = no_grad(|| z.index(idx![0..2]));
    z.add_(1.0);
    assert!(v.grad_fn().is_none());
    assert_eq!((&v * 2.0).to_string(), "tensor([2., 2.])");
    // the view is refused before view's own check of the strides:
    // v4 = x2 + 1; with torch.no_grad(): v8 = v4.transpose(1, 0); v4.div_(2); v8.view(8, 1)
    let x2 = ones(&[2, 2, 2]).requires_grad_(true);
    let v4 = &x2 + 1.0;
    let v8 = no_grad(|| v4.transpose(1, 0));
    no_grad(|| drop(v4.div_(2.0)));
    assert_eq!(raised(|| drop(v8.view([8, 1]))).message, indirect);
}

#[test]
fn a_view_of_a_view_made_under_no_grad_counts_as_made_under_no_grad() {
    // torch 2.15: y = x * 2; with torch.no_grad(): v = y[0:2]; w = v[0:1] (grad mode: SliceBackward0)
    const TAIL: &str = " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your \
                        code by moving both the view and the inplace either both inside the no_grad block (if you don't \
                        want the inplace to be tracked) or both outside (if you want the inplace to be tracked).";
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * 2.0;
    let v = no_grad(|| y.index(idx![0..2]));
    let w = v.index(idx![0..1]);
    assert_eq!(w.to_string(), "tensor([2.], grad_fn=<SliceBackward0>)");
    assert!(w.requires_grad() && !w.is_leaf());
    // w.add_(1)
    assert_eq!(
        raised(|| drop(w.add_(1.0))).message,
        format!("Output 0 of Slice is a view of a view which was created in no_grad mode and is being modified inplace with grad mode enabled.{TAIL}")
    );
    // y.add_(1); w * 2
    y.add_(1.0);
    assert_eq!(
        raised(|| drop(&w * 2.0)).message,
        format!(
            "Output 0 of Slice is a view of a view which was created in no_grad mode and its base or another view of its \
             base has been modified inplace with grad mode enabled.{TAIL}"
        )
    );
    assert_eq!(w.to_string(), "tensor([3.], grad_fn=<Invalid>)");
}

#[test]
fn in_place_on_a_view_made_under_no_grad_is_checked_first() {
    // torch 2.15's check_inplace: the no_grad view before the view of a leaf, and whenever the
    // op has an input that requires grad
    let direct = "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given that \
                  this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both \
                  the view and the inplace either both inside the no_grad block (if you don't want the inplace to be \
                  tracked) or both outside (if you want the inplace to be tracked).";
    // x = torch.tensor([1., 2., 3.], requires_grad=True); with torch.no_grad(): v = x[0:2]; v.mul_(2)
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let v = no_grad(|| x.index(idx![0..2]));
    assert_eq!(raised(|| drop(v.mul_(2.0))).message, direct);
    // z = torch.zeros(3); w = torch.tensor(2., requires_grad=True); with torch.no_grad(): v = z[0:2]; v.mul_(w)
    let z = zeros(&[3]);
    let w = tensor!(2., requires_grad = true);
    let v = no_grad(|| z.index(idx![0..2]));
    assert_eq!(raised(|| drop(v.mul_(&w))).message, direct);
    // ... v.mul_(2) runs (nothing requires grad), and v * w is recorded
    v.mul_(2.0);
    assert_eq!((&v * &w).to_string(), "tensor([0., 0.], grad_fn=<MulBackward0>)");
}

#[test]
fn setitem_views_and_expands_a_value_of_another_shape_as_python_does() {
    // torch 2.15: z = torch.full((2, 3), -2.); z[0:] = w (w [1, 3] requires grad):
    // CopyBackwards <- ExpandBackward0 <- ViewBackward0 <- AccumulateGrad; z[0] = w:
    // CopySlices <- ViewBackward0
    let w = tensor!([[1., 2., 3.]], requires_grad = true);
    let z = full(&[2, 3], -2.0);
    z.assign(idx![0..], &w);
    let copy = z.grad_fn().unwrap();
    assert_eq!(copy.name(), "torch::autograd::CopyBackwards");
    let expand = copy.next_functions()[1].0.clone().unwrap();
    assert_eq!(expand.name(), "ExpandBackward0");
    assert_eq!(expand.next_functions()[0].0.as_ref().unwrap().name(), "ViewBackward0");
    let z = full(&[2, 3], -2.0);
    z.assign(idx![0], &w);
    let slices = z.grad_fn().unwrap();
    assert_eq!(slices.name(), "torch::autograd::CopySlices");
    assert_eq!(names(&slices), vec!["None".to_string(), "ViewBackward0".to_string()]);
    z.sum().backward();
    assert_eq!(w.grad().unwrap().to_string(), "tensor([[1., 1., 1.]])");
}

#[test]
fn vector_at_matrix_counts_its_in_place_squeeze_as_torch() {
    // torch 2.15: (x8 @ x9)._version is 1 (matmul ends with squeeze_(0)), so a version error
    // after one more in-place change says "is at version 2; expected version 1"
    let x8 = tensor!([-0.5], requires_grad = true);
    let x9 = tensor!([[-1., 2., 2.]], requires_grad = true);
    let v = x8.matmul(&x9);
    let c = v.clamp(Some(0.0), Some(0.5));
    v.assign(idx![0], 1.0);
    let err = raised(|| c.sum().backward());
    assert!(err.message.contains("is at version 2; expected version 1 instead"), "{}", err.message);
}

#[test]
fn a_number_at_positions_of_an_empty_tensor_is_torchs_index_fill() {
    // torch 2.15 (/tmp/empty_put.py, /tmp/empty_put2.py in the session note): `x[t] = number`
    // is index_fill_, which views x with t.numel() rows of stride 0 before it checks a position
    let storage_error = |x: &Tensor, index: &Tensor| raised(|| drop(x.assign_with(index, 0.5)));
    let cases: Vec<(&str, Tensor, Tensor, &str)> = vec![
        (
            "x=zeros(0); x[tensor([0])]=0.5",
            zeros(&[0]),
            tensor!([0]),
            "setStorage: sizes [1], strides [0], storage offset 0, and itemsize 4 requiring a storage size of 4 are out of bounds for storage of size 0",
        ),
        (
            "x=zeros(0, float64); x[tensor([0, 1])]=0.5",
            zeros(&[0]).to_dtype(DType::Float64),
            tensor!([0, 1]),
            "setStorage: sizes [2], strides [0], storage offset 0, and itemsize 8 requiring a storage size of 8 are out of bounds for storage of size 0",
        ),
        (
            "x=zeros(0,2,3); x[tensor([0])]=0.5",
            zeros(&[0, 2, 3]),
            tensor!([0]),
            "setStorage: sizes [1, 2, 3], strides [0, 3, 1], storage offset 0, and itemsize 4 requiring a storage size of 24 are out of bounds for storage of size 0",
        ),
        (
            "z=zeros(3); x=z[3:3]; x[tensor([0])]=0.5",
            zeros(&[3]).index(idx![3..3]),
            tensor!([0]),
            "setStorage: sizes [1], strides [0], storage offset 3, and itemsize 4 requiring a storage size of 16 are out of bounds for storage of size 12",
        ),
        (
            "x=zeros(0); x[tensor([[0, 0]])]=0.5",
            zeros(&[0]),
            tensor!([[0, 0]]),
            "setStorage: sizes [2], strides [0], storage offset 0, and itemsize 4 requiring a storage size of 4 are out of bounds for storage of size 0",
        ),
    ];
    for (python, x, index, message) in cases {
        let err = storage_error(&x, &index);
        assert_eq!((err.kind, err.message.as_str()), (ErrorKind::RuntimeError, message), "{python}");
    }
    // the view fits in the storage: the position is checked as for any tensor
    let z = zeros(&[3]);
    let err = storage_error(&z.index(idx![1..1]), &tensor!([0]));
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::IndexError, "index 0 is out of bounds for dimension 0 with size 0")
    );
    assert_eq!(z.to_string(), "tensor([0., 0., 0.])");
    // an empty region is filled without looking at the positions
    let x = zeros(&[2, 0]);
    x.assign_with(&tensor!([5]), 0.5);
    assert_eq!(x.to_string(), "tensor([], size=(2, 0))");
    // a tensor value is index_put_, which words an empty dim without the numbers
    let err = raised(|| drop(zeros(&[0]).assign_with(&tensor!([0]), &tensor!([1.]))));
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::IndexError, "index is out of bounds for dimension with size 0")
    );
}

#[test]
fn second_derivatives_flow_through_copy_slices() {
    // torch 2.15: x=[1,2,3]; y=x*x; y[1:].mul_(x[:2]); g,=grad(y.sum(), x, create_graph=True)
    // -> g [6,13,12] (AddBackward0); (g*g).sum().backward() -> x.grad [128,244,252]
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * &x;
    y.index(idx![1..]).mul_(&x.index(idx![..2]));
    let g = autograd_core::autograd::engine::grad(&[&y.sum()], &[&x], true).remove(0);
    assert_eq!(g.to_string(), "tensor([ 6., 13., 12.], grad_fn=<AddBackward0>)");
    (&g * &g).sum().backward();
    assert_eq!(grad_text(&x), "tensor([128., 244., 252.])");
    // the gradient's own graph: torch's CopySlices over the op's backward, and the slice's
    // backward is SliceBackwardBackward0
    let first = g.grad_fn().unwrap().next_functions()[0].0.clone().unwrap();
    assert_eq!(names(&first), vec!["SliceBackwardBackward0", "MulBackward0"]);
    let second = first.next_functions()[1].0.clone().unwrap();
    assert_eq!(names(&second), vec!["torch::autograd::CopySlices", "torch::autograd::AccumulateGrad"]);
    // y=x*2; y[0]=x[1]*x[1]: g [0,6,2]; g.sum().backward() -> x.grad [0,2,0]
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = &x * 2.0;
    y.assign(idx![0], &(&x.index(idx![1]) * &x.index(idx![1])));
    let g = autograd_core::autograd::engine::grad(&[&y.sum()], &[&x], true).remove(0);
    assert_eq!(g.to_string(), "tensor([0., 6., 2.], grad_fn=<AddBackward0>)");
    g.sum().backward();
    assert_eq!(grad_text(&x), "tensor([0., 2., 0.])");
}

#[test]
fn an_empty_view_past_the_end_of_an_empty_storage_is_written_and_differentiated() {
    // torch.zeros(2, 0)[1] is at storage offset 1 of a storage of no elements: writing to it
    // writes nothing, and the backward of select / narrow scatters nothing into zeros (a
    // fresh-seed differential program: narrow(1, 1, 0), [1], clone, sum, backward raised a
    // slice-range error here, where torch runs):
    //   v = lambda: torch.zeros(2, 0)[1]; a = v(); a.add_(v()); a.copy_(v()); a.fill_(1.0)
    //   b = torch.zeros(2, 0, requires_grad=True); b[1].exp().sum().backward(); b.grad
    //   -> tensor([], size=(2, 0));  b = torch.zeros(2, 0); b[1] = 1.0; b -> the same
    let view = || zeros(&[2, 0]).index(idx![1]);
    let a = view();
    a.add_(&view());
    a.copy_(&view());
    a.fill_(1.0);
    a.zero_();
    assert_eq!(a.to_string(), "tensor([])");
    for f in [
        |b: &Tensor| b.index(idx![1]).exp(),
        |b: &Tensor| b.narrow(0, 1, 1),
        |b: &Tensor| b.narrow(1, 0, 0).index(idx![1]).deep_clone(),
    ] {
        let b = zeros(&[2, 0]).requires_grad_(true);
        f(&b).sum().backward();
        assert_eq!(grad_text(&b), "tensor([], size=(2, 0))");
    }
    let x2 = tensor!([[0., 0.], [0., 0.]], requires_grad = true);
    x2.narrow(1, 1, 0).index(idx![1]).deep_clone().sum().backward();
    assert_eq!(grad_text(&x2), "tensor([[0., 0.],\n        [0., 0.]])");
    let b = zeros(&[2, 0]);
    b.assign(idx![1], 1.0);
    b.assign(idx![1], &zeros(&[0]));
    assert_eq!(b.to_string(), "tensor([], size=(2, 0))");
    // an in-place op on such a view of a tensor with history, then backward through CopySlices
    let leaf = zeros(&[2, 0]).requires_grad_(true);
    let c = &leaf * 1.0;
    c.index(idx![1]).mul_(2.0);
    c.sum().backward();
    assert_eq!(grad_text(&leaf), "tensor([], size=(2, 0))");
}

#[test]
fn a_version_error_names_the_views_grad_fn_while_a_later_copy_slices_keeps_it() {
    // After `v.sqrt_()` on a view the saved result's history is the view's AsStridedBackward0,
    // held weakly. A later in-place op on the same view wraps its own node in a CopySlices,
    // which keeps that node's edges, the first to the old AsStridedBackward0: torch's error
    // names it ("AsStrided") even after the view is gone; with nothing holding it, "Sqrt".
    // torch 2.15.0, for each variant below (then v9.sum().backward()):
    //   x1 = torch.zeros(3, 1, dtype=torch.float64, requires_grad=True)
    //   v4 = 1.5 + x1; v7 = v4.t(); v7.sqrt_(); v9 = v4.relu()
    //   a: v7.relu_()            -> "... which is output 0 of AsStrided, ..."
    //   b: v4.relu_()            -> AsStrided (the view v7 still holds it)
    //   c: del v7; v4.relu_()    -> Sqrt
    //   d: v4.view(3).relu_()    -> AsStrided
    //   e: v7.mul_(2); del v7    -> AsStrided (a fresh-seed differential program: variant a)
    // `view` is `v7`; setting it to None is `del v7`
    type Variant = fn(&Tensor, &mut Option<Tensor>);
    let variants: [(Variant, &str); 5] = [
        (|_, v7| drop(v7.as_ref().unwrap().relu_()), "AsStrided"),
        (|v4, _| drop(v4.relu_()), "AsStrided"),
        (
            |v4, v7| {
                *v7 = None;
                v4.relu_();
            },
            "Sqrt",
        ),
        (|v4, _| drop(v4.view([3]).relu_()), "AsStrided"),
        (
            |_, v7| {
                v7.as_ref().unwrap().mul_(2.0);
                *v7 = None;
            },
            "AsStrided",
        ),
    ];
    for (i, (change, name)) in variants.into_iter().enumerate() {
        let x1 = zeros_with(&[3, 1], TensorOptions::default().dtype(DType::Float64)).requires_grad_(true);
        let v4 = 1.5 + &x1;
        let mut view = Some(v4.t());
        view.as_ref().unwrap().sqrt_();
        let v9 = v4.relu();
        change(&v4, &mut view);
        let err = raised(|| v9.sum().backward());
        let expected = format!("[torch.DoubleTensor [1, 3]], which is output 0 of {name}, is at version 2;");
        assert!(err.message.contains(&expected), "variant {i}: {}", err.message);
    }
}

#[test]
fn with_several_saved_tensors_changed_the_version_error_names_the_first_torch_unpacks() {
    // torch's generated backward functions unpack saved inputs in the alphabetical order of
    // their names (then outputs). torch 2.15.0, for each op:
    //   x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True); y = ... [[5., 6.], [7., 8.]]
    //   a = x * 1; b = y + 0; z = op(a, b); a.add_(1); b.mul_(1); z.sum().backward()
    //   -> "... which is output 0 of Mul" (b: other, exponent, mat2) or "of Add" (a: self before vec)
    type Op = fn(&Tensor, &Tensor) -> Tensor;
    let ops: [(&str, Op, &str); 6] = [
        ("a * b", |a, b| a * b, "Mul"),
        ("a / b", |a, b| a / b, "Mul"),
        ("a.pow(b)", |a, b| a.pow(b), "Mul"),
        ("a.mm(b)", |a, b| a.mm(b), "Mul"),
        ("a.matmul(b)", |a, b| a.matmul(b), "Mul"),
        ("a.mv(b[0])", |a, b| a.mv(&b.index(idx![0])), "Add"),
    ];
    for (what, op, name) in ops {
        let x = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
        let y = tensor!([[5., 6.], [7., 8.]], requires_grad = true);
        let (a, b) = (&x * 1.0, &y + 0.0);
        let z = op(&a, &b);
        a.add_(1.0);
        b.mul_(1.0);
        let err = raised(|| z.sum().backward());
        assert!(
            err.message.contains(&format!("which is output 0 of {name}, is at version 1")),
            "{what}: {}",
            err.message
        );
    }
    // a saved input without history named before a saved one with (a fresh-seed differential
    // program): v2 = x1.sum(dim=0) (float64); x4 = torch.tensor([0.0]); v3 = v2.pow(x4)
    // with torch.no_grad(): x4.clamp_(max=1.0); v2.log_(); v3.log_softmax(dim=0).sum().backward()
    let x1 = zeros_with(&[3, 1], TensorOptions::default().dtype(DType::Float64)).requires_grad_(true);
    let v2 = x1.sum_dim(0, false);
    let x4 = tensor!([0.]);
    let v3 = v2.pow(&x4);
    no_grad(|| {
        x4.clamp_(None, Some(1.0));
    });
    let v6 = v3.log_softmax(0);
    v2.log_();
    let err = raised(|| v6.sum().backward());
    assert!(
        err.message.contains(
            "inplace operation: [torch.FloatTensor [1]] is at version 1; expected version 0 instead."
        ),
        "{}",
        err.message
    );
}

#[test]
fn expand_gives_a_new_size_one_dim_torchs_stride_so_a_copy_onto_itself_is_a_full_overlap() {
    // torch 2.15.0: torch.zeros(2).expand(1, 2).stride() -> (2, 1); .expand(1, 1, 2) -> (2, 2, 1);
    // torch.zeros(3, 1).expand(1, 3, 4) -> (3, 1, 0); torch.zeros(2).expand(3, 2) -> (0, 1);
    // torch.tensor(1.).expand(1, 1) -> (0, 0)
    assert_eq!(zeros(&[2]).expand([1, 2]).stride(), vec![2, 1]);
    assert_eq!(zeros(&[2]).expand([1, 1, 2]).stride(), vec![2, 2, 1]);
    assert_eq!(zeros(&[3, 1]).expand([1, 3, 4]).stride(), vec![3, 1, 0]);
    assert_eq!(zeros(&[2]).expand([3, 2]).stride(), vec![0, 1]);
    assert_eq!(tensor!(1.).expand([1, 1]).stride(), vec![0, 0]);
    // so Python's setitem of a row onto the same row (its value expanded to the target's shape)
    // is a full overlap, allowed; torch then fails only at backward, on the saved tanh result
    // (a fresh-seed differential program): x3 = torch.zeros(2, 2, requires_grad=True)
    // v4 = x3.tanh(); v4[-1:2] = v4[1]; (v4 - 2.0).sum().backward()
    let x3 = zeros(&[2, 2]).requires_grad_(true);
    let v4 = x3.tanh();
    let v6 = v4.index(idx![1]);
    v4.assign(idx![-1..2], &v6);
    let err = raised(|| (&v4 - 2.0).sum().backward());
    assert!(
        err.message.contains("[torch.FloatTensor [2, 2]], which is output 0 of Tanh, is at version 1"),
        "{}",
        err.message
    );
}

#[test]
fn a_tensor_with_no_elements_is_contiguous_whatever_its_strides() {
    // torch 2.15.0: x1 = torch.zeros(2, 2, 2, dtype=torch.float64, requires_grad=True)
    // v6 = (x1 * 3.0)[:, 0:-1, 1:1]; v6.is_contiguous() -> True (strides (4, 2, 1));
    // (v6 / -2.0).contiguous().grad_fn.name() -> 'DivBackward0' (returned as it is; a
    // fresh-seed differential program: ours made a copy, CloneBackward0)
    let x1 = zeros_with(&[2, 2, 2], TensorOptions::default().dtype(DType::Float64)).requires_grad_(true);
    let v6 = (&x1 * 3.0).narrow(1, 0, 1).narrow(2, 1, 0); // [:, 0:-1, 1:1]
    assert!(v6.is_contiguous());
    assert_eq!(v6.stride(), vec![4, 2, 1]);
    assert_eq!((&v6 / -2.0).contiguous().grad_fn().unwrap().name(), "DivBackward0");
    assert!(zeros(&[2, 3]).index(idx![.., 1..1]).is_contiguous());
}

#[test]
fn a_views_rebuilt_backward_copies_its_gradient_where_no_two_elements_share_a_position() {
    // torch's as_strided_backward copies the gradient into zeros for a view whose elements
    // cannot overlap (a -0. stays -0.), and adds only where they may. torch 2.15.0 (a
    // fresh-seed differential program):
    //   x1 = torch.tensor([[0., 0., 0.], [0., 3., 0.]], requires_grad=True)
    //   x2 = torch.tensor([[0., -3., 0.]], dtype=torch.float64, requires_grad=True)
    //   v5 = (x1 * x2).select(1, 1); x6 = torch.tensor([0., 0.25], requires_grad=True)
    //   v5 /= x6; (0.0 / v5).sum().backward(); x6.grad -> tensor([nan, -0.])
    let x1 = tensor!([[0., 0., 0.], [0., 3., 0.]], requires_grad = true);
    let x2 = tensor!([[0., -3., 0.]], dtype = float64, requires_grad = true);
    let mut v5 = (&x1 * &x2).select(1, 1);
    let x6 = tensor!([0., 0.25], requires_grad = true);
    v5 /= &x6;
    (0.0 / &v5).sum().backward();
    assert_eq!(grad_text(&x6), "tensor([nan, -0.])");
}

#[test]
fn an_expanded_tensor_of_no_elements_may_be_written_in_place() {
    // torch 2.15.0: a tensor of no elements is contiguous, so never overlaps itself (a
    // fresh-seed differential program):
    //   v4 = torch.tensor([0., 0., 0.], dtype=torch.float64, requires_grad=True).narrow(0, 2, 0) + torch.tensor([], requires_grad=True)
    //   v4.expand(2, 0).clamp_(max=1.0)   # runs
    //   v4[0] -> IndexError: index 0 is out of bounds for dimension 0 with size 0
    let x1 = zeros_with(&[3], TensorOptions::default().dtype(DType::Float64)).requires_grad_(true);
    let x3 = zeros(&[0]).requires_grad_(true);
    let v4 = &x1.narrow(0, 2, 0) + &x3;
    let v6 = v4.expand([2, 0]);
    v6.clamp_(None, Some(1.0));
    assert_eq!(v6.to_string(), "tensor([], size=(2, 0), dtype=torch.float64, grad_fn=<AsStridedBackward0>)");
    let err = raised(|| drop(v4.index(idx![0])));
    assert_eq!(err.kind, ErrorKind::IndexError);
    assert_eq!(err.message, "index 0 is out of bounds for dimension 0 with size 0");
}

#[test]
fn an_operand_without_a_gradient_edge_makes_the_op_keep_nothing_for_it() {
    // torch saves what an input's gradient needs only when that input has a gradient edge
    // (should_compute_output), not whenever it requires grad: a view made under no_grad of a
    // tensor that requires grad does, but has no edge. torch 2.15.0 (a fresh-seed differential
    // program): x1 = torch.zeros(3, requires_grad=True); v2 = x1[-2:-1]
    // with torch.no_grad(): v4 = x1[2].expand(2)
    // v5 = v2.pow(3); v7 = v5 / v4  (v7.grad_fn._saved_self is None, next_functions[1] is None)
    // v5[-2:] = 3.0; v7.view(1, 2).mean().backward(retain_graph=True)   # runs; x1.grad -> tensor([0., nan, 0.])
    let x1 = zeros(&[3]).requires_grad_(true);
    let v2 = x1.index(idx![-2..-1]);
    let v4 = no_grad(|| x1.index(idx![2]).expand([2]));
    assert!(v4.requires_grad());
    let v5 = v2.pow(3);
    let v7 = &v5 / &v4;
    assert!(v7.grad_fn().unwrap().next_functions()[1].0.is_none());
    v5.assign(idx![-2..], 3.0);
    v7.view([1, 2]).mean().backward_opts(None, true);
    assert_eq!(grad_text(&x1), "tensor([0., nan, 0.])");
    // the same for a product: v5 * v4 keeps no v5
    let v5 = x1.index(idx![-2..-1]).pow(3);
    let v8 = &v5 * &v4;
    v5.assign(idx![-2..], 3.0);
    v8.sum().backward();
}

#[test]
fn fill_writes_an_expanded_tensor_without_history() {
    // torch 2.15.0: a = torch.zeros(1, 3).expand(2, 3); a.fill_(2) -> every element 2.;
    // a.zero_(); a[:, 0] = 5.0 -> tensor([[5., 0., 0.], [5., 0., 0.]]) (a fresh-seed
    // differential program: v7[-2:2, 0] = 0.0 on an expanded tensor raised here)
    let a = zeros(&[1, 3]).expand([2, 3]);
    a.fill_(2.0);
    assert_eq!(a.to_string(), "tensor([[2., 2., 2.],\n        [2., 2., 2.]])");
    a.zero_();
    a.assign(idx![.., 0], 5.0);
    assert_eq!(a.to_string(), "tensor([[5., 0., 0.],\n        [5., 0., 0.]])");
    // an op that reads the values it writes still refuses (torch: a.add_(1) raises)
    let err = raised(|| drop(a.add_(1.0)));
    assert!(
        err.message.starts_with("unsupported operation: more than one element of the written-to tensor"),
        "{}",
        err.message
    );
}

#[test]
fn fills_of_an_expanded_view_with_history_write_and_its_backward_refuses() {
    // torch 2.15.0, for each write w below:
    //   x = torch.tensor([[1., 2., 3.]], requires_grad=True); a = x * 1.0; e = a.expand(2, 3)
    //   w(e); print(e, a.grad_fn.name()); e.sum().backward()
    // fill_, zero_, e[:, 0] = 5., masked_fill_, e[mask] = 9., e[tensor([1])] = 9. and a copy of
    // the same data onto itself (e[:3] = a) write (masked_fill_ and index_fill_ with a
    // "deprecated" UserWarning) and record CopySlices; its backward then copies into the
    // expanded region and raises. e[0] = 5. writes a region without repeats: backward runs.
    const OVERLAP: &str =
        "unsupported operation: more than one element of the written-to tensor refers to a single \
                           memory location. Please clone() the tensor before performing the operation.";
    let mask = || tensor!([[true, false, true], [false, false, false]]);
    let cases: Vec<(&str, Box<dyn Fn(&Tensor, &Tensor)>, &str, bool)> = vec![
        ("fill_(5.)", Box::new(|_, e| drop(e.fill_(5.0))), "[[5., 5., 5.],\n        [5., 5., 5.]]", false),
        ("zero_()", Box::new(|_, e| drop(e.zero_())), "[[0., 0., 0.],\n        [0., 0., 0.]]", false),
        (
            "e[:, 0] = 5.",
            Box::new(|_, e| drop(e.assign(idx![.., 0], 5.0))),
            "[[5., 2., 3.],\n        [5., 2., 3.]]",
            false,
        ),
        (
            "e[0] = 5.",
            Box::new(|_, e| drop(e.assign(idx![0], 5.0))),
            "[[5., 5., 5.],\n        [5., 5., 5.]]",
            true,
        ),
        (
            "masked_fill_(mask, 9.)",
            Box::new(move |_, e| drop(e.masked_fill_(&mask(), 9.0))),
            "[[9., 2., 9.],\n        [9., 2., 9.]]",
            false,
        ),
        (
            "e[mask] = 9.",
            Box::new(move |_, e| drop(e.assign_with(&mask(), 9.0))),
            "[[9., 2., 9.],\n        [9., 2., 9.]]",
            false,
        ),
        (
            "e[tensor([1])] = 9.",
            Box::new(|_, e| drop(e.assign_with(&tensor!([1]), 9.0))),
            "[[9., 9., 9.],\n        [9., 9., 9.]]",
            false,
        ),
        (
            "e[:3] = a",
            Box::new(|a, e| drop(e.assign(idx![..3], a))),
            "[[1., 2., 3.],\n        [1., 2., 3.]]",
            false,
        ),
    ];
    for (python, write, values, backward_runs) in cases {
        let x = tensor!([[1., 2., 3.]], requires_grad = true);
        let a = &x * 1.0;
        let e = a.expand([2, 3]);
        write(&a, &e);
        assert_eq!(e.to_string(), format!("tensor({values}, grad_fn=<AsStridedBackward0>)"), "{python}");
        assert_eq!(a.grad_fn().unwrap().name(), "torch::autograd::CopySlices", "{python}");
        if backward_runs {
            e.sum().backward();
            assert_eq!(grad_text(&x), "tensor([[0., 0., 0.]])", "{python}");
        } else {
            assert_eq!(raised(|| e.sum().backward()).message, OVERLAP, "{python}");
        }
    }
    // masked_fill_ without history writes too (torch: the same UserWarning)
    let e = zeros(&[1, 3]).expand([2, 3]);
    e.masked_fill_(&mask(), 9.0);
    assert_eq!(e.to_string(), "tensor([[9., 0., 9.],\n        [9., 0., 9.]])");
    // a copy of other values into it, or an op that reads what it writes, still raises at once
    let x = tensor!([[1., 2., 3.]], requires_grad = true);
    let e = (&x * 1.0).expand([2, 3]);
    assert_eq!(raised(|| drop(e.copy_(&tensor!([7., 8., 9.])))).message, OVERLAP);
    assert_eq!(raised(|| drop(e.mul_(2.0))).message, OVERLAP);
}

#[test]
fn detach_in_place_refuses_views_and_later_use_of_what_was_saved() {
    // torch 2.15.0: x[:2].detach_() (x with or without requires_grad, a view made under
    // no_grad too), x.squeeze().detach_(), zeros(4).reshape(2, 2).detach_() raise; x.detach()
    // .detach_(), x.float() (x itself) and x.contiguous() do not
    const VIEW: &str = "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel \
                        (DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of DDP \
                        buckets, and hence detach_() cannot be called on these gradients. To fix this error, please \
                        refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.";
    let rg = || zeros(&[3]).requires_grad_(true);
    assert_eq!(raised(|| drop(zeros(&[3]).index(idx![..2]).detach_())).message, VIEW);
    assert_eq!(raised(|| drop(rg().index(idx![..2]).detach_())).message, VIEW);
    let x = rg();
    let v = no_grad(|| x.index(idx![..2]));
    assert_eq!(raised(|| drop(v.detach_())).message, VIEW);
    assert_eq!(raised(|| drop(rg().squeeze().detach_())).message, VIEW);
    assert_eq!(raised(|| drop(zeros(&[4]).reshape([2, 2]).detach_())).message, VIEW);
    rg().detach().detach_();
    rg().float().detach_();
    zeros(&[4]).contiguous().detach_();
    // y = x * 2; y.detach_(): a leaf without grad
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * 2.0;
    y.detach_();
    assert_eq!((y.requires_grad(), y.is_leaf(), y.grad_fn().is_none()), (false, true, true));
    // z = (y * y).sum(); y.detach_(); z.backward(): y was saved as an input with a history
    let x = tensor!([1., 2.], requires_grad = true);
    let y = &x * 2.0;
    let z = (&y * &y).sum();
    y.detach_();
    assert_eq!(
        raised(|| z.backward()).message,
        "Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This is not supported, \
         please use out-of-place `.detach()` instead"
    );
    // a saved output detached in place is fine: e = y.exp(); s = e.sum(); e.detach_(); s.backward()
    let x = tensor!([1., 2.], requires_grad = true);
    let e = (&x * 2.0).exp();
    let s = e.sum();
    e.detach_();
    s.backward();
    assert_eq!(grad_text(&x), "tensor([ 14.7781, 109.1963])");
    // a leaf detached in place after use gets no gradient: z = (x * x).sum(); x.detach_()
    let x = tensor!([1., 2.], requires_grad = true);
    let z = (&x * &x).sum();
    x.detach_();
    z.backward();
    assert_eq!(grad_text(&x), "None");
}

#[test]
fn data_of_another_shape_or_dtype_keeps_the_graph_built_before_it_as_torch() {
    // torch 2.15.0 (x = torch.tensor([1., 2.], requires_grad=True) unless said otherwise):
    let leaf = || tensor!([1., 2.], requires_grad = true);
    // e1: y = (x * 2).sum(); x.data = [1., 2., 3.]; y.backward() -> x.grad tensor([2., 2.])
    let x = leaf();
    let y = (&x * 2.0).sum();
    x.set_data(&tensor!([1., 2., 3.]));
    y.backward();
    assert_eq!(grad_text(&x), "tensor([2., 2.])");
    // e2: the same with float64 data of the old shape -> x.grad float32 tensor([2., 2.])
    let x = leaf();
    let y = (&x * 2.0).sum();
    x.set_data(&tensor!([1., 2.], dtype = float64));
    y.backward();
    assert_eq!(grad_text(&x), "tensor([2., 2.])");
    // e3: (x * 2).sum().backward(); x.data = [1., 2., 3.]; (x * 3).sum().backward() -> the old
    // gradient and the new one do not add up
    let x = leaf();
    (&x * 2.0).sum().backward();
    x.set_data(&tensor!([1., 2., 3.]));
    assert_eq!(
        raised(|| (&x * 3.0).sum().backward()).message,
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"
    );
    // e5: x.data = [1., 2., 3.] before any use -> x.grad tensor([3., 3., 3.])
    let x = leaf();
    x.set_data(&tensor!([1., 2., 3.]));
    (&x * 3.0).sum().backward();
    assert_eq!(grad_text(&x), "tensor([3., 3., 3.])");
    // e6: y = x * 2; y.data = [[1., 2.], [3., 4.]]; (y * 1).sum().backward() -> the gradient
    // for y is summed back to y's old shape: x.grad tensor([4., 4.])
    let x = leaf();
    let y = &x * 2.0;
    y.set_data(&tensor!([[1., 2.], [3., 4.]]));
    (&y * 1.0).sum().backward();
    assert_eq!(grad_text(&x), "tensor([4., 4.])");
    // e7: y.data = float64 [1., 2.] -> x.grad float32 tensor([2., 2.])
    let x = leaf();
    let y = &x * 2.0;
    y.set_data(&tensor!([1., 2.], dtype = float64));
    (&y * 1.0).sum().backward();
    assert_eq!(grad_text(&x), "tensor([2., 2.])");
    // e8: y.data = [1., 2., 3.] -> refused
    let x = leaf();
    let y = &x * 2.0;
    y.set_data(&tensor!([1., 2., 3.]));
    assert_eq!(
        raised(|| (&y * 1.0).sum().backward()).message,
        "Function MulBackward0 returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]"
    );
    // e9: (x * 2).sum().backward(); x.data = float64 [1., 2.]; (x * 3).sum().backward() ->
    // x.grad stays float32: tensor([5., 5.])
    let x = leaf();
    (&x * 2.0).sum().backward();
    x.set_data(&tensor!([1., 2.], dtype = float64));
    (&x * 3.0).sum().backward();
    assert_eq!(grad_text(&x), "tensor([5., 5.])");
    // e10: x = tensor(1.); y = x * 2; x.data = [1., 2.]; (x * y).sum().backward() -> tensor(10.)
    let x = tensor!(1., requires_grad = true);
    let y = &x * 2.0;
    x.set_data(&tensor!([1., 2.]));
    (&x * &y).sum().backward();
    assert_eq!(grad_text(&x), "tensor(10.)");
    // x3 = torch.tensor([2., 0., -3.], requires_grad=True); v5 = x3 + 2.0; x3.data = a 0-dim
    // float64; v5.select(0, 2).tanh().sum().backward() -> x3.grad tensor([0.0000, 0.0000, 0.4200])
    // (kept as it is: torch reads the 0-dim variable's first stride slot as 1)
    let x = tensor!([2., 0., -3.], requires_grad = true);
    let v = &x + 2.0;
    x.set_data(&tensor!(-1., dtype = float64));
    v.select(0, 2).tanh().sum().backward();
    assert_eq!(grad_text(&x), "tensor([0.0000, 0.0000, 0.4200])");
    // a tensor that requires grad takes floating-point data only
    assert_eq!(
        raised(|| leaf().set_data(&tensor!([1, 2]))).message,
        "data set to a tensor that requires gradients must be floating point or complex dtype"
    );
}

#[test]
fn copy_casts_the_gradient_to_the_source_dtype_before_summing_it() {
    // torch 2.15.0: x3 = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    //   v6 = torch.zeros(2, 3); v6.copy_(x3.expand(2)[-1:2]); v6.mean().backward()
    //   x3.grad -> tensor(1.0000, dtype=torch.float64): six float32 1/6 summed in float64
    //   (a fresh-seed differential program, 1618/p8409; summed in float32 first it is 1.)
    let x3 = tensor!(0.25, dtype = float64, requires_grad = true);
    let v6 = zeros(&[2, 3]) + -1.0;
    v6.copy_(&x3.expand([2]).index(idx![-1..2]));
    v6.mean().backward();
    assert_eq!(grad_text(&x3), "tensor(1.0000, dtype=torch.float64)");
}

#[test]
fn a_broadcast_gradient_for_data_of_another_shape_goes_to_the_shape_its_node_was_made_with() {
    // torch 2.15.0 (a hooks-theme fresh program, 2718/p7106): x2 = [[1.5, 3., 0.], [0.25, 4., 1.]],
    // x3 = [2., 2., 3.] (requires_grad); v4 = x3 / x2; v4.data = x3; v12 = x1.abs() - v4 with
    // x1 = [[2., -1.5, -0.5], [-0.5, 1., 0.]] detached; v12.sum().backward():
    // x2.grad [[0.8889, 0.2222, inf], [32., 0.125, 3.]], x3.grad [-4.6667, -0.5833, -inf]
    // (the gradient for v4 stays [2, 3], what DivBackward0 was made with, not v4's [3] now)
    let x2 = tensor!([[1.5, 3.0, 0.0], [0.25, 4.0, 1.0]], requires_grad = true);
    let x3 = tensor!([2.0, 2.0, 3.0], requires_grad = true);
    let v4 = &x3 / &x2;
    v4.set_data(&x3);
    let v12 = tensor!([[2.0, -1.5, -0.5], [-0.5, 1.0, 0.0]]).abs() - &v4;
    v12.sum().backward();
    assert_eq!(grad_text(&x2), "tensor([[ 0.8889,  0.2222,     inf],\n        [32.0000,  0.1250,  3.0000]])");
    assert_eq!(grad_text(&x3), "tensor([-4.6667, -0.5833,    -inf])");
    // the gradient a backward starts from is held to its node too (hooks fresh seed 8181/p2150):
    // v5 = x1.sum().unsqueeze(-1); v5.data = torch.tensor(-3.); v5.backward() ->
    // RuntimeError: invalid gradient at index 0 - got [] but expected shape compatible with [1]
    let x1 = tensor!([-1.5, 3.0, 1.5], dtype = float64, requires_grad = true);
    let v5 = x1.sum().unsqueeze(-1);
    v5.set_data(&tensor!(-3.0));
    assert_eq!(
        raised(|| v5.backward()).message,
        "invalid gradient at index 0 - got [] but expected shape compatible with [1]"
    );
}

#[test]
fn a_saved_tensor_given_data_of_another_shape_sends_its_partner_leaf_a_gradient_summed_to_its_shape() {
    // torch 2.15.0 (fresh program 60601/p0759): x1 = tensor(1.5), x2 = tensor(-2.) (both
    // requiring grad); v3 = x1 / x2; x1.data = [[-0.5, -1., 0.5], [1., -0.5, 1.5]];
    // v3.backward(retain_graph=True): x1.grad tensor(-0.5000), x2.grad tensor(-0.2500). x2's
    // gradient reads the saved x1, now [2, 3] (-g (x1 / x2) / x2 elementwise), and torch sums
    // it back to x2's shape; x1's own gradient (g / x2) keeps its shape []
    let x1 = tensor!(1.5, requires_grad = true);
    let x2 = tensor!(-2.0, requires_grad = true);
    let v3 = &x1 / &x2;
    x1.set_data(&tensor!([[-0.5, -1.0, 0.5], [1.0, -0.5, 1.5]]));
    v3.backward_opts(None, true);
    assert_eq!(grad_text(&x1), "tensor(-0.5000)");
    assert_eq!(grad_text(&x2), "tensor(-0.2500)");
    assert_eq!(x1.grad().unwrap().shape(), Vec::<usize>::new());
}

#[test]
fn gradients_between_function_nodes_are_held_to_the_shape_and_dtype_each_node_was_made_with() {
    // torch 2.15.0 (fresh program 90901/p1404, shrunk): v5 = x2.max() is made with shape [];
    // after v4.data = a [2, 3] tensor, MulBackward0 (which saved v4) sends v5's node a [2, 3]
    // gradient, which torch's validate_outputs sums back to [] before MaxBackward1 runs:
    // x1.grad tensor([0.0631, 0.0000, 0.0000, 0.0000]), x2.grad tensor([1.1437, 0.0000, 0.0000])
    let x1 = tensor!([-2.41, -0.74, 3.8, -1.3], requires_grad = true);
    let x2 = tensor!([0.164, -0.51, -2.583], requires_grad = true);
    let v4 = x1.select(0, 0);
    let v5 = x2.max();
    let v11 = (&v4 * &v5).cos() - 1.5;
    // (torch.manual_seed(2024); torch.rand(2, 3), written out)
    v4.set_data(&tensor!([
        [0.5317158699035645, 0.8312679529190063, 0.9718379974365234],
        [0.11930084228515625, 0.16690224409103394, 0.3494589328765869]
    ]));
    v11.backward();
    assert_eq!(grad_text(&x1), "tensor([0.0631, 0.0000, 0.0000, 0.0000])");
    assert_eq!(grad_text(&x2), "tensor([1.1437, 0.0000, 0.0000])");
    // a = x.sum() (SumBackward0, shape []); b = a * w; w.data = [1., 2., 3.]; b.backward():
    // a's gradient [1., 2., 3.] is summed to 6. -> x.grad tensor([6., 6.]), w.grad tensor(3.)
    let x = tensor!([1., 2.], requires_grad = true);
    let w = tensor!(3., requires_grad = true);
    let b = x.sum() * &w;
    w.set_data(&tensor!([1., 2., 3.]));
    b.backward();
    assert_eq!(grad_text(&x), "tensor([6., 6.])");
    assert_eq!(grad_text(&w), "tensor(3.)");
    // the dtype too: a = x.exp(); b = a * w; w.data = float64 [1.1, 2.2]; b.sum().backward()
    // -> a's float64 gradient is cast to float32 at ExpBackward0: x.grad tensor([ 2.9901, 16.2559])
    let x = tensor!([1., 2.], requires_grad = true);
    let w = tensor!([3., 4.], requires_grad = true);
    let b = x.exp() * &w;
    w.set_data(&tensor!([1.1, 2.2], dtype = float64));
    b.sum().backward();
    assert_eq!(grad_text(&x), "tensor([ 2.9901, 16.2559])");
    assert_eq!(x.grad().unwrap().dtype(), DType::Float32);
}

#[test]
fn a_gradient_into_a_leaf_is_cast_to_the_leafs_dtype_before_its_hooks_see_it() {
    // torch 2.15.0 (hooks fresh program 91913/p10052): x1 = torch.tensor([3.]) (no grad);
    // x2 = [[0.25], [-1.], [-3.]] (requires grad) with a printing hook, then one doubling it;
    // v5 = x1 / x2; x1.data = a float64 [3, 2] tensor; v5.sum().backward(): DivBackward0's
    // gradient for x2 is float64 [3, 2], summed to [3, 1] and cast to x2's float32 before the
    // hooks run. The hook prints tensor([[-32.0000], [2.5000], [-0.3889]]) (no dtype), and
    // x2.grad is twice that.
    let x1 = tensor!([3.0]);
    let x2 = tensor!([[0.25], [-1.0], [-3.0]], requires_grad = true);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let record = seen.clone();
    x2.register_hook(move |g| {
        *record.borrow_mut() = g.to_string();
        None
    });
    x2.register_hook(|g| Some(g * 2.0));
    let v5 = &x1 / &x2;
    x1.set_data(&tensor!([[3.0, -1.0], [-0.5, -2.0], [2.0, 1.5]], dtype = float64));
    v5.sum().backward_opts(None, true);
    assert_eq!(*seen.borrow(), "tensor([[-32.0000],\n        [  2.5000],\n        [ -0.3889]])");
    assert_eq!(grad_text(&x2), "tensor([[-64.0000],\n        [  5.0000],\n        [ -0.7778]])");
}

#[test]
fn an_in_place_ops_gradients_are_held_to_the_written_tensor_not_to_the_promoted_result() {
    // torch 2.15.0 (fresh program 92921/p1465, with a `w.data = ...` of another dtype first,
    // which makes the engine hold every gradient to what its node was made with): v6 (float32)
    // .mul_(x1) (float64) computes x1's gradient g * v6 in float32, sums it to [3] and only
    // then casts it: x1.grad tensor([-1482.8417, 301685.7500, -474579.4375], float64), the sums
    // of float32 products. (The node is made for the float64 result of v6 * x1, then is
    // v6's: held to float64, the sum was made in float64, 301685.7437.)
    let w = tensor!([1.0], requires_grad = true);
    w.set_data(&tensor!([1.0], dtype = float64));
    let x1 = tensor!([-0.9, -2.1, -0.000296], dtype = float64, requires_grad = true);
    let x4 = tensor!([
        [[-0.132, 0.0089], [-1.916, 320.0], [-1.474, -500.0]],
        [[2.0, -1.585], [0.2, 0.941], [-15.0, -4.884]]
    ]);
    let x5 = tensor!([-0.7, 940.0], requires_grad = true);
    let v6 = x4.matmul(&x5);
    v6.mul_(&x1);
    v6.sum().backward();
    assert_eq!(grad_text(&x1), "tensor([  -1482.8417,  301685.7500, -474579.4375], dtype=torch.float64)");
    assert_eq!(grad_text(&x5), "tensor([   1.9273, -672.4081])");
}

/// An in-place op on a strided view that reads an element of that same view: torch's overlap
/// check cannot tell (the view is not dense) and its element loop reads the input as it
/// writes, so the elements after the one read see its new value. Expected strings printed by
/// PyTorch 2.15.
#[test]
fn an_in_place_op_reading_its_own_strided_view_sees_its_writes() {
    let m = || tensor!([[1., 4.], [2., 5.], [3., 6.]]);
    let x = m();
    let v = x.select(1, 1);
    v.sub_(&v.select(0, 0));
    assert_eq!(x.to_string(), "tensor([[1., 0.],\n        [2., 5.],\n        [3., 6.]])");
    let x = m();
    let v = x.select(1, 1);
    v.mul_(&v.select(0, 1));
    assert_eq!(x.to_string(), "tensor([[  1.,  20.],\n        [  2.,  25.],\n        [  3., 150.]])");
    let x = m();
    let v = x.select(1, 0);
    v.div_(&x.select(0, 1).select(0, 0));
    assert_eq!(
        x.to_string(),
        "tensor([[0.5000, 4.0000],\n        [1.0000, 5.0000],\n        [3.0000, 6.0000]])"
    );
    // the other column: the same storage, no element in common
    let x = m();
    let v = x.select(1, 1);
    v.add_(&x.select(1, 0));
    assert_eq!(x.to_string(), "tensor([[1., 5.],\n        [2., 7.],\n        [3., 9.]])");
}

#[test]
fn a_view_changed_in_place_keeps_minus_zero_through_its_dims_of_size_one() {
    // torch's as_strided_backward leaves out a view's dims of size 1 before it asks whether
    // elements may share a position, so a -0. gradient is copied, not added to +0.:
    // x1 = torch.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    // v4 = (float('inf') + x1).view(3, 1); v4.div_(torch.tensor([2.0], requires_grad=True))
    // (0.0 / v4).t().mean().backward(); print(x1.grad)      (a fresh differential program)
    let x1 = tensor!([[0., 0., 0.]], requires_grad = true);
    let v4 = (f64::INFINITY + &x1).view([3, 1]);
    v4.div_(&tensor!([2.], requires_grad = true));
    (0.0 / &v4).t().mean().backward();
    assert_eq!(grad_text(&x1), "tensor([[-0., -0., -0.]])");
    // and sums over an expanded (stride 0) dim first, in torch's order (-0. + -0. is +0. there):
    // x = torch.tensor([1.0, -2.0], requires_grad=True); b = x * 1.0; e = b.expand(3, 2)
    // b.mul_(2.0); print(e.grad_fn.name())
    // (e * torch.tensor([[-0.0, 0.5], [-0.0, 0.25], [-0.0, 0.125]])).sum().backward(); print(x.grad)
    let x = tensor!([1., -2.], requires_grad = true);
    let b = &x * 1.0;
    let e = b.expand([3, 2]);
    b.mul_(2.0);
    assert_eq!(e.grad_fn().unwrap().name(), "AsStridedBackward0");
    (&e * &tensor!([[-0., 0.5], [-0., 0.25], [-0., 0.125]])).sum().backward();
    assert_eq!(grad_text(&x), "tensor([0.0000, 1.7500])");
}
