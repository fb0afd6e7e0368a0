# Shared by scripts/run.sh and scripts/test.sh: install what is missing, set the MPI environment,
# configure and build. Source it; it defines functions and exports, it runs nothing by itself.

MCUEMU_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian packages the project needs (DESIGN.md, Dependencies). Only the missing ones are installed.
MCUEMU_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  openmpi-bin libopenmpi-dev libopenblas-dev libboost-program-options-dev
  libhdf5-dev hdf5-tools nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-numpy python3-h5py python3-matplotlib
)
# The RISC-V target (cmake/riscv32.cmake, tests/riscv/): cross compiler, C library, qemu.
# scripts/test.sh installs them too: install_missing "${MCUEMU_RISCV_PACKAGES[@]}".
MCUEMU_RISCV_PACKAGES=(gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc)
# The multi-host test (scripts/test-multihost.sh): ip (netns, veth, bridge), unshare and mount.
MCUEMU_MULTIHOST_PACKAGES=(iproute2 util-linux)

say() { printf '==> %s\n' "$*"; }

# Run as root directly, otherwise through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=() p
  for p in "${MCUEMU_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#MCUEMU_PACKAGES[@]} required Debian packages are installed"
    return 0
  fi
  say "installing missing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# True if this process may create network namespaces (root, and `ip netns` works here): what
# scripts/test-multihost.sh needs. Probes with a namespace of its own, deleted at once.
can_use_netns() {
  [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && command -v unshare >/dev/null || return 1
  local probe=mcuemu-probe-$$
  ip netns add "$probe" 2>/dev/null || return 1
  ip netns del "$probe" 2>/dev/null
  return 0
}

# Oversubscribed Open MPI on a small machine must yield when idle (DESIGN.md, Running on 2 cores).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OPENBLAS_NUM_THREADS=1

# build PRESET: configure (once) and build with the CMake preset.
build() {
  local preset=$1
  cd "$MCUEMU_ROOT"
  say "configuring (cmake --preset $preset)"
  cmake --preset "$preset" >/dev/null
  say "building (cmake --build --preset $preset)"
  cmake --build --preset "$preset"
}

# run_suite PRESET [CTEST_ARGS...]: configure, build and test one preset (configure, build and
# test presets share the name). Returns the status of the first step that fails, so it can be
# called as `run_suite ci || rc=$?` (set -e does not apply inside a function called that way,
# hence the explicit checks).
run_suite() {
  local preset=$1
  shift
  cd "$MCUEMU_ROOT" || return
  say "configuring (cmake --preset $preset)"
  cmake --preset "$preset" >/dev/null || return
  say "building (cmake --build --preset $preset)"
  cmake --build --preset "$preset" || return
  say "running the tests (ctest --preset $preset)"
  ctest --preset "$preset" "$@"
}
