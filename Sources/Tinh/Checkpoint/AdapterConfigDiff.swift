/// Names the fields in which two adapter configs differ, for errors such as
/// "rank: checkpoint 8, this run 4".
enum AdapterConfigDiff {
    static func fields(saved: AdapterConfig, current: AdapterConfig) -> [String] {
        func layers(_ l: [Int]?) -> String { l.map { "\($0)" } ?? "all" }
        var out: [String] = []
        func compare(_ name: String, _ a: String, _ b: String) {
            if a != b { out.append("\(name): checkpoint \(a), this run \(b)") }
        }
        compare("method", saved.method.name, current.method.name)
        compare("rank", "\(saved.rank)", "\(current.rank)")
        if saved.alpha.bitPattern != current.alpha.bitPattern { compare("alpha", "\(saved.alpha)", "\(current.alpha)") }
        compare("rslora", "\(saved.rsLoRA)", "\(current.rsLoRA)")
        compare("targets", saved.targets.joined(separator: ","), current.targets.joined(separator: ","))
        compare("layers", layers(saved.layers), layers(current.layers))
        compare("seed", "\(saved.seed)", "\(current.seed)")
        compare("base precision", "\(saved.resolvedBasePrecision)", "\(current.resolvedBasePrecision)")
        // The method's own settings (the same method on both sides here, else the method line says so).
        if saved.method == current.method {
            for (old, new) in zip(saved.options.fields, current.options.fields) where old.value != new.value {
                compare(old.name, old.value, new.value)
            }
        }
        return out
    }
}
