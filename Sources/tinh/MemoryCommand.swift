import ArgumentParser
import Foundation
import Tinh

struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Load a model's frozen base on every rank and report each rank's PSS (proportional set size).",
        discussion: """
            With --shared-base on (auto: when ranks share the node), the base is decoded once, in its \
            --base-precision, into a file in the cache that every rank on the node maps, so its pages count \
            once per node: each rank's share is base/ranks. With off, every rank holds a private copy.
            """)

    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 or tiny[:seed].") var model: String
    @Option(help: "auto, on or off (see tinh train --shared-base).") var sharedBase: SharedBaseCache.Policy = .auto
    @Option(help: "How the frozen base's projection weights are held: f32, nf4, q8, q4, bf16 or int8 (as in train).")
    var basePrecision: String = "f32"
    @Flag(help: "Print one JSON document (rank 0).") var json = false
    @OptionGroup var communicator: CommunicatorOptions

    func run() throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        let report: BaseMemoryReport
        do {
            report = try BaseMemory.report(model, policy: sharedBase, basePrecision: try BasePrecision.parse(basePrecision), comm: comm)
        } catch { fail("\(error)", comm: comm) }
        if comm.isRoot {
            if json {
                print(String(decoding: try JSONEncoder.prettySorted.encode(report), as: UTF8.self))
            } else {
                print(String(format: "base %@: %.0f MiB in %@, %@", model, report.baseMegabytes, basePrecision,
                             report.sharedBase ? "one copy per node mapped from the cache" : "a private copy per rank"))
                for r in 0..<report.ranks {
                    print(String(format: "rank %d: PSS %.0f MiB (of which the shared base file %.0f MiB)", r,
                                 report.pssMegabytes[r], report.basePssMegabytes[r]))
                }
            }
        }
        MPICommunicator.finalizeIfStarted()
    }
}

extension JSONEncoder {
    static var prettySorted: JSONEncoder { let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]; return e }
}
