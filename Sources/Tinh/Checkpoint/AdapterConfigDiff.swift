/// Names the fields in which two adapter configs differ, for errors such as
/// "rank: checkpoint 8, this run 4".
enum AdapterConfigDiff {
    static func fields(saved: AdapterConfig, current: AdapterConfig) -> [String] {
        func layers(_ l: [Int]?) -> String { l.map { "\($0)" } ?? "all" }
        var out: [String] = []
        func compare(_ name: String, _ a: String, _ b: String) {
            if a != b { out.append("\(name): checkpoint \(a), this run \(b)") }
        }
        compare("method", saved.method, current.method)
        compare("rank", "\(saved.rank)", "\(current.rank)")
        if saved.alpha.bitPattern != current.alpha.bitPattern { compare("alpha", "\(saved.alpha)", "\(current.alpha)") }
        compare("rslora", "\(saved.rsLoRA)", "\(current.rsLoRA)")
        compare("targets", saved.targets.joined(separator: ","), current.targets.joined(separator: ","))
        compare("layers", layers(saved.layers), layers(current.layers))
        compare("seed", "\(saved.seed)", "\(current.seed)")
        compare("vera seed", "\(saved.veraProjectionSeed)", "\(current.veraProjectionSeed)")
        if saved.veraInitialD.bitPattern != current.veraInitialD.bitPattern {
            compare("vera d init", "\(saved.veraInitialD)", "\(current.veraInitialD)")
        }
        compare("lora-fa-projection", "\(saved.loraFAProjection)", "\(current.loraFAProjection)")
        if saved.deltaLambda.bitPattern != current.deltaLambda.bitPattern {
            compare("delta-lambda", "\(saved.deltaLambda)", "\(current.deltaLambda)")
        }
        compare("delta-start", "\(saved.deltaStart)", "\(current.deltaStart)")
        compare("base precision", "\(saved.resolvedBasePrecision)", "\(current.resolvedBasePrecision)")
        compare("adalora settings", saved.adaLoRA.map { "\($0)" } ?? "none", current.adaLoRA.map { "\($0)" } ?? "none")
        compare("init", saved.initialization ?? "default", current.initialization ?? "default")
        return out
    }
}
