// Output files that are either complete or absent: every file the tools write goes to a
// temporary name in the same directory and is renamed onto its final name only once it is
// complete and closed (rename(2) is atomic within a file system). An interrupted or failed
// write leaves at most a "<path>.tmp.<pid>" file, never a partial file under the final name.
// (HDF5 files use h5::write_atomically, h5io.hpp, built on the same temporary names.)
#pragma once

#include <string>
#include <string_view>

namespace mcuemu::weights {

// "<path>.tmp.<pid>": where atomic writers put a file before the rename.
std::string temp_path_for(const std::string &path);

// Writes `content` to `path` atomically. FileError (naming `path`) if the temporary file cannot
// be created, written, closed or renamed; the temporary file is removed on every failure.
void write_file_atomically(const std::string &path, std::string_view content);

// Early checks of output paths, made before a long run so that a bad path fails in a second
// rather than after the run. `what` names the option in the message ("--summary-json").
// An output file: not a directory, and its directory is writable or can be created.
void check_output_file(const std::string &path, const std::string &what);
// An output directory: a writable directory, or creatable (its nearest existing ancestor is a
// writable directory and no component is a file).
void check_output_dir(const std::string &dir, const std::string &what);
// Creates the directory of an output file if it is missing (FileError if it cannot).
void ensure_parent_dir(const std::string &path);

}  // namespace mcuemu::weights
