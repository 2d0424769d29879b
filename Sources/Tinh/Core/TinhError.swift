/// Errors Tinh reports to users. Every case carries a message that says what was wrong and where,
/// so the CLI can print it as is and exit non-zero instead of trapping.
public enum TinhError: Error, CustomStringConvertible, Equatable {
    /// A file that cannot be read or does not follow its format (truncated, wrong magic, lying sizes).
    case badFile(path: String, reason: String)
    /// A user input (CLI flag, config, data line) that makes no sense.
    case invalidInput(String)
    /// Something the code does not support yet, named precisely.
    case unsupported(String)
    /// An error from MPI, with its error string.
    case mpi(code: Int32, operation: String, message: String)
    /// An external tool (pip, unzip) failed.
    case external(String)

    public var description: String {
        switch self {
        case .badFile(let path, let reason): return "\(path): \(reason)"
        case .invalidInput(let m): return m
        case .unsupported(let m): return "unsupported: \(m)"
        case .mpi(let code, let op, let m): return "MPI error in \(op) (code \(code)): \(m)"
        case .external(let m): return m
        }
    }
}
