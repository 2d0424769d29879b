import Foundation
import Testing
@testable import Tinh

/// No silent misload: every config.json field that changes the arithmetic is implemented (the
/// model changes when it changes) or refused with an error that names the field and its value.
@Suite struct FormatsConfigFieldsTests {
    let tokens: [Int32] = [3, 17, 255, 8, 140, 61, 9, 200]

    /// tiny's weights in a Hugging Face directory whose config.json is `base` with `fields` set
    /// (a value of NSNull removes the field).
    func directory(_ fields: [String: Any]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(TinyLlama.weights(config: TinyLlama.config, seed: 4), to: dir.appendingPathComponent("model.safetensors").path)
        var json = try #require(JSONSerialization.jsonObject(with: Merge.configJSON(TinyLlama.config)) as? [String: Any])
        for (k, v) in fields { json[k] = v is NSNull ? nil : v }
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        try TokenizerLoaderTests.tokenizerJSON(merges: ["h e", "l l"]).write(to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    func logits(_ fields: [String: Any]) throws -> [Float] {
        let dir = try directory(fields)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try ModelSource.load(dir.path).model.logits(tokens: tokens).array
    }

    func loadError(_ fields: [String: Any]) throws -> String {
        let dir = try directory(fields)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try ModelSource.load(dir.path)
            return ""
        } catch {
            return "\(error)"
        }
    }

    static let llama3: [String: Any] = ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 16]

    /// transformers ≥ 5 writes `rope_parameters` (θ inside it); older versions `rope_theta` and
    /// `rope_scaling`. Both spellings give the same model, and each parameter changes it.
    @Test func ropeParametersAndRopeScalingAreReadAlike() throws {
        let plain = try logits([:])
        let oldStyle = try logits(["rope_theta": 500000.0, "rope_scaling": Self.llama3])
        var parameters = Self.llama3
        parameters["rope_theta"] = 500000.0
        let newStyle = try logits(["rope_theta": NSNull(), "rope_parameters": parameters])
        #expect(oldStyle == newStyle)
        #expect(oldStyle != plain, "θ and llama3 scaling must change the model")
        #expect(try logits(["rope_theta": 500000.0]) != oldStyle, "the scaling itself changes the model")
        var gentler = parameters
        gentler["factor"] = 2.0
        #expect(try logits(["rope_theta": NSNull(), "rope_parameters": gentler]) != newStyle, "factor")
        #expect(try logits(["rope_scaling": ["rope_type": "linear", "factor": 4.0]]) != plain, "linear scaling")
        #expect(try logits(["rope_scaling": ["rope_type": "default"]]) == plain)
        #expect(try loadError(["rope_theta": 10000.0, "rope_parameters": parameters]).contains("disagree"))
    }

    /// Llama 3.1's frequencies: short wavelengths kept, long ones divided by the factor, a blend
    /// between (transformers' `_compute_llama3_parameters`, written out here in Double).
    @Test func llama3ScalingFollowsTransformers() {
        let headDim = 128, theta = 500000.0
        let plain = (0..<(headDim / 2)).map { Float(1 / pow(theta, Double(2 * $0) / Double(headDim))) }
        let scaled = RoPEScaling.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192).apply(to: plain)
        for (f, s) in zip(plain, scaled) {
            let wavelength = 2 * Double.pi / Double(f)
            let expected: Double
            if wavelength < 8192 / 4 { expected = Double(f) }
            else if wavelength > 8192 / 1 { expected = Double(f) / 8 }
            else {
                let smooth = (8192 / wavelength - 1) / (4 - 1)
                expected = (1 - smooth) * Double(f) / 8 + smooth * Double(f)
            }
            // A few Float32 operations on each side: within 8u relative.
            #expect(abs(Double(s) - expected) <= 8 * RoundingBound.u * expected)
        }
        #expect(scaled.first == plain.first && scaled.last == plain.last! / 8)
    }

    /// Fields whose arithmetic Tinh does not implement: refused, naming the field and value.
    @Test(arguments: [
        (["hidden_act": "gelu"], "hidden_act"),
        (["partial_rotary_factor": 0.5], "partial_rotary_factor"),
        (["use_bidirectional_attention": true], "use_bidirectional_attention"),
        (["quantization_config": ["quant_method": "gptq"]], "quantization_config"),
        (["rope_scaling": ["rope_type": "yarn", "factor": 4.0]], "'yarn'"),
        (["rope_scaling": ["type": "dynamic", "factor": 2.0]], "'dynamic'"),
        (["rope_parameters": ["rope_type": "longrope", "rope_theta": 10000.0]], "'longrope'"),
        (["rope_scaling": ["rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 16]], "needs 'low_freq_factor'"),
        (["model_type": "gpt_neox"], "model_type 'gpt_neox'"),
        (["model_type": "gemma2"], "hidden_act = 'silu'"),
        (["model_type": "qwen2", "layer_types": ["full_attention", "chunked_attention"]], "'chunked_attention'"),
    ] as [([String: Any], String)])
    func unimplementedFieldsAreRefused(fields: [String: Any], named: String) throws {
        let message = try loadError(fields)
        #expect(message.contains(named), "\(fields): \(message.isEmpty ? "loaded without an error" : message)")
    }

    /// Fields that are implemented change the model when they change.
    @Test(arguments: [
        ["rope_theta": 500000.0], ["rms_norm_eps": 0.1], ["head_dim": 16, "num_attention_heads": 4],
    ] as [[String: Any]])
    func implementedFieldsChangeTheModel(fields: [String: Any]) throws {
        let plain = try logits([:])
        if fields["head_dim"] != nil {
            // tiny's head_dim is already hidden / heads = 16: stating it changes nothing.
            #expect(try logits(fields) == plain)
        } else {
            #expect(try logits(fields) != plain, "\(fields)")
        }
    }

    /// A merged export keeps the scaling: config.json round-trips it.
    @Test func mergedConfigKeepsRopeScaling() throws {
        var c = TinyLlama.config
        c.ropeScaling = .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16)
        let json = try Merge.configJSON(c)
        let back = try JSONDecoder().decode(HFConfig.self, from: json).decoderConfig(source: "merged")
        #expect(back.ropeScaling == c.ropeScaling)
        c.ropeScaling = .divisors([Float](repeating: 2, count: c.headDim / 2))
        #expect(throws: TinhError.self) { try Merge.configJSON(c) }
    }
}
