import Foundation
import Testing
@testable import Tinh

/// `tinh export`, `tinh merge` and `--adapter` through the built executable, on tiny.
@Suite struct ExportCommandTests {
    typealias F = CheckpointFixture

    func tinh(_ args: [String]) throws -> TestProcess.Result {
        try TestProcess.run([TestProcess.tinh] + args, timeout: 120)
    }

    @Test func exportThenEvalWithTheAdapterMatchesTheLibrary() throws {
        let root = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run"), out = root.appendingPathComponent("adapter")
        let (model, set) = try F.adaptedModel(seed: 2)
        try Checkpoints.save(step: 6, adapters: set, optimizer: F.trainedOptimizer(set), trainerState: Data("{\"model\": \"tiny:2\"}".utf8),
                             runDirectory: run, keepLast: 1)
        let export = try tinh(["export", "--run", run.path, "--format", "peft", "--out", out.path])
        #expect(export.status == 0 && export.output.contains("exported step-00000006"), "\(export.output)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any]
        #expect(config?["base_model_name_or_path"] as? String == "tiny:2", "the base model comes from the trainer state")

        // The same checkpoint as a llama.cpp adapter: the base model again from the trainer state.
        let gguf = root.appendingPathComponent("adapter.gguf")
        let lora = try tinh(["export", "--run", run.path, "--format", "gguf-lora", "--out", gguf.path])
        #expect(lora.status == 0 && lora.output.contains("llama.cpp LoRA adapter"), "\(lora.output)")
        let file = try GGUFFile(path: gguf.path)
        #expect(file.metadata["general.type"] == .string("adapter") && file.tensors.count == 2 * set.modules.count)

        let data = root.appendingPathComponent("eval.jsonl")
        try Data((0..<5).map { "{\"prompt\": \"question \($0)\", \"completion\": \" answer \($0 * 7)\"}" }.joined(separator: "\n").utf8).write(to: data)
        // The CLI runs the library's default GEMM (OpenBLAS) on the same batches, so the same sums
        // per element; only the thread count may differ, and OpenBLAS splits C between threads, not
        // an element's k-loop. 1e-6 relative is a guard for a BLAS that does split k: that reorders
        // sums of k ≤ 128 terms, ≈ √k·u ≈ 7e-7 relative per GEMM for rounding errors of random sign.
        let eval = try TestProcess.run([TestProcess.tinh, "eval", "--model", "tiny:2", "--adapter", out.path, "--data", data.path,
                                        "--seq", "32", "--batch", "2", "--json"], environment: ["TINH_F32_GEMM": "openblas"], timeout: 120)
        #expect(eval.status == 0, "\(eval.output)")
        let cli = try JSONDecoder().decode(EvalResult.self, from: try #require(TestProcess.jsonObject(in: eval.output)))
        let (examples, _) = try TrainingDataset.evaluationSet(path: data.path, tokenizer: Tokenizer.tiny(vocabularySize: model.config.vocabSize),
                                                              options: DataOptions(seq: 32))
        let library = try Evaluator.evaluate(model, examples, batchSize: 2)
        #expect(abs(cli.loss - library.loss) <= 1e-6 * abs(library.loss), "CLI \(cli.loss), library \(library.loss)")
        set.detach()
        #expect(abs(try Evaluator.evaluate(model, examples, batchSize: 2).loss - library.loss) > 1e-4, "the adapter matters")

        let merged = root.appendingPathComponent("merged/model.safetensors")
        let merge = try tinh(["merge", "--model", "tiny:2", "--adapter", out.path, "--out", merged.path])
        #expect(merge.status == 0 && merge.output.contains("no tokenizer files were written"), "\(merge.output)")
        #expect(FileManager.default.fileExists(atPath: merged.deletingLastPathComponent().appendingPathComponent("config.json").path))
    }

    /// AdaLoRA's export needs the masks (extra state) and PiSSA's the initial A₀, B₀ (frozen tensors):
    /// `tinh export` from the checkpoint alone writes the same bytes as the end of training.
    @Test(arguments: [["--method", "adalora", "--rank", "4", "--target-r", "2", "--tfinal", "1"], ["--init", "pissa"]])
    func exportFromTheCheckpointEqualsTheTrainersExport(method: [String]) throws {
        let root = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try DemoTask.write(to: root.appendingPathComponent("data"), trainCount: 16, validCount: 2, seed: 1)
        let run = root.appendingPathComponent("run"), out = root.appendingPathComponent("exported")
        let train = try tinh(["train", "--model", "tiny:2", "--data", root.appendingPathComponent("data/train.jsonl").path, "--out", run.path,
                              "--steps", "4", "--batch", "4", "--seq", "32", "--targets", "q,v,down", "--lr", "1e-2"] + method)
        #expect(train.status == 0, "\(train.output)")
        let export = try tinh(["export", "--run", run.path, "--out", out.path])
        #expect(export.status == 0, "\(export.output)")
        for file in [PEFTExport.configFile, PEFTExport.weightsFile] {
            let same = try Data(contentsOf: out.appendingPathComponent(file)) == Data(contentsOf: run.appendingPathComponent("adapter/" + file))
            #expect(same, "\(file) differs")
        }
    }

    @Test(arguments: [
        (["export", "--run", "/nonexistent/run", "--out", "/tmp/x"], "not a checkpoint directory"),
        (["export", "--run", "/tmp", "--format", "onnx", "--out", "/tmp/x"], "--format onnx is not supported"),
        (["export", "--run", "/tmp", "--adapter", "/tmp", "--format", "gguf-lora", "--out", "/tmp/x"], "needs either --run RUN or --adapter DIR"),
        (["export", "--run", "/tmp", "--format", "gguf", "--quant", "q5_k", "--out", "/tmp/x"], "--quant q5_k: Tinh writes"),
        (["merge", "--model", "tiny", "--out", "/tmp/m.safetensors"], "merge needs --adapter"),
        (["logits", "--model", "tiny", "--adapter", "/nonexistent/adapter", "--prompt", "a"], "no adapter_config.json"),
    ])
    func badInputIsAClearError(args: [String], message: String) throws {
        let result = try tinh(args)
        #expect(result.status == 1, "exit \(result.status): \(result.output)")
        #expect(result.output.contains("tinh: ") && result.output.contains(message), "\(result.output)")
    }
}
