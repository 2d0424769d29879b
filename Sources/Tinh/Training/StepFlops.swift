/// FLOPs per token of one training step, counted from the model's shapes and the method: the
/// numerator of MFU in `tinh bench` and in the training log. Multiply-adds count 2.
public struct StepFlops: Codable, Sendable, Equatable {
    /// Frozen projections: forward (2 per weight) + backward's dX (2 per weight).
    public var frozenProjections: Double
    /// Causal Q·Kᵀ and P·V over the (seq+1)/2 keys a query sees on average; backward twice forward.
    public var attention: Double
    /// Tied/untied head, forward + dX, only for positions in the loss (per token of the batch).
    public var lmHead: Double
    /// Adapter products (LoRA form: forward 2r(in+out), backward 4r(in+out) per adapted module).
    public var adapter: Double
    /// dW of the weights that train (`full`: every projection and the head; adapters: none).
    public var weightGradients: Double = 0
    public var total: Double { frozenProjections + attention + lmHead + adapter + weightGradients }

    public init(frozenProjections: Double, attention: Double, lmHead: Double, adapter: Double, weightGradients: Double = 0) {
        self.frozenProjections = frozenProjections
        self.attention = attention
        self.lmHead = lmHead
        self.adapter = adapter
        self.weightGradients = weightGradients
    }

    /// The step of `adapters` on `model` at `seq` positions per row, with `lossFraction` of the
    /// positions in the loss.
    public init(model: DecoderModel, adapters: AdapterSet, seq: Int, lossFraction: Double) {
        let c = model.config
        let projections = model.blocks.flatMap(\.linears).reduce(0.0) { $0 + Double($1.inFeatures * $1.outFeatures) }
        let qDim = Double(c.numHeads * c.headDim)
        let attentionForward = 4 * qDim * Double(seq + 1) / 2 * Double(c.numLayers)
        var adapter = 0.0
        for (name, _) in adapters.modules {
            guard let linear = model.linear(named: name) else { continue }
            let r = Double(adapters.config.rank), i = Double(linear.inFeatures), o = Double(linear.outFeatures)
            adapter += 6 * r * (i + o)
        }
        let head = Double(c.hiddenSize * c.vocabSize) * lossFraction
        self.init(frozenProjections: 4 * projections, attention: 3 * attentionForward, lmHead: 4 * head, adapter: adapter,
                  weightGradients: adapters.isFullFineTuning ? 2 * projections + 2 * head : 0)
    }

    enum CodingKeys: String, CodingKey { case frozenProjections, attention, lmHead, adapter, weightGradients }

    /// Results saved before `weightGradients` existed decode with 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(frozenProjections: try c.decode(Double.self, forKey: .frozenProjections), attention: try c.decode(Double.self, forKey: .attention),
                  lmHead: try c.decode(Double.self, forKey: .lmHead), adapter: try c.decode(Double.self, forKey: .adapter),
                  weightGradients: try c.decodeIfPresent(Double.self, forKey: .weightGradients) ?? 0)
    }
}
