/// A frozen projection y = x·Wᵀ (+ b) with W [out, in] in Hugging Face layout.
/// Forward remembers its input (a pointer into the model's activation buffers, not a copy) for
/// backward; backward produces dX only, unless a weight gradient was requested (`weightGrad`).
/// An optional `adapter` adds a trainable term (see `LinearAdapter`).
public final class Linear {
    /// Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj".
    public let name: String
    /// W [out, in]. Usually borrowed from the model file's read-only mapping and shared by every
    /// rank on a node; `makeWeightPrivate()` swaps in an owned copy for methods that write W.
    public private(set) var weight: Tensor
    public let bias: Tensor?
    public let inFeatures: Int
    public let outFeatures: Int
    public var adapter: LinearAdapter?
    /// When set, backward accumulates dL/dW [out, in] (+=). Frozen weights leave this nil.
    public var weightGrad: Tensor?
    /// When set, backward accumulates dL/db [out] (+=).
    public var biasGrad: Tensor?
    /// Where the adapter's activation buffers report their size (the model's; a lone Linear has its own).
    public let activationMemory: ActivationMemory

    /// Whether backward reads the saved input (for dW, or an adapter that needs it); otherwise it
    /// needs only dy, and the model neither keeps nor recomputes the input for it.
    public var backwardNeedsInput: Bool { weightGrad != nil || (adapter?.needsInputForBackward ?? false) }

    private var savedInput: UnsafePointer<Float>?
    private var savedRows = 0

    public init(name: String, weight: Tensor, bias: Tensor? = nil, memory: ActivationMemory? = nil) {
        precondition(weight.rank == 2, "Linear weight must be 2-D")
        precondition(bias == nil || bias!.count == weight.shape[0], "bias size must equal out features")
        self.name = name
        self.weight = weight
        self.bias = bias
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        activationMemory = memory ?? ActivationMemory()
    }

    /// Replaces W with a private, writable copy (same values) and returns it. The base weights may
    /// be a read-only or copy-on-write mapping of the model file that every rank on the node
    /// shares; a method that moves W (Delta-LoRA) must write into memory of its own, and only for
    /// the Linears it adapts, so the rest of the model stays shared.
    @discardableResult
    public func makeWeightPrivate() -> Tensor {
        weight = weight.copy()
        return weight
    }

    /// Copies W into `storage` (same shape, e.g. a slice of a flat trainable buffer) and computes
    /// with that from now on (full fine-tuning: the optimizer then updates W in place).
    public func moveWeight(into storage: Tensor) {
        precondition(storage.shape == weight.shape, "\(name): weight storage \(storage.shape) for \(weight.shape)")
        if storage.data != weight.data { storage.data.update(from: weight.data, count: weight.count) }
        weight = storage
    }

    /// y [rows, out] = x [rows, in] · Wᵀ (+ b) (+ adapter). `x` must stay valid until `backward`.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, training: Bool = true) {
        savedInput = x
        savedRows = rows
        BLAS.gemm(.none, .transpose, m: rows, n: outFeatures, k: inFeatures,
                  a: x, lda: inFeatures, b: weight.data, ldb: inFeatures, c: y, ldc: outFeatures)
        if let bias {
            for r in 0..<rows {
                let yr = y + r * outFeatures
                for j in 0..<outFeatures { yr[j] += bias.data[j] }
            }
        }
        adapter?.forward(linear: self, x: x, y: y, rows: rows, training: training)
    }

    /// dx [rows, in] = dy [rows, out] · W (written, or added when `accumulate`), plus the adapter's
    /// term; also dW += dyᵀ·x and db += Σ dy when those gradients were requested. The saved input's
    /// contents are valid here only when `backwardNeedsInput` (the model restores it only then).
    public func backward(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        guard let x = savedInput else { preconditionFailure("\(name): backward without forward") }
        let rows = savedRows
        // An adapter that rescales the output (DoRA) turns dy into the gradient of the unscaled
        // x·Wᵀ (+ adapter term) here; the bias, added after that scaling, keeps the original dy.
        let dyW = adapter?.weightPathGradient(linear: self, dy: dy, rows: rows) ?? dy
        BLAS.gemm(.none, .none, m: rows, n: inFeatures, k: outFeatures,
                  a: dyW, lda: outFeatures, b: weight.data, ldb: inFeatures,
                  beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        if let dW = weightGrad {
            BLAS.gemm(.transpose, .none, m: outFeatures, n: inFeatures, k: rows,
                      a: dyW, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: dW.data, ldc: inFeatures)
        }
        if let db = biasGrad {
            for r in 0..<rows {
                let dyr = dy + r * outFeatures
                for j in 0..<outFeatures { db.data[j] += dyr[j] }
            }
        }
        adapter?.backward(linear: self, x: x, dy: dyW, dx: dx, rows: rows)
    }
}
