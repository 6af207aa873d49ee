// Status helpers shared by ivf/ and jit/ (Abseil 20220623 has no RETURN_IF_ERROR).
//
//   // In a function returning absl::Status (or absl::StatusOr<T>):
//   IVFJIT_ASSIGN_OR_RETURN(std::unique_ptr<ivfjit::Index> index,
//                           ivfjit::LoadIndex("/data/fmnist.ivfjit"));  // or return its error
//   IVFJIT_RETURN_IF_ERROR(index->Add(base));                           // or return its error
#ifndef IVFJIT_JIT_BASE_STATUS_MACROS_H_
#define IVFJIT_JIT_BASE_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define IVFJIT_RETURN_IF_ERROR(expr)                \
  do {                                              \
    const ::absl::Status ivfjit_status_ = (expr);   \
    if (!ivfjit_status_.ok()) return ivfjit_status_; \
  } while (0)

#define IVFJIT_CONCAT_INNER_(a, b) a##b
#define IVFJIT_CONCAT_(a, b) IVFJIT_CONCAT_INNER_(a, b)

#define IVFJIT_ASSIGN_OR_RETURN(lhs, expr) \
  IVFJIT_ASSIGN_OR_RETURN_IMPL_(IVFJIT_CONCAT_(ivfjit_statusor_, __LINE__), lhs, expr)

#define IVFJIT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

// Broken internal invariants abort with a message (they are bugs, not caller mistakes).
#define IVFJIT_CHECK(cond)                                                        \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: IVFJIT_CHECK failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                        \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

#endif  // IVFJIT_JIT_BASE_STATUS_MACROS_H_
