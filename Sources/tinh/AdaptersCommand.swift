import ArgumentParser
import Foundation
import Tinh

struct AdaptersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapters",
        abstract: "Adapter algebra: combine several adapters into one.",
        subcommands: [AdaptersMergeCommand.self])
}

struct AdaptersMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine LoRA-form adapters of one base into one PEFT LoRA directory.",
        discussion: """
            cat: exact, B·A = Σ wᵢ·ΔWᵢ at the summed rank. linear: PEFT's (A and B weighted by √|w|; exact only when one \
            weight is non-zero). ties: trim to --density, elect signs, average the agreeing entries (on A and on B, as PEFT). \
            dare: drop entries with probability 1 − density (seeded by --seed), rescale, then linear.
            Inputs: PEFT directories of any method Tinh exports as a LoRA (LoRA, LoRA-FA, PiSSA, VeRA, AdaLoRA). The result \
            has one rank for every module (zero-padded, which changes nothing) and alpha = r, so it reloads in Tinh, in PEFT, and \
            exports to llama.cpp with `tinh export --format gguf-lora`.

            Example:
              tinh adapters merge --model smollm2 --adapter a1 --adapter a2 --combination cat --weights 1,0.5 --out both
            """)

    @Option(help: "The base model the adapters were trained on.") var model: String
    @Option(help: "A PEFT adapter directory (repeat for each input).") var adapter: [String] = []
    @Option(help: "cat, linear, ties or dare.") var combination = "cat"
    @Option(help: "One weight per adapter, comma-separated (default: 1 each).") var weights: String?
    @Option(help: "ties/dare: the share of entries kept, in (0, 1].") var density: Float = 0.5
    @Option(help: "dare: the seed of the dropped entries.") var seed: UInt64 = 0
    @Option(help: "The adapter directory to write.") var out: String

    func run() throws {
        guard adapter.count >= 2 else { fail("adapters merge needs at least two --adapter directories") }
        guard let kind = AdapterCombination(rawValue: combination) else {
            fail("--combination \(combination): use \(AdapterCombination.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var w = Array(repeating: Float(1), count: adapter.count)
        if let weights {
            let parsed = weights.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard parsed.count == adapter.count, parsed.allSatisfy({ $0 != nil }) else {
                fail("--weights \(weights): give \(adapter.count) comma-separated numbers, one per --adapter")
            }
            w = parsed.compactMap { $0 }
        }
        do {
            let loaded = try ModelSource.load(model, basePrecision: .f32, gemm: RunEnvironment.frozenGEMM())
            var inputs: [[String: LowRankFactors]] = []
            for dir in adapter {
                let set = try PEFTAdapter.load(dir: dir, into: loaded.model)
                inputs.append(try AdapterAlgebra.factors(of: set))
                set.detach()
            }
            let options = AdapterAlgebra.Options(combination: kind, weights: w, density: kind == .ties || kind == .dare ? density : 1, seed: seed)
            let combined = try AdapterAlgebra.combine(inputs, options: options)
            let set = try AdapterAlgebra.writePEFT(combined, model: loaded.model, baseModelName: PEFTExport.baseModelName(forSpec: model),
                                                   to: URL(fileURLWithPath: out, isDirectory: true))
            print("wrote \(out): \(kind.rawValue) of \(adapter.count) adapters, LoRA r=\(set.config.rank) alpha=\(set.config.alpha), "
                  + "targets \(set.config.targets.joined(separator: ","))")
        } catch {
            fail("\(error)")
        }
    }
}
