/// Opt-in gradients of frozen weights (gradient checks, and methods that update base weights).
/// A requested gradient accumulates (+=) over backward calls until `zeroGradients()`.
extension DecoderModel {
    /// Asks backward to compute dL/d(`name`) (a Hugging Face tensor name, e.g.
    /// "model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "model.embed_tokens.weight").
    /// Returns the gradient tensor (zeroed on first request; the same tensor on later requests).
    /// With a tied head, "lm_head.weight" and "model.embed_tokens.weight" share one gradient.
    @discardableResult
    public func requestGradient(for name: String) throws -> Tensor {
        if name == "model.embed_tokens.weight" || (name == "lm_head.weight" && isTied) {
            let g = embeddingGrad ?? Tensor(shape: embedTokens.shape)
            embeddingGrad = g
            if isTied { lmHead.weightGrad = g }
            return g
        }
        if name == finalNorm.name { return gradient(of: finalNorm) }
        for linear in linears {
            if name == linear.name + ".weight" {
                let g = linear.weightGrad ?? Tensor(shape: linear.weight.shape)
                linear.weightGrad = g
                return g
            }
            if name == linear.name + ".bias", let bias = linear.bias {
                let g = linear.biasGrad ?? Tensor(shape: bias.shape)
                linear.biasGrad = g
                return g
            }
        }
        for block in blocks {
            for norm in block.norms where norm.name == name { return gradient(of: norm) }
        }
        throw TinhError.invalidInput("no weight named '\(name)' in this model")
    }

    private func gradient(of norm: NormWeight) -> Tensor {
        let g = norm.grad ?? Tensor(shape: norm.weight.shape)
        norm.grad = g
        return g
    }

    /// Every requested gradient by tensor name.
    public var requestedGradients: [String: Tensor] {
        var out: [String: Tensor] = [:]
        if let g = embeddingGrad { out["model.embed_tokens.weight"] = g }
        if let g = finalNorm.grad { out[finalNorm.name] = g }
        for l in linears {
            if let g = l.weightGrad, !(isTied && l === lmHead) { out[l.name + ".weight"] = g }
            if let g = l.biasGrad { out[l.name + ".bias"] = g }
        }
        for b in blocks {
            for norm in b.norms { if let g = norm.grad { out[norm.name] = g } }
        }
        return out
    }

    public func zeroGradients() { for g in requestedGradients.values { g.zero() } }

    /// The lowest block with a trainable part; nil when no block has one (only the head or final
    /// norm train). Read by every backward, so it builds no arrays.
    public var lowestTrainableBlock: Int? {
        blocks.firstIndex(where: \.hasTrainablePart)
    }
}
