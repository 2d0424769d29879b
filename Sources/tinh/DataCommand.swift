import ArgumentParser
import Foundation
import Tinh

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Training data tools.",
        subcommands: [DemoSubcommand.self])

    struct DemoSubcommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo",
            abstract: "Write the demo task (reverse three words, joined by \" / \") as OUT/train.jsonl and OUT/valid.jsonl.")

        @Option(help: "Directory to write into (created if needed).") var out: String
        @Option(help: "Training examples.") var train = 400
        @Option(help: "Held-out examples.") var valid = 100
        @Option(help: "Seed; the same seed gives the same bytes.") var seed: UInt64 = 0

        func run() throws {
            let made: (train: [DemoTask.Example], valid: [DemoTask.Example])
            do {
                made = try DemoTask.write(to: URL(fileURLWithPath: out, isDirectory: true), trainCount: train, validCount: valid, seed: seed)
            } catch { fail("\(error)") }
            print("wrote \(made.train.count) training and \(made.valid.count) held-out examples to \(out)/{train,valid}.jsonl")
            if let first = made.train.first { print("example: \(first.prompt.debugDescription) -> \(first.expected.debugDescription)") }
        }
    }
}
