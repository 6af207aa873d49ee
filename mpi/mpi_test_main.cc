// gtest under mpirun: every rank runs every test (the tests are collective); rank 0 writes
// the XML report, and the process exits non-zero on every rank if any rank failed.
#include <mpi.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--probe") == 0) return 0;  // built with MPI
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    // Bazel's report and premature-exit marker belong to rank 0 (ranks removing one marker
    // would race).
    unsetenv("XML_OUTPUT_FILE");
    unsetenv("TEST_PREMATURE_EXIT_FILE");
  }
  // gtest read XML_OUTPUT_FILE into its output flag during static initialization already,
  // and InitGoogleTest installs the XML writer from that flag: clear it before, or every rank
  // writes (and garbles) the one report (cleared after too, should a version re-read it).
  if (rank != 0) GTEST_FLAG_SET(output, "");
  ::testing::InitGoogleTest(&argc, argv);
  if (rank != 0) GTEST_FLAG_SET(output, "");
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
