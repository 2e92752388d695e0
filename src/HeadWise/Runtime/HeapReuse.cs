using System.Runtime.InteropServices;

namespace HeadWise.Runtime;

/// <summary>
/// glibc's allocator made to reuse what a long forward call frees, for the length of the call. With glibc's defaults a
/// block over the mmap threshold (at most 32 MiB: every [8,192, 2,048] float32 intermediate) is a fresh mapping, whose
/// pages the kernel faults in and zeroes on first touch; on an 8,192-token prefill that was a third of the CPU time
/// (docs/benchmarks.md, "Sparse prefill speed"). Inside a scope every block comes from the heap and the heap is not
/// trimmed, so layer 2 reuses layer 1's pages; when the last scope ends, mmap is allowed again with glibc's largest
/// dynamic thresholds and the free heap goes back to the OS (malloc_trim). Scopes nest and may overlap across threads.
/// A process that set glibc's MALLOC_* tunables itself keeps them (the KV bench fixes the mmap threshold to measure RSS).
/// </summary>
internal static class HeapReuse
{
    /// <summary>Forward calls of at least this many tokens reuse the heap; shorter ones (decoding) are left alone.</summary>
    public const long MinTokens = 256;

    private const int TrimThreshold = -1, MmapThreshold = -3, MmapMax = -4; // malloc.h
    // glibc's defaults after its dynamic rule has seen large blocks: mmap above 32 MiB, trim past twice that.
    private const int DefaultMmapMax = 65536, DefaultMmapThreshold = 32 << 20, DefaultTrimThreshold = 64 << 20;

    private static readonly object Gate = new();
    private static readonly bool Usable = Probe();
    private static int _open;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>A scope for a forward call of <paramref name="tokens"/> tokens; null where it does not apply.</summary>
    public static Scope? For(long tokens)
    {
        if (tokens < MinTokens || !Usable) return null;
        lock (Gate)
            if (_open++ == 0) { Mallopt(MmapMax, 0); Mallopt(TrimThreshold, int.MaxValue); }
        return new Scope();
    }

    public sealed class Scope : IDisposable
    {
        private bool _closed;

        public void Dispose()
        {
            if (_closed) return;
            _closed = true;
            lock (Gate)
            {
                if (--_open > 0) return;
                Mallopt(MmapMax, DefaultMmapMax);
                Mallopt(MmapThreshold, DefaultMmapThreshold);
                Mallopt(TrimThreshold, DefaultTrimThreshold);
                MallocTrim(0);
            }
        }
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) || k == "GLIBC_TUNABLES"))
            return false;
        try { MallocTrim(0); return true; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; } // not glibc (musl)
    }
}
