import Foundation
import Testing
@testable import Tinh

/// The config.json fields of released checkpoints (as their hubs publish them, transformers 4 era:
/// no layer_types, no rope_parameters) give the spec each family documents.
@Suite struct FamilyRealConfigTests {
    static func config(_ json: String) throws -> DecoderConfig {
        try JSONDecoder().decode(HFConfig.self, from: Data(json.utf8)).decoderConfig(source: "config.json")
    }

    @Test func qwen25IgnoresItsSlidingWindowWithoutUseSlidingWindow() throws {
        let c = try Self.config("""
        {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
         "num_key_value_heads": 2, "vocab_size": 151936, "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "sliding_window": 32768,
         "use_sliding_window": false, "max_window_layers": 21, "tie_word_embeddings": true, "hidden_act": "silu", "max_position_embeddings": 32768}
        """)
        #expect(c.spec.qkvBias && !c.spec.outputBias && c.spec.layers.isEmpty && c.headDim == 64)
    }

    @Test func phi3Mini4kSlidesEveryLayer() throws {
        let c = try Self.config("""
        {"model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 32,
         "num_key_value_heads": 32, "vocab_size": 32064, "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "sliding_window": 2047,
         "rope_scaling": null, "original_max_position_embeddings": 4096, "max_position_embeddings": 4096, "hidden_act": "silu",
         "tie_word_embeddings": false, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "attention_dropout": 0.0}
        """)
        #expect(c.spec.projections == .fused && c.spec.layers.count == 32 && c.spec.layers.allSatisfy { $0.window == 2047 })
        #expect(c.qkvRows == 3 * 3072)
    }

    @Test func phi35LongropeIsRefused() {
        let m = message { try Self.config("""
        {"model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 32,
         "vocab_size": 32064, "rope_scaling": {"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}}
        """) }
        #expect(m?.contains("longrope") == true)
    }

    @Test func gemma2AlternatesLocalAndGlobalLayers() throws {
        let c = try Self.config("""
        {"model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26, "num_attention_heads": 8,
         "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 256000, "rope_theta": 10000.0, "rms_norm_eps": 1e-06,
         "sliding_window": 4096, "query_pre_attn_scalar": 256, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
         "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 8192,
         "cache_implementation": "hybrid"}
        """)
        #expect(c.tieWordEmbeddings && c.spec.outputNorms && c.spec.normWeighting == .onePlusWeight && c.spec.activation == .geluTanh)
        #expect(c.spec.layers.enumerated().allSatisfy { i, l in l.window == (i % 2 == 0 ? 4096 : nil) && !l.localRoPE })
        #expect(c.spec.attentionScale == Float(1 / 16.0) && c.spec.attentionSoftcap == 50 && c.spec.finalLogitSoftcap == 30)
        #expect(c.spec.embeddingScale == Float(Double(2304).squareRoot()))
    }

    @Test func gemma3TextHasFiveLocalLayersToOneGlobal() throws {
        let c = try Self.config("""
        {"model_type": "gemma3_text", "hidden_size": 1152, "intermediate_size": 6912, "num_hidden_layers": 26, "num_attention_heads": 4,
         "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 262144, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
         "rope_scaling": null, "rms_norm_eps": 1e-06, "sliding_window": 512, "sliding_window_pattern": 6, "query_pre_attn_scalar": 256,
         "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 32768, "final_logit_softcapping": null,
         "attn_logit_softcapping": null}
        """)
        #expect(c.spec.qkNorm && c.spec.localRoPE == .init(theta: 10000) && c.ropeTheta == 1_000_000)
        #expect(c.spec.layers.enumerated().allSatisfy { i, l in (l.window == nil) == ((i + 1) % 6 == 0) && l.localRoPE == (l.window != nil) })
        #expect(c.spec.attentionSoftcap == nil && c.spec.finalLogitSoftcap == nil)
    }

    @Test func gemma3MultimodalCheckpointIsExplained() {
        let m = message { try Self.config("""
        {"model_type": "gemma3", "text_config": {"hidden_size": 2560}, "vision_config": {}, "hidden_size": 2560,
         "intermediate_size": 10240, "num_hidden_layers": 34, "num_attention_heads": 8, "vocab_size": 262208}
        """) }
        #expect(m?.contains("gemma3_text") == true)
    }

    @Test func mistral03HasNoWindow() throws {
        let c = try Self.config("""
        {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
         "num_key_value_heads": 8, "vocab_size": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-05, "sliding_window": null,
         "hidden_act": "silu", "max_position_embeddings": 32768, "tie_word_embeddings": false}
        """)
        #expect(c.spec.family == .mistral && c.spec.layers.isEmpty && !c.spec.qkvBias)
    }
}

/// `ModelSource.config` reads a model's family without its weights, for choices made before loading
/// (the default `--targets`: q,v, or Phi-3's fused qkv).
@Suite struct ModelSourceConfigTests {
    @Test(arguments: FamilyFixture.families)
    func headerGivesTheLoadedConfig(family: String) throws {
        let dir = try FamilyFixture.directory(family)
        let (loaded, _) = try ModelFileLoader.load(path: dir.path)
        #expect(try ModelSource.config(dir.path) == loaded)
        let gguf = dir.appendingPathComponent("model.gguf").path
        if FileManager.default.fileExists(atPath: gguf) {
            #expect(try ModelSource.config(gguf).spec.projections == loaded.spec.projections)
        }
        let defaults = AdapterConfig.defaultTargets(for: loaded.spec.projections)
        #expect(defaults == (family == "phi3" ? ["qkv"] : ["q", "v"]))
        // The default is a valid target list for the model.
        try AdapterConfig(rank: 2, targets: defaults).validate(for: loaded)
    }
}
