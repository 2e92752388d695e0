using System.Diagnostics;

namespace HeadWise.Eval;

/// <summary>Resident memory of this process. Linux's peak (VmHWM) cannot be reset, so it is the process's peak so far.</summary>
internal static class ProcessMemory
{
    public static long CurrentRss() => CurrentRss(Status);
    public static long PeakRss() => PeakRss(Status);

    /// <summary>VmRSS of a /proc/PID/status file, or .NET's working set where there is none (off Linux).</summary>
    internal static long CurrentRss(string status) => Field(status, "VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;
    /// <summary>VmHWM of a /proc/PID/status file, or .NET's peak working set where there is none (off Linux).</summary>
    internal static long PeakRss(string status) => Field(status, "VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Memory the kernel can still give without swapping (MemAvailable), or null off Linux.</summary>
    public static long? Available() => Field("/proc/meminfo", "MemAvailable:");

    private const string Status = "/proc/self/status";

    /// <summary>
    /// A "Name:\t  1234 kB" line in bytes. The kernel pads the number with a tab and spaces, and from 8 digits (~10 GB)
    /// on with the tab alone, so the value is whatever follows the name, split on any whitespace.
    /// </summary>
    internal static long? Field(string file, string name)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line[name.Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
