//! Linking a replayed cell with the toolchain's `rust-lld` directly, without the C compiler
//! driver in between.
//!
//! On Linux rustc links a cell's library by running `cc`, which runs `collect2`, which runs
//! the toolchain's `ld.lld` wrapper, which runs `rust-lld`: four programs started for one
//! link. Told to use `rust-lld` itself (`-C linker-flavor=ld.lld`), rustc starts only that one
//! and passes it the same objects, libraries and options; what `cc` adds of its own for a
//! shared library is its start-up objects (`crtbeginS.o`, `crtendS.o`: `__dso_handle` and
//! frame registration) and its library directories, which are asked of `cc` once, when the
//! command is recorded, and added here. Measured on our 2-core VM, a tutorial cell's replayed
//! `rustc` command, 20 runs taken in turns, each on a new cell source: 0.105 -> 0.094 s median
//! (link step 0.027 -> 0.018 s in `-Z time-passes`); `bench/kernel_latency.py`, four runs
//! each way taken in turns, warm tutorial cells p50 0.185 / 0.167 / 0.194 / 0.159 s ->
//! 0.161 / 0.150 / 0.178 / 0.154 s.
//!
//! Only where nothing about linking was chosen by the user (no `-C linker`, link arguments or
//! flavor in the command) and the target's `rust-lld` is there. When a direct link fails, the
//! cell is built again with the command as cargo ran it, and the record says not to try
//! again ([`DirectLink::Off`]).
//! `AUTOGRAD_KERNEL_LINK_WITH_CC=1` in the kernel's environment keeps cargo's way.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Set (non-empty) in the kernel's environment: cells link as cargo's command does.
pub const LINK_WITH_CC: &str = "AUTOGRAD_KERNEL_LINK_WITH_CC";

/// Whether a recorded command links with `rust-lld` directly.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub(crate) enum DirectLink {
    /// Links directly with these extra `rustc` arguments.
    With(Vec<OsString>),
    /// Links as cargo's command does: not possible here, or it failed once.
    #[default]
    Off,
}

impl DirectLink {
    /// How a command recorded now will link when replayed.
    pub(crate) fn for_command(argv: &[OsString]) -> DirectLink {
        direct_link_args(argv).map_or(DirectLink::Off, DirectLink::With)
    }
}

/// The extra `rustc` arguments that link `argv`'s library with `rust-lld` directly, or
/// `None` when the command chooses its own linking or the pieces are not there.
fn direct_link_args(argv: &[OsString]) -> Option<Vec<OsString>> {
    if std::env::var_os(LINK_WITH_CC).is_some_and(|v| !v.is_empty()) || chooses_its_linking(argv) {
        return None;
    }
    let target = argv.windows(2).find(|w| w[0] == "--target").and_then(|w| w[1].to_str())?;
    if !target.ends_with("-linux-gnu") {
        return None;
    }
    let rustc = argv.iter().take(2).find(|a| Path::new(a).file_name() == Some(OsStr::new("rustc")))?;
    // the real rustc (ours is a link to it), which finds its sysroot from its own path
    let sysroot = std::fs::canonicalize(rustc).ok()?.parent()?.parent()?.to_path_buf();
    let lld = sysroot.join("lib/rustlib").join(target).join("bin/rust-lld");
    if !lld.is_file() {
        return None;
    }
    let (start_files, lib_dirs) = c_driver_pieces()?;
    let mut args = vec![arg("-Clinker=", &lld), OsString::from("-Clinker-flavor=ld.lld")];
    args.extend(start_files.iter().map(|f| arg("-Clink-arg=", f)));
    args.extend(lib_dirs.iter().map(|d| arg("-Clink-arg=-L", d)));
    Some(args)
}

fn arg(prefix: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(path);
    arg
}

/// Whether the command sets anything about linking itself (a `-C linker`, link arguments,
/// a flavor, a self-contained linker, `-Z pre-link-args`): then it is replayed as it is.
fn chooses_its_linking(argv: &[OsString]) -> bool {
    let mut args = argv.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        let option = match arg {
            "-C" | "--codegen" | "-Z" => args.next().unwrap_or(""),
            _ => ["-C", "--codegen=", "-Z"].iter().find_map(|p| arg.strip_prefix(p)).unwrap_or(""),
        };
        if option.starts_with("link") || option.starts_with("pre-link") {
            return true;
        }
    }
    false
}

/// What `cc` would add to a shared library's link: its start-up objects for shared
/// libraries, and its library directories (those that exist). Two runs of `cc`, about 5 ms.
fn c_driver_pieces() -> Option<(Vec<PathBuf>, Vec<PathBuf>)> {
    let ask = |arg: &str| {
        let output = Command::new("cc").arg(arg).output().ok()?;
        output.status.success().then(|| String::from_utf8(output.stdout).ok()).flatten()
    };
    // `cc` answers with the bare name when it has no such file; the end object lies beside
    let begin = PathBuf::from(ask("-print-file-name=crtbeginS.o")?.trim());
    let end = begin.with_file_name("crtendS.o");
    if !begin.is_absolute() || !begin.is_file() || !end.is_file() {
        return None;
    }
    let start_files = vec![begin, end];
    let dirs = ask("-print-search-dirs")?;
    let libraries = dirs.lines().find_map(|l| l.strip_prefix("libraries: ="))?;
    let lib_dirs: Vec<PathBuf> = libraries.split(':').map(PathBuf::from).filter(|d| d.is_dir()).collect();
    (!lib_dirs.is_empty()).then_some((start_files, lib_dirs))
}

/// Whether rustc's JSON diagnostics say the link failed, or the linker could not be run
/// (rather than an error in the cell's code).
pub(crate) fn link_failed(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).lines().any(|line| {
        serde_json::from_str::<serde_json::Value>(line).is_ok_and(|d| {
            d["level"] == "error"
                && d["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("linking with `") || m.starts_with("linker `"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_command_that_chooses_its_linking_is_left_alone() {
        for chosen in [
            &["rustc", "-C", "linker=clang"][..],
            &["rustc", "-Clinker=clang"],
            &["rustc", "-C", "link-arg=-fuse-ld=mold"],
            &["rustc", "-Clink-args=-Wl,-z,now"],
            &["rustc", "--codegen", "linker-flavor=gcc"],
            &["rustc", "--codegen=link-self-contained=y"],
            &["rustc", "-Zpre-link-args=x"],
            &["rustc", "-Z", "pre-link-arg=x"],
        ] {
            assert!(chooses_its_linking(&os(chosen)), "{chosen:?}");
            assert_eq!(direct_link_args(&os(chosen)), None, "{chosen:?}");
        }
        assert!(!chooses_its_linking(&os(&[
            "rustc",
            "-C",
            "codegen-units=1",
            "-Cprefer-dynamic",
            "-C",
            "rpath"
        ])));
    }

    #[test]
    fn only_linux_gnu_targets_with_their_rust_lld() {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        for target in ["wasm32-unknown-unknown", "x86_64-pc-windows-msvc"] {
            let argv = vec![rustc.clone(), "--target".into(), target.into()];
            assert_eq!(direct_link_args(&argv), None, "{target}");
        }
        // no --target, or not rustc
        assert_eq!(direct_link_args(&os(&["rustc", "--crate-name", "ctx"])), None);
        assert_eq!(direct_link_args(&os(&["/bin/true", "--target", "x86_64-unknown-linux-gnu"])), None);
    }

    #[test]
    fn a_failed_link_is_told_from_an_error_in_the_code() {
        let link = br#"{"$message_type":"diagnostic","message":"linking with `rust-lld` failed: exit status: 1","code":null,"level":"error","spans":[],"children":[],"rendered":"error: linking with `rust-lld` failed"}
{"$message_type":"diagnostic","message":"aborting due to 1 previous error","code":null,"level":"error","spans":[],"children":[],"rendered":"error: aborting"}"#;
        assert!(link_failed(link));
        let missing = br#"{"$message_type":"diagnostic","message":"linker `/x/rust-lld` not found","code":null,"level":"error","spans":[],"children":[],"rendered":"error: linker `/x/rust-lld` not found"}"#;
        assert!(link_failed(missing));
        let code = br#"{"$message_type":"diagnostic","message":"cannot find value `linking` in this scope","code":{"code":"E0425","explanation":null},"level":"error","spans":[],"children":[],"rendered":"error[E0425]"}
{"$message_type":"diagnostic","message":"linking with `cc` is fine","code":null,"level":"warning","spans":[],"children":[],"rendered":""}"#;
        assert!(!link_failed(code));
        assert!(!link_failed(b"not json at all: linking with `cc` failed"));
    }
}
