/// llama.cpp's converter reorders the rows of attn_q / attn_k so that each head's rotary pairs
/// are interleaved (GPT-J style, rows 2i and 2i+1) instead of split in halves (HF rotate_half,
/// rows i and i + head_dim/2). Forward, per head: permuted[2i + j] = original[j * head_dim/2 + i].
/// Tinh uses HF's layout, so GGUF rows are un-permuted on load.
public enum RopePermutation {
    /// HF layout -> llama.cpp layout (what the converter did); used to test the inverse.
    public static func permute(_ t: Tensor, heads: Int) throws -> Tensor {
        try reorder(t, heads: heads, toHF: false)
    }

    /// llama.cpp layout -> HF layout.
    public static func unpermute(_ t: Tensor, heads: Int) throws -> Tensor {
        try reorder(t, heads: heads, toHF: true)
    }

    private static func reorder(_ t: Tensor, heads: Int, toHF: Bool) throws -> Tensor {
        guard t.rank >= 1, t.rank <= 2 else { throw TinhError.invalidInput("rope permutation needs a matrix or vector, got \(t.shape)") }
        let cols = t.rank == 2 ? t.shape[1] : 1
        let source = try sourceRows(rows: t.shape[0], heads: heads, toHF: toHF)
        let out = Tensor(shape: t.shape)
        for (to, from) in source.enumerated() {
            (out.data + to * cols).update(from: t.data + from * cols, count: cols)
        }
        return out
    }

    /// llama.cpp layout -> HF layout of a [rows, cols] matrix from `src` into `dst` (no allocation).
    public static func unpermute(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Int, cols: Int, heads: Int) throws {
        for (to, from) in try sourceRows(rows: rows, heads: heads, toHF: true).enumerated() {
            (dst + to * cols).update(from: src + from * cols, count: cols)
        }
    }

    /// llama.cpp layout -> HF layout for rows of raw bytes (quantized blocks kept as stored: a
    /// row of W holds whole blocks, so moving rows moves blocks). Returns an owned copy.
    public static func unpermuteRows(_ bytes: UnsafeRawBufferPointer, rows: Int, heads: Int) throws -> [UInt8] {
        guard rows > 0, bytes.count % rows == 0 else { throw TinhError.invalidInput("cannot split \(bytes.count) bytes into \(rows) rows") }
        let rowBytes = bytes.count / rows
        let source = try sourceRows(rows: rows, heads: heads, toHF: true)
        var out = [UInt8](repeating: 0, count: bytes.count)
        out.withUnsafeMutableBytes { dst in
            for (to, from) in source.enumerated() {
                dst.baseAddress!.advanced(by: to * rowBytes).copyMemory(from: bytes.baseAddress!.advanced(by: from * rowBytes), byteCount: rowBytes)
            }
        }
        return out
    }

    /// For each output row, the input row it comes from.
    private static func sourceRows(rows: Int, heads: Int, toHF: Bool) throws -> [Int] {
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw TinhError.invalidInput("cannot split \(rows) rows into \(heads) heads of even size")
        }
        let headDim = rows / heads, half = headDim / 2
        var source = [Int](repeating: 0, count: rows)
        for h in 0 ..< heads {
            for i in 0 ..< half {
                for j in 0 ..< 2 {
                    let interleaved = h * headDim + 2 * i + j
                    let split = h * headDim + j * half + i
                    let (from, to) = toHF ? (interleaved, split) : (split, interleaved)
                    source[to] = from
                }
            }
        }
        return source
    }
}
