using System.Diagnostics;

namespace HeadWise.Tests.Packaging;

/// <summary>Runs a program to completion with a time limit, capturing its output (for dotnet pack, new, add, build, tool).</summary>
public static class ProcessRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Both => Stdout + Stderr;
    }

    public static Result Run(string file, IEnumerable<string> args, string workDir, IReadOnlyDictionary<string, string>? env = null, int timeoutSeconds = 600)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workDir };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutSeconds} s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs and fails the test with the command's output when it exits non-zero.</summary>
    public static Result Check(string file, IEnumerable<string> args, string workDir, IReadOnlyDictionary<string, string>? env = null, int timeoutSeconds = 600)
    {
        var list = args.ToList();
        var r = Run(file, list, workDir, env, timeoutSeconds);
        Assert.True(r.ExitCode == 0, $"{file} {string.Join(' ', list)} exited {r.ExitCode}:\n{r.Stdout}\n{r.Stderr}");
        return r;
    }
}
