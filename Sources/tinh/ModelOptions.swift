import ArgumentParser
import Foundation
import Tinh

/// `--model`, shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 (after `tinh fetch smollm2`) or tiny[:seed].")
    var model: String

    func load() -> LoadedModel {
        do { return try ModelSource.load(model) } catch { fail("\(error)") }
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
