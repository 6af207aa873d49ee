// The `ivfjit` command-line tool's entry point (usage: ivf/cli.cc), callable in process by the
// binary's main() and by the CLI fuzz target. Internal to ivf/.
#ifndef IVFJIT_IVF_CLI_H_
#define IVFJIT_IVF_CLI_H_

namespace ivfjit::cli {

// Runs one command (argv[1]) with its flags; returns the exit status: 0, 1 (an error, one
// line on stderr) or 2 (a usage error). Never throws.
int Main(int argc, char** argv);

}  // namespace ivfjit::cli

#endif  // IVFJIT_IVF_CLI_H_
