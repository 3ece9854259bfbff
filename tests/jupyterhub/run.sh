#!/usr/bin/env bash
# A class on one server: the admin's one command (./install.sh --system), then a real JupyterHub
# on localhost with eight local student accounts running the same tutorial at the same time
# (see hub_test.py for what is checked and printed). Takes several minutes; needs root (it
# installs system-wide and creates the accounts agstudent1..N).
#
#   sudo tests/jupyterhub/run.sh [--students N] [--notebook NAME.ipynb] [--keep-caches]
#
# --keep-caches keeps the students' own build caches from an earlier run (warm students);
# by default each student starts as one who has never used the kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

students=8
notebook=01-autograd-mechanics.ipynb
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --students) students="$2"; shift ;;
    --notebook) notebook="$2"; shift ;;
    --keep-caches) keep=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$(id -u)" != 0 ]; then
  echo "run.sh: installs system-wide and creates student accounts; run it as root: sudo $0" >&2
  exit 1
fi

echo "== the admin's command: ./install.sh --system =="
./install.sh --system

# JupyterHub and JupyterLab from PyPI, configurable-http-proxy from npm, in one directory
# every student can read (the hub starts each student's JupyterLab from it)
work="${AUTOGRAD_HUB_TEST_DIR:-/opt/autograd-kernel-hub-test}"
umask 022
mkdir -p "$work"
chmod 755 "$work"
# the venv's interpreter must be one every student can run: the system's, not one under
# root's home (pyenv, conda)
python=/usr/bin/python3
[ -x "$python" ] || { echo "run.sh: needs the system's Python, which every user can run: apt-get install python3 python3-venv" >&2; exit 1; }
if ! grep -qx "home = $(dirname "$(readlink -f "$python")")" "$work/venv/pyvenv.cfg" 2>/dev/null \
   || ! "$work/venv/bin/python" -c "import jupyterhub, jupyterlab, nbformat, tornado" 2>/dev/null; then
  echo "== installing JupyterHub and JupyterLab into $work/venv =="
  rm -rf "$work/venv"
  "$python" -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --upgrade pip
  "$work/venv/bin/pip" install --quiet jupyterhub jupyterlab nbformat
fi
if [ ! -x "$work/node_modules/.bin/configurable-http-proxy" ]; then
  echo "== installing configurable-http-proxy (npm) into $work =="
  (cd "$work" && npm install --no-audit --no-fund --silent configurable-http-proxy >/dev/null)
fi

names=()
for i in $(seq 1 "$students"); do
  name="agstudent$i"
  id "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
  home=$(getent passwd "$name" | cut -d: -f6)
  pkill -KILL -u "$name" 2>/dev/null || true  # anything left from an interrupted run
  if [ "$keep" = 0 ]; then
    rm -rf "$home/.cache/autograd-kernel" "$home/.local/share/jupyter/runtime"
  fi
  names+=("$name")
done

echo "== JupyterHub: ${#names[@]} students run notebooks/$notebook at once =="
"$work/venv/bin/python" tests/jupyterhub/hub_test.py \
  --students "$(IFS=,; echo "${names[*]}")" --notebook "$repo/notebooks/$notebook" --work "$work"
