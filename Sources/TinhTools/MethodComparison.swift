import Tinh
import Foundation

/// Trains several methods on the same model, data, seed and token budget, one after the other in
/// the same job, and tabulates what each costs and achieves. `launch/compare-methods` runs it on
/// N ranks and plots the eval curves.
public enum MethodComparison {
    public struct Row: Codable, Sendable {
        public var method: String
        public var trainableParameters: Int
        public var bytesAllReducedPerStep: Int
        public var tokensPerSecond: Double
        public var peakRssMegabytes: Double
        public var finalTrainLoss: Double
        public var finalEvalLoss: Double?
        public var heldOutAccuracy: Double?
        public var seconds: Double
    }

    public struct EvalPoint: Codable, Sendable {
        public var method: String
        public var step: Int
        public var loss: Double
    }

    /// Settings that differ between methods for a fair comparison, which each method states
    /// (`FineTuningMethod.comparisonConfig`: VeRA a large rank and a larger learning rate, LoRA+
    /// the paper's ratio, ...). An entry is a method's name or a variant a method names ("pissa":
    /// LoRA with `--init pissa`), compared under its own name.
    public static func config(for entry: String, base: TrainConfig) throws -> TrainConfig {
        var c: TrainConfig
        if let variant = MethodID.allCases.lazy.compactMap({ $0.type.comparisonVariants[entry] }).first {
            c = variant(base)
        } else {
            let method = try MethodID(parsing: entry)
            var b = base
            b.adapter.method = method
            b.adapter.options = method.type.optionsType.defaults
            b.loraPlusRatio = method.type.defaultLoRAPlusRatio
            c = method.type.comparisonConfig(base: b)
        }
        c.out = URL(fileURLWithPath: base.out).appendingPathComponent("runs/\(entry)").path
        return c
    }

    /// What "all" compares: every adapter method (not `full`, a baseline of another scale), LoRA first.
    public static var allMethods: [String] {
        MethodID.allCases.filter { !$0.type.trainsWholeModel }.map(\.name)
    }

    /// Runs every method; returns the table rows and every eval point (rank 0 has them all; the
    /// numbers are the same on every rank). `exactMatchOn` names held-out chat data to score by generation;
    /// `headChunkRows` is the models' fused loss-path chunk (nil: the default).
    public static func run(base: TrainConfig, methods: [String], comm: Communicator, gemm: FrozenGEMM = .openblas,
                           headChunkRows: Int? = nil, exactMatchOn: String? = nil,
                           maxAnswerTokens: Int = 16, onEvent: (String, TrainingEvent) -> Void = { _, _ in }) throws -> ([Row], [EvalPoint]) {
        var rows: [Row] = []
        var points: [EvalPoint] = []
        for method in methods {
            let config = try Self.config(for: method, base: base)
            // A fresh model per method: Delta-LoRA moves base weights, and no adapter may leak into the next run.
            // The previous method's model is freed by now; measure this method's own peak memory.
            resetPeakRSS()
            let trainer = try Trainer(config: config, comm: comm, gemm: gemm, headChunkRows: headChunkRows)
            try trainer.run { event in
                if case .eval(let step, let result) = event { points.append(EvalPoint(method: method, step: step + 1, loss: result.loss)) }
                onEvent(method, event)
            }
            guard let summary = trainer.summary else { throw TinhError.invalidInput("\(method): the run ended without a summary") }
            var accuracy: Double?
            if let exactMatchOn {
                let records = try JSONLReader.read(path: exactMatchOn).records.map(\.record)
                let template = try config.chatTemplate.map(trainer.loaded.tokenizer.chatTemplate(named:))
                accuracy = try ExactMatch.evaluate(trainer.loaded, records: records, maxTokens: maxAnswerTokens, comm: comm,
                                                   chatTemplate: template).accuracy
            }
            rows.append(Row(method: method, trainableParameters: summary.trainableParameters,
                            bytesAllReducedPerStep: summary.bytesAllReducedPerStep, tokensPerSecond: summary.medianTokensPerSecond,
                            peakRssMegabytes: summary.peakRssMegabytes, finalTrainLoss: summary.lastLoss,
                            finalEvalLoss: summary.eval?.loss, heldOutAccuracy: accuracy, seconds: summary.seconds))
        }
        return (rows, points)
    }

    public static func csv(_ rows: [Row]) -> String {
        var lines = ["method,trainable_parameters,bytes_allreduced_per_step,tokens_per_second,peak_rss_mb,final_train_loss,final_eval_loss,heldout_accuracy,seconds"]
        for r in rows {
            lines.append([r.method, "\(r.trainableParameters)", "\(r.bytesAllReducedPerStep)", String(format: "%.1f", r.tokensPerSecond),
                          String(format: "%.0f", r.peakRssMegabytes), String(format: "%.4f", r.finalTrainLoss),
                          r.finalEvalLoss.map { String(format: "%.4f", $0) } ?? "", r.heldOutAccuracy.map { String(format: "%.4f", $0) } ?? "",
                          String(format: "%.1f", r.seconds)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func curvesCSV(_ points: [EvalPoint]) -> String {
        (["method,step,eval_loss"] + points.map { "\($0.method),\($0.step),\(String(format: "%.5f", $0.loss))" }).joined(separator: "\n") + "\n"
    }

    public static func markdown(_ rows: [Row], world: Int) -> String {
        var lines = [
            "| method | trainable params | bytes all-reduced / step | tokens/s (\(world) rank\(world == 1 ? "" : "s")) | peak RSS / rank | final train loss | final eval loss | held-out exact match |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows {
            lines.append("| \(r.method) | \(r.trainableParameters) | \(byteString(r.bytesAllReducedPerStep)) | \(String(format: "%.0f", r.tokensPerSecond)) | "
                         + "\(String(format: "%.0f MB", r.peakRssMegabytes)) | \(String(format: "%.4f", r.finalTrainLoss)) | "
                         + "\(r.finalEvalLoss.map { String(format: "%.4f", $0) } ?? "–") | \(r.heldOutAccuracy.map { String(format: "%.0f%%", 100 * $0) } ?? "–") |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func byteString(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.2f MiB", Double(n) / 1048576) : n >= 1 << 10 ? String(format: "%.1f KiB", Double(n) / 1024) : "\(n) B"
    }
}
