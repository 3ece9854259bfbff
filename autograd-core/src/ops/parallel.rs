//! Work on large tensors shared between the calling thread and the other cores.
//!
//! The calling thread starts on the work at once and helpers from rayon's pool join in as
//! they wake up, each taking the next part when it is free; the caller returns as soon as
//! every part is done, without waiting for a helper that has not started (it withdraws the
//! invitation instead). Rayon's own parallel iterators hand every part to the pool and put
//! the caller to sleep until the pool is done, so each op paid for waking the pool and then
//! for waking the caller. Measured on a 2-core machine, 8 alternating runs of
//! `cargo bench -p autograd-core --bench side_by_side` (ms, fastest to slowest):
//! `sigmoid` on 1M float32 0.116-0.278 with rayon's iterators, 0.113-0.133 this way;
//! `(m + row).sum().backward()` 0.129-0.277 against 0.128-0.182; `softmax` forward and
//! backward 0.70-1.50 against 0.66-0.90 (PyTorch's OpenMP threads wait spinning between ops:
//! 0.12-0.18 for that `sigmoid`).
//!
//! A helper that has finished also stays awake for a moment ([`LINGER`]) and joins the next
//! op that asks for help at once: on an Intel Xeon VM whose idle cores take long to wake,
//! the two halves of a 512x512 matrix product often ran one after the other on the caller.
//! 12-14 alternating runs of `a @ b` (forward) and of `(a @ b).mean().backward()` on
//! 512x512 float32, 2 threads, median of each run's best (with the product's halves shared
//! out here rather than by `rayon::scope`): 1.86 -> 1.72 ms and 5.94 -> 5.39 ms, faster in 11
//! of 14 and 11 of 12 pairs; `exp` on 1M float32 unchanged (0.404 -> 0.396 ms).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The number of threads torch's CPU kernels (and MKL under them) split work over on this
/// machine, which decides the bits of a split reduction, softmax along an inner dim, a long
/// `arange` and some matrix products: `OMP_NUM_THREADS` (or `MKL_NUM_THREADS`) when set,
/// else torch's default, one thread per physical core (cpuinfo's count: with SMT half the
/// logical CPUs rayon counts). On a rayon pool's thread, that pool's size instead: how tests
/// replay a recording made on a given number of threads (`pool.install(..)`).
pub(crate) fn torch_threads() -> usize {
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads();
    }
    static DEFAULT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok());
        from_env("MKL_NUM_THREADS")
            .or_else(|| from_env("OMP_NUM_THREADS"))
            .filter(|&n| n > 0)
            .or_else(physical_cores)
            .unwrap_or_else(rayon::current_num_threads)
    })
}

/// The physical cores Linux lists (distinct package and core ids of the present CPUs).
fn physical_cores() -> Option<usize> {
    let mut cores = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir("/sys/devices/system/cpu").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.strip_prefix("cpu").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let read = |file: &str| std::fs::read_to_string(entry.path().join("topology").join(file)).ok();
        if let (Some(package), Some(core)) = (read("physical_package_id"), read("core_id")) {
            cores.insert((package.trim().to_string(), core.trim().to_string()));
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

/// torch's `at::internal::GRAIN_SIZE`: below it, its kernels run on one thread.
const TORCH_GRAIN: usize = 32768;

/// How torch's `at::parallel_for` shares `0..n` out with its grain of 32768 elements and
/// `threads` threads: one range up to the grain, beyond it one range of `ceil(n / t)`
/// elements per thread, `t = min(threads, ceil(n / grain))`. What depends on where a thread's
/// range starts (a kernel's vector runs, its scalar tail) follows these ranges.
pub(crate) fn torch_parallel_parts(n: usize, threads: usize) -> Vec<std::ops::Range<usize>> {
    torch_parallel_parts_with_grain(n, TORCH_GRAIN, threads)
}

/// How torch splits `0..n` over its threads here ([`torch_threads`]) when it splits it at all:
/// None where one thread runs it all (the threads are only asked for past the grain, so a
/// small reduction in a training loop neither looks them up nor allocates).
pub(crate) fn torch_split(n: usize) -> Option<Vec<std::ops::Range<usize>>> {
    if n <= TORCH_GRAIN {
        return None;
    }
    Some(torch_parallel_parts(n, torch_threads())).filter(|parts| parts.len() > 1)
}

/// `torch_parallel_parts` for a kernel that passes its own grain (0 or 1: every call with
/// more than one element is split over all threads, however small).
pub(crate) fn torch_parallel_parts_with_grain(
    n: usize,
    grain: usize,
    threads: usize,
) -> Vec<std::ops::Range<usize>> {
    if n <= grain.max(1) || threads <= 1 {
        return std::iter::once(0..n).collect();
    }
    let parts = if grain > 0 { threads.min(n.div_ceil(grain)) } else { threads };
    let size = n.div_ceil(parts);
    (0..parts).map(|t| t * size).filter(|&b| b < n).map(|b| b..(b + size).min(n)).collect()
}

/// A helper's state: invited, working on the parts, finished, or uninvited before it began.
const INVITED: u8 = 0;
const WORKING: u8 = 1;
const FINISHED: u8 = 2;
const WITHDRAWN: u8 = 3;

type Work = dyn Fn(usize) + Sync;
type Panic = Box<dyn std::any::Any + Send>;

/// What the caller and its helpers share: the next part to take, and the work.
struct Team {
    next: AtomicUsize,
    parts: usize,
    /// The caller's closure, its lifetime erased: a helper calls it only between
    /// `INVITED -> WORKING` and `FINISHED`, and the caller does not return (its borrow does
    /// not end) while a helper is `WORKING`.
    work: *const Work,
    states: Vec<AtomicU8>,
    panic: Mutex<Option<Panic>>,
}

// SAFETY: `work` points to a `Sync` closure, used under the protocol above; the rest is
// atomics and a mutex
unsafe impl Send for Team {}
// SAFETY: as above
unsafe impl Sync for Team {}

impl Team {
    /// Takes parts until none is left.
    fn take_parts(&self, work: &(dyn Fn(usize) + Sync + '_)) {
        loop {
            let part = self.next.fetch_add(1, Ordering::Relaxed);
            if part >= self.parts {
                return;
            }
            work(part);
        }
    }

    /// A rayon job's part: helper `index` if the caller still invites it, then a linger.
    fn helper(self: Arc<Self>, index: usize) {
        // this team is counted already: one posted while we work is the next to join
        let seen = TEAMS.load(Ordering::Acquire);
        if self.help(index) {
            drop(self);
            linger(seen);
        }
    }

    /// Works as helper `index` if the caller still invites it; whether it did.
    fn help(&self, index: usize) -> bool {
        let state = &self.states[index];
        if state.compare_exchange(INVITED, WORKING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false; // the caller finished without us, or a lingering helper took the place
        }
        // SAFETY: the caller waits for `FINISHED` before its closure goes away
        let work = unsafe { &*self.work };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.take_parts(work))) {
            *self.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(panic);
        }
        state.store(FINISHED, Ordering::Release);
        true
    }
}

/// The team that invited helpers last, and how many teams have: what a lingering helper
/// watches.
static LATEST: Mutex<Option<Weak<Team>>> = Mutex::new(None);
static TEAMS: AtomicU64 = AtomicU64::new(0);
/// How long a helper that has finished keeps watching for the next team.
const LINGER: Duration = Duration::from_micros(200);

/// Stays awake for [`LINGER`] after the last work, joining each team counted after `seen`
/// as one of its invited helpers (the same claim as the rayon job's, so a team's caller never
/// waits for a lingering thread that has not started on its parts).
fn linger(mut seen: u64) {
    let mut since = Instant::now();
    while since.elapsed() < LINGER {
        let now = TEAMS.load(Ordering::Acquire);
        if now == seen {
            std::hint::spin_loop();
            continue;
        }
        seen = now;
        let team = LATEST.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(Weak::upgrade);
        if let Some(team) = team {
            let _ = (0..team.states.len()).any(|index| team.help(index));
        }
        since = Instant::now();
    }
}

/// `work(part)` for every part in `0..parts`, each exactly once, on the calling thread and
/// on as many of rayon's threads as are free to help (at most one fewer than the pool has).
/// A panic in `work` is raised again here once no thread is still running it.
pub(crate) fn run_parts(parts: usize, work: &(dyn Fn(usize) + Sync)) {
    let helpers = rayon::current_num_threads().saturating_sub(1).min(parts.saturating_sub(1));
    if helpers == 0 {
        (0..parts).for_each(work);
        return;
    }
    // SAFETY: only the lifetime changes; see `Team::work`
    let erased = unsafe { erase(work) };
    let team = Arc::new(Team {
        next: AtomicUsize::new(0),
        parts,
        work: erased,
        states: (0..helpers).map(|_| AtomicU8::new(INVITED)).collect(),
        panic: Mutex::new(None),
    });
    *LATEST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(&team));
    TEAMS.fetch_add(1, Ordering::AcqRel);
    for index in 0..helpers {
        let team = Arc::clone(&team);
        rayon::spawn(move || team.helper(index));
    }
    let mine = catch_unwind(AssertUnwindSafe(|| team.take_parts(work)));
    for state in &team.states {
        if state.compare_exchange(INVITED, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            continue;
        }
        // working on its last part (every part has been taken): a short wait
        let mut spins = 0u32;
        while state.load(Ordering::Acquire) != FINISHED {
            if spins < 1000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
    if let Err(panic) = mine {
        resume_unwind(panic);
    }
    let helper_panic = team.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(panic) = helper_panic {
        resume_unwind(panic);
    }
}

/// `work` with its lifetime forgotten.
///
/// # Safety
/// The pointer must not be used after `work`'s borrow ends.
unsafe fn erase<'a>(work: &'a (dyn Fn(usize) + Sync + 'a)) -> *const Work {
    // SAFETY: a reference and a raw pointer to the same unsized type have the same layout
    unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), *const Work>(work) }
}

/// A pointer that may cross threads: the start of a slice whose parts go to different ones.
struct Parts<T>(*mut T);

// SAFETY: each part is reached by one thread only (`run_parts` gives each index once)
unsafe impl<T: Send> Send for Parts<T> {}
// SAFETY: as above
unsafe impl<T: Send> Sync for Parts<T> {}

/// `f(range)` for each of `ranges`, on as many threads as are free (`run_parts`), in their
/// order: the parts of a split reduction, each summed on a thread as torch's are.
pub(crate) fn map_ranges<T: Send>(
    ranges: &[std::ops::Range<usize>],
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let mut out: Vec<Option<T>> = ranges.iter().map(|_| None).collect();
    for_each_part(&mut out, 1, |k, slot| slot[0] = Some(f(ranges[k].clone())));
    out.into_iter().map(|v| v.expect("run_parts runs every part")).collect()
}

/// `f(k)` for every `k` in `0..count`, in order, each costing about `cost` elements' work:
/// on the threads (`map_ranges`) when `parallel` and the whole is at least
/// `kernel::PARALLEL_MIN`, each `k` on one thread. For units whose result does not depend on
/// where they run: the rows of a reduction, each reduced in its one-thread order.
pub(crate) fn map_units<R: Send>(
    count: usize,
    cost: usize,
    parallel: bool,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    if !parallel || count < 2 || count.saturating_mul(cost) < super::kernel::PARALLEL_MIN {
        return (0..count).map(f).collect();
    }
    let parts = count.min(16);
    let ranges: Vec<_> = (0..parts).map(|p| p * count / parts..(p + 1) * count / parts).collect();
    map_ranges(&ranges, |range| range.map(&f).collect::<Vec<R>>()).into_iter().flatten().collect()
}

/// `f(start, part)` for `data` cut into parts of `chunk` elements (the last one shorter),
/// shared out as `run_parts` does; `start` is the part's offset in `data`.
pub(crate) fn for_each_part<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let chunk = chunk.max(1);
    let len = data.len();
    let base = Parts(data.as_mut_ptr());
    let base = &base;
    run_parts(len.div_ceil(chunk), &|k| {
        let start = k * chunk;
        let end = (start + chunk).min(len);
        // SAFETY: `start..end` lies in `data`, and no other part overlaps it
        let part = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), end - start) };
        f(start, part)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchs_thread_count_is_a_pools_inside_it_and_the_physical_cores_outside() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        assert_eq!(pool.install(torch_threads), 3);
        #[cfg(target_os = "linux")]
        {
            assert!(physical_cores().expect("Linux lists its CPUs' topology") >= 1);
        }
        if std::env::var("OMP_NUM_THREADS").is_err() && std::env::var("MKL_NUM_THREADS").is_err() {
            assert_eq!(Some(torch_threads()), physical_cores().or(Some(rayon::current_num_threads())));
        }
    }

    #[test]
    fn every_part_is_done_once_whatever_the_sizes() {
        for (len, chunk) in [(0, 4), (1, 4), (7, 3), (1000, 1), (100_000, 1 << 14), (5, 100)] {
            let mut data = vec![0u32; len];
            for_each_part(&mut data, chunk, |start, part| {
                for (i, d) in part.iter_mut().enumerate() {
                    *d += (start + i) as u32 + 1;
                }
            });
            assert!(data.iter().enumerate().all(|(i, &d)| d == i as u32 + 1), "len {len} chunk {chunk}");
        }
    }

    #[test]
    fn ops_back_to_back_each_get_every_part_once_and_nothing_after_they_return() {
        // helpers that linger after one op join the next: each op's parts still run exactly
        // once, and none of them after the op has returned
        let ops: Vec<Vec<AtomicUsize>> =
            (0..2000).map(|_| (0..6).map(|_| AtomicUsize::new(0)).collect()).collect();
        for (k, counts) in ops.iter().enumerate() {
            run_parts(counts.len(), &|part| {
                if (k + part) % 7 == 0 {
                    std::hint::black_box((0..2000).sum::<u64>());
                }
                counts[part].fetch_add(1, Ordering::Relaxed);
            });
            assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1), "op {k}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(ops.iter().flatten().all(|c| c.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn a_panic_in_a_part_reaches_the_caller_after_the_others_stop() {
        let done = AtomicUsize::new(0);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            run_parts(64, &|k| {
                if k == 5 {
                    panic!("part five");
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        }));
        let message = outcome.expect_err("the panic is raised again").downcast::<&str>().unwrap();
        assert_eq!(*message, "part five");
        // no thread runs a part any more once the caller has the panic back
        let seen = done.load(Ordering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(done.load(Ordering::Relaxed), seen);
        assert!(seen <= 63);
    }

    #[test]
    fn called_from_inside_the_pool_it_does_not_wait_for_busy_threads() {
        // every pool thread busy in this scope: the caller's helpers never start, and each
        // call still finishes on its own
        let total = AtomicUsize::new(0);
        rayon::scope(|s| {
            for _ in 0..rayon::current_num_threads() * 2 {
                s.spawn(|_| {
                    let mut data = vec![1u64; 50_000];
                    for_each_part(&mut data, 1000, |_, part| part.iter_mut().for_each(|d| *d *= 2));
                    total.fetch_add(data.iter().sum::<u64>() as usize, Ordering::Relaxed);
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), rayon::current_num_threads() * 2 * 100_000);
    }
}
