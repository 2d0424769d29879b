/// `--method full`: plain full fine-tuning, the baseline whose data-parallel step must all-reduce
/// every weight gradient. Every weight trains in fp32 with AdamW: the embedding (and so a tied
/// head), every norm and every projection (biases, where a model has them, stay frozen). The
/// weights are moved into the flat parameter buffer, so the model computes with private,
/// writable copies that the optimizer updates in place, and their gradients are views of the
/// flat gradient buffer: one all-reduce machinery (buckets in backward order) for adapters and
/// full weights alike. Checkpoints store the weights under their Hugging Face names; the run's
/// export is the whole model (OUT/model/model.safetensors), not a PEFT adapter.
enum FullFineTuning {
    /// Moves every trainable weight of `model` into slots of `parameters` (reserved and sealed
    /// here) and points the model's gradients at the matching slots of the gradient buffer.
    /// Returns which layer each stretch of the buffer belongs to (`AdapterSet.layerSegments`):
    /// the embedding's gradient is complete only when backward returns; the final norm and an
    /// untied head right after the loss; block l's after block l.
    static func attach(to model: DecoderModel, parameters: AdapterParameters) -> [(layer: Int, range: Range<Int>)] {
        let L = model.blocks.count
        var entries: [(layer: Int, slot: Int, bind: (Tensor, Tensor) -> Void)] = []
        func reserve(_ name: String, _ shape: [Int], group: String, layer: Int, bind: @escaping (Tensor, Tensor) -> Void) {
            entries.append((layer, parameters.reserve(name: name, shape: shape, group: group), bind))
        }
        func linear(_ l: Linear, layer: Int) {
            reserve(l.name + ".weight", l.weight.shape, group: "weight", layer: layer) { w, g in l.moveWeight(into: w); l.weightGrad = g }
        }
        func norm(_ n: NormWeight, layer: Int) {
            reserve(n.name, n.weight.shape, group: "norm", layer: layer) { w, g in
                w.data.update(from: n.weight.data, count: w.count)
                n.weight = w
                n.grad = g
            }
        }
        reserve("model.embed_tokens.weight", model.embedTokens.shape, group: "embedding", layer: GradientBuckets.afterBackward) { w, g in
            w.data.update(from: model.embedTokens.data, count: w.count)
            model.embedTokens = w
            model.embeddingGrad = g
            if model.isTied { model.lmHead.moveWeight(into: w); model.lmHead.weightGrad = g }
        }
        for block in model.blocks {
            // Forward order, as before the families: the attention half, then the MLP half.
            for n in [block.inputNorm, block.qNorm, block.kNorm] { if let n { norm(n, layer: block.index) } }
            for l in block.attentionInputs + [block.o] { linear(l, layer: block.index) }
            if let n = block.attentionOutputNorm { norm(n, layer: block.index) }
            norm(block.mlpNorm, layer: block.index)
            for l in block.mlpInputs + [block.down] { linear(l, layer: block.index) }
            if let n = block.mlpOutputNorm { norm(n, layer: block.index) }
        }
        norm(model.finalNorm, layer: L)
        if !model.isTied { linear(model.lmHead, layer: L) }
        parameters.seal()
        for e in entries {
            let slot = parameters.slots[e.slot]
            e.bind(Tensor(shape: slot.shape, borrowing: parameters.value(e.slot), owner: parameters.values),
                   Tensor(shape: slot.shape, borrowing: parameters.grad(e.slot), owner: parameters.grads))
        }
        return entries.map { ($0.layer, parameters.slots[$0.slot].range) }
    }

    /// The trainable count: every weight the model holds (a tied head once), biases excluded.
    static func expectedCount(_ model: DecoderModel) -> Int {
        let norms = model.finalNorm.weight.count + model.blocks.reduce(0) { $0 + $1.norms.reduce(0) { $0 + $1.weight.count } }
        let projections = model.blocks.reduce(0) { $0 + $1.linears.reduce(0) { $0 + $1.weight.count } }
        return model.embedTokens.count + norms + projections + (model.isTied ? 0 : model.lmHead.weight.count)
    }
}
