#include "jit/cpu/internal/outer_tile.h"

#include <vector>

#include "llvm/IR/BasicBlock.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/Intrinsics.h"

namespace ivfjit::jit::cpu_internal {
namespace {

// Columns of d per panel: the scratch panel holds kPanelColumns × 2·W floats (16 KiB on
// AVX-512), so it stays in L1 beside the queries' columns and on the stack whatever d is; a
// longer d is summed over several panels, the tile holding the partial sums between them.
// Measured (BM_IpTile, one core, medians of 3; d 784, 64 × 1,024 / 39 × 59): 512 columns
// 68.6 / 62.4 G multiply-adds/s, 256 70.6 / 64.3, 128 67.8–73.0 / 65.9–67.7, 64 69.5 / 61.5.
constexpr int64_t kPanelColumns = 128;

class OuterTile {
 public:
  OuterTile(llvm::IRBuilder<>& b, const TileArgs& args, int64_t d, bool avx512)
      : b_(b), args_(args), d_(d), w_(avx512 ? 16 : 8), rows_(2 * w_),
        // Queries per register block: 2·M accumulators + 2 panel vectors + a broadcast fit
        // the 32 (AVX-512) or 16 (AVX2) vector registers.
        queries_(avx512 ? 8 : 6) {
    f32_ = b_.getFloatTy();
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
    vec_ = llvm::FixedVectorType::get(f32_, static_cast<unsigned>(w_));
    fn_ = b_.GetInsertBlock()->getParent();
  }

  void Emit(llvm::BasicBlock* done) {
    // The panel lives in the entry block's frame (an alloca inside a loop would grow it). A
    // 16 KiB frame could step over a thread's guard page: the frame is probed page by page.
    fn_->addFnAttr("probe-stack", "inline-asm");
    llvm::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    auto* panel_ty = llvm::ArrayType::get(f32_, static_cast<uint64_t>(kPanelColumns * rows_));
    panel_ = entry.CreateAlloca(panel_ty);
    panel_->setAlignment(llvm::Align(64));

    auto* row_latch = Block("outer_rows_latch");
    llvm::PHINode* jb = BeginLoop("jb");
    RowBlock(jb, row_latch);
    b_.SetInsertPoint(row_latch);
    EndLoop(jb, rows_, args_.n, done);
  }

 private:
  // One block of 2·W rows from jb: every panel of d packed, then every query block scored.
  void RowBlock(llvm::Value* jb, llvm::BasicBlock* exit) {
    llvm::Value* last_row = b_.CreateSub(args_.n, b_.getInt64(1));
    std::vector<llvm::Value*> rows, next_rows;
    for (int r = 0; r < 2 * rows_; ++r) {
      llvm::Value* jr = b_.CreateAdd(jb, b_.getInt64(r));
      jr = b_.CreateSelect(b_.CreateICmpSGT(jr, last_row), last_row, jr);
      (r < rows_ ? rows : next_rows)
          .push_back(b_.CreateInBoundsGEP(f32_, args_.x, b_.CreateMul(jr, b_.getInt64(d_))));
    }
    llvm::Value* row_mask[2] = {LaneMask(b_.CreateSub(args_.n, jb)),
                                LaneMask(b_.CreateSub(args_.n, b_.CreateAdd(jb, b_.getInt64(w_))))};
    const int64_t panels = (d_ + kPanelColumns - 1) / kPanelColumns;
    auto* panel_latch = Block("outer_panel_latch");
    llvm::PHINode* kb = BeginLoop("kb");
    llvm::Value* k0 = b_.CreateMul(kb, b_.getInt64(kPanelColumns));
    llvm::Value* len = b_.CreateSub(b_.getInt64(d_), k0);
    len = b_.CreateSelect(b_.CreateICmpSGT(len, b_.getInt64(kPanelColumns)),
                          b_.getInt64(kPanelColumns), len);
    Pack(rows, next_rows, k0, len);
    QueryBlocks(jb, kb, k0, len, row_mask, panel_latch);

    b_.SetInsertPoint(panel_latch);
    EndLoop(kb, 1, b_.getInt64(panels), exit);
  }

  // panel[c · 2W + r] = x_(jb + r)[k0 + c] for c < len rounded up to W (zeros past d): W × W
  // pieces loaded from W rows and transposed in registers. The same columns of the next
  // block's rows are requested meanwhile: rows come from L3 or memory (an IVF search's
  // centroids), and without the requests the packing's loads took ~15 % of a coarse step's
  // time (docs/jit.md, Session 20).
  void Pack(const std::vector<llvm::Value*>& rows, const std::vector<llvm::Value*>& next_rows,
            llvm::Value* k0, llvm::Value* len) {
    auto* after = Block("outer_pack_done");
    llvm::Value* pieces = b_.CreateUDiv(b_.CreateAdd(len, b_.getInt64(w_ - 1)), b_.getInt64(w_));
    llvm::PHINode* p = BeginLoop("piece");
    llvm::Value* c = b_.CreateMul(p, b_.getInt64(w_));
    llvm::Value* col = b_.CreateAdd(k0, c);
    llvm::Value* mask = LaneMask(b_.CreateSub(b_.getInt64(d_), col));
    llvm::Value* zero = llvm::ConstantAggregateZero::get(vec_);
    for (int v = 0; v < 2; ++v) {
      std::vector<llvm::Value*> piece;
      for (int t = 0; t < w_; ++t) {
        llvm::Value* at = b_.CreateInBoundsGEP(f32_, rows[v * w_ + t], col);
        // d a multiple of W: every piece is whole (plain loads, which the hardware
        // prefetchers follow).
        llvm::Value* loaded =
            d_ % w_ == 0 ? b_.CreateAlignedLoad(vec_, at, llvm::Align(4))
                         : static_cast<llvm::Value*>(
                               b_.CreateMaskedLoad(vec_, at, llvm::Align(4), mask, zero));
        piece.push_back(loaded);
        b_.CreateIntrinsic(llvm::Intrinsic::prefetch, {ptr_},
                           {b_.CreateInBoundsGEP(f32_, next_rows[v * w_ + t], col),
                            b_.getInt32(0), b_.getInt32(3), b_.getInt32(1)});
      }
      piece = Transpose(std::move(piece));
      for (int t = 0; t < w_; ++t) {
        llvm::Value* at = PanelAt(b_.CreateAdd(c, b_.getInt64(t)), v);
        b_.CreateAlignedStore(piece[t], at, llvm::Align(4 * w_));
      }
    }
    EndLoop(p, 1, pieces, after);
    b_.SetInsertPoint(after);
  }

  // For each block of M queries: 2·M accumulators (starting from the tile's partial sums
  // after the first panel) walk the panel's len columns. A whole block (M queries and 2·W
  // rows inside the tile) loads and stores plainly; a block at the tile's last queries or
  // rows clamps its query pointers and masks its loads and stores (masked stores are
  // microcoded on AMD's cores: ~12 cycles each on Zen 3). The masks and the tile's addresses
  // are made where they are used, not kept across the loop: kept, they spilled ~300
  // instructions of set-up per block, ~10 % of a block's time at d 128 (docs/jit.md).
  void QueryBlocks(llvm::Value* jb, llvm::Value* kb, llvm::Value* k0, llvm::Value* len,
                   llvm::Value* const row_mask[2], llvm::BasicBlock* exit) {
    auto* after = Block("outer_k_done");
    llvm::PHINode* ab = BeginLoop("ab");
    llvm::Value* first = b_.CreateICmpEQ(kb, b_.getInt64(0));
    llvm::Value* whole = b_.CreateAnd(
        b_.CreateICmpSLE(b_.CreateAdd(jb, b_.getInt64(rows_)), args_.n),
        b_.CreateICmpSLE(b_.CreateAdd(ab, b_.getInt64(queries_)), args_.g));
    auto* plain_in = Block("outer_init_plain");
    auto* masked_in = Block("outer_init_masked");
    auto* joined = Block("outer_init_done");
    b_.CreateCondBr(whole, plain_in, masked_in);
    const BlockStart plain = Start(plain_in, ab, jb, k0, first, nullptr, joined);
    const BlockStart masked = Start(masked_in, ab, jb, k0, first, row_mask, joined);
    b_.SetInsertPoint(joined);
    std::vector<llvm::Value*> q = Join(plain, masked, &BlockStart::q);
    std::vector<llvm::Value*> init = Join(plain, masked, &BlockStart::init);

    llvm::BasicBlock* block = b_.GetInsertBlock();
    llvm::PHINode* k = BeginLoop("k");
    std::vector<llvm::PHINode*> acc;
    for (llvm::Value* v : init) {
      acc.push_back(b_.CreatePHI(vec_, 2));
      acc.back()->addIncoming(v, block);
    }
    llvm::Value* xv[2] = {b_.CreateAlignedLoad(vec_, PanelAt(k, 0), llvm::Align(4 * w_)),
                          b_.CreateAlignedLoad(vec_, PanelAt(k, 1), llvm::Align(4 * w_))};
    std::vector<llvm::Value*> next(acc.size());
    for (int a = 0; a < queries_; ++a) {
      llvm::Value* s = b_.CreateAlignedLoad(f32_, b_.CreateInBoundsGEP(f32_, q[a], k),
                                            llvm::Align(4));
      llvm::Value* splat = b_.CreateVectorSplat(w_, s);
      for (int v = 0; v < 2; ++v) {
        next[2 * a + v] = b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec_},
                                             {splat, xv[v], acc[2 * a + v]});
      }
    }
    for (size_t i = 0; i < acc.size(); ++i) acc[i]->addIncoming(next[i], b_.GetInsertBlock());
    EndLoop(k, 1, len, after);

    b_.SetInsertPoint(after);
    auto* plain_out = Block("outer_store_plain");
    auto* masked_out = Block("outer_store_masked");
    auto* stored = Block("outer_stored");
    b_.CreateCondBr(whole, plain_out, masked_out);
    b_.SetInsertPoint(plain_out);
    for (int a = 0; a < queries_; ++a) {
      for (int v = 0; v < 2; ++v) {
        b_.CreateAlignedStore(next[2 * a + v], TileAt(ab, a, jb, v), llvm::Align(4));
      }
    }
    b_.CreateBr(stored);
    b_.SetInsertPoint(masked_out);
    for (int a = 0; a < queries_; ++a) {
      for (int v = 0; v < 2; ++v) {
        b_.CreateMaskedStore(next[2 * a + v], TileAt(ab, a, jb, v), llvm::Align(4),
                             TileMask(ab, a, row_mask[v]));
      }
    }
    b_.CreateBr(stored);
    b_.SetInsertPoint(stored);
    EndLoop(ab, queries_, args_.g, exit);
  }

  // What a query block starts from: its M query pointers (at column k0) and 2·M partial sums,
  // made in block `in`, which ends in `end` with a branch to the join.
  struct BlockStart {
    std::vector<llvm::Value*> q, init;
    llvm::BasicBlock* end;
  };

  // The start of the query block at ab in `in`: plain (row_mask null; the block is whole) or
  // clamped and masked. The partial sums are zero in the first panel.
  BlockStart Start(llvm::BasicBlock* in, llvm::Value* ab, llvm::Value* jb, llvm::Value* k0,
                   llvm::Value* first, llvm::Value* const* row_mask, llvm::BasicBlock* join) {
    b_.SetInsertPoint(in);
    BlockStart start;
    llvm::Value* last_query = b_.CreateSub(args_.g, b_.getInt64(1));
    llvm::Value* zero = llvm::ConstantAggregateZero::get(vec_);
    for (int a = 0; a < queries_; ++a) {
      llvm::Value* ia = b_.CreateAdd(ab, b_.getInt64(a));
      if (row_mask != nullptr) {
        ia = b_.CreateSelect(b_.CreateICmpSGT(ia, last_query), last_query, ia);
      }
      llvm::Value* qa = b_.CreateAlignedLoad(ptr_, b_.CreateInBoundsGEP(ptr_, args_.qs, ia),
                                             llvm::Align(8));
      start.q.push_back(b_.CreateInBoundsGEP(f32_, qa, k0));
      for (int v = 0; v < 2; ++v) {
        llvm::Value* at = TileAt(ab, a, jb, v);
        llvm::Value* partial =
            row_mask == nullptr
                ? static_cast<llvm::Value*>(b_.CreateAlignedLoad(vec_, at, llvm::Align(4)))
                : b_.CreateMaskedLoad(vec_, at, llvm::Align(4), TileMask(ab, a, row_mask[v]),
                                      zero);
        start.init.push_back(b_.CreateSelect(first, zero, partial));
      }
    }
    start.end = b_.GetInsertBlock();
    b_.CreateBr(join);
    return start;
  }

  // Phis (at the insert point) joining field `what` of the two starts.
  std::vector<llvm::Value*> Join(const BlockStart& x, const BlockStart& y,
                                 std::vector<llvm::Value*> BlockStart::*what) {
    std::vector<llvm::Value*> out;
    for (size_t i = 0; i < (x.*what).size(); ++i) {
      llvm::PHINode* phi = b_.CreatePHI((x.*what)[i]->getType(), 2);
      phi->addIncoming((x.*what)[i], x.end);
      phi->addIncoming((y.*what)[i], y.end);
      out.push_back(phi);
    }
    return out;
  }

  // &tile[(ab + a) · n + jb + v · W]. Not inbounds: a masked-off query past g has no row in
  // the tile.
  llvm::Value* TileAt(llvm::Value* ab, int a, llvm::Value* jb, int v) {
    llvm::Value* ia = b_.CreateAdd(ab, b_.getInt64(a));
    return b_.CreateGEP(
        f32_, args_.tile,
        b_.CreateAdd(b_.CreateMul(ia, args_.n), b_.CreateAdd(jb, b_.getInt64(v * w_))));
  }

  // The lanes of query ab + a's half v that lie in the tile: its rows below n (row_mask) if
  // the query is below g.
  llvm::Value* TileMask(llvm::Value* ab, int a, llvm::Value* row_mask) {
    llvm::Value* ia = b_.CreateAdd(ab, b_.getInt64(a));
    return b_.CreateAnd(row_mask, b_.CreateVectorSplat(w_, b_.CreateICmpSLT(ia, args_.g)));
  }

  // A counted loop: branches into a new block whose phi (returned) starts at 0 ...
  llvm::PHINode* BeginLoop(const char* name) {
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    llvm::BasicBlock* head = Block(name);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* i = b_.CreatePHI(i64_, 2, name);
    i->addIncoming(b_.getInt64(0), pre);
    return i;
  }

  // ... and ends, from the current block, with i += step and back to the head while i < end.
  void EndLoop(llvm::PHINode* i, int64_t step, llvm::Value* end, llvm::BasicBlock* exit) {
    llvm::Value* next = b_.CreateAdd(i, b_.getInt64(step));
    i->addIncoming(next, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpSLT(next, end), i->getParent(), exit);
  }

  // Transposes W vectors of W lanes: log2(W) stages, each swapping the off-diagonal h × h
  // blocks of every 2h × 2h block.
  std::vector<llvm::Value*> Transpose(std::vector<llvm::Value*> v) {
    for (int h = 1; h < w_; h *= 2) {
      std::vector<int> lo(w_), hi(w_);
      for (int c = 0; c < w_; ++c) {
        lo[c] = (c & h) ? w_ + c - h : c;
        hi[c] = (c & h) ? w_ + c : c + h;
      }
      for (int r = 0; r < w_; ++r) {
        if (r & h) continue;
        llvm::Value* a = v[r];
        llvm::Value* b = v[r + h];
        v[r] = b_.CreateShuffleVector(a, b, lo);
        v[r + h] = b_.CreateShuffleVector(a, b, hi);
      }
    }
    return v;
  }

  // &panel[c · 2W + half · W].
  llvm::Value* PanelAt(llvm::Value* c, int half) {
    llvm::Value* i = b_.CreateAdd(b_.CreateMul(c, b_.getInt64(rows_)), b_.getInt64(half * w_));
    return b_.CreateInBoundsGEP(f32_, panel_, i);
  }

  // <W x i1>: lane l < count.
  llvm::Value* LaneMask(llvm::Value* count) {
    std::vector<llvm::Constant*> iota;
    for (int l = 0; l < w_; ++l) iota.push_back(b_.getInt64(l));
    return b_.CreateICmpSLT(llvm::ConstantVector::get(iota), b_.CreateVectorSplat(w_, count));
  }

  llvm::BasicBlock* Block(const char* name) {
    return llvm::BasicBlock::Create(b_.getContext(), name, fn_);
  }

  llvm::IRBuilder<>& b_;
  const TileArgs args_;
  const int64_t d_;
  const int w_, rows_, queries_;
  llvm::Type* f32_;
  llvm::IntegerType* i64_;
  llvm::PointerType* ptr_;
  llvm::FixedVectorType* vec_;
  llvm::Function* fn_;
  llvm::AllocaInst* panel_ = nullptr;
};

}  // namespace

void EmitOuterProductTile(llvm::IRBuilder<>& b, const TileArgs& args, int64_t d, bool avx512,
                          llvm::BasicBlock* done) {
  OuterTile(b, args, d, avx512).Emit(done);
}

}  // namespace ivfjit::jit::cpu_internal
