#include "jit/cpu/internal/codegen.h"

#include <array>
#include <vector>

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

// Up to this many 16-wide pieces d is unrolled completely; beyond, RowDistancesBlocked.
constexpr size_t kUnrollPieces = 16;
constexpr int64_t kBlockPieces = 8;

class Generator {
 public:
  Generator(const KernelKey& key, llvm::LLVMContext& ctx, llvm::Module& module)
      : key_(key), ctx_(ctx), module_(module), b_(ctx) {
    llvm::FastMathFlags fmf;
    fmf.setAllowReassoc();   // the reductions reassociate (vectorized sums)
    fmf.setAllowContract();  // a * b + c may become an FMA
    b_.setFastMathFlags(fmf);
    f32_ = b_.getFloatTy();
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
  }

  // q's pieces, loaded once in the entry block and kept for every row.
  std::vector<llvm::Value*> LoadQuery(llvm::Value* q, const std::vector<Piece>& pieces) {
    std::vector<llvm::Value*> qv;
    for (const Piece& p : pieces) qv.push_back(LoadPiece(q, p));
    return qv;
  }

  // dist(q, row_r) for R rows at once: each q piece is loaded once and used by every row
  // (qv holds q's pieces when they were loaded up front; otherwise they are loaded here, from
  // L1, which beats keeping dozens of spilled registers for large d). Two accumulator chains
  // per row for the 16-wide pieces.
  using Accumulators = std::vector<std::array<llvm::Value*, 2>>;

  std::vector<llvm::Value*> RowDistances(const std::vector<llvm::Value*>& qv, llvm::Value* q,
                                         const std::vector<llvm::Value*>& rows,
                                         const std::vector<Piece>& pieces) {
    if (pieces.size() > kUnrollPieces) return RowDistancesBlocked(q, rows);
    Accumulators acc(rows.size(), {nullptr, nullptr});
    const std::vector<llvm::Value*> narrow = AccumulatePieces(qv, q, rows, pieces, acc);
    return FinishRows(acc, narrow);
  }

  // Large d: a loop over blocks of kBlockPieces 16-wide pieces with a constant trip count
  // (d / (16 · kBlockPieces), known at compile time), then the rest of d unrolled. Fully
  // unrolling d = 784 would make a loop body too large for the CPU's decoded-instruction
  // cache (measured 2× slower than this).
  std::vector<llvm::Value*> RowDistancesBlocked(llvm::Value* q,
                                                const std::vector<llvm::Value*>& rows) {
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
    Accumulators acc(rows.size());
    std::vector<std::array<llvm::PHINode*, 2>> phis(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      for (int h = 0; h < 2; ++h) {
        phis[r][h] = b_.CreatePHI(vec16, 2);
        phis[r][h]->addIncoming(zero, pre);
        acc[r][h] = phis[r][h];
      }
    }
    llvm::Value* offset = b_.CreateMul(c, b_.getInt64(block));
    llvm::Value* qb = b_.CreateInBoundsGEP(f32_, q, offset);
    std::vector<llvm::Value*> rb;
    for (llvm::Value* row : rows) rb.push_back(b_.CreateInBoundsGEP(f32_, row, offset));
    std::vector<Piece> pieces;
    for (int64_t i = 0; i < kBlockPieces; ++i) pieces.push_back({16 * i, 16});
    std::vector<llvm::Value*> partial = AccumulatePieces({}, qb, rb, pieces, acc);
    (void)partial;  // 16-wide pieces only: nothing outside the accumulators
    llvm::Value* next = b_.CreateAdd(c, b_.getInt64(1));
    llvm::BasicBlock* body_end = b_.GetInsertBlock();
    c->addIncoming(next, body_end);
    for (size_t r = 0; r < rows.size(); ++r) {
      for (int h = 0; h < 2; ++h) phis[r][h]->addIncoming(acc[r][h], body_end);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(next, b_.getInt64(blocks)), body, after);
    b_.SetInsertPoint(after);
    // The rest of d, unrolled.
    std::vector<Piece> rest;
    for (const Piece& p : Pieces(key_.d - blocks * block)) {
      rest.push_back({p.offset + blocks * block, p.width});
    }
    const std::vector<llvm::Value*> narrow = AccumulatePieces({}, q, rows, rest, acc);
    return FinishRows(acc, narrow);
  }

  // Accumulates the pieces into acc (16-wide) and returns the per-row sums of the narrower
  // pieces (null where none).
  std::vector<llvm::Value*> AccumulatePieces(const std::vector<llvm::Value*>& qv, llvm::Value* q,
                                             const std::vector<llvm::Value*>& rows,
                                             const std::vector<Piece>& pieces,
                                             Accumulators& acc) {
    const size_t r_count = rows.size();
    std::vector<llvm::Value*> total(r_count, nullptr);
    int chain = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
      llvm::Value* qp = qv.empty() ? LoadPiece(q, pieces[i]) : qv[i];
      const bool wide = pieces[i].width == 16;
      for (size_t r = 0; r < r_count; ++r) {
        llvm::Value* xv = LoadPiece(rows[r], pieces[i]);
        llvm::Value* a = xv;
        llvm::Value* bv = qp;
        if (key_.l2) {
          a = b_.CreateFSub(qp, xv);
          bv = a;
        }
        if (wide) {
          llvm::Value*& slot = acc[r][chain % 2];
          slot = slot == nullptr ? b_.CreateFMul(a, bv) : MulAdd(a, bv, slot);
        } else {
          total[r] = Add(total[r], Reduce(b_.CreateFMul(a, bv)));
        }
      }
      if (wide) ++chain;
    }
    return total;
  }

  // Per row: the two accumulator chains reduced, plus the narrow pieces' sum.
  std::vector<llvm::Value*> FinishRows(const Accumulators& acc,
                                       const std::vector<llvm::Value*>& narrow) {
    std::vector<llvm::Value*> out(narrow.size());
    for (size_t r = 0; r < narrow.size(); ++r) {
      llvm::Value* sum = acc[r][0];
      if (acc[r][1] != nullptr) sum = sum == nullptr ? acc[r][1] : b_.CreateFAdd(sum, acc[r][1]);
      out[r] = sum == nullptr ? narrow[r] : Add(narrow[r], Reduce(sum));
    }
    return out;
  }

  // q's pieces up front only when they fit in registers next to the accumulators.
  std::vector<llvm::Value*> MaybeLoadQuery(llvm::Value* q, const std::vector<Piece>& pieces) {
    if (pieces.size() > 8) return {};
    return LoadQuery(q, pieces);
  }

  void DistanceRows() {
    auto* fn_ty = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, ptr_, i64_, ptr_}, false);
    llvm::Function* fn = NewFunction(fn_ty);
    llvm::Value *q = fn->getArg(0), *x = fn->getArg(1), *n = fn->getArg(2),
                *out = fn->getArg(3);
    const std::vector<Piece> pieces = Pieces(key_.d);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
    auto* loop = llvm::BasicBlock::Create(ctx_, "row", fn);
    auto* done = llvm::BasicBlock::Create(ctx_, "done", fn);
    b_.SetInsertPoint(entry);
    const std::vector<llvm::Value*> qv = MaybeLoadQuery(q, pieces);
    b_.CreateCondBr(b_.CreateICmpSGT(n, b_.getInt64(0)), loop, done);
    b_.SetInsertPoint(loop);
    llvm::PHINode* j = b_.CreatePHI(i64_, 2, "j");
    j->addIncoming(b_.getInt64(0), entry);
    llvm::Value* row = b_.CreateInBoundsGEP(f32_, x, b_.CreateMul(j, b_.getInt64(key_.d)));
    b_.CreateAlignedStore(RowDistances(qv, q, {row}, pieces)[0],
                          b_.CreateInBoundsGEP(f32_, out, j), llvm::Align(4));
    llvm::Value* next = b_.CreateAdd(j, b_.getInt64(1));
    j->addIncoming(next, b_.GetInsertBlock());  // the d-block loop may have added blocks
    b_.CreateCondBr(b_.CreateICmpSLT(next, n), loop, done);
    b_.SetInsertPoint(done);
    b_.CreateRetVoid();
  }

  void ScanTopK() {
    // void(q, x, ids, j0, n, heap_dist, heap_ids)
    auto* fn_ty = llvm::FunctionType::get(
        b_.getVoidTy(), {ptr_, ptr_, ptr_, i64_, i64_, ptr_, ptr_}, false);
    llvm::Function* fn = NewFunction(fn_ty);
    for (unsigned a : {0u, 1u, 2u}) {
      fn->addParamAttr(a, llvm::Attribute::NoAlias);
      fn->addParamAttr(a, llvm::Attribute::ReadOnly);
    }
    llvm::Value *q = fn->getArg(0), *x = fn->getArg(1), *ids = fn->getArg(2),
                *j0 = fn->getArg(3), *n = fn->getArg(4), *heap_d = fn->getArg(5),
                *heap_i = fn->getArg(6);
    // The push: void(float* heap_dist, int64* heap_ids, int64 k, float dist, int64 label);
    // it touches only its pointer arguments, so q and x stay in registers across calls.
    auto* push_ty = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, ptr_, i64_, f32_, i64_},
                                            false);
    llvm::FunctionCallee push = module_.getOrInsertFunction(
        key_.l2 ? kPushL2Symbol : kPushIpSymbol, push_ty);
    if (auto* push_fn = llvm::dyn_cast<llvm::Function>(push.getCallee())) {
      push_fn->setMemoryEffects(llvm::MemoryEffects::argMemOnly());
      push_fn->addFnAttr(llvm::Attribute::NoUnwind);
    }
    const std::vector<Piece> pieces = Pieces(key_.d);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
    auto* chunk_loop = llvm::BasicBlock::Create(ctx_, "rows16", fn);
    auto* after16 = llvm::BasicBlock::Create(ctx_, "after16", fn);
    auto* done = llvm::BasicBlock::Create(ctx_, "done", fn);
    b_.SetInsertPoint(entry);
    const std::vector<llvm::Value*> qv = MaybeLoadQuery(q, pieces);
    llvm::Value* threshold0 = b_.CreateAlignedLoad(f32_, heap_d, llvm::Align(4));
    llvm::Value* has_ids = b_.CreateICmpNE(ids, llvm::ConstantPointerNull::get(ptr_));
    auto* lanes_ty = llvm::ArrayType::get(f32_, 16);
    llvm::Value* lanes = b_.CreateAlloca(lanes_ty);
    llvm::Value* n16 = b_.CreateAnd(n, b_.getInt64(~int64_t{15}));  // rows done 16 at a time
    llvm::Value* n4 = b_.CreateAnd(n, b_.getInt64(~int64_t{3}));    // then 4 at a time
    b_.CreateCondBr(b_.CreateICmpSGT(n16, b_.getInt64(0)), chunk_loop, after16);
    Gate gate{has_ids, ids, j0, heap_d, heap_i, push};

    // Sixteen rows per iteration: their distances into a 16-lane buffer, then one vector
    // compare against the threshold; the heap is touched only for the lanes that pass.
    b_.SetInsertPoint(chunk_loop);
    llvm::PHINode* cj = b_.CreatePHI(i64_, 2, "cj");
    llvm::PHINode* ct = b_.CreatePHI(f32_, 2, "ct");
    cj->addIncoming(b_.getInt64(0), entry);
    ct->addIncoming(threshold0, entry);
    for (int blk = 0; blk < 4; ++blk) {
      const std::vector<llvm::Value*> dists =
          RowDistances(qv, q, RowPointers(x, cj, 4 * blk, 4), pieces);
      for (int r = 0; r < 4; ++r) {
        b_.CreateAlignedStore(dists[r], b_.CreateConstInBoundsGEP2_64(lanes_ty, lanes, 0, 4 * blk + r),
                              llvm::Align(4));
      }
    }
    auto* vec16 = llvm::FixedVectorType::get(f32_, 16);
    llvm::Value* dv = b_.CreateAlignedLoad(vec16, lanes, llvm::Align(4));
    llvm::Value* splat = b_.CreateVectorSplat(16, ct);
    llvm::Value* pass_v = key_.l2 ? b_.CreateFCmpOLE(dv, splat) : b_.CreateFCmpOGE(dv, splat);
    llvm::Value* mask0 = b_.CreateZExt(b_.CreateBitCast(pass_v, b_.getInt16Ty()), b_.getInt32Ty());
    auto* lanes_loop = llvm::BasicBlock::Create(ctx_, "lanes", fn);
    auto* chunk_latch = llvm::BasicBlock::Create(ctx_, "rows16_latch", fn);
    llvm::BasicBlock* chunk_body_end = b_.GetInsertBlock();
    b_.CreateCondBr(b_.CreateICmpNE(mask0, b_.getInt32(0)), lanes_loop, chunk_latch,
                    llvm::MDBuilder(ctx_).createBranchWeights(1, 16));
    b_.SetInsertPoint(lanes_loop);
    llvm::PHINode* m = b_.CreatePHI(b_.getInt32Ty(), 2, "m");
    llvm::PHINode* lt = b_.CreatePHI(f32_, 2, "lt");
    m->addIncoming(mask0, chunk_body_end);
    lt->addIncoming(ct, chunk_body_end);
    llvm::Value* lane = b_.CreateZExt(
        b_.CreateIntrinsic(llvm::Intrinsic::cttz, {b_.getInt32Ty()}, {m, b_.getTrue()}), i64_);
    llvm::Value* ldist = b_.CreateAlignedLoad(
        f32_, b_.CreateInBoundsGEP(lanes_ty, lanes, {b_.getInt64(0), lane}), llvm::Align(4));
    llvm::Value* lt2 = EmitGate(gate, fn, ldist, b_.CreateAdd(cj, lane), lt);
    llvm::Value* m2 = b_.CreateAnd(m, b_.CreateSub(m, b_.getInt32(1)));
    llvm::BasicBlock* lanes_end = b_.GetInsertBlock();
    m->addIncoming(m2, lanes_end);
    lt->addIncoming(lt2, lanes_end);
    b_.CreateCondBr(b_.CreateICmpNE(m2, b_.getInt32(0)), lanes_loop, chunk_latch);
    b_.SetInsertPoint(chunk_latch);
    llvm::PHINode* ct_next = b_.CreatePHI(f32_, 2);
    ct_next->addIncoming(ct, chunk_body_end);
    ct_next->addIncoming(lt2, lanes_end);
    llvm::Value* cj_next = b_.CreateAdd(cj, b_.getInt64(16));
    cj->addIncoming(cj_next, chunk_latch);
    ct->addIncoming(ct_next, chunk_latch);
    b_.CreateCondBr(b_.CreateICmpSLT(cj_next, n16), chunk_loop, after16);

    b_.SetInsertPoint(after16);
    llvm::PHINode* j_start = b_.CreatePHI(i64_, 2);
    llvm::PHINode* t_start = b_.CreatePHI(f32_, 2);
    j_start->addIncoming(b_.getInt64(0), entry);
    t_start->addIncoming(threshold0, entry);
    j_start->addIncoming(cj_next, chunk_latch);
    t_start->addIncoming(ct_next, chunk_latch);

    // Then up to twelve rows four at a time, and the last n % 4 one by one.
    const RowsLoop rows_loop{fn, gate, qv, q, x, pieces};
    const Cursor after4 = EmitGatedRows(rows_loop, 4, {j_start, t_start}, n4);
    EmitGatedRows(rows_loop, 1, after4, n);
    b_.CreateBr(done);

    b_.SetInsertPoint(done);
    b_.CreateRetVoid();
  }

 private:
  // Pointers to rows j + first .. j + first + count - 1 of x (rows of d floats).
  std::vector<llvm::Value*> RowPointers(llvm::Value* x, llvm::Value* j, int first, int count) {
    std::vector<llvm::Value*> rows;
    for (int r = first; r < first + count; ++r) {
      llvm::Value* jr = b_.CreateAdd(j, b_.getInt64(r));
      rows.push_back(b_.CreateInBoundsGEP(f32_, x, b_.CreateMul(jr, b_.getInt64(key_.d))));
    }
    return rows;
  }

  struct Gate;

  // Position of a scan: the next row and the threshold at that point.
  struct Cursor {
    llvm::Value* j;
    llvm::Value* threshold;
  };
  // What a rows loop needs from the kernel being generated.
  struct RowsLoop {
    llvm::Function* fn;
    const Gate& gate;
    const std::vector<llvm::Value*>& qv;
    llvm::Value* q;
    llvm::Value* x;
    const std::vector<Piece>& pieces;
  };

  // for (j = from.j; j < bound; j += rows) { rows distances; gate each } — entered only when
  // from.j < bound; leaves the builder after the loop and returns where the scan stands.
  Cursor EmitGatedRows(const RowsLoop& L, int rows, Cursor from, llvm::Value* bound) {
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* loop = llvm::BasicBlock::Create(ctx_, "rows", L.fn);
    auto* exit = llvm::BasicBlock::Create(ctx_, "rows_done", L.fn);
    b_.CreateCondBr(b_.CreateICmpSLT(from.j, bound), loop, exit);
    b_.SetInsertPoint(loop);
    llvm::PHINode* j = b_.CreatePHI(i64_, 2, "j");
    llvm::PHINode* threshold = b_.CreatePHI(f32_, 2, "threshold");
    j->addIncoming(from.j, pre);
    threshold->addIncoming(from.threshold, pre);
    const std::vector<llvm::Value*> dists =
        RowDistances(L.qv, L.q, RowPointers(L.x, j, 0, rows), L.pieces);
    llvm::Value* t = threshold;
    for (int r = 0; r < rows; ++r) {
      t = EmitGate(L.gate, L.fn, dists[r], b_.CreateAdd(j, b_.getInt64(r)), t);
    }
    llvm::Value* next = b_.CreateAdd(j, b_.getInt64(rows));
    llvm::BasicBlock* end = b_.GetInsertBlock();
    j->addIncoming(next, end);
    threshold->addIncoming(t, end);
    b_.CreateCondBr(b_.CreateICmpSLT(next, bound), loop, exit);
    b_.SetInsertPoint(exit);
    llvm::PHINode* out_j = b_.CreatePHI(i64_, 2);
    llvm::PHINode* out_t = b_.CreatePHI(f32_, 2);
    out_j->addIncoming(from.j, pre);
    out_t->addIncoming(from.threshold, pre);
    out_j->addIncoming(next, end);
    out_t->addIncoming(t, end);
    return {out_j, out_t};
  }

  struct Gate {
    llvm::Value* has_ids;
    llvm::Value* ids;
    llvm::Value* j0;
    llvm::Value* heap_d;
    llvm::Value* heap_i;
    llvm::FunctionCallee push;
  };

  // if (dist is at least as good as threshold) { push(dist, label(j)); reload threshold }.
  // Returns the threshold afterwards; leaves the builder in the continuation block.
  llvm::Value* EmitGate(const Gate& g, llvm::Function* fn, llvm::Value* dist, llvm::Value* j,
                        llvm::Value* threshold) {
    auto* insert = llvm::BasicBlock::Create(ctx_, "insert", fn);
    auto* cont = llvm::BasicBlock::Create(ctx_, "cont", fn);
    llvm::BasicBlock* from = b_.GetInsertBlock();
    // Only candidates at least as good as the current k-th reach the (out-of-line) push,
    // which also settles ties by label.
    llvm::Value* pass = key_.l2 ? b_.CreateFCmpOLE(dist, threshold)
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

  llvm::Value* LoadPiece(llvm::Value* base, const Piece& p) {
    llvm::Value* at = b_.CreateInBoundsGEP(f32_, base, b_.getInt64(p.offset));
    if (p.width == 1) return b_.CreateAlignedLoad(f32_, at, llvm::Align(4));
    return b_.CreateAlignedLoad(llvm::FixedVectorType::get(f32_, p.width), at, llvm::Align(4));
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

  llvm::Value* Add(llvm::Value* a, llvm::Value* b) { return a == nullptr ? b : b_.CreateFAdd(a, b); }

  const KernelKey& key_;
  llvm::LLVMContext& ctx_;
  llvm::Module& module_;
  llvm::IRBuilder<> b_;
  llvm::Type* f32_;
  llvm::IntegerType* i64_;
  llvm::PointerType* ptr_;
};

}  // namespace

std::string KernelSymbol(const KernelKey& key) { return "ivfjit_kernel_" + key.Hash(); }

std::unique_ptr<llvm::Module> GenerateKernel(const KernelKey& key, llvm::LLVMContext& ctx) {
  auto module = std::make_unique<llvm::Module>(KernelSymbol(key), ctx);
  Generator gen(key, ctx, *module);
  if (key.op == KernelOp::kDistanceRows) {
    gen.DistanceRows();
  } else {
    gen.ScanTopK();
  }
  if (llvm::verifyModule(*module, &llvm::errs())) return nullptr;
  return module;
}

}  // namespace ivfjit::jit::cpu_internal
