/// The data check `tinh train` runs at start: the per-line part of `DataCheck` (empty fields, chat
/// role order, control and odd characters) on the training and validation files. Malformed lines
/// are left to the reader, which stops at them unless --skip-bad-lines.
public enum DataGate {
    /// Throws when a file has errors and `allowErrors` is off; otherwise returns lines to log.
    public static func check(paths: [String], allowErrors: Bool) throws -> [String] {
        var errors: [DataIssue] = [], warnings: [DataIssue] = []
        for path in paths {
            let scanned: ScannedFile
            do { scanned = try DataLineCheck.scan(path: path) } catch { continue }  // the reader reports unreadable files
            for issue in scanned.issues where issue.kind != .malformed && issue.kind != .invalidUTF8 {
                if issue.severity == .error { errors.append(issue) } else { warnings.append(issue) }
            }
        }
        let files = paths.joined(separator: " ")
        if !errors.isEmpty && !allowErrors {
            let shown = errors.prefix(5).map { "  \($0)" }.joined(separator: "\n")
            throw TinhError.invalidInput("the data has \(errors.count) error(s):\n\(shown)\(errors.count > 5 ? "\n  ..." : "")\n"
                                         + "`tinh data check \(files)` lists them all; fix them, or pass --allow-data-errors to train anyway")
        }
        var lines: [String] = []
        if !errors.isEmpty {
            lines.append("data: training despite \(errors.count) error(s) (--allow-data-errors), first: \(errors[0])")
        }
        if let first = warnings.first {
            lines.append("data: \(warnings.count) warning(s), first: \(first); `tinh data check \(files)` for the full report")
        }
        return lines
    }
}
