/// A trainable term attached to a frozen `Linear` (LoRA and friends). The Linear calls it after its
/// own base computation, so model code never changes when adapters are added:
///
///     forward:  y = x·Wᵀ (+ b),  then adapter.forward adds its term to y
///     backward: dx = dy·W,       then adapter.backward accumulates its parameter gradients
///                                (into its own storage, e.g. a view of one flat buffer) and adds its term to dx
///
/// `x` is the Linear's saved input; it stays valid from a training forward to the matching backward
/// when `needsInputForBackward` is true. An adapter that does not need it (LoRA-FA keeps only x·Aᵀ)
/// says so, and then the model neither keeps nor recomputes x for backward: its contents in
/// `backward` are unspecified. An adapter saves whatever else it needs in its own buffers, sized by
/// `rows`, created as `GrowableBuffer(.kept, in: linear.activationMemory)` so the model counts them.
public protocol LinearAdapter: AnyObject {
    /// Adds the adapter's term to `y` [rows, out]. `training` is false for inference (no dropout, and
    /// nothing needs saving for backward).
    func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool)

    /// Given `dy` [rows, out], accumulates parameter gradients and adds dL/dx to `dx` [rows, in].
    func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int)

    /// Called by the Linear's backward before anything else, with the gradient of its output: returns
    /// the gradient the base path (dx = dy·W, dW) and `backward` then use. An adapter that scales the
    /// whole output (DoRA's magnitude) returns dy ⊙ scale from a buffer of its own, and may read dy
    /// for its own parameters here. Default: dy itself (the output is base + term).
    func weightPathGradient(linear: Linear, dy: UnsafePointer<Float>, rows: Int) -> UnsafePointer<Float>

    /// Whether `backward` reads `x`. Default true.
    var needsInputForBackward: Bool { get }

    /// Floats a training forward over `rows` rows makes this adapter keep for backward, and the
    /// scratch its backward uses (for the start-of-run memory estimate). Default none.
    func activationFloats(rows: Int) -> (kept: Int, scratch: Int)
}

extension LinearAdapter {
    public var needsInputForBackward: Bool { true }
    public func weightPathGradient(linear: Linear, dy: UnsafePointer<Float>, rows: Int) -> UnsafePointer<Float> { dy }
    public func activationFloats(rows: Int) -> (kept: Int, scratch: Int) { (0, 0) }
}
