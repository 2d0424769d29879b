import Foundation

/// Held-out accuracy by generation: for each chat or prompt/completion record, the model answers
/// everything before the final reply greedily, and the answer must equal the reference reply
/// (both trimmed). Under MPI the records are shared out over the ranks and the counts summed.
public enum ExactMatch {
    public struct Sample: Codable, Sendable {
        public var prompt: String
        public var expected: String
        public var answer: String
        public var correct: Bool
    }

    public struct Result: Codable, Sendable {
        public var count: Int
        public var correct: Int
        public var accuracy: Double
        /// The first few records' prompts and answers (from rank 0's share).
        public var samples: [Sample]
    }

    /// The conversation before the reference reply, and the reply; nil for plain text records.
    static func split(_ record: TrainingRecord) -> (context: [ChatMessage], expected: String)? {
        switch record {
        case .text: return nil
        case .promptCompletion(let prompt, let completion):
            return ([ChatMessage(role: "user", content: prompt)], completion)
        case .chat(let messages):
            guard let last = messages.last, last.role == "assistant", messages.count > 1 else { return nil }
            return (Array(messages.dropLast()), last.content)
        }
    }

    /// `chatTemplate` overrides the model's own (`--chat-template`).
    public static func evaluate(_ loaded: LoadedModel, records: [TrainingRecord], maxTokens: Int = 32, samples: Int = 3,
                                comm: Communicator = LocalCommunicator(), chatTemplate: ChatTemplate? = nil) throws -> Result {
        let pairs = records.compactMap(split)
        guard !pairs.isEmpty else {
            throw TinhError.invalidInput("exact match needs chat records ending in an assistant reply, or prompt/completion records")
        }
        let template = try loaded.tokenizer.chatTemplate(override: chatTemplate)
        let generator = TextGenerator(loaded)
        var counts: [Int64] = [0, 0]
        var kept: [Sample] = []
        for (i, pair) in pairs.enumerated() where i % comm.size == comm.rank {
            let ids = try loaded.tokenizer.encodeChat(pair.context, template: template, addGenerationPrompt: true).ids
            var sampler = try TokenSampler(temperature: 0)
            let answer = loaded.tokenizer.decode(try generator.generate(prompt: ids, maxTokens: maxTokens, sampler: &sampler), skipSpecial: true)
            let correct = answer.trimmingCharacters(in: .whitespacesAndNewlines) == pair.expected.trimmingCharacters(in: .whitespacesAndNewlines)
            counts[0] += 1
            counts[1] += correct ? 1 : 0
            if kept.count < samples {
                kept.append(Sample(prompt: pair.context.last?.content ?? "", expected: pair.expected, answer: answer, correct: correct))
            }
        }
        try comm.allreduceSum(&counts)
        return Result(count: Int(counts[0]), correct: Int(counts[1]), accuracy: Double(counts[1]) / Double(max(counts[0], 1)), samples: kept)
    }
}
