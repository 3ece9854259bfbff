# Sourced by install.sh and test.sh: `kernel_cargo ARGS...` runs `cargo ARGS...` for the
# kernel with evcxr's analyser keeping std and autograd-core as library roots
# (tools/evcxr_roots.py says why: warm cells about a quarter faster). The changed copy of
# evcxr is made once under the build cache and given to cargo as a [patch] on the command
# line, so Cargo.toml stays as it is; cargo writes the patched source into Cargo.lock, which
# is put back afterwards (other cargo commands build with evcxr from the registry, which is
# just as correct, only slower in a kernel). Without python3 or evcxr's expected code, plain
# cargo.
kernel_cargo() {
  local patched=""
  if command -v python3 >/dev/null 2>&1; then
    patched=$(python3 "$repo/tools/evcxr_roots.py") || patched=""
  fi
  if [ -z "$patched" ]; then
    cargo "$@"
    return
  fi
  local lock rc=0
  lock=$(mktemp)
  cp "$repo/Cargo.lock" "$lock"
  cargo "$@" --config "patch.crates-io.evcxr.path=\"$patched\"" || rc=$?
  cp "$lock" "$repo/Cargo.lock"
  rm -f "$lock"
  return $rc
}
