"""Repository rules that bring Debian's system libraries and optional GPU toolchains into Bazel.

Everything here is local: nothing is downloaded. Headers of the /usr/include libraries are found
through the compiler's builtin include path; the rules only declare how to link them.
"""

def _multiarch_libdir(rctx):
    result = rctx.execute(["gcc", "-print-multiarch"])
    triple = result.stdout.strip() if result.return_code == 0 else ""
    for candidate in ["/usr/lib/" + triple, "/usr/lib64", "/usr/lib"]:
        if triple == "" and candidate.endswith("/"):
            continue
        if rctx.path(candidate).exists:
            return candidate
    fail("no system library directory found")

def _cc_lib(name, linkopts, deps = []):
    return """
cc_library(
    name = "{name}",
    linkopts = {linkopts},
    deps = {deps},
)
""".format(name = name, linkopts = repr(linkopts), deps = repr(deps))

def _cc_portable_lib(name, linkopts, portable_linkopts):
    return """
cc_library(
    name = "{name}",
    linkopts = select({{
        "@//:portable": {portable},
        "//conditions:default": {linkopts},
    }}),
)
""".format(name = name, linkopts = repr(linkopts), portable = repr(portable_linkopts))

def _python_headers(rctx):
    """Debian's Python headers (python3-dev) for the extension; an empty target without them."""
    result = rctx.execute(["/usr/bin/python3", "-c",
                           "import sysconfig; print(sysconfig.get_paths()['include'])"])
    include = result.stdout.strip() if result.return_code == 0 else ""
    if include == "" or not rctx.path(include + "/Python.h").exists:
        return 'cc_library(name = "python_headers")'
    rctx.symlink(include, "python_include")
    return """
cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
)
"""

def _system_libs_impl(rctx):
    libdir = _multiarch_libdir(rctx)
    absl = sorted([
        "-l" + f.basename[3:-3]
        for f in rctx.path(libdir).readdir()
        if f.basename.startswith("libabsl_") and f.basename.endswith(".so")
    ])
    if not absl:
        fail("Abseil not found in %s: run third_party/install_deps.sh" % libdir)
    absl_static = sorted([
        str(f)
        for f in rctx.path(libdir).readdir()
        if f.basename.startswith("libabsl_") and f.basename.endswith(".a")
    ])
    build = ['package(default_visibility = ["//visibility:public"])']

    # --define=ivfjit_portable=on (//:portable) links these statically, for binaries copied
    # to hosts without Debian's packages.
    build.append(_cc_portable_lib(
        "absl",
        ["-L" + libdir] + absl,
        ["-Wl,--start-group"] + absl_static + ["-Wl,--end-group", "-lpthread"],
    ))
    build.append(_cc_portable_lib(
        "openmp",
        ["-fopenmp"],
        ["-Wl,-Bstatic", "-lgomp", "-Wl,-Bdynamic", "-lpthread", "-ldl"],
    ))
    build.append(_cc_portable_lib(
        "openblas",
        ["-lopenblas"],
        [libdir + "/libopenblas.a", "-lpthread", "-lm"],
    ))
    build.append(_cc_lib("lapack", ["-llapack"], [":openblas"]))
    build.append(_cc_portable_lib("zlib", ["-lz"], [libdir + "/libz.a"]))
    build.append(_cc_lib("gtest", ["-lgtest", "-pthread"]))
    build.append(_cc_lib("gtest_main", ["-lgtest_main"], [":gtest"]))
    build.append(_cc_lib("gmock", ["-lgmock"], [":gtest"]))
    build.append(_cc_lib("benchmark", ["-lbenchmark", "-pthread"]))
    build.append(_cc_lib("faiss", ["-lfaiss"], [":lapack", ":openmp"]))
    build.append(_python_headers(rctx))
    rctx.file("BUILD", "\n".join(build))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    doc = "Link targets for Debian's -dev packages (Abseil, GoogleTest, Benchmark, Faiss, BLAS, zlib).",
)

def _llvm_impl(rctx):
    root = None
    for version in rctx.attr.versions:
        candidate = "/usr/lib/llvm-%s" % version
        if rctx.path(candidate + "/include/llvm/IR/IRBuilder.h").exists:
            root = candidate
            break
    if root == None:
        fail("LLVM development files not found: run third_party/install_deps.sh")
    rctx.symlink(root + "/include", "include")
    rctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "llvm",
    hdrs = glob(["include/llvm/**", "include/llvm-c/**"]),
    includes = ["include"],
    defines = [
        "_GNU_SOURCE",
        "__STDC_CONSTANT_MACROS",
        "__STDC_FORMAT_MACROS",
        "__STDC_LIMIT_MACROS",
    ],
    # The library by its path, not -L{root}/lib: that directory also holds libomp-N-dev's
    # libgomp.so -> libomp.so.5, which would then replace GCC's libgomp in every binary (two
    # OpenMP runtimes; libomp aborts at exit inside Bazel's sandbox).
    linkopts = ["{root}/lib/libLLVM-{major}.so", "-Wl,-rpath,{root}/lib"],
)
""".format(root = root, major = root.split("-")[-1]))

local_llvm = repository_rule(
    implementation = _llvm_impl,
    attrs = {"versions": attr.string_list(default = ["16"])},
    doc = "LLVM from Debian's llvm-N-dev package.",
)

def _gpu_impl(rctx):
    cuda_root = rctx.os.environ.get("CUDA_PATH", "/usr/local/cuda")
    has_cuda = rctx.path(cuda_root + "/include/nvrtc.h").exists and rctx.path(cuda_root + "/include/cuda.h").exists
    has_hip = rctx.path("/usr/include/hip/hiprtc.h").exists
    build = ['package(default_visibility = ["//visibility:public"])']
    if has_cuda:
        rctx.symlink(cuda_root + "/include", "cuda_include")
        build.append("""
cc_library(
    name = "cuda_headers",
    hdrs = glob(["cuda_include/cuda.h", "cuda_include/nvrtc.h", "cuda_include/cuda_stdint.h"]),
    includes = ["cuda_include"],
    defines = ["IVFJIT_HAVE_CUDA_HEADERS=1"],
)
""")
    else:
        build.append('cc_library(name = "cuda_headers")')
    if has_hip:
        build.append("""
cc_library(
    name = "hip_headers",
    defines = ["IVFJIT_HAVE_HIP_HEADERS=1", "__HIP_PLATFORM_AMD__"],
)
""")
    else:
        build.append('cc_library(name = "hip_headers")')
    rctx.file("BUILD", "\n".join(build))
    rctx.file("defs.bzl", "HAS_CUDA = %s\nHAS_HIP = %s\n" % (has_cuda, has_hip))

local_gpu_toolchains = repository_rule(
    implementation = _gpu_impl,
    environ = ["CUDA_PATH"],
    local = True,  # re-detect on every fetch: install_deps.sh may have added the HIP packages
    doc = "Detects the CUDA toolkit and Debian's HIP headers; both are optional.",
)

def _mpi_impl(rctx):
    libdir = _multiarch_libdir(rctx)
    include = libdir + "/openmpi/include"
    has_mpi = rctx.path(include + "/mpi.h").exists and rctx.path(libdir + "/libmpi.so").exists
    build = ['package(default_visibility = ["//visibility:public"])']
    if has_mpi:
        rctx.symlink(include, "mpi_include")
        build.append("""
cc_library(
    name = "mpi",
    hdrs = glob(["mpi_include/**/*.h"]),
    includes = ["mpi_include"],
    # The C API only: OpenMPI's deprecated C++ bindings (libmpi_cxx) are not used.
    defines = ["OMPI_SKIP_MPICXX"],
    linkopts = ["-L{libdir}", "-lmpi"],
)
""".format(libdir = libdir))
    else:
        build.append('cc_library(name = "mpi")')
    rctx.file("BUILD", "\n".join(build))
    rctx.file("defs.bzl", "HAS_MPI = %s\n" % has_mpi)

local_mpi = repository_rule(
    implementation = _mpi_impl,
    local = True,  # re-detect on every fetch: install_deps.sh may have added OpenMPI
    doc = "Detects Debian's OpenMPI (libopenmpi-dev); optional: without it mpi/ builds nothing.",
)
