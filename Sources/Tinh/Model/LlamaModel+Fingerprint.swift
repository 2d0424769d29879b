extension LlamaModel {
    /// A hash of the shape and a sample of every weight, for checking that all ranks loaded the same model.
    public var fingerprint: String {
        var f = Fingerprint()
        f.combine("\(config)")
        f.combine(sampling: embedTokens.data, count: embedTokens.count)
        for linear in linears {
            let w = linear.weight
            f.combine(w.formatName)
            w.withFloats { f.combine(sampling: $0, count: w.count) }
        }
        for block in blocks {
            f.combine(sampling: block.inputNorm.weight.data, count: block.inputNorm.weight.count, stride: 1)
            f.combine(sampling: block.postAttentionNorm.weight.data, count: block.postAttentionNorm.weight.count, stride: 1)
        }
        f.combine(sampling: finalNorm.weight.data, count: finalNorm.weight.count, stride: 1)
        return f.hex
    }
}
