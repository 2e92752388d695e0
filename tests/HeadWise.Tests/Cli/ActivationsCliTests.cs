namespace HeadWise.Tests.Cli;

/// <summary>--activations on the command line: ggml's rounding loads with f32 compute; an unknown value, and ggml with
/// bf16 compute, are each one "error:" line and exit code 1.</summary>
public class ActivationsCliTests
{
    [Fact]
    public void Ggml_rounding_loads_with_f32_compute()
    {
        var r = CliProcess.Run("generate", "--model", TestPaths.Stories260KGguf, "--max-tokens", "4", "--temperature", "0", "--activations", "ggml", "--dtype", "f32");
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    [Fact]
    public void An_unknown_value_is_one_error()
    {
        var r = CliProcess.Run("info", "--model", TestPaths.Stories260KGguf, "--activations", "q9");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: --activations 'q9' is not supported (none, ggml)", r.Stderr.Trim());
    }

    [Fact]
    public void Ggml_rounding_with_bf16_compute_is_one_error()
    {
        var r = CliProcess.Run("info", "--model", TestPaths.Stories260KGguf, "--activations", "ggml", "--dtype", "bf16");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: --activations ggml reproduces llama.cpp's arithmetic", r.Stderr.Trim());
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }
}
