//! Misuse raises PyTorch's exception type with PyTorch's exact message.
//!
//! Every expected (type, message) pair below is what PyTorch 2.15 printed for the same misuse
//! (`type(e).__name__`, `str(e)`), measured with the Python line given in the comment.

use autograd_core::error::{ErrorKind, TorchError};
use autograd_core::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The error `f` raises, as `TypeName: message`.
fn raised<R>(f: impl FnOnce() -> R) -> String {
    let payload = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected an error"),
        Err(payload) => payload,
    };
    let err = TorchError::from_payload(payload.as_ref());
    format!("{}: {}", err.kind, err.message)
}

fn x3() -> Tensor {
    tensor!([1., 2., 3.])
}

fn m23() -> Tensor {
    tensor!([[1., 2., 3.], [4., 5., 6.]])
}

const VERSION_HINT: &str = "Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).";

#[test]
fn indexing_out_of_range_is_an_index_error_naming_the_dim_of_the_tensor() {
    // x[5]
    assert_eq!(raised(|| x3().at(&[5])), "IndexError: index 5 is out of bounds for dimension 0 with size 3");
    // x[-4]
    assert_eq!(
        raised(|| x3().at(&[-4])),
        "IndexError: index -4 is out of bounds for dimension 0 with size 3"
    );
    // m[0, 5]
    assert_eq!(
        raised(|| m23().at(&[0, 5])),
        "IndexError: index 5 is out of bounds for dimension 1 with size 3"
    );
    assert_eq!(
        raised(|| m23().index(idx![0, 5])),
        "IndexError: index 5 is out of bounds for dimension 1 with size 3"
    );
    // m[0, -5]
    assert_eq!(
        raised(|| m23().at(&[0, -5])),
        "IndexError: index -5 is out of bounds for dimension 1 with size 3"
    );
    // m[5, 0]
    assert_eq!(
        raised(|| m23().at(&[5, 0])),
        "IndexError: index 5 is out of bounds for dimension 0 with size 2"
    );
    // m[:, 5]
    assert_eq!(
        raised(|| m23().index(idx![.., 5])),
        "IndexError: index 5 is out of bounds for dimension 1 with size 3"
    );
    // m[0, 0, 0]
    assert_eq!(raised(|| m23().at(&[0, 0, 0])), "IndexError: too many indices for tensor of dimension 2");
    // torch.tensor(3.)[0]
    assert_eq!(
        raised(|| tensor!(3.).at(&[0])),
        "IndexError: invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
    );
    // torch.tensor(3.)[:]
    assert_eq!(
        raised(|| tensor!(3.).index(idx![..])),
        "IndexError: slice() cannot be applied to a 0-dim tensor."
    );
}

#[test]
fn index_assignment_out_of_range() {
    // m[0, 5] = 1.
    assert_eq!(
        raised(|| m23().assign(idx![0, 5], 1.0)),
        "IndexError: index 5 is out of bounds for dimension 1 with size 3"
    );
    // m[5] = 1.
    assert_eq!(
        raised(|| m23().assign(idx![5], 1.0)),
        "IndexError: index 5 is out of bounds for dimension 0 with size 2"
    );
    // x[0:2] = torch.tensor([1., 2., 3.])
    assert_eq!(
        raised(|| x3().assign(idx![0..2], &x3())),
        "RuntimeError: The expanded size of the tensor (2) must match the existing size (3) at non-singleton dimension 0.  Target sizes: [2].  Tensor sizes: [3]"
    );
    // m[0] = torch.ones(2, 3)
    assert_eq!(
        raised(|| m23().assign(idx![0], &ones(&[2, 3]))),
        "RuntimeError: expand(torch.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) must be greater or equal to the number of dimensions in the tensor (2)"
    );
}

#[test]
fn select_and_narrow() {
    // x.select(0, 5)
    assert_eq!(
        raised(|| x3().select(0, 5)),
        "IndexError: select(): index 5 out of range for tensor of size [3] at dimension 0"
    );
    // x.select(0, -4)
    assert_eq!(
        raised(|| x3().select(0, -4)),
        "IndexError: select(): index -4 out of range for tensor of size [3] at dimension 0"
    );
    // m.select(-1, 5)
    assert_eq!(
        raised(|| m23().select(-1, 5)),
        "IndexError: select(): index 5 out of range for tensor of size [2, 3] at dimension 1"
    );
    // torch.tensor(3.).select(0, 0)
    assert_eq!(
        raised(|| tensor!(3.).select(0, 0)),
        "IndexError: select() cannot be applied to a 0-dim tensor."
    );
    // x.select(1, 0)
    assert_eq!(
        raised(|| x3().select(1, 0)),
        "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)"
    );
    // x.narrow(0, 2, 5)
    assert_eq!(
        raised(|| x3().narrow(0, 2, 5)),
        "RuntimeError: start (2) + length (5) exceeds dimension size (3)."
    );
    // x.narrow(0, 5, 0)
    assert_eq!(
        raised(|| x3().narrow(0, 5, 0)),
        "IndexError: start out of range (expected to be in range of [-3, 3], but got 5)"
    );
}

#[test]
fn dims_out_of_range() {
    // x.sum(2)
    assert_eq!(
        raised(|| x3().sum_dim(2, false)),
        "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 2)"
    );
    // m.mean(2)
    assert_eq!(
        raised(|| m23().mean_dim(2, false)),
        "IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    // m.sum([0, 0])
    assert_eq!(
        raised(|| m23().sum_dim([0, 0], false)),
        "RuntimeError: dim 0 appears multiple times in the list of dims"
    );
    // m.sum([0, -2])
    assert_eq!(
        raised(|| m23().sum_dim([0, -2], false)),
        "RuntimeError: dim 0 appears multiple times in the list of dims"
    );
    // m.unsqueeze(3)
    assert_eq!(
        raised(|| m23().unsqueeze(3)),
        "IndexError: Dimension out of range (expected to be in range of [-3, 2], but got 3)"
    );
    // m.transpose(0, 2)
    assert_eq!(
        raised(|| m23().transpose(0, 2)),
        "IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    // m.squeeze(2)
    assert_eq!(
        raised(|| m23().squeeze_dim(2)),
        "IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    // x.size(1)
    assert_eq!(
        raised(|| x3().size(1)),
        "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)"
    );
}

#[test]
fn shape_errors() {
    // x.view(2, 2)
    assert_eq!(raised(|| x3().view([2, 2])), "RuntimeError: shape '[2, 2]' is invalid for input of size 3");
    // x.reshape(2, 2)
    assert_eq!(
        raised(|| x3().reshape([2, 2])),
        "RuntimeError: shape '[2, 2]' is invalid for input of size 3"
    );
    // torch.zeros(6).view(-1, 4)
    assert_eq!(
        raised(|| zeros(&[6]).view([-1, 4])),
        "RuntimeError: shape '[-1, 4]' is invalid for input of size 6"
    );
    // torch.zeros(4).view(-1, -1)
    assert_eq!(raised(|| zeros(&[4]).view([-1, -1])), "RuntimeError: only one dimension can be inferred");
    // x.view(-2)
    assert_eq!(
        raised(|| x3().view([-2])),
        "RuntimeError: invalid shape dimension -2 at index 0 of shape [-2]"
    );
    // torch.zeros(0).reshape(-1, 0)
    assert_eq!(
        raised(|| zeros(&[0]).reshape([-1, 0])),
        "RuntimeError: cannot reshape tensor of 0 elements into shape [-1, 0] because the unspecified dimension size -1 can be any value and is ambiguous"
    );
    // m.t().view(6)
    assert_eq!(
        raised(|| m23().t().view([6])),
        "RuntimeError: view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead."
    );
    // torch.zeros(2, 2, 2).t()
    assert_eq!(
        raised(|| zeros(&[2, 2, 2]).t()),
        "RuntimeError: t() expects a tensor with <= 2 dimensions, but self is 3D"
    );
    // m.permute(0, 1, 2)
    assert_eq!(
        raised(|| m23().permute([0, 1, 2])),
        "RuntimeError: permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = 2 is not equal to len(dims) = 3"
    );
    // m.permute(0, 0)
    assert_eq!(raised(|| m23().permute([0, 0])), "RuntimeError: permute(): duplicate dims are not allowed.");
    // m.permute(0, 2)
    assert_eq!(
        raised(|| m23().permute([0, 2])),
        "IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    // x.expand(4)
    assert_eq!(
        raised(|| x3().expand([4])),
        "RuntimeError: The expanded size of the tensor (4) must match the existing size (3) at non-singleton dimension 0.  Target sizes: [4].  Tensor sizes: [3]"
    );
    // m.expand(4, 3)
    assert_eq!(
        raised(|| m23().expand([4, 3])),
        "RuntimeError: The expanded size of the tensor (4) must match the existing size (2) at non-singleton dimension 0.  Target sizes: [4, 3].  Tensor sizes: [2, 3]"
    );
    // m.expand(3)
    assert_eq!(
        raised(|| m23().expand([3])),
        "RuntimeError: expand(torch.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) must be greater or equal to the number of dimensions in the tensor (2)"
    );
    // x.expand(-1, 3)
    assert_eq!(
        raised(|| x3().expand([-1, 3])),
        "RuntimeError: The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension 0"
    );
    // torch.ones(3, 2).expand(2, 3): the dims are checked from the last one
    assert_eq!(
        raised(|| ones(&[3, 2]).expand([2, 3])),
        "RuntimeError: The expanded size of the tensor (3) must match the existing size (2) at non-singleton dimension 1.  Target sizes: [2, 3].  Tensor sizes: [3, 2]"
    );
    // torch.ones(3, 2).expand(-1, 2, 3)
    assert_eq!(
        raised(|| ones(&[3, 2]).expand([-1, 2, 3])),
        "RuntimeError: The expanded size of the tensor (3) must match the existing size (2) at non-singleton dimension 2.  Target sizes: [-1, 2, 3].  Tensor sizes: [3, 2]"
    );
}

#[test]
fn joins() {
    // torch.cat([m, torch.zeros(2, 2)], 0)
    assert_eq!(
        raised(|| cat(&[&m23(), &zeros(&[2, 2])], 0)),
        "RuntimeError: Sizes of tensors must match except in dimension 0. Expected size 3 but got size 2 for tensor number 1 in the list."
    );
    // torch.cat([m, m, torch.zeros(2, 2)], 0)
    assert_eq!(
        raised(|| cat(&[&m23(), &m23(), &zeros(&[2, 2])], 0)),
        "RuntimeError: Sizes of tensors must match except in dimension 0. Expected size 3 but got size 2 for tensor number 2 in the list."
    );
    // torch.cat([], 0)
    assert_eq!(raised(|| cat(&[], 0)), "ValueError: torch.cat(): expected a non-empty list of Tensors");
    // torch.cat([x, x], 1)
    assert_eq!(
        raised(|| cat(&[&x3(), &x3()], 1)),
        "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)"
    );
    // torch.cat([torch.zeros(2, 3), x], 0)
    assert_eq!(
        raised(|| cat(&[&zeros(&[2, 3]), &x3()], 0)),
        "RuntimeError: Tensors must have same number of dimensions: got 2 and 1"
    );
    // torch.cat([torch.tensor(1.), torch.tensor(2.)], 0)
    assert_eq!(
        raised(|| cat(&[&tensor!(1.), &tensor!(2.)], 0)),
        "RuntimeError: zero-dimensional tensor (at position 0) cannot be concatenated"
    );
    // torch.stack([], 0)
    assert_eq!(raised(|| stack(&[], 0)), "RuntimeError: stack expects a non-empty TensorList");
    // torch.stack([x, torch.zeros(2)])
    assert_eq!(
        raised(|| stack(&[&x3(), &zeros(&[2])], 0)),
        "RuntimeError: stack expects each tensor to be equal size, but got [3] at entry 0 and [2] at entry 1"
    );
    // torch.stack([torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 2)])
    assert_eq!(
        raised(|| stack(&[&zeros(&[2, 3]), &zeros(&[2, 3]), &zeros(&[3, 2])], 0)),
        "RuntimeError: stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] at entry 2"
    );
    // torch.stack([x, x], 2)
    assert_eq!(
        raised(|| stack(&[&x3(), &x3()], 2)),
        "IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
}

#[test]
fn elementwise_errors() {
    // x + torch.zeros(2)
    assert_eq!(
        raised(|| &x3() + &zeros(&[2])),
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"
    );
    // m * torch.zeros(2, 2)
    assert_eq!(
        raised(|| &m23() * &zeros(&[2, 2])),
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"
    );
    // when several dims differ torch names the last one: torch.ones(3, 2) * torch.ones(2, 3),
    // and the same for the in-place ops and the other broadcasting ops
    let last_dim = "RuntimeError: The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1";
    assert_eq!(raised(|| &ones(&[3, 2]) * &ones(&[2, 3])), last_dim);
    assert_eq!(raised(|| &ones(&[3, 2]) + &ones(&[2, 3])), last_dim);
    assert_eq!(raised(|| ones(&[3, 2]).sub_(&ones(&[2, 3]))), last_dim);
    assert_eq!(raised(|| ones(&[3, 2]).copy_(&ones(&[2, 3]))), last_dim);
    assert_eq!(raised(|| ones(&[3, 2]).maximum(&ones(&[2, 3]))), last_dim);
    // torch.ones(3, 2).masked_fill(torch.ones(2, 3, dtype=torch.bool), 1.): the mask is a
    assert_eq!(
        raised(|| ones(&[3, 2]).masked_fill(&ones(&[2, 3]).gt(0.0), 1.0)),
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"
    );
    // torch.where(torch.ones(3, 2, dtype=torch.bool), torch.ones(2, 3), torch.ones(3, 2))
    assert_eq!(raised(|| where_(&ones(&[3, 2]).gt(0.0), &ones(&[2, 3]), &ones(&[3, 2]))), last_dim);
    // torch.ones(4, 3, 2) + torch.ones(5, 2, 2)
    assert_eq!(
        raised(|| &ones(&[4, 3, 2]) + &ones(&[5, 2, 2])),
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"
    );
    // torch.tensor([1, 2]).pow(-1)
    assert_eq!(
        raised(|| tensor!([1, 2]).pow(-1)),
        "RuntimeError: Integers to negative integer powers are not allowed."
    );
    // torch.tensor([True]) - torch.tensor([False])
    assert_eq!(
        raised(|| &tensor!([true]) - &tensor!([false])),
        "NotImplementedError: Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
    );
}

#[test]
fn reductions_and_factories() {
    // torch.tensor([1, 2]).norm()
    assert_eq!(
        raised(|| tensor!([1, 2]).norm()),
        "NotImplementedError: linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"
    );
    // torch.tensor([True]).norm()
    assert_eq!(
        raised(|| tensor!([true]).norm()),
        "NotImplementedError: linalg.vector_norm: Expected a floating point or complex tensor as input. Got Bool"
    );
    // torch.tensor([1, 2]).mean()
    assert_eq!(
        raised(|| tensor!([1, 2]).mean()),
        "NotImplementedError: mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: Long"
    );
    // torch.zeros(0).max() / .min()
    assert_eq!(
        raised(|| zeros(&[0]).max()),
        "RuntimeError: max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
    );
    assert_eq!(
        raised(|| zeros(&[0]).min()),
        "RuntimeError: min(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
    );
    // torch.arange(0, 3, 0)
    assert_eq!(
        raised(|| arange_with(0, 3, 0, TensorOptions::default())),
        "RuntimeError: step must be nonzero"
    );
    // torch.arange(0, 3, -1)
    assert_eq!(
        raised(|| arange_with(0, 3, -1, TensorOptions::default())),
        "RuntimeError: upper bound and lower bound inconsistent with step sign"
    );
    // torch.rand(2, dtype=torch.int64)
    assert_eq!(
        raised(|| rand_with(&[2], TensorOptions::default().dtype(DType::Int64))),
        "NotImplementedError: \"check_uniform_bounds\" not implemented for 'Long'"
    );
    // torch.randn(2, dtype=torch.int64)
    assert_eq!(
        raised(|| randn_with(&[2], TensorOptions::default().dtype(DType::Int64))),
        "NotImplementedError: \"normal_kernel_cpu\" not implemented for 'Long'"
    );
    // torch.randint(5, 3, (2,))
    assert_eq!(
        raised(|| randint(5, 3, &[2])),
        "RuntimeError: random_ expects 'from' to be less than 'to', but got from=5 >= to=3"
    );
    // torch.tensor([[1., 2.], [3.]])
    assert_eq!(
        raised(|| tensor!(vec![vec![1., 2.], vec![3.]])),
        "ValueError: expected sequence of length 2 at dim 1 (got 1)"
    );
    // torch.tensor([[1., 2.], [3., 4., 5.]])
    assert_eq!(
        raised(|| tensor!(vec![vec![1., 2.], vec![3., 4., 5.]])),
        "ValueError: expected sequence of length 2 at dim 1 (got 3)"
    );
    // torch.tensor([[[1., 2.], [3., 4.]], [[1., 2.], [3.]]])
    assert_eq!(
        raised(|| tensor!(vec![vec![vec![1., 2.], vec![3., 4.]], vec![vec![1., 2.], vec![3.]]])),
        "ValueError: expected sequence of length 2 at dim 2 (got 1)"
    );
    // a ragged literal does not disturb the next one
    assert_eq!(tensor!(vec![vec![1., 2.], vec![3., 4.]]).shape(), vec![2, 2]);
}

#[test]
fn matrix_products() {
    // torch.mm(m, m)
    assert_eq!(
        raised(|| m23().mm(&m23())),
        "RuntimeError: mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"
    );
    // m @ m
    assert_eq!(
        raised(|| m23().matmul(&m23())),
        "RuntimeError: mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"
    );
    // torch.mm(m, m.double().t())
    assert_eq!(
        raised(|| m23().mm(&m23().double().t())),
        "RuntimeError: expected m1 and m2 to have the same dtype, but got: float != double"
    );
    // m.double() @ m.t()
    assert_eq!(
        raised(|| m23().double().matmul(&m23().t())),
        "RuntimeError: expected m1 and m2 to have the same dtype, but got: double != float"
    );
    // torch.dot(x, x.double())
    assert_eq!(
        raised(|| x3().dot(&x3().double())),
        "RuntimeError: dot : expected both vectors to have same dtype, but found Float and Double"
    );
    // torch.dot(x, torch.zeros(2))
    assert_eq!(
        raised(|| x3().dot(&zeros(&[2]))),
        "RuntimeError: inconsistent tensor size, expected tensor [3] and src [2] to have the same number of elements, but got 3 and 2 elements respectively"
    );
    // torch.dot(m, m)
    assert_eq!(raised(|| m23().dot(&m23())), "RuntimeError: 1D tensors expected, but got 2D and 2D tensors");
    // torch.mm(x, m) / torch.mm(m, x)
    assert_eq!(raised(|| x3().mm(&m23())), "RuntimeError: mm: self must be a matrix, got 1-D tensor");
    assert_eq!(raised(|| m23().mm(&x3())), "RuntimeError: mm: mat2 must be a matrix, got 1-D tensor");
    // torch.tensor(1.) @ x
    assert_eq!(
        raised(|| tensor!(1.).matmul(&x3())),
        "RuntimeError: both arguments to matmul need to be at least 1D, but they are 0D and 1D"
    );
    // torch.mv(m, torch.zeros(2))
    assert_eq!(
        raised(|| m23().mv(&zeros(&[2]))),
        "RuntimeError: size mismatch, got input (2), mat (2x3), vec (2)"
    );
    // torch.mv(m, x.double()) / torch.mv(m.double(), x)
    assert_eq!(
        raised(|| m23().mv(&x3().double())),
        "RuntimeError: addmv input tensors must have the same dtype, but got Double, Float, and Double"
    );
    assert_eq!(
        raised(|| m23().double().matmul(&x3())),
        "RuntimeError: addmv input tensors must have the same dtype, but got Float, Double, and Float"
    );
    // torch.zeros(2) @ m.t()
    assert_eq!(
        raised(|| zeros(&[2]).matmul(&m23().t())),
        "RuntimeError: mm: mat1 and mat2 shapes cannot be multiplied (1x2 and 3x2)"
    );
    // torch.zeros(2, 2, 3) @ torch.zeros(2, 3)
    assert_eq!(
        raised(|| zeros(&[2, 2, 3]).matmul(&zeros(&[2, 3]))),
        "RuntimeError: mm: mat1 and mat2 shapes cannot be multiplied (4x3 and 2x3)"
    );
    // torch.zeros(2, 2, 3) @ torch.zeros(2, 2, 3)
    assert_eq!(
        raised(|| zeros(&[2, 2, 3]).matmul(&zeros(&[2, 2, 3]))),
        "RuntimeError: Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 2]."
    );
    // torch.zeros(2, 2, 3) @ torch.zeros(3, 3, 2)
    assert_eq!(
        raised(|| zeros(&[2, 2, 3]).matmul(&zeros(&[3, 3, 2]))),
        "RuntimeError: The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"
    );
}

#[test]
fn backward_and_grad_errors() {
    let x = tensor!([1., 2., 3.], requires_grad = true);
    // (x * 2).backward()
    assert_eq!(
        raised(|| (&x * 2.0).backward()),
        "RuntimeError: grad can be implicitly created only for scalar outputs"
    );
    // x.sum().backward() without requires_grad
    assert_eq!(
        raised(|| x3().sum().backward()),
        "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"
    );
    // (x * 2).backward(torch.ones(2))
    assert_eq!(
        raised(|| (&x * 2.0).backward_with(&ones(&[2]))),
        "RuntimeError: Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has a shape of torch.Size([3])."
    );
    // y = (x * x).sum(); y.backward(); y.backward()
    let y = (&x * &x).sum();
    y.backward();
    assert_eq!(
        raised(|| y.backward()),
        "RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward."
    );
    let w = tensor!([1., 2., 3.], requires_grad = true);
    let v = tensor!([1., 2., 3.], requires_grad = true);
    // torch.autograd.grad((x * 2).sum(), [x, w])
    assert_eq!(
        raised(|| grad(&[&(&x * 2.0).sum()], &[&x, &w], false)),
        "RuntimeError: The differentiated Tensor at index 1 appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
    );
    // torch.autograd.grad((x * 2).sum(), [w, v, x])
    assert_eq!(
        raised(|| grad(&[&(&x * 2.0).sum()], &[&w, &v, &x], false)),
        "RuntimeError: The differentiated Tensor at index 0 appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
    );
    // torch.autograd.grad((x * 2).sum(), [x3()])
    assert_eq!(
        raised(|| grad(&[&(&x * 2.0).sum()], &[&x3()], false)),
        "RuntimeError: One of the differentiated Tensors does not require grad"
    );
    // torch.autograd.grad([(x * 2).sum(), x3().sum()], [x])
    assert_eq!(
        raised(|| grad(&[&(&x * 2.0).sum(), &x3().sum()], &[&x], false)),
        "RuntimeError: element 1 of tensors does not require grad and does not have a grad_fn"
    );
    // torch.autograd.grad([x * 2], [x])
    assert_eq!(
        raised(|| grad(&[&(&x * 2.0)], &[&x], false)),
        "RuntimeError: grad can be implicitly created only for scalar outputs"
    );
}

#[test]
fn requires_grad_numpy_item_hooks() {
    // torch.tensor([1, 2]).requires_grad_()
    assert_eq!(
        raised(|| tensor!([1, 2]).requires_grad_(true)),
        "RuntimeError: only Tensors of floating point dtype can require gradients"
    );
    // torch.tensor([1, 2], requires_grad=True)
    assert_eq!(
        raised(|| tensor!([1, 2], requires_grad = true)),
        "RuntimeError: Only Tensors of floating point and complex dtype can require gradients"
    );
    // torch.zeros(2, dtype=torch.int64, requires_grad=True)
    assert_eq!(
        raised(|| zeros_with(&[2], TensorOptions::default().dtype(DType::Int64).requires_grad(true))),
        "RuntimeError: Only Tensors of floating point and complex dtype can require gradients"
    );
    let x = tensor!([1., 2., 3.], requires_grad = true);
    // (x * 2).requires_grad_(False)
    assert_eq!(
        raised(|| (&x * 2.0).requires_grad_(false)),
        "RuntimeError: you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
    );
    // x.numpy()
    assert_eq!(
        raised(|| x.numpy()),
        "RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    );
    // x3().item() / torch.zeros(0).item()
    assert_eq!(
        raised(|| x3().item()),
        "RuntimeError: a Tensor with 3 elements cannot be converted to Scalar"
    );
    assert_eq!(
        raised(|| zeros(&[0]).item()),
        "RuntimeError: a Tensor with 0 elements cannot be converted to Scalar"
    );
    // x3().register_hook(lambda g: g)
    assert_eq!(
        raised(|| x3().register_hook(|_| None)),
        "RuntimeError: cannot register a hook on a tensor that doesn't require gradient"
    );
    // x3().retain_grad()
    assert_eq!(
        raised(|| x3().retain_grad()),
        "RuntimeError: can't retain_grad on Tensor that has requires_grad=False"
    );
    // x.grad = torch.zeros(2)
    assert_eq!(
        raised(|| x.set_grad(Some(zeros(&[2])))),
        "RuntimeError: attempting to assign a gradient of size '[2]' to a tensor of size '[3]'. Please ensure that the gradient and the tensor are the same size"
    );
    // x.grad = torch.zeros(3, dtype=torch.float64)
    assert_eq!(
        raised(|| x.set_grad(Some(zeros_with(&[3], TensorOptions::default().dtype(DType::Float64))))),
        "RuntimeError: attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'. The gradient must match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may break downstream systems that assume they match."
    );
}

#[test]
fn in_place_misuse() {
    let x = tensor!([1., 2., 3.], requires_grad = true);
    // x.add_(1)
    assert_eq!(
        raised(|| x.add_(1.0)),
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation."
    );
    // x[0:2].mul_(2)
    assert_eq!(
        raised(|| x.index(idx![0..2]).mul_(2.0)),
        "RuntimeError: a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
    // x[0] = 5.
    assert_eq!(
        raised(|| x.assign(idx![0], 5.0)),
        "RuntimeError: a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
    // x[:] = 5.
    assert_eq!(
        raised(|| x.assign(idx![..], 5.0)),
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation."
    );
    // m = torch.tensor(..., requires_grad=True); v = m[0]; v[1] = 5.
    let m = tensor!([[1., 2., 3.], [4., 5., 6.]], requires_grad = true);
    let v = m.at(&[0]);
    assert_eq!(
        raised(|| v.assign(idx![1], 5.0)),
        "RuntimeError: a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
    // x.copy_(torch.ones(3))
    assert_eq!(
        raised(|| x.copy_(&ones(&[3]))),
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation."
    );
    // torch.tensor([1, 2]).add_(1.5)
    assert_eq!(
        raised(|| tensor!([1, 2]).add_(1.5)),
        "RuntimeError: result type Float can't be cast to the desired output type Long"
    );
    // x3().add_(torch.ones(2, 3))
    assert_eq!(
        raised(|| x3().add_(&ones(&[2, 3]))),
        "RuntimeError: output with shape [3] doesn't match the broadcast shape [2, 3]"
    );
    // x3().add_(torch.ones(2))
    assert_eq!(
        raised(|| x3().add_(&ones(&[2]))),
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"
    );
    // x3().copy_(torch.ones(2))
    assert_eq!(
        raised(|| x3().copy_(&ones(&[2]))),
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"
    );
    // x3().copy_(torch.ones(2, 3))
    assert_eq!(
        raised(|| x3().copy_(&ones(&[2, 3]))),
        "RuntimeError: output with shape [3] doesn't match the broadcast shape [2, 3]"
    );
}

#[test]
fn modified_saved_tensors_name_the_forward_op() {
    // x = torch.tensor([1., 2., 3.], requires_grad=True); y = x.exp(); y.add_(1); y.sum().backward()
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = x.exp();
    y.add_(1.0);
    assert_eq!(
        raised(|| y.sum().backward()),
        format!("RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected version 0 instead. {VERSION_HINT}")
    );
    // ... y.add_(1); y.mul_(2): version 2
    let y = x.exp();
    y.add_(1.0);
    y.mul_(2.0);
    assert_eq!(
        raised(|| y.sum().backward()),
        format!("RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of Exp, is at version 2; expected version 0 instead. {VERSION_HINT}")
    );
    // float64 sigmoid: x.double().sigmoid(); y.mul_(2)
    let xd = tensor!([1., 2., 3.], requires_grad = true, dtype = float64);
    let y = xd.sigmoid();
    y.mul_(2.0);
    assert_eq!(
        raised(|| y.sum().backward()),
        format!("RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.DoubleTensor [3]], which is output 0 of Sigmoid, is at version 1; expected version 0 instead. {VERSION_HINT}")
    );
    // a saved input names its newest grad_fn: y = x * 2; z = y * y; y.add_(1); z.sum().backward()
    let y = &x * 2.0;
    let z = &y * &y;
    y.add_(1.0);
    assert_eq!(
        raised(|| z.sum().backward()),
        format!("RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of Add, is at version 1; expected version 0 instead. {VERSION_HINT}")
    );
    // a saved tensor without history: b = x.detach(); c = x * b; b.add_(1); c.sum().backward()
    let b = x.detach();
    let c = &x * &b;
    b.add_(1.0);
    assert_eq!(
        raised(|| c.sum().backward()),
        format!("RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]] is at version 1; expected version 0 instead. {VERSION_HINT}")
    );
}

#[test]
fn user_function_errors() {
    struct Half;
    impl Function for Half {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * &inputs[1]
        }
        fn backward(&mut self, _ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(grad_output.clone())]
        }
    }
    // class F(Function): forward(a, b) = a * b; backward returns (g,)  →  F.apply(a, a).sum().backward()
    let a = tensor!([1., 2., 3.], requires_grad = true);
    let out = Half.apply(&[&a, &a]);
    let msg = raised(|| out.sum().backward());
    assert!(
        msg.starts_with("RuntimeError: function HalfBackward returned an incorrect number of gradients (expected 2, got 1)"),
        "{msg}"
    );
}

#[test]
fn user_function_gradient_of_the_wrong_shape() {
    struct Twice;
    impl Function for Twice {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * 2.0
        }
        fn backward(&mut self, _ctx: &mut Context, _grad_output: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(ones(&[2]))]
        }
    }
    // class F(Function): backward returns torch.ones(2) for an input of shape [3]
    let a = tensor!([1., 2., 3.], requires_grad = true);
    let out = Twice.apply(&[&a]);
    assert_eq!(
        raised(|| out.sum().backward()),
        "RuntimeError: Function TwiceBackward returned an invalid gradient at index 0 - got [2] but expected shape compatible with [3]"
    );
}

#[test]
fn user_function_gradients_are_held_to_their_inputs_as_torchs_engine_holds_them() {
    /// Returns the gradient `backward` is told to return, whatever the input.
    struct Returns(fn(&Tensor) -> Vec<Option<Tensor>>);
    impl Function for Returns {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * 2.0
        }
        fn backward(&mut self, _ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>> {
            (self.0)(grad_output)
        }
    }
    let run = |f: fn(&Tensor) -> Vec<Option<Tensor>>| {
        let a = tensor!([1., 2., 3.], requires_grad = true);
        Returns(f).apply(&[&a]).sum().backward();
        a.grad().unwrap().to_string()
    };
    // backward returns torch.ones(1) / torch.tensor(5.) for an input of shape [3]: refused
    // (a gradient may be bigger than its input, not smaller)
    assert_eq!(
        raised(|| run(|_| vec![Some(ones(&[1]))])),
        "RuntimeError: Function ReturnsBackward returned an invalid gradient at index 0 - got [1] but expected shape compatible with [3]"
    );
    assert_eq!(
        raised(|| run(|_| vec![Some(tensor!(5.0))])),
        "RuntimeError: Function ReturnsBackward returned an invalid gradient at index 0 - got [] but expected shape compatible with [3]"
    );
    // torch.ones(2, 3) for [3]: summed back, [2., 2., 2.]; float64 and int64 cast to float32
    assert_eq!(run(|_| vec![Some(ones(&[2, 3]))]), "tensor([2., 2., 2.])");
    assert_eq!(run(|g| vec![Some((g * 2.0).double())]), "tensor([2., 2., 2.])");
    assert_eq!(
        run(|g| vec![Some(ones_like_with(g, TensorOptions::default().dtype(DType::Int64)))]),
        "tensor([1., 1., 1.])"
    );
    // more gradients than inputs: fine while the extra ones are None
    assert_eq!(run(|g| vec![Some(g * 2.0), None]), "tensor([2., 2., 2.])");
    assert_eq!(
        raised(|| run(|g| vec![Some(g * 2.0), Some(g.clone())])),
        "RuntimeError: function ReturnsBackward returned an incorrect number of gradients (expected 1, got 2)"
    );
}

#[test]
fn a_user_backward_runs_again_and_fails_where_it_reads_what_was_freed() {
    use std::cell::Cell;
    thread_local!(static CALLS: Cell<usize> = const { Cell::new(0) });
    struct Square;
    impl Function for Square {
        fn forward(&mut self, ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            ctx.save_for_backward(&[&inputs[0]]);
            &inputs[0] * &inputs[0]
        }
        fn backward(&mut self, ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>> {
            CALLS.with(|c| c.set(c.get() + 1));
            let x = &ctx.saved_tensors()[0];
            vec![Some(&(x * 2.0) * grad_output)]
        }
    }
    // y = Square.apply(x).sum(); y.backward(); y.backward(): torch runs backward a second
    // time (a print in it shows twice) and raises at ctx.saved_tensors
    let x = tensor!([1., 3.], requires_grad = true);
    let y = Square.apply(&[&x]).sum();
    y.backward();
    let message = raised(|| y.backward());
    assert!(
        message.starts_with("RuntimeError: Trying to backward through the graph a second time"),
        "{message}"
    );
    assert_eq!(CALLS.with(Cell::get), 2);
    assert_eq!(x.grad().unwrap().to_string(), "tensor([2., 6.])");
}

#[test]
fn more_argument_checks() {
    // x.masked_fill(torch.tensor([1, 0, 1]), 0.)
    assert_eq!(
        raised(|| x3().masked_fill(&tensor!([1, 0, 1]), 0.0)),
        "RuntimeError: masked_fill_ only supports boolean masks, but got mask with dtype long int"
    );
    // x.masked_fill(torch.tensor([1., 0., 1.]), 0.)
    assert_eq!(
        raised(|| x3().masked_fill(&x3(), 0.0)),
        "RuntimeError: masked_fill_ only supports boolean masks, but got mask with dtype float"
    );
    // x.masked_fill(torch.tensor([True, False]), 0.)
    assert_eq!(
        raised(|| x3().masked_fill(&tensor!([true, false]), 0.0)),
        "RuntimeError: The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"
    );
    // x.clamp()
    assert_eq!(
        raised(|| x3().clamp(None, None)),
        "RuntimeError: torch.clamp: At least one of 'min' or 'max' must not be None"
    );
    // torch.zeros(2, 3).sum_to_size(3, 3) / (1, 2, 3) / (2,)
    assert_eq!(
        raised(|| zeros(&[2, 3]).sum_to_size(&[3, 3])),
        "RuntimeError: size {[3, 3]} is not expandable to size {[2, 3]}."
    );
    assert_eq!(
        raised(|| zeros(&[2, 3]).sum_to_size(&[1, 2, 3])),
        "RuntimeError: size {[1, 2, 3]} is not expandable to size {[2, 3]}."
    );
    assert_eq!(
        raised(|| zeros(&[2, 3]).sum_to_size(&[2])),
        "RuntimeError: size {[2]} is not expandable to size {[2, 3]}."
    );
    // torch.autograd.grad([(x * 2).sum(), (x * 3).sum()], [x], [torch.tensor(1.)])
    let x = tensor!([1., 2., 3.], requires_grad = true);
    assert_eq!(
        raised(|| grad_opts(
            &[&(&x * 2.0).sum(), &(&x * 3.0).sum()],
            &[&x],
            Some(&[&tensor!(1.)]),
            false,
            false,
            false
        )),
        "RuntimeError: got 2 tensors and 1 gradients"
    );
    // x.register_hook(lambda g: torch.ones(2)); (x * 2).sum().backward()
    let h = x.register_hook(|_| Some(ones(&[2])));
    assert_eq!(
        raised(|| (&x * 2.0).sum().backward()),
        "RuntimeError: hook '<lambda>' has changed the size of value"
    );
    h.remove();
    // y = x * 2; y.register_hook(lambda g: torch.ones(2)); y.sum().backward()
    let y = &x * 2.0;
    y.register_hook(|_| Some(ones(&[2])));
    assert_eq!(raised(|| y.sum().backward()), "RuntimeError: hook '<lambda>' has changed the size of value");
    // y.register_hook(lambda g: g.double()); a leaf's too; the dtype is checked before the size
    let changed = "RuntimeError: hook '<lambda>' has changed the type of value (was torch.FloatTensor got torch.DoubleTensor)";
    let y = &x * 2.0;
    y.register_hook(|g| Some(g.double()));
    assert_eq!(raised(|| y.sum().backward()), changed);
    let h = x.register_hook(|_| Some(ones_with(&[2], TensorOptions::default().dtype(DType::Float64))));
    assert_eq!(raised(|| (&x * 2.0).sum().backward()), changed);
    h.remove();
}

#[test]
fn a_plain_panic_inside_backward_stays_plain() {
    // a user's own panic in a hook is not a PyTorch error: its payload stays a string
    let x = tensor!([1., 2.], requires_grad = true);
    x.register_hook(|_| panic!("boom"));
    let payload = catch_unwind(AssertUnwindSafe(|| (&x * 2.0).sum().backward())).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>().copied(), Some("boom"));
    assert!(payload.downcast_ref::<TorchError>().is_none());
}

#[test]
fn typed_errors_keep_their_kind() {
    let payload = catch_unwind(|| tensor!([1., 2., 3.]).select(0, 5)).unwrap_err();
    assert_eq!(TorchError::from_payload(payload.as_ref()).kind, ErrorKind::IndexError);
    let payload = catch_unwind(|| tensor!([1., 2., 3.]).item()).unwrap_err();
    assert_eq!(TorchError::from_payload(payload.as_ref()).kind, ErrorKind::RuntimeError);
}

#[test]
fn indexing_an_empty_dim_with_an_index_tensor_words_it_as_torch() {
    // torch.zeros(0)[torch.tensor([0])]
    assert_eq!(
        raised(|| zeros(&[0]).index_with(&tensor!([0]))),
        "IndexError: index is out of bounds for dimension with size 0"
    );
    // torch.zeros(3)[torch.tensor([5])]
    assert_eq!(
        raised(|| zeros(&[3]).index_with(&tensor!([5]))),
        "IndexError: index 5 is out of bounds for dimension 0 with size 3"
    );
}

#[test]
fn setitem_with_a_tensor_of_another_dtype_is_refused_as_index_put_refuses_it() {
    // torch 2.15.0: x = torch.ones(2, 3, dtype=torch.float64, requires_grad=True); v = x * 1
    // v[idx] = torch.full(shape, 2.0, dtype=dt); print(v.grad_fn.name()) or the error. One
    // element into a bool mask goes to masked_fill_ as a number and runs; a 0-dim bool index
    // and int64 positions go to index_put_, which refuses (a fresh-seed differential program:
    // a float32 0-dim value through a 0-dim False mask into float64 ran here)
    let refused = "RuntimeError: Index put requires the source and destination dtypes match, got Double for the destination and Float for the source.";
    let mask = tensor!([true, false]);
    let f32_value = |shape: &[usize]| full(shape, 2.0);
    let cases: Vec<(Tensor, Tensor, Option<&str>)> = vec![
        (mask.clone(), f32_value(&[]), Some("IndexPutBackward0")),
        (mask.clone(), f32_value(&[1]), Some("IndexPutBackward0")),
        (mask.clone(), tensor!(2i64), Some("IndexPutBackward0")),
        (mask.clone(), f32_value(&[3]), None),
        (tensor!([0i64]), f32_value(&[]), None),
        (tensor!(true), f32_value(&[]), None),
        (tensor!(false), f32_value(&[]), None),
        (tensor!(true), tensor!(2.0, dtype = float64), Some("torch::autograd::CopySlices")),
    ];
    for (i, (index, value, node)) in cases.into_iter().enumerate() {
        let x = ones_with(&[2, 3], TensorOptions::default().dtype(DType::Float64)).requires_grad_(true);
        let v = &x * 1.0;
        match node {
            Some(node) => {
                v.assign_with(&index, &value);
                assert_eq!(v.grad_fn().unwrap().name(), node, "case {i}");
            }
            None => assert_eq!(raised(|| v.assign_with(&index, &value)), refused, "case {i}"),
        }
    }
    // the in-place rules come first: a leaf that requires grad is named before the dtypes
    let leaf = ones_with(&[2, 3], TensorOptions::default().dtype(DType::Float64)).requires_grad_(true);
    assert!(raised(|| leaf.assign_with(&tensor!([0i64]), &f32_value(&[])))
        .starts_with("RuntimeError: a leaf Variable that requires grad"));
}

#[test]
fn scatters_name_self_where_gather_names_input() {
    // torch 2.15.0: x = torch.zeros(3); i = torch.tensor([[0]])
    // x.scatter(0, i, torch.zeros(1, 1)) (and scatter_add, scatter with a number): "... as self tensor"
    // x.gather(0, i): "... as input tensor" (a fresh-seed differential program)
    let (x, i) = (zeros(&[3]), tensor!([[0i64]]));
    let self_words = "RuntimeError: Index tensor must have the same number of dimensions as self tensor";
    assert_eq!(raised(|| x.scatter(0, &i, &zeros(&[1, 1]))), self_words);
    assert_eq!(
        raised(|| x.gather(0, &i)),
        "RuntimeError: Index tensor must have the same number of dimensions as input tensor"
    );
}

#[test]
fn bool_and_integer_tensors_refuse_what_torch_refuses_in_its_words() {
    let mask = || tensor!([true, false]);
    let ints = || tensor!([1, 2]);
    let with_a_bool = "NotImplementedError: Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.";
    // mask - 1, 1 - mask, mask - 1.0, 1.0 - mask, x - mask, k - mask, mask.sub_(1), k.sub_(mask)
    assert_eq!(raised(|| &mask() - 1), with_a_bool);
    assert_eq!(raised(|| 1 - &mask()), with_a_bool);
    assert_eq!(raised(|| &mask() - 1.0), with_a_bool);
    assert_eq!(raised(|| 1.0 - &mask()), with_a_bool);
    assert_eq!(raised(|| &x3().narrow(0, 0, 2) - &mask()), with_a_bool);
    assert_eq!(raised(|| &ints() - &mask()), with_a_bool);
    assert_eq!(raised(|| mask().sub_(1)), with_a_bool);
    assert_eq!(raised(|| ints().sub_(&mask())), with_a_bool);
    // torch.sub(x, mask, alpha=2)
    assert_eq!(raised(|| tensor!([1., 2.]).sub_alpha(&mask(), 2.0)), with_a_bool);
    // mask - mask, mask - True
    assert_eq!(
        raised(|| &mask() - &mask()),
        "NotImplementedError: Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
    );
    assert_eq!(
        raised(|| mask().sub(true)),
        "NotImplementedError: Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
    );
    // mask.argmax(), mask.argmin(dim=0)
    assert_eq!(raised(|| mask().argmax()), "NotImplementedError: argmax(): does not support bool input");
    assert_eq!(
        raised(|| mask().argmin_dim(0, false)),
        "NotImplementedError: argmin(): does not support bool input"
    );
    // mask ** mask, mask.abs(), mask.abs_()
    assert_eq!(raised(|| mask().pow(&mask())), "NotImplementedError: \"pow\" not implemented for 'Bool'");
    assert_eq!(raised(|| mask().abs()), "NotImplementedError: \"abs_cpu\" not implemented for 'Bool'");
    assert_eq!(raised(|| mask().abs_()), "NotImplementedError: \"abs_cpu\" not implemented for 'Bool'");
    // k.clamp_(min=0.5), mask.clamp_(0, 2), mask.clamp_(min=0.5): C++'s names of the dtype
    assert_eq!(
        raised(|| ints().clamp_(Some(0.5), None)),
        "RuntimeError: result type Float can't be cast to the desired output type long int"
    );
    assert_eq!(
        raised(|| mask().clamp_(Some(0.0), Some(2.0))),
        "RuntimeError: result type Long can't be cast to the desired output type bool"
    );
    assert_eq!(
        raised(|| mask().clamp_(Some(0.5), None)),
        "RuntimeError: result type Float can't be cast to the desired output type bool"
    );
    // torch.tensor([1], requires_grad=True) and torch.tensor([1]).requires_grad_() word it apart
    assert_eq!(
        raised(|| tensor!([1], requires_grad = true)),
        "RuntimeError: Only Tensors of floating point and complex dtype can require gradients"
    );
    assert_eq!(
        raised(|| ints().requires_grad_(true)),
        "RuntimeError: only Tensors of floating point dtype can require gradients"
    );
}

#[test]
fn a_bool_exponent_fails_in_backward_where_torch_subtracts_one_from_it() {
    // x = torch.tensor([2., 3.], requires_grad=True); x.pow(torch.tensor([True, False])).sum().backward()
    let x = tensor!([2., 3.], requires_grad = true);
    let y = x.pow(&tensor!([true, false])).sum();
    assert_eq!(y.to_string(), "tensor(3., grad_fn=<SumBackward0>)");
    assert_eq!(
        raised(|| y.backward()),
        "NotImplementedError: Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
    );
}

#[test]
fn a_user_function_output_that_is_a_view_refuses_in_place_changes() {
    struct Ident;
    impl Function for Ident {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            inputs[0].clone()
        }
        fn backward(&mut self, _ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(g * 3.0)]
        }
    }
    struct First;
    impl Function for First {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            inputs[0].select(0, 0)
        }
        fn backward(&mut self, _ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(&tensor!([1., 0., 0.]) * g)]
        }
    }
    const WHY: &str = "This view was created inside a custom Function (or because an input was returned as-is) and the autograd logic to handle view+inplace would override the custom backward associated with the custom Function, leading to incorrect gradients. This behavior is forbidden. You can fix this by cloning the output of the custom Function.";
    // y = Ident.apply(x); y.mul_(2)
    let x = tensor!([1., 2., 3.], requires_grad = true);
    let y = Ident.apply(&[&x]);
    assert_eq!(
        raised(|| y.mul_(2.0)),
        format!("RuntimeError: Output 0 of Ident is a view and is being modified inplace. {WHY}")
    );
    // v = x * 1; y = Ident.apply(v); v.mul_(2); y.grad_fn
    let v = &x * 1.0;
    let y = Ident.apply(&[&v]);
    v.mul_(2.0);
    assert_eq!(
        raised(|| y.grad_fn()),
        format!("RuntimeError: Output 0 of Ident is a view and its base or another view of its base has been modified inplace. {WHY}")
    );
    // y = First.apply(v) (forward returns v[0], a view); y.add_(1)
    let y = First.apply(&[&v]);
    assert_eq!(y.grad_fn().unwrap().name(), "FirstBackward");
    assert_eq!(
        raised(|| y.add_(1.0)),
        format!("RuntimeError: Output 0 of First is a view and is being modified inplace. {WHY}")
    );
    // nothing requires grad: z = Ident.apply(torch.tensor([1., 2.])); z.mul_(2) runs
    let z = Ident.apply(&[&tensor!([1., 2.])]);
    z.mul_(2.0);
    assert_eq!(z.to_string(), "tensor([2., 4.])");
}

#[test]
fn bool_tensors_are_named_as_torch_names_them_and_copy_into_an_expanded_tensor_refuses() {
    // x = torch.tensor([1., 2.], requires_grad=True); k = torch.tensor([True, False]);
    // y = x * k; k.fill_(True); y.sum().backward()
    let x = tensor!([1., 2.], requires_grad = true);
    let k = tensor!([true, false]);
    let y = &x * &k;
    k.fill_(true);
    let message = raised(|| y.sum().backward());
    assert!(message.contains("inplace operation: [CPUBoolType [2]] is at version 1"), "{message}");
    // torch.tensor([[True]]).expand(2)
    assert_eq!(
        raised(|| tensor!([[true]]).expand([2])),
        "RuntimeError: expand(CPUBoolType{[1, 1]}, size=[2]): the number of sizes provided (1) must be greater or equal to the number of dimensions in the tensor (2)"
    );
    // v2 = x * 0; v2.expand(3).copy_(v2.narrow(0, 0, 1)): src only broadcasts onto the
    // expanded tensor (not the same sizes), so torch writes, and refuses the repeats
    let x = tensor!([2.], requires_grad = true);
    let v2 = &x * 0.0;
    assert_eq!(
        raised(|| v2.expand([3]).copy_(&v2.narrow(0, 0, 1))),
        "RuntimeError: unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation."
    );
    assert_eq!(
        raised(|| zeros(&[1]).expand([3]).copy_(&ones(&[3]))),
        "RuntimeError: unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation."
    );
}

#[test]
fn a_view_cut_before_its_base_got_history_is_a_leaf_for_in_place_ops() {
    // z3 = torch.zeros(2, dtype=torch.float64); v4 = z3[1:]; v4[0] = torch.tensor(0.5,
    // requires_grad=True).tanh(); v4[:] = 0.5 -> v4 has no grad_fn of its own but requires
    // grad through its base
    let z3 = zeros_with(&[2], TensorOptions::default().dtype(DType::Float64));
    let v4 = z3.index(idx![1..]);
    v4.assign(idx![0], &tensor!(0.5, requires_grad = true).tanh());
    assert_eq!(
        raised(|| v4.assign(idx![..], 0.5)),
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation."
    );
}
