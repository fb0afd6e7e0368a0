// MPI_Init for leak-checked processes under AddressSanitizer (the asan preset;
// docs/robustness.md). Without a sanitizer it is exactly MPI_Init.
//
// Open MPI loads its components (mca_*.so, PMIx plugins and the libraries they pull in) with
// dlopen and unloads them in MPI_Finalize. Memory they keep until exit would then be reported by
// LeakSanitizer at addresses of an unmapped "<unknown module>", which no suppression can name
// (and the fast unwinder stops there: Debian's libraries have no frame pointers). So, under
// ASan, init_mpi
//   - takes one more reference on every shared object loaded by MPI_Init, so that none is
//     unmapped before the leak check and tests/sanitizers/lsan.supp can name Open MPI's
//     libraries (and only them);
//   - ignores allocations made by MPI_Init itself on the calling thread (__lsan_disable): a few
//     are made through glibc's asprintf, whose frame ends the fast unwinder's stack before it
//     reaches Open MPI's. No code of ours runs inside MPI_Init.
// Leak detection stays on for everything else, ours included.
#pragma once

namespace mcuemu::mpi {

void init_mpi(int *argc, char ***argv);

}  // namespace mcuemu::mpi
