import ArgumentParser
import Tinh

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Architecture, tensors, parameter counts, tokenizer and chat template of a model.")

    @Argument(help: "A .gguf file, a Hugging Face directory, smollm2 or tiny[:seed].") var model: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let summary = ModelSummary(ModelOptions(model: model).load())
        if json { printJSON(summary) } else { print(summary.text) }
    }
}

extension ModelOptions {
    init(model: String) {
        self.init()
        self.model = model
        self.adapter = nil  // an unparsed @Option must be set before it is read
        self.basePrecision = "f32"
    }
}
