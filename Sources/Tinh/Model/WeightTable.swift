/// Fetches model weights by Hugging Face name with shape checks, so a missing or mis-shaped tensor
/// is a clear error rather than a trap. Projection weights may come as frozen weights of another
/// precision (`frozen`), looked up first.
struct WeightTable {
    let weights: [String: Tensor]
    var frozen: [String: FrozenWeight] = [:]

    func require(_ name: String, _ shape: [Int]) throws -> Tensor {
        guard let t = weights[name] else {
            throw TinhError.invalidInput("model weights: missing tensor '\(name)' (expected shape \(shape))")
        }
        return try check(name, t, shape)
    }

    func optional(_ name: String, _ shape: [Int]) throws -> Tensor? {
        guard let t = weights[name] else { return nil }
        return try check(name, t, shape)
    }

    /// A projection's W: the frozen weight given for it, else the Float32 tensor.
    func requireFrozen(_ name: String, _ shape: [Int]) throws -> FrozenWeight {
        guard let w = frozen[name] else { return F32Weight(try require(name, shape)) }
        guard w.shape == shape else {
            throw TinhError.invalidInput("model weights: tensor '\(name)' has shape \(w.shape), expected \(shape)")
        }
        return w
    }

    private func check(_ name: String, _ t: Tensor, _ shape: [Int]) throws -> Tensor {
        // A 1-D tensor may come as [n] or [1, n]; anything else must match exactly.
        if t.shape == shape || (shape.count == 1 && t.count == shape[0] && t.shape.dropLast().allSatisfy { $0 == 1 }) {
            return t
        }
        throw TinhError.invalidInput("model weights: tensor '\(name)' has shape \(t.shape), expected \(shape)")
    }
}
