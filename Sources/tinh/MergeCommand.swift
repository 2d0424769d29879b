import ArgumentParser
import Foundation
import Tinh

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold a LoRA adapter into the base weights and write a Hugging Face model directory.",
        discussion: """
            Writes OUT (the weights), config.json beside it, and the tokenizer files when the base model is a Hugging Face directory.

            Example:
              tinh merge --model smollm2 --adapter runs/mine/adapter \\
                --out merged/model.safetensors
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The merged weights file to write, e.g. merged/model.safetensors.") var out: String

    func run() throws {
        guard modelOptions.adapter != nil else { fail("merge needs --adapter DIR (a PEFT-format LoRA adapter)") }
        let (loaded, adapters) = modelOptions.loadWithAdapter()
        guard let adapters else { fail("merge needs --adapter DIR") }
        do {
            let result = try Merge.write(loaded: loaded, adapters: adapters, to: out)
            for file in result.files { print("wrote \(file)") }
            if let note = result.note { printError("note: \(note)") }
        } catch {
            fail("\(error)")
        }
    }
}
