import Testing
@testable import Tinh

/// The finite-difference checks every adapter method runs on an adapted tiny model: the gradient
/// of each trainable slot, and dX (the loss w.r.t. the input embeddings) through every layer.
/// Each check runs once per frozen-GEMM library this build and CPU have (`FrozenGEMM.usable`),
/// and leaves the model on the library it had.
enum AdapterGradientChecks {
    static func onEveryLibrary(_ model: DecoderModel, _ body: (FrozenGEMM) -> Void) {
        let original = model.frozenGEMM
        defer { model.frozenGEMM = original }
        for gemm in FrozenGEMM.usable {
            model.frozenGEMM = gemm
            body(gemm)
        }
    }

    static let batch = 2, seq = 7

    /// A sample of `perSlot` entries of every slot in `slots` (default: all).
    /// h = 0.005: with s = α/√r ≈ 3.5 some A entries are sharply curved and h = 0.02 shows truncation error.
    /// `prepare` runs before each slot's check (DoRA freezes its detached norms for A and B).
    static func slots(_ model: DecoderModel, _ set: AdapterSet, perSlot: Int = 6, only slots: [AdapterParameters.Slot]? = nil,
                      prepare: (AdapterParameters.Slot) -> Void = { _ in }, sourceLocation: SourceLocation = #_sourceLocation) {
        onEveryLibrary(model) { gemm in
            check(model, set, perSlot: perSlot, only: slots, gemm: gemm, prepare: prepare, sourceLocation: sourceLocation)
        }
    }

    private static func check(_ model: DecoderModel, _ set: AdapterSet, perSlot: Int, only slots: [AdapterParameters.Slot]?, gemm: FrozenGEMM,
                              prepare: (AdapterParameters.Slot) -> Void, sourceLocation: SourceLocation) {
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: model.config.vocabSize)
        func loss() -> Double { try! model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq).loss }
        _ = loss()
        set.parameters.grads.zero()  // backward adds into them (an earlier library's pass left its gradients)
        model.backward(lossScale: 1)
        let grads = set.parameters.grads.array
        let checker = GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, maxChecks: 12, lossNoise: ModelGradientTests.lossNoise)
        var d = TestData(seed: 4)
        for slot in slots ?? set.parameters.slots {
            let indices = d.sample(perSlot, of: slot.count).map { slot.offset + $0 }
            prepare(slot)
            checker.check("\(slot.name) (\(gemm))", param: set.parameters.values.data, analytic: grads, indices: indices, loss: loss,
                          sourceLocation: sourceLocation)
        }
    }

    /// dX through the whole adapted model.
    static func input(_ model: DecoderModel, _ what: String, maxChecks: Int = 60, sourceLocation: SourceLocation = #_sourceLocation) {
        onEveryLibrary(model) { gemm in input(model, "\(what) (\(gemm))", maxChecks: maxChecks, gemm: gemm, sourceLocation: sourceLocation) }
    }

    private static func input(_ model: DecoderModel, _ what: String, maxChecks: Int, gemm: FrozenGEMM, sourceLocation: SourceLocation) {
        let c = model.config
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        let emb = Tensor(shape: [batch * seq, c.hiddenSize])
        Embedding.forward(out: emb.data, tokens: tokens, table: model.embedTokens.data, rows: tokens.count, dim: c.hiddenSize)
        func loss() -> Double {
            try! model.forward(inputEmbeddings: UnsafeBufferPointer(emb.buffer), targets: targets, lossMask: mask, batch: batch, seq: seq).loss
        }
        _ = loss()
        model.backward(lossScale: 1)
        let checker = GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, maxChecks: maxChecks, lossNoise: ModelGradientTests.lossNoise)
        checker.check(what, param: emb.data, analytic: Array(model.inputEmbeddingGrad), loss: loss, sourceLocation: sourceLocation)
    }
}
