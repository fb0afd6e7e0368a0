#include "mpi/sanitizer_support.hpp"

#include <mpi.h>

#if defined(__SANITIZE_ADDRESS__)
#define MCUEMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MCUEMU_ASAN 1
#endif
#endif

#ifdef MCUEMU_ASAN
#include <dlfcn.h>
#include <link.h>
#include <sanitizer/lsan_interface.h>
#endif

namespace mcuemu::mpi {

void init_mpi(int *argc, char ***argv) {
#ifdef MCUEMU_ASAN
  __lsan_disable();
  MPI_Init(argc, argv);
  __lsan_enable();
  // One more reference on every loaded object (RTLD_NOLOAD: nothing new is loaded), so that
  // Open MPI's dlclose in MPI_Finalize no longer unmaps it. The references are never dropped.
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *) {
        if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0')
          (void)dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
        return 0;
      },
      nullptr);
#else
  MPI_Init(argc, argv);
#endif
}

}  // namespace mcuemu::mpi
