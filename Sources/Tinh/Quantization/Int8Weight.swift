import Foundation

/// W [out, in] held as int8 codes with one f32 scale per row and block of input columns
/// (`Int8Matrix.blockSize(forColumns:)`) (symmetric: W[o, i] ≈ s[o, b(i)]·code[o, i], s = max|W[o, block]| / levels), a
/// quarter of Float32's bytes. Both products run on oneDNN's int8 GEMM (`Int8GEMM`), one GEMM per
/// block of the input axis, with the other operand quantized dynamically right before it:
///
/// - forward y = x·Wᵀ: each (row, block) of x gets its own scale;
///   y[t, o] = Σ_b s_x[t, b]·s[o, b]·Σ_{i∈b} x̂[t, i]·code[o, i], the int32 sums widened per block.
/// - backward dx = dy·W: for the columns of block b, the weight's scales s[·, b] lie along the summed
///   axis, so they are folded into dy first (v = dy ⊙ s[·, b]), then each row of v is quantized:
///   dx[t, i∈b] = s_v[t]·Σ_o v̂[t, o]·code[o, i].
///
/// Why blocks and not one scale per row: in a trained LLM a few input channels of x (and of W's rows)
/// are far larger than the rest, and one scale per row spends the 127 levels on them. On SmolLM2 a
/// per-row base raised eval loss by 7%; blocks of ≤ 256 confine an outlier to its block.
///
/// The integer sums are exact, so the only errors are the two roundings to codes: per term at most
/// half a step of each operand (see `Int8BaseTests` for the bound). Code that reads W itself
/// (`withFloats`: DoRA's row norms, merging) sees s·code, exactly the W the GEMMs use.
public final class Int8Weight: FrozenWeight {
    public let matrix: Int8Matrix
    /// Where x or dy is quantized and the int32 products land; the model gives all its int8 weights one.
    public private(set) var scratch = Int8Scratch()
    /// Where `withFloats` widens W; nil: a temporary buffer per call (the LM head).
    public private(set) var floatScratch: DequantizationScratch?

    /// Quantizes a Float32 W [out, in] per row and block with this CPU's `Int8GEMM.weightLevels`.
    /// Throws when this build cannot run int8 GEMMs.
    public init(quantizing w: UnsafePointer<Float>, out: Int, in inFeatures: Int, name: String = "weight",
                levels: Int = Int8GEMM.weightLevels, blockSize: Int? = nil) throws {
        try Int8GEMM.requireSupport()
        guard out > 0, inFeatures > 0 else { throw TinhError.invalidInput("\(name): an int8 weight needs a non-empty shape, got [\(out), \(inFeatures)]") }
        matrix = Int8Matrix(quantizing: w, rows: out, cols: inFeatures, levels: levels, blockSize: blockSize ?? Int8Matrix.blockSize(forColumns: inFeatures))
        if let bad = (0..<out * matrix.blocks).first(where: { !matrix.scales[$0].isFinite }) {
            throw TinhError.invalidInput("\(name): row \(bad % out) holds Inf or NaN; it cannot be quantized to int8")
        }
    }

    /// A matrix quantized before (a mapped base file's).
    public init(_ matrix: Int8Matrix) throws {
        try Int8GEMM.requireSupport()
        self.matrix = matrix
    }

    public convenience init(quantizing tensor: Tensor, name: String = "weight", blockSize: Int? = nil) throws {
        guard tensor.rank == 2 else { throw TinhError.invalidInput("\(name): an int8 weight must be 2-D, got \(tensor.shape)") }
        try self.init(quantizing: tensor.data, out: tensor.shape[0], in: tensor.shape[1], name: name, blockSize: blockSize)
    }

    public var outFeatures: Int { matrix.rows }
    public var inFeatures: Int { matrix.cols }
    public var precision: BasePrecision { .int8 }
    public var storageBytes: Int { matrix.bytes }
    public var formatName: String { "INT8 (a scale per row and \(matrix.blockSize) columns, ±\(matrix.levels))" }

    /// Uses the model's buffers instead of this weight's own.
    public func share(_ scratch: Int8Scratch, floats: DequantizationScratch?) {
        self.scratch = scratch
        floatScratch = floats
    }

    /// Output columns per int8 GEMM: the int32 products of one chunk stay small (the LM head has
    /// tens of thousands of columns) and a fixed width keeps one oneDNN primitive per weight shape.
    static let columnChunk = 4096

    /// int8 products on oneDNN; `gemm` (the Float32 library) does not apply.
    public func multiplyTransposed(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, gemm: FrozenGEMM) {
        guard rows > 0 else { return }
        let (n, k, m) = (outFeatures, inFeatures, matrix)
        // x's codes block by block: block b's [rows, width] codes at rows·b·blockSize, its scales at rows·b.
        let (codes, scales) = scratch.reserveSource(rows * k, scales: rows * m.blocks)
        for b in 0..<m.blocks {
            let (i0, width) = m.columns(ofBlock: b)
            Int8GEMM.quantizeRows(x + i0, rows: rows, cols: width, ldx: k, codes: codes + rows * i0, scales: scales + rows * b)
        }
        let chunk = min(n, Self.columnChunk)
        let c = scratch.products(rows * chunk)
        var n0 = 0
        while n0 < n {
            let nw = min(chunk, n - n0)
            for b in 0..<m.blocks {
                let (i0, width) = m.columns(ofBlock: b)
                // B = Wᵀ: the chunk's rows of W are contiguous, k apart; this block starts at column i0.
                Int8GEMM.gemm(.transpose, m: rows, n: nw, k: width, a: codes + rows * i0, b: m.codes + n0 * k + i0, ldb: k, c: c)
                Int8GEMM.dequantize(c, rows: rows, cols: nw, rowScale: scales + rows * b, columnScale: m.scales(ofBlock: b) + n0,
                                    into: y + n0, ldy: n, accumulate: b > 0)
            }
            n0 += nw
        }
    }

    public func multiply(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, accumulate: Bool, gemm: FrozenGEMM) {
        guard rows > 0 else { return }
        let (n, k, m) = (inFeatures, outFeatures, matrix)
        let (codes, scales) = scratch.reserveSource(rows * k, scales: rows)
        let width = min(n, m.blockSize)
        let c = scratch.products(rows * width)
        for b in 0..<m.blocks {
            let (i0, nw) = m.columns(ofBlock: b)
            Int8GEMM.quantizeRows(dy, rows: rows, cols: k, columnScale: m.scales(ofBlock: b), codes: codes, scales: scales)
            Int8GEMM.gemm(.none, m: rows, n: nw, k: k, a: codes, b: m.codes + i0, ldb: n, c: c)
            Int8GEMM.dequantize(c, rows: rows, cols: nw, rowScale: scales, columnScale: nil,
                                into: dx + i0, ldy: n, accumulate: accumulate)
        }
    }

    public func withFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        let matrix = self.matrix
        guard let floatScratch else {
            let w = matrix.widened()
            return try withExtendedLifetime(w) { try body(w.data) }
        }
        return try body(floatScratch.floats(of: self, count: count) { matrix.widen(into: $0) })
    }
}

/// A matrix [rows, cols] as int8 codes (row-major, 64-byte aligned) with one f32 scale per row and
/// block of `blockSize` columns (the last block may be narrower), stored block-major: block b's
/// scales are `rows` contiguous floats, the column scales of that block's GEMM.
public final class Int8Matrix: @unchecked Sendable {
    /// The widest block: each block is one int8 GEMM of k = its width plus an f32 pass over the
    /// output, so narrower blocks cost speed. On SmolLM2 (Zen 4) per-row scales gave 426 tokens/s at
    /// +7.4% eval loss, ≤ 256 gave 388 at +1%, ≤ 128 gave 271.
    public static let maxBlockSize = 256

    /// The block width for `cols` columns: as few blocks of at most `maxBlockSize` as cover them,
    /// equal in width (rounded up to 64), so no GEMM is left with a short tail (576 → 3 × 192).
    public static func blockSize(forColumns cols: Int) -> Int {
        let blocks = max(1, (cols + maxBlockSize - 1) / maxBlockSize)
        return min(cols, ((cols + blocks - 1) / blocks + 63) / 64 * 64)
    }

    public let rows: Int
    public let cols: Int
    public let blockSize: Int
    /// The largest code magnitude used.
    public let levels: Int
    public let codes: UnsafeMutablePointer<Int8>
    /// [blocks, rows].
    public let scales: UnsafeMutablePointer<Float>
    /// What keeps borrowed codes and scales alive (a mapped base file); nil: they are owned.
    private let owner: AnyObject?

    /// Each (row, block) quantized symmetrically: scale = max|values| / levels, codes round(value / scale).
    public init(quantizing w: UnsafePointer<Float>, rows: Int, cols: Int, levels: Int, blockSize: Int) {
        precondition(blockSize > 0)
        self.rows = rows
        self.cols = cols
        self.blockSize = blockSize
        self.levels = levels
        owner = nil
        codes = alignedAllocation(Int8.self, count: rows * cols)
        let blocks = (cols + blockSize - 1) / blockSize
        scales = alignedAllocation(Float.self, count: rows * blocks)
        var rowCodes = [Int8](repeating: 0, count: rows * blockSize)
        for b in 0..<blocks {
            let i0 = b * blockSize, width = min(blockSize, cols - i0)
            Int8GEMM.quantizeRows(w + i0, rows: rows, cols: width, ldx: cols, levels: levels, codes: &rowCodes, scales: scales + b * rows)
            rowCodes.withUnsafeBufferPointer { q in
                for r in 0..<rows { (codes + r * cols + i0).update(from: q.baseAddress! + r * width, count: width) }
            }
        }
    }

    /// Codes [rows, cols] and scales [blocks, rows] that `owner` keeps alive (read-only: nothing
    /// writes to a matrix after it is made).
    public init(borrowingCodes codes: UnsafePointer<Int8>, scales: UnsafePointer<Float>, rows: Int, cols: Int, levels: Int,
                blockSize: Int, owner: AnyObject) {
        precondition(blockSize > 0)
        self.rows = rows
        self.cols = cols
        self.blockSize = blockSize
        self.levels = levels
        self.codes = UnsafeMutablePointer(mutating: codes)
        self.scales = UnsafeMutablePointer(mutating: scales)
        self.owner = owner
    }

    deinit {
        if owner == nil { free(codes); free(scales) }
    }

    public var blocks: Int { (cols + blockSize - 1) / blockSize }
    public var bytes: Int { rows * cols + rows * blocks * MemoryLayout<Float>.stride }

    /// The first column and width of block b.
    public func columns(ofBlock b: Int) -> (start: Int, width: Int) { (b * blockSize, min(blockSize, cols - b * blockSize)) }
    /// Block b's scale of every row.
    public func scales(ofBlock b: Int) -> UnsafeMutablePointer<Float> { scales + b * rows }
    /// The scale of W[row, col].
    public func scale(row: Int, col: Int) -> Float { scales[(col / blockSize) * rows + row] }

    /// scale·code for every value into `dst` [rows, cols].
    public func widen(into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let src = codes + r * cols, out = dst + r * cols
            for b in 0..<blocks {
                let (i0, width) = columns(ofBlock: b), s = scales[b * rows + r]
                for c in i0..<(i0 + width) { out[c] = s * Float(src[c]) }
            }
        }
    }

    /// The values the GEMMs use, as Float32 (scale·code).
    public func widened() -> Tensor {
        let t = Tensor(shape: [rows, cols])
        widen(into: t.data)
        return t
    }
}

/// The buffers of int8 products, grown to the largest size asked for and then reused: the codes
/// and row scales of the quantized source, and the int32 products of one column chunk. One per
/// model, shared by its int8 Linears (one GEMM runs at a time).
public final class Int8Scratch {
    private var codes = GrowingAllocation<Int8>()
    private var scales = GrowingAllocation<Float>()
    private var sums = GrowingAllocation<Int32>()
    public init() {}
    deinit { codes.pointer.map { free($0) }; scales.pointer.map { free($0) }; sums.pointer.map { free($0) } }

    /// Bytes held now.
    public var bytes: Int { codes.capacity + 4 * scales.capacity + 4 * sums.capacity }

    /// Room for `count` source codes and `scales` of their scales.
    func reserveSource(_ count: Int, scales count2: Int) -> (codes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        (codes.reserve(count), scales.reserve(count2))
    }

    /// Room for `count` int32 products.
    func products(_ count: Int) -> UnsafeMutablePointer<Int32> { sums.reserve(count) }
}

/// A 64-byte-aligned buffer that grows to the largest count asked for (contents not kept on growth).
struct GrowingAllocation<Element> {
    private(set) var pointer: UnsafeMutablePointer<Element>?
    private(set) var capacity = 0

    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if let pointer, count <= capacity { return pointer }
        pointer.map { free($0) }
        let p = alignedAllocation(Element.self, count: count)
        pointer = p
        capacity = count
        return p
    }
}

/// `count` uninitialised elements, 64-byte aligned; freed with `free`.
func alignedAllocation<Element>(_ type: Element.Type, count: Int) -> UnsafeMutablePointer<Element> {
    var raw: UnsafeMutableRawPointer?
    let bytes = max(count, 1) * MemoryLayout<Element>.stride
    guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
        fatalError("out of memory allocating \(bytes) bytes")
    }
    return raw.bindMemory(to: Element.self, capacity: max(count, 1))
}
