# cmake -DCSV=instret.csv -DCOUNT=kernel_vectors.count -P check_csv.cmake
# The instruction-count CSV written by test_kernels_rv over semihosting: the header and one row
# per golden case.
if(NOT EXISTS "${CSV}")
  message(FATAL_ERROR "${CSV} was not written (semihosting file I/O of test_kernels_rv)")
endif()
file(READ "${COUNT}" expected)
string(STRIP "${expected}" expected)
file(STRINGS "${CSV}" lines)
list(LENGTH lines n)
list(GET lines 0 header)
if(NOT header STREQUAL "kernel,case,shape,units,unit,instret,instret_per_unit,status")
  message(FATAL_ERROR "${CSV}: unexpected header '${header}'")
endif()
math(EXPR rows "${n} - 1")
if(NOT rows EQUAL expected)
  message(FATAL_ERROR "${CSV}: ${rows} rows, expected ${expected} (one per golden case)")
endif()
message(STATUS "${CSV}: ${rows} rows")
