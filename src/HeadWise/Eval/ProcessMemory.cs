using System.Diagnostics;

namespace HeadWise.Eval;

/// <summary>Resident memory of this process. Linux's peak (VmHWM) cannot be reset, so it is the process's peak so far.</summary>
internal static class ProcessMemory
{
    public static long CurrentRss() => Read("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;
    public static long PeakRss() => Read("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    private static long? Read(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
