extension DecoderModel {
    /// A hash of the shape and a sample of every weight, for checking that all ranks loaded the same model.
    public var fingerprint: String {
        var f = Fingerprint()
        f.combine("\(config)")
        f.combine(sampling: embedTokens.data, count: embedTokens.count)
        for linear in linears {
            let w = linear.weight
            f.combine(w.formatName)
            if let b = w as? BF16Weight {  // its bits, without widening the 28 M-value head
                f.combine(UInt64(b.count))
                for i in stride(from: 0, to: b.count, by: 61) { f.combine(UInt32(b.matrix.data[i])) }
            } else {
                w.withFloats { f.combine(sampling: $0, count: w.count) }
            }
        }
        for block in blocks {
            for norm in block.norms { f.combine(sampling: norm.weight.data, count: norm.weight.count, stride: 1) }
        }
        f.combine(sampling: finalNorm.weight.data, count: finalNorm.weight.count, stride: 1)
        return f.hex
    }
}
