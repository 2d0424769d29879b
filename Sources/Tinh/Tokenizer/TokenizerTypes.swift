/// Ids of the tokens with a fixed role. Any may be absent.
public struct SpecialTokenIds: Sendable, Equatable {
    public var bos: Int32?
    public var eos: Int32?
    public var pad: Int32?
    public var unk: Int32?

    public init(bos: Int32? = nil, eos: Int32? = nil, pad: Int32? = nil, unk: Int32? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unk = unk
    }
}

/// GGUF's `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
public enum TokenType: Int32, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// One token of an encoding and the UTF-8 byte range of the input it came from.
public struct TokenSpan: Sendable, Equatable {
    public let id: Int32
    public let bytes: Range<Int>
}
