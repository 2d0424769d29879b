import Foundation
import Testing
@testable import Tinh

/// `tinh train --config FILE.yaml`: keys are flags, the command line wins, and a run configured by
/// file resolves to the same TrainConfig as one configured by flags.
@Suite struct ConfigFileTests {
    static func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-config-\(UUID().uuidString)-\(name)").path
    }

    static func write(_ text: String, _ name: String = "c.yaml") throws -> String {
        let path = temp(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func keysBecomeFlagsWithTheirLines() throws {
        let yaml = """
            # a comment
            lr: 2e-4
            grad_accum: 2
            min-lr-ratio: 0.1
            targets: [q, k, v]
            pack: true
            rslora: false
            valid: ~
            model: "tiny:3"
            """
        let entries = try ConfigFile.entries(yaml: yaml, path: "c.yaml")
        #expect(entries.map(\.flag) == ["--lr", "--grad-accum", "--min-lr-ratio", "--targets", "--pack", "--model"])
        #expect(entries.map(\.value) == ["2e-4", "2", "0.1", "q,k,v", nil, "tiny:3"])
        #expect(entries.map(\.line) == [2, 3, 4, 5, 6, 9])
        // The command line wins; the file's flags come first.
        let merged = ConfigFile.merge(entries, commandLine: ["--lr", "1e-3", "--pack", "--out=x"])
        #expect(merged == ["--grad-accum", "2", "--min-lr-ratio", "0.1", "--targets", "q,k,v", "--model", "tiny:3", "--lr", "1e-3", "--pack", "--out=x"])
    }

    @Test func badFilesNameTheLine() {
        let twice = #expect(throws: TinhError.self) { try ConfigFile.entries(yaml: "lr: 1\nlr: 2\n", path: "c.yaml") }
        #expect(twice?.description.contains("'lr'") == true, "\(String(describing: twice))")
        #expect(throws: TinhError.invalidInput("c.yaml:2: 'grad_accum' is set twice (also on line 1)")) {
            try ConfigFile.entries(yaml: "grad-accum: 1\ngrad_accum: 2\n", path: "c.yaml")
        }
        #expect(throws: TinhError.invalidInput("c.yaml:1: 'adapter' has a nested mapping; flags take a value, true/false or a list")) {
            try ConfigFile.entries(yaml: "adapter:\n  rank: 8\n", path: "c.yaml")
        }
        #expect(throws: TinhError.self) { try ConfigFile.entries(yaml: "- a\n- b\n", path: "c.yaml") }
        #expect(throws: TinhError.self) { try ConfigFile.entries(yaml: "lr: [1\n", path: "c.yaml") }
    }

    @Test func savedFlagsReadBackToTheSameArguments() throws {
        let arguments = ["--model", "tiny", "--data", "a b#c.jsonl", "--lr", "2e-4", "--pack", "--targets", "q,v", "--valid", "true",
                         "--seq=64", "--config", "x.yaml"]
        let yaml = try ConfigFile.yaml(arguments: arguments, skip: ["--config"])
        let back = try ConfigFile.entries(yaml: yaml, path: "saved.yaml")
        #expect(ConfigFile.merge(back, commandLine: []) == ["--model", "tiny", "--data", "a b#c.jsonl", "--lr", "2e-4", "--pack",
                                                            "--targets", "q,v", "--valid", "true", "--seq", "64"], "\(yaml)")
    }

    func train(_ arguments: [String]) throws -> TestProcess.Result {
        try TestProcess.run([TestProcess.tinh, "train"] + arguments, timeout: 90)
    }

    func resolved(_ out: String) throws -> TrainConfig {
        var config = try JSONDecoder().decode(TrainConfig.self, from: Data(contentsOf: URL(fileURLWithPath: out).appendingPathComponent("config.json")))
        config.out = ""
        return config
    }

    @Test func fileAndFlagsResolveToTheSameConfig() throws {
        let data = try DataFixtures.write((0..<8).map { "{\"text\": \"example number \($0) of the config test\"}" }.joined(separator: "\n") + "\n")
        let flags = ["--model", "tiny", "--data", data, "--steps", "2", "--batch", "4", "--grad-accum", "2", "--seq", "24",
                     "--lr", "3e-3", "--targets", "q,v,o", "--rank", "4", "--alpha", "8", "--pack", "--valid-fraction", "0.25",
                     "--schedule", "linear", "--method", "lora-plus"]
        let byFlags = Self.temp("flags")
        let a = try train(flags + ["--out", byFlags])
        #expect(a.status == 0, "\(a.output)")

        let config = try Self.write("""
            model: tiny
            data: \(data)
            steps: 2
            batch: 4
            grad_accum: 2
            seq: 24
            lr: 1e-2        # overridden below
            targets: [q, v, o]
            rank: 4
            alpha: 8
            pack: true
            valid_fraction: 0.25
            schedule: linear
            method: lora-plus
            """)
        let byFile = Self.temp("file")
        let b = try train(["--config", config, "--out", byFile, "--lr", "3e-3"])
        #expect(b.status == 0, "\(b.output)")
        #expect(try resolved(byFlags) == resolved(byFile))

        // The saved flags repeat the run.
        let again = Self.temp("again")
        let c = try train(["--config", URL(fileURLWithPath: byFile).appendingPathComponent("config.yaml").path, "--out", again])
        #expect(c.status == 0, "\(c.output)")
        #expect(try resolved(again) == resolved(byFlags))
    }

    @Test func unknownKeyIsAnErrorWithItsLine() throws {
        let config = try Self.write("model: tiny\nlearning_rate: 1e-3\n")
        let r = try train(["--config", config, "--data", "x.jsonl", "--out", Self.temp("out")])
        #expect(r.status != 0)
        #expect(r.output.contains("\(config):2: unknown key 'learning_rate'"), "\(r.output)")
        // A method flag of another method, from the file: located too.
        let vera = try Self.write("model: tiny\nvera_seed: 3\n")
        let other = try train(["--config", vera, "--data", "x.jsonl", "--out", Self.temp("out")])
        #expect(other.status != 0 && other.output.contains("\(vera):2: key 'vera_seed': --vera-seed applies to --method vera only (this run uses lora)"), "\(other.output)")
        let missing = try train(["--config", Self.temp("absent.yaml"), "--out", Self.temp("out")])
        #expect(missing.status != 0 && missing.output.contains("cannot read the config file"), "\(missing.output)")
    }

    @Test func trainRefusesDataWithErrorsUnlessAllowed() throws {
        let data = try DataFixtures.write((0..<6).map { "{\"prompt\": \"question \($0)\", \"completion\": \"answer \($0)\"}" }.joined(separator: "\n")
                                          + "\n{\"prompt\": \"no answer\", \"completion\": \"  \"}\n")
        let args = ["--model", "tiny", "--data", data, "--steps", "1", "--batch", "2", "--seq", "32"]
        let refused = try train(args + ["--out", Self.temp("refused")])
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains("\(data):7: \"completion\" is empty") && refused.output.contains("--allow-data-errors"), "\(refused.output)")
        let allowed = try train(args + ["--out", Self.temp("allowed"), "--allow-data-errors"])
        #expect(allowed.status == 0, "\(allowed.output)")
        #expect(allowed.output.contains("training despite 1 error(s)"), "\(allowed.output)")
    }
}
