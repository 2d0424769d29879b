/// Locating non-finite values after a bad step (`--debug`).
enum NonFinite {
    /// The export name of the first adapter tensor, in model order, whose gradient holds a NaN or
    /// infinity, or nil if all are finite.
    static func firstGradient(_ parameters: AdapterParameters) -> String? {
        let grads = parameters.grads.data
        for slot in parameters.slots.sorted(by: { $0.offset < $1.offset }) {
            for i in slot.range where !grads[i].isFinite { return slot.name }
        }
        return nil
    }
}
