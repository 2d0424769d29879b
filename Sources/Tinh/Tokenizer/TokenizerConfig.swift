import Foundation

/// What `tokenizer_config.json` and `special_tokens_map.json` say beside a `tokenizer.json`:
/// the bos/eos/pad/unk tokens, add_bos_token/add_eos_token and the chat template (which
/// transformers 5 writes to `chat_template.jinja` instead).
struct TokenizerConfig {
    var bos: String?, eos: String?, pad: String?, unk: String?
    var addBosToken: Bool?
    var addEosToken: Bool?
    var chatTemplate: String?

    init(tokenizerConfig: Data?, specialTokensMap: Data?, chatTemplateFile: String?) {
        let config = TokenizerConfig.object(tokenizerConfig)
        let map = TokenizerConfig.object(specialTokensMap)
        func token(_ key: String) -> String? { TokenizerConfig.content(config[key]) ?? TokenizerConfig.content(map[key]) }
        bos = token("bos_token")
        eos = token("eos_token")
        pad = token("pad_token")
        unk = token("unk_token")
        addBosToken = config["add_bos_token"] as? Bool
        addEosToken = config["add_eos_token"] as? Bool
        chatTemplate = chatTemplateFile ?? TokenizerConfig.template(config["chat_template"])
    }

    /// Reads the three files beside `tokenizer.json`, each optional.
    init(directory: URL) {
        func read(_ name: String) -> Data? { FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) }
        self.init(tokenizerConfig: read("tokenizer_config.json"), specialTokensMap: read("special_tokens_map.json"),
                  chatTemplateFile: read("chat_template.jinja").map { String(decoding: $0, as: UTF8.self) })
    }

    private static func object(_ data: Data?) -> [String: Any] {
        data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
    }

    /// A token given as a string or as an AddedToken object `{"content": ...}`.
    private static func content(_ value: Any?) -> String? {
        value as? String ?? (value as? [String: Any])?["content"] as? String
    }

    /// `chat_template` is a string, or a list of `{name, template}` of which "default" is the one.
    private static func template(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        let named = value as? [[String: Any]] ?? []
        return named.first { $0["name"] as? String == "default" }?["template"] as? String
    }
}
