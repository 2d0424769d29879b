extension AdapterConfig {
    /// A run's adapter settings from its flags: `rank` is `--rank` (nil when not given), `flags` the
    /// method's own flags (checked to be this method's), `steps` the run's --steps. The CLI and a
    /// YAML config file both come here, as flags.
    public static func fromFlags(method: MethodID, rank: Int?, alpha: Float, rsLoRA: Bool, targets: [String], layers: [Int]?,
                                 seed: UInt64, basePrecision: BasePrecision?, flags: MethodFlagValues, steps: Int) throws -> AdapterConfig {
        try flags.check(for: method)
        let resolved = try method.type.resolvedRank(given: rank, flags: flags)
        let options = try method.type.optionsType.init(flags: flags, rank: resolved, steps: steps)
        return AdapterConfig(method: method, rank: resolved, alpha: alpha, rsLoRA: rsLoRA, targets: targets, layers: layers,
                             seed: seed, basePrecision: basePrecision, options: options)
    }
}
