using System.Diagnostics;

namespace HeadWise.Tests.Cli;

/// <summary>Runs the real `headwise` CLI (the HeadWise.Cli.dll built beside the tests) as a child process.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunIn(null, 120, args);

    /// <summary>Runs in <paramref name="workDir"/> (null: the test's own) with a time limit of <paramref name="seconds"/>.</summary>
    public static Result RunIn(string? workDir, int seconds, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "HeadWise.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workDir is not null) psi.WorkingDirectory = workDir;
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"headwise {string.Join(' ', args)} did not finish in {seconds} s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
