import ArgumentParser
import Foundation
import Tinh

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a training checkpoint as a Hugging Face PEFT adapter directory.",
        discussion: """
            The result loads with PeftModel.from_pretrained(base, OUT) and with `tinh logits|generate|eval --adapter OUT`.

            Examples:
              tinh export --run runs/mine --format peft --out adapters/mine
              tinh export --run runs/mine --checkpoint 100 --out adapters/mine-100
            """)

    @Option(name: .customLong("run"), help: "The training output directory (--out of `tinh train`).") var runDirectory: String
    @Option(help: "A checkpoint of the run: step-00000100, 100 or a path (default: the latest).") var checkpoint: String?
    @Option(help: "Output format: peft.") var format = "peft"
    @Option(help: "The adapter directory to write.") var out: String
    @Option(help: "Base model to record in adapter_config.json (default: the model the run trained).") var model: String?

    func run() throws {
        guard format == "peft" else { fail("--format \(format) is not supported; use --format peft") }
        let run = URL(fileURLWithPath: runDirectory, isDirectory: true)
        let source = checkpoint.map { Checkpoints.named($0, run: run) } ?? run
        do {
            let base = model.map(PEFTExport.baseModelName(forSpec:))
            let saved = try PEFTExport.write(checkpoint: source, baseModelName: base, to: URL(fileURLWithPath: out, isDirectory: true))
            let a = saved.state.adapter
            let settings = a.method.type.exportDescription(a)
            print("exported \(saved.directory.lastPathComponent) (\(settings), targets \(a.targets.joined(separator: ","))) to \(out)")
            if a.method.type.movesBaseWeights {
                print("note: \(a.method.name) also moved the base weights, which a PEFT adapter cannot carry: this adapter on the original "
                      + "base is not the fine-tuned model. Use \(run.appendingPathComponent("merged").path) (written when training ends); "
                      + "the checkpoint's \(Checkpoints.extraFile) holds the moved weights.")
            }
        } catch {
            fail("\(error)")
        }
    }
}
