/// One tensor's entry in a GGUF file's tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml's ne[]: fastest-varying dimension first (a [out, in] matrix has ne = [in, out]).
    public let ne: [Int]
    public let type: GGMLType
    /// Byte offset of the data, relative to the start of the data section.
    public let offset: Int
    public let elementCount: Int
    /// Bytes of data; nil when Tinh does not know the layout of `type`.
    public let byteCount: Int?

    /// Shape in Hugging Face / row-major order (ne reversed): [out, in] for a matrix.
    public var shape: [Int] { ne.reversed() }
}
