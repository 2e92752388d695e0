using System.Runtime.InteropServices;

namespace HeadWise.Formats;

/// <summary>
/// Drops a mapped file range from the process's resident set once its bytes were copied out, so a model loaded through a
/// memory map is not resident twice (mapped pages count in RSS until unmapped). The pages stay valid: touching them again
/// reads the file anew.
/// </summary>
internal static unsafe class MappedPages
{
    private const int MADV_DONTNEED = 4;

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int MAdvise(void* address, nuint length, int advice);

    public static void Release(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        long page = Environment.SystemPageSize;
        // Only whole pages inside the range: a neighbouring tensor may share the edge pages.
        long first = ((long)start + page - 1) / page * page, end = ((long)start + length) / page * page;
        if (end > first) MAdvise((void*)first, (nuint)(end - first), MADV_DONTNEED);
    }
}
