//! torch's own vector math, where it is installed: Intel MKL's VML.
//!
//! torch 2.15's x86 wheels run the tensor ops `exp`, `log`, `sin`, `cos`, `tanh` and `sqrt`
//! (and their in-place forms) through MKL's VML — `vmsExp`, `vmdLn`, ... — in the mode
//! `VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE`, on every element whatever the tensor's
//! layout (`at::vml`; its version: `torch.__config__.show()` says oneMKL 2024.2). MKL is
//! closed source, so `transcendental.rs` and `mkl_sqrt.rs` hold the closest public
//! algorithms found, which differ from torch in the last bit on some inputs. MKL itself is on
//! PyPI (the `mkl` package, the same 2024.2.0 release); `tools/mkl.sh`, which `install.sh`
//! and `test.sh` run, puts its libraries in a cache, and where they are found this module
//! calls the same entry points with the same mode, so those ops give torch's bits. Measured
//! (`tools/mkl_vml/compare.py`, Intel Xeon family 6 model 207): equal to torch's for every
//! one of the 2^32 float32 inputs and for 16 million float64 inputs of every magnitude, for
//! each of the six.
//!
//! Where MKL is looked for, in order: `AUTOGRAD_MKL` (a `libmkl_rt.so.2` or the folder that
//! holds it; `off` or empty: never), `$AUTOGRAD_KERNEL_SYSTEM/mkl/lib` (a system-wide install,
//! `./install.sh --system`), `$HOME/.cache/autograd-kernel/mkl/lib`. It is loaded once, the
//! first time one of these ops runs, with MKL's sequential threading (the ops split their
//! work over threads themselves, as torch does). Not used when products follow MKL's AVX2
//! kernels on a processor with AVX-512 (`AUTOGRAD_MKL_KERNELS=avx2`, a stand-in for another
//! CPU; MKL would run its AVX-512 code here).

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

/// torch's mode for every VML call: high accuracy, denormals kept, errors ignored.
const VML_MODE: u64 = 0x2 | 0x0014_0000 | 0x100;
/// `MKL_Set_Threading_Layer(MKL_THREADING_SEQUENTIAL)`.
const MKL_THREADING_SEQUENTIAL: c_int = 1;
/// `MKL_Set_Interface_Layer(MKL_INTERFACE_LP64)`: 32-bit lengths.
const MKL_INTERFACE_LP64: c_int = 0;
/// The library file, in the folders above.
const LIBRARY: &str = "libmkl_rt.so.2";

type VmlF32 = unsafe extern "C" fn(n: i32, a: *const f32, r: *mut f32, mode: u64);
type VmlF64 = unsafe extern "C" fn(n: i32, a: *const f64, r: *mut f64, mode: u64);
type SetLayer = unsafe extern "C" fn(layer: c_int) -> c_int;

extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;

/// A VML function for either dtype.
#[derive(Clone, Copy)]
pub(crate) struct VmlFn {
    f32: VmlF32,
    f64: VmlF64,
}

/// The VML functions torch's ops call.
pub(crate) struct Vml {
    pub exp: VmlFn,
    pub ln: VmlFn,
    pub sin: VmlFn,
    pub cos: VmlFn,
    pub tanh: VmlFn,
    pub sqrt: VmlFn,
    /// The file loaded.
    pub path: String,
}

/// Elements per call: VML takes a 32-bit length.
const CHUNK: usize = 1 << 30;

/// The two float types VML computes in: `call` runs the form of a `VmlFn` for this type.
pub(crate) trait VmlFloat: Sized {
    /// # Safety
    /// `a` and `r` hold `n` elements each.
    unsafe fn call(f: VmlFn, n: i32, a: *const Self, r: *mut Self);
}

impl VmlFloat for f32 {
    unsafe fn call(f: VmlFn, n: i32, a: *const f32, r: *mut f32) {
        // SAFETY: the caller's promise; VML reads `a` and writes every element of `r`
        unsafe { (f.f32)(n, a, r, VML_MODE) }
    }
}

impl VmlFloat for f64 {
    unsafe fn call(f: VmlFn, n: i32, a: *const f64, r: *mut f64) {
        // SAFETY: as for f32
        unsafe { (f.f64)(n, a, r, VML_MODE) }
    }
}

/// Writes `pick`'s VML function of `x` into `out` (same length) where MKL's VML is in use
/// (`vml`), else `own(x, out)`: the slice forms of torch's `exp` ... `sqrt`.
pub(crate) fn vml_or<T: VmlFloat>(
    pick: fn(&Vml) -> VmlFn,
    own: fn(&[T], &mut [std::mem::MaybeUninit<T>]),
    x: &[T],
    out: &mut [std::mem::MaybeUninit<T>],
) {
    let Some(vml) = vml() else { return own(x, out) };
    assert_eq!(x.len(), out.len());
    for (x, out) in x.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
        // SAFETY: `x` and `out` hold `x.len()` elements each (at most CHUNK, so the length fits)
        unsafe { T::call(pick(vml), x.len() as i32, x.as_ptr(), out.as_mut_ptr().cast()) }
    }
}

/// MKL's VML where it is installed and used (see the module's doc), else `None`.
pub(crate) fn vml() -> Option<&'static Vml> {
    static VML: OnceLock<Option<Vml>> = OnceLock::new();
    let vml = VML.get_or_init(|| candidates().into_iter().find_map(|path| load(&path))).as_ref()?;
    if super::gemm_order::mkl_kernels() == super::gemm_order::MklKernels::Avx2 && has_avx512() {
        return None;
    }
    Some(vml)
}

/// The file MKL's VML was loaded from, where the ops use it (`None`: autograd-core's own
/// algorithms, see `ops::transcendental`).
pub fn mkl_vml_path() -> Option<String> {
    vml().map(|v| v.path.clone())
}

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The files to try, in order (see the module's doc).
fn candidates() -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let file_in = |dir: PathBuf| dir.join(LIBRARY);
    if let Some(chosen) = std::env::var_os("AUTOGRAD_MKL") {
        if chosen.is_empty() || chosen == "off" {
            return Vec::new();
        }
        let chosen = PathBuf::from(chosen);
        return vec![if chosen.is_dir() { file_in(chosen) } else { chosen }];
    }
    let mut found = Vec::new();
    if let Some(system) = std::env::var_os("AUTOGRAD_KERNEL_SYSTEM").filter(|v| !v.is_empty()) {
        found.push(file_in(PathBuf::from(system).join("mkl/lib")));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        found.push(file_in(PathBuf::from(home).join(".cache/autograd-kernel/mkl/lib")));
    }
    found
}

/// Loads MKL from `path` and looks up the functions; `None` where the file is missing or is
/// not MKL's runtime library.
fn load(path: &std::path::Path) -> Option<Vml> {
    use std::os::unix::ffi::OsStrExt;
    if !path.is_file() {
        return None;
    }
    let name = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a path to a shared library; loading it runs its initializers (MKL's do nothing
    // but set up its dispatcher)
    let handle = unsafe { dlopen(name.as_ptr(), RTLD_NOW) };
    if handle.is_null() {
        return None;
    }
    let symbol = |name: &str| {
        let name = CString::new(name).expect("no NUL in a symbol name");
        // SAFETY: a handle from dlopen, never closed
        let found = unsafe { dlsym(handle, name.as_ptr()) };
        (!found.is_null()).then_some(found)
    };
    // before any other call into MKL: its sequential layer, 32-bit integers
    for (setter, layer) in [
        ("MKL_Set_Threading_Layer", MKL_THREADING_SEQUENTIAL),
        ("MKL_Set_Interface_Layer", MKL_INTERFACE_LP64),
    ] {
        // SAFETY: MKL's documented `int MKL_Set_..._Layer(int)`
        unsafe { std::mem::transmute::<*mut c_void, SetLayer>(symbol(setter)?)(layer) };
    }
    let function = |name: &str| -> Option<VmlFn> {
        let (single, double) = (symbol(&format!("vms{name}"))?, symbol(&format!("vmd{name}"))?);
        // SAFETY: MKL's documented `void vm?Name(MKL_INT n, const T a[], T r[], MKL_INT64
        // mode)`, MKL_INT being 32 bits in the LP64 interface chosen above
        Some(VmlFn {
            f32: unsafe { std::mem::transmute::<*mut c_void, VmlF32>(single) },
            f64: unsafe { std::mem::transmute::<*mut c_void, VmlF64>(double) },
        })
    };
    Some(Vml {
        exp: function("Exp")?,
        ln: function("Ln")?,
        sin: function("Sin")?,
        cos: function("Cos")?,
        tanh: function("Tanh")?,
        sqrt: function("Sqrt")?,
        path: path.display().to_string(),
    })
}
