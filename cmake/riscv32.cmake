# Toolchain file: kernels/ for a bare-metal rv32imc core, run under qemu with semihosting.
#
#   cmake --preset riscv      (= -G Ninja -B build/riscv -DCMAKE_TOOLCHAIN_FILE=cmake/riscv32.cmake
#                                -DMCUEMU_HOST=OFF -DMCUEMU_WERROR=ON)
#
# Debian packages: gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf, qemu-system-misc
# (scripts/test.sh installs them). tests/riscv/README.md explains the memory map, semihosting and
# the exit code; the short version is in the comments below.

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32) # not x86_64: kernels/ leaves out its AVX fast path

# Debian's riscv64-unknown-elf-gcc is multilib and targets rv32 with -march/-mabi.
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
# The project declares C and CXX, so CMake needs a C++ compiler to configure; nothing C++ is built
# for this target (there is no libstdc++ for it), and executables are linked by gcc.
set(CMAKE_CXX_COMPILER riscv64-unknown-elf-g++)
# No link step in CMake's compiler checks (the toolchain cannot link without our memory map).
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# -march must stay exactly rv32imc, also on the link line: gcc picks picolibc's and libgcc's
# multilib from it (rv32imc -> lib/rv32im/ilp32). Adding an extension (rv32imc_zicsr, ...)
# silently falls back to the default rv64 multilib. The test program enables Zicsr for its one
# csrr instruction with `.option arch, +zicsr` instead.
set(MCUEMU_RV_ARCH "-march=rv32imc -mabi=ilp32")
# picolibc.specs adds picolibc's headers, libc, crt0 and its linker script picolibc.ld.
set(CMAKE_C_FLAGS_INIT "${MCUEMU_RV_ARCH} --specs=picolibc.specs")
set(CMAKE_CXX_FLAGS_INIT "${MCUEMU_RV_ARCH} --specs=picolibc.specs")

# Memory map for qemu's virt machine, whose RAM starts at 0x80000000 (128 MiB by default) and
# where -bios none jumps to 0x80000000 at reset. picolibc.ld takes its regions from the symbols
# __flash/__flash_size (code + read-only data, incl. the embedded golden vectors) and
# __ram/__ram_size (data, bss, heap, stack at the top), stack size __stack_size; its .init
# section (_start) comes first in flash, i.e. at the reset address. Both regions are plain RAM
# on virt.
set(MCUEMU_RV_FLASH 0x80000000)
set(MCUEMU_RV_FLASH_SIZE 0x00400000) # 4 MiB
set(MCUEMU_RV_RAM 0x80400000)
set(MCUEMU_RV_RAM_SIZE 0x00400000)   # 4 MiB
set(MCUEMU_RV_STACK_SIZE 0x00010000) # 64 KiB
# --oslib=semihost: stdio and file I/O through RISC-V semihosting (ebreak); --crt0=semihost: the
# crt0 that calls exit(main()) (-> SYS_EXIT_EXTENDED, the exit code reaches qemu's exit status)
# and reports traps; picolibc's default crt0 spins forever after main returns.
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=${MCUEMU_RV_FLASH},--defsym=__flash_size=${MCUEMU_RV_FLASH_SIZE},--defsym=__ram=${MCUEMU_RV_RAM},--defsym=__ram_size=${MCUEMU_RV_RAM_SIZE},--defsym=__stack_size=${MCUEMU_RV_STACK_SIZE}")

# Never pick up host libraries or headers; programs (qemu, python) come from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest runs every add_test(COMMAND <executable target>) as
#   qemu-system-riscv32 -machine virt -nographic -bios none -semihosting -icount shift=0 -kernel prog.elf
# -semihosting: console output of the program arrives on qemu's stderr, files are opened relative
# to qemu's working directory, exit(n) becomes qemu's exit status n (mod 256).
# -icount shift=0: one instruction = 1 ns of virtual time; minstret counts retired instructions.
find_program(MCUEMU_QEMU_RISCV32 qemu-system-riscv32)
if(NOT MCUEMU_QEMU_RISCV32)
  message(WARNING "qemu-system-riscv32 not found (Debian package qemu-system-misc): "
                  "the RISC-V tests cannot run")
  set(MCUEMU_QEMU_RISCV32 qemu-system-riscv32)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR
  ${MCUEMU_QEMU_RISCV32} -machine virt -nographic -bios none -semihosting -icount shift=0 -kernel)
