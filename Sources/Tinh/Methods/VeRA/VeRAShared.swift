/// What the VeRA adapters of one `AdapterSet` share (owned by its `VeRAMethod`):
/// - the frozen projections A [r, maxIn] and B [maxOut, r]: one buffer each for every layer,
///   regenerated from the VeRA seed (PEFT's init: Kaiming-uniform, bound √(6 / fan_in), A drawn
///   before B), never trained, never all-reduced, never stored in checkpoints;
/// - one `VeRAInput` per distinct input of a block (q/k/v read one, gate/up another), which holds
///   A·x of the last forward, so the projection is computed once per input, not once per target;
/// - scratch for backward: Σ dL/d(A·x) of the input being processed [rows, r], and the
///   per-adapter [out, r] matrices of forward and backward.
/// Everything is allocated when the set is initialised or when the batch shape first grows.
final class VeRAShared {
    let rank: Int
    let seed: UInt64
    private(set) var maxIn = 0
    private(set) var maxOut = 0
    /// [rank, maxIn]; A[:, :in] is read in place with row stride maxIn.
    private(set) var a = Tensor(shape: [0])
    /// [maxOut, rank]; B[:out, :] is its first `out` rows.
    private(set) var b = Tensor(shape: [0])
    private var inputs: [String: VeRAInput] = [:]
    /// [maxOut, rank] each: diag(b)·B·diag(d) and dyᵀ·(A·x) of the adapter running.
    let scaled = GrowableBuffer()
    let outer = GrowableBuffer()
    /// Σ over an input's adapters of dL/d(A·x) [rows, rank]; one input at a time.
    let inputGradient = GrowableBuffer()
    private weak var gradientOwner: VeRAInput?
    /// Test hook: how many A·x products were computed.
    private(set) var projections = 0

    init(rank: Int, seed: UInt64) {
        self.rank = rank
        self.seed = seed
    }

    /// Registers an adapter on `linear` (before the projections exist) and returns the input it
    /// reads, shared with the other adapters of the same block that read the same tensor.
    func register(_ linear: Linear) -> VeRAInput {
        precondition(a.count == 0, "VeRA adapter registered after the projections were generated")
        maxIn = max(maxIn, linear.inFeatures)
        maxOut = max(maxOut, linear.outFeatures)
        let key = Self.inputKey(linear.name)
        let input = inputs[key] ?? VeRAInput()
        inputs[key] = input
        input.readers += 1
        return input
    }

    /// q, k and v read the block's first normed input; gate and up the second; o and down their own.
    static func inputKey(_ name: String) -> String {
        guard let dot = name.lastIndex(of: ".") else { return name }
        let block = name[..<dot], leaf = name[name.index(after: dot)...]
        switch leaf {
        case "q_proj", "k_proj", "v_proj": return block + ".attention-input"
        case "gate_proj", "up_proj": return block + ".mlp-input"
        default: return name
        }
    }

    /// Generates A and B (once, after every adapter registered).
    func generateIfNeeded() {
        guard a.count == 0, maxIn > 0 else { return }
        a = Tensor(shape: [rank, maxIn])
        b = Tensor(shape: [maxOut, rank])
        Self.generate(a: a, b: b, seed: seed)
        scaled.reserve(maxOut * rank)
        outer.reserve(maxOut * rank)
    }

    /// PEFT's `_kaiming_init`: U(-bound, bound) with bound = √3·√2/√fan_in, fan_in = shape[1].
    static func generate(a: Tensor, b: Tensor, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for t in [a, b] {
            let bound = (6 / Float(t.shape[1])).squareRoot()
            rng.fillUniform(t.data, count: t.count, lo: -bound, hi: bound)
        }
    }

    /// Replaces the projections (loading an adapter that saved its own, e.g. PEFT's torch draw).
    func replaceProjections(a newA: Tensor, b newB: Tensor) throws {
        guard newA.shape == a.shape, newB.shape == b.shape else {
            throw TinhError.invalidInput("VeRA projections have shapes \(newA.shape) and \(newB.shape); this model and these targets need \(a.shape) and \(b.shape)")
        }
        a.data.update(from: newA.data, count: a.count)
        b.data.update(from: newB.data, count: b.count)
    }

    /// u = x·A[:, :in]ᵀ [rows, r] into `input` (BLAS reads A in place with lda = maxIn).
    func project(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, into input: VeRAInput) {
        let u = input.projected.reserve(rows * rank)
        BLAS.gemm(.none, .transpose, m: rows, n: rank, k: inFeatures, a: x, lda: inFeatures, b: a.data, ldb: maxIn, c: u, ldc: rank)
        projections += 1
    }

    /// Starts or continues the gradient accumulation of `input`; returns the buffer and whether it
    /// must be overwritten (first reader) rather than added to.
    func gradientBuffer(for input: VeRAInput, rows: Int) -> (UnsafeMutablePointer<Float>, first: Bool) {
        if input.pendingReaders == 0 {
            precondition(gradientOwner == nil || gradientOwner === input,
                         "VeRA: backward of one input started before another's finished")
            gradientOwner = input
            return (inputGradient.reserve(rows * rank), true)
        }
        return (inputGradient.ptr, false)
    }

    func finishGradient(of input: VeRAInput) { if gradientOwner === input { gradientOwner = nil } }
}

/// One tensor that several VeRA adapters read (the normed input of a block's q/k/v or gate/up).
final class VeRAInput {
    /// A·x of the last forward [rows, r]; backward reads it.
    let projected = GrowableBuffer()
    /// Adapters reading this input; the first computes A·x in forward, the last to run backward adds
    /// the summed dL/d(A·x)·A to dx.
    var readers = 0
    /// What `projected` was computed from, and a counter that moves on each computation.
    var source: (x: UnsafePointer<Float>, rows: Int)?
    var generation = 0
    /// Readers whose backward has run in the current round.
    var pendingReaders = 0

    /// Whether an adapter that last used `seen` may reuse `projected` for (x, rows): the product is
    /// of this very input and was computed since that adapter's previous forward.
    func canReuse(x: UnsafePointer<Float>, rows: Int, seen: Int) -> Bool {
        guard let s = source else { return false }
        return s.x == x && s.rows == rows && generation != seen
    }
}
