import ArgumentParser
import Foundation
import Tinh

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Next-token logits at every position of a prompt: top-k candidates, sum and L2 norm.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The text to score (special tokens such as <|im_start|> are recognised).") var prompt: String
    @Option(help: "Candidates per position.") var topK = 5
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Also write every logit as raw little-endian float32 [positions, vocab] to this file (to compare with another implementation).")
    var logitsOut: String?

    func run() throws {
        let loaded = modelOptions.load()
        let report: LogitsReport
        do {
            report = try LogitsReport.compute(loaded, prompt: prompt, topK: topK)
            if let logitsOut {
                let all = try loaded.model.logits(tokens: report.tokenIds)
                try AtomicFile.write(Data(bytes: all.data, count: all.count * MemoryLayout<Float>.size), to: logitsOut)
            }
        } catch { fail("\(error)") }
        if json { return printJSON(report) }
        print("tokens: \(report.tokenIds.map(String.init).joined(separator: " "))")
        for p in report.positions {
            let input = loaded.tokenizer.decode([p.inputId]).debugDescription
            let top = zip(p.topTokens, p.topLogits).map { "\($0.debugDescription) \(String(format: "%.3f", $1))" }
            print(String(format: "%4d %-14@ sum %.1f l2 %.1f | ", p.position, input as NSString, p.sum, p.l2) + top.joined(separator: ", "))
        }
    }
}
