/// A frozen projection y = x·Wᵀ (+ b) with W [out, in] in Hugging Face layout.
/// It keeps no pointer to its input: backward is handed the input explicitly (only when
/// `backwardNeedsInput`), by the block that knows which buffer holds it. Backward produces dX
/// only, unless a weight gradient was requested (`weightGrad`). An optional `adapter` adds a
/// trainable term (see `LinearAdapter`).
public final class Linear {
    /// Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj".
    public let name: String
    /// W [out, in] in its storage (`F32Weight`, often borrowed from the model file's read-only
    /// mapping and shared by every rank on a node, or a quantized `BlockQuantizedWeight`). Read its
    /// values with `weight.withFloats { }`; `makeWeightPrivate()` swaps in an owned Float32 copy
    /// for methods that write W.
    public private(set) var weight: FrozenWeight
    public let bias: Tensor?
    public let inFeatures: Int
    public let outFeatures: Int
    public var adapter: LinearAdapter?
    /// The library of W's Float32 products (the model sets every Linear's; a lone Linear runs the
    /// reference OpenBLAS unless told otherwise).
    public var gemm: FrozenGEMM = .openblas
    /// Where the adapter's time is charged (`Phase.adapter`), when something measures (the model sets every Linear's).
    public var phases: PhaseTimer?
    /// When set, backward accumulates dL/dW [out, in] (+=). Frozen weights leave this nil.
    public var weightGrad: Tensor?
    /// When set, backward accumulates dL/db [out] (+=).
    public var biasGrad: Tensor?
    /// Where the adapter's activation buffers report their size (the model's; a lone Linear has its own).
    public let activationMemory: ActivationMemory

    /// Whether backward reads the saved input (for dW, or an adapter that needs it); otherwise it
    /// needs only dy, and the model neither keeps nor recomputes the input for it.
    public var backwardNeedsInput: Bool { weightGrad != nil || (adapter?.needsInputForBackward ?? false) }

    /// A Linear over a Float32 W, used in place (not copied).
    public convenience init(name: String, weight: Tensor, bias: Tensor? = nil, memory: ActivationMemory? = nil) {
        precondition(weight.rank == 2, "Linear weight must be 2-D")
        self.init(name: name, frozen: F32Weight(weight), bias: bias, memory: memory)
    }

    public init(name: String, frozen weight: FrozenWeight, bias: Tensor? = nil, memory: ActivationMemory? = nil) {
        precondition(bias == nil || bias!.count == weight.outFeatures, "bias size must equal out features")
        self.name = name
        self.weight = weight
        self.bias = bias
        outFeatures = weight.outFeatures
        inFeatures = weight.inFeatures
        activationMemory = memory ?? ActivationMemory()
    }

    /// Replaces W with a private, writable Float32 copy (same values; a quantized W is decoded)
    /// and returns it. The base weights may be a read-only or copy-on-write mapping of the model
    /// file that every rank on the node shares, or quantized; a method that moves W (Delta-LoRA)
    /// must write into memory of its own, and only for the Linears it adapts, so the rest of the
    /// model stays shared (and quantized).
    @discardableResult
    public func makeWeightPrivate() -> Tensor {
        let copy = weight.dequantized()
        weight = F32Weight(copy)
        return copy
    }

    /// Copies W (decoded, if quantized) into `storage` (same shape, e.g. a slice of a flat trainable
    /// buffer) and computes with that Float32 W from now on (full fine-tuning: the optimizer then updates W in place).
    public func moveWeight(into storage: Tensor) {
        precondition(storage.shape == weight.shape, "\(name): weight storage \(storage.shape) for \(weight.shape)")
        weight.withFloats { if storage.data != UnsafeMutablePointer(mutating: $0) { storage.data.update(from: $0, count: storage.count) } }
        weight = F32Weight(storage)
    }

    /// y [rows, out] = x [rows, in] · Wᵀ (+ b) (+ adapter; with `training` it saves what its backward needs).
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, training: Bool = true) {
        weight.multiplyTransposed(x, y, rows: rows, gemm: gemm)
        if let bias {
            for r in 0..<rows {
                let yr = y + r * outFeatures
                for j in 0..<outFeatures { yr[j] += bias.data[j] }
            }
        }
        if let adapter {
            let outer = phases.enter(.adapter)
            adapter.forward(linear: self, x: x, y: y, rows: rows, training: training)
            phases.leave(outer)
        }
    }

    /// dx [rows, in] = dy [rows, out] · W (written, or added when `accumulate`), plus the adapter's
    /// term; also dW += dyᵀ·x and db += Σ dy when those gradients were requested. `input` is the x
    /// [rows, in] of the matching forward; it is read only when `backwardNeedsInput`, and may be nil otherwise.
    public func backward(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>?,
                         rows: Int, accumulate: Bool = false) {
        precondition(input != nil || !backwardNeedsInput, "\(name): backward needs its input")
        // Never read when nil (see the precondition); adapters that do not need x get a placeholder.
        let x = input ?? UnsafePointer(dx)
        // An adapter that rescales the output (DoRA) turns dy into the gradient of the unscaled
        // x·Wᵀ (+ adapter term) here; the bias, added after that scaling, keeps the original dy.
        let outer = phases.enter(.adapter)
        let dyW = adapter?.weightPathGradient(linear: self, dy: dy, rows: rows) ?? dy
        phases.leave(outer)
        weight.multiply(dyW, dx, rows: rows, accumulate: accumulate, gemm: gemm)
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
        if let adapter {
            let outer = phases.enter(.adapter)
            adapter.backward(linear: self, x: x, dy: dyW, dx: dx, rows: rows)
            phases.leave(outer)
        }
    }
}
