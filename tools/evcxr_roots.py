"""Prepares the copy of evcxr the kernel is built with: evcxr's own sources from the cargo
registry, with one change to how its rust-analyzer sorts the files it loads.

Why: evcxr puts every file its analyser reads (the cell's crate, autograd-core, std) in one
*local* source root. rust-analyzer gives the files of local roots the lowest durability, so
each new cell, a change to a local file, makes it re-verify everything it remembers about std
and autograd-core before it can answer (salsa's deep verification: about 40 ms of a warm cell
on our 2-core VM, `perf` over the tutorial cells). Here only the cell's crate directory is a
local root; everything else is a library root, as rust-analyzer does for an editor's project,
so what it learnt about std stays valid without a walk through it. Measured with
`bench/kernel_latency.py`, two runs of each in turns on our 2-core AMD VM: warm tutorial cells
p50 0.124 / 0.124 s -> 0.099 / 0.092 s, p90 0.146 / 0.147 -> 0.113 / 0.100 s; first tensor
cell 2.60 / 1.31 s -> 1.23 / 1.19 s.

    python3 tools/evcxr_roots.py [DIR]

prints the directory of the changed copy (made under DIR, by default the kernel's build cache
`${XDG_CACHE_HOME:-~/.cache}/autograd-kernel/build-sources`, once per evcxr version and
version of this change), which the build passes to cargo as a `[patch]` (see
tools/kernel_build.sh).
Prints nothing, and says why on stderr, when it cannot make it (evcxr's code is not what the
change expects, e.g. a newer evcxr): the kernel is then built with evcxr as it is, which works
the same, only slower.
"""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def default_base():
    """Where the kernel's build keeps the copy: under the user's cache, outside the repo."""
    cache = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(cache) / "autograd-kernel" / "build-sources"

# evcxr 0.22's `RustAnalyzer::load_cargo_toml`: all of the partition's file sets as local roots
ORIGINAL = """                .partition(&self.vfs)
                .into_iter()
                .map(SourceRoot::new_local)
                .collect(),"""
# the same partition, with the crate's own directory as a file set of its own (the first):
# that one local, the rest (std, autograd-core, any :dep) libraries
CHANGED = """                .partition(&self.vfs)
                .into_iter()
                .enumerate()
                .map(|(set, files)| match set {
                    0 => SourceRoot::new_local(files),
                    _ => SourceRoot::new_library(files),
                })
                .collect(),"""
CONFIG_BEFORE = "ra_vfs::file_set::FileSetConfig::default()"
CONFIG_AFTER = """{
                let mut sets = ra_vfs::file_set::FileSetConfig::builder();
                sets.add_file_set(vec![ra_vfs::VfsPath::from(self.root_directory.clone())]);
                sets.build()
            }"""


def evcxr_sources():
    """evcxr's package directory and version, as cargo resolved them for this workspace."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for package in json.loads(out)["packages"]:
        if package["name"] == "evcxr" and (package.get("source") or "").startswith("registry+"):
            return pathlib.Path(package["manifest_path"]).parent, package["version"]
    raise LookupError("evcxr is not a registry dependency of this workspace")


def changed(text):
    """evcxr's rust_analyzer.rs with the change made, or None where it does not fit."""
    start = text.find("fn load_cargo_toml")
    if start < 0 or text.count(ORIGINAL) != 1 or text.count(CONFIG_BEFORE) != 1:
        return None
    at = text.index(ORIGINAL)
    config = text.index(CONFIG_BEFORE)
    if not start < config < at:
        return None
    text = text[:at] + CHANGED + text[at + len(ORIGINAL):]
    return text.replace(CONFIG_BEFORE, CONFIG_AFTER)


def main():
    if len(sys.argv) > 2:
        raise SystemExit(__doc__)
    base = pathlib.Path(sys.argv[1]) if len(sys.argv) == 2 else default_base()
    try:
        source, version = evcxr_sources()
        original = (source / "src" / "rust_analyzer.rs").read_text()
    except (OSError, subprocess.CalledProcessError, LookupError, ValueError) as e:
        print(f"evcxr_roots: evcxr's sources not found ({e}); building with evcxr as it is", file=sys.stderr)
        return
    text = changed(original)
    if text is None:
        print(f"evcxr_roots: evcxr {version}'s analyser setup is not the one this change expects;"
              " building with evcxr as it is", file=sys.stderr)
        return
    key = hashlib.sha256((original + text).encode()).hexdigest()[:16]
    target = base / f"evcxr-{version}-library-roots-{key}"
    if not (target / ".complete").exists():
        partial = base / f"{target.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        (partial / "src" / "rust_analyzer.rs").write_text(text)
        (partial / ".complete").write_text("")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    print(target)


if __name__ == "__main__":
    main()
