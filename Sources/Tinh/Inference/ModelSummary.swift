import Foundation

/// What `tinh inspect` shows: architecture, tensors with their stored types and shapes,
/// parameter counts, tokenizer and chat template.
public struct ModelSummary: Codable, Sendable {
    public struct TensorRow: Codable, Sendable {
        public var name: String
        public var type: String
        public var shape: [Int]
    }

    public var model: String
    public var path: String?
    public var format: String
    public var architecture: String
    public var config: DecoderConfig
    public var parameters: Int
    /// Parameters per Llama block and in the embedding/head, for a sense of where they sit.
    public var parametersPerBlock: Int
    public var tensors: [TensorRow]
    public var tokenizer: String
    public var chatTemplate: String?
    public var loadSeconds: Double

    public init(_ loaded: LoadedModel) {
        model = loaded.spec
        path = loaded.path
        config = loaded.config
        tokenizer = loaded.tokenizer.summary
        chatTemplate = loaded.tokenizer.chatTemplateSource
        loadSeconds = loaded.loadSeconds
        let c = loaded.config
        // Counted from the family's own tensor list (norms, biases and fused projections included).
        let shapes = DecoderWeightNames.expectedShapes(c)
        parameters = shapes.values.reduce(0) { $0 + $1.reduce(1, *) }
        parametersPerBlock = shapes.filter { $0.key.hasPrefix(DecoderConfig.blockPrefix(0)) }.values.reduce(0) { $0 + $1.reduce(1, *) }
        if let gguf = loaded.gguf {
            format = "GGUF v\(gguf.version)"
            architecture = gguf.architecture ?? "unknown"
            tensors = gguf.tensors.map { TensorRow(name: $0.name, type: $0.type.name, shape: $0.shape) }
        } else {
            format = loaded.path == nil ? "built in (random weights)" : "Hugging Face directory"
            architecture = c.spec.family.rawValue
            tensors = loaded.model.linears.map { TensorRow(name: $0.name + ".weight", type: $0.weight.formatName, shape: $0.weight.shape) }
        }
    }

    public var text: String {
        let c = config
        var lines = [
            "model:        \(model)\(path.map { " (\($0))" } ?? "")",
            "format:       \(format), architecture \(architecture), loaded in \(String(format: "%.2f", loadSeconds)) s",
            "shape:        \(c.numLayers) layers, hidden \(c.hiddenSize), MLP \(c.intermediateSize), \(c.numHeads) heads / \(c.numKVHeads) KV heads × \(c.headDim), vocab \(c.vocabSize)",
            "              RoPE θ \(c.ropeTheta)\(c.ropeScaling.map { " scaled " + $0.summary } ?? ""), RMSNorm ε \(c.rmsNormEps), context \(c.maxPositions), head \(c.tieWordEmbeddings ? "tied to the embedding" : "separate")",
        ]
        // The family spec, every value of it (ArchitectureSpec.summaryLines).
        for (i, line) in c.spec.summaryLines.enumerated() { lines.append((i == 0 ? "spec:         " : "              ") + line) }
        lines += [
            "parameters:   \(Self.grouped(parameters)) (\(Self.grouped(parametersPerBlock)) per block)",
            "tokenizer:    \(tokenizer)",
        ]
        var types: [String: Int] = [:]
        for t in tensors { types[t.type, default: 0] += 1 }
        lines.append("tensors:      \(tensors.count) (" + types.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ")")
        for t in tensors {
            lines.append("  " + t.name.padding(toLength: max(44, t.name.count), withPad: " ", startingAt: 0)
                         + t.type.padding(toLength: 6, withPad: " ", startingAt: 0) + " " + t.shape.map(String.init).joined(separator: " × "))
        }
        if let chatTemplate { lines.append("chat template:\n" + chatTemplate) }
        return lines.joined(separator: "\n")
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return out
    }
}
