using System.Runtime.InteropServices;

namespace HeadWise.Runtime;

/// <summary>madvise(2) over the whole pages inside a byte range (Linux; elsewhere nothing). Advice only: a refusal is ignored.</summary>
internal static unsafe class PageAdvice
{
    /// <summary>Drop the pages from the resident set (a mapped file's pages read anew when touched again).</summary>
    public const int DontNeed = 4;

    /// <summary>Back the pages with transparent huge pages when the kernel can.</summary>
    public const int HugePage = 14;

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int MAdvise(void* address, nuint length, int advice);

    /// <summary>
    /// <paramref name="advice"/> for the whole pages of <paramref name="pageSize"/> bytes inside [start, start + length):
    /// a neighbour may share the edge pages.
    /// </summary>
    public static void Inside(byte* start, long length, long pageSize, int advice)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        long first = ((long)start + pageSize - 1) / pageSize * pageSize, end = ((long)start + length) / pageSize * pageSize;
        if (end > first) MAdvise((void*)first, (nuint)(end - first), advice);
    }
}
