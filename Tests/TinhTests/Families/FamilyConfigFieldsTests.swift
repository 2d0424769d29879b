import Foundation
import Testing
@testable import Tinh

/// No silent misload, per family: flip each config.json field that changes the arithmetic and the
/// model must change (it is implemented) or the load must fail with an error naming the field.
@Suite struct FamilyConfigFieldsTests {
    enum Outcome: Equatable { case changed, unchanged, refused(String) }

    /// A field edit: a JSON path (a.b for nested objects) and the value it gets (NSNull removes it);
    /// the path "*" sets several top-level fields at once (its value is an object of them).
    struct Flip: CustomStringConvertible, Sendable {
        var path: String
        var value: @Sendable () -> Any
        var description: String { "\(path) = \(value())" }
    }

    static func flip(_ path: String, _ value: @autoclosure @escaping @Sendable () -> Any) -> Flip { Flip(path: path, value: value) }

    /// Logits of the fixture with `flips` applied to its config.json, or the load error.
    static func outcome(_ family: String, _ flips: [Flip]) throws -> Outcome {
        let source = try FamilyFixture.directory(family)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-flip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".safetensors") || name.hasSuffix(".json") && name != "config.json" {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name).resolvingSymlinksInPath())
        }
        var json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
        for f in flips {
            if f.path == "*", let fields = f.value() as? [String: Any] {
                for (k, v) in fields { set(&json, [k], v) }
            } else {
                set(&json, f.path.split(separator: ".").map(String.init), f.value())
            }
        }
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        let tokens = try #require(FamilyLogitsTests.prompts(family).first).inputIds
        let base = try logits(source.path, tokens)
        do {
            return try logits(dir.path, tokens) == base ? .unchanged : .changed
        } catch {
            return .refused("\(error)")
        }
    }

    static func logits(_ path: String, _ tokens: [Int32]) throws -> [Float] {
        let (config, weights) = try ModelFileLoader.load(path: path)
        return try DecoderModel(config: config, weights: weights).logits(tokens: tokens).array
    }

    static func set(_ json: inout [String: Any], _ path: [String], _ value: Any) {
        guard let key = path.first else { return }
        if path.count == 1 { json[key] = value is NSNull ? nil : value; return }
        var inner = json[key] as? [String: Any] ?? [:]
        set(&inner, Array(path.dropFirst()), value)
        json[key] = inner
    }

    /// Fields every family has, with a value that changes the model.
    static let common: [Flip] = [
        flip("rms_norm_eps", 0.5), flip("num_key_value_heads", 4), flip("head_dim", 8), flip("tie_word_embeddings", "flip"),
    ]

    /// Per family: fields the family implements (must change the model)…
    static let implemented: [String: [Flip]] = [
        "llama": [flip("rope_parameters.rope_theta", 500.0),
                  flip("rope_parameters", ["rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 4])],
        "llama3-scaled": [flip("rope_parameters.factor", 2.0), flip("rope_parameters.rope_type", "default")],
        "mistral": [flip("sliding_window", 3), flip("sliding_window", NSNull()), flip("rope_parameters.rope_theta", 500.0)],
        "qwen2": [flip("*", ["use_sliding_window": true, "sliding_window": 3, "layer_types": ["full_attention", "sliding_attention"]]),
                  flip("*", ["use_sliding_window": true, "sliding_window": 3, "max_window_layers": 1, "layer_types": NSNull()]),
                  flip("rope_parameters.rope_theta", 500.0)],
        "qwen3": [flip("*", ["use_sliding_window": true, "sliding_window": 3, "layer_types": ["sliding_attention", "full_attention"]]),
                  flip("rope_parameters.rope_theta", 500.0)],
        "gemma2": [flip("query_pre_attn_scalar", 64), flip("attn_logit_softcapping", 1.0), flip("attn_logit_softcapping", NSNull()),
                   flip("final_logit_softcapping", NSNull()), flip("sliding_window", 3), flip("layer_types", ["full_attention", "full_attention"]),
                   flip("rope_parameters.rope_theta", 500.0)],
        "gemma3": [flip("query_pre_attn_scalar", 64), flip("sliding_window", 3), flip("layer_types", ["full_attention", "full_attention"]),
                   flip("rope_parameters.sliding_attention.rope_theta", 500.0), flip("rope_parameters.full_attention.rope_theta", 500.0),
                   flip("final_logit_softcapping", 1.0), flip("attn_logit_softcapping", 1.0)],
        "phi3": [flip("sliding_window", 3), flip("rope_parameters.rope_theta", 500.0)],
    ]

    /// …and fields it does not, with the name the error must give.
    static let refused: [String: [(Flip, String)]] = [
        "llama": [(flip("rope_parameters.rope_type", "yarn"), "rope_type"), (flip("mlp_bias", true), "mlp.down_proj.bias")],
        "mistral": [(flip("hidden_act", "gelu"), "hidden_act")],
        "qwen2": [(flip("rope_parameters.rope_type", "dynamic"), "rope_type")],
        "qwen3": [(flip("layer_types", ["chunked_attention", "full_attention"]), "layer_types"), (flip("attention_bias", true), ".bias")],
        "gemma2": [(flip("hidden_activation", "gelu"), "hidden_activation"), (flip("use_bidirectional_attention", true), "use_bidirectional_attention")],
        "gemma3": [(flip("rope_parameters.chunked_attention", ["rope_theta": 1.0]), "chunked_attention")],
        "phi3": [(flip("rope_parameters.rope_type", "longrope"), "longrope"), (flip("rope_parameters.partial_rotary_factor", 0.5), "partial_rotary_factor")],
    ]

    @Test(arguments: FamilyFixture.families)
    func everyArithmeticFieldChangesTheModelOrIsRefused(family: String) throws {
        let config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: FamilyFixture.directory(family).appendingPathComponent("config.json"))) as? [String: Any])
        for f in Self.common + (Self.implemented[family] ?? []) {
            var flip = f
            if f.path == "tie_word_embeddings" { let tied = config["tie_word_embeddings"] as? Bool ?? false; flip = Self.flip(f.path, !tied) }
            let outcome = try Self.outcome(family, [flip])
            // A shape that no longer fits the weights, or an untied head without its tensor, is refused.
            let ok: Bool
            switch outcome {
            case .changed: ok = true
            case .unchanged: ok = false
            case .refused(let m): ok = ["rms_norm_eps", "rope_parameters.rope_theta"].contains(f.path) == false
                && (m.contains("shape") || m.contains("lm_head") || m.contains("head_dim") || m.contains("num_key_value_heads"))
            }
            #expect(ok, "\(family): \(flip) → \(outcome)")
        }
        for (flip, name) in Self.refused[family] ?? [] {
            let outcome = try Self.outcome(family, [flip])
            guard case .refused(let message) = outcome else {
                Issue.record("\(family): \(flip) loaded (\(outcome)); it must be refused")
                continue
            }
            #expect(message.contains(name), "\(family): \(flip) → \(message)")
        }
    }
}

/// The same for GGUF metadata: each fixture GGUF rewritten with one key changed.
@Suite struct FamilyGGUFMetadataTests {
    /// The fixture's GGUF with `changes` applied (nil removes a key), written to a temporary file.
    static func rewritten(_ family: String, _ changes: [String: GGUFValue?]) throws -> String {
        let g = try GGUFFile(path: FamilyFixture.directory(family).appendingPathComponent("model.gguf").path)
        var b = GGUFBuilder()
        for key in g.metadataKeys where !changes.keys.contains(key) { b.metadata.append((key, g.metadata[key]!)) }
        for (key, value) in changes.sorted(by: { $0.key < $1.key }) { if let value { b.metadata.append((key, value)) } }
        if let a = g.metadata["general.alignment"]?.int { b.alignment = a }
        for t in g.tensors { b.add(t.name, ne: t.ne, type: t.type, data: Array(try g.rawData(t.name).bytes)) }
        return try b.write("\(family)-\(UUID().uuidString).gguf")
    }

    static func outcome(_ family: String, _ changes: [String: GGUFValue?]) throws -> FamilyConfigFieldsTests.Outcome {
        let tokens = try #require(FamilyLogitsTests.prompts(family).first).inputIds
        let base = try FamilyConfigFieldsTests.logits(FamilyFixture.directory(family).appendingPathComponent("model.gguf").path, tokens)
        let path = try rewritten(family, changes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            return try FamilyConfigFieldsTests.logits(path, tokens) == base ? .unchanged : .changed
        } catch {
            return .refused("\(error)")
        }
    }

    static let implemented: [String: [[String: GGUFValue?]]] = [
        "llama": [["llama.rope.freq_base": .float32(500)], ["llama.attention.layer_norm_rms_epsilon": .float32(0.5)],
                  ["llama.rope.scaling.type": .string("linear"), "llama.rope.scaling.factor": .float32(4)]],
        "mistral": [["llama.attention.sliding_window": .uint32(3)], ["llama.attention.sliding_window": nil]],
        "qwen2": [["qwen2.rope.freq_base": .float32(500)]],
        "qwen3": [["qwen3.rope.freq_base": .float32(500)], ["qwen3.attention.sliding_window": .uint32(3)]],
        "gemma2": [["gemma2.attn_logit_softcapping": .float32(1)], ["gemma2.attn_logit_softcapping": nil],
                   ["gemma2.final_logit_softcapping": nil], ["gemma2.attention.sliding_window": .uint32(3)],
                   ["gemma2.attention.scale": .float32(0.5)], ["gemma2.rope.freq_base": .float32(500)]],
        "gemma3": [["gemma3.rope.freq_base_swa": .float32(500)], ["gemma3.rope.freq_base": .float32(500)],
                   ["gemma3.attention.sliding_window": .uint32(3)],
                   ["gemma3.attention.sliding_window_pattern": .array(.bool, [.bool(false), .bool(false)])]],
        "phi3": [["phi3.attention.sliding_window": .uint32(3)], ["phi3.rope.freq_base": .float32(500)]],
    ]

    static let refused: [String: [([String: GGUFValue?], String)]] = [
        "llama": [(["llama.rope.scaling.type": .string("yarn")], "rope.scaling.type"), (["llama.rope.dimension_count": .uint32(8)], "dimension_count")],
        "gemma2": [(["gemma2.attention.sliding_window": nil], "sliding_window")],
        "gemma3": [(["gemma3.attention.sliding_window_pattern": .array(.bool, [.bool(false)])], "sliding_window_pattern")],
        "qwen2": [(["general.architecture": .string("mamba")], "mamba")],
    ]

    @Test(arguments: FamilyFixture.families.filter { $0 != "llama3-scaled" })
    func everyArithmeticKeyChangesTheModelOrIsRefused(family: String) throws {
        for change in Self.implemented[family] ?? [] {
            let outcome = try Self.outcome(family, change)
            #expect(outcome == .changed, "\(family): \(change) → \(outcome)")
        }
        for (change, name) in Self.refused[family] ?? [] {
            let outcome = try Self.outcome(family, change)
            guard case .refused(let message) = outcome else {
                Issue.record("\(family): \(change) loaded (\(outcome)); it must be refused")
                continue
            }
            #expect(message.contains(name), "\(family): \(change) → \(message)")
        }
    }
}
