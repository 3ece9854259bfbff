//! Cell builds without cargo in between: the kernel is also the `cargo` evcxr runs.
//!
//! evcxr builds every cell with `cargo build` in the kernel's slot. Once the dependencies are
//! built, cargo's part of that is bookkeeping: it starts, reads its config and the lock file,
//! checks every dependency's fingerprint, then runs the one `rustc` command for the cell crate
//! and records its own fingerprint.
//! Measured on our 2-core VM with six tutorial cells built in turns in a copy of a slot:
//! `cargo build` 209 ms median against 163 ms for the same `rustc` command run directly, and
//! 36-45 ms for a `cargo build` with nothing to do.
//!
//! So the kernel points evcxr at a `cargo` of its own ([`install`]): a directory laid out as
//! a toolchain, whose `bin/cargo` is this binary and whose other tools are the real
//! toolchain's. Run under that name ([`run_as_cargo_if_named`]) it
//! - passes every command through to the real cargo, except evcxr's cell build;
//! - for a cell build, asks the real cargo the first time in a kernel session and whenever
//!   the manifest, cargo's config or the environment changed (a `:dep`, a `:opt`), with
//!   itself as the rustc wrapper (or evcxr's wrapper, this binary too, when evcxr sets one),
//!   which writes down the cell crate's `rustc` command ([`wrap_rustc_if_asked`]);
//! - otherwise runs that command again itself, if every library it links (`--extern`) is the
//!   very file it was then, and reports the cell's library as cargo does.
//!
//! A new kernel session always starts with the real cargo, which rebuilds whatever changed
//! (autograd-core's sources, say) before anything is run again. `AUTOGRAD_KERNEL_PLAIN_CARGO=1`
//! in the kernel's environment turns all of this off.

use std::collections::BTreeMap;
use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::cell_link::{link_failed, DirectLink};

/// Set (non-empty) in the kernel's environment: cells build with the real cargo every time.
pub const PLAIN_CARGO: &str = "AUTOGRAD_KERNEL_PLAIN_CARGO";
/// The real cargo, for everything this one passes on.
const REAL_CARGO: &str = "AUTOGRAD_KERNEL_CARGO";
/// Which kernel session a recorded command belongs to: set once per kernel process.
const SESSION: &str = "AUTOGRAD_KERNEL_BUILD_SESSION";
/// Set by this `cargo` for the real cargo it runs for a cell build: where the wrapper writes
/// the cell crate's command, the key of this cargo's invocation, and the crate's directory.
const RECORD_TO: &str = "AUTOGRAD_KERNEL_RECORD_TO";
/// The user's `CARGO_HOME` (empty: it was not set), while the kernel's own names the
/// toolchain directory of [`install`]; the processes this binary becomes put it back first
/// ([`restore_cargo_home`]).
const USERS_CARGO_HOME: &str = "AUTOGRAD_KERNEL_USERS_CARGO_HOME";
/// Set for the real cargo when the rustc wrapper is this binary (not evcxr's, which is this
/// binary too, and goes on to evcxr's hook).
const OUR_WRAPPER: &str = "AUTOGRAD_KERNEL_RUSTC_WRAPPER";
/// The crate evcxr builds cells in.
pub(crate) const CELL_CRATE: &str = "ctx";
/// Under the cell crate's directory.
const RECORD_FILE: &str = "target/autograd-kernel-cell-rustc.json";
/// Variables of the jobserver cargo hands its rustc; replayed without one, rustc uses its own.
const JOBSERVER: &[&str] = &["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"];

/// The cell crate's `rustc` command as cargo ran it, and what it was valid for.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Record {
    key: String,
    /// What a replay runs: rustc and its arguments (after evcxr's wrapper, this binary, when
    /// evcxr sets one: it changes the command before it runs rustc).
    argv: Vec<OsString>,
    cwd: PathBuf,
    /// The wrapper's whole environment (pairs: a JSON object's keys must be UTF-8).
    env: Vec<(OsString, OsString)>,
    /// Every `--extern` library as it was: path, size, modification time (ns).
    externs: Vec<(PathBuf, u64, i128)>,
    /// The cell's library the command writes, which cargo would report.
    library: PathBuf,
    /// Whether a replay links with `rust-lld` directly (see `cell_link`).
    #[serde(default)]
    link: DirectLink,
}

/// Puts back the user's `CARGO_HOME` in a process the kernel started (its `cargo`, the
/// runtime where cells run, a rustc wrapper): only the kernel's own analyser is meant to see
/// [`install`]'s. Call it first in `main`, while this is the only thread.
pub fn restore_cargo_home() {
    let Some(users) = std::env::var_os(USERS_CARGO_HOME) else { return };
    if users.is_empty() {
        std::env::remove_var("CARGO_HOME");
    } else {
        std::env::set_var("CARGO_HOME", users);
    }
    std::env::remove_var(USERS_CARGO_HOME);
}

/// When this process was started as `cargo` (the `bin/cargo` of [`install`]'s directory):
/// does cargo's work and exits.
pub fn run_as_cargo_if_named() {
    let Some(arg0) = std::env::args_os().next() else { return };
    if Path::new(&arg0).file_name() != Some("cargo".as_ref()) {
        return;
    }
    let Some(real) = std::env::var_os(REAL_CARGO) else {
        eprintln!("autograd-kernel: started as `cargo` without {REAL_CARGO}: no cargo to run");
        std::process::exit(101);
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = match std::env::current_dir() {
        Ok(dir) if is_cell_build(&args) => cell_build(&real, &args, &dir),
        _ if crate::analysis_deps::is_graph_metadata(&args) => graph_metadata(&real, &args),
        _ => Err(with_wrapper(Command::new(&real).args(&args)).exec()),
    };
    // only reached when no process could be started
    eprintln!(
        "autograd-kernel: running cargo ({}) failed: {}",
        Path::new(&real).display(),
        code.unwrap_err()
    );
    std::process::exit(101);
}

/// `cargo metadata` with the dependency graph: the real one's answer, without the engine's
/// internal crates when it is the cell crate's graph (see `analysis_deps`). Returns only an
/// error: otherwise exits with cargo's status.
fn graph_metadata(real: &OsString, args: &[OsString]) -> std::io::Result<std::convert::Infallible> {
    use std::io::Write;
    let output =
        with_wrapper(Command::new(real).args(args)).stderr(std::process::Stdio::inherit()).output()?;
    let trimmed = output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).ok())
        .flatten()
        .and_then(|metadata| crate::analysis_deps::without_engine_internals(&metadata));
    let mut stdout = std::io::stdout().lock();
    let written = match trimmed {
        Some(metadata) => writeln!(stdout, "{metadata}"),
        None => stdout.write_all(&output.stdout),
    };
    std::process::exit(if written.and_then(|()| stdout.flush()).is_ok() {
        output.status.code().unwrap_or(101)
    } else {
        101
    });
}

/// A wrapper that sees every rustc command: evcxr's when it sets one, else this binary. For
/// every command, not only the builds that record: cargo probes rustc again (five runs of
/// `rustc`, ~75 ms) whenever the wrapper differs from its last run's.
fn with_wrapper(cargo: &mut Command) -> &mut Command {
    if std::env::var_os("RUSTC_WRAPPER").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            cargo.env("RUSTC_WRAPPER", exe).env(OUR_WRAPPER, "1");
        }
    }
    cargo
}

/// evcxr's build of a cell: `cargo [--offline] build --target T --message-format=json`.
fn is_cell_build(args: &[OsString]) -> bool {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).filter(|a| *a != "--offline").collect();
    matches!(args.as_slice(), ["build", "--target", _, "--message-format=json"])
}

/// Replays the recorded command when it is still valid; otherwise runs the real cargo with
/// the wrapper told to record. Returns only an error: on success the process is replaced or
/// exits with the command's status.
fn cell_build(real: &OsString, args: &[OsString], dir: &Path) -> std::io::Result<std::convert::Infallible> {
    let invocation = invocation_key(args, std::env::vars_os());
    let key = build_key(invocation, dir);
    let record_path = dir.join(RECORD_FILE);
    if let Some(record) = read_record(&record_path).filter(|r| r.key == key && externs_unchanged(r)) {
        crate::cell_store::use_shared_store(&record.argv, &record.cwd);
        if let Some(code) = replay(record, &record_path) {
            std::process::exit(code);
        }
    }
    let _ = std::fs::remove_file(&record_path);
    let mut to = record_path.into_os_string();
    to.push(format!("\n{invocation:016x}\n"));
    to.push(dir);
    let mut cargo = Command::new(real);
    cargo.args(args).env(RECORD_TO, to);
    Err(with_wrapper(&mut cargo).exec())
}

/// Runs the recorded command again, linking directly when the record says so (and when that
/// link fails, as cargo ran it, writing down not to try again), and reports the cell's
/// library as cargo does. The exit code, or `None` when rustc could not be started.
fn replay(mut record: Record, record_path: &Path) -> Option<i32> {
    use std::io::Write;
    let argv = match std::fs::read_to_string(record.cwd.join("src/lib.rs")) {
        Ok(source) if !defines_items(&source) => without_incremental(&record.argv),
        _ => record.argv.clone(),
    };
    let command = |extra: &[OsString]| {
        let mut rustc = Command::new(&argv[0]);
        rustc
            .args(&argv[1..])
            .args(extra)
            .current_dir(&record.cwd)
            .env_clear()
            .envs(record.env.iter().map(|(k, v)| (k, v)));
        rustc
    };
    let mut status = None;
    if let DirectLink::With(extra) = &record.link {
        // rustc's JSON diagnostics go to stderr, where evcxr reads them: held back until it
        // is known whether the link failed, and then not passed on
        let output = command(extra).stdin(std::process::Stdio::null()).output().ok()?;
        if output.status.success() || !link_failed(&output.stderr) {
            let _ = std::io::stdout().write_all(&output.stdout);
            let _ = std::io::stderr().write_all(&output.stderr);
            status = Some(output.status);
        } else {
            record.link = DirectLink::Off;
            write_record(record_path, &record);
        }
    }
    let status = match status {
        Some(status) => status,
        None => command(&[]).status().ok()?,
    };
    if status.success() {
        // what evcxr reads of cargo's report: the cell crate's library
        let artifact = serde_json::json!({
            "reason": "compiler-artifact",
            "target": { "name": CELL_CRATE, "kind": ["cdylib"], "crate_types": ["cdylib"] },
            "filenames": [record.library],
            "fresh": false,
        });
        println!("{artifact}");
        println!("{}", serde_json::json!({ "reason": "build-finished", "success": true }));
    }
    Some(status.code().unwrap_or(101))
}

/// Whether the cell crate's source (as evcxr writes it) has items of the user's: anything
/// before the cell's function besides attributes, single-line `use`s and the kernel's one-line
/// variable-store module.
fn defines_items(source: &str) -> bool {
    source.lines().map(str::trim).take_while(|line| !line.starts_with("#[unsafe(no_mangle)]")).any(|line| {
        let known = line.is_empty()
            || line.starts_with("#![")
            || (line.starts_with("use ") && line.ends_with(';'))
            || line.starts_with("mod evcxr_internal_runtime {") && line.ends_with('}');
        !known
    })
}

/// The command without its incremental cache (`-C incremental=DIR`). For a cell crate that is
/// only the cell's function there is nothing for the cache to reuse, and reading and writing
/// it costs time: a tutorial cell's replayed command, 16 runs taken in turns, each on a new
/// cell source, 0.125 -> 0.113 s median (linked directly). With items from earlier cells the
/// cache pays (15 structs with their methods: 0.140 s with it, 0.169 s without), so it stays.
fn without_incremental(argv: &[OsString]) -> Vec<OsString> {
    let mut kept = Vec::with_capacity(argv.len());
    let mut args = argv.iter().peekable();
    while let Some(arg) = args.next() {
        let is_option = |a: &OsString| a.to_str().is_some_and(|a| a.starts_with("incremental="));
        if arg == "-C" && args.peek().is_some_and(|next| is_option(next)) {
            args.next();
        } else if !arg.to_str().is_some_and(|a| a.starts_with("-Cincremental=")) {
            kept.push(arg.clone());
        }
    }
    kept
}

/// What a recorded command depends on besides its libraries and files: the kernel session
/// and cargo's arguments and environment. Whether cargo may use the network (`--offline`)
/// is left out: it changes what cargo may fetch, not the cell crate's command.
fn invocation_key(args: &[OsString], env: impl Iterator<Item = (OsString, OsString)>) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    args.iter().filter(|a| *a != "--offline").for_each(|a| a.hash(&mut hasher));
    let env: BTreeMap<OsString, OsString> = env.filter(|(k, _)| k != RECORD_TO && k != OUR_WRAPPER).collect();
    env.hash(&mut hasher);
    hasher.finish()
}

/// The key of a recorded command: its invocation's, and the manifest and every cargo config
/// cargo reads from the crate's directory up (without their `offline` settings: evcxr's
/// `:offline` writes one in the crate's own config). Not the lock file: cargo writes it
/// itself, differently offline and online (measured: each switch rewrote it), and what it
/// pins changes a cell's command only through a library the cell links, which is checked
/// apart.
fn build_key(invocation: u64, dir: &Path) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    invocation.hash(&mut hasher);
    let mut files = vec![dir.join("Cargo.toml")];
    for ancestor in dir.ancestors() {
        files.push(ancestor.join(".cargo/config.toml"));
        files.push(ancestor.join(".cargo/config"));
    }
    for file in files {
        file.hash(&mut hasher);
        let text = std::fs::read(&file).ok().map(|bytes| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let is_config = file.extension().is_none_or(|e| e == "toml")
                && file.parent().is_some_and(|p| p.ends_with(".cargo"));
            if is_config {
                text.lines().filter(|l| !l.trim_start().starts_with("offline")).collect::<Vec<_>>().join("\n")
            } else {
                text
            }
        });
        text.hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

fn read_record(path: &Path) -> Option<Record> {
    let record: Record = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (!record.argv.is_empty()).then_some(record)
}

/// The `--extern name=path` libraries of a rustc command line: (crate name, path).
pub(crate) fn externs(argv: &[OsString]) -> Vec<(&str, &Path)> {
    let mut externs = Vec::new();
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg != "--extern" {
            continue;
        }
        let Some(spec) = args.next().and_then(|s| s.to_str()) else { continue };
        if let Some((name, path)) = spec.split_once('=') {
            externs.push((name, Path::new(path)));
        }
    }
    externs
}

fn file_state(path: &Path) -> Option<(u64, i128)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128))
}

fn externs_unchanged(record: &Record) -> bool {
    record.externs.iter().all(|(path, len, mtime)| file_state(path) == Some((*len, *mtime)))
}

/// When this process is a rustc wrapper under the `cargo` above: writes the cell crate's
/// command down when that cargo asked for it, and when the wrapper is ours (not evcxr's),
/// runs the compiler and never returns.
pub fn wrap_rustc_if_asked() {
    let ours = std::env::var_os(OUR_WRAPPER).is_some();
    let record_to = std::env::var_os(RECORD_TO);
    if !ours && record_to.is_none() {
        return;
    }
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.len() < 2 {
        return;
    }
    // what a replay runs: evcxr's wrapper changes the command before it runs rustc
    let command = if ours { argv[1..].to_vec() } else { argv };
    let cwd = std::env::current_dir();
    if let (true, Ok(cwd)) = (builds_cell_crate(&command), &cwd) {
        crate::cell_store::use_shared_store(&command, cwd);
    }
    // "<record file>\n<invocation key>\n<crate dir>"
    let to = record_to.as_ref().and_then(|to| to.to_str()).map(|to| to.splitn(3, '\n').collect::<Vec<_>>());
    if let (Some([path, invocation, dir]), Ok(cwd)) = (to.as_deref(), cwd) {
        let key = u64::from_str_radix(invocation, 16).map(|invocation| build_key(invocation, Path::new(dir)));
        if let Some(record) = key.ok().and_then(|key| record_for(&key, command.clone(), cwd)) {
            write_record(Path::new(path), &record);
        }
    }
    if ours {
        let error = Command::new(&command[0]).args(&command[1..]).exec();
        eprintln!("autograd-kernel: running {} failed: {error}", Path::new(&command[0]).display());
        std::process::exit(101);
    }
}

fn builds_cell_crate(command: &[OsString]) -> bool {
    command.windows(2).any(|w| w[0] == "--crate-name" && w[1] == CELL_CRATE)
}

/// The record of `command` when it builds the cell crate (and all it links is there).
fn record_for(key: &str, command: Vec<OsString>, cwd: PathBuf) -> Option<Record> {
    if !builds_cell_crate(&command) {
        return None;
    }
    let out_dir = command.windows(2).find(|w| w[0] == "--out-dir").map(|w| PathBuf::from(&w[1]))?;
    let library = out_dir.join(format!("{DLL_PREFIX}{CELL_CRATE}{DLL_SUFFIX}"));
    let mut linked = Vec::new();
    for (_, path) in externs(&command) {
        let (len, mtime) = file_state(path)?;
        linked.push((path.to_path_buf(), len, mtime));
    }
    let env = std::env::vars_os()
        .filter(|(k, _)| k != RECORD_TO && k != OUR_WRAPPER && !JOBSERVER.iter().any(|j| k == j))
        .collect();
    let link = DirectLink::for_command(&command);
    Some(Record { key: key.to_owned(), argv: command, cwd, env, externs: linked, library, link })
}

fn write_record(path: &Path, record: &Record) {
    let Ok(json) = serde_json::to_vec(record) else { return };
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(format!(".{}", std::process::id()));
    if std::fs::write(&fresh, json).is_ok() && std::fs::rename(&fresh, path).is_err() {
        let _ = std::fs::remove_file(&fresh);
    }
}

/// Makes the processes this kernel starts find our `cargo`: a directory laid out as a
/// toolchain under `cache` (for rustup's `RUSTUP_TOOLCHAIN`, which evcxr asks for its cargo),
/// first on `PATH` (where there is no rustup), and this process's `CARGO_HOME`: rust-analyzer
/// runs `$CARGO_HOME/bin/cargo` before anything on `PATH` (rustup's proxy, which took 16 ms
/// a call on our VM before it ran ours, and the analyser's two loads of the cell crate's
/// workspace before a first cell's result make eight calls). The user's `CARGO_HOME` is
/// kept in `USERS_CARGO_HOME` for every process this binary becomes, our `cargo` first,
/// which puts it back before the real cargo starts. Leaves the environment alone when the
/// directory cannot be made.
///
/// Call it from `session::environment::prepare` only, before any thread exists.
pub fn install(sysroot: &Path, cache: &Path) {
    // the way back to evcxr's own `cargo build` for every cell
    if std::env::var_os(PLAIN_CARGO).is_some_and(|v| !v.is_empty()) {
        return;
    }
    let real = sysroot.join("bin/cargo");
    let Ok(exe) = std::env::current_exe() else { return };
    if !real.is_file() {
        return;
    }
    let Some(dir) = toolchain_dir(sysroot, &exe, cache) else { return };
    let session = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    );
    std::env::set_var(REAL_CARGO, &real);
    std::env::set_var(SESSION, session);
    std::env::set_var("RUSTUP_TOOLCHAIN", &dir);
    crate::toolchain::prepend_to_path_var("PATH", &dir.join("bin"));
    std::env::set_var(USERS_CARGO_HOME, std::env::var_os("CARGO_HOME").unwrap_or_default());
    std::env::set_var("CARGO_HOME", &dir);
}

/// The toolchain-shaped directory for `sysroot` and this binary, made once: `bin/cargo` is
/// this binary; the toolchain's other tools, `lib` and the rest are links to the real ones.
fn toolchain_dir(sysroot: &Path, exe: &Path, cache: &Path) -> Option<PathBuf> {
    let mut hasher = std::hash::DefaultHasher::new();
    // the layout's version too: a folder made by an older kernel at the same path is not reused
    (sysroot, exe, 2).hash(&mut hasher);
    let dir = cache.join("cell-cargo").join(format!("{:016x}", hasher.finish()));
    let ready = |dir: &Path| std::fs::read_link(dir.join("bin/cargo")).ok().as_deref() == Some(exe);
    if ready(&dir) {
        return Some(dir);
    }
    // made beside it and renamed into place: kernels starting together never see half of it
    let fresh = cache.join("cell-cargo").join(format!(".new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    let made = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(fresh.join("bin"))?;
        link_entries(&sysroot.join("bin"), &fresh.join("bin"), "cargo")?;
        std::os::unix::fs::symlink(exe, fresh.join("bin/cargo"))?;
        // the rest of the toolchain as it is: lib, libexec, share, etc
        link_entries(sysroot, &fresh, "bin")
    })();
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
        return None;
    }
    // one left half made by an interrupted start goes; one another kernel just made stays
    if !ready(&dir) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if std::fs::rename(&fresh, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
    }
    ready(&dir).then_some(dir)
}

/// Links every entry of `from` but `except` into `to`, under the same name.
fn link_entries(from: &Path, to: &Path, except: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let name = entry?.file_name();
        if name != except {
            std::os::unix::fs::symlink(from.join(&name), to.join(&name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("autograd-cell-build-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_evcxrs_cell_build_is_taken_over() {
        assert!(is_cell_build(&os(&[
            "build",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--message-format=json"
        ])));
        assert!(is_cell_build(&os(&["--offline", "build", "--target", "t", "--message-format=json"])));
        for other in [
            &["check", "--target", "t", "--message-format=json"][..],
            &["build", "--target", "t"],
            &["build", "-v", "--target", "t", "--message-format=json"],
            &["metadata", "--format-version", "1"],
            &["clean"],
            &[],
        ] {
            assert!(!is_cell_build(&os(other)), "{other:?}");
        }
    }

    #[test]
    fn the_libraries_a_command_links_are_its_externs() {
        let argv = os(&[
            "wrapper",
            "rustc",
            "--crate-name",
            "ctx",
            "-L",
            "dependency=/t/deps",
            "--extern",
            "autograd_core=/t/deps/libautograd_core.rlib",
            "--extern",
            "noprelude:core=/s/libstd.so",
            "--extern",
            "bare",
        ]);
        assert_eq!(
            externs(&argv),
            [
                ("autograd_core", Path::new("/t/deps/libautograd_core.rlib")),
                ("noprelude:core", Path::new("/s/libstd.so"))
            ]
        );
    }

    #[test]
    fn a_recorded_command_is_for_one_manifest_lock_config_and_environment() {
        let dir = scratch("key");
        let crate_dir = dir.join("slot");
        std::fs::create_dir_all(crate_dir.join(".cargo")).unwrap();
        std::fs::write(crate_dir.join("Cargo.toml"), "[package]\nname = \"ctx\"\n").unwrap();
        let args = os(&["build", "--target", "t", "--message-format=json"]);
        let env = || vec![(OsString::from("RUSTFLAGS"), OsString::from("-Cprefer-dynamic"))].into_iter();
        let invocation = invocation_key(&args, env());
        assert_eq!(invocation, invocation_key(&args, env()));
        // what the real cargo is told to record under, and our wrapper's mark, are not part of it
        let ours = [
            (OsString::from(RECORD_TO), OsString::from("x")),
            (OsString::from(OUR_WRAPPER), OsString::from("1")),
        ];
        assert_eq!(invocation, invocation_key(&args, env().chain(ours)));
        // nor whether cargo may use the network
        assert_eq!(
            invocation,
            invocation_key(&os(&["--offline", "build", "--target", "t", "--message-format=json"]), env())
        );
        let other_env = env().chain([(OsString::from(SESSION), OsString::from("another kernel"))]);
        assert_ne!(invocation, invocation_key(&args, other_env));
        assert_ne!(
            invocation,
            invocation_key(&os(&["build", "--target", "u", "--message-format=json"]), env())
        );

        let key = build_key(invocation, &crate_dir);
        assert_eq!(key, build_key(invocation, &crate_dir));
        assert_ne!(key, build_key(invocation + 1, &crate_dir));
        std::fs::create_dir_all(dir.join(".cargo")).unwrap();
        let mut last = key;
        for (file, text) in [
            (crate_dir.join("Cargo.toml"), "[package]\nname = \"ctx\"\n[dependencies]\nx = \"1\"\n"),
            (crate_dir.join(".cargo/config.toml"), "[build]\njobs = 1\n"),
            // cargo reads the config of every directory above too
            (dir.join(".cargo/config.toml"), "[target]\n"),
        ] {
            std::fs::write(&file, text).unwrap();
            let now = build_key(invocation, &crate_dir);
            assert_ne!(now, last, "{}", file.display());
            last = now;
        }
        // cargo's own lock file
        std::fs::write(crate_dir.join("Cargo.lock"), "version = 4\n").unwrap();
        assert_eq!(last, build_key(invocation, &crate_dir));
        // evcxr's `:offline 1` and `:offline 0` write only this
        std::fs::write(crate_dir.join(".cargo/config.toml"), "[build]\njobs = 1\n[net]\noffline = true\n")
            .unwrap();
        let offline = build_key(invocation, &crate_dir);
        std::fs::write(crate_dir.join(".cargo/config.toml"), "[build]\njobs = 1\n[net]\noffline = false\n")
            .unwrap();
        assert_eq!(offline, build_key(invocation, &crate_dir));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_record_holds_while_its_libraries_are_the_same_files() {
        let dir = scratch("record");
        let lib = dir.join("libdep.so");
        std::fs::write(&lib, b"one").unwrap();
        let (len, mtime) = file_state(&lib).unwrap();
        let record = Record {
            key: "k".into(),
            argv: os(&["wrapper", "rustc", "--extern", &format!("dep={}", lib.display())]),
            cwd: dir.clone(),
            env: vec![(OsString::from("CARGO_PKG_NAME"), OsString::from("ctx"))],
            externs: vec![(lib.clone(), len, mtime)],
            library: dir.join("libctx.so"),
            link: DirectLink::With(os(&["-Clinker=/t/rust-lld"])),
        };
        let path = dir.join("record.json");
        std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
        let read = read_record(&path).unwrap();
        assert_eq!(read, record);
        assert!(externs_unchanged(&read));
        // rebuilt: the same size written at another time, or another size
        let file = std::fs::File::options().write(true).open(&lib).unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1)).unwrap();
        assert!(!externs_unchanged(&read));
        std::fs::write(&lib, b"three").unwrap();
        assert!(!externs_unchanged(&read));
        std::fs::remove_file(&lib).unwrap();
        assert!(!externs_unchanged(&read));
        std::fs::write(&path, b"not json").unwrap();
        assert_eq!(read_record(&path), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_the_cell_crates_command_is_recorded_with_the_library_it_writes() {
        let dir = scratch("record-for");
        let lib = dir.join("libautograd_core.so");
        std::fs::write(&lib, b"lib").unwrap();
        let command = |name: &str| {
            os(&[
                "rustc",
                "--crate-name",
                name,
                "--crate-type",
                "cdylib",
                "--out-dir",
                "/t/deps",
                "--extern",
                &format!("autograd_core={}", lib.display()),
            ])
        };
        let record = record_for("k", command("ctx"), dir.clone()).unwrap();
        assert_eq!(record.library, PathBuf::from("/t/deps/libctx.so"));
        assert_eq!(record.argv, command("ctx"));
        assert_eq!(record.externs, [(lib.clone(), 3, file_state(&lib).unwrap().1)]);
        assert!(record.env.iter().all(|(k, _)| k != RECORD_TO));
        assert_eq!(record_for("k", command("autograd_core"), dir.clone()), None);
        // a library that is not there: nothing to replay against
        std::fs::remove_file(&lib).unwrap();
        assert_eq!(record_for("k", command("ctx"), dir.clone()), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_a_cell_crate_of_the_cells_function_alone_builds_without_the_incremental_cache() {
        let plain = "#![allow(unused_imports, unused_mut, dead_code)]\nuse autograd_core::prelude::*;\n\
            mod evcxr_internal_runtime { pub use autograd_core::cell_variables::*; }\n\n\n\
            #[unsafe(no_mangle)]\npub extern \"C\" fn run_user_code_3(\nlet x = 1;\nstruct Inside;\n}\n";
        assert!(!defines_items(plain));
        for item in [
            "fn square(x: f64) -> f64 { x * x }",
            "struct Point { x: f64 }",
            "use std::{",
            "#[derive(Debug)]",
        ] {
            let with_item = plain.replace("\n\n\n#[unsafe", &format!("\n{item}\n#[unsafe"));
            assert!(defines_items(&with_item), "{item}");
        }
        let argv = os(&[
            "rustc",
            "-C",
            "codegen-units=1",
            "-C",
            "incremental=/t/inc",
            "-Cincremental=/t/x",
            "--out-dir",
            "o",
        ]);
        assert_eq!(without_incremental(&argv), os(&["rustc", "-C", "codegen-units=1", "--out-dir", "o"]));
        assert_eq!(without_incremental(&argv[..3]), argv[..3].to_vec());
    }

    /// The toolchain's rustc and its host target.
    fn host_rustc() -> (PathBuf, String) {
        let out = Command::new("rustc").args(["--print", "sysroot"]).output().unwrap();
        let sysroot = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let out = Command::new("rustc").arg("-vV").output().unwrap();
        let info = String::from_utf8(out.stdout).unwrap();
        let host = info.lines().find_map(|l| l.strip_prefix("host: ")).unwrap().to_owned();
        (sysroot.join("bin/rustc"), host)
    }

    /// A record of a small cell crate's command, as cargo would have run it.
    fn cell_record(dir: &Path) -> Record {
        let (rustc, host) = host_rustc();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(
            dir.join("src/lib.rs"),
            "#[unsafe(no_mangle)]\npub extern \"C\" fn cell() -> u32 { 42 }\n",
        )
        .unwrap();
        let mut argv = vec![rustc.into_os_string()];
        argv.extend(os(&[
            "--crate-name",
            CELL_CRATE,
            "--edition=2024",
            "src/lib.rs",
            "--error-format=json",
            "--crate-type",
            "cdylib",
            "--out-dir",
            "out",
            "--target",
            &host,
        ]));
        Record {
            key: "k".into(),
            argv,
            cwd: dir.to_path_buf(),
            env: std::env::vars_os().collect(),
            externs: vec![],
            library: dir.join(format!("out/{DLL_PREFIX}{CELL_CRATE}{DLL_SUFFIX}")),
            link: DirectLink::Off,
        }
    }

    #[test]
    fn a_replay_links_directly_where_it_can() {
        let dir = scratch("direct-link");
        let mut record = cell_record(&dir);
        record.link = DirectLink::for_command(&record.argv);
        if host_rustc().1 == "x86_64-unknown-linux-gnu"
            && Command::new("cc").arg("--version").output().is_ok()
        {
            let DirectLink::With(args) = &record.link else { panic!("{:?}", record.link) };
            assert!(args[0].to_str().unwrap().ends_with("/rust-lld"), "{args:?}");
        }
        let path = dir.join("record.json");
        assert_eq!(replay(record.clone(), &path), Some(0));
        assert!(record.library.is_file());
        assert!(!path.exists(), "a link that worked leaves the record as it was");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_direct_link_that_fails_builds_the_cell_as_cargo_did_and_is_not_tried_again() {
        let dir = scratch("direct-link-fails");
        let mut record = cell_record(&dir);
        let path = dir.join("record.json");
        for broken in [
            os(&["-Clinker=/nonexistent/rust-lld", "-Clinker-flavor=ld.lld"]),
            os(&["-Clink-arg=/nonexistent/crtbeginS.o"]),
        ] {
            record.link = DirectLink::With(broken);
            let library = &record.library;
            let _ = std::fs::remove_file(library);
            assert_eq!(replay(record.clone(), &path), Some(0));
            assert!(library.is_file());
            assert_eq!(read_record(&path).unwrap().link, DirectLink::Off);
        }
        // an error in the cell's code is reported as it is, not taken for a failed link
        std::fs::write(dir.join("src/lib.rs"), "pub fn cell() -> u32 { missing }\n").unwrap();
        record.link = DirectLink::With(vec![]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(replay(record, &path), Some(1));
        assert!(!path.exists(), "nothing to write down");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_toolchain_directory_has_this_cargo_and_the_real_tools() {
        let dir = scratch("toolchain");
        let sysroot = dir.join("sysroot");
        std::fs::create_dir_all(sysroot.join("bin")).unwrap();
        std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
        std::fs::create_dir_all(sysroot.join("libexec")).unwrap();
        for tool in ["rustc", "cargo", "rustdoc"] {
            std::fs::write(sysroot.join("bin").join(tool), "").unwrap();
        }
        let exe = dir.join("autograd-kernel");
        std::fs::write(&exe, "").unwrap();
        let cache = dir.join("cache");
        let made = toolchain_dir(&sysroot, &exe, &cache).unwrap();
        assert_eq!(std::fs::read_link(made.join("bin/cargo")).unwrap(), exe);
        assert_eq!(std::fs::read_link(made.join("bin/rustc")).unwrap(), sysroot.join("bin/rustc"));
        assert_eq!(std::fs::read_link(made.join("bin/rustdoc")).unwrap(), sysroot.join("bin/rustdoc"));
        assert!(made.join("lib/rustlib").is_dir());
        assert_eq!(std::fs::read_link(made.join("libexec")).unwrap(), sysroot.join("libexec"));
        // made once, then found; another binary or toolchain gets its own
        assert_eq!(toolchain_dir(&sysroot, &exe, &cache), Some(made.clone()));
        let other = toolchain_dir(&sysroot, &dir.join("other-kernel"), &cache).unwrap();
        assert_ne!(other, made);
        let entries = std::fs::read_dir(cache.join("cell-cargo")).unwrap().count();
        assert_eq!(entries, 2, "nothing left over beside the two directories");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
