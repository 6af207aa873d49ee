// The `ivfjit` binary.
#include "ivf/cli.h"

int main(int argc, char** argv) { return ivfjit::cli::Main(argc, argv); }
