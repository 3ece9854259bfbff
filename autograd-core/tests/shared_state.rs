//! Global state survives several copies of the engine in one process: two independently
//! built shared libraries, each with its own statically linked copy of autograd-core (as a
//! cell library without `-Cprefer-dynamic` has), plus this test's own copy, all see one grad
//! mode and one random generator, and tensors made by one copy work in another.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use autograd_core::prelude::*;
use libloading::{Library, Symbol};

/// Builds the probe library into its own target dir and returns a private copy of it.
fn build_probe(flavour: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shared-state-probe/Cargo.toml");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("shared-state-{flavour}"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        // a different crate hash per build: two genuinely separate compilations
        .env("RUSTFLAGS", format!("-C metadata={flavour}"))
        // lean builds: this directory is kept between runs, and incremental caches and debug
        // info of two engine copies grew it to 20 GB over a day of runs
        .env("CARGO_INCREMENTAL", "0")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the probe ({flavour}) failed");
    let built = target.join("debug/libshared_state_probe.so");
    let copy = target.join(format!("probe-{flavour}.so"));
    std::fs::copy(&built, &copy).expect("copy the library");
    copy
}

struct Probe {
    lib: Library,
}

impl Probe {
    fn load(path: &Path) -> Probe {
        Probe { lib: unsafe { Library::new(path) }.expect("dlopen the probe") }
    }

    fn f<T>(&self, name: &str) -> Symbol<'_, T> {
        unsafe { self.lib.get(name.as_bytes()) }.unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn rand_bits(&self, n: usize) -> Vec<u32> {
        let mut out = vec![0u32; n];
        unsafe { self.f::<unsafe extern "C" fn(usize, *mut u32)>("probe_rand_bits")(n, out.as_mut_ptr()) };
        out
    }

    fn repr(&self, t: *const Tensor, grad: bool) -> String {
        let mut buf = vec![0u8; 512];
        unsafe {
            self.f::<unsafe extern "C" fn(*const Tensor, bool, *mut u8, usize)>("probe_repr")(
                t,
                grad,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap().to_string()
    }
}

#[test]
fn two_independent_copies_share_grad_mode_generator_and_values() {
    let a = Probe::load(&build_probe("cell-a"));
    let b = Probe::load(&build_probe("cell-b"));

    // the random generator: seed in one copy, draw in the other (torch's numbers)
    manual_seed(666);
    let expected: Vec<u32> = rand(&[6]).to_vec_f32().iter().map(|v| v.to_bits()).collect();
    unsafe { a.f::<unsafe extern "C" fn(u64)>("probe_manual_seed")(666) };
    assert_eq!(b.rand_bits(6), expected, "b continues a's seeded stream");
    assert_eq!(format!("{:.4}", f32::from_bits(expected[0])), "0.3119");
    // and the stream is one: a's next draw follows b's
    manual_seed(666);
    let twelve: Vec<u32> = rand(&[12]).to_vec_f32().iter().map(|v| v.to_bits()).collect();
    unsafe { a.f::<unsafe extern "C" fn(u64)>("probe_manual_seed")(666) };
    let mut both = b.rand_bits(6);
    both.extend(a.rand_bits(6));
    assert_eq!(both, twelve);

    // grad mode: set in one copy, honoured by the others
    unsafe { a.f::<unsafe extern "C" fn(bool)>("probe_set_grad_enabled")(false) };
    assert!(!unsafe { b.f::<unsafe extern "C" fn() -> bool>("probe_is_grad_enabled")() });
    assert!(!is_grad_enabled());
    set_grad_enabled(true);
    assert!(unsafe { a.f::<unsafe extern "C" fn() -> bool>("probe_is_grad_enabled")() });

    // values cross copies: a leaf from a, an op in b, backward in a, read from b
    unsafe {
        let leaf = a.f::<unsafe extern "C" fn() -> *mut Tensor>("probe_make_leaf")();
        let y = b.f::<unsafe extern "C" fn(*const Tensor) -> *mut Tensor>("probe_square_sum")(leaf);
        assert_eq!(a.repr(y, false), "tensor(14., grad_fn=<SumBackward0>)");
        a.f::<unsafe extern "C" fn(*const Tensor)>("probe_backward")(y);
        assert_eq!(b.repr(leaf, true), "Some(tensor([2., 4., 6.]))");
        // ids come from one counter
        let id_a = a.f::<unsafe extern "C" fn(*const Tensor) -> u64>("probe_tensor_id")(leaf);
        let id_b = b.f::<unsafe extern "C" fn(*const Tensor) -> u64>("probe_tensor_id")(y);
        assert_ne!(id_a, id_b);
        assert!(tensor!([0.]).id() > id_a.max(id_b));
        b.f::<unsafe extern "C" fn(*mut Tensor)>("probe_free")(y);
        a.f::<unsafe extern "C" fn(*mut Tensor)>("probe_free")(leaf);
    }
}
