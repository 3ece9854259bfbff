//! `autograd-kernel`: a Jupyter kernel for Rust with autograd-core preloaded.
//!
//! - `autograd-kernel --connection-file FILE` runs the kernel (what Jupyter starts);
//! - `autograd-kernel install [--user | --prefix DIR]` installs the `rust-autograd` kernelspec;
//! - `autograd-kernel prebuild` builds autograd-core into the kernel's cache so the first
//!   cell of every later kernel is fast.
//!
//! The same binary is also evcxr's runtime process (where cells run) and its rustc wrapper,
//! selected by evcxr's environment variables, and the `cargo` evcxr builds cells with (see
//! `cell_build`), selected by its name, before anything else happens.

mod analysis_deps;
mod cell_build;
mod cell_link;
mod cell_store;
mod interruptible;
mod memory;
mod names;
mod outline;
mod server;
mod session;
mod streams;
mod system;
mod toolchain;

// the pure parts live in the library (kernel/src/lib.rs), which the fuzzer uses too
use autograd_kernel::{protocol, wire};

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "autograd-kernel", version, about = "Jupyter kernel for teaching autograd in Rust")]
struct Cli {
    /// The connection file Jupyter passes to the kernel.
    #[arg(short = 'f', long = "connection-file")]
    connection_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Installs the kernelspec `rust-autograd` ("Rust (autograd)").
    Install {
        /// Install under DIR/share/jupyter/kernels (e.g. a virtualenv) instead of the user's dir.
        #[arg(long)]
        prefix: Option<PathBuf>,
        /// The autograd-core sources the kernel preloads (default: the ones it was built from).
        #[arg(long)]
        core_path: Option<PathBuf>,
        /// The directory of a system-wide install (`./install.sh --system`): its toolchain,
        /// vendored sources and prebuilt cache, shared read-only by every user's kernel.
        #[arg(long)]
        system_root: Option<PathBuf>,
    },
    /// Builds autograd-core into the kernel's cache and runs one tensor cell.
    Prebuild,
}

fn kernelspec(
    binary: &std::path::Path,
    core_path: &std::path::Path,
    system_root: Option<&std::path::Path>,
) -> serde_json::Value {
    let mut env = serde_json::json!({ "AUTOGRAD_CORE_PATH": core_path.to_string_lossy() });
    if let Some(root) = system_root {
        env["AUTOGRAD_KERNEL_SYSTEM"] = root.to_string_lossy().into();
    }
    serde_json::json!({
        "argv": [binary.to_string_lossy(), "--connection-file", "{connection_file}"],
        "display_name": "Rust (autograd)",
        "language": "rust",
        "interrupt_mode": "message",
        "env": env,
        "metadata": { "debugger": false },
    })
}

fn install(prefix: Option<PathBuf>, core_path: Option<PathBuf>, system_root: Option<PathBuf>) -> Result<()> {
    let base = match prefix {
        Some(p) => p.join("share/jupyter/kernels"),
        None => {
            let data = std::env::var_os("JUPYTER_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share/jupyter")
            });
            data.join("kernels")
        }
    };
    let dir = base.join("rust-autograd");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let binary = std::env::current_exe()?.canonicalize()?;
    let core_path = match core_path {
        Some(p) => {
            p.canonicalize().with_context(|| format!("autograd-core sources not found at {}", p.display()))?
        }
        None => session::autograd_core_path(),
    };
    let system_root = match system_root {
        Some(p) => {
            Some(p.canonicalize().with_context(|| format!("system install not found at {}", p.display()))?)
        }
        None => None,
    };
    let spec = kernelspec(&binary, &core_path, system_root.as_deref());
    std::fs::write(dir.join("kernel.json"), serde_json::to_string_pretty(&spec)?)?;
    println!("Installed kernelspec rust-autograd in {}", dir.display());
    Ok(())
}

fn prebuild(environment: &'static session::Environment) -> Result<()> {
    let start = std::time::Instant::now();
    let session = session::Session::start(environment, |event| {
        if let session::Event::Stderr(text) = event {
            eprint!("{text}");
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    session.send(session::Request::Execute {
        code: "(ones(&[2, 2]).requires_grad_(true) * 2.0).sum()".into(),
        reply: tx,
    });
    match rx.recv()? {
        session::Outcome::Ok(bundle) => {
            let text =
                bundle.iter().find(|(m, _)| m == "text/plain").map(|(_, t)| t.clone()).unwrap_or_default();
            println!(
                "Prebuilt autograd-core for the kernel in {:.1} s; a first cell printed {text}",
                start.elapsed().as_secs_f64()
            );
            // A cell whose variable's type the analyser cannot tell makes evcxr run `cargo
            // check`, which builds the dependencies' metadata once more, in check mode: a
            // tutorial's first compile error waited ~20 s for it. Built here, once.
            let (tx, rx) = std::sync::mpsc::channel();
            let checked = std::time::Instant::now();
            session.send(session::Request::Execute {
                code: "let prebuild_check = not_defined_anywhere;".into(),
                reply: tx,
            });
            if let session::Outcome::Ok(_) = rx.recv()? {
                anyhow::bail!("prebuild: a cell naming an undefined variable compiled");
            }
            println!(
                "Prebuilt the dependencies for checking cells in {:.1} s",
                checked.elapsed().as_secs_f64()
            );
            session.kill_runtime();
            Ok(())
        }
        session::Outcome::Err { ename, evalue, traceback } => {
            anyhow::bail!("prebuild failed: {ename}: {evalue}\n{}", traceback.join("\n"))
        }
    }
}

fn main() -> Result<()> {
    // a process the kernel started sees the user's CARGO_HOME (see cell_build::install)
    cell_build::restore_cargo_home();
    // the `cargo` evcxr runs (see cell_build): never returns
    cell_build::run_as_cargo_if_named();
    if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
        // This process is evcxr's runtime, where the cells run.
        autograd_core::global::install_interrupt_handler();
    }
    // a rustc wrapper under our cargo: ours runs rustc here, evcxr's in its hook below
    cell_build::wrap_rustc_if_asked();
    evcxr::runtime_hook();
    memory::return_big_buffers_to_the_system();

    let cli = Cli::parse();
    match (cli.command, cli.connection_file) {
        (Some(Command::Install { prefix, core_path, system_root }), _) => {
            install(prefix, core_path, system_root)
        }
        // the environment evcxr reads is set here, while this is the only thread
        (Some(Command::Prebuild), _) => prebuild(session::environment::prepare()),
        (None, Some(file)) => {
            let info = wire::ConnectionInfo::read(&file)?;
            let environment = session::environment::prepare();
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            runtime.block_on(server::run(info, environment))
        }
        (None, None) => {
            eprintln!("usage: autograd-kernel --connection-file FILE | install | prebuild (see --help)");
            std::process::exit(2);
        }
    }
}
