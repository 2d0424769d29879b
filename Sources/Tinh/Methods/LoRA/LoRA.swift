/// LoRA (Hu et al., 2021): y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with A [r, in] and B [out, r] trainable and W
/// frozen. A starts Kaiming-uniform and B at zero (PEFT's defaults), so training starts from the
/// base model exactly. Forward keeps x·Aᵀ [rows, r] for backward; x itself is the Linear's.
public final class LoRA: LinearAdapter {
    public let rank: Int
    public let scale: Float
    let inFeatures: Int
    let outFeatures: Int
    let parameters: AdapterParameters
    let slotA: Int
    let slotB: Int
    /// x·Aᵀ of the last training forward, and scratch for its gradient: [rows, r] each.
    private let xA: GrowableBuffer
    private let dxA: GrowableBuffer
    /// PiSSA (`--init pissa`): A₀ and B₀ from W's top-r singular triplets; W is then the residual.
    let pissaInitial: (a: Tensor, b: Tensor)?

    /// Reserves A and B for `linear` in `parameters`; with `pissa`, also splits W (`PiSSA`).
    public init(linear: Linear, rank r: Int, scale: Float, parameters: AdapterParameters, pissa: Bool = false) throws {
        try LoRA.checkRank(r, linear)
        rank = r
        self.scale = scale
        inFeatures = linear.inFeatures
        outFeatures = linear.outFeatures
        self.parameters = parameters
        xA = GrowableBuffer(.kept, in: linear.activationMemory)
        dxA = GrowableBuffer(.scratch, in: linear.activationMemory)
        let key = PEFTNames.module(linear.name)
        slotA = parameters.reserve(name: key + ".lora_A.weight", shape: [r, inFeatures], group: "lora_A")
        slotB = parameters.reserve(name: key + ".lora_B.weight", shape: [outFeatures, r], group: "lora_B")
        // PiSSA changes W: into a private copy of this Linear's weight, once, here (not in `initialize`).
        pissaInitial = pissa ? try PiSSA.split(linear.makeWeightPrivate(), rank: r, scale: scale) : nil
    }

    /// Whether the Linear can take rank r (r ≤ min(in, out)).
    static func checkRank(_ r: Int, _ linear: Linear) throws {
        guard r <= min(linear.inFeatures, linear.outFeatures) else {
            throw TinhError.invalidInput("--rank \(r) is larger than \(linear.name) allows (\(linear.outFeatures)×\(linear.inFeatures))")
        }
    }

    /// PEFT's A init: kaiming_uniform_(a=√5) on A [r, in], i.e. U(-b, b) with b = 1/√in.
    static func drawA(_ a: UnsafeMutablePointer<Float>, rank: Int, inFeatures: Int, rng: inout SeededGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        rng.fillUniform(a, count: rank * inFeatures, lo: -bound, hi: bound)
    }

    public func initialize(rng: inout SeededGenerator) {
        if let (a0, b0) = pissaInitial {
            parameters.value(slotA).update(from: a0.data, count: a0.count)
            parameters.value(slotB).update(from: b0.data, count: b0.count)
            return
        }
        LoRA.drawA(parameters.value(slotA), rank: rank, inFeatures: inFeatures, rng: &rng)  // B = 0
        parameters.value(slotB).update(repeating: 0, count: outFeatures * rank)
    }

    /// PiSSA's A₀, B₀: checkpoints keep them (a resume checks that the SVD reproduced them bit for
    /// bit), and the export subtracts them (`PiSSA.convertedTensors`).
    public func frozenTensors() -> [String: Tensor] {
        guard let (a0, b0) = pissaInitial else { return [:] }
        return [PiSSA.initialAKey: a0, PiSSA.initialBKey: b0]
    }

    public func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        let a = parameters.value(slotA), b = parameters.value(slotB)
        let xa = xA.reserve(rows * rank)
        BLAS.gemm(.none, .transpose, m: rows, n: rank, k: inFeatures, a: x, b: a, c: xa)
        BLAS.gemm(.none, .transpose, m: rows, n: outFeatures, k: rank, alpha: scale, a: xa, b: b, beta: 1, c: y)
    }

    public func activationFloats(rows: Int) -> (kept: Int, scratch: Int) { (rows * rank, rows * rank) }

    public func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        let a = parameters.value(slotA), b = parameters.value(slotB)
        let gA = parameters.grad(slotA), gB = parameters.grad(slotB)
        let xa = xA.ptr, dxa = dxA.reserve(rows * rank)
        // dB += s·dyᵀ·(xAᵀ); d(xAᵀ) = s·dy·B; dA += d(xAᵀ)ᵀ·x; dx += d(xAᵀ)·A.
        BLAS.gemm(.transpose, .none, m: outFeatures, n: rank, k: rows, alpha: scale, a: dy, b: xa, beta: 1, c: gB)
        BLAS.gemm(.none, .none, m: rows, n: rank, k: outFeatures, alpha: scale, a: dy, b: b, c: dxa)
        BLAS.gemm(.transpose, .none, m: rank, n: inFeatures, k: rows, a: dxa, b: x, beta: 1, c: gA)
        BLAS.gemm(.none, .none, m: rows, n: inFeatures, k: rank, a: dxa, b: a, beta: 1, c: dx)
    }
}
