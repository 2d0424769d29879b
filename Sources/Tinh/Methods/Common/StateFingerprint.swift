/// FNV-1a of tensors' bytes, names in order, as hex: ranks compare it for state they update
/// without communication (Delta-LoRA's moved weights), which must be bit-identical.
enum StateFingerprint {
    static func of(_ tensors: [String: Tensor]) -> String {
        var sum = Fingerprint()
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            sum.combine(name)
            sum.combine(Checksum.fnv1a64(UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4)))
        }
        return sum.hex
    }
}
