#include "jit/cpu/internal/codegen.h"

#include "jit/cpu/internal/outer_tile.h"

#include <array>
#include <vector>

#include "jit/eager/distances.h"
#include "llvm/IR/BasicBlock.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/Support/ModRef.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/IR/Type.h"
#include "llvm/IR/Verifier.h"

namespace ivfjit::jit::cpu_internal {
namespace {

// Vector pieces covering d exactly: 16-wide chunks, then one 8, 4, 2 and 1 as needed. No loop
// and no remainder loop: d is a compile-time constant.
struct Piece {
  int64_t offset;
  unsigned width;
};

std::vector<Piece> Pieces(int64_t d) {
  std::vector<Piece> pieces;
  int64_t at = 0;
  for (unsigned w : {16u, 8u, 4u, 2u, 1u}) {
    while (d - at >= w) {
      pieces.push_back({at, w});
      at += w;
      if (w != 16) break;  // at most one piece of each smaller width
    }
  }
  return pieces;
}

// Up to this many 16-wide pieces d is unrolled completely; beyond, RowAccumulatorsBlocked.
constexpr size_t kUnrollPieces = 16;
constexpr int64_t kBlockPieces = 8;
// Measured with //perf:jit_benchmark (generator v3, medians of 5, same runs): keeping q's
// pieces in registers was no faster than reloading them from L1 (21.3-21.8 vs 23.0-23.6 G
// multiply-adds/s at d 128, k 10), so each piece of q is loaded where it is used; each row has
// two accumulator chains. The scan scores one row at a time: four rows at once were faster on
// rows already in L2 (jit_benchmark, d 784: 21 vs 15 G mult-add/s) but slower in real
// searches, whose lists stream from DRAM (Fashion-MNIST nprobe 8 single queries 0.182 vs
// 0.152 ms, seed shape 0.729 vs 0.564 ms; eager 0.156 / 0.524-0.579 ms in the same runs): one
// row keeps one sequential stream per list, as the eager kernel does.
constexpr int kRowChains = 2;
// The inner-product tile's register block: queries × rows = 16 accumulators (one Combine tree).
constexpr int kTileQueries = 4;
constexpr int kTileRows = 4;
static_assert(kTileQueries * kTileRows == 16, "one 16-lane vector of sums per block");

// How the rows a kernel reads are stored: floats, or a coded scan's codes.
enum class RowCodeKind { kF32, kFp16, kBf16, kU8 };

RowCodeKind RowCode(const KernelKey& key) {
  if (key.op != KernelOp::kCodedScanTopK) return RowCodeKind::kF32;
  if (key.dtype == "fp16") return RowCodeKind::kFp16;
  if (key.dtype == "bf16") return RowCodeKind::kBf16;
  return RowCodeKind::kU8;
}

class Generator {
 public:
  Generator(const KernelKey& key, llvm::LLVMContext& ctx, llvm::Module& module)
      : key_(key), code_(RowCode(key)), ctx_(ctx), module_(module), b_(ctx) {
    llvm::FastMathFlags fmf;
    fmf.setAllowReassoc();   // the reductions reassociate (vectorized sums)
    fmf.setAllowContract();  // a * b + c may become an FMA
    b_.setFastMathFlags(fmf);
    f32_ = b_.getFloatTy();
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
  }

  // Per (query, row) pair, its accumulator chains (two for the 16-wide pieces, or one).
  using Accumulators = std::vector<std::array<llvm::Value*, 2>>;

  // One 16-wide vector per row whose lanes sum to dist(q, row): the two accumulator chains
  // added, narrower pieces widened into the low lanes. Reducing it is left to the caller (one
  // row at a time, or sixteen rows together by the Combine tree). Each q piece is loaded once
  // per block of rows and used by every row of it.
  std::vector<llvm::Value*> RowAccumulators(llvm::Value* q, const std::vector<llvm::Value*>& rows,
                                            const std::vector<Piece>& pieces) {
    return PairAccumulators({q}, rows, pieces, kRowChains);
  }

  // The same for every (query, row) pair of a register block, query-major (pair a · R + r):
  // each piece of every query and row is loaded once and used by the whole block.
  std::vector<llvm::Value*> PairAccumulators(const std::vector<llvm::Value*>& qs,
                                             const std::vector<llvm::Value*>& rows,
                                             const std::vector<Piece>& pieces, int chains) {
    if (pieces.size() > kUnrollPieces) return PairAccumulatorsBlocked(qs, rows, chains);
    Accumulators acc(qs.size() * rows.size(), {nullptr, nullptr});
    AccumulatePieces(qs, rows, pieces, chains, acc, row_scale_);
    return MergeChains(acc);
  }

  // Large d: a loop over blocks of kBlockPieces 16-wide pieces with a constant trip count
  // (d / (16 · kBlockPieces), known at compile time), then the rest of d unrolled. Fully
  // unrolling d = 784 would make a loop body too large for the CPU's decoded-instruction
  // cache (measured 2× slower than this).
  std::vector<llvm::Value*> PairAccumulatorsBlocked(const std::vector<llvm::Value*>& qs,
                                                    const std::vector<llvm::Value*>& rows,
                                                    int chains) {
    const int64_t block = 16 * kBlockPieces;
    const int64_t blocks = key_.d / block;
    llvm::Function* fn = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* body = llvm::BasicBlock::Create(ctx_, "dblock", fn);
    auto* after = llvm::BasicBlock::Create(ctx_, "dblock_done", fn);
    b_.CreateBr(body);
    b_.SetInsertPoint(body);
    llvm::PHINode* c = b_.CreatePHI(i64_, 2, "c");
    c->addIncoming(b_.getInt64(0), pre);
    auto* vec16 = llvm::FixedVectorType::get(f32_, 16);
    llvm::Constant* zero = llvm::ConstantAggregateZero::get(vec16);
    const size_t pairs = qs.size() * rows.size();
    Accumulators acc(pairs, {nullptr, nullptr});
    std::vector<std::array<llvm::PHINode*, 2>> phis(pairs, {nullptr, nullptr});
    for (size_t p = 0; p < pairs; ++p) {
      for (int h = 0; h < chains; ++h) {
        phis[p][h] = b_.CreatePHI(vec16, 2);
        phis[p][h]->addIncoming(zero, pre);
        acc[p][h] = phis[p][h];
      }
    }
    llvm::Value* offset = b_.CreateMul(c, b_.getInt64(block));
    std::vector<llvm::Value*> qb, rb;
    for (llvm::Value* q : qs) qb.push_back(b_.CreateInBoundsGEP(f32_, q, offset));
    for (llvm::Value* row : rows) rb.push_back(b_.CreateInBoundsGEP(RowType(), row, offset));
    llvm::Value* scale_block =
        row_scale_ == nullptr ? nullptr : b_.CreateInBoundsGEP(f32_, row_scale_, offset);
    std::vector<Piece> pieces;
    for (int64_t i = 0; i < kBlockPieces; ++i) pieces.push_back({16 * i, 16});
    AccumulatePieces(qb, rb, pieces, chains, acc, scale_block);
    llvm::Value* next = b_.CreateAdd(c, b_.getInt64(1));
    llvm::BasicBlock* body_end = b_.GetInsertBlock();
    c->addIncoming(next, body_end);
    for (size_t p = 0; p < pairs; ++p) {
      for (int h = 0; h < chains; ++h) phis[p][h]->addIncoming(acc[p][h], body_end);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(next, b_.getInt64(blocks)), body, after);
    b_.SetInsertPoint(after);
    // The rest of d, unrolled.
    std::vector<Piece> rest;
    for (const Piece& p : Pieces(key_.d - blocks * block)) {
      rest.push_back({p.offset + blocks * block, p.width});
    }
    AccumulatePieces(qs, rows, rest, chains, acc, row_scale_);
    return MergeChains(acc);
  }

  // Accumulates the pieces into acc (pair a · R + r): with two chains the 16-wide pieces
  // alternate between them; narrower pieces are widened (zeros above) and added to chain 0.
  // Coded rows are decoded piece by piece (LoadRowPiece; scale: byte codes' scale at the
  // rows' offset 0).
  void AccumulatePieces(const std::vector<llvm::Value*>& qs,
                        const std::vector<llvm::Value*>& rows, const std::vector<Piece>& pieces,
                        int chains, Accumulators& acc, llvm::Value* scale) {
    int chain = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::vector<llvm::Value*> qp, xp;
      for (llvm::Value* q : qs) qp.push_back(LoadPiece(q, pieces[i]));
      for (llvm::Value* row : rows) xp.push_back(LoadRowPiece(row, pieces[i], scale));
      const bool wide = pieces[i].width == 16;
      for (size_t a = 0; a < qs.size(); ++a) {
        for (size_t r = 0; r < rows.size(); ++r) {
          llvm::Value* av = xp[r];
          llvm::Value* bv = qp[a];
          if (l2() && !dot_products_) {
            av = b_.CreateFSub(qp[a], xp[r]);
            bv = av;
          }
          llvm::Value*& slot = acc[a * rows.size() + r][wide && chains == 2 ? chain % 2 : 0];
          if (wide) {
            slot = slot == nullptr ? b_.CreateFMul(av, bv) : MulAdd(av, bv, slot);
          } else {
            llvm::Value* product = Widen(b_.CreateFMul(av, bv), pieces[i].width);
            slot = slot == nullptr ? product : b_.CreateFAdd(slot, product);
          }
        }
      }
      if (wide) ++chain;
    }
  }

  // Per row: the two chains added.
  std::vector<llvm::Value*> MergeChains(const Accumulators& acc) {
    std::vector<llvm::Value*> out(acc.size());
    for (size_t r = 0; r < acc.size(); ++r) {
      out[r] = acc[r][1] == nullptr ? acc[r][0] : b_.CreateFAdd(acc[r][0], acc[r][1]);
    }
    return out;
  }

  // A piece of width w (< 16) as a 16-wide vector, zeros above lane w.
  llvm::Value* Widen(llvm::Value* v, unsigned w) {
    auto* vec16 = llvm::FixedVectorType::get(f32_, 16);
    if (w == 1) {
      return b_.CreateInsertElement(llvm::ConstantAggregateZero::get(vec16), v, uint64_t{0});
    }
    std::vector<int> mask(16);
    for (int l = 0; l < 16; ++l) mask[l] = l < static_cast<int>(w) ? l : static_cast<int>(w);
    llvm::Value* zero = llvm::ConstantAggregateZero::get(v->getType());
    return b_.CreateShuffleVector(v, zero, mask);
  }

  // Sums lane groups of two vectors whose lanes hold per-row partial sums (lane_row: the row of
  // each lane): in every block of 2h lanes, the low h lanes of the result add a's two halves of
  // that block, the high h lanes b's. Applied with h = 8, 4, 2, 1 it reduces sixteen rows'
  // accumulators to one vector of sixteen sums with 15 adds instead of 16 full reductions.
  struct Partial {
    llvm::Value* v;
    std::array<int, 16> lane_row;
  };
  // Sixteen 16-lane accumulators to one vector of their sums (lane r: the lanes of acc[r]
  // added) by the Combine tree.
  llvm::Value* SumSixteen(const std::vector<llvm::Value*>& acc) {
    std::vector<Partial> level(acc.size());
    for (size_t r = 0; r < acc.size(); ++r) {
      level[r].v = acc[r];
      level[r].lane_row.fill(static_cast<int>(r));
    }
    for (int h = 8; level.size() > 1; h /= 2) level = CombineLevel(level, h);
    std::vector<int> order(16);
    for (int l = 0; l < 16; ++l) order[level[0].lane_row[l]] = l;
    return b_.CreateShuffleVector(level[0].v, level[0].v, order);
  }

  // The sixteen accumulators stored in parts (parts_ty: [16 × <16 × float>]).
  std::vector<llvm::Value*> LoadSixteen(llvm::Value* parts, llvm::ArrayType* parts_ty) {
    auto* vec16 = llvm::FixedVectorType::get(f32_, 16);
    std::vector<llvm::Value*> acc(16);
    for (int r = 0; r < 16; ++r) {
      acc[r] = b_.CreateAlignedLoad(vec16, b_.CreateConstInBoundsGEP2_64(parts_ty, parts, 0, r),
                                    llvm::Align(4));
    }
    return acc;
  }

  // The 16-lane mask of lanes l < count (an i64).
  llvm::Value* LanesBelow(llvm::Value* count) {
    std::vector<llvm::Constant*> iota;
    for (int l = 0; l < 16; ++l) iota.push_back(b_.getInt64(l));
    return b_.CreateICmpSLT(llvm::ConstantVector::get(iota), b_.CreateVectorSplat(16, count));
  }

  // One tree level: parts 2i and 2i + 1 combined with width h.
  std::vector<Partial> CombineLevel(const std::vector<Partial>& parts, int h) {
    std::vector<Partial> out;
    for (size_t i = 0; i + 1 < parts.size(); i += 2)
      out.push_back(Combine(parts[i], parts[i + 1], h));
    return out;
  }

  Partial Combine(const Partial& a, const Partial& b, int h) {
    std::vector<int> lo(16), hi(16);
    Partial out;
    for (int l = 0; l < 16; ++l) {
      const int base = l / (2 * h) * 2 * h, o = l % (2 * h);
      const bool from_a = o < h;
      const int at = base + (from_a ? o : o - h);
      lo[l] = (from_a ? 0 : 16) + at;
      hi[l] = (from_a ? 0 : 16) + at + h;
      out.lane_row[l] = from_a ? a.lane_row[at] : b.lane_row[at];
    }
    out.v = b_.CreateFAdd(b_.CreateShuffleVector(a.v, b.v, lo),
                          b_.CreateShuffleVector(a.v, b.v, hi));
    return out;
  }

  // tile[a · n + j] = qs[a] · x_j for a < g, j < n, in the form the last argument asks for:
  // the outer-product micro-kernel (outer_tile.h), or a register-blocked small GEMM for one
  // fixed d (csr search's per-list tiles, where sgemm's packing does not pay off). Blocks of
  // kTileQueries queries × kTileRows rows keep their 16 accumulators in registers while d is
  // walked once; the block's sixteen sums come out of one Combine tree. Blocks past the end
  // read the last query / row again and mask their stores: no tail loops.
  void IpTile() {
    auto* fn_ty =
        llvm::FunctionType::get(b_.getVoidTy(), {ptr_, i64_, ptr_, i64_, ptr_, i64_}, false);
    llvm::Function* fn = NewFunction(fn_ty);
    for (unsigned a : {0u, 2u}) {
      fn->addParamAttr(a, llvm::Attribute::NoAlias);
      fn->addParamAttr(a, llvm::Attribute::ReadOnly);
    }
    fn->addParamAttr(4, llvm::Attribute::NoAlias);
    llvm::Value *qs = fn->getArg(0), *g = fn->getArg(1), *x = fn->getArg(2), *n = fn->getArg(3),
                *tile = fn->getArg(4), *form = fn->getArg(5);
    dot_products_ = true;
    const std::vector<Piece> pieces = Pieces(key_.d);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
    auto* row_block = llvm::BasicBlock::Create(ctx_, "row_block", fn);
    auto* query_block = llvm::BasicBlock::Create(ctx_, "query_block", fn);
    auto* row_latch = llvm::BasicBlock::Create(ctx_, "row_latch", fn);
    auto* done = llvm::BasicBlock::Create(ctx_, "done", fn);
    auto* choose = llvm::BasicBlock::Create(ctx_, "choose", fn);
    auto* outer = llvm::BasicBlock::Create(ctx_, "outer", fn);
    auto* dot = llvm::BasicBlock::Create(ctx_, "dot", fn);
    auto* one = llvm::BasicBlock::Create(ctx_, "one_query", fn);

    b_.SetInsertPoint(entry);
    auto* parts_ty = llvm::ArrayType::get(llvm::FixedVectorType::get(f32_, 16), 16);
    llvm::Value* parts = b_.CreateAlloca(parts_ty);
    b_.CreateCondBr(b_.CreateAnd(b_.CreateICmpSGT(g, b_.getInt64(0)),
                                 b_.CreateICmpSGT(n, b_.getInt64(0))),
                    choose, done);
    b_.SetInsertPoint(choose);
    b_.CreateCondBr(b_.CreateICmpEQ(form, b_.getInt64(eager::kTileOuter)), outer, dot);
    b_.SetInsertPoint(outer);
    EmitOuterProductTile(b_, {qs, g, x, n, tile}, key_.d,
                         TargetHasFeature(key_.target, "avx512f"), done);
    b_.SetInsertPoint(dot);
    b_.CreateCondBr(b_.CreateAnd(b_.CreateICmpEQ(form, b_.getInt64(eager::kTileOneQuery)),
                                 b_.CreateICmpEQ(g, b_.getInt64(1))),
                    one, row_block);
    b_.SetInsertPoint(one);
    EmitOneQueryTile(qs, x, n, tile, parts, parts_ty, pieces, done);

    b_.SetInsertPoint(row_block);
    llvm::PHINode* jb = b_.CreatePHI(i64_, 2, "jb");
    jb->addIncoming(b_.getInt64(0), dot);
    llvm::Value* last_row = b_.CreateSub(n, b_.getInt64(1));
    std::vector<llvm::Value*> rows;
    std::vector<llvm::Constant*> iota;
    for (int r = 0; r < kTileRows; ++r) {
      llvm::Value* jr = AddClamped(jb, r, last_row);
      rows.push_back(b_.CreateInBoundsGEP(f32_, x, b_.CreateMul(jr, b_.getInt64(key_.d))));
      iota.push_back(b_.getInt64(r));
    }
    // Columns of this block that exist (all but in the last row block).
    llvm::Value* row_mask = b_.CreateICmpSLT(llvm::ConstantVector::get(iota),
                                             b_.CreateVectorSplat(kTileRows, b_.CreateSub(n, jb)));
    b_.CreateBr(query_block);

    b_.SetInsertPoint(query_block);
    llvm::PHINode* ab = b_.CreatePHI(i64_, 2, "ab");
    ab->addIncoming(b_.getInt64(0), row_block);
    llvm::Value* last_query = b_.CreateSub(g, b_.getInt64(1));
    std::vector<llvm::Value*> qv;
    std::vector<llvm::Value*> query_index;
    for (int a = 0; a < kTileQueries; ++a) {
      query_index.push_back(b_.CreateAdd(ab, b_.getInt64(a)));
      llvm::Value* ia = AddClamped(ab, a, last_query);
      qv.push_back(b_.CreateAlignedLoad(ptr_, b_.CreateInBoundsGEP(ptr_, qs, ia), llvm::Align(8)));
    }
    // Lane a·R + r: query a's sum with row r.
    llvm::Value* sums = SumSixteen(PairAccumulators(qv, rows, pieces, /*chains=*/1));
    for (int a = 0; a < kTileQueries; ++a) {
      std::vector<int> lanes(kTileRows);
      for (int r = 0; r < kTileRows; ++r) lanes[r] = a * kTileRows + r;
      llvm::Value* part = b_.CreateShuffleVector(sums, sums, lanes);
      llvm::Value* mask = b_.CreateAnd(
          row_mask, b_.CreateVectorSplat(kTileRows, b_.CreateICmpSLT(query_index[a], g)));
      // Not inbounds: a masked-off query past g has no row in the tile.
      llvm::Value* at = b_.CreateGEP(f32_, tile, b_.CreateAdd(b_.CreateMul(query_index[a], n), jb));
      b_.CreateMaskedStore(part, at, llvm::Align(4), mask);
    }
    llvm::Value* ab_next = b_.CreateAdd(ab, b_.getInt64(kTileQueries));
    ab->addIncoming(ab_next, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpSLT(ab_next, g), query_block, row_latch);

    b_.SetInsertPoint(row_latch);
    llvm::Value* jb_next = b_.CreateAdd(jb, b_.getInt64(kTileRows));
    jb->addIncoming(jb_next, row_latch);
    b_.CreateCondBr(b_.CreateICmpSLT(jb_next, n), row_block, done);

    b_.SetInsertPoint(done);
    b_.CreateRetVoid();
  }

  // The tile's one-query form (g = 1; csr's lists probed by one query of the batch): rows one
  // at a time, each read from start to end as the scan kernel reads them (one sequential stream
  // per list; the 4 × 4 block would read four rows at once and compute three copies of the
  // query's sums), sixteen rows' accumulators reduced by one Combine tree. Every pair sums its
  // pieces in the order the 4 × 4 block does, and the tree is the same: the same bits.
  void EmitOneQueryTile(llvm::Value* qs, llvm::Value* x, llvm::Value* n, llvm::Value* tile,
                        llvm::Value* parts, llvm::ArrayType* parts_ty,
                        const std::vector<Piece>& pieces, llvm::BasicBlock* done) {
    llvm::Function* fn = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* chunk = llvm::BasicBlock::Create(ctx_, "one_chunk", fn);
    auto* row = llvm::BasicBlock::Create(ctx_, "one_row", fn);
    auto* reduce = llvm::BasicBlock::Create(ctx_, "one_reduce", fn);
    llvm::Value* q = b_.CreateAlignedLoad(ptr_, qs, llvm::Align(8));
    llvm::Value* last_row = b_.CreateSub(n, b_.getInt64(1));
    // Rows a short last chunk skips keep finite partials (their lanes are not stored).
    b_.CreateAlignedStore(llvm::ConstantAggregateZero::get(parts_ty), parts, llvm::Align(4));
    b_.CreateBr(chunk);

    b_.SetInsertPoint(chunk);
    llvm::PHINode* cj = b_.CreatePHI(i64_, 2, "cj");
    cj->addIncoming(b_.getInt64(0), pre);
    llvm::Value* rows_left = b_.CreateSub(n, cj);
    EmitRowsToParts(q, x, cj, rows_left, last_row, pieces, /*chains=*/1, parts, parts_ty, row,
                    reduce);

    b_.SetInsertPoint(reduce);
    llvm::Value* sums = SumSixteen(LoadSixteen(parts, parts_ty));
    b_.CreateMaskedStore(sums, b_.CreateInBoundsGEP(f32_, tile, cj), llvm::Align(4),
                         LanesBelow(rows_left));
    llvm::Value* cj_next = b_.CreateAdd(cj, b_.getInt64(16));
    cj->addIncoming(cj_next, reduce);
    b_.CreateCondBr(b_.CreateICmpSLT(cj_next, n), chunk, done);
  }

  // void(q, x, x_norms, ids, j0, n, heap_dist, heap_ids): the fused scan + top-k. Sixteen
  // rows per iteration (the last chunk computes only the rows it needs, reads row n - 1 in
  // place of rows past the end and masks them out: no tail loops): each row's 16-wide
  // accumulator is stored, and the sixteen are reduced together by a tree (Combine, h = 8,
  // 4, 2, 1) into one vector of sixteen distances, compared with the threshold at once; the
  // heap is touched only for the lanes that pass.
  //
  // Coded rows (kCodedScanTopK): void(q, codes, scale, float bias, ids, n, heap_dist,
  // heap_ids), eager::CodedScanKernel's contract — rows decoded piece by piece in registers,
  // L2 summed directly as (q - v)^2 (no norms), IP plus bias; labels ids[j].
  void ScanTopK() {
    const bool coded = code_ != RowCodeKind::kF32;
    llvm::Type* arg3 = coded ? f32_ : static_cast<llvm::Type*>(ptr_);
    llvm::Type* arg4 = coded ? static_cast<llvm::Type*>(ptr_) : i64_;
    auto* fn_ty = llvm::FunctionType::get(b_.getVoidTy(),
                                          {ptr_, ptr_, ptr_, arg3, arg4, i64_, ptr_, ptr_}, false);
    llvm::Function* fn = NewFunction(fn_ty);
    for (unsigned a : {0u, 1u, 2u, coded ? 4u : 3u}) {
      fn->addParamAttr(a, llvm::Attribute::NoAlias);
      fn->addParamAttr(a, llvm::Attribute::ReadOnly);
    }
    Scan s;
    s.fn = fn;
    s.q = fn->getArg(0), s.x = fn->getArg(1);
    s.x_norms = coded ? nullptr : fn->getArg(2);
    s.bias = coded ? fn->getArg(3) : nullptr;
    if (code_ == RowCodeKind::kU8) row_scale_ = fn->getArg(2);
    llvm::Value* ids = fn->getArg(coded ? 4 : 3);
    llvm::Value* j0 = coded ? static_cast<llvm::Value*>(b_.getInt64(0)) : fn->getArg(4);
    s.n = fn->getArg(5);
    // L2 as |q|^2 + |x|^2 - 2 q·x with the rows' stored norms: one multiply-add per component
    // instead of a subtract and a multiply-add (eager::TileDistance's formula, clamped at 0).
    // Coded rows have no stored norms: (q - v)^2 summed directly.
    dot_products_ = !coded;
    const llvm::FunctionCallee push = PushCallee();
    s.pieces = Pieces(key_.d);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
    s.chunk = llvm::BasicBlock::Create(ctx_, "rows16", fn);
    s.row = llvm::BasicBlock::Create(ctx_, "rows4", fn);
    s.reduce = llvm::BasicBlock::Create(ctx_, "reduce16", fn);
    s.lanes_loop = llvm::BasicBlock::Create(ctx_, "lanes", fn);
    s.latch = llvm::BasicBlock::Create(ctx_, "rows16_latch", fn);
    s.done = llvm::BasicBlock::Create(ctx_, "done", fn);
    s.vec16 = llvm::FixedVectorType::get(f32_, 16);
    s.lanes_ty = llvm::ArrayType::get(f32_, 16);
    s.parts_ty = llvm::ArrayType::get(s.vec16, 16);

    b_.SetInsertPoint(entry);
    // q·q (float rows only: coded L2 sums (q - v)^2 directly).
    s.q_norm = l2() && !coded ? Reduce(RowAccumulators(s.q, {s.q}, s.pieces)[0]) : nullptr;
    llvm::Value* threshold0 = b_.CreateAlignedLoad(f32_, fn->getArg(6), llvm::Align(4));
    llvm::Value* has_ids = b_.CreateICmpNE(ids, llvm::ConstantPointerNull::get(ptr_));
    s.lanes = b_.CreateAlloca(s.lanes_ty);
    s.parts = b_.CreateAlloca(s.parts_ty);
    s.last = b_.CreateSub(s.n, b_.getInt64(1));
    // Rows a short last chunk skips keep their previous (finite, masked-out) partials.
    b_.CreateAlignedStore(llvm::ConstantAggregateZero::get(s.parts_ty), s.parts, llvm::Align(4));
    llvm::BasicBlock* entry_end = b_.GetInsertBlock();  // |q|^2 may have added a d loop
    b_.CreateCondBr(b_.CreateICmpSGT(s.n, b_.getInt64(0)), s.chunk, s.done);
    s.gate = {has_ids, ids, j0, fn->getArg(6), fn->getArg(7), push};

    b_.SetInsertPoint(s.chunk);
    s.cj = b_.CreatePHI(i64_, 2, "cj");
    s.ct = b_.CreatePHI(f32_, 2, "ct");
    s.cj->addIncoming(b_.getInt64(0), entry_end);
    s.ct->addIncoming(threshold0, entry_end);
    EmitScanRows(s);
    EmitScanReduce(s);
    EmitScanLanes(s);
    b_.SetInsertPoint(s.done);
    b_.CreateRetVoid();
  }

 private:
  // The pieces of the scan kernel under construction, shared by its emitters.
  struct Gate {
    llvm::Value* has_ids;
    llvm::Value* ids;
    llvm::Value* j0;
    llvm::Value* heap_d;
    llvm::Value* heap_i;
    llvm::FunctionCallee push;
  };
  struct Scan {
    llvm::Function* fn;
    llvm::Value *q, *x, *x_norms, *bias, *n, *q_norm, *lanes, *parts, *last;
    std::vector<Piece> pieces;
    llvm::BasicBlock *chunk, *row, *reduce, *lanes_loop, *latch, *done;
    llvm::FixedVectorType* vec16;
    llvm::ArrayType *lanes_ty, *parts_ty;
    llvm::PHINode *cj, *ct;  // the chunk's first row, the threshold entering it
    Gate gate;
    llvm::Value* mask0;      // lanes that pass the threshold (reduce → lanes)
    llvm::Value* lt2;        // the threshold after the lanes loop
    llvm::BasicBlock* lanes_end;
  };

  // The top-k insert the kernel calls: void(float* heap_dist, int64* heap_ids, int64 k,
  // float dist, int64 label); it touches only its pointer arguments, so q and x stay in
  // registers across calls.
  llvm::FunctionCallee PushCallee() {
    auto* push_ty = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, ptr_, i64_, f32_, i64_},
                                            false);
    llvm::FunctionCallee push =
        module_.getOrInsertFunction(l2() ? kPushL2Symbol : kPushIpSymbol, push_ty);
    if (auto* push_fn = llvm::dyn_cast<llvm::Function>(push.getCallee())) {
      push_fn->setMemoryEffects(llvm::MemoryEffects::argMemOnly());
      push_fn->addFnAttr(llvm::Attribute::NoUnwind);
    }
    return push;
  }

  // The chunk's rows one at a time: row cj + i's 16-wide accumulator into parts[i].
  void EmitScanRows(Scan& s) {
    EmitRowsToParts(s.q, s.x, s.cj, b_.CreateSub(s.n, s.cj), s.last, s.pieces, kRowChains,
                    s.parts, s.parts_ty, s.row, s.reduce);
  }

  // The loop that stores, for each i < min(rows_left, 16), the accumulator of row cj + i of x
  // with q (a row past `last` reads row last) to parts[i], one row at a time (one sequential
  // stream per list): emitted into `row` (branched to from the current block), leaving to
  // `after`.
  void EmitRowsToParts(llvm::Value* q, llvm::Value* x, llvm::Value* cj, llvm::Value* rows_left,
                       llvm::Value* last, const std::vector<Piece>& pieces, int chains,
                       llvm::Value* parts, llvm::ArrayType* parts_ty, llvm::BasicBlock* row,
                       llvm::BasicBlock* after) {
    llvm::Value* count = b_.CreateSelect(b_.CreateICmpSGT(rows_left, b_.getInt64(15)),
                                         b_.getInt64(16), rows_left);
    llvm::BasicBlock* from = b_.GetInsertBlock();
    b_.CreateBr(row);
    b_.SetInsertPoint(row);
    llvm::PHINode* i = b_.CreatePHI(i64_, 2, "i");
    i->addIncoming(b_.getInt64(0), from);
    llvm::Value* j = AddClamped(b_.CreateAdd(cj, i), 0, last);
    llvm::Value* at = b_.CreateInBoundsGEP(RowType(), x, b_.CreateMul(j, b_.getInt64(key_.d)));
    PrefetchAhead(at);
    llvm::Value* acc = PairAccumulators({q}, {at}, pieces, chains)[0];
    b_.CreateAlignedStore(acc, b_.CreateInBoundsGEP(parts_ty, parts, {b_.getInt64(0), i}),
                          llvm::Align(4));
    llvm::Value* i_next = b_.CreateAdd(i, b_.getInt64(1));
    i->addIncoming(i_next, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpSLT(i_next, count), row, after);
  }

  // Requests, for each 64-byte line of the row at `row`, the line key_.row_prefetch bytes
  // further (a hint: past the list's end it loads nothing and cannot fault). Lists start cold
  // at random places and a core's own prefetcher stops at each 4 KiB page: docs/jit.md,
  // Session 31.
  void PrefetchAhead(llvm::Value* row) {
    if (key_.row_prefetch <= 0) return;
    const int64_t bytes = key_.d * static_cast<int64_t>(RowType()->getScalarSizeInBits() / 8);
    for (int64_t line = 0; line < bytes; line += 64) {
      llvm::Value* at = b_.CreateGEP(b_.getInt8Ty(), row, b_.getInt64(line + key_.row_prefetch));
      b_.CreateIntrinsic(llvm::Intrinsic::prefetch, {ptr_},
                         {at, b_.getInt32(0), b_.getInt32(3), b_.getInt32(1)});
    }
  }

  // The sixteen stored accumulators reduced to one vector of distances (lane i: row cj + i),
  // L2 completed from the norms, stored to lanes; mask0: the valid lanes that pass.
  void EmitScanReduce(Scan& s) {
    b_.SetInsertPoint(s.reduce);
    llvm::Value* dv = SumSixteen(LoadSixteen(s.parts, s.parts_ty));
    llvm::Value* valid = LanesBelow(b_.CreateSub(s.n, s.cj));
    if (s.bias != nullptr && !l2()) dv = b_.CreateFAdd(dv, b_.CreateVectorSplat(16, s.bias));
    if (l2() && s.x_norms != nullptr) {
      // dist = max(|q|^2 + |x_j|^2 - 2 q·x_j, 0); norms past the end are not read.
      llvm::Value* xn = b_.CreateMaskedLoad(s.vec16, b_.CreateInBoundsGEP(f32_, s.x_norms, s.cj),
                                            llvm::Align(4), valid,
                                            llvm::ConstantAggregateZero::get(s.vec16));
      llvm::Value* v = b_.CreateFSub(b_.CreateFAdd(b_.CreateVectorSplat(16, s.q_norm), xn),
                                     b_.CreateFMul(llvm::ConstantFP::get(s.vec16, 2.0), dv));
      llvm::Value* zero = llvm::ConstantAggregateZero::get(s.vec16);
      dv = b_.CreateSelect(b_.CreateFCmpOGT(v, zero), v, zero);
    }
    b_.CreateAlignedStore(dv, s.lanes, llvm::Align(4));
    llvm::Value* pass_v = l2() ? b_.CreateFCmpOLE(dv, b_.CreateVectorSplat(16, s.ct))
                               : b_.CreateFCmpOGE(dv, b_.CreateVectorSplat(16, s.ct));
    s.mask0 = b_.CreateZExt(b_.CreateBitCast(b_.CreateAnd(pass_v, valid), b_.getInt16Ty()),
                            b_.getInt32Ty());
    b_.CreateCondBr(b_.CreateICmpNE(s.mask0, b_.getInt32(0)), s.lanes_loop, s.latch,
                    llvm::MDBuilder(ctx_).createBranchWeights(1, 16));
  }

  // The passing lanes, lowest first, through the gated push; then the latch to the next chunk.
  void EmitScanLanes(Scan& s) {
    b_.SetInsertPoint(s.lanes_loop);
    llvm::PHINode* m = b_.CreatePHI(b_.getInt32Ty(), 2, "m");
    llvm::PHINode* lt = b_.CreatePHI(f32_, 2, "lt");
    m->addIncoming(s.mask0, s.reduce);
    lt->addIncoming(s.ct, s.reduce);
    llvm::Value* lane = b_.CreateZExt(
        b_.CreateIntrinsic(llvm::Intrinsic::cttz, {b_.getInt32Ty()}, {m, b_.getTrue()}), i64_);
    llvm::Value* ldist = b_.CreateAlignedLoad(
        f32_, b_.CreateInBoundsGEP(s.lanes_ty, s.lanes, {b_.getInt64(0), lane}), llvm::Align(4));
    s.lt2 = EmitGate(s.gate, s.fn, ldist, b_.CreateAdd(s.cj, lane), lt);
    llvm::Value* m2 = b_.CreateAnd(m, b_.CreateSub(m, b_.getInt32(1)));
    s.lanes_end = b_.GetInsertBlock();
    m->addIncoming(m2, s.lanes_end);
    lt->addIncoming(s.lt2, s.lanes_end);
    b_.CreateCondBr(b_.CreateICmpNE(m2, b_.getInt32(0)), s.lanes_loop, s.latch);

    b_.SetInsertPoint(s.latch);
    llvm::PHINode* ct_next = b_.CreatePHI(f32_, 2);
    ct_next->addIncoming(s.ct, s.reduce);
    ct_next->addIncoming(s.lt2, s.lanes_end);
    llvm::Value* cj_next = b_.CreateAdd(s.cj, b_.getInt64(16));
    s.cj->addIncoming(cj_next, s.latch);
    s.ct->addIncoming(ct_next, s.latch);
    b_.CreateCondBr(b_.CreateICmpSLT(cj_next, s.n), s.chunk, s.done);
  }

  // if (dist is at least as good as threshold) { push(dist, label(j)); reload threshold }.
  // Returns the threshold afterwards; leaves the builder in the continuation block.
  llvm::Value* EmitGate(const Gate& g, llvm::Function* fn, llvm::Value* dist, llvm::Value* j,
                        llvm::Value* threshold) {
    auto* insert = llvm::BasicBlock::Create(ctx_, "insert", fn);
    auto* cont = llvm::BasicBlock::Create(ctx_, "cont", fn);
    llvm::BasicBlock* from = b_.GetInsertBlock();
    // Only candidates at least as good as the current k-th reach the (out-of-line) push,
    // which also settles ties by label.
    llvm::Value* pass = l2() ? b_.CreateFCmpOLE(dist, threshold)
                                : b_.CreateFCmpOGE(dist, threshold);
    b_.CreateCondBr(pass, insert, cont, llvm::MDBuilder(ctx_).createBranchWeights(1, 64));
    b_.SetInsertPoint(insert);
    llvm::Value* label = b_.CreateSelect(
        g.has_ids,
        b_.CreateAlignedLoad(i64_, b_.CreateInBoundsGEP(i64_, g.ids, j), llvm::Align(8)),
        b_.CreateAdd(g.j0, j));
    b_.CreateCall(g.push, {g.heap_d, g.heap_i, b_.getInt64(key_.selection()), dist, label});
    llvm::Value* reloaded = b_.CreateAlignedLoad(f32_, g.heap_d, llvm::Align(4));
    b_.CreateBr(cont);
    b_.SetInsertPoint(cont);
    llvm::PHINode* out = b_.CreatePHI(f32_, 2);
    out->addIncoming(threshold, from);
    out->addIncoming(reloaded, insert);
    return out;
  }

  llvm::Function* NewFunction(llvm::FunctionType* ty) {
    llvm::Function* fn = llvm::Function::Create(ty, llvm::Function::ExternalLinkage,
                                                KernelSymbol(key_), module_);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    return fn;
  }

  // min(base + offset, last): blocks past the end read the last row (or query) again.
  llvm::Value* AddClamped(llvm::Value* base, int64_t offset, llvm::Value* last) {
    llvm::Value* v = b_.CreateAdd(base, b_.getInt64(offset));
    return b_.CreateSelect(b_.CreateICmpSGT(v, last), last, v);
  }

  llvm::Value* LoadPiece(llvm::Value* base, const Piece& p) {
    llvm::Value* at = b_.CreateInBoundsGEP(f32_, base, b_.getInt64(p.offset));
    if (p.width == 1) return b_.CreateAlignedLoad(f32_, at, llvm::Align(4));
    return b_.CreateAlignedLoad(llvm::FixedVectorType::get(f32_, p.width), at, llvm::Align(4));
  }

  // A piece of a row as floats: loaded as it is, or decoded from its codes exactly as
  // decode.h's CodeValue does (binary16 widened, bfloat16 as a float's upper half, bytes
  // converted and multiplied by scale).
  llvm::Value* LoadRowPiece(llvm::Value* row, const Piece& p, llvm::Value* scale) {
    if (code_ == RowCodeKind::kF32) return LoadPiece(row, p);
    llvm::Type* elem = RowType();
    llvm::Type* ty = p.width == 1 ? elem : llvm::FixedVectorType::get(elem, p.width);
    llvm::Value* raw = b_.CreateAlignedLoad(
        ty, b_.CreateInBoundsGEP(elem, row, b_.getInt64(p.offset)), llvm::Align(1));
    llvm::Type* out = p.width == 1 ? f32_ : llvm::FixedVectorType::get(f32_, p.width);
    switch (code_) {
      case RowCodeKind::kFp16:
        return b_.CreateFPExt(raw, out);
      case RowCodeKind::kBf16: {
        llvm::Type* wide = p.width == 1 ? static_cast<llvm::Type*>(b_.getInt32Ty())
                                        : llvm::FixedVectorType::get(b_.getInt32Ty(), p.width);
        llvm::Value* bits = b_.CreateShl(b_.CreateZExt(raw, wide), 16);
        return b_.CreateBitCast(bits, out);
      }
      default:
        return b_.CreateFMul(b_.CreateUIToFP(raw, out), LoadPiece(scale, p));
    }
  }

  // The element type rows are read as: float, half (fp16), i16 (bf16) or i8.
  llvm::Type* RowType() {
    switch (code_) {
      case RowCodeKind::kFp16:
        return b_.getHalfTy();
      case RowCodeKind::kBf16:
        return b_.getInt16Ty();
      case RowCodeKind::kU8:
        return b_.getInt8Ty();
      default:
        return f32_;
    }
  }

  llvm::Value* MulAdd(llvm::Value* a, llvm::Value* b, llvm::Value* c) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {a->getType()}, {a, b, c});
  }

  llvm::Value* Reduce(llvm::Value* v) {
    if (!v->getType()->isVectorTy()) return v;
    llvm::Value* r = b_.CreateFAddReduce(llvm::ConstantFP::get(f32_, -0.0), v);
    llvm::cast<llvm::Instruction>(r)->setFastMathFlags(b_.getFastMathFlags());
    return r;
  }

  bool l2() const { return key_.metric == Metric::kL2; }

  const KernelKey& key_;
  const RowCodeKind code_;
  // Byte codes' per-dimension scale (the coded scan's argument), or null.
  llvm::Value* row_scale_ = nullptr;
  // Accumulate q·x even for L2 (the scan kernel turns it into |q|^2 + |x|^2 - 2 q·x).
  bool dot_products_ = false;
  llvm::LLVMContext& ctx_;
  llvm::Module& module_;
  llvm::IRBuilder<> b_;
  llvm::Type* f32_;
  llvm::IntegerType* i64_;
  llvm::PointerType* ptr_;
};

}  // namespace

std::string KernelSymbol(const KernelKey& key) { return "ivfjit_kernel_" + key.Hash(); }

bool TargetHasFeature(std::string_view features, std::string_view feature) {
  // Whole entries only: "+avx512f" must not match "+avx512fp16".
  const std::string list = "," + std::string(features) + ",";
  const size_t on = list.rfind(",+" + std::string(feature) + ",");
  const size_t off = list.rfind(",-" + std::string(feature) + ",");
  return on != std::string::npos && (off == std::string::npos || off < on);
}

std::unique_ptr<llvm::Module> GenerateKernel(const KernelKey& key, llvm::LLVMContext& ctx) {
  auto module = std::make_unique<llvm::Module>(KernelSymbol(key), ctx);
  Generator gen(key, ctx, *module);
  if (key.op == KernelOp::kIpTile) {
    gen.IpTile();
  } else {
    gen.ScanTopK();
  }
  if (llvm::verifyModule(*module, &llvm::errs())) return nullptr;
  return module;
}

}  // namespace ivfjit::jit::cpu_internal
