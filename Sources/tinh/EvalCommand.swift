import ArgumentParser
import Foundation
import Tinh

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean loss, perplexity and next-token accuracy of a model on JSONL data.",
        discussion: """
        Lines are {\"text\"}, {\"prompt\",\"completion\"} or {\"messages\"}; as in training, only completions and assistant turns count unless --train-on-prompt. Under mpirun the batches are shared out over the ranks.

        Examples:
          tinh eval --model smollm2 --data valid.jsonl --seq 256
          tinh eval --model smollm2 --adapter runs/a/adapter --data valid.jsonl --json
          tinh eval --model smollm2 --adapter runs/a/adapter --data valid.jsonl \\
            --exact-match
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var communicator: CommunicatorOptions
    @Option(help: "JSONL file.") var data: String
    @Option(help: "Tokens per example (longer ones are cut).") var seq = 512
    @Option(help: "Examples per forward pass.") var batch = 4
    @Flag(help: "Count every token, prompts included.") var trainOnPrompt = false
    @Option(help: "Render chats with this template instead of the model's own: \(ChatTemplate.names.joined(separator: ", ")).") var chatTemplate: String?
    @Flag(help: "Skip malformed lines (counted) instead of stopping.") var skipBadLines = false
    @Flag(help: "Instead of loss: answer each chat/prompt record greedily and count answers equal to the reference reply.")
    var exactMatch = false
    @Option(help: "With --exact-match: most tokens per answer.") var maxTokens = 32
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        let loaded = modelOptions.load()
        if exactMatch { return runExactMatch(loaded, comm) }
        do {
            let options = DataOptions(seq: seq, trainOnPrompt: trainOnPrompt, skipBadLines: skipBadLines,
                                      chatTemplate: chatTemplate)
            let (set, stats) = try TrainingDataset.evaluationSet(path: data, tokenizer: loaded.tokenizer, options: options)
            let result = try Evaluator.evaluate(loaded.model, set, batchSize: batch, comm: comm)
            if comm.isRoot {
                if json { printJSON(result) } else {
                    printError(stats.summary)
                    print(String(format: "loss %.4f  perplexity %.3f  accuracy %.2f%%  (%d tokens in %d examples)",
                                 result.loss, result.perplexity, 100 * result.accuracy, result.tokens, result.examples))
                }
            }
        } catch {
            fail("\(error)", comm: comm)
        }
        MPICommunicator.finalizeIfStarted()
    }

    func runExactMatch(_ loaded: LoadedModel, _ comm: Communicator) {
        do {
            let records = try JSONLReader.read(path: data, skipBadLines: skipBadLines).records.map(\.record)
            let template = try chatTemplate.map(loaded.tokenizer.chatTemplate(named:))
            let result = try ExactMatch.evaluate(loaded, records: records, maxTokens: maxTokens, comm: comm, chatTemplate: template)
            if comm.isRoot {
                if json { printJSON(result) } else {
                    print(String(format: "exact match %.1f%% (%d of %d)", 100 * result.accuracy, result.correct, result.count))
                    for s in result.samples {
                        print("  \(s.correct ? "✓" : "✗") \(s.prompt.debugDescription) -> \(s.answer.debugDescription) (expected \(s.expected.debugDescription))")
                    }
                }
            }
        } catch {
            fail("\(error)", comm: comm)
        }
        MPICommunicator.finalizeIfStarted()
    }
}
