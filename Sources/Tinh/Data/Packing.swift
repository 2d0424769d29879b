/// Simple packing: whole examples concatenated greedily, in order, into rows of at most
/// `rowLength` (seq + 1) tokens. An example that does not fit in the current row starts a new one;
/// examples are never split (each is already at most `rowLength` after truncation).
///
/// There is no attention isolation: a packed example attends to the ones before it in its row, and
/// positions run on across the row, as in Hugging Face's simple packing. Each example's first token
/// has its mask off, so the model is not trained to predict one example from the previous one.
public enum Packing {
    public static func pack(_ examples: [TokenizedExample], rowLength: Int) -> [TokenizedExample] {
        var rows: [TokenizedExample] = []
        var ids: [Int32] = [], mask: [Bool] = []
        ids.reserveCapacity(rowLength)
        mask.reserveCapacity(rowLength)
        func flush() {
            guard !ids.isEmpty else { return }
            rows.append(TokenizedExample(ids: ids, lossMask: mask))
            ids.removeAll(keepingCapacity: true)
            mask.removeAll(keepingCapacity: true)
        }
        for example in examples {
            if ids.count + example.count > rowLength { flush() }
            // An over-long example (not truncated by the caller) gets a row to itself, whole.
            ids.append(contentsOf: example.ids)
            mask.append(contentsOf: example.lossMask)
        }
        flush()
        return rows
    }
}
