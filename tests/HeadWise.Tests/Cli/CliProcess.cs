using System.Diagnostics;

namespace HeadWise.Tests.Cli;

/// <summary>Runs the real `headwise` CLI (the HeadWise.Cli.dll built beside the tests) as a child process.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "HeadWise.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"headwise {string.Join(' ', args)} did not finish in 120 s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
