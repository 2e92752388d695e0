using System.Runtime.InteropServices;

namespace HeadWise.Bench;

/// <summary>
/// glibc's allocator made to keep and reuse freed memory: every allocation from the heap (no fresh mmap for large
/// blocks) and the heap never trimmed. With glibc's defaults, a block over the mmap threshold (at most 32 MiB, so every
/// [8,192, 2,048] float32 intermediate) is a fresh mapping whose pages the kernel faults in and zeroes on first touch;
/// on this VM that is a third of an 8,192-token prefill's CPU time (system time), more for some rounds than others, and
/// it lands on dense and sparse prefill alike (docs/benchmarks.md, "Sparse prefill speed"). Process-wide, for comparison
/// with what HeadWise itself does per long forward call (<see cref="Runtime.HeapReuse"/>); only `sparse-prefill --keep-freed-memory` uses it.
/// </summary>
internal static class GlibcHeap
{
    private const int TrimThreshold = -1, MmapMax = -4; // M_TRIM_THRESHOLD, M_MMAP_MAX (malloc.h)

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    /// <summary>Applies the setting; false where there is no glibc (the bench then runs with the platform's allocator, and says so).</summary>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return Mallopt(MmapMax, 0) == 1 && Mallopt(TrimThreshold, int.MaxValue) == 1; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }
}
