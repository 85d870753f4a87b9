// swift-tools-version: 6.0
// ldae: l-DAE self-supervised pretraining on CPU. No Swift package dependencies:
// the toolchain plus five Debian C libraries (libpng, libjpeg-turbo, HDF5, OpenBLAS+LAPACK, Open MPI).
import PackageDescription

let package = Package(
    name: "ldae",
    products: [
        .library(name: "Ldae", targets: ["Ldae"]),
        .executable(name: "ldae-prep", targets: ["ldae-prep"]),
        .executable(name: "ldae-fit-pca", targets: ["ldae-fit-pca"]),
        .executable(name: "ldae-fit-tokenizer", targets: ["ldae-fit-tokenizer"]),
        .executable(name: "ldae-train", targets: ["ldae-train"]),
        .executable(name: "ldae-zoo", targets: ["ldae-zoo"]),
    ],
    targets: [
        // System libraries (apt: libpng-dev libjpeg-dev libhdf5-dev libopenblas-dev libopenmpi-dev; see tools/setup).
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Open MPI, for data-parallel training across processes and machines (mpirun / srun; docs/scaling.md).
        // Initialised only when a launcher started the process: on its own a binary never calls MPI.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // libjpeg reports errors by longjmp, which Swift cannot catch: decoding/encoding lives in C.
        .target(name: "CCodecs", dependencies: ["CPNG", "CJPEG"],
                cSettings: [.unsafeFlags(["-O2"])]),
        // Hot loops for AVX2+FMA CPUs (SGEMM micro-kernel, GELU, softmax), chosen at run time: the Swift code is
        // SSE-only because a -target-cpu flag would be unsafe on unknown machines. -O2 in debug too (tests).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // The library is three targets by how they are compiled (docs/architecture.md, "Targets and checks"):
        // LdaeSupport (errors, files, the command line, the option descriptors) and Ldae (the C boundary of HDF5, the
        // codecs and MPI; every file format, image, shard, zoo and pipeline) keep Swift's checks in every build:
        // they parse what users and files give them. LdaeNumerics (kernels, model, objective, optimizer, linear
        // algebra, probes) is compiled with -Ounchecked in release: no overflow traps or bounds checks in the hot
        // loops, whose buffer contracts are `require`s (kept by every build).
        .target(name: "LdaeSupport"),
        .target(name: "LdaeNumerics", dependencies: ["LdaeSupport", "CKernels", "COpenBLAS"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "Ldae", dependencies: ["LdaeSupport", "LdaeNumerics", "CCodecs", "CHDF5", "CMPI"]),
        // `ldae-train bench`: the speed benchmarks, outside the library.
        .target(name: "LdaeBench", dependencies: ["Ldae"]),
        .executableTarget(name: "ldae-prep", dependencies: ["Ldae"]),
        .executableTarget(name: "ldae-fit-pca", dependencies: ["Ldae"]),
        .executableTarget(name: "ldae-fit-tokenizer", dependencies: ["Ldae"]),
        .executableTarget(name: "ldae-train", dependencies: ["Ldae", "LdaeBench"]),
        .executableTarget(name: "ldae-zoo", dependencies: ["Ldae"]),
        .testTarget(name: "LdaeTests", dependencies: ["Ldae", "LdaeBench"], resources: [.copy("Fixtures")]),
    ]
)
