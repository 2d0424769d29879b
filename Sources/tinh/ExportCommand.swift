import ArgumentParser
import Foundation
import Tinh

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained adapter as a PEFT directory, a llama.cpp LoRA GGUF, or a merged GGUF model.",
        discussion: """
            peft: a directory that loads with PeftModel.from_pretrained(base, OUT) and with `tinh ... --adapter OUT`.
            gguf-lora: llama.cpp's adapter file (llama-cli/llama-server --lora OUT, ollama's ADAPTER). LoRA, LoRA-FA, LoRA+, \
            QLoRA, PiSSA (as the rank-2r LoRA of the original base), VeRA and AdaLoRA (folded into plain LoRA factors) convert \
            exactly; DoRA, Delta-LoRA and full fine-tuning are refused with the reason.
            gguf: the adapter merged into a GGUF base, written whole (metadata and tokenizer kept) with --quant matrices.

            Examples:
              tinh export --run runs/mine --format peft --out adapters/mine
              tinh export --run runs/mine --format gguf-lora --out mine-lora.gguf
              tinh export --model smollm2 --adapter adapters/mine --format gguf --quant q8_0 --out mine-q8_0.gguf
            """)

    @Option(name: .customLong("run"), help: "The training output directory (--out of `tinh train`).") var runDirectory: String?
    @Option(help: "A checkpoint of the run: step-00000100, 100 or a path (default: the latest).") var checkpoint: String?
    @Option(help: "A PEFT adapter directory to export instead of a run (gguf formats).") var adapter: String?
    @Option(help: "Output format: peft, gguf-lora or gguf.") var format = "peft"
    @Option(help: "The adapter directory (peft) or .gguf file to write.") var out: String
    @Option(help: "peft: the base model to record in adapter_config.json; gguf formats: the base model (default: the model the run trained).")
    var model: String?
    @Option(help: "gguf: the type of the merged matrices: f32, f16, bf16, q8_0 or q4_0.") var quant = "f16"

    func run() throws {
        if format == "peft" { return exportPEFT() }
        guard let kind = GGUFExport.Format(rawValue: format) else {
            fail("--format \(format) is not supported; use peft, gguf-lora or gguf")
        }
        guard (runDirectory == nil) != (adapter == nil) else { fail("--format \(format) needs either --run RUN or --adapter DIR") }
        do {
            let type = try GGMLEncode.parse(quant)
            var spec = model
            var checkpointURL: URL?
            if let runDirectory {
                let run = URL(fileURLWithPath: runDirectory, isDirectory: true)
                let url = checkpoint.map { Checkpoints.named($0, run: run) } ?? run
                checkpointURL = url
                if spec == nil { spec = try Checkpoints.read(url).modelSpec }
            }
            guard let spec else { fail("--format \(format) needs --model (the run records no model)") }
            let loaded = try ModelSource.load(spec, basePrecision: .f32, gemm: RunEnvironment.frozenGEMM())
            let adapters = try checkpointURL.map { try GGUFExport.attachCheckpoint($0, to: loaded.model) }
                ?? PEFTAdapter.load(dir: adapter ?? "", into: loaded.model)
            for line in try GGUFExport.write(kind, loaded: loaded, adapters: adapters, quant: type, to: out) { print(line) }
        } catch {
            fail("\(error)")
        }
    }

    private func exportPEFT() {
        guard let runDirectory else { fail("--format peft needs --run RUN") }
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
