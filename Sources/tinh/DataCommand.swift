import ArgumentParser
import Foundation
import Tinh

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Training data tools: check a file before training, remove duplicates, write the demo task.",
        subcommands: [CheckSubcommand.self, DedupSubcommand.self, DemoSubcommand.self])

    struct CheckSubcommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "A data-quality report: formats, malformed lines, duplicates, leakage, lengths, loss share, charset and role-order problems.",
            discussion: """
                Every finding is reported as FILE:LINE. Errors (exit 1): lines that do not parse or are not UTF-8,                 empty texts, completions or assistant turns, chats whose roles are out of order or without an assistant turn,                 validation records that are also in the training data. Warnings (exit 0): exact and near duplicates                 (MinHash over 3-word shingles, confirmed by exact Jaccard), empty prompts or user turns, control characters,                 damaged text (U+FFFD, UTF-8 read as Latin-1), records cut by --seq or left without loss.

                Examples:
                  tinh data check train.jsonl
                  tinh data check train.jsonl --valid valid.jsonl --model smollm2 --seq 512
                  tinh data check train.jsonl --json > report.json
                """)

        @Argument(help: "The JSONL file to check.") var file: String
        @Option(help: "A validation file: checked too, and for records shared with FILE (leakage).") var valid: String?
        @Option(help: "A model whose tokenizer measures token lengths and loss share (a .gguf, a Hugging Face directory, smollm2 or tiny[:seed]).")
        var model: String?
        @Option(help: "Training sequence length the lengths are compared with.") var seq = 256
        @Flag(help: "Count prompts and user turns as carrying loss, as `tinh train --train-on-prompt` does.") var trainOnPrompt = false
        @Option(help: "Render chats with this template instead of the model's own: \(ChatTemplate.names.joined(separator: ", ")).") var chatTemplate: String?
        @Option(help: "Jaccard similarity from which two records are near duplicates.") var near = 0.8
        @Option(help: "Issues listed per kind in the text report.") var show = 20
        @Flag(help: "Print the whole report as JSON.") var json = false

        func run() throws {
            let report: DataCheckReport
            do {
                let tokenizer = try model.map { try ModelSource.load($0).tokenizer }
                report = try DataCheck.run(path: file, validPath: valid,
                                           options: .init(nearThreshold: near, tokenizer: tokenizer, seq: seq, trainOnPrompt: trainOnPrompt,
                                                          chatTemplate: chatTemplate))
            } catch { fail("\(error)") }
            if json { printJSON(report) } else { print(report.text(perKind: show)) }
            if !report.passed { throw ExitCode(1) }
        }
    }

    struct DedupSubcommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dedup",
            abstract: "Copy a JSONL file without duplicate records (the first of each group stays).",
            discussion: """
                Exact duplicates are records equal after lower-casing and collapsing whitespace; with --near, records whose                 3-word-shingle Jaccard similarity with an earlier kept record reaches the threshold go too. Kept lines are copied                 unchanged and in order; OUT is replaced atomically.

                Examples:
                  tinh data dedup train.jsonl train.dedup.jsonl
                  tinh data dedup train.jsonl train.dedup.jsonl --near 0.8
                """)

        @Argument(help: "Input JSONL.") var input: String
        @Argument(help: "Output JSONL (must differ from the input).") var output: String
        @Option(help: "Also remove near duplicates at or above this Jaccard similarity, e.g. 0.8.") var near: Double?

        func run() throws {
            do {
                let result = try DataDedup.run(input: input, output: output, nearThreshold: near)
                print("\(output): \(result.summary)")
            } catch { fail("\(error)") }
        }
    }

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
