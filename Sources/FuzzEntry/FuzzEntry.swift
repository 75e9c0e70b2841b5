#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The entry point every libFuzzer target shares (scripts/fuzz.sh). SwiftPM links an executable with
// `main=<Target>_main`, so each target defines that symbol with `@_cdecl` and calls `runFuzzTarget` from it.
//
// Built with `-sanitize=fuzzer -DCHORUS_FUZZER` it hands over to libFuzzer. In a plain build (as part of
// `swift build`) it runs each file named on the command line once, so a corpus or a crash artifact can be
// replayed without the fuzzer runtime: `swift run FrameFuzz Fuzz/corpus/*`.

/// The target's property check, for the C callback libFuzzer calls (which cannot capture it). Set once, before
/// the run starts, on the one thread that runs inputs.
nonisolated(unsafe) private var currentTarget: ((UnsafeRawBufferPointer) -> Void)?

#if CHORUS_FUZZER
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
    ) -> CInt
#endif

/// Runs `check` on every input: libFuzzer's generated ones, or (without the fuzzer runtime) each file named in
/// `argv`. `check` stops the process on a violated property (`fatalError`), which libFuzzer reports as a crash.
public func runFuzzTarget(
    _ name: String,
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ check: @escaping (UnsafeRawBufferPointer) -> Void
) -> CInt {
    currentTarget = check
    #if CHORUS_FUZZER
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            currentTarget!(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
            return 0
        }
    #else
        var replayed = 0
        for index in 1..<max(1, Int(argc)) {
            let path = String(cString: argv![index]!)
            guard let file = fopen(path, "rb") else {
                print("\(name): cannot open \(path)")
                return 2
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count <= 0 { break }
                bytes.append(contentsOf: chunk[0..<count])
            }
            fclose(file)
            bytes.withUnsafeBytes { check($0) }
            replayed += 1
        }
        print("\(name): replayed \(replayed) input(s) without the fuzzer runtime; all properties held")
        return 0
    #endif
}
