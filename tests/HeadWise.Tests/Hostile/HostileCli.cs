using System.Diagnostics;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// Runs the real CLI on a hostile input with a wall-clock limit and a managed-heap cap, measuring its peak resident
/// memory (VmHWM, sampled while it runs; the high-water mark keeps every earlier peak), its wall time and its CPU time
/// (utime + stime, sampled the same way: on a machine shared by many processes the CPU time is what the input cost).
/// </summary>
public static class HostileCli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, double Seconds, long PeakRssBytes, bool TimedOut, double CpuSeconds = 0);

    /// <summary>The managed heap cap every hostile run gets, so a reader that sizes an allocation by a header field fails fast in red runs.</summary>
    public const string HeapLimit = "0x40000000";

    public static Result Run(string[] args, int timeoutSeconds = 60, IDictionary<string, string>? env = null, string? runAs = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "HeadWise.Cli.dll");
        var psi = new ProcessStartInfo(runAs is null ? "dotnet" : "setpriv")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        if (runAs is not null)
            foreach (var a in new[] { $"--reuid={runAs}", $"--regid={runAs}", "--clear-groups", "--", "dotnet" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_GCHeapHardLimit"] = HeapLimit;
        psi.Environment["HEADWISE_THREADS"] = "1";
        psi.Environment.Remove("HEADWISE_DEBUG");
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        long peak = 0;
        var statusPath = $"/proc/{p.Id}/status";
        var statPath = $"/proc/{p.Id}/stat";
        double cpu = 0;
        bool timedOut = false;
        while (!p.WaitForExit(10))
        {
            peak = Math.Max(peak, ReadHighWaterMark(statusPath));
            cpu = Math.Max(cpu, ReadCpuSeconds(statPath));
            if (watch.Elapsed.TotalSeconds > timeoutSeconds)
            {
                timedOut = true;
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                break;
            }
        }
        var seconds = watch.Elapsed.TotalSeconds;
        return new Result(timedOut ? -1 : p.ExitCode, stdout.Result, stderr.Result, seconds, peak, timedOut, cpu);
    }

    public static Result Run(params string[] args) => Run(args, 60);

    private static long ReadHighWaterMark(string statusPath)
    {
        try
        {
            foreach (var line in File.ReadLines(statusPath))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return 0;
    }

    /// <summary>utime + stime from /proc/PID/stat (fields 14 and 15, after the parenthesised command name), in seconds.</summary>
    private static double ReadCpuSeconds(string statPath)
    {
        try
        {
            var stat = File.ReadAllText(statPath);
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / (double)ClockTicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { }
        return 0;
    }

    /// <summary>USER_HZ: 100 on every Linux kernel configuration .NET runs on (getconf CLK_TCK).</summary>
    private const int ClockTicksPerSecond = 100;

    /// <summary>The promise for bad input: exit code 1 and exactly one line, "error: ...", with no terminal control characters.</summary>
    public static string AssertOneLineError(Result r, params string[] expected)
    {
        Assert.False(r.TimedOut, $"still running after {r.Seconds:F0} s (a hang); stderr so far: {r.Stderr}");
        Assert.True(r.ExitCode == 1, $"exit code {r.ExitCode}, expected 1; stderr: {r.Stderr}");
        var lines = r.Stderr.TrimEnd('\n', '\r').Split('\n');
        Assert.True(lines.Length == 1, $"{lines.Length} lines on stderr, expected one: {r.Stderr}");
        var line = lines[0];
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain("internal error", line);
        Assert.False(line.Any(c => char.IsControl(c) && c != '\r'), $"control characters on the error line: {line}");
        foreach (var e in expected) Assert.Contains(e, line, StringComparison.OrdinalIgnoreCase);
        return line;
    }
}
