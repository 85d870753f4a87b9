// The C boundary for OpenBLAS (BLAS + LAPACK). Everything numeric in ldae calls through here.
import COpenBLAS

public enum BLAS {
    /// Sets the number of OpenBLAS threads (0 or less leaves the library default).
    public static func setThreads(_ n: Int) {
        if n > 0 { openblas_set_num_threads(Int32(n)) }
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Runs body with OpenBLAS at one thread (restored afterwards): for code that splits its work over the cores
    /// itself, and for small products, where a threaded OpenBLAS call leaves its workers spinning for about 0.1 s
    /// and takes a core from whatever runs next.
    public static func withOneThread<R>(_ body: () throws -> R) rethrows -> R {
        let old = threads
        if old != 1 { setThreads(1) }
        defer { if old != 1 { setThreads(old) } }
        return try body()
    }

    /// C[M,N] = alpha * op(A) op(B) + beta * C, row-major. op(A) is [M,K], op(B) is [K,N].
    /// lda/ldb/ldc are the row strides of A, B, C as stored.
    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// C[M,N] = alpha * op(A) op(B) + beta * C in float64, row-major.
    public static func dgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Double, a: UnsafePointer<Double>, lda: Int,
                             b: UnsafePointer<Double>, ldb: Int,
                             beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// Upper triangle of C[N,N] += alpha * A^T A for row-major A[K,N] (a rank-K update), float64.
    public static func dsyrkAtA(n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(k), alpha, a, blasint(lda),
                    beta, c, blasint(ldc))
    }

    /// Upper triangle of C[N,N] = alpha * A^T A + beta * C for row-major A[K,N], float32.
    public static func ssyrkAtA(n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(k), alpha, a, blasint(lda),
                    beta, c, blasint(ldc))
    }

    /// y = alpha * op(A) x + beta * y, row-major A[M,N].
    public static func sgemv(trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), alpha, a,
                    blasint(lda), x, 1, beta, y, 1)
    }
}

public struct LAPACKError: Error, CustomStringConvertible {
    public let routine: String
    public let info: Int
    public var description: String { "\(routine) failed with info=\(info)" }
}

public enum LAPACK {
    /// Eigendecomposition of a symmetric matrix (dsyevd). `a` is [n, n] row-major, symmetric; only the
    /// upper triangle (row-major) is read. Returns eigenvalues ascending and eigenvectors as rows
    /// (vectors[i*n ..< (i+1)*n] is the eigenvector of values[i]).
    public static func symmetricEigen(_ a: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        require(a.count == n * n)
        // Row-major upper == column-major lower; LAPACK is column-major, so ask for "L".
        var m = a
        var w = [Double](repeating: 0, count: n)
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq = [Double](repeating: 0, count: 1)
        var iwq = [Int32](repeating: 0, count: 1)
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "L"))
        dsyevd_(&jobz, &uplo, &nn, &m, &lda, &w, &wq, &lwork, &iwq, &liwork, &info)
        guard info == 0 else { throw LAPACKError(routine: "dsyevd (workspace query)", info: Int(info)) }
        lwork = Int32(wq[0]); liwork = iwq[0]
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &nn, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw LAPACKError(routine: "dsyevd", info: Int(info)) }
        // Column-major eigenvectors: column j is contiguous at m[j*n ..< (j+1)*n]; i.e. row j of our layout.
        return (w, m)
    }
}
