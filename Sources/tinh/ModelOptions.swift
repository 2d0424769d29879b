import ArgumentParser
import Foundation
import Tinh

/// `--model`, shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 (after `tinh fetch smollm2`) or tiny[:seed].")
    var model: String

    @Option(help: "A PEFT-format LoRA adapter directory (adapter_config.json + adapter_model.safetensors, from `tinh export` or Hugging Face PEFT) applied on top of the model.")
    var adapter: String?

    func load() -> LoadedModel { loadWithAdapter().loaded }

    /// The model, with the `--adapter` attached when given.
    func loadWithAdapter() -> (loaded: LoadedModel, adapters: AdapterSet?) {
        do {
            let loaded = try ModelSource.load(model)
            let adapters = try adapter.map { try PEFTAdapter.load(dir: $0, into: loaded.model) }
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
