/// All trainable adapter parameters of a model in one contiguous buffer, with their gradients in a
/// second buffer of the same layout. The gradient buffer is what ranks all-reduce: one call per
/// step, however many adapted layers there are. Each tensor is a named slice (a view).
public final class AdapterParameters {
    public struct Slot: Equatable, Sendable {
        /// Export name, e.g. "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".
        public var name: String
        public var offset: Int
        public var shape: [Int]
        /// Optimizer group ("A", "B", "vector", ...): LoRA+ scales the learning rate per group.
        public var group: String
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<(offset + count) }
    }

    public private(set) var slots: [Slot] = []
    public private(set) var values = Tensor(shape: [0])
    public private(set) var grads = Tensor(shape: [0])
    private var sealed = false

    public init() {}

    /// Reserves a tensor; returns its slot index. Only before `seal()`.
    public func reserve(name: String, shape: [Int], group: String) -> Int {
        precondition(!sealed, "reserve after seal")
        let offset = slots.last.map { $0.offset + $0.count } ?? 0
        slots.append(Slot(name: name, offset: offset, shape: shape, group: group))
        return slots.count - 1
    }

    /// Allocates both buffers (zeroed). After this, pointers from `value(_:)`/`grad(_:)` stay valid.
    public func seal() {
        precondition(!sealed, "sealed twice")
        let total = slots.last.map { $0.offset + $0.count } ?? 0
        values = Tensor(shape: [total])
        grads = Tensor(shape: [total])
        sealed = true
    }

    public var count: Int { values.count }
    public func value(_ slot: Int) -> UnsafeMutablePointer<Float> { values.data + slots[slot].offset }
    public func grad(_ slot: Int) -> UnsafeMutablePointer<Float> { grads.data + slots[slot].offset }

    /// Contiguous ranges per optimizer group, in buffer order.
    public func groups() -> [(group: String, range: Range<Int>)] {
        var out: [(String, Range<Int>)] = []
        for s in slots {
            if let last = out.last, last.0 == s.group, last.1.upperBound == s.offset {
                out[out.count - 1].1 = last.1.lowerBound..<s.range.upperBound
            } else {
                out.append((s.group, s.range))
            }
        }
        return out
    }
}
