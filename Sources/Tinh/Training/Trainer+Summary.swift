import Foundation

/// The numbers a run collects step by step, for its summary.
struct RunStatistics {
    var rates: [Double] = [], compute: [Double] = [], allreduce: [Double] = [], exposed: [Double] = []
    var lastLoss = Double.nan
    var lastEval: EvalResult?

    mutating func record(_ metrics: StepMetrics) {
        rates.append(metrics.realTokensPerSecond ?? metrics.tokensPerSecond)  // real tokens: pad is not progress
        compute.append(metrics.computeSeconds); allreduce.append(metrics.allreduceSeconds); exposed.append(metrics.exposedCommSeconds)
        lastLoss = metrics.loss
    }
}

/// The end of a run: its `TrainingSummary` (OUT/summary.json, the last event) and the last lines.
extension Trainer {
    /// Records the summary of a run of `steps` steps in `seconds`; rank 0 writes and reports it.
    func finish(_ statistics: RunStatistics, steps: Int, seconds: Double, mergedNote: String?,
                onEvent: (TrainingEvent) -> Void) throws {
        let s = statistics
        func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }
        var summary = TrainingSummary(method: config.adapter.method.name, steps: steps, seconds: seconds,
                                      medianTokensPerSecond: median(s.rates), lastLoss: s.lastLoss,
                                      eval: s.lastEval, peakRssMegabytes: peakRSSMegabytes(),
                                      trainableParameters: adapters.parameters.count, bytesAllReducedPerStep: allreduceBytesPerStep,
                                      world: comm.size, medianComputeSeconds: median(s.compute), medianAllreduceSeconds: median(s.allreduce),
                                      medianExposedCommSeconds: median(s.exposed), overlap: config.overlap, buckets: reducer.plan.buckets.count,
                                      pssMegabytesPerRank: pssPerRank.map(\.total), basePssMegabytesPerRank: pssPerRank.map(\.base),
                                      baseMegabytes: Double(loaded.baseBytes) / 1_048_576, sharedBase: loaded.sharedBasePath != nil)
        summary.simulatedLatencyMs = simulatedLatency.map { $0.latencySeconds * 1000 }
        self.summary = summary
        if comm.isRoot {
            try files.writeSummary(summary)
            if !adapters.isFullFineTuning { onEvent(.message("adapter (PEFT format): \(outDirectory.appendingPathComponent("adapter").path)")) }
            if let mergedNote { onEvent(.message(mergedNote)) }
            onEvent(.finished(summary))
        }
    }

    /// The simulated-latency layer, also under the collective watchdog.
    var simulatedLatency: SimulatedLatencyCommunicator? { comm.simulatedLatency }
}
