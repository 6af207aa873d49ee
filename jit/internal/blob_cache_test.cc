#include "jit/internal/blob_cache.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace ivfjit::jit::cache_internal {
namespace {

std::string TempDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

TEST(BlobCacheTest, WrittenEntryReadsBackOnlyForItsKey) {
  BlobCache cache(TempDir(), ".o");
  cache.Write("entry", "key-a", "payload bytes");
  auto got = cache.Read("entry", "key-a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "payload bytes");
  EXPECT_EQ(cache.Read("entry", "key-b").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(cache.Read("absent", "key-a").status().code(), absl::StatusCode::kNotFound);
}

// A stored payload length of 2^64 - 1 followed by 3 bytes: length + 4 wraps around to 3, which
// the reader once took for a match and tried to allocate 2^64 - 1 bytes (std::length_error,
// an abort). Found by //jit/internal:blob_cache_fuzz (corpus: length_wraps_around).
TEST(BlobCacheTest, PayloadLengthThatWrapsAroundIsCorrupt) {
  const std::string key = "op=scan_topk|metric=l2|d=8";
  {
    std::ofstream f(TempDir() + "/wraps.o", std::ios::binary);
    const uint32_t version = 1, key_length = static_cast<uint32_t>(key.size());
    const uint64_t length = ~uint64_t{0};
    f.write("IVJK", 4);
    f.write(reinterpret_cast<const char*>(&version), 4);
    f.write(reinterpret_cast<const char*>(&key_length), 4);
    f.write(key.data(), static_cast<std::streamsize>(key.size()));
    f.write(reinterpret_cast<const char*>(&length), 8);
    f.write("\xff\x00\x00", 3);
  }
  BlobCache cache(TempDir(), ".o");
  auto got = cache.Read("wraps", key);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_EQ(cache.rejected(), 1);
}

}  // namespace
}  // namespace ivfjit::jit::cache_internal
