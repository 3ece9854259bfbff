//! C entry points over this library's own copy of autograd-core.

use autograd_core::prelude::*;

#[no_mangle]
pub extern "C" fn probe_manual_seed(seed: u64) {
    manual_seed(seed);
}

/// Fills `out` with the bits of `torch.rand(n)`.
#[no_mangle]
pub unsafe extern "C" fn probe_rand_bits(n: usize, out: *mut u32) {
    let values = rand(&[n]).to_vec_f32();
    for (i, v) in values.iter().enumerate() {
        *out.add(i) = v.to_bits();
    }
}

#[no_mangle]
pub extern "C" fn probe_set_grad_enabled(enabled: bool) {
    set_grad_enabled(enabled);
}

#[no_mangle]
pub extern "C" fn probe_is_grad_enabled() -> bool {
    is_grad_enabled()
}

/// A leaf `tensor([1., 2., 3.], requires_grad=True)`, owned by the caller.
#[no_mangle]
pub extern "C" fn probe_make_leaf() -> *mut Tensor {
    Box::into_raw(Box::new(tensor!([1., 2., 3.], requires_grad = true)))
}

/// `(t ** 2).sum()` computed by this copy, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn probe_square_sum(t: *const Tensor) -> *mut Tensor {
    Box::into_raw(Box::new((*t).pow(2).sum()))
}

#[no_mangle]
pub unsafe extern "C" fn probe_backward(t: *const Tensor) {
    (*t).backward();
}

/// Writes `repr(t)` (NUL-terminated, truncated to `len`) into `buf`.
#[no_mangle]
pub unsafe extern "C" fn probe_repr(t: *const Tensor, grad: bool, buf: *mut u8, len: usize) {
    let text = if grad { format!("{:?}", (*t).grad()) } else { (*t).to_string() };
    let bytes = text.as_bytes();
    let n = bytes.len().min(len - 1);
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, n);
    *buf.add(n) = 0;
}

#[no_mangle]
pub unsafe extern "C" fn probe_tensor_id(t: *const Tensor) -> u64 {
    (*t).id()
}

#[no_mangle]
pub unsafe extern "C" fn probe_free(t: *mut Tensor) {
    drop(Box::from_raw(t));
}
