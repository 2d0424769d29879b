import Foundation
import Testing
@testable import Tinh

@Suite struct FormatsHFTests {
    static let configJSON = """
    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 10, "hidden_size": 8,
     "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
     "rope_theta": 50000.0, "rms_norm_eps": 1e-06, "max_position_embeddings": 256,
     "tie_word_embeddings": true, "rope_scaling": null, "head_dim": null, "torch_dtype": "float32"}
    """

    /// A directory with config.json and the tiny model's weights split over `shards` files.
    static func directory(config: String = configJSON, weights: [String: [Float]], shapes: [String: [Int]],
                          shards: Int = 1, index: Bool = false) throws -> String {
        let dir = tempDir()
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
        let names = weights.keys.sorted()
        var map: [String: String] = [:]
        for s in 0 ..< shards {
            let file = "model-\(s + 1)-of-\(shards).safetensors"
            var part: [String: Tensor] = [:]
            for (i, n) in names.enumerated() where i % shards == s {
                part[n] = Tensor(shape: shapes[n] ?? [], values: weights[n] ?? [])
                map[n] = file
            }
            try SafeTensorsWriter.write(part, metadata: ["format": "pt"], to: dir.appendingPathComponent(file).path)
        }
        if index {
            let body = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 1], "weight_map": map])
            try body.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        }
        return dir.path
    }

    static func tinyWeights(arch: String = "llama", tied: Bool = true) throws -> ([String: [Float]], [String: [Int]], DecoderConfig) {
        let (path, hf) = try FormatsLlamaGGUFTests.tinyModel(tied: tied, arch: arch)
        let (c, w) = try GGUFModelLoader.load(path: path)
        return (hf, w.mapValues(\.shape), c)
    }

    @Test func singleFileMatchesTheGGUFLoader() throws {
        let (hf, shapes, ggufConfig) = try Self.tinyWeights()
        let (c, w) = try HFDirectoryLoader.load(directory: try Self.directory(weights: hf, shapes: shapes))
        #expect(c == ggufConfig)
        #expect(Set(w.keys) == Set(hf.keys))
        for (n, v) in hf { #expect(w[n]?.array == v, "\(n)") }
    }

    @Test func shardedWithAndWithoutIndex() throws {
        let (hf, shapes, _) = try Self.tinyWeights()
        for index in [false, true] {
            let dir = try Self.directory(weights: hf, shapes: shapes, shards: 3, index: index)
            let (_, w) = try ModelFileLoader.load(path: dir)
            for (n, v) in hf { #expect(w[n]?.array == v, "\(n)") }
        }
    }

    @Test func qwen2ImpliesBiasesAndUntiedHead() throws {
        let (hf, shapes, _) = try Self.tinyWeights(arch: "qwen2", tied: false)
        let config = Self.configJSON.replacingOccurrences(of: "\"llama\"", with: "\"qwen2\"")
            .replacingOccurrences(of: "\"tie_word_embeddings\": true", with: "\"tie_word_embeddings\": false")
        let (c, w) = try HFDirectoryLoader.load(directory: try Self.directory(config: config, weights: hf, shapes: shapes))
        #expect(c.attentionBias && !c.tieWordEmbeddings && w["model.layers.1.self_attn.v_proj.bias"]?.shape == [4])
    }

    @Test func tiedHeadStoredAnywayIsDropped() throws {
        var (hf, shapes, _) = try Self.tinyWeights()
        hf["lm_head.weight"] = hf["model.embed_tokens.weight"]
        shapes["lm_head.weight"] = [10, 8]
        hf["model.layers.0.self_attn.rotary_emb.inv_freq"] = [1, 2]
        shapes["model.layers.0.self_attn.rotary_emb.inv_freq"] = [2]
        let (_, w) = try HFDirectoryLoader.load(directory: try Self.directory(weights: hf, shapes: shapes))
        #expect(w["lm_head.weight"] == nil && w.count == hf.count - 2)
    }

    @Test func clearErrors() throws {
        let (hf, shapes, _) = try Self.tinyWeights()
        var missing = hf
        missing["model.norm.weight"] = nil
        #expect(message { try HFDirectoryLoader.load(directory: try Self.directory(weights: missing, shapes: shapes)) }?
            .contains("missing tensor 'model.norm.weight'") == true)
        var extra = hf
        extra["model.layers.0.self_attn.q_proj.bias"] = [Float](repeating: 0, count: 8)
        var extraShapes = shapes
        extraShapes["model.layers.0.self_attn.q_proj.bias"] = [8]
        #expect(message { try HFDirectoryLoader.load(directory: try Self.directory(weights: extra, shapes: extraShapes)) }?
            .contains("unexpected tensor 'model.layers.0.self_attn.q_proj.bias'") == true)

        let dir = try Self.directory(weights: hf, shapes: shapes, shards: 2, index: true)
        try FileManager.default.removeItem(atPath: dir + "/model-2-of-2.safetensors")
        #expect(message { try HFDirectoryLoader.load(directory: dir) }?.contains("model-2-of-2.safetensors: cannot open") == true)

        let noWeights = tempDir()
        try Data(Self.configJSON.utf8).write(to: noWeights.appendingPathComponent("config.json"))
        #expect(message { try HFDirectoryLoader.load(directory: noWeights.path) }?.contains("no *.safetensors") == true)
        #expect(message { try HFDirectoryLoader.load(directory: tempDir().path) }?.contains("config.json: cannot read") == true)
    }

    @Test func configParsing() throws {
        func parse(_ json: String) throws -> DecoderConfig {
            let url = tempDir().appendingPathComponent("config.json")
            try Data(json.utf8).write(to: url)
            return try HFConfig.read(path: url.path).decoderConfig(source: url.path)
        }
        let minimal = #"{"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4"#
        let c = try parse(minimal + "}")
        #expect(c.numKVHeads == 4 && c.headDim == 16 && c.ropeTheta == 10000 && c.rmsNormEps == 1e-6 && !c.tieWordEmbeddings && !c.attentionBias)
        #expect(try parse(minimal + #", "head_dim": 32, "attention_bias": true}"#).headDim == 32)
        #expect(message { try parse(minimal + #", "model_type": "gpt2"}"#) }?.contains("model_type 'gpt2'") == true)
        #expect(message { try parse(minimal + #", "rope_scaling": {"rope_type": "yarn", "factor": 8.0}}"#) }?.contains("rope_scaling.rope_type = 'yarn'") == true)
        #expect(message { try parse(minimal + #", "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}"#) }?.contains("needs 'original_max_position_embeddings'") == true)
        #expect(message { try parse(minimal + #", "num_key_value_heads": 3}"#) }?.contains("multiple of num_key_value_heads") == true)
        #expect(message { try parse(#"{"vocab_size": 100}"#) }?.contains("hidden_size") == true)
        #expect(message { try parse(minimal.replacingOccurrences(of: "\"num_hidden_layers\": 2", with: "\"num_hidden_layers\": 2.5") + "}") }?.contains("not a usable decoder config.json") == true)
    }
}
