import ArgumentParser
import Foundation
import Tinh

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt, or answer it as a chat with --chat, streaming tokens as they come.",
        discussion: """
            Examples:
              tinh generate --model smollm2 --prompt "The capital of France is"
              tinh generate --model smollm2 --adapter runs/mine/adapter --chat \\
                --prompt "Reverse the words: ship bag stone"
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The prompt (with --chat: the user's message).") var prompt: String
    @Flag(help: "Wrap the prompt in the model's chat template as a user turn.") var chat = false
    @Option(help: "System message for --chat (default: the template's own).") var system: String?
    @Option(help: "Render chats with this template instead of the model's own: \(ChatTemplate.names.joined(separator: ", ")).") var chatTemplate: String?
    @Option(help: "Most tokens to generate.") var maxTokens = 128
    @Option(help: "0 = greedy.") var temperature: Float = 0
    @Option(help: "Nucleus sampling: keep the smallest set of tokens with this much probability.") var topP: Float = 1
    @Option(help: "Seed for sampling.") var seed: UInt64 = 0

    func run() throws {
        let loaded = modelOptions.load()
        let tokenizer = loaded.tokenizer
        let ids: [Int32]
        if chat {
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            do {
                let template = try tokenizer.chatTemplate(override: chatTemplate.map(tokenizer.chatTemplate(named:)))
                ids = try tokenizer.encodeChat(messages, template: template, addGenerationPrompt: true).ids
            } catch { fail("--chat: \(loaded.spec): \(error)") }
        } else {
            ids = (tokenizer.addsBosToken ? tokenizer.specialIds.bos.map { [$0] } ?? [] : []) + tokenizer.encode(prompt)
        }
        do {
            var sampler = try TokenSampler(temperature: temperature, topP: topP, seed: seed)
            var stream = tokenizer.makeStreamingDecoder(skipSpecial: true)
            if !chat { writeOut(prompt) }
            _ = try TextGenerator(loaded).generate(prompt: ids, maxTokens: maxTokens, sampler: &sampler) { id in
                writeOut(stream.push(id))
            }
            writeOut(stream.finish() + "\n")
        } catch {
            fail("\(error)")
        }
    }

    private func writeOut(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
