//! Matrix products agree with torch's to the last bit where MKL runs its AVX2 kernels (an
//! AMD processor): `fixtures/gemm_order_avx2.json`, recorded by
//! `tools/gemm_order/record_fixture.py --kernels avx2` on an AMD EPYC (Zen): float32
//! products of the blocked kernel (blocks of 192, the remainder last) and of the small
//! kernels' chains of rounded products, on one thread and on two, with signed zeros and
//! one-term products. (A test binary of its own: the kernel set is chosen for the whole
//! process.)

mod gemm_fixture;

use autograd_core::ops::linalg::MklKernels;

#[test]
fn matrix_products_match_torch_on_mkls_avx2_kernels() {
    gemm_fixture::products_match_torch("gemm_order_avx2.json", MklKernels::Avx2, 40);
}
