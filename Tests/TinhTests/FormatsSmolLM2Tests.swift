import Foundation
import Testing
@testable import Tinh

/// Checks on the real SmolLM2-135M-Instruct GGUF. They need the model in the cache
/// (`tinh fetch smollm2`); without it they are reported as skipped with that message.
@Suite(.enabled(if: ModelCache.isSmolLM2Cached, "SKIPPED: SmolLM2 is not in the cache (tinh fetch smollm2)"))
struct FormatsSmolLM2Tests {
    @Test func metadataAndTensorTable() throws {
        let g = try GGUFFile(path: ModelCache.smolLM2Path)
        #expect(g.version == 3 && g.alignment == 32 && g.architecture == "llama")
        #expect(g.metadata["tokenizer.ggml.model"]?.string == "gpt2")
        #expect(g.metadata["tokenizer.ggml.pre"]?.string == "smollm")
        #expect(g.metadata["tokenizer.ggml.tokens"]?.stringArray?.count == 49152)
        #expect(g.metadata["tokenizer.ggml.tokens"]?.stringArray?.prefix(3) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        #expect(g.metadata["tokenizer.ggml.merges"]?.stringArray?.count == 48900)
        #expect(g.metadata["tokenizer.ggml.token_type"]?.int32Array?.count == 49152)
        #expect(g.metadata["tokenizer.ggml.bos_token_id"]?.int == 1 && g.metadata["tokenizer.ggml.eos_token_id"]?.int == 2)
        #expect(g.metadata["tokenizer.chat_template"]?.string?.contains("You are a helpful AI assistant named SmolLM") == true)
        #expect(g.tensors.count == 272)
        let types = Set(g.tensors.map(\.type))
        #expect(types == [.q4_1, .q8_0, .f32] || types.isSuperset(of: [.q4_1, .q8_0, .f32]))
        #expect(g.tensors.allSatisfy { $0.type.canDequantize })
        #expect(g.info("token_embd.weight")?.shape == [49152, 576] && g.info("output.weight") == nil)
    }

    @Test func configFromMetadata() throws {
        let c = try GGUFModelLoader.config(GGUFFile(path: ModelCache.smolLM2Path))
        #expect(c == DecoderConfig(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9,
                                 numKVHeads: 3, headDim: 64, ropeTheta: 100_000, rmsNormEps: 1e-5, maxPositions: 8192,
                                 tieWordEmbeddings: true, attentionBias: false))
    }

    @Test func loadsAllWeights() throws {
        let g = try GGUFFile(path: ModelCache.smolLM2Path)
        let (c, w) = try GGUFModelLoader.load(g)
        #expect(w.count == 272 && c.numLayers == 30)
        var params = 0
        for (name, t) in w {
            params += t.count
            let finite = t.buffer.allSatisfy { $0.isFinite }
            #expect(finite, "\(name) has non-finite values")
        }
        #expect(params == 134_515_008)
        // Norm weights are F32 in the file and copied exactly.
        let norm = try #require(w["model.layers.0.input_layernorm.weight"])
        let normRaw = try g.tensor("blk.0.attn_norm.weight")
        #expect(norm.array == normRaw.array)
        // q rows are un-permuted: same multiset of rows as the file, different order.
        let q = try #require(w["model.layers.0.self_attn.q_proj.weight"])
        let raw = try g.tensor("blk.0.attn_q.weight")
        #expect(q.array != raw.array && q.array.sorted() == raw.array.sorted())
        #expect(try RopePermutation.permute(q, heads: 9).array == raw.array)
    }
}
