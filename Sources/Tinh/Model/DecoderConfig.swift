/// A decoder's shape, in Hugging Face `config.json` terms, and its family's arithmetic (`spec`).
public struct DecoderConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var ropeTheta: Float
    /// RoPE's long-context rescaling of its frequencies; nil for plain RoPE.
    public var ropeScaling: RoPEScaling?
    public var rmsNormEps: Float
    public var maxPositions: Int
    public var tieWordEmbeddings: Bool
    /// Biases on q/k/v projections (Qwen2; `spec.qkvBias`).
    public var attentionBias: Bool { get { spec.qkvBias } set { spec.qkvBias = newValue } }
    /// What the family computes beyond the shapes: norms, activation, soft-caps, windows, …
    public var spec: ArchitectureSpec

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKVHeads: Int, headDim: Int? = nil, ropeTheta: Float = 10000,
                ropeScaling: RoPEScaling? = nil, rmsNormEps: Float = 1e-5, maxPositions: Int = 2048, tieWordEmbeddings: Bool = true,
                attentionBias: Bool = false, spec: ArchitectureSpec = .llama) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim ?? hiddenSize / max(numHeads, 1)
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.rmsNormEps = rmsNormEps
        self.maxPositions = maxPositions
        self.tieWordEmbeddings = tieWordEmbeddings
        self.spec = spec
        self.spec.qkvBias = self.spec.qkvBias || attentionBias
    }

    /// Rows of the q, k and v projections together.
    public var qkvRows: Int { (numHeads + 2 * numKVHeads) * headDim }

    /// Checks that the numbers describe a model that can exist, so a bad file is an error, not a trap.
    public func validate() throws {
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw TinhError.invalidInput("model config: \(what)") }
        }
        try need(vocabSize > 0 && hiddenSize > 0 && intermediateSize > 0 && numLayers > 0, "sizes must be positive")
        try need(numHeads > 0 && numKVHeads > 0, "head counts must be positive")
        try need(numHeads % numKVHeads == 0, "num_attention_heads (\(numHeads)) must be a multiple of num_key_value_heads (\(numKVHeads))")
        try need(headDim > 0 && headDim % 2 == 0, "head_dim (\(headDim)) must be even and positive")
        try need(rmsNormEps > 0 && ropeTheta > 0, "rms_norm_eps and rope_theta must be positive")
        try ropeScaling?.validate(pairs: headDim / 2)
        try spec.localRoPE?.scaling?.validate(pairs: headDim / 2)
        try spec.validate(numLayers: numLayers)
    }

    /// Hugging Face tensor names for block `i`; the model, loaders and adapters all use these.
    public static func blockPrefix(_ i: Int) -> String { "model.layers.\(i)." }
}
