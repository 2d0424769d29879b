/// A decoder-only transformer of any family `ArchitectureSpec` describes (Llama, Mistral, Qwen2/3,
/// Gemma 2/3, Phi-3) over frozen weights in Hugging Face names and layout. Training: `forward(tokens:targets:…)` then `backward(lossScale:)`
/// (DecoderModel+Training.swift). Inference: `logits(tokens:…)` and KV-cache `decode`
/// (DecoderModel+Inference.swift). Weights are shared, not copied: the tensors passed in stay the model's.
///
/// Not thread-safe: one model instance runs one pass at a time (its activation buffers are reused).
public final class DecoderModel {
    public let config: DecoderConfig
    /// [vocab, hidden]. Replaced only by full fine-tuning, which moves it into its flat trainable buffer.
    public internal(set) var embedTokens: Tensor
    public let blocks: [DecoderBlock]
    public let finalNorm: NormWeight
    /// The LM head; its weight is `embedTokens` when the head is tied.
    public let lmHead: Linear
    public let isTied: Bool
    /// The RoPE of the global layers, and of the sliding-window ones when the family gives them their own.
    let rope: RoPE
    let localRope: RoPE?
    /// What the activation buffers below (and the adapters' saved products) hold, counted as they grow.
    public let activationMemory = ActivationMemory()
    let ws: Workspace
    /// residual[l] is block l's input [rows, hidden]; residual[numLayers] is the last block's output.
    let residual: [GrowableBuffer]
    /// dL/d(embed_tokens), when requested through `requestGradient(for:)`.
    var embeddingGrad: Tensor?
    /// Called by `backward` as soon as the gradients of a layer are complete: `numLayers` after the
    /// final norm and LM head, then each block's index from the last down to 0 (the data-parallel
    /// trainer starts all-reduces of finished layers here while backward continues).
    public var onLayerBackwardDone: ((Int) -> Void)?

    // The last training forward, which `backward` continues.
    var lastBatch = 0
    var lastSeq = 0
    /// Its packed examples, if any (`AttentionSegments`).
    var lastSegments: AttentionSegments?
    var lastTokens: [Int32] = []
    var hasTokens = false
    var readyForBackward = false
    /// The last training forward went through the fused loss path (DecoderModel+FusedHead.swift).
    var headFused = false
    /// Loss rows per chunk of the fused loss path, 0 for none (DecoderModel+FusedHead.swift).
    public var headChunkRows = DecoderModel.defaultHeadChunkRows
    /// Gradient checkpointing (`setRecomputesBlocks`, DecoderModel+Recompute.swift): backward re-runs each block's forward.
    public internal(set) var recomputesBlocks = false
    /// Whether backward must carry the gradient down to the input embeddings (`inputEmbeddingGrad`:
    /// gradient checks, soft prompts). The trainer turns it off: backward then stops after the lowest
    /// block that has anything trainable (see `lowestTrainableBlock`).
    public var needsInputGradient = true

    /// The buffer every quantized projection decodes into before its GEMMs (sized for the largest).
    public let dequantizationScratch = DequantizationScratch()
    /// Where bf16 weights round their GEMM's activation (x, or dy in backward) to bf16.
    public let bf16Scratch = BF16Scratch()
    /// Where int8 weights quantize their GEMM's activation and keep its int32 products.
    public let int8Scratch = Int8Scratch()
    /// The precision the projection weights were loaded in (a method that writes W, Delta-LoRA,
    /// later gives the Linears it adapts private Float32 copies).
    public let basePrecision: BasePrecision
    /// The library of every projection's and the LM head's Float32 products (`FrozenGEMM`); setting
    /// it sets each Linear's. Results differ between libraries only in summation order.
    public var frozenGEMM: FrozenGEMM {
        didSet { for linear in linears { linear.gemm = frozenGEMM } }
    }
    /// Where the passes charge their time per `Phase` (`tinh bench`); nil (the default): nowhere,
    /// at one branch per mark. Setting it sets every block's and Linear's.
    public var phaseTimer: PhaseTimer? {
        didSet {
            for block in blocks { block.phases = phaseTimer }
            for linear in linears { linear.phases = phaseTimer }
        }
    }

    /// `frozen` holds projection weights in another precision than Float32 (by Hugging Face name);
    /// those not in it come from `weights`. `gemm` runs the Float32 products of the frozen weights.
    public init(config: DecoderConfig, weights: [String: Tensor], frozen: [String: FrozenWeight] = [:],
                gemm: FrozenGEMM = .openblas) throws {
        try config.validate()
        guard config.maxPositions > 0 else { throw TinhError.invalidInput("model config: max_position_embeddings must be positive") }
        let table = WeightTable(weights: weights, frozen: frozen)
        // A head made before (`frozen["lm_head.weight"]`, from a shared base file) is used as it is;
        // the base's precision is the projections'.
        let madeHead = frozen[Self.headName]
        let projections = Array(frozen.filter { $0.key != Self.headName }.values)
        let precisions = Set(projections.map(\.precision))
        guard precisions.count <= 1 else { throw TinhError.invalidInput("model weights: projections in several precisions \(precisions.map(\.rawValue).sorted())") }
        basePrecision = precisions.first ?? .f32
        frozenGEMM = gemm
        let memory = activationMemory
        self.config = config
        embedTokens = try table.require("model.embed_tokens.weight", [config.vocabSize, config.hiddenSize])
        blocks = try (0..<config.numLayers).map { try DecoderBlock(index: $0, config: config, table: table, memory: memory) }
        finalNorm = NormWeight(name: "model.norm.weight", weight: try table.require("model.norm.weight", [config.hiddenSize]))
        // A bf16 base holds the LM head (the largest GEMM) in bf16 too where the CPU computes in bf16;
        // a tied head gets its own bf16 copy, while the embedding lookup keeps reading the Float32
        // table. Without bf16 arithmetic the head stays f32: widening it for every chunk of rows
        // would cost more than its bf16 copy saves.
        // An int8 base holds the head in int8 for the same reason (its own copy when tied).
        let headWeight = { (w: Tensor) throws -> FrozenWeight in try Self.headWeight(w, projections: projections) ?? F32Weight(w) }
        if let madeHead {
            guard madeHead.shape == [config.vocabSize, config.hiddenSize] else {
                throw TinhError.invalidInput("model weights: tensor 'lm_head.weight' has shape \(madeHead.shape), expected \([config.vocabSize, config.hiddenSize])")
            }
            lmHead = Linear(name: "lm_head", frozen: madeHead, memory: memory)
            isTied = config.tieWordEmbeddings
        } else if let head = try table.optional("lm_head.weight", [config.vocabSize, config.hiddenSize]), !config.tieWordEmbeddings {
            lmHead = Linear(name: "lm_head", frozen: try headWeight(head), memory: memory)
            isTied = false
        } else if config.tieWordEmbeddings {
            lmHead = Linear(name: "lm_head", frozen: try headWeight(embedTokens), memory: memory)
            isTied = true
        } else {
            throw TinhError.invalidInput("model weights: missing tensor 'lm_head.weight' (tie_word_embeddings is false)")
        }
        rope = RoPE(headDim: config.headDim, maxPositions: config.maxPositions, theta: config.ropeTheta, scaling: config.ropeScaling)
        localRope = config.spec.localRoPE.map {
            RoPE(headDim: config.headDim, maxPositions: config.maxPositions, theta: $0.theta, scaling: $0.scaling)
        }
        // Block inputs are kept for backward; the last block's output is only copied into the loss path.
        residual = (0...config.numLayers).map { GrowableBuffer($0 < config.numLayers ? .kept : .scratch, in: memory) }
        ws = Workspace(memory: memory)
        for linear in linears {
            linear.gemm = gemm
            (linear.weight as? BlockQuantizedWeight)?.share(dequantizationScratch)
        }
        for linear in linears {
            (linear.weight as? Int8Weight)?.share(int8Scratch, floats: linear === lmHead ? nil : dequantizationScratch)
        }
        for linear in linears {
            guard let w = linear.weight as? BF16Weight else { continue }
            w.share(inputs: bf16Scratch, floats: linear === lmHead ? nil : dequantizationScratch)
            // Widened products read the shared scratch every time: size it now, as quantized weights do.
            if w.arithmetic == .f32, linear !== lmHead { dequantizationScratch.reserve(w.count) }
        }
    }


    static let headName = "lm_head.weight"

    /// The LM head in the base's precision where that pays, or nil for Float32 (`w` stays the
    /// caller's): with an int8 base in int8, with a bf16 base in bf16 where the CPU computes in
    /// bf16 (widening it for every chunk of rows would cost more than its bf16 copy saves).
    public static func headWeight(_ w: Tensor, projections: [FrozenWeight]) throws -> FrozenWeight? {
        if projections.contains(where: { $0.precision == .int8 }) { return try Int8Weight(quantizing: w, name: headName) }
        if projections.contains(where: { ($0 as? BF16Weight)?.arithmetic == .bf16 }) {
            return try BF16Weight(rounding: w, name: headName, arithmetic: .bf16)
        }
        return nil
    }

    /// Seconds to decode every quantized projection once into the shared buffer (a training
    /// micro-batch decodes each twice: forward and backward); 0 for an f32 base.
    public func timeDequantization() -> Double {
        let start = monotonicSeconds()
        var sink: Float = 0
        for linear in blocks.flatMap(\.linears) where linear.weight is BlockQuantizedWeight || (linear.weight as? BF16Weight)?.arithmetic == .f32 {
            sink += linear.weight.withFloats { $0[0] }
        }
        return sink.isNaN ? 0 : monotonicSeconds() - start
    }

    /// Bytes the projection weights of every block hold (their codes and scales, or Float32 values).
    public var projectionBytes: Int { blocks.flatMap(\.linears).reduce(0) { $0 + $1.weight.storageBytes } }

    /// Every projection, in block order then lm_head; names are Hugging Face module names.
    public var linears: [Linear] { blocks.flatMap(\.linears) + [lmHead] }

    public func linear(named name: String) -> Linear? { linears.first { $0.name == name } }

    // MARK: shared pieces of the passes

    func checkShape(batch: Int, seq: Int, count: Int, what: String, past: Int = 0) throws {
        guard batch > 0, seq > 0 else { throw TinhError.invalidInput("batch (\(batch)) and sequence length (\(seq)) must be positive") }
        guard count == batch * seq else {
            throw TinhError.invalidInput("\(what): \(count) values for batch \(batch) × seq \(seq)")
        }
        guard past + seq <= config.maxPositions else {
            throw TinhError.invalidInput("sequence of \(past + seq) positions exceeds the model's maximum of \(config.maxPositions)")
        }
    }

    func checkTokens(_ tokens: [Int32]) throws {
        let v = Int32(config.vocabSize)
        if let bad = tokens.first(where: { $0 < 0 || $0 >= v }) {
            throw TinhError.invalidInput("token id \(bad) outside the vocabulary (0..<\(v))")
        }
    }

    /// The RoPE block `l` rotates with.
    func rope(layer l: Int) -> RoPE {
        blocks[l].attention.localRoPE ? localRope ?? rope : rope
    }

    /// residual[0] = embedding rows of `tokens` (times the family's embedding scale).
    func embed(_ tokens: [Int32]) {
        let rows = tokens.count, hid = config.hiddenSize
        let outer = phaseTimer.enter(.embedding)
        defer { phaseTimer.leave(outer) }
        residual[0].reserve(rows * hid)
        tokens.withUnsafeBufferPointer {
            Embedding.forward(out: residual[0].ptr, tokens: $0.baseAddress!, table: embedTokens.data, rows: rows, dim: hid)
        }
        if let s = config.spec.embeddingScale { scale(residual[0].ptr, by: s, count: rows * hid) }
    }

    /// Runs every block from residual[0]; the result is in residual[numLayers].
    func runBlocks(batch: Int, seq: Int, training: Bool, cache: KVCache? = nil, segments: AttentionSegments? = nil) {
        let rows = batch * seq, hid = config.hiddenSize
        for (l, block) in blocks.enumerated() {
            residual[l + 1].reserve(rows * hid)
            block.forward(x: residual[l].ptr, out: residual[l + 1].ptr, batch: batch, seq: seq,
                          rope: rope(layer: l), ws: ws, cache: cache?.slot(layer: l), training: training, segments: segments)
        }
    }

    /// Final norm + LM head for the given rows of the last residual: writes ws.lossIn/lossNorm/logits.
    func head(rows selected: [Int], training: Bool) {
        let n = selected.count, hid = config.hiddenSize, vocab = config.vocabSize
        ws.lossIn.reserve(n * hid); ws.lossNorm.reserve(n * hid); ws.lossRstd.reserve(n)
        ws.logits.reserve(n * vocab)
        let last = residual[config.numLayers].ptr
        for (i, r) in selected.enumerated() {
            (ws.lossIn.ptr + i * hid).update(from: last + r * hid, count: hid)
        }
        RMSNorm.forward(out: ws.lossNorm.ptr, rstd: ws.lossRstd.ptr, inp: ws.lossIn.ptr, weight: finalNorm.weight.data,
                        rows: n, dim: hid, eps: config.rmsNormEps, shift: config.spec.normShift)
        lmHead.forward(ws.lossNorm.ptr, ws.logits.ptr, rows: n, training: training)
        if let cap = config.spec.finalLogitSoftcap { Softcap.forward(ws.logits.ptr, count: n * vocab, cap: cap) }
    }
}
