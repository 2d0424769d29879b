import ArgumentParser
import Foundation
import Tinh

/// `--model`, shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 (after `tinh fetch smollm2`) or tiny[:seed].")
    var model: String

    @Option(help: "A PEFT-format LoRA adapter directory (adapter_config.json + adapter_model.safetensors, from `tinh export` or Hugging Face PEFT) applied on top of the model.")
    var adapter: String?

    @Option(help: "How the blocks' projection weights are held: f32, nf4 (QLoRA's 4-bit NormalFloat), q8 (Q8_0) or q4 (the file's Q4_0/Q4_1 blocks); each is dequantized per layer right before its matmuls. Embedding, head and norms stay f32. Or bf16: projections held in bfloat16 on any CPU; with AVX512-BF16 or AMX they and the LM head are multiplied by oneDNN's bf16 GEMM, elsewhere widened to f32 per layer (half the memory, f32 speed). Or int8, for CPUs without bf16 arithmetic: int8 codes with a scale per row and block of ≤ 256 columns, projections and LM head multiplied by oneDNN's int8 GEMM (AVX2, VNNI or AMX, chosen at run time) with the activations quantized on the fly.")
    var basePrecision = "f32"

    func load() -> LoadedModel { loadWithAdapter().loaded }

    /// The model, with the `--adapter` attached when given.
    func loadWithAdapter() -> (loaded: LoadedModel, adapters: AdapterSet?) {
        do {
            let loaded = try ModelSource.load(model, basePrecision: try BasePrecision.parse(basePrecision), gemm: RunEnvironment.frozenGEMM())
            RunEnvironment.configure(loaded.model)
            let adapters = try adapter.map { try PEFTAdapter.load(dir: $0, into: loaded.model) }
            if let dir = adapter, let record = try BaseQuantizationRecord.read(directory: dir), record.basePrecision != loaded.model.basePrecision {
                printError("note: the adapter was trained on a \(record.basePrecision) base (\(BaseQuantizationRecord.fileName)); this run holds the base in \(loaded.model.basePrecision) (--base-precision \(record.basePrecision) reproduces training)")
            }
            return (loaded, adapters)
        } catch { fail("\(error)") }
    }
}

func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    guard let data = try? encoder.encode(value) else { fail("cannot encode the result as JSON") }
    print(String(decoding: data, as: UTF8.self))
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
