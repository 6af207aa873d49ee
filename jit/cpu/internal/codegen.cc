#include "jit/cpu/internal/codegen.h"

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

  // dist(q, row) with four independent accumulator chains for the 16-wide pieces.
  llvm::Value* RowDistance(const std::vector<llvm::Value*>& qv, llvm::Value* row,
                           const std::vector<Piece>& pieces) {
    llvm::Value* acc16[4] = {nullptr, nullptr, nullptr, nullptr};
    llvm::Value* total = nullptr;
    int chain = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
      llvm::Value* xv = LoadPiece(row, pieces[i]);
      llvm::Value* term;
      llvm::Value** acc;
      llvm::Value* tail_acc = nullptr;
      acc = pieces[i].width == 16 ? &acc16[chain++ % 4] : &tail_acc;
      if (key_.l2) {
        llvm::Value* diff = b_.CreateFSub(qv[i], xv);
        term = *acc == nullptr ? b_.CreateFMul(diff, diff)
                               : MulAdd(diff, diff, *acc);
      } else {
        term = *acc == nullptr ? b_.CreateFMul(qv[i], xv) : MulAdd(qv[i], xv, *acc);
      }
      *acc = term;
      if (pieces[i].width != 16) total = Add(total, Reduce(term));
    }
    llvm::Value* sum16 = nullptr;
    for (llvm::Value* a : acc16) {
      if (a != nullptr) sum16 = sum16 == nullptr ? a : b_.CreateFAdd(sum16, a);
    }
    if (sum16 != nullptr) total = Add(total, Reduce(sum16));
    return total;
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
    const std::vector<llvm::Value*> qv = LoadQuery(q, pieces);
    b_.CreateCondBr(b_.CreateICmpSGT(n, b_.getInt64(0)), loop, done);
    b_.SetInsertPoint(loop);
    llvm::PHINode* j = b_.CreatePHI(i64_, 2, "j");
    j->addIncoming(b_.getInt64(0), entry);
    llvm::Value* row = b_.CreateInBoundsGEP(f32_, x, b_.CreateMul(j, b_.getInt64(key_.d)));
    b_.CreateAlignedStore(RowDistance(qv, row, pieces), b_.CreateInBoundsGEP(f32_, out, j),
                          llvm::Align(4));
    llvm::Value* next = b_.CreateAdd(j, b_.getInt64(1));
    j->addIncoming(next, loop);
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
    auto* loop = llvm::BasicBlock::Create(ctx_, "row", fn);
    auto* insert = llvm::BasicBlock::Create(ctx_, "insert", fn);
    auto* latch = llvm::BasicBlock::Create(ctx_, "latch", fn);
    auto* done = llvm::BasicBlock::Create(ctx_, "done", fn);
    b_.SetInsertPoint(entry);
    const std::vector<llvm::Value*> qv = LoadQuery(q, pieces);
    llvm::Value* threshold0 = b_.CreateAlignedLoad(f32_, heap_d, llvm::Align(4));
    llvm::Value* has_ids = b_.CreateICmpNE(ids, llvm::ConstantPointerNull::get(ptr_));
    b_.CreateCondBr(b_.CreateICmpSGT(n, b_.getInt64(0)), loop, done);

    b_.SetInsertPoint(loop);
    llvm::PHINode* j = b_.CreatePHI(i64_, 2, "j");
    llvm::PHINode* threshold = b_.CreatePHI(f32_, 2, "threshold");
    j->addIncoming(b_.getInt64(0), entry);
    threshold->addIncoming(threshold0, entry);
    llvm::Value* row = b_.CreateInBoundsGEP(f32_, x, b_.CreateMul(j, b_.getInt64(key_.d)));
    llvm::Value* dist = RowDistance(qv, row, pieces);
    // Gate: only candidates at least as good as the current k-th go to the (out-of-line) push,
    // which also settles ties by label.
    llvm::Value* pass = key_.l2 ? b_.CreateFCmpOLE(dist, threshold)
                                : b_.CreateFCmpOGE(dist, threshold);
    b_.CreateCondBr(pass, insert, latch, llvm::MDBuilder(ctx_).createBranchWeights(1, 64));

    b_.SetInsertPoint(insert);
    llvm::Value* label = b_.CreateSelect(
        has_ids, b_.CreateAlignedLoad(i64_, b_.CreateInBoundsGEP(i64_, ids, j), llvm::Align(8)),
        b_.CreateAdd(j0, j));
    b_.CreateCall(push, {heap_d, heap_i, b_.getInt64(key_.selection()), dist, label});
    llvm::Value* new_threshold = b_.CreateAlignedLoad(f32_, heap_d, llvm::Align(4));
    b_.CreateBr(latch);

    b_.SetInsertPoint(latch);
    llvm::PHINode* next_threshold = b_.CreatePHI(f32_, 2);
    next_threshold->addIncoming(threshold, loop);
    next_threshold->addIncoming(new_threshold, insert);
    llvm::Value* next = b_.CreateAdd(j, b_.getInt64(1));
    j->addIncoming(next, latch);
    threshold->addIncoming(next_threshold, latch);
    b_.CreateCondBr(b_.CreateICmpSLT(next, n), loop, done);

    b_.SetInsertPoint(done);
    b_.CreateRetVoid();
  }

 private:
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
