import Foundation
import Testing
@testable import Tinh

@Suite struct FormatsLlamaGGUFTests {
    @Test func permutationMatchesConverterOnKnownRows() throws {
        // One head, head_dim 6: rows [0..5] -> reshape(1, 2, 3).swapaxes(1, 2) -> [0, 3, 1, 4, 2, 5].
        let t = Tensor(shape: [6, 2], values: (0 ..< 12).map(Float.init))
        let p = try RopePermutation.permute(t, heads: 1)
        #expect(p.array == [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11])
        // Two heads of 4: each head's rows [a, b, c, d] -> [a, c, b, d].
        let v = Tensor(shape: [8], values: (0 ..< 8).map(Float.init))
        #expect(try RopePermutation.permute(v, heads: 2).array == [0, 2, 1, 3, 4, 6, 5, 7])
    }

    @Test func unpermuteInvertsPermute() throws {
        var rng = TestRNG(state: 9)
        for (heads, hd, cols) in [(3, 8, 5), (1, 2, 1), (4, 16, 3)] {
            let t = Tensor(shape: [heads * hd, cols], values: (0 ..< heads * hd * cols).map { _ in rng.float(-1, 1) })
            let p = try RopePermutation.permute(t, heads: heads)
            #expect(p.array != t.array || hd == 2)
            #expect(try RopePermutation.unpermute(p, heads: heads).array == t.array)
        }
        #expect(throws: TinhError.self) { try RopePermutation.unpermute(Tensor(shape: [6, 2]), heads: 4) }
    }

    @Test func namesMapToHuggingFace() {
        #expect(GGUFModelLoader.hfName("token_embd.weight") == "model.embed_tokens.weight")
        #expect(GGUFModelLoader.hfName("output_norm.weight") == "model.norm.weight")
        #expect(GGUFModelLoader.hfName("output.weight") == "lm_head.weight")
        #expect(GGUFModelLoader.hfName("blk.12.attn_output.weight") == "model.layers.12.self_attn.o_proj.weight")
        #expect(GGUFModelLoader.hfName("blk.0.attn_norm.weight") == "model.layers.0.input_layernorm.weight")
        #expect(GGUFModelLoader.hfName("blk.3.ffn_norm.weight") == "model.layers.3.post_attention_layernorm.weight")
        #expect(GGUFModelLoader.hfName("blk.1.ffn_down.weight") == "model.layers.1.mlp.down_proj.weight")
        #expect(GGUFModelLoader.hfName("blk.1.attn_q.bias") == "model.layers.1.self_attn.q_proj.bias")
        #expect(GGUFModelLoader.hfName("blk.01.attn_q.weight") == nil)
        #expect(GGUFModelLoader.hfName("blk.-1.attn_q.weight") == nil)
        #expect(GGUFModelLoader.hfName("rope_freqs.weight") == nil)
    }

    /// A 2-layer model (hidden 8, 2 heads, 1 KV head, head_dim 4) written the way llama.cpp's
    /// converter writes it: q/k rows permuted. Returns the file and the HF-layout weights.
    static func tinyModel(tied: Bool = true, arch: String = "llama", skip: String? = nil,
                          reshape: [String: [Int]] = [:], metadata extra: [(String, GGUFValue)] = [],
                          tensors extraTensors: [(String, [Float])] = []) throws -> (String, [String: [Float]]) {
        var rng = TestRNG(state: 5)
        var b = GGUFBuilder()
        let hidden = 8, inter = 12, vocab = 10, heads = 2, kv = 1, hd = 4
        b.metadata = [
            ("general.architecture", .string(arch)),
            ("\(arch).embedding_length", .uint32(UInt32(hidden))), ("\(arch).feed_forward_length", .uint32(UInt32(inter))),
            ("\(arch).block_count", .uint32(2)), ("\(arch).attention.head_count", .uint32(UInt32(heads))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(kv))), ("\(arch).rope.freq_base", .float32(50000)),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-6)), ("\(arch).context_length", .uint32(256)),
            ("tokenizer.ggml.tokens", .array(.string, (0 ..< vocab).map { .string("t\($0)") })),
        ] + extra
        var hf: [String: [Float]] = [:]
        func add(_ gguf: String, _ shape: [Int], permuteHeads: Int? = nil) throws {
            if gguf == skip { return }
            let values = (0 ..< shape.reduce(1, *)).map { _ in rng.float(-1, 1) }
            let name = GGUFModelLoader.hfName(gguf) ?? gguf
            hf[name] = values
            var stored = values
            if let h = permuteHeads, arch == "llama" {
                stored = try RopePermutation.permute(Tensor(shape: shape, values: values), heads: h).array
            }
            let s = reshape[gguf] ?? shape
            b.addF32(gguf, shape: s, values: Array(stored.prefix(s.reduce(1, *))) + [Float](repeating: 0, count: max(0, s.reduce(1, *) - stored.count)))
        }
        try add("token_embd.weight", [vocab, hidden])
        for i in 0 ..< 2 {
            try add("blk.\(i).attn_norm.weight", [hidden])
            try add("blk.\(i).attn_q.weight", [heads * hd, hidden], permuteHeads: heads)
            try add("blk.\(i).attn_k.weight", [kv * hd, hidden], permuteHeads: kv)
            try add("blk.\(i).attn_v.weight", [kv * hd, hidden])
            if arch == "qwen2" {
                try add("blk.\(i).attn_q.bias", [heads * hd])
                try add("blk.\(i).attn_k.bias", [kv * hd])
                try add("blk.\(i).attn_v.bias", [kv * hd])
            }
            try add("blk.\(i).attn_output.weight", [hidden, heads * hd])
            try add("blk.\(i).ffn_norm.weight", [hidden])
            try add("blk.\(i).ffn_gate.weight", [inter, hidden])
            try add("blk.\(i).ffn_up.weight", [inter, hidden])
            try add("blk.\(i).ffn_down.weight", [hidden, inter])
        }
        try add("output_norm.weight", [hidden])
        if !tied { try add("output.weight", [vocab, hidden]) }
        for (name, values) in extraTensors { b.addF32(name, shape: [values.count], values: values) }
        return (try b.write(), hf)
    }

    @Test func loadsTinyLlamaInHFLayout() throws {
        let (path, hf) = try Self.tinyModel()
        let (c, w) = try GGUFModelLoader.load(path: path)
        #expect(c == DecoderConfig(vocabSize: 10, hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 2,
                                 numKVHeads: 1, headDim: 4, ropeTheta: 50000, rmsNormEps: 1e-6, maxPositions: 256,
                                 tieWordEmbeddings: true, attentionBias: false))
        #expect(Set(w.keys) == Set(hf.keys) && w["lm_head.weight"] == nil)
        for (name, values) in hf { #expect(w[name]?.array == values, "\(name)") }
        #expect(w["model.layers.1.self_attn.q_proj.weight"]?.shape == [8, 8])
        #expect(w["model.layers.0.mlp.down_proj.weight"]?.shape == [8, 12])
    }

    @Test func untiedHeadAndQwen2Biases() throws {
        let (path, hf) = try Self.tinyModel(tied: false, arch: "qwen2")
        let (c, w) = try GGUFModelLoader.load(path: path)
        #expect(!c.tieWordEmbeddings && c.attentionBias)
        for (name, values) in hf { #expect(w[name]?.array == values, "\(name)") }  // qwen2: nothing permuted
        #expect(w["lm_head.weight"]?.shape == [10, 8] && w["model.layers.0.self_attn.k_proj.bias"]?.shape == [4])
    }

    @Test func missingOrMisshapedTensorsAreClearErrors() throws {
        let (p1, _) = try Self.tinyModel(skip: "blk.1.ffn_up.weight")
        #expect(message { try GGUFModelLoader.load(path: p1) }?.contains("missing tensor 'model.layers.1.mlp.up_proj.weight'") == true)
        let (p2, _) = try Self.tinyModel(reshape: ["blk.0.ffn_gate.weight": [11, 8]])
        #expect(message { try GGUFModelLoader.load(path: p2) }?.contains("'model.layers.0.mlp.gate_proj.weight' has shape [11, 8], the config needs [12, 8]") == true)
    }

    @Test func badMetadataIsAClearError() throws {
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("llama")), ("llama.embedding_length", .uint32(8))]
        #expect(message { try GGUFModelLoader.load(path: try b.write()) }?.contains("'llama.attention.head_count' is missing") == true)
        var h = GGUFBuilder()
        h.metadata = [("general.architecture", .string("llama")), ("llama.embedding_length", .uint64(8)),
                      ("llama.feed_forward_length", .uint64(8)), ("llama.attention.head_count", .uint32(2)),
                      ("llama.block_count", .uint64(100)), ("llama.vocab_size", .uint32(4))]
        #expect(message { try GGUFModelLoader.load(path: try h.write()) }?.contains("declares 100 layers, but there are only 0 tensors") == true)
        h.metadata[4] = ("llama.block_count", .uint32(1))
        h.metadata[1] = ("llama.embedding_length", .int64(1 << 50))
        #expect(message { try GGUFModelLoader.load(path: try h.write()) }?.contains("implausible model dimensions") == true)
        var c = GGUFBuilder()
        c.metadata = [("general.architecture", .string("gpt2"))]
        #expect(message { try GGUFModelLoader.load(path: try c.write()) }?.contains("architecture 'gpt2'") == true)
    }

    /// RoPE scaling in GGUF metadata: linear is read, Llama 3.1's precomputed rope_freqs factors are
    /// applied, and kinds Tinh does not implement are refused naming the key, never ignored.
    @Test func ropeScalingIsReadOrRefused() throws {
        let (plainPath, _) = try Self.tinyModel()
        #expect(try GGUFModelLoader.config(GGUFFile(path: plainPath)).ropeScaling == nil)
        let (linear, _) = try Self.tinyModel(metadata: [("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(4))])
        #expect(try GGUFModelLoader.config(GGUFFile(path: linear)).ropeScaling == .linear(factor: 4))
        let (freqs, _) = try Self.tinyModel(tensors: [("rope_freqs.weight", [1, 8])])
        #expect(try GGUFModelLoader.config(GGUFFile(path: freqs)).ropeScaling == .divisors([1, 8]))
        func logits(_ path: String) throws -> [Float] {
            let (config, weights) = try GGUFModelLoader.load(path: path)
            return try DecoderModel(config: config, weights: weights).logits(tokens: [1, 2, 3, 4, 5]).array
        }
        let a = try logits(plainPath), b = try logits(freqs)
        #expect(a != b, "the frequency factors change the model")
        let (yarn, _) = try Self.tinyModel(metadata: [("llama.rope.scaling.type", .string("yarn")), ("llama.rope.scaling.factor", .float32(4))])
        #expect(message { try GGUFModelLoader.load(path: yarn) }?.contains("llama.rope.scaling.type = 'yarn'") == true)
        let (partial, _) = try Self.tinyModel(metadata: [("llama.rope.dimension_count", .uint32(2))])
        #expect(message { try GGUFModelLoader.load(path: partial) }?.contains("llama.rope.dimension_count = 2") == true)
        let (badFreqs, _) = try Self.tinyModel(tensors: [("rope_freqs.weight", [1, 2, 3])])
        #expect(message { try GGUFModelLoader.load(path: badFreqs) }?.contains("rope_freqs.weight has shape [3], expected [2]") == true)
    }
}
